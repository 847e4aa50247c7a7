import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Tally } from '../../../src/util/tally.js';

test('a tally forgets a key at zero', () => {
  const t = new Tally();
  t.add('x', 2);
  t.add('x', -1);
  assert.equal(t.count('x'), 1);
  t.add('x', -1);
  assert.equal(t.has('x'), false);
  assert.equal(t.count('y'), 0);
});
