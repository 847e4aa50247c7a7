// The optimizing compiler comes back only when the daemon works, and never against node's own flags.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OptimizerSwitch } from '../../../src/cli/optimizer.js';

/** A switch over a CPU clock the test advances; `flags` records what it asked V8. */
function harness(nodeFlags: string[] = []) {
  let cpuUs = 0;
  const flags: string[] = [];
  const sw = new OptimizerSwitch({ cpuUsage: () => ({ user: cpuUs, system: 0 }), setFlags: (f) => flags.push(f), nodeFlags }, { busyShare: 0.1, busyChecks: 2, checkMs: 1000 });
  sw.start();
  /** one second with `ms` of CPU used */
  const second = (ms: number) => {
    cpuUs += ms * 1000;
    sw.check(1000);
  };
  return { sw, flags, second };
}

test('idle, or one busy second at a time: the optimizer stays off', (t) => {
  const h = harness();
  t.after(() => h.sw.stop());
  for (let i = 0; i < 60; i++) h.second(i % 2 ? 500 : 1);
  h.second(99);
  h.second(99);
  assert.deepEqual(h.flags, []);
  assert.equal(h.sw.enabled, false);
});

test('two busy seconds in a row turn it on, once', (t) => {
  const h = harness();
  t.after(() => h.sw.stop());
  h.second(2);
  h.second(100);
  assert.deepEqual(h.flags, []);
  h.second(400);
  assert.deepEqual(h.flags, ['--opt']);
  for (let i = 0; i < 5; i++) h.second(1000);
  assert.deepEqual(h.flags, ['--opt'], 'never asked again');
});

test('node started with --no-opt, --jitless or --lite-mode: never turned on', (t) => {
  for (const flag of ['--no-opt', '--jitless', '--lite-mode']) {
    const h = harness(['--max-old-space-size=64', flag]);
    t.after(() => h.sw.stop());
    for (let i = 0; i < 5; i++) h.second(1000);
    assert.deepEqual(h.flags, [], flag);
  }
});
