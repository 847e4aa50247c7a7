// BEP 44 on our DHT nodes: the bounded item store, put and get between two real nodes on loopback
// (signature checked, seq only grows, the same item refreshed), and BEP 42's `ip` in replies.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import sodium from 'sodium-native';
import { ItemStore, verifyBep44, type StoredItem } from '../../../src/dht/item-store.js';
import { DhtNode } from '../../../src/dht/node.js';
import { silentLogger } from '../../../src/log.js';
import { encodeDnsPacket, signable, signPacket, targetOf } from '../../../src/pkarr/packet.js';

const storage = { maxAgeMs: 60_000, maxTotal: 100, maxPerId: 10 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function item(bytes: number, seq = 1): StoredItem {
  return { v: Buffer.alloc(bytes), k: Buffer.alloc(32), sig: Buffer.alloc(64), seq, id: Buffer.alloc(20) };
}

test('item store: bounded by count and by bytes, least recently used first, items expire', () => {
  let clock = 0;
  const store = new ItemStore({ maxItems: 3, maxBytes: 1_000_000, maxAgeMs: 10_000, now: () => clock });
  for (const k of ['a', 'b', 'c']) store.set(k, item(100));
  store.get('a'); // a is now the most recently used
  store.set('d', item(100));
  assert.equal(store.size, 3);
  assert.equal(store.get('b'), undefined, 'the least recently used went first');
  assert.ok(store.get('a') && store.get('c') && store.get('d'));

  const small = new ItemStore({ maxItems: 100, maxBytes: 3000, maxAgeMs: 10_000, now: () => clock });
  for (let i = 0; i < 10; i++) small.set(`k${i}`, item(1000));
  assert.ok(small.bytes <= 3000, `${small.bytes} bytes stored`);
  assert.equal(small.size, 2);

  clock += 10_000;
  assert.equal(store.get('a'), undefined, 'expired after maxAgeMs');
  store.set('e', item(10));
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
