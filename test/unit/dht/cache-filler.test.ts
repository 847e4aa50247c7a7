// The cache filler (src/dht/cache-filler.ts) on the real libraries over loopback sockets: nodes only named
// in replies are asked for a random id, at most perSecond of them, only while the DHT is quiet, never
// once the cache is full; those that answer join the cache, and what they name is asked next.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { CacheFiller } from '../../../src/dht/cache-filler.js';
import { encodeNodes } from '../../../src/dht/compact.js';
import type { DhtLibrary } from '../../../src/dht/library-adapter.js';
import { adaptedDht, krpcPeer } from '../../helpers/adapted-dht.js';
import type { KrpcPeer } from '../../helpers/krpc-peer.js';

const LOCAL = '127.0.0.1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function setup(t: TestContext, peers: number, perSecond = 8, blocked = new Set<string>()) {
  const { lib } = await adaptedDht(t);
  const nodes = await Promise.all(Array.from({ length: peers }, () => krpcPeer(t)));
  for (const p of nodes) p.answer = () => ({});
  const filler = new CacheFiller({ library: () => lib, isBlocked: (host) => blocked.has(host) }, { perSecond });
  t.after(() => filler.stop());
  return { lib, nodes, filler };
}

const named = (lib: DhtLibrary, nodes: KrpcPeer[]) => {
  for (const p of nodes) lib.slots.cache.heardOf(p.id, LOCAL, p.port);
};

test('CacheFiller: a tick asks its share of the named nodes, oldest first, for a random id; those that answer join the cache', async (t) => {
  const { lib, nodes, filler } = await setup(t, 5);
  named(lib, nodes);
  filler.tick(); // 8 a second, 4 ticks a second: 2
  await sleep(100);
  assert.deepEqual(nodes.map((p) => p.queries.length), [1, 1, 0, 0, 0]);
  const [a, b] = nodes.map((p) => p.queries[0]?.a as { target?: Uint8Array } | undefined);
  assert.equal(Buffer.from(nodes[0]!.queries[0]!.q as Uint8Array).toString(), 'find_node');
  assert.ok(a?.target?.length === 20 && b?.target?.length === 20 && !Buffer.from(a.target).equals(Buffer.from(b.target)), 'a random id each');
  assert.equal(lib.slots.cache.size, 2);
  assert.equal(lib.slots.cache.namedSize, 3);
  for (let i = 0; i < 3; i++) filler.tick();
  await sleep(100);
  assert.deepEqual(nodes.map((p) => p.queries.length), [1, 1, 1, 1, 1], 'each named node asked once');
  assert.equal(lib.slots.cache.size, 5);
  assert.equal(filler.asked, 5);
});

test('CacheFiller: the nodes a reply names are asked next; once every node named was asked, it sends nothing', async (t) => {
  const { lib, nodes, filler } = await setup(t, 3, 40);
  const [first, ...more] = nodes as [KrpcPeer, KrpcPeer, KrpcPeer];
  first.answer = () => ({ nodes: encodeNodes(more.map((p) => ({ id: p.id, host: LOCAL, port: p.port })), 20, 4) });
  named(lib, [first]);
  filler.tick();
  await sleep(100);
  assert.equal(lib.slots.cache.namedSize, 2, 'the two nodes it named');
  filler.tick();
  await sleep(100);
  assert.deepEqual(nodes.map((p) => p.queries.length), [1, 1, 1]);
  for (let i = 0; i < 4; i++) filler.tick();
  await sleep(50);
  assert.deepEqual(nodes.map((p) => p.queries.length), [1, 1, 1], 'nothing left to learn: no more queries');
  assert.equal(filler.asked, 3);
});

test('CacheFiller: it waits while lookups hold the slots, and unused credit does not pile up; it asks nobody once the cache is full', async (t) => {
  const { lib, nodes, filler } = await setup(t, 6);
  named(lib, nodes);
  // eight queries to a silent peer hold slots, as a running lookup's do
  const silent = await krpcPeer(t);
  for (let i = 0; i < 8; i++) lib.rpc.query({ host: LOCAL, port: silent.port }, { q: 'ping' }, () => undefined);
  assert.equal(lib.slots.active(), 8);
  for (let i = 0; i < 8; i++) filler.tick();
  await sleep(50);
  assert.equal(filler.asked, 0, 'the DHT is busy');
  await sleep(700); // the pings stalled
  filler.tick();
  await sleep(50);
  assert.equal(filler.asked, 2, 'the quiet ticks before left no burst: one tick\'s share');
  Object.defineProperty(lib.slots.cache, 'size', { get: () => lib.slots.cache.maxNodes });
  filler.tick();
  assert.equal(filler.asked, 2, 'the cache is full');
});

test('CacheFiller: a blocked address is dropped, not asked; perSecond 0 turns the filler off', async (t) => {
  const blocked = new Set([LOCAL]);
  const { lib, nodes, filler } = await setup(t, 2, 8, blocked);
  named(lib, nodes);
  filler.tick();
  await sleep(50);
  assert.deepEqual(nodes.map((p) => p.queries.length), [0, 0]);
  assert.equal(lib.slots.cache.namedSize, 0);
  const off = new CacheFiller({ library: () => lib, isBlocked: () => false }, { perSecond: 0 });
  off.start();
  t.after(() => off.stop());
  assert.equal((off as unknown as { timer: unknown }).timer, null);
});
