// reliability: names announced by 20 daemons in a DHT of 500 nodes; then 10%, 30%, 50% and 70% of
// all nodes vanish (plain DHT nodes, closed without a word: the daemons that announce and ask stay),
// and after each step 100 fresh lookups say how many names are still found.
// Targets: >= 99% success with 50% removed, >= 90% with 70% removed.
import type { Benchmark, BenchContext } from './lib/report.js';
import { bringUp, compactResults, phaseFigures, plainId, rcodeText, waitSpread, type PhaseFigures } from './lib/scenario.js';
import { sleep } from './lib/stats.js';
import { lineChart } from './lib/svg.js';
import { lookupItem, lookupPairs, namespaceSkipReason, plainNames, Testbed } from './lib/testbed.js';

const DAEMONS = 20;
const BULK = 480;
const TOTAL = DAEMONS + BULK;
const NAMES_PER_DAEMON = 6;
const LOOKUPS = 100;
const LEVELS = [0, 10, 30, 50, 70];
const TARGETS: Record<number, number> = { 50: 99, 70: 90 };

export const reliabilityBench: Benchmark = {
  name: 'reliability',
  title: 'Success of lookups after 10-70% of the DHT nodes vanished (500 nodes, names announced before)',
  async run(ctx: BenchContext) {
    const skip = namespaceSkipReason();
    if (skip) return ctx.skip(skip);
    const bed = await Testbed.create(ctx, DAEMONS);
    const phases: Array<PhaseFigures & { level: number }> = [];
    try {
      const names = plainNames('r', DAEMONS, NAMES_PER_DAEMON);
      await bringUp(ctx, bed, { bulk: BULK, names, seed: 200 });
      const spread = await waitSpread(ctx, bed, names.flat().map(plainId), 60_000);
      ctx.log(`names findable after ${(spread.ms / 1000).toFixed(1)} s (${spread.last})`);
      const pairs = lookupPairs(names, bed.hosts.map((_, i) => i), 17);
      let removed = 0;
      for (const [i, level] of LEVELS.entries()) {
        const want = Math.round((level / 100) * TOTAL);
        if (want > removed) {
          const r = await bed.sim.call<{ removed: number; alive: number }>('bulkRemove', { count: want - removed });
          removed += r.removed;
          ctx.log(`removed ${removed} of ${TOTAL} nodes (${level}%), ${r.alive} bulk nodes left`);
          await sleep(2000);
        }
        const batch = pairs.slice(i * LOOKUPS, (i + 1) * LOOKUPS);
        const results = await bed.lookups(batch.map((p) => lookupItem(bed, p)), { concurrency: 5, retry: true });
        const ph = { ...phaseFigures(`${level}% removed`, results), level };
        phases.push(ph);
        ctx.log(`${level}% removed: ${ph.stats.successFirstPct.toFixed(1)}% first try, ${ph.stats.successPct.toFixed(1)}% with retry, p50 ${ph.p50.toFixed(0)} ms`);
        const target = TARGETS[level];
        ctx.figure(`success_${level}pct_removed`, ph.stats.successFirstPct, '%', {
          ...(target ? { target: { op: '>=' as const, value: target } } : {}),
          note: `correct address on the first query, ${ph.stats.n} lookups; answers: ${rcodeText(ph.stats)}; ${ph.stats.wrong} wrong`,
        });
        ctx.figure(`success_with_retry_${level}pct_removed`, ph.stats.successPct, '%', { note: 'one more query after SERVFAIL or silence' });
        ctx.figure(`p50_${level}pct_removed`, ph.p50, 'ms', { note: 'retry included; failures count as never answered' });
        ctx.figure(`p95_${level}pct_removed`, ph.p95, 'ms');
        const failedFirst = results.filter((r) => r.firstOutcome !== 'correct');
        if (target && ph.stats.successFirstPct < target && failedFirst.length) {
          const rc: Record<string, number> = {};
          for (const r of failedFirst) rc[r.first.rcode] = (rc[r.first.rcode] ?? 0) + 1;
          const rescued = failedFirst.filter((r) => r.outcome === 'correct').map((r) => r.second!.ms).sort((a, b) => a - b);
          ctx.note(
            `${level}% removed, target missed: the ${failedFirst.length} first queries that failed answered ${Object.entries(rc).map(([k, v]) => `${k} ${v}`).join(', ')} ` +
              `(SERVFAIL: the search was still running at the daemon's 3 s DNS deadline, walking through routing-table entries of removed nodes, each of which holds one of ` +
              `the walk's 16 parallel slots until the 2 s KRPC timeout). The retry got the right address for ${rescued.length} of them` +
              (rescued.length ? `, after another ${Math.round(rescued[Math.floor(rescued.length / 2)]!)} ms (median): the address came between 3 and ${Math.round(3000 + rescued[rescued.length - 1]!)} ms.` : '.'),
          );
        }
        ctx.record.data[`level${level}`] = { removed, stats: { ...ph.stats, latencies: undefined, firstLatencies: undefined }, p50: ph.p50, p95: ph.p95, results: compactResults(results) };
      }
      ctx.note(
        `${DAEMONS} daemons each announce ${NAMES_PER_DAEMON} names into a DHT of ${TOTAL} nodes (${BULK} plain bittorrent-dht nodes with formed tables). ` +
          'Once every name can be found, plain nodes are closed at random (no goodbye: their addresses stop answering), in steps, ' +
          'to 10, 30, 50 and 70% of all nodes; 2 s after each step 100 lookups run (5 at a time), each a (daemon, name of another daemon) pair ' +
          'never asked before, so no answer comes from a cache. Nobody announces again in between (announcements are renewed every 30 minutes).',
      );
      ctx.plot('success', 'Lookup success against the share of nodes removed; dashed: targets', lineChart({
        title: 'Success after removing nodes',
        xLabel: '% of the 500 nodes removed',
        yLabel: '% of lookups answered correctly',
        yMin: Math.min(80, ...phases.map((p) => p.stats.successFirstPct)),
        yMax: 100.5,
        series: [
          { name: 'first query', points: phases.map((p) => [p.level, p.stats.successFirstPct]), markers: true },
          { name: 'with one retry', points: phases.map((p) => [p.level, p.stats.successPct]), markers: true },
        ],
        targets: [{ y: 99, label: '99% at 50% removed' }, { y: 90, label: '90% at 70% removed' }],
      }));
      ctx.plot('latency', 'p50 and p95 of the time to a correct answer (retry included) against the share of nodes removed', lineChart({
        title: 'Lookup time after removing nodes',
        xLabel: '% of the 500 nodes removed',
        yLabel: 'ms',
        series: [
          { name: 'p50', points: phases.map((p) => [p.level, p.p50]), markers: true },
          { name: 'p95', points: phases.map((p) => [p.level, Number.isFinite(p.p95) ? p.p95 : NaN]), markers: true },
        ],
      }));
    } finally {
      await bed.destroy();
    }
  },
};
