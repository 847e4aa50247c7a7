// DHT health (src/dht/health.ts): the size estimate from walks' closest nodes, the UDP verdict and its
// warning said once, and the `status` lines.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { bep42NodeId } from '../../../src/dht/bep42.js';
import { DhtHealth, estimateSize, healthLines, MAX_WALKS, normalizedDistance, udpVerdict, WALK_NODES } from '../../../src/dht/health.js';

/** The k closest of `ids` to `target`, closest first (what a converged walk finds). */
function closest(ids: Buffer[], target: Buffer, k: number): Buffer[] {
  return ids.map((id) => ({ id, d: normalizedDistance(id, target) })).sort((a, b) => a.d - b.d).slice(0, k).map((x) => x.id);
}

test('the size estimate from the closest nodes of a few walks is near the true size', () => {
  for (const n of [2000, 20000]) {
    const ids = Array.from({ length: n }, () => randomBytes(20));
    const health = new DhtHealth(4);
    for (let w = 0; w < MAX_WALKS; w++) {
      const target = randomBytes(20);
      health.recordWalk(target, closest(ids, target, WALK_NODES));
    }
    const estimate = health.report({ traffic: { sent: 0, replied: 0, received: 0 }, nodes: [], external: null, nodeId: randomBytes(20) }).sizeEstimate!;
    assert.ok(estimate > n * 0.6 && estimate < n * 1.6, `estimate ${estimate.toFixed(0)} for ${n}`);
  }
  assert.equal(estimateSize([]), null);
  assert.equal(Math.round(estimateSize([[1 / 100, 2 / 100, 3 / 100]])!), 100, 'd_i = i/N exactly gives N');
});

test('walks that met few nodes are not used, and only the last walks are kept', () => {
  const health = new DhtHealth(4);
  health.recordWalk(randomBytes(20), [randomBytes(20)]);
  const report = () => health.report({ traffic: { sent: 0, replied: 0, received: 0 }, nodes: [], external: null, nodeId: randomBytes(20) });
  assert.equal(report().walks, 0);
  for (let i = 0; i < MAX_WALKS + 5; i++) health.recordWalk(randomBytes(20), Array.from({ length: WALK_NODES }, () => randomBytes(20)));
  assert.equal(report().walks, MAX_WALKS);
});

test('UDP verdict: settling for the first minute or few queries, then silent, filtered or ok', () => {
  assert.equal(udpVerdict({ sent: 500, replied: 0, received: 0 }, 30_000), 'settling');
  assert.equal(udpVerdict({ sent: 5, replied: 0, received: 0 }, 120_000), 'settling');
  assert.equal(udpVerdict({ sent: 100, replied: 0, received: 3 }, 60_000), 'silent');
  assert.equal(udpVerdict({ sent: 100, replied: 9, received: 3 }, 60_000), 'filtered');
  assert.equal(udpVerdict({ sent: 100, replied: 10, received: 3 }, 60_000), 'ok');
});

test('the warning is raised once when UDP turns filtered, shown in the status lines, and cleared when replies come back', () => {
  const start = 1_000_000;
  const health = new DhtHealth(4, start);
  const traffic = { sent: 0, replied: 0, received: 0 };
  const minute = (i: number, sent: number, replied: number) => {
    traffic.sent += sent;
    traffic.replied += replied;
    return health.sample(traffic, start + i * 60_000);
  };
  assert.deepEqual([minute(0, 50, 0).changed, minute(1, 50, 0).verdict], [false, 'silent']);
  assert.equal(minute(2, 50, 0).changed, false, 'said once, not every minute');
  const lines = healthLines(health.report({ traffic, nodes: [], external: null, nodeId: randomBytes(20) }));
  assert.match(lines.at(-1)!, /^Warning: no DHT node answers our IPv4 queries: UDP looks blocked/);
  for (let i = 3; i < 10; i++) minute(i, 50, 30);
  const ok = healthLines(health.report({ traffic, nodes: [], external: null, nodeId: randomBytes(20) }));
  assert.ok(!ok.some((l) => l.startsWith('Warning')), 'cleared');
  const filtered = new DhtHealth(6, start);
  filtered.sample({ sent: 0, replied: 0, received: 0 }, start);
  const f = filtered.sample({ sent: 200, replied: 4, received: 0 }, start + 120_000);
  assert.deepEqual([f.verdict, f.changed], ['filtered', true]);
});

test('status lines: reply ratio, size, BEP 42-valid share, external address and whether the id matches it', () => {
  const health = new DhtHealth(4);
  const external = '203.0.113.5';
  const nodes = [
    { id: bep42NodeId('198.51.100.1').toString('hex'), address: '198.51.100.1' },
    { id: randomBytes(20).toString('hex'), address: '198.51.100.2' },
    { id: randomBytes(20).toString('hex'), address: '10.0.0.1' },
    { id: randomBytes(20).toString('hex'), address: '198.51.100.3' },
  ];
  const matching = health.report({ traffic: { sent: 200, replied: 90, received: 40 }, nodes, external, nodeId: bep42NodeId(external) });
  assert.deepEqual(healthLines(matching), [
    'DHT health IPv4: 45% of 200 queries answered, size unknown yet, 50% of 4 routing-table nodes BEP 42-valid',
    'DHT external address IPv4: 203.0.113.5, node id matches it (BEP 42)',
  ]);
  const other = health.report({ traffic: { sent: 0, replied: 0, received: 0 }, nodes: [], external, nodeId: Buffer.alloc(20) });
  assert.equal(healthLines(other)[1], 'DHT external address IPv4: 203.0.113.5, node id does not match it yet (BEP 42)');
  assert.equal(healthLines(health.report({ traffic: { sent: 0, replied: 0, received: 0 }, nodes: [], external: null, nodeId: Buffer.alloc(20) }))[1], 'DHT external address IPv4: not known yet');
});
