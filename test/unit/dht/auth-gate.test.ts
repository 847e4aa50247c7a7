import assert from 'node:assert/strict';
import type { RemoteInfo } from 'node:dgram';
import { test } from 'node:test';
import { AuthGate } from '../../../src/dht/auth-gate.js';
import { createLogger } from '../../../src/log.js';

const from = (address: string, port = 6881): RemoteInfo => ({ address, port, family: address.includes(':') ? 'IPv6' : 'IPv4', size: 0 });

function gate(options = { maxPerSecond: 2, maxTotalPerSecond: 3, maxSources: 8 }) {
  const lines: string[] = [];
  const counters = { handled: 0, dropped: 0, invalid: 0 };
  const clock = { now: 0 };
  const g = new AuthGate('BOB', { counters, log: createLogger('debug', (line) => lines.push(line)), now: () => clock.now }, options);
  return { g, lines, counters, clock };
}

test('auth gate: a source gets maxPerSecond packets a second, all sources maxTotalPerSecond; the rest are dropped', () => {
  const { g, counters, clock } = gate();
  const ok = { kind: 'challenge' };
  assert.deepEqual([1, 2, 3].map(() => g.enter(ok, from('10.201.0.1'), false)), ['10.201.0.1:6881', '10.201.0.1:6881', null]);
  assert.equal(g.enter(ok, from('fd20::2', 53), false), '[fd20::2]:53');
  assert.equal(g.enter(ok, from('10.201.0.3'), false), null, 'the total is spent');
  assert.deepEqual(counters, { handled: 3, dropped: 2, invalid: 0 });
  clock.now += 1000;
  assert.equal(g.enter(ok, from('10.201.0.1'), false), '10.201.0.1:6881', 'a new second, a new budget');
});

test('auth gate: a reply to our own challenge passes free while the budget is spent', () => {
  const { g, counters } = gate({ maxPerSecond: 1, maxTotalPerSecond: 1, maxSources: 8 });
  assert.notEqual(g.enter({ kind: 'challenge' }, from('10.201.0.9'), false), null);
  assert.equal(g.enter({ kind: 'reply' }, from('10.201.0.1'), false), null);
  for (let i = 0; i < 5; i++) assert.equal(g.enter({ kind: 'reply' }, from('10.201.0.1'), true), '10.201.0.1:6881');
  assert.deepEqual(counters, { handled: 6, dropped: 1, invalid: 0 });
});

test('auth gate: an invalid packet is counted and logged with its reason, and not handed on', () => {
  const { g, counters, lines } = gate();
  assert.equal(g.enter({ kind: 'invalid', reason: 'bad length 5' }, from('10.201.0.1'), false), null);
  assert.deepEqual(counters, { handled: 1, dropped: 0, invalid: 1 });
  assert.deepEqual(lines, ['(D) Bad BOB packet from 10.201.0.1:6881: bad length 5']);
});
