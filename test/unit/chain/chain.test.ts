// The query chain engine (src/chain/chain.ts): steps run in list order, only those of the query's route,
// each answers or passes on; the standard list of src/resolver.ts in its one order.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QueryChain, type RouteKind, type Step } from '../../../src/chain/chain.js';
import { IdentifyStep } from '../../../src/chain/identify-step.js';
import { OwnValuesStep } from '../../../src/chain/own-step.js';
import { UpstreamStep } from '../../../src/chain/upstream-step.js';
import { encodeZ32Key } from '../../../src/identity/keys.js';
import { sha1 } from '../../../src/identity/query.js';
import { silentLogger } from '../../../src/log.js';
import { PkarrHook } from '../../../src/pkarr/hook.js';
import { DEFAULT_RESOLVER_OPTIONS, Resolver } from '../../../src/resolver.js';
import type { Resolution } from '../../../src/types.js';
import { ScriptedSearcher } from '../../helpers/scripted-searcher.js';

const Z32 = encodeZ32Key(Buffer.alloc(32, 7));
const found = (port: number): Resolution => ({ status: 'found', addresses: [{ address: '192.0.2.1', port, family: 4 }], ttl: 9 });

/** A step that records its visits and answers only names starting with `answers`. */
function recorder(name: string, routes: RouteKind[], seen: string[], answers?: string): Step {
  return {
    name,
    routes,
    run: async (query, next) => {
      seen.push(name);
      return answers !== undefined && query.route.name.startsWith(answers) ? found(seen.length) : next(query);
    },
  };
}

test('steps run in list order, only those of the route; the first that answers ends the chain', async () => {
  const seen: string[] = [];
  const chain = new QueryChain(
    [
      recorder('keys', ['pkarr'], seen, 'none'),
      recorder('a', ['pkarr', 'tld'], seen, 'stop-at-a'),
      recorder('b', ['tld'], seen, 'stop-at-b'),
      recorder('up', ['upstream'], seen, ''),
    ],
    { tld: '.p2p', upstream: { host: '127.0.0.1', port: 53 } },
  );
  const ask = async (name: string, scope: 'dns' | 'any') => {
    seen.length = 0;
    const r = await chain.run({ route: chain.route(name, scope), timeoutMs: 100 });
    return [r.status, [...seen]];
  };
  assert.deepEqual(await ask('stop-at-a.p2p', 'dns'), ['found', ['a']]);
  assert.deepEqual(await ask('stop-at-b.p2p', 'dns'), ['found', ['a', 'b']]);
  assert.deepEqual(await ask('nobody.p2p', 'dns'), ['notfound', ['a', 'b']], 'past the last step: not found');
  assert.deepEqual(await ask(Z32, 'dns'), ['notfound', ['keys', 'a']]);
  assert.deepEqual(await ask('example.com', 'dns'), ['found', ['up']]);
  assert.deepEqual(await ask('example.com', 'any'), ['notfound', ['a', 'b']], 'commands look any name up');
  assert.equal(chain.upstream?.port, 53);
});

test('a refused route runs no step; without an upstream step nothing is routed upstream', async () => {
  const seen: string[] = [];
  const chain = new QueryChain([recorder('a', ['pkarr', 'tld', 'upstream', 'refuse'], seen, '')], { tld: '.p2p', upstream: { host: '127.0.0.1', port: 53 } });
  const route = chain.route('example.com', 'dns');
  assert.equal(route.kind, 'upstream', 'this step serves the upstream route');
  const plain = new QueryChain([recorder('a', ['pkarr', 'tld'], seen, '')], { tld: '.p2p', upstream: { host: '127.0.0.1', port: 53 } });
  const refused = plain.route('example.com', 'dns');
  assert.equal(refused.kind, 'refuse');
  assert.equal(plain.upstream, null, 'no upstream step, no upstream');
  assert.equal((await plain.run({ route: refused, timeoutMs: 100 })).status, 'invalid');
  assert.deepEqual(seen, []);
});

test('generation() adds up the steps that count changes; stop() reaches every step', () => {
  let a = 1;
  let stopped = 0;
  const counting: Step = { name: 'a', routes: ['tld'], run: (q, next) => next(q), generation: () => a, stop: () => void stopped++ };
  const plain: Step = { name: 'b', routes: ['tld'], run: (q, next) => next(q), stop: () => void stopped++ };
  const chain = new QueryChain([counting, plain], { tld: '.p2p' });
  assert.equal(chain.countsChanges, true);
  const g = chain.generation();
  a++;
  assert.notEqual(chain.generation(), g);
  chain.stop();
  assert.equal(stopped, 2);
  assert.equal(new QueryChain([plain], { tld: '.p2p' }).countsChanges, false, 'no counting step: the DNS packet cache stays off');
});

test('identify and own values: an invalid name ends at identify, an own name answers with loopback', async () => {
  const own = new OwnValuesStep({ own: { portFor: (id) => (id.equals(sha1('mine')) ? 4711 : undefined) } });
  const chain = new QueryChain([new IdentifyStep({}, { tld: '.p2p' }), own], { tld: '.p2p' });
  const invalid = await chain.resolve('.p2p', { timeoutMs: 100 });
  assert.equal(invalid.status, 'invalid');
  assert.equal(invalid.reason, 'empty name');
  const mine = await chain.resolve('Mine.p2p', { timeoutMs: 100 });
  assert.deepEqual(mine.addresses.map((a) => `${a.address}:${a.port}`), ['127.0.0.1:4711', '::1:4711']);
  assert.equal((await chain.resolve('other.p2p', { timeoutMs: 100 })).status, 'notfound');
});

test('the upstream step passes a query without a DNS message on', async () => {
  const upstream = new UpstreamStep({ log: silentLogger }, { upstream: { host: '127.0.0.1', port: 9 }, timeoutMs: 100 });
  const chain = new QueryChain([upstream], { tld: '.p2p', upstream: upstream.upstream });
  const r = await chain.run({ route: chain.route('example.com', 'dns'), timeoutMs: 100 });
  assert.equal(r.status, 'notfound');
  assert.equal(r.forwarded, undefined);
  assert.equal(upstream.forwarder.inFlight, 0, 'nothing was forwarded');
  chain.stop();
});

test('the Resolver puts the steps in their one order: pkarr, identify, own values, cache, DHT search, upstream', () => {
  const dht = new ScriptedSearcher();
  const pkarr = new PkarrHook({ dht: { getMutable: async () => undefined }, log: silentLogger });
  const upstream = new UpstreamStep({ log: silentLogger }, { upstream: { host: '127.0.0.1', port: 9 }, timeoutMs: 100 });
  const full = new Resolver({ dht, own: { portFor: () => undefined }, log: silentLogger, pkarr, upstream }, { ...DEFAULT_RESOLVER_OPTIONS, tld: '.p2p' });
  assert.deepEqual(full.steps.map((s) => s.name), ['pkarr', 'identify', 'own values', 'cache', 'DHT search', 'upstream']);
  assert.equal(full.upstream?.port, 9);
  assert.equal(full.route('example.com', 'dns').kind, 'upstream');
  const plain = new Resolver({ dht, own: { portFor: () => undefined }, log: silentLogger }, { ...DEFAULT_RESOLVER_OPTIONS, tld: '.p2p' });
  assert.deepEqual(plain.steps.map((s) => s.name), ['identify', 'own values', 'cache', 'DHT search']);
  assert.equal(plain.route('example.com', 'dns').kind, 'refuse');
  full.stop();
  plain.stop();
});
