// The scheduler overrides of issue 15 (src/dht/krpc-scheduler.ts, installed from OVERRIDES): the node
// cache learns answering nodes and their RTTs, time-outs follow measured RTTs, walks start from the cache.
// Each: the pin (SHA-256 of the library source it leans on; the same pins are in library-adapter.test.ts)
// and the behaviour, on the real libraries over loopback sockets.
// At the end, boundQueryQueue's bounds on a whole DhtNode: at most 256 queries queued, pings at most 8 of
// the slots, and a refused upkeep ping drops no live node.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import KRpc from 'k-rpc';
import KRpcSocket from 'k-rpc-socket';
import { encodeNodes, encodePeer } from '../../../src/dht/compact.js';
import { FRESH_RESERVE, WALK_SLOTS } from '../../../src/dht/krpc-scheduler.js';
import { OVERRIDES, QUERY_SLOTS, type AdapterHost, type DhtLibrary } from '../../../src/dht/library-adapter.js';
import { DhtNode } from '../../../src/dht/node.js';
import { silentLogger } from '../../../src/log.js';
import { twoLinkedNodes } from '../../helpers/dht-nodes.js';
import { adaptedDht, krpcPeer } from '../../helpers/adapted-dht.js';
import { KrpcPeer } from '../../helpers/krpc-peer.js';

const LOCAL = '127.0.0.1';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Code = { prototype: Record<string, unknown> };
const PINS: Record<string, Array<[Code, string, string]>> = {
  rememberAnsweringNodes: [[KRpcSocket as unknown as Code, 'query', '1286d376f7ed66a5']],
  adaptiveTimeout: [[KRpc as unknown as Code, 'query', '0e8cf1b9099bf4c9']],
  seedWalksFromCache: [[KRpc as unknown as Code, '_closest', 'f9c1e31928991d1b']],
  unansweredWalksFirst: [[KRpc as unknown as Code, '_closest', 'f9c1e31928991d1b'], [KRpcSocket as unknown as Code, '_cancel', '99ad29d8910ff2a9']],
};

function pinned(name: string): void {
  assert.ok(OVERRIDES.some((o) => o.install.name === name), `${name} is in OVERRIDES`);
  for (const [code, method, hash] of PINS[name]!) assert.equal(createHash('sha256').update(String(code.prototype[method])).digest('hex').slice(0, 16), hash, `${name}: ${method}`);
}

const adapted = async (t: TestContext, extra: Partial<AdapterHost> = {}): Promise<DhtLibrary> => (await adaptedDht(t, 4, extra)).lib;
const peer = krpcPeer;

const ask = (lib: DhtLibrary, p: KrpcPeer) => new Promise<Error | null>((r) => lib.rpc.query({ host: LOCAL, port: p.port }, { q: 'ping' }, (err) => r(err)));

test('rememberAnsweringNodes: a node that answers is cached with its RTT; one that times out leaves the cache', async (t) => {
  pinned('rememberAnsweringNodes');
  const lib = await adapted(t);
  const p = await peer(t);
  p.answer = () => ({});
  assert.equal(await ask(lib, p), null);
  assert.equal(lib.slots.cache.size, 1);
  assert.deepEqual(lib.slots.cache.closest(p.id, 8).map((c) => [c.id.toString('hex'), c.port]), [[p.id.toString('hex'), p.port]]);
  assert.ok(lib.slots.cache.recentRtt(50) < 100, 'a loopback RTT');
  p.answer = () => null;
  assert.equal(((await ask(lib, p)) as Error & { code?: string }).code, 'ETIMEDOUT');
  assert.equal(lib.slots.cache.size, 0);
});

test('adaptiveTimeout: a fast node that goes silent frees its slot long before the 600 ms short timeout; an unknown node without samples gets 600', async (t) => {
  pinned('adaptiveTimeout');
  const lib = await adapted(t);
  const p = await peer(t);
  assert.equal(lib.slots.timeoutOf({ host: LOCAL, port: p.port }), 600);
  p.answer = () => ({});
  for (let i = 0; i < 5; i++) assert.equal(await ask(lib, p), null);
  assert.equal(lib.slots.timeoutOf({ host: LOCAL, port: p.port }), 150, 'loopback RTT: the floor');
  p.answer = () => null;
  void ask(lib, p);
  assert.equal(lib.slots.active(), 1);
  await sleep(300);
  assert.equal(lib.slots.active(), 0, 'stalled after 150 ms, not 600');
  assert.equal(lib.socket.inflight, 1, 'still waiting for a late reply');
});

test('seedWalksFromCache: a lookup asks the cached node next to the target, which the routing table does not hold', async (t) => {
  pinned('seedWalksFromCache');
  const lib = await adapted(t);
  const target = randomBytes(20);
  const far = await peer(t);
  far.answer = () => ({ token: Buffer.from('tk') }); // knows nothing nearer
  lib.rpc.nodes.add({ id: far.id, host: LOCAL, port: far.port });
  const storer = await peer(t);
  storer.id = Buffer.from(target);
  storer.id[19]! ^= 1;
  storer.answer = () => ({ token: Buffer.from('tk'), values: [encodePeer('10.9.8.7', 6543)] });
  lib.slots.cache.answered(storer.id, LOCAL, storer.port, 20);
  assert.equal(lib.rpc.nodes.get(storer.id), null, 'only in the cache');
  const found = await new Promise<{ host: string; port: number } | null>((resolve) => {
    lib.dht.on('peer', resolve);
    lib.dht.lookup(target);
    setTimeout(() => resolve(null), 1500).unref();
  });
  assert.deepEqual(found, { host: '10.9.8.7', port: 6543 });
  assert.equal(storer.queries.length, 1);
  assert.equal(far.queries.length, 1, 'the routing table is still asked');
});

/**
 * An adapted DHT (300 ms short timeout) whose table holds 20 silent nodes next to each of two random
 * targets; `walk` starts a find_node walk, `asked` counts the queries for a target.
 */
async function twoCrowdedTargets(t: TestContext) {
  const [targetA, targetB] = [randomBytes(20), randomBytes(20)];
  const lib = await adapted(t, { shortTimeoutMs: 300, nodeId: Buffer.from(targetA) });
  const near = (target: Buffer, d: number) => {
    const id = Buffer.from(target);
    id[19]! ^= d;
    return id;
  };
  const silent = await Promise.all(Array.from({ length: 40 }, () => peer(t)));
  for (const [i, p] of silent.entries()) lib.rpc.nodes.add({ id: near(i < 20 ? targetA : targetB, (i % 20) + 1), host: LOCAL, port: p.port });
  assert.equal(lib.rpc.nodes.count(), 40);
  const walk = (target: Buffer) => lib.rpc._closest(target, { q: 'find_node', a: { target } }, false, null, () => undefined);
  const asked = (target: Buffer) => silent.reduce((n, p) => n + p.queries.filter((q) => Buffer.from((q.a as { target: Uint8Array }).target).equals(target)).length, 0);
  return { lib, targetA, targetB, walk, asked };
}

test('unansweredWalksFirst: slots freed go to the walks without an answer, the oldest first; a walk with its answer gives way', async (t) => {
  pinned('unansweredWalksFirst');
  const { lib, targetA, targetB, walk, asked } = await twoCrowdedTargets(t);
  lib.rpc.concurrency = WALK_SLOTS; // as many slots as one walk takes: it can take them all
  walk(targetA); // takes all the slots
  walk(targetB); // waits
  await sleep(100);
  assert.deepEqual([asked(targetA), asked(targetB)], [WALK_SLOTS, 0]);
  await sleep(350); // A's queries stalled at 300 ms
  assert.ok(asked(targetA) > WALK_SLOTS, 'the older walk, still without an answer, got the freed slots');
  assert.equal(asked(targetB), 0, 'the younger one waits');
  // a walk that had an answer leaves the slot to any waiting walk that had none, even an older one
  lib.slots.waiting.clear();
  lib.slots.waiting.set(1000, false);
  assert.equal(lib.slots.yields(1001, true), true);
  assert.equal(lib.slots.yields(999, false), false, 'an older walk without an answer goes first');
  assert.equal(lib.slots.yields(1001, false), true);
  lib.slots.waiting.set(1000, true);
  assert.equal(lib.slots.yields(999, false), false);
  assert.equal(lib.slots.yields(999, true), true);
});

test('unansweredWalksFirst: a walk nobody waits for (an announcement\'s) leaves most slots free, so a lookup after it asks at once', async (t) => {
  const { lib, targetA, targetB, walk, asked } = await twoCrowdedTargets(t);
  lib.slots.unhurried.add(targetA.toString('hex'));
  walk(targetA);
  await sleep(50);
  const share = QUERY_SLOTS - FRESH_RESERVE;
  assert.equal(asked(targetA), share, 'the announcement\'s walk takes a third of the slots');
  walk(targetB);
  await sleep(50);
  assert.equal(asked(targetB), WALK_SLOTS, 'the lookup\'s first queries go out at once');
  await sleep(400); // every query stalled at 300 ms: the lookup takes the freed slots first
  assert.equal(asked(targetA), share, 'the announcement waits while the lookup has queries to send');
  assert.equal(asked(targetB), 2 * WALK_SLOTS, 'the lookup\'s second round');
});

test('walkPastStalledNodes: a walk has at most WALK_SLOTS queries waiting, so a second lookup started with it asks at once', async (t) => {
  const { lib, targetA, targetB, walk, asked } = await twoCrowdedTargets(t);
  walk(targetA);
  walk(targetB);
  await sleep(100);
  assert.deepEqual([asked(targetA), asked(targetB)], [WALK_SLOTS, WALK_SLOTS], 'each walk asks its closest WALK_SLOTS, not all its k');
  assert.equal(lib.slots.active(), 2 * WALK_SLOTS);
  await sleep(300); // stalled at 300 ms: the next round of each
  assert.deepEqual([asked(targetA), asked(targetB)], [2 * WALK_SLOTS, 2 * WALK_SLOTS]);
});

test('walkPastStalledNodes: nodes closer than those a walk waits for are asked at once; the farthest queries give up their slots', async (t) => {
  const target = randomBytes(20);
  // a short timeout far longer than the test: only overtaking frees a walk slot here
  const lib = await adapted(t, { shortTimeoutMs: 1500 });
  const at = (d: number) => {
    const id = Buffer.from(target);
    id[18]! ^= d;
    return id;
  };
  const silent = await Promise.all(Array.from({ length: WALK_SLOTS - 1 }, () => peer(t)));
  for (const [i, p] of silent.entries()) lib.rpc.nodes.add({ id: at(i + 1), host: LOCAL, port: p.port });
  const closer = await Promise.all(Array.from({ length: 3 }, () => peer(t)));
  const guide = await peer(t);
  guide.id = at(100); // the farthest of the first round, and the only one that answers
  // the three it names sit next to the target, closer than every node of the first round
  guide.answer = () => ({ nodes: encodeNodes(closer.map((p, i) => ({ id: Buffer.from(target.map((b, j) => (j === 19 ? b ^ (i + 1) : b))), host: LOCAL, port: p.port })), 20, 4) });
  lib.rpc.nodes.add({ id: guide.id, host: LOCAL, port: guide.port });
  lib.rpc._closest(target, { q: 'find_node', a: { target } }, false, null, () => undefined);
  await sleep(300);
  assert.equal(guide.queries.length, 1);
  assert.deepEqual(closer.map((p) => p.queries.length), [1, 1, 1], 'all three closer nodes asked long before the 1.5 s time-out');
  assert.equal(lib.slots.active(), WALK_SLOTS, 'two of the first round gave up their slots to them');
  assert.equal(lib.socket.inflight, WALK_SLOTS - 1 + 3, 'their replies are still awaited');
});

// ---------------------------------------------------------------- boundQueryQueue: queued queries, the pings' share

test('DHT: pings never take more than a third of the query slots, so a search is not starved', { timeout: 20_000 }, async (t) => {
  const node = new DhtNode(silentLogger, { port: 0, address: '127.0.0.1', storage: { maxAgeMs: 60_000, maxTotal: 10, maxPerId: 10 }, maxSearches: 1 });
  await node.start();
  t.after(() => node.stop());
  // 1000 pings to an address where nothing answers (each would wait 2 s for its time-out)
  for (let i = 0; i < 1000; i++) node.ping({ host: '127.0.0.1', port: 9 });
  assert.ok(node.stats().queued <= 8, `${node.stats().queued} queries queued`);
  assert.ok(node.droppedQueries >= 990, `${node.droppedQueries} pings refused`);
  const t0 = performance.now();
  await node.search(Buffer.alloc(20, 7), () => undefined, AbortSignal.timeout(10_000));
  assert.ok(performance.now() - t0 < 1000, `the search took ${Math.round(performance.now() - t0)} ms`);
});

test('DHT: a ping refused for want of slots does not make bucket upkeep drop a live node', { timeout: 20_000 }, async (t) => {
  const { a, peerOfA } = await twoLinkedNodes(t, {});
  assert.ok(peerOfA(), 'b joined a');
  // every ping slot taken by pings that will time out, then the library checks its table
  for (let i = 0; i < 20; i++) a.ping({ host: '127.0.0.1', port: 9 });
  const refusedBefore = a.droppedQueries;
  (a as unknown as { lib: { dht: { _pingAll(cb: () => void): void } } }).lib.dht._pingAll(() => undefined);
  await sleep(100);
  assert.ok(a.droppedQueries > refusedBefore, 'the upkeep ping was refused');
  assert.ok(peerOfA(), 'b is still in the routing table of a');
});

test('DHT: at most 256 queries wait in the queue; the rest fail at once', { timeout: 20_000 }, async (t) => {
  const node = new DhtNode(silentLogger, { port: 0, address: '127.0.0.1', storage: { maxAgeMs: 60_000, maxTotal: 10, maxPerId: 10 }, maxSearches: 1 });
  await node.start();
  t.after(() => node.stop());
  const rpc = (node as unknown as { lib: { rpc: { query(peer: unknown, message: unknown, cb: (err: Error | null) => void): void } } }).lib.rpc;
  let failed = 0;
  for (let i = 0; i < 1000; i++) rpc.query({ host: '127.0.0.1', port: 9 }, { q: 'get_peers', a: { info_hash: Buffer.alloc(20, 1) } }, (err) => void (err && failed++));
  await sleep(50);
  assert.equal(node.stats().queued, 256);
  assert.equal(failed, 1000 - 256 - QUERY_SLOTS, 'every slot in flight, 256 queued, the rest refused');
});
