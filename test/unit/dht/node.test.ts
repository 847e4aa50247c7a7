import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import bencode from 'bencode';
import sodium from 'sodium-native';
import { encodePeer } from '../../../src/dht/compact.js';
import { routingSlot } from '../../../src/dht/library-adapter.js';
import { DhtNode } from '../../../src/dht/node.js';
import type { PeerAddress } from '../../../src/types.js';
import { silentLogger } from '../../../src/log.js';
import { encodeDnsPacket, signPacket, targetOf } from '../../../src/pkarr/packet.js';

const storage = { maxAgeMs: 60_000, maxTotal: 100, maxPerId: 10 };

/** A DHT node on loopback, stopped after the test. */
async function startedNode(t: TestContext): Promise<DhtNode> {
  const node = new DhtNode(silentLogger, { port: 0, address: '127.0.0.1', storage, maxSearches: 8 });
  await node.start();
  t.after(() => node.stop());
  return node;
}

test('a ping to our own address does not put us into our routing table', async (t) => {
  const node = await startedNode(t);
  const other = await startedNode(t);
  node.ping({ host: '127.0.0.1', port: node.boundPort() });
  node.ping({ host: '127.0.0.1', port: other.boundPort() });
  for (let i = 0; i < 40 && node.nodeCount() === 0; i++) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 200));
  const ids = node.routingNodes().map((n) => n.id);
  assert.deepEqual(ids, [other.nodeId.toString('hex')]);
});

test('blocked addresses are dropped from the routing table and never heard again', async (t) => {
  const node = await startedNode(t);
  const other = await startedNode(t);
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

// ---- short timeout (the adapter's krpc-scheduler.ts): queries to dead nodes give up their slot after a short while

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

type Internals = { lib: { rpc: { nodes: { add(c: { id: Buffer; host: string; port: number }): void; count(): number } } } };

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
  const table = (querier as unknown as Internals).lib.rpc.nodes;
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
  (querier as unknown as Internals).lib.rpc.nodes.add({ id: slowId, host: '127.0.0.1', port: slow.address().port });
  const found: PeerAddress[] = [];
  await querier.search(target, (p) => found.push(p), AbortSignal.timeout(10_000));
  assert.deepEqual(found.map((p) => `${p.address}:${p.port}`), ['10.4.5.6:5656']);
});

// ---------------------------------------------------------------- replies: K nodes, values with nodes

/** One raw KRPC query to `port` on loopback; the decoded reply's `r`. */
async function rawQuery(port: number, q: string, a: Record<string, unknown>): Promise<Record<string, Uint8Array | Uint8Array[]>> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  try {
    // the node pings a new querier before listing it (verifyQueryingNodes): skip its queries
    const reply = new Promise<Buffer>((resolve) =>
      socket.on('message', (msg: Buffer) => {
        const y = (bencode.decode(msg) as { y?: Uint8Array }).y;
        if (y && Buffer.from(y).toString() === 'r') resolve(msg);
      }),
    );
    socket.send(bencode.encode({ t: Buffer.from('t1'), y: 'q', q, a: { id: randomBytes(20), ...a } }), port, '127.0.0.1');
    const msg = (await Promise.race([reply, new Promise((_, reject) => setTimeout(() => reject(new Error(`no reply to ${q}`)), 3000))])) as Buffer;
    return (bencode.decode(msg) as { r: Record<string, Uint8Array | Uint8Array[]> }).r;
  } finally {
    socket.close();
  }
}

/** Contacts straight into the routing table (no packet is sent: they never answer anything here). */
function addContacts(node: DhtNode, hosts: string[]): void {
  const dht = (node as unknown as { lib: { dht: { addNode(n: { id: Buffer; host: string; port: number }): void } } }).lib.dht;
  hosts.forEach((host, i) => dht.addNode({ id: randomBytes(20), host, port: 10_000 + i }));
}

test('find_node, get_peers and get replies carry the K = 8 closest nodes, not the whole routing table', async (t) => {
  const node = await startedNode(t);
  addContacts(node, Array.from({ length: 400 }, (_, i) => `10.201.${1 + (i >> 8)}.${i & 255}`));
  assert.ok(node.nodeCount() > 40, `table of ${node.nodeCount()}`);
  for (const [q, a] of [['find_node', { target: randomBytes(20) }], ['get_peers', { info_hash: randomBytes(20) }], ['get', { target: randomBytes(20) }]] as const) {
    const r = await rawQuery(node.boundPort(), q, a);
    assert.equal((r.nodes as Uint8Array).length, 8 * 26, q);
  }
});

test('get_peers for an id we hold values for: the values and the K closest nodes', async (t) => {
  const node = await startedNode(t);
  addContacts(node, Array.from({ length: 30 }, (_, i) => `10.201.1.${i + 1}`));
  const id = randomBytes(20);
  node.store.add(id.toString('hex'), encodePeer('10.201.0.7', 4000));
  const r = await rawQuery(node.boundPort(), 'get_peers', { info_hash: id });
  assert.deepEqual((r.values as Uint8Array[]).map((v) => Buffer.from(v).toString('hex')), [encodePeer('10.201.0.7', 4000).toString('hex')]);
  assert.equal((r.nodes as Uint8Array).length, 8 * 26);
  assert.ok(r.token instanceof Uint8Array && r.token.length > 0);
});

test('routing table: one node per public address (IPv6: per /64); LAN, loopback and test-network addresses may share', async (t) => {
  assert.equal(routingSlot('192.0.2.1'), '192.0.2.1');
  assert.equal(routingSlot('::ffff:192.0.2.1'), '192.0.2.1');
  assert.equal(routingSlot('2001:db8:1:2::1'), routingSlot('2001:db8:1:2:ffff::9'));
  assert.notEqual(routingSlot('2001:db8:1:2::1'), routingSlot('2001:db8:1:3::1'));
  for (const shared of ['127.0.0.1', '10.201.0.1', '172.16.5.5', '192.168.1.1', '169.254.1.1', '100.64.0.1', '::1', 'fd20::1', 'fe80::1']) assert.equal(routingSlot(shared), null, shared);
  // bound to loopback, so nothing could reach 192.0.2.x even if it were pinged
  const node = await startedNode(t);
  addContacts(node, Array.from({ length: 20 }, () => '192.0.2.1'));
  addContacts(node, Array.from({ length: 20 }, () => '10.201.0.5'));
  const hosts = node.routingNodes().map((n) => n.address);
  assert.equal(hosts.filter((h) => h === '192.0.2.1').length, 1, 'one node of the public address');
  assert.ok(hosts.filter((h) => h === '10.201.0.5').length > 1, 'several nodes behind one LAN address');
  assert.equal(node.refusedSameAddress, 19);
  // when that one leaves, the address's slot is free again
  const dht = (node as unknown as { lib: { dht: { removeNode(id: Buffer): void } } }).lib.dht;
  dht.removeNode(Buffer.from(node.routingNodes().find((n) => n.address === '192.0.2.1')!.id, 'hex'));
  addContacts(node, ['192.0.2.1']);
  assert.equal(node.routingNodes().filter((n) => n.address === '192.0.2.1').length, 1);
});

// ---------------------------------------------------------------- bounds: the blacklist

test('blacklist: at most 1024 addresses', async (t) => {
  const node = new DhtNode(silentLogger, { port: 0, address: '127.0.0.1', storage: { maxAgeMs: 60_000, maxTotal: 10, maxPerId: 10 }, maxSearches: 1 });
  await node.start();
  t.after(() => node.stop());
  let accepted = 0;
  for (let i = 0; i < 1100; i++) if (node.block(`10.9.${i >> 8}.${i & 255}`)) accepted++;
  assert.equal(accepted, 1024);
  assert.equal(node.blockedAddresses().length, 1024);
  assert.equal(node.block('10.9.0.1'), true, 'an address already listed is fine');
});

// ---------------------------------------------------------------- BEP 44 and BEP 42 between two nodes

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function pair(t: { after(fn: () => Promise<void>): void }): Promise<[DhtNode, DhtNode]> {
  const a = new DhtNode(silentLogger, { port: 0, address: '127.0.0.1', storage, maxSearches: 8 });
  const b = new DhtNode(silentLogger, { port: 0, address: '127.0.0.1', storage, maxSearches: 8 });
  await a.start();
  await b.start();
  t.after(async () => {
    await a.stop();
    await b.stop();
  });
  a.ping({ host: '127.0.0.1', port: b.boundPort() });
  for (let i = 0; i < 40 && a.nodeCount() === 0; i++) await sleep(50);
  assert.equal(a.nodeCount(), 1);
  return [a, b];
}

test('BEP 44 between two nodes: put stores on the other, get finds it; bad signature, older seq refused', async (t) => {
  const [a, b] = await pair(t);
  const pk = Buffer.alloc(32);
  const sk = Buffer.alloc(64);
  sodium.crypto_sign_keypair(pk, sk);
  const target = targetOf(pk);
  const v = encodeDnsPacket([{ type: 'TXT', name: 'x', ttl: 60, class: 'IN', data: ['one'] }]);
  const signed = (seq: number, data = v) => {
    const s = signPacket(sk, data, seq);
    return { k: s.publicKey, seq, sig: s.signature, v: s.v };
  };

  assert.equal(await a.putMutable(signed(10), target), 1);
  assert.equal(b.items.get(target.toString('hex'))?.seq, 10);

  const seen: number[] = [];
  await a.getMutable(target, (i) => seen.push(i.seq), new AbortController().signal);
  assert.deepEqual(seen, [10]);

  // the very same item again: the holder keeps it and says so (the library alone would answer 302)
  assert.equal(await a.putMutable(signed(10), target), 1);
  // another packet under the same seq, or an older seq: 302
  const other = encodeDnsPacket([{ type: 'TXT', name: 'x', ttl: 60, class: 'IN', data: ['two'] }]);
  await assert.rejects(a.putMutable(signed(10, other), target), (err: Error & { code?: unknown }) => err.code === 302);
  await assert.rejects(a.putMutable(signed(9), target), (err: Error & { code?: unknown }) => err.code === 302);
  // a forged signature: not stored (the holder stays silent, so the put times out)
  const forged = signed(11);
  forged.sig = Buffer.from(forged.sig);
  forged.sig[0]! ^= 0xff;
  await assert.rejects(a.putMutable(forged, target));
  assert.equal(b.items.get(target.toString('hex'))?.seq, 10);
  // a newer one replaces it
  assert.equal(await a.putMutable(signed(12), target), 1);
  assert.equal(b.items.get(target.toString('hex'))?.seq, 12);
});

test('BEP 42: replies carry the asker\'s address, so each node learns its own', async (t) => {
  const [a, b] = await pair(t);
  b.ping({ host: '127.0.0.1', port: a.boundPort() });
  for (let i = 0; i < 40 && (a.external.address === null || b.external.address === null); i++) await sleep(50);
  assert.equal(a.external.address, '127.0.0.1');
  assert.equal(b.external.address, '127.0.0.1');
});

test('sizeEstimate: before any walk, from the routing table\'s nodes closest to our own id; null with fewer than 8', async (t) => {
  const node = await startedNode(t);
  assert.equal(node.sizeEstimate(), null, 'an empty table');
  const table = (node as unknown as { lib: { rpc: { nodes: { add(c: { id: Buffer; host: string; port: number }): void } } } }).lib.rpc.nodes;
  // the i-th closest node at i/1000 of the id space from our id: a DHT of 1000 nodes
  const at = (fraction: number) => {
    const xor = Buffer.alloc(20);
    xor.writeBigUInt64BE(BigInt(Math.round(fraction * 2 ** 64)));
    return Buffer.from(node.nodeId.map((b, i) => b ^ xor[i]!));
  };
  for (let i = 1; i <= 8; i++) {
    table.add({ id: at(i / 1000), host: `127.0.0.${i + 1}`, port: 6881 });
    if (i < 8) assert.equal(node.sizeEstimate(), null, `${i} nodes say little`);
  }
  assert.ok(Math.abs(node.sizeEstimate()! - 1000) < 1, `estimated ${node.sizeEstimate()}`);
});

test('the node cache filler runs with the node: a node only named in a reply is asked for a random id', async (t) => {
  const node = await startedNode(t);
  const named = dgram.createSocket('udp4');
  await new Promise<void>((r) => named.bind(0, '127.0.0.1', () => r()));
  t.after(() => named.close());
  const asked: string[] = [];
  named.on('message', (msg) => asked.push(Buffer.from((bencode.decode(msg) as { q: Uint8Array }).q).toString()));
  // no bootstrap: nothing else of ours walks or pings; the cache hears of the node as a reply would name it
  (node as unknown as { lib: { slots: { cache: { heardOf(id: Buffer, host: string, port: number): void } } } }).lib.slots.cache.heardOf(randomBytes(20), '127.0.0.1', named.address().port);
  for (let i = 0; i < 20 && asked.length === 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(asked, ['find_node']);
});
