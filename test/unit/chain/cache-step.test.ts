// The answer cache (src/chain/cache-step.ts) on its own: what a finished search leaves behind, the
// stale-while-refresh rules, the bound, and the cache step's refresh of aged answers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AnswerCache, CacheStep, cacheKey, ttlFor } from '../../../src/chain/cache-step.js';
import { QueryChain, type Query, type Step } from '../../../src/chain/chain.js';
import { IdentifyStep } from '../../../src/chain/identify-step.js';
import { sha1 } from '../../../src/identity/query.js';
import { DEFAULT_RESOLVER_OPTIONS } from '../../../src/resolver.js';
import type { PeerAddress } from '../../../src/types.js';

const peer = (n: number): PeerAddress => ({ address: `10.201.0.${n}`, port: 4000 + n, family: 4 });

function setup(options: Partial<typeof DEFAULT_RESOLVER_OPTIONS> = {}) {
  let clock = 1_000_000;
  const now = () => clock;
  const cache = new AnswerCache({ ...DEFAULT_RESOLVER_OPTIONS, ...options }, now);
  const refreshed: string[] = [];
  const step = new CacheStep({ cache, refresh: (q: Query) => void refreshed.push(q.route.name) }, now);
  const searched: string[] = [];
  const search: Step = { name: 'DHT search', routes: ['tld'], run: async (q) => (searched.push(q.route.name), { status: 'notfound', addresses: [], ttl: 0 }) };
  const chain = new QueryChain([new IdentifyStep({}, { tld: '.p2p' }), step, search], { tld: '.p2p' });
  return { cache, step, chain, refreshed, searched, advance: (ms: number) => (clock += ms) };
}

test('a search with addresses is kept; without addresses nothing is kept', () => {
  const { cache } = setup();
  cache.settle('a', [peer(1)], 8);
  cache.settle('b', [], 8);
  assert.deepEqual(cache.get('a')?.addresses, [peer(1)]);
  assert.equal(cache.get('b'), undefined);
  assert.equal(cache.size, 1);
});

test('an empty search keeps a stale answer when the DHT was not reached, drops it when the DHT says the name is gone', () => {
  const { cache, advance } = setup();
  cache.settle('a', [peer(1)], 8);
  advance(DEFAULT_RESOLVER_OPTIONS.maxAgeMs);
  cache.settle('a', [], 0);
  assert.ok(cache.get('a'), 'offline: still served');
  assert.ok(cache.get('a')!.retryAt! > 1_000_000 + DEFAULT_RESOLVER_OPTIONS.maxAgeMs, 'and not refreshed again at once');
  cache.settle('a', [], 8);
  assert.equal(cache.get('a'), undefined, 'reached and gone: dropped');
});

test('older than staleMs an answer is gone; the bound drops the least recently used', () => {
  const { cache, advance } = setup({ maxCached: 2 });
  cache.settle('a', [peer(1)], 8);
  cache.settle('b', [peer(2)], 8);
  cache.get('a');
  cache.settle('c', [peer(3)], 8);
  assert.deepEqual(cache.list().map((e) => e.id), ['a', 'c'], 'b was used least recently');
  const g = cache.generation();
  advance(DEFAULT_RESOLVER_OPTIONS.staleMs);
  assert.equal(cache.get('a'), undefined);
  assert.notEqual(cache.generation(), g, 'an expiry is a change');
});

test('the step: a hit answers without a search, fresh as it is, aged with a refresh, stale with 30 s', async () => {
  const { cache, chain, refreshed, searched, advance } = setup();
  cache.settle(cacheKey({ kind: 'plain', name: 'foo', id: sha1('foo') }), [peer(1)], 8);
  const fresh = await chain.resolve('foo.p2p', { timeoutMs: 100 });
  assert.equal(fresh.ttl, ttlFor(0, DEFAULT_RESOLVER_OPTIONS.freshMs));
  assert.deepEqual(refreshed, []);
  advance(DEFAULT_RESOLVER_OPTIONS.freshMs);
  await chain.resolve('foo.p2p', { timeoutMs: 100 });
  assert.deepEqual(refreshed, ['foo.p2p'], 'aged: served, and refreshed in the background');
  advance(DEFAULT_RESOLVER_OPTIONS.maxAgeMs);
  assert.equal((await chain.resolve('foo.p2p', { timeoutMs: 100 })).ttl, 30, 'stale: RFC 8767 TTL');
  assert.deepEqual(searched, [], 'never waited for a search');
  assert.equal((await chain.resolve('bar.p2p', { timeoutMs: 100 })).status, 'notfound');
  assert.deepEqual(searched, ['bar.p2p'], 'a miss goes on to the search');
});
