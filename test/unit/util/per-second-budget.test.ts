import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PerSecondBudget } from '../../../src/util/per-second-budget.js';

test('per source, in all and per counted source, renewed every second', () => {
  let clock = 10_000;
  const budget = new PerSecondBudget({ maxPerSecond: 2, maxTotalPerSecond: 5, maxSources: 3 }, () => clock);
  const take = (source: string, n: number) => Array.from({ length: n }, () => budget.admit(source)).filter(Boolean).length;
  assert.equal(take('a', 10), 2, 'one source gets its share only');
  assert.equal(take('b', 10), 2);
  assert.equal(take('c', 10), 1, 'the total is spent');
  clock += 1000;
  assert.equal(take('d', 1) + take('e', 1) + take('f', 1), 3);
  assert.equal(take('g', 1), 0, 'no more sources counted this second');
  clock += 1000;
  assert.equal(take('g', 1), 1, 'a new second');
});
