// The DHT library adapter (src/dht/library-adapter.ts, krpc-scheduler.ts). Each override has its test:
// the pin (the SHA-256 of the source of every library function it replaces or relies on, so that another
// library version, or a copy changed on disk, fails here first) and the behaviour it adds, on the real
// libraries over real loopback sockets. The versions: installed as pinned, and any other refused.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import DHT from 'bittorrent-dht';
import KBucket from 'k-bucket';
import KRpc from 'k-rpc';
import KRpcSocket from 'k-rpc-socket';
import { encodeNodes, encodePeer } from '../../../src/dht/compact.js';
import { DEFAULT_ITEM_LIMITS, ItemStore } from '../../../src/dht/item-store.js';
import { checkLibraryVersions, installedLibraries, LIBRARY_VERSIONS, OVERRIDES, putToWalked, QUERY_SLOTS, walkedTo, walkForItems } from '../../../src/dht/library-adapter.js';
import { PeerStore } from '../../../src/dht/peer-store.js';
import { generateKeyPair } from '../../../src/identity/keys.js';
import { signPacket, targetOf } from '../../../src/pkarr/packet.js';
import { repoRoot } from '../../e2e/harness.js';
import { Bep44Client } from '../../helpers/bep44-client.js';
import { adaptedDht, krpcPeer, type Adapted } from '../../helpers/adapted-dht.js';
import { KrpcPeer, type Dict } from '../../helpers/krpc-peer.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const LOCAL = '127.0.0.1';

// ---------------------------------------------------------------- pins

type Code = ((...args: unknown[]) => unknown) & { prototype: Record<string, unknown> };
const LIBRARIES = { 'bittorrent-dht DHT': DHT, 'k-rpc RPC': KRpc, 'k-rpc-socket RPC': KRpcSocket, 'k-bucket KBucket': KBucket } as unknown as Record<string, Code>;

/** `k-rpc RPC#query`: that method's source; `k-rpc RPC`: the constructor's (k-rpc, k-rpc-socket) */
function sourceOf(label: string): string {
  const [owner, method] = label.split('#') as [string, string | undefined];
  const code = LIBRARIES[owner];
  assert.ok(code, label);
  return String(method ? code.prototype[method] : code);
}

/** Per override: the library functions it replaces or relies on, and the SHA-256 (16 hex digits) of their source. */
const PINS: Record<string, Record<string, string>> = {
  boundedPeerStore: { 'bittorrent-dht DHT#lookup': 'bd9ed85d207af253', 'bittorrent-dht DHT#_ongetpeers': '54c280bc7a6ca17c', 'bittorrent-dht DHT#_addPeer': '40e637fa7b553e3a', 'bittorrent-dht DHT#destroy': '6e86156e208ede43' },
  boundedItemStore: { 'bittorrent-dht DHT#get': '505967c3a0caa309', 'bittorrent-dht DHT#_put': '9c2382ddff43db35', 'bittorrent-dht DHT#_onget': '43f5a68ec695cd0c', 'bittorrent-dht DHT#_onput': 'c3a857a489b4ba4c', 'bittorrent-dht DHT#toJSON': '1b3f0061fc4c4313' },
  compactPeers6: { 'bittorrent-dht DHT#lookup': 'bd9ed85d207af253', 'bittorrent-dht DHT#_addPeer': '40e637fa7b553e3a', 'bittorrent-dht DHT#_closest': '6c80c4ccd9444c29' },
  valuesWithNodes: { 'bittorrent-dht DHT#_ongetpeers': '54c280bc7a6ca17c', 'bittorrent-dht DHT#_onquery': 'e790cc9a6cfa1124' },
  responderIdOnPeers: { 'bittorrent-dht DHT#_closest': '6c80c4ccd9444c29', 'bittorrent-dht DHT#lookup': 'bd9ed85d207af253' },
  refreshEqualPuts: { 'bittorrent-dht DHT#_onput': 'c3a857a489b4ba4c', 'bittorrent-dht DHT#_onquery': 'e790cc9a6cfa1124' },
  noSelfInTable: { 'bittorrent-dht DHT#addNode': '2bbc5a3c70d8a9a1', 'bittorrent-dht DHT#_sendPing': '88b61e3407e4e788' },
  replyWithKClosest: { 'k-bucket KBucket#closest': 'e735a9c6a20a9a7f', 'bittorrent-dht DHT#_onfindnode': 'c0d87347e39c02fa', 'bittorrent-dht DHT#_onget': '43f5a68ec695cd0c' },
  oneNodePerAddress: { 'k-bucket KBucket#add': '4b2e1b645f6057ba', 'k-bucket KBucket#remove': '8e2eb0e2384fcc02', 'k-bucket KBucket#_update': 'a140491cdcb5f991', 'k-rpc RPC#_addNode': '4eb95837ea4b062f', 'k-rpc RPC#clear': '0311ab02005b5f93' },
  shortTimeout: { 'k-rpc RPC': '1cb630568f970d4c', 'k-rpc RPC#query': '0e8cf1b9099bf4c9', 'k-rpc-socket RPC#query': '1286d376f7ed66a5', 'k-rpc-socket RPC#_cancel': '99ad29d8910ff2a9' },
  walkPastStalledNodes: { 'k-rpc RPC#_closest': 'f9c1e31928991d1b', 'k-rpc RPC#closest': 'e606c3adf7a1ea44', 'k-rpc RPC#populate': 'f8023372a2d23bfd' },
  boundQueryQueue: { 'k-rpc RPC#query': '0e8cf1b9099bf4c9', 'k-rpc RPC#queryAll': '8b7a3a0279f4c762' },
  // issue 15's scheduler overrides: their behaviour is tested in krpc-scheduler.test.ts
  rememberAnsweringNodes: { 'k-rpc-socket RPC#query': '1286d376f7ed66a5' },
  adaptiveTimeout: { 'k-rpc RPC#query': '0e8cf1b9099bf4c9' },
  seedWalksFromCache: { 'k-rpc RPC#_closest': 'f9c1e31928991d1b' },
  unansweredWalksFirst: { 'k-rpc RPC#_closest': 'f9c1e31928991d1b', 'k-rpc-socket RPC#_cancel': '99ad29d8910ff2a9' },
  nodes6InReplies: { 'k-rpc RPC#response': 'ea8ebb6068c73be4' },
  answerWantFromSibling: { 'k-rpc RPC#response': 'ea8ebb6068c73be4' },
  wantBothFamilies: { 'k-rpc-socket RPC': '6f196a1c7bcc0b3e', 'k-rpc-socket RPC#query': '1286d376f7ed66a5' },
  learnAddressAndCount: { 'k-rpc-socket RPC': '6f196a1c7bcc0b3e', 'k-rpc-socket RPC#query': '1286d376f7ed66a5' },
  tellAddressInReplies: { 'k-rpc-socket RPC#response': 'c1f6c3f7a921739d', 'k-rpc-socket RPC#send': '76f115df094f7bbc' },
  // citizen-overrides.ts: their behaviour is tested in test/unit/dht/citizen-overrides.test.ts
  methodUnknown: { 'bittorrent-dht DHT#_onquery': 'e790cc9a6cfa1124' },
  verifyQueryingNodes: { 'k-rpc RPC': '1cb630568f970d4c', 'k-rpc RPC#_addNode': '4eb95837ea4b062f' },
  sampleInfohashes: { 'bittorrent-dht DHT#_onquery': 'e790cc9a6cfa1124', 'k-rpc RPC#response': 'ea8ebb6068c73be4' },
  getWithNodes: { 'bittorrent-dht DHT#_onget': '43f5a68ec695cd0c', 'bittorrent-dht DHT#_onquery': 'e790cc9a6cfa1124' },
  preferValidStorers: { 'bittorrent-dht DHT#announce': 'bec9841a8bb3da67', 'bittorrent-dht DHT#_closest': '6c80c4ccd9444c29', 'k-rpc RPC#queryAll': '8b7a3a0279f4c762' },
  // the whole class: every use of the id reads _rpc.id (nodeId is set once); k-bucket's tree hangs off root
  bep42Id: { 'bittorrent-dht DHT': '203f3dba5ac415b5', 'k-rpc RPC': '1cb630568f970d4c', 'k-rpc RPC#query': '0e8cf1b9099bf4c9', 'k-rpc RPC#response': 'ea8ebb6068c73be4', 'k-bucket KBucket': '5d8ac828adb21a7e', 'k-bucket KBucket#add': '4b2e1b645f6057ba', 'k-bucket KBucket#_split': 'd42e1dc920265656', 'k-bucket KBucket#remove': '8e2eb0e2384fcc02' },
};

/** Library internals the adapter uses without changing them (BEP 44 walk and put). */
const USED: Record<string, string> = { 'bittorrent-dht DHT#_closest': '6c80c4ccd9444c29', 'bittorrent-dht DHT#_put': '9c2382ddff43db35', 'bittorrent-dht DHT#put': '1b7161044bd61b00' };

/** The library functions the override leans on are still the ones it was written for. */
function pinned(name: string): void {
  assert.ok(name === 'used' || OVERRIDES.some((o) => o.install.name === name), `${name} is in OVERRIDES`);
  for (const [label, hash] of Object.entries(name === 'used' ? USED : PINS[name] ?? {})) {
    assert.equal(createHash('sha256').update(sourceOf(label)).digest('hex').slice(0, 16), hash, `${name}: ${label} is not the source the override was written for`);
  }
}

/** The members of `field` (e.g. `_peers`) that bittorrent-dht's class uses. */
const membersUsed = (field: string) => [...new Set([...String(DHT).matchAll(new RegExp(`\\b${field}\\.(\\w+)`, 'g'))].map((m) => m[1]!))].sort();

test('every override is pinned; the versions are the pinned ones, in package.json too; another version is refused in one line', () => {
  assert.deepEqual(OVERRIDES.map((o) => o.install.name).sort(), Object.keys(PINS).sort());
  const found = installedLibraries();
  for (const { name, version, dir } of found) assert.equal(version, LIBRARY_VERSIONS[name], `${name} at ${dir}`);
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };
  for (const [name, version] of Object.entries(LIBRARY_VERSIONS)) assert.equal(pkg.dependencies[name], version, `package.json pins ${name} exactly`);
  assert.doesNotThrow(() => checkLibraryVersions(found));
  const other = [...found, { name: 'k-rpc' as const, version: '5.2.0', dir: '/x/node_modules/k-rpc' }];
  assert.throws(() => checkLibraryVersions(other), (err: Error) => /^k-rpc 5\.2\.0 is installed \(\/x\/node_modules\/k-rpc\), but .* k-rpc 5\.1\.0 exactly/.test(err.message) && !err.message.includes('\n'));
});

// ---------------------------------------------------------------- the libraries with the overrides, on loopback

const adapted = adaptedDht;
const peer = krpcPeer;

/** An id at XOR distance `d` from the target. */
function near(target: Buffer, d: number): Buffer {
  const id = Buffer.from(target);
  id[19]! ^= d & 0xff;
  id[18]! ^= d >> 8;
  return id;
}

/** A token from get_peers, then announce_peer of `port` for the id. */
async function announceTo(p: KrpcPeer, a: Adapted, infoHash: Buffer, port: number): Promise<void> {
  const got = await p.ask(a.address, a.port, 'get_peers', { info_hash: infoHash });
  const token = (got?.r as Dict | undefined)?.token;
  assert.ok(token instanceof Uint8Array, 'a write token');
  assert.ok(await p.ask(a.address, a.port, 'announce_peer', { info_hash: infoHash, port, token }));
}

// ---------------------------------------------------------------- bittorrent-dht

test('boundedPeerStore: announcements land in our PeerStore, which has what the library calls of `_peers`', async (t) => {
  pinned('boundedPeerStore');
  assert.deepEqual(membersUsed('_peers'), ['add', 'destroy', 'get']);
  for (const m of membersUsed('_peers')) assert.equal(typeof (PeerStore.prototype as unknown as Record<string, unknown>)[m], 'function', m);
  const a = await adapted(t);
  assert.equal(a.lib.dht._peers, a.host.store);
  const infoHash = randomBytes(20);
  await announceTo(await peer(t), a, infoHash, 4242);
  assert.deepEqual(a.host.store.get(infoHash.toString('hex')), [encodePeer(LOCAL, 4242)]);
});

test('boundedItemStore: BEP 44 puts land in our ItemStore and gets are answered from it', async (t) => {
  pinned('boundedItemStore');
  assert.deepEqual(membersUsed('_values'), ['cache', 'get', 'set']);
  const a = await adapted(t);
  for (const m of membersUsed('_values')) assert.ok(m in a.host.items, m);
  assert.equal(a.lib.dht._values, a.host.items);
  const keys = generateKeyPair();
  const packet = signPacket(keys.secretKey, Buffer.from('an item'), 7);
  const client = await Bep44Client.open();
  t.after(() => client.close());
  assert.deepEqual(await client.put(LOCAL, a.port, { k: packet.publicKey, seq: 7, sig: packet.signature, v: packet.v }), { ok: true });
  assert.equal(a.host.items.get(targetOf(packet.publicKey).toString('hex'))?.seq, 7);
  assert.equal((await client.get(LOCAL, a.port, packet.publicKey))?.item?.seq, 7);
});

test('compactPeers6: the IPv6 DHT stores and reports 18-byte peers; the IPv4 DHT keeps the library functions', async (t) => {
  pinned('compactPeers6');
  const v4 = await adapted(t, 4);
  assert.equal(v4.lib.dht.lookup, DHT.prototype.lookup);
  assert.equal(v4.lib.dht._addPeer, (DHT.prototype as unknown as Record<string, unknown>)._addPeer);
  const v6 = await adapted(t, 6);
  const infoHash = randomBytes(20);
  await announceTo(await peer(t, '::1'), v6, infoHash, 4242);
  assert.deepEqual(v6.host.store.get(infoHash.toString('hex')), [encodePeer('::1', 4242)]);
  const found: unknown[] = [];
  v6.lib.dht.on('peer', (p: { host: string; port: number }) => found.push(p));
  await new Promise((r) => v6.lib.dht.lookup(infoHash, r));
  assert.deepEqual(found, [{ host: '::1', port: 4242 }]);
});

test('valuesWithNodes: get_peers answers the values (at most 50) and the K closest nodes', async (t) => {
  pinned('valuesWithNodes');
  const a = await adapted(t);
  const infoHash = randomBytes(20);
  for (let i = 0; i < 60; i++) a.host.store.add(infoHash.toString('hex'), encodePeer(`10.0.0.${i + 1}`, 1000 + i));
  for (let i = 0; i < 12; i++) a.lib.rpc.nodes.add({ id: randomBytes(20), host: LOCAL, port: 30_000 + i });
  const r = (await (await peer(t)).ask(LOCAL, a.port, 'get_peers', { info_hash: infoHash }))?.r as Dict;
  assert.equal((r.values as unknown[]).length, 50);
  assert.equal((r.nodes as Uint8Array).length, 8 * 26);
});

test('refreshEqualPuts: the same item put again is accepted; an older seq after the item expired is refused with 302', async (t) => {
  pinned('refreshEqualPuts');
  let clock = 1_000_000;
  const a = await adapted(t, 4, { items: new ItemStore({ ...DEFAULT_ITEM_LIMITS, maxAgeMs: 60_000, now: () => clock }) });
  const keys = generateKeyPair();
  const item = (seq: number) => {
    const p = signPacket(keys.secretKey, Buffer.from(`seq ${seq}`), seq);
    return { k: p.publicKey, seq, sig: p.signature, v: p.v };
  };
  const client = await Bep44Client.open();
  t.after(() => client.close());
  assert.deepEqual(await client.put(LOCAL, a.port, item(5)), { ok: true });
  assert.deepEqual(await client.put(LOCAL, a.port, item(5)), { ok: true }, 'a refresh, not 302');
  clock += 60_000;
  assert.equal(a.host.items.get(targetOf(keys.publicKey).toString('hex')), undefined, 'expired');
  assert.deepEqual(await client.put(LOCAL, a.port, item(4)), { ok: false, code: 302, message: 'sequence number less than current' });
});

test('noSelfInTable: our own id never stays in the routing table', async (t) => {
  pinned('noSelfInTable');
  const { lib } = await adapted(t);
  lib.dht.addNode({ id: lib.dht.nodeId, host: LOCAL, port: 9 });
  assert.equal(lib.dht.nodes.count(), 0);
  lib.dht.addNode({ id: randomBytes(20), host: LOCAL, port: 9 });
  assert.equal(lib.dht.nodes.count(), 1);
});

// ---------------------------------------------------------------- k-bucket

test('replyWithKClosest: closest() without a count gives 8, and find_node replies carry 8 nodes', async (t) => {
  pinned('replyWithKClosest');
  const a = await adapted(t);
  for (let i = 0; i < 20; i++) a.lib.rpc.nodes.add({ id: randomBytes(20), host: LOCAL, port: 30_000 + i });
  assert.equal(a.lib.rpc.nodes.closest(randomBytes(20)).length, 8);
  const r = (await (await peer(t)).ask(LOCAL, a.port, 'find_node', { target: randomBytes(20) }))?.r as Dict;
  assert.equal((r.nodes as Uint8Array).length, 8 * 26);
});

test('oneNodePerAddress: a second id from a public address is refused; loopback and LAN addresses may share', async (t) => {
  pinned('oneNodePerAddress');
  const { lib, refused } = await adapted(t);
  const table = lib.rpc.nodes;
  const first = randomBytes(20);
  table.add({ id: first, host: '192.0.2.1', port: 1 });
  table.add({ id: randomBytes(20), host: '192.0.2.1', port: 2 });
  table.add({ id: first, host: '192.0.2.1', port: 1 }); // the same node again
  table.add({ id: randomBytes(20), host: LOCAL, port: 1 });
  table.add({ id: randomBytes(20), host: LOCAL, port: 2 });
  assert.equal(table.count(), 3);
  assert.equal(refused.sameAddress, 1);
});

// ---------------------------------------------------------------- k-rpc

test('shortTimeout: a query unanswered after the short timeout frees its slot, and the queue moves on', async (t) => {
  pinned('shortTimeout');
  const { lib } = await adapted(t, 4, { shortTimeoutMs: 100 });
  const silent = await peer(t);
  for (let i = 0; i <= QUERY_SLOTS; i++) lib.rpc.query({ host: LOCAL, port: silent.port }, { q: 'find_node', a: { target: randomBytes(20) } });
  assert.equal(lib.socket.inflight, QUERY_SLOTS);
  assert.equal(lib.rpc.pending.length, 1);
  await sleep(300);
  assert.equal(lib.rpc.pending.length, 0, 'the queued query went out long before the 2 s timeout');
  assert.equal(lib.socket.inflight, QUERY_SLOTS + 1);
  assert.equal(lib.slots.active(), 0, 'all stalled');
});

test('walkPastStalledNodes: dead nodes closest to the target (more than k) are passed; nodes6 is read on IPv6', async (t) => {
  pinned('walkPastStalledNodes');
  const target = randomBytes(20);
  const { lib } = await adapted(t, 4, { shortTimeoutMs: 100, nodeId: Buffer.from(target) });
  const silent = await Promise.all(Array.from({ length: 24 }, () => peer(t)));
  for (const [i, s] of silent.entries()) lib.rpc.nodes.add({ id: near(target, i + 1), host: LOCAL, port: s.port });
  const live = await peer(t);
  live.id = near(target, 0x4000);
  live.answer = () => ({ token: Buffer.from('tk'), values: [encodePeer('10.9.8.7', 6543)] });
  lib.rpc.nodes.add({ id: live.id, host: LOCAL, port: live.port });
  const started = performance.now();
  const found = await new Promise<{ host: string; port: number } | null>((resolve) => {
    lib.dht.on('peer', resolve);
    lib.dht.lookup(target);
    setTimeout(() => resolve(null), 1900).unref();
  });
  assert.deepEqual(found, { host: '10.9.8.7', port: 6543 });
  assert.ok(performance.now() - started < 1500, `${(performance.now() - started).toFixed(0)} ms`);
  // IPv6: the node a bootstrap node names in nodes6 is asked next
  const v6 = await adapted(t, 6);
  const [a, b] = [await peer(t, '::1'), await peer(t, '::1')];
  a.answer = () => ({ nodes6: encodeNodes([{ id: b.id, host: '::1', port: b.port }], 20, 6) });
  b.answer = () => ({});
  v6.lib.rpc.bootstrap = [{ host: '::1', port: a.port }];
  await new Promise((r) => v6.lib.rpc._closest(randomBytes(20), { q: 'find_node', a: { target: randomBytes(20) } }, false, null, r));
  assert.equal(b.queries.length, 1);
});

test('boundQueryQueue: pings take at most 8 slots; at most 256 queries wait, the rest fail at once', async (t) => {
  pinned('boundQueryQueue');
  const { lib, refused } = await adapted(t);
  const silent = { host: LOCAL, port: (await peer(t)).port };
  for (let i = 0; i < 20; i++) lib.rpc.query(silent, { q: 'ping' }, () => undefined);
  assert.equal(lib.slots.active() + lib.rpc.pending.length, 8);
  assert.equal(refused.query, 12);
  let failed = 0;
  for (let i = 0; i < 300; i++) lib.rpc.query(silent, { q: 'get_peers', a: { info_hash: randomBytes(20) } }, (err) => void (err && failed++));
  await sleep(10);
  assert.equal(lib.rpc.pending.length, 256);
  assert.equal(failed, 300 - (QUERY_SLOTS - 8) - 256, 'the other slots in flight, 256 queued, the rest refused');
});

test('nodes6InReplies: the IPv6 DHT replies with nodes6 (8 entries of 38 bytes), the IPv4 DHT with nodes', async (t) => {
  pinned('nodes6InReplies');
  const v6 = await adapted(t, 6);
  for (let i = 0; i < 12; i++) v6.lib.rpc.nodes.add({ id: randomBytes(20), host: `fd20::${i + 1}`, port: 6881 });
  const r6 = (await (await peer(t, '::1')).ask('::1', v6.port, 'find_node', { target: randomBytes(20) }))?.r as Dict;
  assert.equal((r6.nodes6 as Uint8Array).length, 8 * 38);
  assert.equal(r6.nodes, undefined);
  const v4 = await adapted(t, 4);
  v4.lib.rpc.nodes.add({ id: randomBytes(20), host: '10.0.0.1', port: 6881 });
  const r4 = (await (await peer(t)).ask(LOCAL, v4.port, 'find_node', { target: randomBytes(20) }))?.r as Dict;
  assert.equal((r4.nodes as Uint8Array).length, 26, 'the node we put in the table (the asker has not answered a ping: not listed)');
  assert.equal(r4.nodes6, undefined);
});

test('answerWantFromSibling: want n6 adds the sibling\'s nodes6 and drops nodes unless n4 is wanted too', async (t) => {
  pinned('answerWantFromSibling');
  const theirs = encodeNodes([{ id: randomBytes(20), host: 'fd20::9', port: 6881 }], 20, 6);
  const a = await adapted(t, 4, { sibling: () => ({ family: 6, compactClosest: () => theirs, offerNodes: () => undefined }) });
  a.lib.rpc.nodes.add({ id: randomBytes(20), host: '10.0.0.1', port: 6881 });
  const p = await peer(t);
  const ask = async (want?: string[]) => (await p.ask(LOCAL, a.port, 'find_node', { target: randomBytes(20), ...(want ? { want } : {}) }))?.r as Dict;
  const only6 = await ask(['n6']);
  assert.deepEqual(Buffer.from(only6.nodes6 as Uint8Array), theirs);
  assert.equal(only6.nodes, undefined);
  const both = await ask(['n4', 'n6']);
  assert.equal((both.nodes as Uint8Array).length, 26, 'the node we put in the table (the asker has not answered a ping: not listed)');
  assert.deepEqual(Buffer.from(both.nodes6 as Uint8Array), theirs);
  const plain = await ask();
  assert.equal(plain.nodes6, undefined);
});

// ---------------------------------------------------------------- k-rpc-socket

test('wantBothFamilies: our find_node asks for n4 and n6 (a ping does not); the other family\'s nodes go to the sibling', async (t) => {
  pinned('wantBothFamilies');
  const offered: Array<{ host: string; port: number }> = [];
  const { lib } = await adapted(t, 4, { want: [4, 6], sibling: () => ({ family: 6, compactClosest: () => Buffer.alloc(0), offerNodes: (nodes) => offered.push(...nodes) }) });
  const p = await peer(t);
  p.answer = () => ({ nodes6: encodeNodes([{ id: randomBytes(20), host: 'fd20::5', port: 6881 }], 20, 6) });
  await new Promise((r) => lib.rpc.query({ host: LOCAL, port: p.port }, { q: 'find_node', a: { target: randomBytes(20) } }, r));
  await new Promise((r) => lib.rpc.query({ host: LOCAL, port: p.port }, { q: 'ping' }, r));
  await new Promise((r) => setImmediate(r));
  const wants = p.queries.map((q) => ((q.a as Dict).want as Uint8Array[] | undefined)?.map((w) => Buffer.from(w).toString()));
  assert.deepEqual(wants, [['n4', 'n6'], undefined]);
  assert.deepEqual(offered.map((n) => [n.host, n.port]), [['fd20::5', 6881], ['fd20::5', 6881]]);
});

test('learnAddressAndCount: the ip of a reply to our query is a vote for our address, an unsolicited one is not; datagrams counted', async (t) => {
  pinned('learnAddressAndCount');
  const a = await adapted(t);
  const p = await peer(t);
  p.answer = () => ({});
  p.replyIp = encodePeer('192.0.2.7', 1234);
  await new Promise((r) => a.lib.rpc.query({ host: LOCAL, port: p.port }, { q: 'ping' }, r));
  assert.equal(a.host.external.address, '192.0.2.7');
  const other = await peer(t);
  for (let i = 0; i < 3; i++) other.send({ t: Buffer.from([0, 99]), y: 'r', r: { id: other.id }, ip: encodePeer('198.51.100.1', 1) }, a.port, LOCAL);
  await other.ask(LOCAL, a.port, 'ping', {});
  assert.equal(a.host.external.address, '192.0.2.7', 'replies to no query of ours do not vote');
  assert.deepEqual(a.host.traffic, { sent: 1, replied: 1, received: 1 });
});

test('tellAddressInReplies: every reply carries the asker\'s address and port (BEP 42 ip)', async (t) => {
  pinned('tellAddressInReplies');
  const a = await adapted(t);
  const p = await peer(t);
  const reply = await p.ask(LOCAL, a.port, 'ping', {});
  assert.deepEqual(Buffer.from(reply?.ip as Uint8Array), encodePeer(LOCAL, p.port));
});

test('the good-citizen overrides (citizen-overrides.ts) are pinned', () => {
  for (const name of ['methodUnknown', 'sampleInfohashes', 'getWithNodes', 'preferValidStorers', 'bep42Id', 'verifyQueryingNodes']) pinned(name);
});

// ---------------------------------------------------------------- internals used, not changed

test('walkForItems, walkedTo, putToWalked: a walk collects write tokens, then a put of 1000 bytes (put() refuses those) is stored', async (t) => {
  pinned('used');
  const [a, b] = [await adapted(t), await adapted(t)];
  a.lib.dht.addNode({ id: b.lib.dht.nodeId, host: LOCAL, port: b.port });
  const keys = generateKeyPair();
  const packet = signPacket(keys.secretKey, Buffer.alloc(1000, 0x61), 3);
  const target = targetOf(packet.publicKey);
  assert.equal(walkedTo(a.lib, target), false);
  await new Promise((r) => walkForItems(a.lib, target, null, r));
  assert.equal(walkedTo(a.lib, target), true);
  const stored = await new Promise<number | undefined>((resolve, reject) => putToWalked(a.lib, { k: packet.publicKey, seq: 3, sig: packet.signature, v: packet.v }, undefined, (err, n) => (err ? reject(err) : resolve(n))));
  assert.equal(stored, 1);
  assert.equal(b.host.items.get(target.toString('hex'))?.v.length, 1000);
});

test('responderIdOnPeers: a peer event names the replying node with its id; every get_peers answer is told, values or not', async (t) => {
  pinned('responderIdOnPeers');
  const target = randomBytes(20);
  const { lib } = await adapted(t, 4, { shortTimeoutMs: 100 });
  const [storing, empty] = [await peer(t), await peer(t)];
  storing.answer = () => ({ token: Buffer.from('tk'), values: [encodePeer('10.9.8.7', 6543)] });
  empty.answer = () => ({ token: Buffer.from('tk') });
  for (const p of [storing, empty]) lib.rpc.nodes.add({ id: p.id, host: LOCAL, port: p.port });
  const froms: Array<{ port: number; id?: Buffer }> = [];
  const replies: Array<{ port: number; id?: Buffer }> = [];
  lib.dht.on('peer', (_p: unknown, _h: Buffer, from: { port: number; id?: Buffer }) => froms.push(from));
  lib.dht.on('get_peers reply', (hash: Buffer, from: { port: number; id?: Buffer }) => hash.equals(target) && replies.push(from));
  await new Promise((r) => lib.dht.lookup(target, r));
  assert.equal(froms.length, 1);
  assert.equal(froms[0]!.port, storing.port);
  assert.deepEqual(froms[0]!.id, storing.id);
  assert.deepEqual(replies.map((r) => r.port).sort(), [storing.port, empty.port].sort());
  assert.deepEqual(replies.find((r) => r.port === empty.port)!.id, empty.id);
});
