// The good-citizen overrides (src/dht/citizen-overrides.ts), on the real libraries over loopback sockets,
// as the public DHT's nodes (libtorrent) meet them: error 204, BEP 51 samples, BEP 44 get with nodes,
// a BEP 42 node id from our external address, announcements to BEP 42-valid nodes first. Their pins
// (the library source each relies on) are in library-adapter.test.ts's PINS, with the other overrides'.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import KBucket from 'k-bucket';
import { bep42NodeId, isBep42Valid } from '../../../src/dht/bep42.js';
import { ANNOUNCE_TARGETS, MAX_VERIFYING, REKEY_MIN_INTERVAL_MS, rekey, SAMPLE_SIZE, validFirst } from '../../../src/dht/citizen-overrides.js';
import type { DhtLibrary } from '../../../src/dht/library-adapter.js';
import type { Contact, RoutingTable } from '../../../src/dht/library-types.js';
import { generateKeyPair } from '../../../src/identity/keys.js';
import { signPacket, targetOf } from '../../../src/pkarr/packet.js';
import { Bep44Client } from '../../helpers/bep44-client.js';
import { adaptedDht, krpcPeer } from '../../helpers/adapted-dht.js';
import type { Dict } from '../../helpers/krpc-peer.js';

const LOCAL = '127.0.0.1';

const adapted = (t: TestContext) => adaptedDht(t);
const peer = krpcPeer;

const fill = (lib: DhtLibrary, n: number) => {
  for (let i = 0; i < n; i++) lib.rpc.nodes.add({ id: randomBytes(20), host: LOCAL, port: 30_000 + i });
};

test('methodUnknown: an unknown method gets error 204 (it timed out before); known ones are still answered', async (t) => {
  const a = await adapted(t);
  const p = await peer(t);
  const reply = await p.ask(LOCAL, a.port, 'vote', { target: randomBytes(20) });
  assert.ok(reply, 'an answer, not a timeout');
  assert.equal(Buffer.from(reply.y as Uint8Array).toString(), 'e');
  assert.deepEqual([(reply.e as unknown[])[0], Buffer.from((reply.e as Uint8Array[])[1]!).toString()], [204, 'Method Unknown']);
  const pong = await p.ask(LOCAL, a.port, 'ping', {});
  assert.deepEqual(Buffer.from((pong?.r as Dict).id as Uint8Array), a.lib.rpc.id);
});

test('sampleInfohashes: BEP 51 reply with a bounded random sample of our stored ids, num, interval and the K closest nodes', async (t) => {
  const a = await adapted(t);
  const stored = new Set<string>();
  for (let i = 0; i < 30; i++) {
    const id = randomBytes(20).toString('hex');
    stored.add(id);
    a.host.store.add(id, Buffer.from([10, 0, 0, 1, 0x1a, 0xe1]));
  }
  fill(a.lib, 12);
  const p = await peer(t);
  const r = (await p.ask(LOCAL, a.port, 'sample_infohashes', { target: randomBytes(20) }))?.r as Dict;
  assert.ok(r, 'a reply');
  assert.equal(r.num, 30);
  assert.equal(r.interval, 60);
  const samples = Buffer.from(r.samples as Uint8Array);
  assert.equal(samples.length, SAMPLE_SIZE * 20);
  const ids = Array.from({ length: SAMPLE_SIZE }, (_, i) => samples.subarray(i * 20, i * 20 + 20).toString('hex'));
  assert.equal(new Set(ids).size, SAMPLE_SIZE, 'distinct');
  for (const id of ids) assert.ok(stored.has(id), 'only ids we store');
  assert.equal((r.nodes as Uint8Array).length, 8 * 26);
  const bad = await p.ask(LOCAL, a.port, 'sample_infohashes', { target: Buffer.from('short') });
  assert.equal((bad?.e as unknown[])[0], 203);
});

test('getWithNodes: a BEP 44 get reply that carries the value also carries the K closest nodes', async (t) => {
  const a = await adapted(t);
  fill(a.lib, 12);
  const keys = generateKeyPair();
  const packet = signPacket(keys.secretKey, Buffer.from('an item'), 9);
  const client = await Bep44Client.open();
  t.after(() => client.close());
  assert.deepEqual(await client.put(LOCAL, a.port, { k: packet.publicKey, seq: 9, sig: packet.signature, v: packet.v }), { ok: true });
  const p = await peer(t);
  const target = targetOf(packet.publicKey);
  const r = (await p.ask(LOCAL, a.port, 'get', { target }))?.r as Dict;
  assert.equal(r.seq, 9);
  assert.deepEqual(Buffer.from(r.v as Uint8Array), Buffer.from(packet.v));
  assert.ok(r.sig instanceof Uint8Array && r.k instanceof Uint8Array && r.token instanceof Uint8Array);
  assert.equal((r.nodes as Uint8Array).length, 8 * 26, 'nodes next to the value');
});

test('bep42Id: the node id follows the external address (nodes kept, replies carry it), at most once per 10 minutes; local addresses keep it', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'], now: 1_000_000 });
  const a = await adapted(t);
  const before = Buffer.from(a.lib.rpc.id);
  fill(a.lib, 15); // 16 nodes fit one bucket: none can be left out by the rebuild
  a.lib.rpc.nodes.add({ id: randomBytes(20), host: '192.0.2.1', port: 1 });
  const nodes = a.lib.rpc.nodes.count();
  a.host.external.report('v1', '10.1.2.3');
  assert.deepEqual(a.lib.rpc.id, before, 'a local address keeps the id');
  for (const voter of ['v1', 'v2', 'v3']) a.host.external.report(voter, '203.0.113.5');
  const first = Buffer.from(a.lib.rpc.id);
  assert.ok(isBep42Valid(first, '203.0.113.5') && !first.equals(before));
  assert.deepEqual(a.lib.dht.nodeId, first);
  assert.equal(a.lib.rpc.nodes.count(), nodes, 'the routing table keeps its nodes');
  a.lib.rpc.nodes.add({ id: randomBytes(20), host: '192.0.2.1', port: 2 });
  assert.equal(a.lib.rpc.nodes.count(), nodes, 'one node per address still counted after the rebuild');
  for (const voter of ['v4', 'v5', 'v6', 'v7']) a.host.external.report(voter, '198.51.100.9');
  assert.deepEqual(a.lib.rpc.id, first, 'a second change within 10 minutes waits');
  t.mock.timers.tick(REKEY_MIN_INTERVAL_MS);
  assert.ok(isBep42Valid(a.lib.rpc.id, '198.51.100.9'), 'then follows');
  t.mock.timers.reset();
  const pong = await (await peer(t)).ask(LOCAL, a.port, 'ping', {});
  assert.deepEqual(Buffer.from((pong?.r as Dict).id as Uint8Array), a.lib.rpc.id, 'replies carry the new id');
});

test('rekey: the routing table is rebuilt around the new id (nodes near it can fill their buckets)', async (t) => {
  const a = await adapted(t);
  const old = a.lib.rpc.id;
  // 21 nodes split the tree around the old id (11 in its half, 10 in the far half, marked dontSplit)
  for (let i = 0; i < 21; i++) {
    const id = randomBytes(20);
    id[0] = (id[0]! & 0x7f) | ((i < 11 ? old[0]! : ~old[0]!) & 0x80);
    a.lib.rpc.nodes.add({ id, host: LOCAL, port: 30_000 + i });
  }
  const id = Buffer.from(randomBytes(20));
  id[0] = (id[0]! & 0x7f) | (~old[0]! & 0x80); // the new id sits in the old id's far half
  rekey(a.lib, id);
  const table = a.lib.rpc.nodes as RoutingTable & { localNodeId: Uint8Array };
  assert.deepEqual(table.localNodeId, id);
  assert.equal(table.count(), 21, 'every node kept');
  for (let i = 0; i < 40; i++) {
    const near = Buffer.from(id);
    near[19] ^= i + 1;
    table.add({ id: near, host: LOCAL, port: 40_000 + i });
  }
  assert.equal(table.closest(id, 40).filter((c) => c.id.subarray(0, 19).equals(id.subarray(0, 19))).length, 40, 'a stale tree would keep 20 of them');
});

test('preferValidStorers: announce_peer goes to the ANNOUNCE_TARGETS closest token holders, BEP 42-valid ones first', async (t) => {
  const a = await adapted(t);
  const infoHash = randomBytes(20);
  const table = new KBucket({ localNodeId: infoHash, numberOfNodesPerKBucket: 64 }) as unknown as RoutingTable;
  const contacts: Contact[] = [];
  for (let i = 0; i < 30; i++) {
    const host = `198.51.100.${i + 1}`;
    const id = i % 2 === 0 ? randomBytes(20) : bep42NodeId(host); // even: invalid for its address (almost surely)
    contacts.push({ id, host, port: 6881, token: Buffer.from('tk') });
    table.add(contacts.at(-1)!);
  }
  (a.lib.dht._tables as unknown as { set(k: string, v: unknown): void }).set(infoHash.toString('hex'), table);
  let sentTo: Contact[] = [];
  (a.lib.rpc as unknown as { queryAll: unknown }).queryAll = ((nodes: Contact[], _m: unknown, _v: unknown, cb: (err: null, n: number) => void) => {
    sentTo = nodes; // recorded instead of sent: these are documentation addresses
    cb(null, nodes.length);
  });
  await new Promise((r) => a.lib.dht.announce(infoHash, 4242, r));
  assert.equal(sentTo.length, ANNOUNCE_TARGETS);
  const valid = contacts.filter((c) => isBep42Valid(c.id, c.host));
  assert.deepEqual(sentTo.slice(0, valid.length).map((c) => c.host).sort(), valid.map((c) => c.host).sort(), 'all 15 valid ones, first');
  assert.equal(typeof (table as unknown as Record<string, unknown>).closest, 'function');
  assert.ok(!Object.hasOwn(table, 'closest'), 'the walk table is left as it was');
  assert.deepEqual(validFirst(table.closest(infoHash, 4), 4).length, 4);
});

test('verifyQueryingNodes: a node that only queried us enters the routing table once it answers our ping', async (t) => {
  const a = await adapted(t);
  const b = await adapted(t);
  const silent = await peer(t);
  // a raw client that asks but never answers: pinged back, never listed (nor handed out to others)
  assert.ok(await silent.ask(LOCAL, a.port, 'ping', {}));
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(a.lib.rpc.nodes.count(), 0, 'the silent querier is not in the table');
  // a real node that asks and answers: listed after its answer to our ping
  await new Promise<void>((r) => b.lib.rpc.query({ host: LOCAL, port: a.port }, { q: 'ping' }, () => r()));
  for (let i = 0; i < 20 && a.lib.rpc.nodes.count() === 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(a.lib.rpc.nodes.toArray().map((c) => c.port), [b.port]);
  assert.ok(MAX_VERIFYING >= 8);
});

