// The seq memory: never lowers, bounded, and its pools never push each other out, so relay traffic or
// lookups for fresh keys cannot make this node forget the seq of a key it holds for the DHT.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SeqMemory } from '../../../src/dht/seq-memory.js';

test('a key is remembered at its newest seq, never lower', () => {
  const m = new SeqMemory();
  m.note('k', 10);
  m.note('k', 5);
  assert.equal(m.get('k'), 10);
  m.note('k', 12, 'relayed');
  assert.equal(m.get('k'), 12);
  assert.equal(m.get('other'), undefined);
});

test('a flood of relayed (or looked-up) keys pushes out only keys that came the same way; held keys stay', () => {
  const m = new SeqMemory({ held: 4, seen: 4, relayed: 8 });
  for (let i = 0; i < 4; i++) m.note(`held${i}`, 100 + i);
  for (let i = 0; i < 10_000; i++) m.note(`flood${i}`, 1, 'relayed');
  for (let i = 0; i < 10_000; i++) m.note(`looked-up${i}`, 1, 'seen');
  assert.deepEqual([0, 1, 2, 3].map((i) => m.get(`held${i}`)), [100, 101, 102, 103]);
  assert.deepEqual(m.size, { held: 4, seen: 4, relayed: 8 });
  assert.equal(m.get('flood0'), undefined, 'the oldest relayed keys went');
  assert.equal(m.get('flood9999'), 1);
});

test('a key moves up (relayed, seen, held), never down; each pool forgets the least recently raised first', () => {
  const m = new SeqMemory({ held: 2, seen: 2, relayed: 2 });
  m.note('r', 7, 'relayed');
  m.note('r', 7, 'seen');
  for (let i = 0; i < 100; i++) m.note(`flood${i}`, 1, 'relayed');
  assert.equal(m.get('r'), 7, 'no longer in the relayed pool');
  m.note('r', 7, 'held');
  m.note('r', 7, 'relayed');
  for (let i = 0; i < 100; i++) m.note(`seen${i}`, 1, 'seen');
  assert.equal(m.get('r'), 7, 'held: not pushed out by seen keys either');
  m.note('h', 1);
  m.note('r', 8); // raised: now the most recent
  m.note('new', 1);
  assert.equal(m.get('h'), undefined);
  assert.equal(m.get('r'), 8);
});
