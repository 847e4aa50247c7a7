// The BEP 44 item store never goes back to an older seq: not by set(), not after the item left the store
// (the seq memory outlives it), not through a put from another DHT node; relayed items take at most their
// share, so a relay flood cannot push out items other nodes put here. At the end: its bounds (count,
// bytes, age) and verifyBep44.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import sodium from 'sodium-native';
import { DEFAULT_ITEM_LIMITS, ItemStore, verifyBep44, type StoredItem } from '../../../src/dht/item-store.js';
import { DhtNode } from '../../../src/dht/node.js';
import { SeqMemory } from '../../../src/dht/seq-memory.js';
import { silentLogger } from '../../../src/log.js';
import { encodeDnsPacket, signable, signPacket, targetOf } from '../../../src/pkarr/packet.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function item(seq: number, sigByte = 1): StoredItem {
  return { v: Buffer.alloc(10), k: Buffer.alloc(32), sig: Buffer.alloc(64, sigByte), seq, id: Buffer.alloc(20) };
}

test('set() refuses an older seq, and another packet under the same seq; a newer one replaces', () => {
  const store = new ItemStore({ ...DEFAULT_ITEM_LIMITS });
  assert.equal(store.set('k', item(10)), true);
  assert.equal(store.set('k', item(9)), false, 'older');
  assert.equal(store.get('k')?.seq, 10);
  assert.equal(store.set('k', item(10, 2)), false, 'same seq, another signature');
  assert.equal(store.get('k')?.sig?.[0], 1);
  assert.equal(store.set('k', item(10)), true, 'the very same item again (a refresh)');
  assert.equal(store.set('k', item(11)), true);
  assert.equal(store.get('k')?.seq, 11);
});

test('the seq of an item outlives the item: evicted or expired, an older one is still refused', () => {
  let clock = 0;
  const store = new ItemStore({ maxItems: 2, maxBytes: 1_000_000, maxAgeMs: 10_000, now: () => clock });
  store.set('k', item(10));
  store.set('a', item(1));
  store.set('b', item(1));
  assert.equal(store.get('k'), undefined, 'pushed out by count');
  assert.equal(store.floor('k'), 10);
  assert.equal(store.set('k', item(9)), false);
  assert.equal(store.get('k'), undefined);
  assert.equal(store.set('k', item(12)), true);
  clock += 10_000;
  assert.equal(store.get('k'), undefined, 'expired');
  assert.equal(store.set('k', item(11)), false, 'older than the expired one');
});

test('a newer seq seen elsewhere (one memory with the pkarr step) hides an older stored item', () => {
  const seqs = new SeqMemory();
  const store = new ItemStore({ ...DEFAULT_ITEM_LIMITS, seqs });
  store.set('k', item(10));
  seqs.note('k', 20); // a get reply during a lookup carried seq 20
  assert.equal(store.get('k'), undefined, 'seq 10 is not served any more');
  assert.equal(store.set('k', item(15)), false);
  assert.equal(store.set('k', item(20)), true);
});

test('relayed items take at most their share: a flood of them never pushes out an item another node put', () => {
  const store = new ItemStore({ maxItems: 8, maxBytes: 1_000_000, maxAgeMs: 60_000, maxRelayed: 2 });
  for (const k of ['h1', 'h2', 'h3']) store.set(k, item(5));
  for (let i = 0; i < 1000; i++) store.set(`r${i}`, item(1), 'relayed');
  assert.deepEqual(['h1', 'h2', 'h3'].map((k) => store.get(k)?.seq), [5, 5, 5]);
  assert.equal(store.size, 5, '3 held + 2 relayed');
  assert.ok(store.get('r999') && store.get('r998') && !store.get('r997'));
  // a relayed key forgotten as an item is remembered as a seq
  assert.equal(store.set('r0', item(0), 'relayed'), false);
});

test('BEP 44 put from another node: older than the seq held before is refused (302) after the item left; cas must name it (301)', async (t) => {
  const storage = { maxAgeMs: 60_000, maxTotal: 100, maxPerId: 10 };
  const holder = new DhtNode(silentLogger, { port: 0, address: '127.0.0.1', storage, maxSearches: 8, items: { maxItems: 2, maxBytes: 1_000_000, maxAgeMs: 60_000 } });
  const putter = new DhtNode(silentLogger, { port: 0, address: '127.0.0.1', storage, maxSearches: 8 });
  await holder.start();
  await putter.start();
  t.after(async () => {
    await holder.stop();
    await putter.stop();
  });
  putter.ping({ host: '127.0.0.1', port: holder.boundPort() });
  for (let i = 0; i < 40 && putter.nodeCount() === 0; i++) await sleep(50);
  assert.equal(putter.nodeCount(), 1);

  const key = () => {
    const pk = Buffer.alloc(32);
    const sk = Buffer.alloc(64);
    sodium.crypto_sign_keypair(pk, sk);
    return { pk, sk };
  };
  const signed = (sk: Buffer, seq: number, text = 'x') => {
    const s = signPacket(sk, encodeDnsPacket([{ type: 'TXT', name: 'x', ttl: 60, class: 'IN', data: [text] }]), seq);
    return { k: s.publicKey, seq, sig: s.signature, v: s.v };
  };
  const K = key();
  const target = targetOf(K.pk);
  assert.equal(await putter.putMutable(signed(K.sk, 10), target), 1);
  // two other keys push K's item out of the holder's store (2 items at most)
  for (const other of [key(), key()]) await putter.putMutable(signed(other.sk, 1), targetOf(other.pk));
  assert.equal(holder.items.get(target.toString('hex')), undefined, 'the item left the store');

  await assert.rejects(putter.putMutable(signed(K.sk, 9, 'old'), target), (err: Error & { code?: unknown }) => err.code === 302);
  assert.equal(holder.items.get(target.toString('hex')), undefined, 'the older item was not stored');
  await assert.rejects(putter.putMutable(signed(K.sk, 11), target, { cas: 9 }), (err: Error & { code?: unknown }) => err.code === 301);
  assert.equal(await putter.putMutable(signed(K.sk, 11), target, { cas: 10 }), 1, 'cas naming the seq held before');
  assert.equal(holder.items.get(target.toString('hex'))?.seq, 11);
});

// ---------------------------------------------------------------- bounds, signatures

/** An item of `bytes` bytes of value. */
function sizedItem(bytes: number, seq = 1): StoredItem {
  return { v: Buffer.alloc(bytes), k: Buffer.alloc(32), sig: Buffer.alloc(64), seq, id: Buffer.alloc(20) };
}

test('item store: bounded by count and by bytes, least recently used first, items expire', () => {
  let clock = 0;
  const store = new ItemStore({ maxItems: 3, maxBytes: 1_000_000, maxAgeMs: 10_000, now: () => clock });
  for (const k of ['a', 'b', 'c']) store.set(k, sizedItem(100));
  store.get('a'); // a is now the most recently used
  store.set('d', sizedItem(100));
  assert.equal(store.size, 3);
  assert.equal(store.get('b'), undefined, 'the least recently used went first');
  assert.ok(store.get('a') && store.get('c') && store.get('d'));

  const small = new ItemStore({ maxItems: 100, maxBytes: 3000, maxAgeMs: 10_000, now: () => clock });
  for (let i = 0; i < 10; i++) small.set(`k${i}`, sizedItem(1000));
  assert.ok(small.bytes <= 3000, `${small.bytes} bytes stored`);
  assert.equal(small.size, 2);

  clock += 10_000;
  assert.equal(store.get('a'), undefined, 'expired after maxAgeMs');
  store.set('e', sizedItem(10));
  assert.equal(store.size, 1);
});

test('verifyBep44 takes a signature over the bencoded seq and v; wrong lengths are false, not errors', () => {
  const pk = Buffer.alloc(32);
  const sk = Buffer.alloc(64);
  sodium.crypto_sign_keypair(pk, sk);
  const msg = signable(5, Buffer.from('hi'));
  const sig = Buffer.alloc(64);
  sodium.crypto_sign_detached(sig, msg, sk);
  assert.equal(verifyBep44(sig, msg, pk), true);
  assert.equal(verifyBep44(sig, signable(6, Buffer.from('hi')), pk), false);
  assert.equal(verifyBep44(sig.subarray(1), msg, pk), false);
  assert.equal(verifyBep44(sig, msg, pk.subarray(1)), false);
});
