// The relay never rolls a signed zone back, run against real DHT nodes on loopback: an older packet for a
// key that came from the DHT, a key unknown here (the DHT is asked first), If-Match as BEP 44 `cas` on the
// DHT, a flood of relay PUTs for fresh keys, and the rate limit kept per network (/24, /64).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import sodium from 'sodium-native';
import { DEFAULT_ITEM_LIMITS, type ItemStoreOptions } from '../../../src/dht/item-store.js';
import { DhtNode } from '../../../src/dht/node.js';
import { SeqMemory, type SeqMemoryOptions } from '../../../src/dht/seq-memory.js';
import { encodeZ32Key } from '../../../src/identity/keys.js';
import { silentLogger } from '../../../src/log.js';
import { PkarrHook } from '../../../src/pkarr/hook.js';
import { encodeDnsPacket, signPacket, targetOf, toRelayPayload } from '../../../src/pkarr/packet.js';
import { DEFAULT_RELAY_OPTIONS, PkarrRelay, sourceNetwork } from '../../../src/pkarr/relay.js';
import { Bep44Client } from '../../helpers/bep44-client.js';

type After = { after(fn: () => Promise<void> | void): void };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const storage = { maxAgeMs: 60_000, maxTotal: 100, maxPerId: 10 };

function keyPair() {
  const pk = Buffer.alloc(32);
  const sk = Buffer.alloc(64);
  sodium.crypto_sign_keypair(pk, sk);
  return { pk, sk, z32: encodeZ32Key(pk), target: targetOf(pk), hex: targetOf(pk).toString('hex') };
}
type Key = ReturnType<typeof keyPair>;

function packet(key: Key, seq: number, text = `seq ${seq}`) {
  const s = signPacket(key.sk, encodeDnsPacket([{ type: 'TXT', name: key.z32, ttl: 300, class: 'IN', data: [text] }]), seq);
  return { item: { k: s.publicKey, seq, sig: s.signature, v: s.v }, payload: toRelayPayload(s) };
}

async function node(t: After, items: Partial<ItemStoreOptions> = {}): Promise<DhtNode> {
  const n = new DhtNode(silentLogger, { port: 0, address: '127.0.0.1', storage, maxSearches: 8, items: { ...DEFAULT_ITEM_LIMITS, ...items } });
  await n.start();
  t.after(() => n.stop());
  return n;
}

/** Every node pings every other, until each knows all the others. */
async function link(nodes: DhtNode[]): Promise<void> {
  for (const a of nodes) for (const b of nodes) if (a !== b) a.ping({ host: '127.0.0.1', port: b.boundPort() });
  for (let i = 0; i < 60 && nodes.some((n) => n.nodeCount() < nodes.length - 1); i++) await sleep(50);
  assert.ok(nodes.every((n) => n.nodeCount() === nodes.length - 1), `routing tables: ${nodes.map((n) => n.nodeCount())}`);
}

/** A relay on its own DHT node, the node's item store and the pkarr step sharing one seq memory (as in the daemon). */
async function relayNode(t: After, memory?: SeqMemoryOptions, items: Partial<ItemStoreOptions> = {}, putBurst = 1000) {
  const seqs = new SeqMemory(memory);
  const dht = await node(t, { ...items, seqs });
  const hook = new PkarrHook({ dht, log: silentLogger, seqs });
  t.after(() => hook.stop());
  const relay = new PkarrRelay({ hook, dht, log: silentLogger }, { ...DEFAULT_RELAY_OPTIONS, putBurst, getTimeoutMs: 2000 });
  return { dht, hook, relay, seqs };
}

const heldSeq = (n: DhtNode, key: Key) => n.items.get(key.hex)?.seq;

test('an older packet through the relay for a key the DHT put here: 409, and nothing here or on the DHT goes back', async (t) => {
  const r = await relayNode(t);
  const [b, c] = [await node(t), await node(t)];
  await link([r.dht, b, c]);
  const K = keyPair();
  const N = packet(K, 2_000_000);
  assert.ok((await b.putMutable(N.item, K.target)) >= 2);
  assert.equal(heldSeq(r.dht, K), 2_000_000, 'the relay node stores it for the DHT');

  const older = await r.relay.put(K.z32, packet(K, 1_000_000, 'old').payload);
  assert.equal(older.status, 409, JSON.stringify(older));
  assert.equal(heldSeq(r.dht, K), 2_000_000, 'the item store kept the newest');
  assert.equal(heldSeq(c, K), 2_000_000);
  assert.equal(heldSeq(b, K), undefined, 'nothing was put: the walk found the newer one first');
  const got = await r.relay.get(K.z32);
  assert.ok(got.status === 200 && got.payload.equals(N.payload), 'the relay serves the newest');
  assert.equal((await r.relay.put(K.z32, packet(K, 2_000_000, 'another').payload)).status, 409, 'another packet under the same seq');
  const again = await r.relay.put(K.z32, N.payload);
  assert.equal(again.status, 204, `the same packet again is a republish: ${JSON.stringify(again)}`);
});

test('a key this node never saw: the relay asks the DHT first, so an older packet is neither stored nor cached here', async (t) => {
  const [b, c] = [await node(t), await node(t)];
  await link([b, c]);
  const K = keyPair();
  const N = packet(K, 2_000_000);
  assert.equal(await b.putMutable(N.item, K.target), 1);
  // the relay node joins after the packet went out
  const r = await relayNode(t);
  await link([r.dht, b, c]);
  assert.equal(r.hook.newestSeq(K.pk), undefined);

  const older = await r.relay.put(K.z32, packet(K, 1_000_000, 'old').payload);
  assert.equal(older.status, 409, JSON.stringify(older));
  assert.equal(heldSeq(r.dht, K), undefined, 'not stored here');
  assert.equal(heldSeq(b, K), undefined, 'not put on the DHT');
  assert.equal(r.hook.newestSeq(K.pk), 2_000_000, 'what the walk found is remembered');
  const cached = r.hook.cached(K.pk);
  assert.ok(cached && cached !== 'miss' && cached.packet.seq === 2_000_000, 'the cache holds the newest, not the refused one');
  assert.equal((await r.relay.put(K.z32, packet(K, 3_000_000).payload)).status, 204, 'a newer one goes through');
  assert.equal(heldSeq(r.dht, K), 3_000_000);
});

test('If-Match is a compare-and-swap on the DHT: 412 when the DHT holds another seq, 204 when it names it or the key is new', async (t) => {
  const r = await relayNode(t);
  const [b, c] = [await node(t), await node(t)];
  await link([r.dht, b, c]);
  const raw = await Bep44Client.open();
  t.after(() => raw.close());

  // the relay knows seq 1e6; seq 2e6 is then published through another node, to c only
  const K = keyPair();
  assert.equal((await r.relay.put(K.z32, packet(K, 1_000_000).payload)).status, 204);
  assert.deepEqual(await raw.put('127.0.0.1', c.boundPort(), packet(K, 2_000_000).item), { ok: true });
  const stale = await r.relay.put(K.z32, packet(K, 3_000_000).payload, '1000000');
  assert.equal(stale.status, 412, JSON.stringify(stale));
  assert.equal(heldSeq(c, K), 2_000_000, 'the newer packet on the DHT was not overwritten');
  assert.equal(heldSeq(b, K), 1_000_000, 'and nothing else was put');
  const current = await r.relay.put(K.z32, packet(K, 3_000_000).payload, '2000000');
  assert.equal(current.status, 204, JSON.stringify(current));
  // b still holds 1e6, so it refuses the cas (301) as BEP 44 says; c took it, and so did this node
  assert.deepEqual([heldSeq(b, K), heldSeq(c, K), heldSeq(r.dht, K)], [1_000_000, 3_000_000, 3_000_000]);

  // a key this node never saw: the DHT decides
  const fresh = keyPair();
  assert.equal((await r.relay.put(fresh.z32, packet(fresh, 5).payload, '4')).status, 204, 'nothing on the DHT: the put goes through');
  const elsewhere = keyPair();
  assert.deepEqual(await raw.put('127.0.0.1', b.boundPort(), packet(elsewhere, 50).item), { ok: true });
  assert.equal((await r.relay.put(elsewhere.z32, packet(elsewhere, 60).payload, '40')).status, 412, 'the DHT holds 50');
  assert.equal(heldSeq(b, elsewhere), 50);
  assert.equal((await r.relay.put(elsewhere.z32, packet(elsewhere, 60).payload, '50')).status, 204);
});

test('a flood of relay PUTs for fresh keys cannot make this node take an older packet for a key it held', async (t) => {
  // small pools and store, so 300 PUTs are a flood
  const r = await relayNode(t, { held: 64, seen: 64, relayed: 64 }, { maxItems: 32 });
  const [b, c] = [await node(t), await node(t)];
  await link([r.dht, b, c]);
  const raw = await Bep44Client.open();
  t.after(() => raw.close());
  const byDht = keyPair();
  const byRelay = keyPair();
  assert.ok((await b.putMutable(packet(byDht, 2_000_000).item, byDht.target)) >= 2);
  assert.equal((await r.relay.put(byRelay.z32, packet(byRelay, 2_000_000).payload)).status, 204);

  let accepted = 0;
  for (let i = 0; i < 300; i++) {
    const other = keyPair();
    if ((await r.relay.put(other.z32, packet(other, 1).payload)).status === 204) accepted++;
  }
  assert.equal(accepted, 300);
  assert.equal(r.seqs.get(byDht.hex), 2_000_000, 'a key put here by the DHT stays remembered');
  assert.equal(r.seqs.get(byRelay.hex), undefined, 'the relayed key was pushed out by relayed keys (the pool holds 64)');
  for (const key of [byDht, byRelay]) {
    const older = await r.relay.put(key.z32, packet(key, 1_000_000, 'old').payload);
    assert.equal(older.status, 409, `${key === byDht ? 'held' : 'forgotten'} key: ${JSON.stringify(older)}`);
  }
  const put = await raw.put('127.0.0.1', r.dht.boundPort(), packet(byDht, 1_000_000, 'old').item);
  assert.deepEqual(put && !put.ok && put.code, 302, 'a BEP 44 put of the older packet straight to this node');
  assert.notEqual(heldSeq(r.dht, byDht), 1_000_000);
});

test('the PUT rate limit is kept per /24 and per /64, not per address', () => {
  assert.equal(sourceNetwork('127.1.2.3'), '127.1.2.0/24');
  assert.equal(sourceNetwork('::ffff:10.0.0.9'), '10.0.0.0/24');
  assert.equal(sourceNetwork('2001:db8::1'), '2001:0db8:0000:0000::/64');
  assert.equal(sourceNetwork('2001:db8::abcd:1:2:3'), '2001:0db8:0000:0000::/64');
  assert.equal(sourceNetwork('unix'), 'unix');
  const relay = new PkarrRelay({ hook: {} as PkarrHook, dht: { putMutable: async () => 0, storeItem: () => true }, log: silentLogger }, { ...DEFAULT_RELAY_OPTIONS, putBurst: 2 }, () => 0);
  assert.deepEqual(['127.1.2.3', '127.1.2.4', '127.1.2.5', '127.1.3.1'].map((a) => relay.allowPut(a)), [true, true, false, true]);
  assert.deepEqual(['2001:db8::1', '2001:db8::2:1', '2001:db8::3:1', '2001:db8:0:1::1'].map((a) => relay.allowPut(a)), [true, true, false, true]);
});
