// The pkarr hook (src/pkarr/hook.ts) through the resolver's pkarr step (src/chain/pkarr-step.ts) with a
// scripted DHT, the DNS answers built from a packet's records (src/surfaces/dns-message.ts), and the
// hook's bounds. The names of keys: names.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import dnsPacket from 'dns-packet';
import type { Answer } from 'dns-packet';
import sodium from 'sodium-native';
import type { MutableItem } from '../../../src/dht/item-store.js';
import { ScriptedSearcher } from '../../helpers/scripted-searcher.js';
import { encodeZ32Key } from '../../../src/identity/keys.js';
import { silentLogger } from '../../../src/log.js';
import { DEFAULT_PKARR_OPTIONS, PkarrHook, type ItemSource } from '../../../src/pkarr/hook.js';
import { checkItem, encodeDnsPacket, signPacket } from '../../../src/pkarr/packet.js';
import { DEFAULT_RESOLVER_OPTIONS, Resolver } from '../../../src/resolver.js';
import { buildResponse, parseQuery, type DnsQuery } from '../../../src/surfaces/dns-message.js';
import type { PeerAddress } from '../../../src/types.js';

const pk = Buffer.alloc(32);
const sk = Buffer.alloc(64);
sodium.crypto_sign_seed_keypair(pk, sk, Buffer.alloc(32, 7));
const Z32 = encodeZ32Key(pk);

function packet(seq: number, records: Answer[]): MutableItem {
  const s = signPacket(sk, encodeDnsPacket(records), seq);
  return { k: s.publicKey, seq, sig: s.signature, v: s.v };
}

const ZONE: Answer[] = [
  { type: 'TXT', name: Z32, ttl: 300, class: 'IN', data: ['apex'] },
  { type: 'A', name: Z32, ttl: 300, class: 'IN', data: '192.0.2.1' },
  { type: 'A', name: `foo.${Z32}`, ttl: 5, class: 'IN', data: '192.0.2.2' },
  { type: 'AAAA', name: `foo.${Z32}`, ttl: 10_000_000, class: 'IN', data: '2001:db8::2' },
  { type: 'CNAME', name: `www.${Z32}`, ttl: 300, class: 'IN', data: `foo.${Z32}` },
  { type: 'SRV', name: `_x._tcp.${Z32}`, ttl: 300, class: 'IN', data: { priority: 1, weight: 2, port: 3, target: `foo.${Z32}` } },
  { type: 'A', name: 'example.com', ttl: 300, class: 'IN', data: '203.0.113.66' },
];

/** A DHT whose gets are answered by the test. */
class ScriptedItems implements ItemSource {
  gets: { target: string; emit: (i: MutableItem) => void; finish: () => void }[] = [];
  getMutable(target: Buffer, onItem: (i: MutableItem) => void, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      this.gets.push({ target: target.toString('hex'), emit: onItem, finish: resolve });
      signal.addEventListener('abort', () => resolve());
    });
  }
}


function setup() {
  let clock = 1_000_000;
  const items = new ScriptedItems();
  const dht = new ScriptedSearcher();
  const hook = new PkarrHook({ dht: items, log: silentLogger }, { ...DEFAULT_PKARR_OPTIONS, settleMs: 5 }, () => clock);
  const verifier = { verify: async () => 'bound' as const };
  const resolver = new Resolver({ dht, own: { portFor: () => undefined }, log: silentLogger, verifier, pkarr: hook }, { ...DEFAULT_RESOLVER_OPTIONS, tld: '.p2p' }, () => clock);
  return { items, dht, hook, resolver, advance: (ms: number) => (clock += ms) };
}

const tick = () => new Promise((r) => setTimeout(r, 20));

test('a packet from the DHT answers every name of the key, TTLs clamped to 30 s .. 1 day', async () => {
  const { items, hook, resolver } = setup();
  assert.equal(hook.clampTtl(5), 30);
  assert.equal(hook.clampTtl(10_000_000), 86_400);
  const pending = resolver.resolve(`foo.${Z32}.p2p`, { timeoutMs: 1000 });
  await tick();
  assert.equal(items.gets.length, 1);
  items.gets[0]!.emit(packet(100, ZONE));
  const r = await pending;
  assert.equal(r.status, 'found');
  // the packet is cached until its smallest (clamped) TTL ends, and no record outlives it
  assert.deepEqual(r.records?.map((a) => [a.name, a.type, (a as { ttl: number }).ttl]), [
    [`foo.${Z32}.p2p`, 'A', 30],
    [`foo.${Z32}.p2p`, 'AAAA', 30],
  ]);
  assert.deepEqual(r.addresses, [
    { address: '192.0.2.2', port: 0, family: 4 },
    { address: '2001:db8::2', port: 0, family: 6 },
  ]);
  assert.equal(r.ttl, 30);
  // cached: no further get for other names of the key, with or without the TLD
  const apex = await resolver.resolve(Z32, { timeoutMs: 1000 });
  assert.deepEqual(apex.records?.map((a) => [a.name, a.type]), [[Z32, 'TXT'], [Z32, 'A']]);
  const www = await resolver.resolve(`www.${Z32}.p2p`, { timeoutMs: 1000 });
  assert.deepEqual(www.records?.map((a) => [a.name, a.type]), [
    [`www.${Z32}.p2p`, 'CNAME'],
    [`foo.${Z32}.p2p`, 'A'],
    [`foo.${Z32}.p2p`, 'AAAA'],
  ]);
  assert.equal((www.records?.[0] as { data: string }).data, `foo.${Z32}.p2p`, 'the CNAME target moves under the TLD too');
  const missing = await resolver.resolve(`bar.${Z32}.p2p`, { timeoutMs: 1000 });
  assert.equal(missing.status, 'notfound');
  // a name outside the key in the packet is never answered, not even through the packet
  const foreign = await resolver.resolve(`example.com.${Z32}`, { timeoutMs: 1000 });
  assert.equal(foreign.status, 'notfound');
  assert.equal(items.gets.length, 1);
});

test('the newest seq wins; older and forged items are ignored', async () => {
  const { items, dht, hook, resolver, advance } = setup();
  const first = resolver.resolve(Z32, { timeoutMs: 1000 });
  await tick();
  const forged = packet(500, [{ type: 'TXT', name: Z32, ttl: 300, class: 'IN', data: ['forged'] }]);
  forged.sig = Buffer.from(forged.sig);
  forged.sig[5]! ^= 1;
  items.gets[0]!.emit(forged);
  items.gets[0]!.emit(packet(100, [{ type: 'TXT', name: Z32, ttl: 300, class: 'IN', data: ['old'] }]));
  items.gets[0]!.emit(packet(200, [{ type: 'TXT', name: Z32, ttl: 300, class: 'IN', data: ['new'] }]));
  items.gets[0]!.emit(packet(150, [{ type: 'TXT', name: Z32, ttl: 300, class: 'IN', data: ['middle'] }]));
  const r = await first;
  assert.equal(String((r.records?.[0] as { data: Buffer[] }).data[0]), 'new');
  assert.equal(hook.newestSeq(pk), 200);
  items.gets[0]!.finish();
  await tick();
  // after the cache ran out (TTL 300), an older packet from the DHT is not taken
  advance(301_000);
  const second = resolver.resolve(Z32, { timeoutMs: 1000 });
  await tick();
  items.gets[1]!.emit(packet(100, [{ type: 'TXT', name: Z32, ttl: 300, class: 'IN', data: ['old'] }]));
  items.gets[1]!.finish();
  // no packet taken: the key falls back to its AUTH announcements, of which there are none
  await tick();
  dht.calls.at(-1)?.finish();
  assert.equal((await second).status, 'notfound');
});

test('one key, two ways: without a packet, the AUTH-verified address of the key answers', async () => {
  const { items, dht, resolver } = setup();
  const pending = resolver.resolve(`${Z32}.p2p`, { timeoutMs: 1000, family: 4 });
  await tick();
  assert.equal(items.gets.length, 1, 'the packet is asked for');
  assert.equal(dht.calls.length, 1, 'and at the same time the announcements');
  dht.calls[0]!.emit({ address: '10.201.0.2', port: 6881, family: 4 });
  await tick();
  items.gets[0]!.finish(); // no packet on the DHT
  const r = await pending;
  assert.equal(r.status, 'found');
  assert.equal(r.records, undefined);
  assert.deepEqual(r.addresses, [{ address: '10.201.0.2', port: 6881, family: 4, auth: 'bound' }]);
  // names below the key exist only in a packet
  const sub = await resolver.resolve(`foo.${Z32}.p2p`, { timeoutMs: 1000 });
  assert.equal(sub.status, 'notfound');
});

function query(name: string, type: string): DnsQuery {
  const parsed = parseQuery(dnsPacket.encode({ type: 'query', id: 7, questions: [{ name, type: type as 'A' }] }));
  assert.equal(parsed.kind, 'query');
  return parsed as DnsQuery;
}

test('DNS answers from records: the asked type after its CNAMEs, SRV targets as additionals, others NODATA', async () => {
  const { items, resolver } = setup();
  const pending = resolver.resolve(`www.${Z32}.p2p`, { timeoutMs: 1000 });
  await tick();
  items.gets[0]!.emit(packet(1, ZONE));
  const www = await pending;
  const answer = (name: string, type: string, records: Answer[] | undefined) =>
    dnsPacket.decode(buildResponse(query(name, type), 'NOERROR', { maxSize: 65535, records, zone: `${Z32}.p2p` }));
  const a = answer(`WWW.${Z32}.p2p`, 'A', www.records);
  assert.deepEqual(a.answers?.map((x) => [x.name, x.type, (x as { data: unknown }).data]), [
    [`WWW.${Z32}.p2p`, 'CNAME', `foo.${Z32}.p2p`],
    [`foo.${Z32}.p2p`, 'A', '192.0.2.2'],
  ]);
  const cname = answer(`www.${Z32}.p2p`, 'CNAME', www.records);
  assert.deepEqual(cname.answers?.map((x) => x.type), ['CNAME']);
  const srv = await resolver.resolve(`_x._tcp.${Z32}.p2p`, { timeoutMs: 1000 });
  const s = answer(`_x._tcp.${Z32}.p2p`, 'SRV', srv.records);
  assert.deepEqual(s.answers?.map((x) => x.type), ['SRV']);
  assert.deepEqual(s.additionals?.map((x) => [x.name, x.type]), [[`foo.${Z32}.p2p`, 'A'], [`foo.${Z32}.p2p`, 'AAAA']]);
  const mx = answer(`www.${Z32}.p2p`, 'MX', www.records);
  assert.equal(mx.answers?.length, 1, 'only the CNAME');
  const txt = answer(`_x._tcp.${Z32}.p2p`, 'TXT', srv.records);
  assert.equal(txt.answers?.length, 0);
  assert.equal(txt.authorities?.[0]?.type, 'SOA');
  assert.equal(txt.authorities?.[0]?.name, `${Z32}.p2p`);
});

// ---------------------------------------------------------------- bounds: cached packets, lookups at once

test('PKARR: at most 1024 packets cached (least recently used go first), 64 lookups at once (beyond: busy)', async () => {
  const never: ItemSource = { getMutable: (_t, _on, signal) => new Promise<void>((r) => signal.addEventListener('abort', () => r())) };
  const hook = new PkarrHook({ dht: never, log: silentLogger }, DEFAULT_PKARR_OPTIONS);
  const keys: Buffer[] = [];
  for (let i = 0; i < 1030; i++) {
    const pk = Buffer.alloc(32);
    const sk = Buffer.alloc(64);
    sodium.crypto_sign_keypair(pk, sk);
    keys.push(pk);
    const s = signPacket(sk, encodeDnsPacket([{ type: 'A', name: '.', ttl: 300, class: 'IN', data: '192.0.2.1' }]), 1);
    hook.accept(checkItem({ k: s.publicKey, seq: 1, sig: s.signature, v: s.v }));
  }
  assert.equal(hook.stats().cached, 1024);
  assert.equal(hook.cached(keys[0]!), undefined, 'the oldest went first');
  assert.ok(hook.cached(keys[1029]!));
  const unknown = Array.from({ length: 65 }, () => {
    const pk = Buffer.alloc(32);
    sodium.randombytes_buf(pk);
    return pk;
  });
  const results = unknown.map((pk) => hook.lookup(pk, 200));
  assert.equal(hook.stats().lookups, 64);
  assert.deepEqual(await results[64], { status: 'busy' });
  assert.deepEqual(await results[0], { status: 'timeout' });
  hook.stop();
});
