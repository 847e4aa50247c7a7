import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DhtNode } from '../../src/dht/node.js';
import { silentLogger } from '../../src/log.js';

const storage = { maxAgeMs: 60_000, maxTotal: 100, maxPerId: 10 };

test('a ping to our own address does not put us into our routing table', async (t) => {
  const node = new DhtNode(silentLogger, { port: 0, address: '127.0.0.1', storage, maxSearches: 8 });
  const other = new DhtNode(silentLogger, { port: 0, address: '127.0.0.1', storage, maxSearches: 8 });
  await node.start();
  await other.start();
  t.after(async () => {
    await node.stop();
    await other.stop();
  });
  node.ping({ host: '127.0.0.1', port: node.boundPort() });
  node.ping({ host: '127.0.0.1', port: other.boundPort() });
  for (let i = 0; i < 40 && node.nodeCount() === 0; i++) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 200));
  const ids = node.routingNodes().map((n) => n.id);
  assert.deepEqual(ids, [other.nodeId.toString('hex')]);
});

test('blocked addresses are dropped from the routing table and never heard again', async (t) => {
  const node = new DhtNode(silentLogger, { port: 0, address: '127.0.0.1', storage, maxSearches: 8 });
  const other = new DhtNode(silentLogger, { port: 0, address: '127.0.0.1', storage, maxSearches: 8 });
  await node.start();
  await other.start();
  t.after(async () => {
    await node.stop();
    await other.stop();
  });
  node.ping({ host: '127.0.0.1', port: other.boundPort() });
  for (let i = 0; i < 40 && node.nodeCount() === 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(node.nodeCount(), 1);
  assert.equal(node.block('127.0.0.1'), true);
  assert.equal(node.nodeCount(), 0);
  node.ping({ host: '127.0.0.1', port: other.boundPort() });
  other.ping({ host: '127.0.0.1', port: node.boundPort() });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(node.nodeCount(), 0);
  assert.deepEqual(node.blockedAddresses(), ['127.0.0.1']);
});

// ---- short timeout (patches/k-rpc): queries to dead nodes give up their slot after a short while

import dgram from 'node:dgram';
import bencode from 'bencode';
import { encodePeer } from '../../src/dht/compact.js';
import type { PeerAddress } from '../../src/types.js';

/** UDP sockets that swallow every datagram: nodes that vanished without a word. */
async function silentSockets(n: number): Promise<dgram.Socket[]> {
  return Promise.all(
    Array.from({ length: n }, () => new Promise<dgram.Socket>((resolve) => {
      const s = dgram.createSocket('udp4');
      s.bind(0, '127.0.0.1', () => resolve(s));
    })),
  );
}

/** An id at XOR distance `d` (small) from the target. */
const near = (target: Buffer, d: number) => {
  const id = Buffer.from(target);
  id[19]! ^= d;
  id[18]! ^= d >> 8;
  return id;
};

type Internals = { rpc: { nodes: { add(c: { id: Buffer; host: string; port: number }): void; count(): number } } };

async function walkWithDeadNodes(t: { after(fn: () => Promise<void>): void }, shortTimeoutMs: number | undefined, dead: number) {
  const target = Buffer.alloc(20, 0x3c);
  // our id is the target, so the routing table splits down to it and holds every dead node
  const querier = new DhtNode(silentLogger, { port: 0, address: '127.0.0.1', storage, maxSearches: 8, nodeId: Buffer.from(target), ...(shortTimeoutMs ? { shortTimeoutMs } : {}) });
  const holder = new DhtNode(silentLogger, { port: 0, address: '127.0.0.1', storage, maxSearches: 8, nodeId: near(target, 0x4000) });
  await querier.start();
  await holder.start();
  const silent = await silentSockets(dead);
  t.after(async () => {
    await querier.stop();
    await holder.stop();
    for (const s of silent) s.close();
  });
  holder.store.add(target.toString('hex'), encodePeer('10.1.2.3', 4242));
  querier.ping({ host: '127.0.0.1', port: holder.boundPort() });
  for (let i = 0; i < 40 && querier.nodeCount() === 0; i++) await new Promise((r) => setTimeout(r, 25));
  assert.equal(querier.nodeCount(), 1);
  // the dead nodes are all closer to the target than the one that holds the value
  const table = (querier as unknown as Internals).rpc.nodes;
  for (const [i, s] of silent.entries()) table.add({ id: near(target, i + 1), host: '127.0.0.1', port: s.address().port });
  assert.equal(table.count(), dead + 1);
  const started = performance.now();
  let foundAfter = Infinity;
  const found: PeerAddress[] = [];
  const walk = querier.search(target, (p) => {
    if (found.length === 0) foundAfter = performance.now() - started;
    found.push(p);
  }, AbortSignal.timeout(10_000));
  return { walk, found, foundAfter: () => foundAfter };
}

test('short timeout: a walk whose closest nodes are dead asks the next ones long before the 2 s timeout', { timeout: 20_000 }, async (t) => {
  // 18 dead nodes closest to the target: 16 hold all of k-rpc's slots, two more and the live node wait
  const { walk, found, foundAfter } = await walkWithDeadNodes(t, 300, 18);
  await walk;
  assert.deepEqual(found.map((p) => `${p.address}:${p.port}`), ['10.1.2.3:4242']);
  assert.ok(foundAfter() < 1500, `found after ${foundAfter().toFixed(0)} ms`);
});

test('short timeout: the walk goes past the k closest when they are dead (they no longer count among them)', { timeout: 20_000 }, async (t) => {
  // 24 dead nodes: more than the walk's k (20) closest, the live node beyond them
  const { walk, found, foundAfter } = await walkWithDeadNodes(t, 300, 24);
  await walk;
  assert.deepEqual(found.map((p) => `${p.address}:${p.port}`), ['10.1.2.3:4242']);
  assert.ok(foundAfter() < 1500, `found after ${foundAfter().toFixed(0)} ms`);
});

test('short timeout: a late reply (after the short timeout, before the full one) is still taken', { timeout: 20_000 }, async (t) => {
  const target = Buffer.alloc(20, 0x5d);
  const querier = new DhtNode(silentLogger, { port: 0, address: '127.0.0.1', storage, maxSearches: 8, nodeId: near(target, 0x8000), shortTimeoutMs: 200 });
  await querier.start();
  // a node that answers get_peers with a value, 700 ms late
  const slowId = near(target, 1);
  const slow = dgram.createSocket('udp4');
  await new Promise<void>((r) => slow.bind(0, '127.0.0.1', () => r()));
  slow.on('message', (msg, rinfo) => {
    const q = bencode.decode(msg) as { t: Uint8Array; q?: Uint8Array };
    const reply = bencode.encode({ t: q.t, y: 'r', r: { id: slowId, token: Buffer.from('tok'), values: [encodePeer('10.4.5.6', 5656)] } });
    setTimeout(() => slow.send(reply, rinfo.port, rinfo.address), 700);
  });
  t.after(async () => {
    await querier.stop();
    slow.close();
  });
  (querier as unknown as Internals).rpc.nodes.add({ id: slowId, host: '127.0.0.1', port: slow.address().port });
  const found: PeerAddress[] = [];
  await querier.search(target, (p) => found.push(p), AbortSignal.timeout(10_000));
  assert.deepEqual(found.map((p) => `${p.address}:${p.port}`), ['10.4.5.6:5656']);
});
