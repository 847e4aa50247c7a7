// QueryStats: what it reads from DNS answers agrees with a real decoder, and every table that grows with
// what clients send stays bounded (names, recent queries, minutes, metric label values).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { ANSWER_BUCKETS_S, describeAnswer, ObservedChain, QueryStats, TopNames, typeLabel } from '../../../src/surfaces/query-stats.js';
import { QueryChain, type Step } from '../../../src/chain/chain.js';
import type { Resolution } from '../../../src/types.js';

const answer = (name: string, type: string, rcode: number, answers = 0): Buffer =>
  dnsPacket.encode({
    type: 'response',
    id: 7,
    flags: rcode,
    questions: [{ type: type as 'A', name }],
    answers: Array.from({ length: answers }, () => ({ type: 'A' as const, name, ttl: 5, data: '10.201.0.1' })),
  });

test('describeAnswer reads name, type, rcode and answer count as dns-packet does', () => {
  assert.deepEqual(describeAnswer(answer('Foo.P2P', 'A', 0, 2)), { name: 'foo.p2p', type: 'A', rcode: 'NOERROR', answers: 2 });
  assert.deepEqual(describeAnswer(answer('x.p2p', 'AAAA', 3)), { name: 'x.p2p', type: 'AAAA', rcode: 'NXDOMAIN', answers: 0 });
  assert.deepEqual(describeAnswer(answer('x.p2p', 'TXT', 2)), { name: 'x.p2p', type: 'TXT', rcode: 'SERVFAIL', answers: 0 });
  fc.assert(
    fc.property(fc.array(fc.stringMatching(/^[a-z0-9-]{1,20}$/), { minLength: 1, maxLength: 5 }), fc.constantFrom('A', 'AAAA', 'SRV', 'TXT', 'MX'), fc.integer({ min: 0, max: 5 }), (labels, type, rcode) => {
      const msg = answer(labels.join('.'), type, rcode);
      const decoded = dnsPacket.decode(msg);
      const info = describeAnswer(msg)!;
      assert.equal(info.name, decoded.questions![0]!.name);
      assert.equal(info.type, decoded.questions![0]!.type);
      assert.equal(info.rcode, (decoded as { rcode?: string }).rcode);
    }),
  );
});

test('describeAnswer never throws: truncated and random bytes give null or a bounded printable name', () => {
  const full = answer('abc.p2p', 'A', 0);
  for (let n = 0; n < full.length; n++) assert.doesNotThrow(() => describeAnswer(full.subarray(0, n)));
  assert.equal(describeAnswer(full.subarray(0, 16)), null);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
      const info = describeAnswer(Buffer.from(bytes));
      if (info) assert.match(info.name, /^[\x21-\x7e]*$/);
      if (info) assert.ok(info.name.length <= 4 * 255);
    }),
  );
  // markup and control bytes in a label come out as text: dots and backslashes escaped, bytes as \DDD
  const odd = Buffer.concat([full.subarray(0, 12), Buffer.from([6, 0x3c, 0x62, 0x2e, 0x5c, 0x00, 0x0a, 0]), Buffer.from([0, 1, 0, 1])]);
  odd.writeUInt16BE(1, 4);
  odd.writeUInt16BE(0, 6);
  assert.equal(describeAnswer(odd)?.name, '<b\\046\\092\\000\\010');
});

test('TopNames keeps at most its bound; a flood of new names keeps the names asked often', () => {
  const names = new TopNames(1000);
  for (let i = 0; i < 50; i++) names.add('popular.p2p');
  for (let i = 0; i < 20_000; i++) {
    names.add(`flood-${i}.p2p`);
    assert.ok(names.size <= 1000);
  }
  assert.deepEqual(names.top(1), [{ name: 'popular.p2p', count: 50 }]);
});

test('QueryStats: recent queries are a ring of 100, newest first; names are cut at 255 characters', () => {
  const stats = new QueryStats();
  for (let i = 0; i < 250; i++) stats.record('udp', `n${i}.p2p`, 'A', 'NXDOMAIN', 0, 1);
  const recent = stats.recent();
  assert.equal(recent.length, 100);
  assert.equal(recent[0]!.name, 'n249.p2p');
  assert.equal(recent[99]!.name, 'n150.p2p');
  stats.record('command', 'x'.repeat(2000), 'ADDR', 'NXDOMAIN', 0, 1);
  assert.equal(stats.recent()[0]!.name.length, 255);
});

test('QueryStats: metric label values stay few however many query types clients send', () => {
  const stats = new QueryStats();
  for (let type = 0; type < 65536; type += 7) stats.onAnswer('udp', answer('a.p2p', `TYPE${type}`, type % 16), performance.now());
  const types = new Set(stats.counts().map((c) => c.type));
  const rcodes = new Set(stats.counts().map((c) => c.rcode));
  assert.ok(types.size <= 18, [...types].join(' '));
  assert.ok(rcodes.size <= 16, [...rcodes].join(' '));
  assert.equal(typeLabel('TYPE65280'), 'other');
  assert.equal(typeLabel('AAAA'), 'AAAA');
});

test('QueryStats: outcomes per minute for the last hour; answer times in their buckets', () => {
  let now = Date.UTC(2026, 0, 1, 12, 0, 30);
  const stats = new QueryStats({}, () => now);
  stats.record('udp', 'a.p2p', 'A', 'NOERROR', 1, 0.3);
  stats.record('udp', 'b.p2p', 'A', 'NXDOMAIN', 0, 7);
  now += 60_000;
  stats.record('tcp', 'c.p2p', 'A', 'SERVFAIL', 0, 20_000);
  stats.record('https', 'd.p2p', 'A', 'REFUSED', 0, 1);
  now += 3 * 60_000;
  const minutes = stats.perMinute();
  assert.equal(minutes.length, 60);
  assert.deepEqual(minutes.slice(-5).map((m) => [m.success, m.nxdomain, m.servfail, m.other]), [[1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]);
  assert.equal(minutes.at(-1)!.at % 60_000, 0);
  // an hour later the old minutes are gone
  now += 60 * 60_000;
  assert.ok(stats.perMinute().every((m) => m.success + m.nxdomain + m.servfail + m.other === 0));

  const udp = stats.histogram('udp');
  assert.equal(udp.counts.length, ANSWER_BUCKETS_S.length + 1);
  assert.equal(udp.counts[0], 1); // 0.3 ms ≤ 0.5 ms
  assert.equal(udp.counts[ANSWER_BUCKETS_S.indexOf(0.01)], 1); // 7 ms ≤ 10 ms
  assert.equal(stats.histogram('tcp').counts.at(-1), 1); // 20 s > 10 s
  assert.equal(stats.histogram().count, 4);
});

test('ObservedChain counts lookups by source and outcome, lists non-DNS ones, not forwarded queries, keeps generation()', async () => {
  const stats = new QueryStats();
  const results: Resolution[] = [
    { status: 'found', addresses: [{ address: '10.201.0.1', port: 80, family: 4 }], ttl: 5 },
    { status: 'notfound', addresses: [], ttl: 0 },
    { status: 'timeout', addresses: [], ttl: 0 },
  ];
  const names: Step = { name: 'canned', routes: ['pkarr', 'tld'], run: async () => results.shift()!, generation: () => 42 };
  const forwarded: Step = { name: 'upstream', routes: ['upstream'], run: async () => ({ status: 'found', addresses: [], ttl: 0, forwarded: Buffer.alloc(12) }) };
  const chain = new QueryChain([names, forwarded], { tld: '.p2p', upstream: { host: '127.0.0.1', port: 53 } });
  const command = new ObservedChain(chain, stats, 'command');
  const dns = new ObservedChain(chain, stats, 'dns');
  await command.resolve('Found.P2P', { timeoutMs: 100 });
  await command.resolve('gone.p2p', { timeoutMs: 100, family: 6 });
  await dns.run({ route: dns.route('slow.p2p', 'dns'), timeoutMs: 100 });
  const upstream = await dns.run({ route: dns.route('www.example.com', 'dns'), timeoutMs: 100 });
  assert.ok(upstream.forwarded, 'forwarded through the observer');
  assert.equal(dns.generation(), 42);
  assert.equal(dns.countsChanges, true);
  assert.deepEqual(
    stats.lookups().sort((a, b) => a.status.localeCompare(b.status)),
    [{ source: 'command', status: 'found', count: 1 }, { source: 'command', status: 'notfound', count: 1 }, { source: 'dns', status: 'timeout', count: 1 }],
  );
  // DNS lookups are listed by the DNS surface's own observer, with the real rcode: not twice
  assert.deepEqual(stats.recent().map((r) => [r.transport, r.name, r.type, r.rcode, r.answers]), [['command', 'gone.p2p', 'AAAA', 'NXDOMAIN', 0], ['command', 'found.p2p', 'ADDR', 'NOERROR', 1]]);
});
