// Telemetry: the routing table as buckets, the hints that UDP looks blocked or filtered, and a snapshot
// of real modules: two DHT nodes on loopback whose KRPC traffic (queries sent, replies, queries
// received), reply ratio and routing table show up as they talk; the minute samples stay bounded.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { Announcer, DEFAULT_ANNOUNCER_OPTIONS } from '../../src/dht/announcer.js';
import { AuthModule } from '../../src/dht/auth.js';
import { DhtGroup } from '../../src/dht/group.js';
import { DhtNode } from '../../src/dht/node.js';
import { KeyRing } from '../../src/identity/patterns.js';
import { silentLogger } from '../../src/log.js';
import { PkarrHook } from '../../src/pkarr/hook.js';
import { DEFAULT_RESOLVER_OPTIONS, Resolver } from '../../src/resolver.js';
import { bucketsOf, commonPrefixBits, Telemetry, udpWarnings } from '../../src/telemetry.js';

const storage = { maxAgeMs: 60_000, maxTotal: 100, maxPerId: 10 };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('commonPrefixBits and bucketsOf: nodes by the leading bits their id shares with ours', () => {
  const own = 'f'.repeat(40);
  assert.equal(commonPrefixBits(own, own), 160);
  assert.equal(commonPrefixBits(own, '0'.repeat(40)), 0);
  assert.equal(commonPrefixBits(own, 'f7' + 'f'.repeat(38)), 4);
  assert.equal(commonPrefixBits(own, 'fe' + '0'.repeat(38)), 7);
  const fresh = 1000;
  const stale = 20 * 60_000;
  const buckets = bucketsOf(own, [
    { id: '0'.repeat(40), address: '10.201.0.1', port: 1, age: fresh },
    { id: '7'.repeat(40), address: '10.201.0.2', port: 1, age: stale },
    { id: 'e' + '0'.repeat(39), address: '10.201.0.3', port: 1, age: fresh },
    { id: '', address: '10.201.0.4', port: 1, age: fresh },
  ]);
  assert.deepEqual(buckets, [
    { depth: 0, good: 1, questionable: 1 },
    { depth: 1, good: 0, questionable: 0 },
    { depth: 2, good: 0, questionable: 0 },
    { depth: 3, good: 1, questionable: 0 },
  ]);
});

test('udpWarnings: no nodes, unanswered queries, never queried (only after ten minutes)', () => {
  const f = { family: 4 as const, port: 6881, all: 5 };
  const quiet = { sent: 0, replied: 0, received: 0 };
  assert.match(udpWarnings({ ...f, all: 0 }, quiet, 120_000, 120_000)[0]!, /IPv4 DHT: no nodes/);
  assert.deepEqual(udpWarnings({ ...f, all: 0 }, quiet, 30_000, 30_000), [], 'not in the first minute');
  assert.match(udpWarnings(f, { sent: 40, replied: 0, received: 3 }, 300_000, 300_000)[0]!, /outgoing UDP looks blocked/);
  assert.deepEqual(udpWarnings(f, { sent: 10, replied: 0, received: 0 }, 300_000, 300_000), [], 'too few queries to say');
  assert.match(udpWarnings(f, { sent: 40, replied: 30, received: 0 }, 600_000, 900_000)[0]!, /incoming UDP to port 6881 looks filtered/);
  assert.deepEqual(udpWarnings(f, { sent: 40, replied: 30, received: 0 }, 300_000, 300_000), [], 'not before ten minutes');
  assert.deepEqual(udpWarnings(f, { sent: 40, replied: 30, received: 1 }, 600_000, 900_000), []);
});

async function telemetryOf(t: TestContext, node: DhtNode, now: () => number): Promise<Telemetry> {
  const dht = new DhtGroup([node]);
  const announcer = new Announcer(dht, silentLogger, DEFAULT_ANNOUNCER_OPTIONS);
  const auth = new AuthModule({ send: () => undefined, secretKeyFor: () => undefined, isOwnAddress: () => false, log: silentLogger });
  const pkarr = new PkarrHook({ dht, log: silentLogger });
  const resolver = new Resolver({ dht, own: announcer, log: silentLogger, keys: new KeyRing(), verifier: auth, pkarr }, { ...DEFAULT_RESOLVER_OPTIONS, tld: '.p2p' });
  t.after(() => {
    resolver.stop();
    auth.stop();
  });
  return new Telemetry(
    { versionLine: 'kadnode test', startedAt: now(), bound: [], dht, announcer, resolver, auth, pkarr, publisher: null, portMapper: null, storageMax: 100, dns: () => null, now },
    { sampleMs: 60_000, maxSamples: 3 },
  );
}

test('Telemetry: KRPC traffic, reply ratio and routing table of real DHT nodes; samples bounded', async (t) => {
  const a = new DhtNode(silentLogger, { port: 0, address: '127.0.0.1', storage, maxSearches: 8 });
  const b = new DhtNode(silentLogger, { port: 0, address: '127.0.0.1', storage, maxSearches: 8 });
  await a.start();
  await b.start();
  t.after(() => Promise.all([a.stop(), b.stop()]));
  let clock = Date.now();
  const telemetry = await telemetryOf(t, a, () => clock);
  telemetry.sample();
  const empty = telemetry.snapshot();
  assert.equal(empty.nodeId, a.nodeId.toString('hex'));
  assert.deepEqual(empty.families[0]!.traffic, { sent: 0, replied: 0, received: 0 });
  assert.equal(empty.families[0]!.replyRatio, null);

  a.ping({ host: '127.0.0.1', port: b.boundPort() });
  for (let i = 0; i < 60 && a.nodeCount() === 0; i++) await sleep(50);
  const talked = telemetry.snapshot();
  const f = talked.families[0]!;
  assert.ok(f.traffic.sent >= 1 && f.traffic.replied >= 1, JSON.stringify(f.traffic));
  assert.ok(f.replyRatio! > 0 && f.replyRatio! <= 1);
  assert.ok(b.traffic.received >= 1, 'b saw no query');
  assert.equal(f.good, 1);
  assert.equal(f.buckets.reduce((n, x) => n + x.good, 0), 1);
  assert.equal(f.port, a.boundPort());

  // a node that never answers: queries sent, no reply, the ratio falls
  const before = a.traffic.replied;
  a.ping({ host: '127.0.0.1', port: 9 });
  for (let i = 0; i < 60 && a.traffic.sent === f.traffic.sent; i++) await sleep(20);
  assert.ok(a.traffic.sent > f.traffic.sent);
  await sleep(200);
  assert.equal(a.traffic.replied, before);

  for (let i = 0; i < 10; i++) {
    clock += 60_000;
    telemetry.sample();
  }
  const later = telemetry.snapshot();
  assert.equal(later.history.length, 3);
  assert.deepEqual(later.history.map((s) => s.at), [clock - 120_000, clock - 60_000, clock]);
});
