// The node cache (src/dht/node-cache.ts): bounded, one node per public address, closest by XOR, and the
// time-outs it derives from measured RTTs.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { NodeCache } from '../../../src/dht/node-cache.js';

const xorHex = (a: Buffer, b: Buffer) => Buffer.from(a.map((x, i) => x ^ b[i]!)).toString('hex');

test('closest: the n cached nodes nearest the target by XOR, nearest first', () => {
  const cache = new NodeCache();
  const ids = Array.from({ length: 500 }, () => randomBytes(20));
  ids.forEach((id, i) => cache.answered(id, `192.0.2.${i % 250}`, 1000 + i, 50)); // (shared slots: replaced)
  for (let i = 0; i < 500; i++) cache.answered(randomBytes(20), `10.1.${i >> 8}.${i & 255}`, 6881, 50);
  const target = randomBytes(20);
  const got = cache.closest(target, 16).map((c) => xorHex(c.id, target));
  const kept = new Set(cache.closest(target, 10_000).map((c) => c.id.toString('hex')));
  const want = [...kept].map((h) => xorHex(Buffer.from(h, 'hex'), target)).sort().slice(0, 16);
  assert.deepEqual(got, want);
});

test('bounded: at most maxNodes, the least recently heard leave first; one node per public address', () => {
  const cache = new NodeCache({ maxNodes: 100 });
  const first = randomBytes(20);
  cache.answered(first, '10.0.0.1', 1, 10);
  for (let i = 0; i < 150; i++) cache.answered(randomBytes(20), `10.0.1.${i}`, 1, 10);
  assert.equal(cache.size, 100);
  assert.ok(!cache.closest(first, 100).some((c) => c.id.equals(first)), 'the oldest left');
  // a public address is one slot: a host making up ids replaces its own entry, never adds one
  const sybil = new NodeCache();
  for (let i = 0; i < 50; i++) sybil.answered(randomBytes(20), '198.51.100.7', 1000 + i, 10);
  assert.equal(sybil.size, 1);
  // loopback and LAN addresses may hold several nodes (one per port)
  for (let i = 0; i < 5; i++) sybil.answered(randomBytes(20), '127.0.0.1', 2000 + i, 10);
  assert.equal(sybil.size, 6);
  const bad = new NodeCache();
  bad.answered(Buffer.alloc(5), '10.0.0.1', 1, 10);
  bad.answered(randomBytes(20), '10.0.0.2', 1, NaN);
  assert.equal(bad.size, 0, 'no short ids, no NaN RTTs');
});

test('failed: a node that timed out is no longer offered', () => {
  const cache = new NodeCache();
  const id = randomBytes(20);
  cache.answered(id, '10.0.0.1', 6881, 100);
  cache.failed('10.0.0.1', 6882); // another port: not this node
  assert.equal(cache.size, 1);
  cache.failed('10.0.0.1', 6881);
  assert.equal(cache.size, 0);
  assert.deepEqual(cache.closest(id, 8), []);
});

test('timeoutFor: the ceiling before there are samples; a percentile of recent RTTs for unknown nodes; srtt + 4 rttvar for known ones; bounded', () => {
  const cache = new NodeCache({ unknownPercentile: 80, minTimeoutMs: 150 });
  assert.equal(cache.timeoutFor('10.0.0.1', 1, 600), 600);
  for (let i = 1; i <= 100; i++) cache.answered(randomBytes(20), `10.0.2.${i}`, 1, i * 5); // 5..500 ms
  assert.equal(cache.timeoutFor('10.9.9.9', 1, 600), 405, 'p80 of 5..500');
  assert.equal(cache.timeoutFor('10.9.9.9', 1, 300), 300, 'never above the ceiling');
  const fast = randomBytes(20);
  for (let i = 0; i < 20; i++) cache.answered(fast, '10.0.3.1', 1, 40);
  assert.equal(cache.timeoutFor('10.0.3.1', 1, 600), 150, 'a fast node: the floor');
  const slow = randomBytes(20);
  cache.answered(slow, '10.0.3.2', 1, 200);
  assert.equal(cache.timeoutFor('10.0.3.2', 1, 600), 600, '200 + 4 x 100, capped');
  for (let i = 0; i < 30; i++) cache.answered(slow, '10.0.3.2', 1, 200);
  assert.ok(cache.timeoutFor('10.0.3.2', 1, 600) < 260, 'variation shrinks with steady RTTs');
  assert.equal(cache.timeoutFor('10.0.3.2', 1, 100), 100, 'floor never above the ceiling');
});

test('takeNamed: the node named longest ago, taken out; a node that answered is never named', () => {
  const cache = new NodeCache();
  const id = (n: number) => Buffer.alloc(20, n);
  cache.heardOf(id(1), '10.1.0.1', 1);
  cache.heardOf(id(2), '10.2.0.1', 2);
  cache.answered(id(3), '10.3.0.1', 3, 50);
  cache.heardOf(id(3), '10.3.0.1', 3);
  assert.equal(cache.takeNamed()?.port, 1);
  assert.equal(cache.takeNamed()?.port, 2);
  assert.equal(cache.takeNamed(), undefined);
  assert.equal(cache.size, 1);
});

test('takeNamed: replies naming one public host under many ids and ports leave it named once, so the filler asks it once; named nodes are bounded', () => {
  const cache = new NodeCache({ maxNodes: 10 });
  for (let i = 0; i < 16; i++) cache.heardOf(randomBytes(20), '198.51.100.9', 3000 + i);
  assert.equal(cache.namedSize, 1);
  assert.equal(cache.takeNamed()?.host, '198.51.100.9');
  assert.equal(cache.takeNamed(), undefined);
  for (let i = 0; i < 50; i++) cache.heardOf(randomBytes(20), `10.0.2.${i}`, 1);
  assert.equal(cache.namedSize, 10, 'as many as maxNodes');
  cache.heardOf(Buffer.alloc(5), '10.0.3.1', 1);
  assert.equal(cache.namedSize, 10, 'no short ids');
});
