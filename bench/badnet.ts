// badnet: lookups while the network loses packets (0, 5, 15%: an nftables `numgen random` drop rule on
// the DHT port in every namespace; this kernel has no netem) and while replies come late (50, 200 ms:
// the userspace delay layer of the sim worker holds every datagram a bulk node sends). 200 nodes:
// 20 daemons + 180 bulk nodes. Target: p50 <= 2 s at 15% loss.
import type { Benchmark, BenchContext } from './lib/report.js';
import { bringUp, compactResults, phaseFigures, plainId, rcodeText, waitSpread, type PhaseFigures } from './lib/scenario.js';
import { sleep } from './lib/stats.js';
import { barChart, cdfPoints, lineChart } from './lib/svg.js';
import { lookupItem, lookupPairs, namespaceSkipReason, plainNames, Testbed } from './lib/testbed.js';

const DAEMONS = 20;
const BULK = 180;
const NAMES_PER_DAEMON = 5;
const LOOKUPS = 100;
const CONDITIONS = [
  { loss: 0, delay: 0 },
  { loss: 5, delay: 0 },
  { loss: 15, delay: 0 },
  { loss: 0, delay: 50 },
  { loss: 0, delay: 200 },
  { loss: 15, delay: 100 },
  // the baseline once more: how much the figures drift while the network ages
  { loss: 0, delay: 0, again: true },
];

type Condition = { loss: number; delay: number; again?: boolean };
const label = (c: Condition) => `loss ${c.loss}%, delay ${c.delay} ms${c.again ? ' (again)' : ''}`;
const key = (c: Condition) => `loss${c.loss}_delay${c.delay}${c.again ? '_again' : ''}`;

export const badnetBench: Benchmark = {
  name: 'badnet',
  title: 'Lookups under packet loss (0/5/15%, nftables) and added delay (50/200 ms, userspace layer), 200 nodes',
  async run(ctx: BenchContext) {
    const skip = namespaceSkipReason(true);
    if (skip) return ctx.skip(skip);
    const bed = await Testbed.create(ctx, DAEMONS);
    const phases: Array<PhaseFigures & { loss: number; delay: number; measuredLossPct: number }> = [];
    try {
      const names = plainNames('b', DAEMONS, NAMES_PER_DAEMON);
      await bringUp(ctx, bed, { bulk: BULK, names, seed: 300 });
      const spread = await waitSpread(ctx, bed, names.flat().map(plainId), 60_000);
      ctx.log(`names findable after ${(spread.ms / 1000).toFixed(1)} s (${spread.last})`);
      // the announcers' follow-ups and the daemons' own table refreshes run in the first seconds
      await sleep(10_000);
      const pairs = lookupPairs(names, bed.hosts.map((_, i) => i), 27);
      for (const [i, c] of (CONDITIONS as Condition[]).entries()) {
        await bed.setLoss(c.loss);
        await bed.sim.call('bulkDelay', { ms: c.delay, jitter: 0.1 });
        await sleep(500);
        const batch = pairs.slice(i * LOOKUPS, (i + 1) * LOOKUPS);
        const results = await bed.lookups(batch.map((p) => lookupItem(bed, p)), { concurrency: 5, retry: true });
        const counters = await bed.lossCounters();
        const measuredLossPct = counters.seen ? (counters.dropped / counters.seen) * 100 : 0;
        const ph = { ...phaseFigures(label(c), results), loss: c.loss, delay: c.delay, measuredLossPct };
        phases.push(ph);
        ctx.log(`${label(c)}: ${ph.stats.successFirstPct.toFixed(1)}% first try, ${ph.stats.successPct.toFixed(1)}% with retry, p50 ${ph.p50.toFixed(0)} ms, p95 ${ph.p95.toFixed(0)} ms; dropped ${measuredLossPct.toFixed(1)}% of ${counters.seen} DHT datagrams`);
        const k = key(c);
        const target = c.loss === 15 && c.delay === 0;
        ctx.figure(`p50_${k}`, ph.p50, 'ms', {
          ...(target ? { target: { op: '<=' as const, value: 2000 } } : {}),
          note: `retry included, failures count as never answered; ${c.loss ? `nft dropped ${measuredLossPct.toFixed(1)}% of ${counters.seen} datagrams to the DHT port` : 'no loss rule'}`,
        });
        ctx.figure(`p95_${k}`, ph.p95, 'ms');
        ctx.figure(`success_${k}`, ph.stats.successFirstPct, '%', { note: `first query; answers: ${rcodeText(ph.stats)}; ${ph.stats.wrong} wrong` });
        ctx.figure(`success_with_retry_${k}`, ph.stats.successPct, '%');
        ctx.record.data[k] = { ...c, measuredLossPct, counters, stats: { ...ph.stats, latencies: undefined, firstLatencies: undefined }, p50: ph.p50, p95: ph.p95, results: compactResults(results) };
      }
      await bed.setLoss(0);
      await bed.sim.call('bulkDelay', { ms: 0 });
      ctx.note(
        'Loss: in each of the 21 namespaces an nftables rule in the input hook drops that share of UDP datagrams to port 6881 (`numgen random mod 1000 < N drop`), ' +
          'so every DHT datagram (query, reply, AUTH) is lost once with that chance; a query and its reply together fail about twice as often. The DNS queries to the daemons are not dropped. ' +
          'Delay: the kernel has no netem, so the sim worker holds every datagram one of its 180 bulk nodes sends for D ms (±10%) before sending it (a userspace delay layer in ' +
          'bench/lib/worker.ts): a daemon\'s query to a bulk node comes back D ms later; datagrams between two daemons are not delayed. ' +
          'Names were announced before the loss and delay were switched on; 100 fresh lookups per condition, 5 at a time, each retried once after SERVFAIL or silence.',
      );
      ctx.plot('p50', 'p50 and p95 of the time to a correct answer under each condition (retry included); dashed: target at 15% loss', barChart({
        title: 'Lookup time on a bad network',
        yLabel: 'ms',
        categories: phases.map((p) => p.label),
        series: [
          { name: 'p50', values: phases.map((p) => p.p50) },
          { name: 'p95', values: phases.map((p) => (Number.isFinite(p.p95) ? p.p95 : NaN)) },
        ],
        targets: [{ y: 2000, label: 'p50 target at 15% loss: 2 s' }],
      }));
      ctx.plot('cdf', 'Distribution of the time to a correct answer under each condition', lineChart({
        title: 'Lookup time on a bad network (CDF)',
        xLabel: 'ms (log scale)',
        yLabel: '% of lookups',
        xLog: true,
        yMin: 0,
        yMax: 100,
        series: phases.map((p) => ({ name: p.label, points: cdfPoints(p.stats.latencies).map(([x, y]) => [x, (y * p.stats.latencies.length) / Math.max(1, p.stats.n)] as [number, number]), step: true })),
      }));
    } finally {
      await bed.destroy();
    }
  },
};
