import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_DNS_RATE_LIMIT, SourceRateLimiter } from '../../../src/util/rate-limit.js';

test('the default DNS rate limit never throttles a loopback forwarder, but does limit remote sources', () => {
  const now = 0;
  const limiter = new SourceRateLimiter(DEFAULT_DNS_RATE_LIMIT, () => now);
  for (const source of ['127.0.0.1', '127.0.0.53', '::1', '::ffff:127.0.0.1']) {
    for (let i = 0; i < DEFAULT_DNS_RATE_LIMIT.burst * 3; i++) assert.equal(limiter.allow(source), true, source);
  }
  let refused = 0;
  for (let i = 0; i < DEFAULT_DNS_RATE_LIMIT.burst * 3; i++) if (!limiter.allow('10.201.0.7')) refused++;
  assert.equal(refused, DEFAULT_DNS_RATE_LIMIT.burst * 2);
  assert.equal(limiter.limited, refused);
});

test('without the exemption loopback is limited like any source', () => {
  const limiter = new SourceRateLimiter({ perSecond: 1, burst: 3, maxSources: 4 }, () => 0);
  assert.deepEqual([1, 2, 3, 4].map(() => limiter.allow('127.0.0.1')), [true, true, true, false]);
});

test('rate limiter: the table of sources is bounded, the least recently heard source goes first', () => {
  let now = 0;
  const limiter = new SourceRateLimiter({ perSecond: 10, burst: 2, maxSources: 4 }, () => now);
  for (let i = 0; i < 1000; i++) limiter.allow(`10.0.${i >> 8}.${i & 255}`);
  assert.equal(limiter.size, 4);
  assert.equal(limiter.allow('a'), true);
  assert.equal(limiter.allow('a'), true);
  assert.equal(limiter.allow('a'), false, 'burst of 2 used up');
  now += 100; // one token back at 10 a second
  assert.equal(limiter.allow('a'), true);
  assert.equal(limiter.allow('a'), false);
  for (const s of ['b', 'c', 'd']) limiter.allow(s);
  limiter.allow('a');
  limiter.allow('e'); // evicts b, the least recently heard
  assert.equal(limiter.size, 4);
  assert.equal(limiter.limited, 3);
});
