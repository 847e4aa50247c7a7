import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { ChallengeTable, type Challenge } from '../../../src/dht/challenge-table.js';
import { silentLogger } from '../../../src/log.js';

type Entry = Challenge<'ok'>;
const OPTIONS = { maxPending: 4, evictAfterSends: 2, maxSends: 4, firstRetryMs: 100, maxRetryMs: 300 };

function table(t: TestContext, limits: number[] = [2]) {
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const sent: string[] = [];
  const counters = { evicted: 0, failed: 0 };
  const ended: string[] = [];
  const challenges = new ChallengeTable<'ok', Entry>({ send: (p, port, address) => sent.push(`${p.toString()}>${address}:${port}`), log: silentLogger, counters }, OPTIONS, limits);
  const start = (key: string, groups: string[]) => {
    const entry = challenges.add({ key, address: '10.201.0.1', port: 6881, groups, packets: [Buffer.from(key)] }, (e) => ended.push(e.key));
    challenges.send(entry);
    return entry;
  };
  return { challenges, sent, counters, ended, start };
}

test('challenge table: resent with back-off (100, 200, 300 ms) until maxSends, then null and counted as failed', async (t) => {
  const { challenges, sent, counters, ended, start } = table(t);
  const entry = start('a', ['g']);
  assert.equal(challenges.running('a'), entry.result, 'a second verify shares the first one');
  for (const [ms, sends] of [[99, 1], [1, 2], [199, 2], [1, 3], [300, 4]] as const) {
    t.mock.timers.tick(ms);
    assert.equal(sent.length, sends, `after ${ms} ms more`);
  }
  t.mock.timers.tick(300);
  assert.equal(await entry.result, null);
  assert.deepEqual([counters.failed, challenges.size, ended], [1, 0, ['a']]);
  assert.equal(challenges.running('a'), undefined);
});

test('challenge table: a settled challenge is not sent again and ends once', async (t) => {
  const { challenges, sent, ended, start } = table(t);
  const entry = start('a', ['g']);
  challenges.settle(entry, 'ok');
  challenges.settle(entry, null);
  challenges.send(entry);
  t.mock.timers.tick(10_000);
  assert.equal(await entry.result, 'ok');
  assert.deepEqual([sent.length, ended], [1, ['a']]);
});

test('challenge table: a full group refuses until its oldest went unanswered evictAfterSends times, then that one gives way', async (t) => {
  const { challenges, counters, start } = table(t, [2]);
  const first = start('a', ['g']);
  start('b', ['g']);
  assert.equal(challenges.makeRoom(['g']), false, 'both sent once only: none gives way yet');
  assert.equal(challenges.makeRoom(['other']), true, 'another group has room');
  t.mock.timers.tick(100);
  assert.equal(challenges.makeRoom(['g']), true);
  assert.equal(await first.result, null, 'the oldest gave way');
  assert.deepEqual([counters.evicted, challenges.size], [1, 1]);
});

test('challenge table: each limit counts its own group, and maxPending bounds the whole table', (t) => {
  const { challenges, counters, start } = table(t, [1, 3]);
  start('a', ['ip1', 'key']);
  assert.equal(challenges.makeRoom(['ip1', 'key']), false, 'first limit: one per ip');
  start('b', ['ip2', 'key']);
  start('c', ['ip3', 'key']);
  assert.equal(challenges.makeRoom(['ip4', 'key']), false, 'second limit: three per key');
  start('d', ['ip4', 'key2']);
  assert.equal(challenges.makeRoom(['ip5', 'key3']), false, 'maxPending 4');
  t.mock.timers.tick(100);
  assert.equal(challenges.makeRoom(['ip5', 'key3']), true);
  assert.equal(counters.evicted, 1);
  challenges.stop();
  assert.equal(challenges.size, 0);
});
