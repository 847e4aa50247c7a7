// The search step's walk after the answer (src/chain/search-step.ts): a walk goes on walkAfterAnswerMs
// after its first address, for other announcers, and then ends, so its queries stop holding the DHT's
// slots; not while someone still waits for an address of the other family.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { silentLogger } from '../../../src/log.js';
import { DEFAULT_RESOLVER_OPTIONS, Resolver } from '../../../src/resolver.js';
import type { PeerAddress } from '../../../src/types.js';
import { ScriptedSearcher } from '../../helpers/scripted-searcher.js';

const TAIL_MS = 50;
const v4: PeerAddress = { address: '10.201.0.1', port: 4001, family: 4 };
const v4b: PeerAddress = { address: '10.201.0.2', port: 4002, family: 4 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function setup() {
  const dht = new ScriptedSearcher();
  const resolver = new Resolver({ dht, own: { portFor: () => undefined }, log: silentLogger }, { ...DEFAULT_RESOLVER_OPTIONS, walkAfterAnswerMs: TAIL_MS, tld: '.p2p' });
  return { dht, resolver };
}

test('a walk ends walkAfterAnswerMs after its first address, keeping what it found until then', async () => {
  const { dht, resolver } = setup();
  const asked = resolver.resolve('tail.p2p', { timeoutMs: 5000, family: 4 });
  dht.calls[0]!.agree(v4);
  assert.deepEqual((await asked).addresses, [v4]);
  assert.equal(dht.calls[0]!.signal.aborted, false, 'the walk goes on after the answer');
  dht.calls[0]!.agree(v4b); // another announcer, reported in time
  await sleep(TAIL_MS * 3);
  assert.equal(dht.calls[0]!.signal.aborted, true, 'ended, not left to run for seconds');
  const cached = await resolver.resolve('tail.p2p', { timeoutMs: 100, family: 4 });
  assert.deepEqual(cached.addresses, [v4, v4b], 'both announcers are cached');
  assert.equal(dht.calls.length, 1, 'answered from the cache');
  resolver.stop();
});

test('a walk that someone still waits on (AAAA, with only IPv4 found so far) goes on until that query has its answer', async () => {
  const { dht, resolver } = setup();
  const a = resolver.resolve('both.p2p', { timeoutMs: 5000, family: 4 });
  const aaaa = resolver.resolve('both.p2p', { timeoutMs: 5000, family: 6 });
  dht.calls[0]!.agree(v4);
  assert.equal((await a).status, 'found');
  await sleep(TAIL_MS * 3);
  assert.equal(dht.calls[0]!.signal.aborted, false, 'the AAAA query still waits');
  const v6: PeerAddress = { address: 'fd20::1', port: 4001, family: 6 };
  dht.calls[0]!.agree(v6);
  assert.deepEqual((await aaaa).addresses.map((p) => p.family), [4, 6]);
  await sleep(TAIL_MS * 3);
  assert.equal(dht.calls[0]!.signal.aborted, true, 'then it ends');
  resolver.stop();
});
