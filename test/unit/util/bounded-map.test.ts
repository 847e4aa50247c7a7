import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BoundedMap } from '../../../src/util/bounded-map.js';

test('bounded map: never holds more than max; the oldest written leaves first', () => {
  const map = new BoundedMap<string, number>(3);
  for (let i = 0; i < 1000; i++) map.set(`k${i}`, i);
  assert.equal(map.size, 3);
  assert.deepEqual([...map.keys()], ['k997', 'k998', 'k999']);
});

test('bounded map: set() on a key present makes it the newest; get() does not (FIFO by writes)', () => {
  const map = new BoundedMap<string, number>(3);
  map.set('a', 1).set('b', 2).set('c', 3);
  assert.equal(map.get('a'), 1);
  map.set('d', 4);
  assert.equal(map.has('a'), false, 'a read is not a use');
  map.set('b', 20);
  map.set('e', 5);
  assert.deepEqual([...map], [['d', 4], ['b', 20], ['e', 5]], 'b was written again: c left before it');
});

test('bounded map with lru: get() makes the key the newest, peek() does not', () => {
  const map = new BoundedMap<string, number>(3, { lru: true });
  map.set('a', 1).set('b', 2).set('c', 3);
  assert.equal(map.get('a'), 1);
  assert.equal(map.peek('b'), 2);
  map.set('d', 4);
  assert.deepEqual([...map.keys()], ['c', 'a', 'd'], 'b (only peeked) left, a (used) stayed');
  assert.equal(map.get('missing'), undefined);
  assert.equal(map.size, 3, 'a miss adds nothing');
});

test('bounded map: replace() keeps the key where it stands, and sets nothing for an absent key', () => {
  const map = new BoundedMap<string, number>(2);
  map.set('a', 1).set('b', 2);
  assert.equal(map.replace('a', 10), true);
  assert.equal(map.replace('z', 26), false);
  assert.equal(map.has('z'), false);
  map.set('c', 3);
  assert.deepEqual([...map], [['b', 2], ['c', 3]], 'a, replaced in place, was still the oldest');
});

test('bounded map: delete, clear and iteration are those of a Map; max 0 keeps nothing', () => {
  const map = new BoundedMap<string, number>(2);
  map.set('a', 1).set('b', 2);
  assert.equal(map.delete('a'), true);
  map.set('c', 3);
  assert.deepEqual([...map.entries()], [['b', 2], ['c', 3]]);
  map.clear();
  assert.equal(map.size, 0);
  const none = new BoundedMap<string, number>(0);
  none.set('a', 1);
  assert.equal(none.size, 0);
});
