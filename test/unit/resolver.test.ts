import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ScriptedSearcher } from '../helpers/scripted-searcher.js';
import { sha1 } from '../../src/identity/query.js';
import { silentLogger } from '../../src/log.js';
import { CANDIDATES_PER_RESPONDER, DEFAULT_RESOLVER_OPTIONS, Resolver } from '../../src/resolver.js';
import type { PeerAddress } from '../../src/types.js';


const peer = (n: number): PeerAddress => ({ address: `10.201.0.${n}`, port: 4000 + n, family: 4 });
const noOwn = { portFor: () => undefined };

function setup(options: Partial<typeof DEFAULT_RESOLVER_OPTIONS> = {}, own: { portFor(id: Buffer): number | undefined } = noOwn) {
  let clock = 1_000_000;
  const dht = new ScriptedSearcher();
  const resolver = new Resolver({ dht, own, log: silentLogger }, { ...DEFAULT_RESOLVER_OPTIONS, ...options, tld: '.p2p' }, () => clock);
  return { dht, resolver, advance: (ms: number) => (clock += ms) };
}

test('own values are answered locally without a search', async () => {
  const own = { portFor: (id: Buffer) => (id.equals(sha1('mine')) ? 4711 : undefined) };
  const { dht, resolver } = setup({}, own);
  const r = await resolver.resolve('Mine.p2p', { timeoutMs: 1000 });
  assert.equal(r.status, 'found');
  assert.deepEqual(r.addresses.map((a) => `${a.address}:${a.port}`), ['127.0.0.1:4711', '::1:4711']);
  assert.equal(dht.calls.length, 0);
});

test('concurrent queries share one search and wake on the first address', async () => {
  const { dht, resolver } = setup();
  const a = resolver.resolve('foo.p2p', { timeoutMs: 5000 });
  const b = resolver.resolve('FOO.p2p', { timeoutMs: 5000 });
  assert.equal(dht.calls.length, 1);
  assert.equal(dht.calls[0]!.id, sha1('foo').toString('hex'));
  dht.calls[0]!.agree(peer(1));
  const [ra, rb] = await Promise.all([a, b]);
  assert.equal(ra.status, 'found');
  assert.deepEqual(ra.addresses, [peer(1)]);
  assert.deepEqual(rb.addresses, [peer(1)]);
  assert.equal(resolver.stats().searches, 1, 'the walk goes on after the first answer');
  dht.calls[0]!.agree(peer(2));
  dht.calls[0]!.agree(peer(2));
  dht.calls[0]!.finish();
  await new Promise((r) => setImmediate(r));
  const cached = await resolver.resolve('foo.p2p', { timeoutMs: 10 });
  assert.deepEqual(cached.addresses, [peer(1), peer(2)]);
  assert.equal(dht.calls.length, 1, 'answered from the cache');
});

test('a finished search without result is notfound and is not cached', async () => {
  const { dht, resolver } = setup();
  const pending = resolver.resolve('nobody.p2p', { timeoutMs: 5000 });
  dht.calls[0]!.finish();
  assert.equal((await pending).status, 'notfound');
  const again = resolver.resolve('nobody.p2p', { timeoutMs: 5000 });
  assert.equal(dht.calls.length, 2, 'searched again');
  dht.calls[1]!.finish();
  await again;
});

test('the deadline gives timeout while the search goes on', async () => {
  const { dht, resolver } = setup();
  const r = await resolver.resolve('slow.p2p', { timeoutMs: 20 });
  assert.equal(r.status, 'timeout');
  assert.equal(resolver.stats().searches, 1);
  dht.calls[0]!.emit(peer(3));
  dht.calls[0]!.finish();
  await new Promise((r) => setImmediate(r));
  assert.equal((await resolver.resolve('slow.p2p', { timeoutMs: 20 })).status, 'found');
});

test('stale cache entries are served and refreshed in the background', async () => {
  const { dht, resolver, advance } = setup({ freshMs: 60_000, maxAgeMs: 600_000 });
  const first = resolver.resolve('foo.p2p', { timeoutMs: 1000 });
  dht.calls[0]!.emit(peer(1));
  dht.calls[0]!.finish();
  await first;
  await new Promise((r) => setImmediate(r));
  advance(61_000);
  const stale = await resolver.resolve('foo.p2p', { timeoutMs: 1000 });
  assert.deepEqual(stale.addresses, [peer(1)]);
  assert.equal(dht.calls.length, 2, 'refresh started');
  dht.calls[1]!.emit(peer(5));
  dht.calls[1]!.finish();
  await new Promise((r) => setImmediate(r));
  assert.deepEqual((await resolver.resolve('foo.p2p', { timeoutMs: 1000 })).addresses, [peer(5)]);
  advance(600_001);
  const expired = await resolver.resolve('foo.p2p', { timeoutMs: 1000 });
  assert.deepEqual([expired.status, expired.ttl, expired.addresses], ['found', 30, [peer(5)]], 'past maxAgeMs: the stale answer at once, TTL 30 s');
  assert.equal(dht.calls.length, 3, 'and a refresh');
  dht.calls[2]!.finish(8);
  await new Promise((r) => setImmediate(r));
  const gone = resolver.resolve('foo.p2p', { timeoutMs: 1000 });
  assert.equal(dht.calls.length, 4, 'the DHT answered without the name: the stale answer is gone');
  dht.calls[3]!.finish(8);
  assert.equal((await gone).status, 'notfound');
});

test('RFC 8767: a name that resolved within 24 hours is answered at once while its refresh runs', async () => {
  const { dht, resolver, advance } = setup({ freshMs: 60_000, maxAgeMs: 30 * 60_000 });
  const first = resolver.resolve('laptop.p2p', { timeoutMs: 1000 });
  dht.calls[0]!.emit(peer(1));
  dht.calls[0]!.finish();
  await first;
  await new Promise((r) => setImmediate(r));
  // hours later: the refresh hangs (a slow DHT): the answer never waits for it
  advance(5 * 60 * 60_000);
  const stale = await resolver.resolve('laptop.p2p', { timeoutMs: 1000 });
  assert.deepEqual([stale.status, stale.ttl, stale.addresses], ['found', 30, [peer(1)]]);
  assert.equal(dht.calls.length, 2);
  assert.equal((await resolver.resolve('laptop.p2p', { timeoutMs: 1000 })).status, 'found', 'again, one refresh at a time');
  assert.equal(dht.calls.length, 2);
  // the refresh reached no DHT node (offline): the stale answer stays, and no new refresh for 30 s
  dht.calls[1]!.finish(0);
  await new Promise((r) => setImmediate(r));
  assert.equal((await resolver.resolve('laptop.p2p', { timeoutMs: 1000 })).status, 'found');
  assert.equal(dht.calls.length, 2, 'failed refresh not retried at once');
  advance(30_001);
  assert.equal((await resolver.resolve('laptop.p2p', { timeoutMs: 1000 })).status, 'found');
  assert.equal(dht.calls.length, 3, 'retried after 30 s');
  dht.calls[2]!.emit(peer(2));
  dht.calls[2]!.finish();
  await new Promise((r) => setImmediate(r));
  const fresh = await resolver.resolve('laptop.p2p', { timeoutMs: 1000 });
  assert.deepEqual([fresh.addresses, fresh.ttl], [[peer(2)], 60], 'a successful refresh is fresh again');
  // past 24 hours without a successful refresh: forgotten
  advance(24 * 60 * 60_000);
  const late = resolver.resolve('laptop.p2p', { timeoutMs: 20 });
  assert.equal((await late).status, 'timeout');
});

test('bounds: searches, cache size, addresses per name', async () => {
  const { dht, resolver } = setup({ maxSearches: 2, maxCached: 2, maxAddresses: 3 });
  const p1 = resolver.resolve('a.p2p', { timeoutMs: 5000 });
  const p2 = resolver.resolve('b.p2p', { timeoutMs: 5000 });
  assert.equal((await resolver.resolve('c.p2p', { timeoutMs: 5000 })).status, 'busy');
  for (let i = 1; i <= 6; i++) dht.calls[0]!.emit(peer(i));
  dht.calls[0]!.finish();
  dht.calls[1]!.emit(peer(9));
  dht.calls[1]!.finish();
  await Promise.all([p1, p2]);
  await new Promise((r) => setImmediate(r));
  assert.equal((await resolver.resolve('a.p2p', { timeoutMs: 10 })).addresses.length, 3);
  const p3 = resolver.resolve('c.p2p', { timeoutMs: 5000 });
  dht.calls[2]!.emit(peer(7));
  dht.calls[2]!.finish();
  await p3;
  await new Promise((r) => setImmediate(r));
  assert.equal(resolver.stats().cached, 2);
});

test('invalid names are reported, not searched', async () => {
  const { dht, resolver } = setup();
  const r = await resolver.resolve('.p2p', { timeoutMs: 10 });
  assert.equal(r.status, 'invalid');
  assert.equal(dht.calls.length, 0);
});

test('stop aborts running searches', async () => {
  const { dht, resolver } = setup();
  const pending = resolver.resolve('x.p2p', { timeoutMs: 5000 });
  resolver.stop();
  assert.equal(dht.calls[0]!.signal.aborted, true);
  assert.equal((await pending).status, 'notfound');
});

test('keyed names: only verified addresses are answered, the search waits for pending checks', async () => {
  const { KeyRing } = await import('../../src/identity/patterns.js');
  const keys = new KeyRing();
  const pk = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
  keys.addPublicKey(`node1.p2p:${pk}`, '.p2p');
  const honest = '10.201.0.2';
  const checks: { peer: PeerAddress; settle: (proof: 'bound' | null) => void }[] = [];
  const verifier = {
    verify: (_id: Buffer, publicKey: Buffer, peer: PeerAddress) => {
      assert.equal(publicKey.toString('hex'), pk);
      return new Promise<'bound' | null>((settle) => checks.push({ peer, settle }));
    },
  };
  const dht = new ScriptedSearcher();
  const resolver = new Resolver({ dht, own: noOwn, log: silentLogger, keys, verifier }, { ...DEFAULT_RESOLVER_OPTIONS, tld: '.p2p' });
  const pending = resolver.resolve('node1.p2p', { timeoutMs: 5000 });
  assert.equal(dht.calls[0]!.id, sha1(pk + 'node1').toString('hex'));
  dht.calls[0]!.emit({ address: '10.201.0.3', port: 6881, family: 4 });
  dht.calls[0]!.emit({ address: honest, port: 6881, family: 4 });
  dht.calls[0]!.finish();
  await new Promise((r) => setImmediate(r));
  assert.equal(checks.length, 2, 'every address is challenged');
  assert.equal(resolver.stats().searches, 1, 'the search is not over while checks run');
  checks[0]!.settle(null);
  checks[1]!.settle('bound');
  const r = await pending;
  assert.deepEqual(r.addresses.map((a) => a.address), [honest]);
  await new Promise((r) => setImmediate(r));
  assert.deepEqual((await resolver.resolve('node1.p2p', { timeoutMs: 10 })).addresses.map((a) => a.address), [honest]);
});

test('keyed names whose addresses all fail verification are not found', async () => {
  const { KeyRing } = await import('../../src/identity/patterns.js');
  const keys = new KeyRing();
  const dht = new ScriptedSearcher();
  const resolver = new Resolver({ dht, own: noOwn, log: silentLogger, keys, verifier: { verify: async () => null } }, { ...DEFAULT_RESOLVER_OPTIONS, tld: '.p2p' });
  const pending = resolver.resolve('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a.p2p', { timeoutMs: 5000 });
  dht.calls[0]!.emit({ address: '10.201.0.3', port: 6881, family: 4 });
  dht.calls[0]!.finish();
  const r = await pending;
  assert.equal(r.status, 'notfound');
  assert.deepEqual(r.addresses, []);
});

test('a query for one family waits for an address of that family, or for the end of the search', async () => {
  const { dht, resolver } = setup();
  const v6 = resolver.resolve('dual.p2p', { timeoutMs: 5000, family: 6 });
  const v4 = resolver.resolve('dual.p2p', { timeoutMs: 5000, family: 4 });
  dht.calls[0]!.agree(peer(1));
  const first = await v4;
  assert.deepEqual(first.addresses, [peer(1)]);
  let v6Done = false;
  void v6.then(() => (v6Done = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(v6Done, false, 'an IPv4 address does not answer AAAA');
  const six: PeerAddress = { address: 'fd20::1', port: 6881, family: 6 };
  dht.calls[0]!.agree(six);
  assert.deepEqual((await v6).addresses, [peer(1), six]);
  const onlyV4 = resolver.resolve('v4only.p2p', { timeoutMs: 5000, family: 6 });
  dht.calls[1]!.emit(peer(2));
  dht.calls[1]!.finish();
  const r = await onlyV4;
  assert.equal(r.status, 'found', 'the name exists: the DNS surface answers NODATA');
  assert.deepEqual(r.addresses, [peer(2)]);
});

test('a query for a family no DHT serves answers on the first address', async () => {
  const dht = new ScriptedSearcher();
  const resolver = new Resolver({ dht, own: noOwn, log: silentLogger, families: () => [4] }, { ...DEFAULT_RESOLVER_OPTIONS, tld: '.p2p' });
  const aaaa = resolver.resolve('v4net.p2p', { timeoutMs: 5000, family: 6 });
  dht.calls[0]!.agree(peer(1));
  const r = await aaaa;
  assert.equal(r.status, 'found');
  assert.deepEqual(r.addresses, [peer(1)]);
  dht.calls[0]!.finish();
});

/** A resolver for a keyed name whose verifier proves only `honest`, recording every address challenged. */
async function keyedSetup(honest: string) {
  const { KeyRing } = await import('../../src/identity/patterns.js');
  const keys = new KeyRing();
  keys.addPublicKey('node1.p2p:d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', '.p2p');
  const challenged: string[] = [];
  const verifier = {
    verify: async (_id: Buffer, _pk: Buffer, peer: PeerAddress) => {
      challenged.push(peer.address);
      return peer.address === honest ? ('bound' as const) : null;
    },
  };
  const dht = new ScriptedSearcher();
  const resolver = new Resolver({ dht, own: noOwn, log: silentLogger, keys, verifier }, { ...DEFAULT_RESOLVER_OPTIONS, tld: '.p2p' });
  return { dht, resolver, challenged };
}
const fake = (i: number): PeerAddress => ({ address: `10.210.${i >> 8}.${i & 255}`, port: 1024 + i, family: 4 });

test('keyed names: one responder flooding fake addresses cannot crowd out the real one', async () => {
  const honest = '10.201.0.2';
  const { dht, resolver, challenged } = await keyedSetup(honest);
  const pending = resolver.resolve('node1.p2p', { timeoutMs: 5000 });
  // one malicious node answers with far more fakes than the 128 candidates a search takes
  for (let i = 0; i < 1000; i++) dht.calls[0]!.emit(fake(i), '10.66.0.1');
  assert.equal(challenged.length, CANDIDATES_PER_RESPONDER, 'one responder gets its share only');
  dht.calls[0]!.emit({ address: honest, port: 6881, family: 4 }, '10.201.0.50');
  const r = await pending;
  assert.equal(r.status, 'found');
  assert.deepEqual(r.addresses.map((a) => a.address), [honest]);
  dht.calls[0]!.finish();
});

test('keyed names: with the candidates full of many responders\' fakes, an address two nodes report is still checked', async () => {
  const honest = '10.201.0.2';
  const { dht, resolver, challenged } = await keyedSetup(honest);
  const pending = resolver.resolve('node1.p2p', { timeoutMs: 5000 });
  const emit = dht.calls[0]!.emit;
  let n = 0;
  // 100 malicious nodes, 16 fakes each: the candidates fill up
  for (let m = 0; m < 100; m++) for (let i = 0; i < 16; i++) emit(fake(n++), `10.66.1.${m}`);
  const full = challenged.length;
  assert.equal(full, DEFAULT_RESOLVER_OPTIONS.maxAddresses * 4, 'the soft bound');
  // an honest node's reply: impostors first, the real address late (beyond its share) ...
  for (let i = 0; i < 15; i++) emit(fake(5000 + i), '10.201.0.60');
  emit({ address: honest, port: 6881, family: 4 }, '10.201.0.60');
  assert.equal(challenged.length, full, 'once only: not taken yet');
  // ... and a second honest node reports it too
  emit({ address: honest, port: 6881, family: 4 }, '10.201.0.61');
  assert.equal(challenged.at(-1), honest);
  const r = await pending;
  assert.deepEqual(r.addresses.map((a) => a.address), [honest]);
  // fakes repeated by many malicious nodes fill the rest, but never beyond the hard bound
  for (let m = 0; m < 100; m++) for (let i = 0; i < n; i += 3) emit(fake(i), `10.66.2.${m}`);
  assert.ok(challenged.length <= DEFAULT_RESOLVER_OPTIONS.maxAddresses * 8, `${challenged.length} challenged`);
  const running = resolver.runningSearches()[0]!;
  assert.ok(running.candidates <= DEFAULT_RESOLVER_OPTIONS.maxAddresses * 8);
  dht.calls[0]!.finish();
});

test('a raw-id lookup never fills the answers of the keyed name with the same id', async () => {
  const { KeyRing } = await import('../../src/identity/patterns.js');
  const keys = new KeyRing();
  const pk = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
  keys.addPublicKey(`node1.p2p:${pk}`, '.p2p');
  const honest = '10.201.0.2';
  const verifier = { verify: async (_id: Buffer, _pk: Buffer, p: PeerAddress) => (p.address === honest ? ('bound' as const) : null) };
  const dht = new ScriptedSearcher();
  const resolver = new Resolver({ dht, own: noOwn, log: silentLogger, keys, verifier }, { ...DEFAULT_RESOLVER_OPTIONS, tld: '.p2p' });
  const id = sha1(pk + 'node1').toString('hex');
  // anyone may ask for the raw id (a DNS query for <40 hex>.p2p): its answer is unverified
  const raw = resolver.resolve(`${id}.p2p`, { timeoutMs: 5000 });
  dht.calls[0]!.emit(peer(3));
  dht.calls[0]!.finish();
  assert.deepEqual((await raw).addresses.map((a) => a.address), ['10.201.0.3']);
  await new Promise((r) => setImmediate(r));
  const keyed = resolver.resolve('node1.p2p', { timeoutMs: 5000 });
  assert.equal(dht.calls.length, 2, 'the keyed name searches for itself');
  dht.calls[1]!.emit(peer(3));
  dht.calls[1]!.emit({ address: honest, port: 6881, family: 4 });
  dht.calls[1]!.finish();
  assert.deepEqual((await keyed).addresses.map((a) => a.address), [honest]);
});

test('resolver: a search whose walk never ends is ended after maxSearchMs and frees its slot', async () => {
  const walks: AbortSignal[] = [];
  // a DHT walk that never calls back unless aborted
  const dht = { search: (_id: Buffer, _onPeer: unknown, signal: AbortSignal) => new Promise<number>((resolve) => { walks.push(signal); signal.addEventListener('abort', () => resolve(0)); }) };
  const resolver = new Resolver({ dht, own: { portFor: () => undefined }, log: silentLogger }, { ...DEFAULT_RESOLVER_OPTIONS, maxSearches: 2, maxSearchMs: 200, tld: '.p2p' });
  const a = resolver.resolve('a.p2p', { timeoutMs: 5000 });
  const b = resolver.resolve('b.p2p', { timeoutMs: 5000 });
  assert.equal((await resolver.resolve('c.p2p', { timeoutMs: 5000 })).status, 'busy');
  assert.deepEqual([(await a).status, (await b).status], ['notfound', 'notfound']);
  assert.ok(walks.every((w) => w.aborted));
  assert.equal(resolver.stats().searches, 0);
  const c = resolver.resolve('c.p2p', { timeoutMs: 5000 });
  assert.equal(resolver.stats().searches, 1, 'the slots are free again');
  resolver.stop();
  await c;
});
