import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PeerStore } from '../../src/dht/peer-store.js';

const peer = (n: number) => Buffer.from([10, 0, (n >> 8) & 255, n & 255, 0x1a, 0xe1]);

function store(overrides: Partial<ConstructorParameters<typeof PeerStore>[0]> = {}) {
  let clock = 0;
  const s = new PeerStore({ maxAgeMs: 30 * 60_000, maxTotal: 100, maxPerId: 10, maxReply: 50, now: () => clock, ...overrides });
  return { s, advance: (ms: number) => (clock += ms) };
}

test('stored announcements expire after exactly 30 minutes', () => {
  const { s, advance } = store();
  s.add('a', peer(1));
  advance(29 * 60_000);
  s.add('a', peer(2));
  assert.equal(s.get('a').length, 2);
  advance(60_000);
  assert.deepEqual(s.get('a'), [peer(2)]);
  advance(29 * 60_000);
  assert.deepEqual(s.get('a'), []);
  assert.equal(s.size, 0);
  assert.equal(s.ids, 0);
});

test('re-announcing refreshes the entry', () => {
  const { s, advance } = store();
  s.add('a', peer(1));
  advance(20 * 60_000);
  s.add('a', peer(1));
  advance(20 * 60_000);
  assert.deepEqual(s.get('a'), [peer(1)]);
  assert.equal(s.size, 1);
});

test('per-id bound drops the oldest of that id', () => {
  const { s } = store();
  for (let i = 0; i < 15; i++) s.add('a', peer(i));
  s.add('b', peer(99));
  assert.equal(s.get('a').length, 10);
  assert.deepEqual(s.get('a')[0], peer(14));
  assert.ok(!s.get('a').some((p) => p.equals(peer(0))));
  assert.equal(s.size, 11);
});

test('total bound drops the oldest overall', () => {
  const { s } = store({ maxTotal: 20, maxPerId: 5 });
  for (let id = 0; id < 10; id++) for (let i = 0; i < 3; i++) s.add(`id${id}`, peer(id * 10 + i));
  assert.equal(s.size, 20);
  assert.deepEqual(s.get('id0'), []);
  assert.equal(s.get('id9').length, 3);
});

test('replies are capped and newest first', () => {
  const { s } = store({ maxPerId: 100, maxReply: 50 });
  for (let i = 0; i < 80; i++) s.add('a', peer(i));
  const reply = s.get('a');
  assert.equal(reply.length, 50);
  assert.deepEqual(reply[0], peer(79));
  assert.equal(s.get('a', 3).length, 3);
});
