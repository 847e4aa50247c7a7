// lookup: the time from one DNS query to its answer, and how often the answer is right, at 20, 200 and
// 2020 DHT nodes: 20 real daemons in network namespaces (they announce the names and are asked for
// them) plus 0, 180 and 2000 plain bittorrent-dht nodes (the sim worker); and the formation time of a
// DHT of 20 daemons. Targets: 100% success over >= 100 lookups per size, p50 <= 50 ms at 20 nodes,
// p50 grows <= 1.5x per 10x nodes, formation of 20 daemons <= 5 s.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { profilesDir } from './lib/paths.js';
import { newestProfile, summarizeProfile } from './lib/profile.js';
import type { Benchmark, BenchContext } from './lib/report.js';
import { cpuMs } from './lib/proc.js';
import { percentile, rng, sleep } from './lib/stats.js';
import { bringUp, compactResults, phaseFigures, plainId, rcodeText, waitSpread, type PhaseFigures } from './lib/scenario.js';
import { cdfPoints, lineChart } from './lib/svg.js';
import { lookupItem, lookupPairs, namespaceSkipReason, plainNames, Testbed, type Pair } from './lib/testbed.js';

const DAEMONS = 20;
const NAMES_PER_DAEMON = 6;
const LOOKUPS = 120;
const SIZES = [
  { total: 20, bulk: 0 },
  { total: 200, bulk: 180 },
  { total: 2020, bulk: 2000 },
];
const FORMED_AT = DAEMONS - 2;

/**
 * Restarts daemon 1 under `node --cpu-prof`, lets it ask 60 names it never asked, stops it (the profile
 * is written on exit) and summarizes where its time went.
 */
async function profileQuerier(ctx: BenchContext, bed: Testbed, names: string[][], used: Pair[], total: number): Promise<unknown> {
  ctx.log(`p50 growth above target: profiling daemon h1 with node --cpu-prof at ${total} nodes`);
  const dir = join(profilesDir, `lookup-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  await bed.stopDaemon(0);
  const nodeArgs = ['--cpu-prof', `--cpu-prof-dir=${dir}`];
  await bed.startDaemons([0], () => [...bed.bulkPeers(3, rng(999)), ...(names[0] ?? []).flatMap((n) => ['--value-id', n])], 1, nodeArgs);
  await sleep(5000);
  // fresh pairs: querier 1 (index 0), names it has not asked
  const asked = new Set(used.filter((p) => p.querier === 0).map((p) => p.name));
  const pairs = lookupPairs(names, [0], 1234).filter((p) => !asked.has(p.name)).slice(0, 60);
  const results = await bed.lookups(pairs.map((p) => lookupItem(bed, p)), { concurrency: 1, retry: false });
  const ph = phaseFigures('profiled', results);
  await bed.stopDaemon(0);
  const file = newestProfile(dir);
  if (!file) return { error: 'no profile written' };
  const summary = summarizeProfile(file);
  ctx.profile(`daemon h1 asking 60 names at ${total} nodes (p50 ${ph.first.p50.toFixed(1)} ms under the profiler)`, `node --cpu-prof --cpu-prof-dir=${dir} bin/kadnode ... (in namespace h1); 60 DNS queries, one at a time`, summary);
  return { file, p50: ph.first.p50, success: ph.stats.successFirstPct };
}

export const lookupBench: Benchmark = {
  name: 'lookup',
  title: 'DNS lookup time and success at 20, 200 and 2020 DHT nodes; formation time of 20 daemons',
  async run(ctx: BenchContext) {
    const skip = namespaceSkipReason();
    if (skip) return ctx.skip(skip);
    const bed = await Testbed.create(ctx, DAEMONS);
    const phases: Array<PhaseFigures & { total: number }> = [];
    const refP50s: Array<[number, number]> = [];
    const profileIfSlow = true;
    try {
      for (const [s, size] of SIZES.entries()) {
        ctx.log(`--- ${size.total} nodes: ${DAEMONS} daemons + ${size.bulk} bulk nodes`);
        const prefix = `l${size.total}`;
        const names = plainNames(prefix, DAEMONS, NAMES_PER_DAEMON);
        let formation: Promise<{ formedAt: number | null; series: Array<{ at: number; counts: Array<number | null> }> }> | null = null;
        let pollStart = 0;
        const up = await bringUp(ctx, bed, {
          bulk: size.bulk,
          names,
          seed: 100 + s,
          // the 19 others start together, as a network of 20 fresh nodes would
          parallel: size.bulk === 0 ? DAEMONS : 5,
          onFirstReady: () => {
            pollStart = Date.now();
            formation = bed.client.call('waitFormed', { targets: bed.webTargets(bed.hosts.map((_, i) => i)), need: FORMED_AT, timeoutMs: 90_000, intervalMs: 200 }, 120_000);
          },
        });
        if (formation) {
          const f = await (formation as Promise<{ formedAt: number | null; series: Array<{ at: number; counts: Array<number | null> }> }>);
          const ready = [...up.readyAt.values()];
          const lastReady = Math.max(...ready);
          const firstOthers = Math.min(...[...up.readyAt.entries()].filter(([i]) => i !== 0).map(([, t]) => t));
          const formedMs = f.formedAt === null ? NaN : Math.max(0, f.formedAt - lastReady);
          ctx.figure('formation_20', formedMs, 'ms', {
            target: { op: '<=', value: 5000 },
            note: `from the moment the last of 20 daemons was ready (startup of the 19 others took ${((lastReady - pollStart) / 1000).toFixed(1)} s on 2 cores) until every daemon knew >= ${FORMED_AT} others (polled /status every 200 ms)`,
          });
          if (f.formedAt !== null) ctx.figure('formation_20_from_first_ready', f.formedAt - firstOthers, 'ms', { note: 'from the first of the 19 joining daemons being ready' });
          ctx.record.data.formation = { pollStart, readyAt: Object.fromEntries(up.readyAt), ...f };
          const series = ['min', 'median', 'max'].map((which) => ({
            name: `${which} nodes known`,
            points: f.series.map((p) => {
              const c = p.counts.map((x) => x ?? 0).sort((a, b) => a - b);
              const v = which === 'min' ? c[0]! : which === 'max' ? c[c.length - 1]! : c[Math.floor(c.length / 2)]!;
              return [(p.at - lastReady) / 1000, v] as [number, number];
            }),
          }));
          ctx.plot('formation', 'Routing-table size of 20 daemons (min, median, max) against seconds since the last one was ready', lineChart({
            title: 'DHT formation: 20 daemons',
            xLabel: 'seconds since the last daemon was ready (negative: still starting)',
            yLabel: 'DHT nodes known',
            series,
            xMin: Math.min(0, ...series[0]!.points.map((p) => p[0])),
            targets: [{ y: FORMED_AT, label: `formed: >= ${FORMED_AT}` }],
          }));
        }
        const ids = names.flat().map(plainId);
        const spread = await waitSpread(ctx, bed, ids, 60_000, Math.floor(0.9 * (DAEMONS - 1) * NAMES_PER_DAEMON));
        ctx.log(`names findable after ${(spread.ms / 1000).toFixed(1)} s (${spread.last})`);
        const pairs = lookupPairs(names, bed.hosts.map((_, i) => i), 7 + s).slice(0, LOOKUPS);
        const simPid = bed.sim.child.pid!;
        const simCpu0 = cpuMs(simPid);
        const simSent0 = size.bulk > 0 ? (await bed.sim.call<{ sent: number }>('bulkStats')).sent : 0;
        const lookupT0 = performance.now();
        const results = await bed.lookups(pairs.map((p) => lookupItem(bed, p)), { concurrency: 1, retry: true });
        const lookupMs = performance.now() - lookupT0;
        const simCpuPct = ((cpuMs(simPid) - simCpu0) / lookupMs) * 100;
        const simSentPerS = size.bulk > 0 ? (((await bed.sim.call<{ sent: number }>('bulkStats')).sent - simSent0) / lookupMs) * 1000 : 0;
        const ph = { ...phaseFigures(`${size.total} nodes`, results), total: size.total };
        phases.push(ph);
        ctx.log(`${size.total} nodes: ${ph.stats.successFirstPct.toFixed(1)}% first try, p50 ${ph.first.p50.toFixed(1)} ms, p95 ${ph.first.p95.toFixed(1)} ms`);
        let reference: unknown = null;
        if (size.bulk > 0) {
          // What the simulator adds: its event-loop delay while the daemons walked through it, and the same
          // names looked up by plain bittorrent-dht nodes inside it (time to the first peer).
          const ref = await bed.sim.call<{ found: number; of: number; times: number[] }>('bulkFind', { ids: pairs.map((p) => plainId(p.name)), timeoutMs: 5000, concurrency: 1 }, 600_000);
          const refP50 = percentile(ref.times, 50);
          reference = { simCpuPct, simSentPerS, found: ref.found, of: ref.of, p50: refP50, p95: percentile(ref.times, 95) };
          refP50s.push([size.total, refP50]);
          ctx.figure(`sim_cpu_${size.total}`, simCpuPct, '% of a core', { note: `CPU of the worker carrying the ${size.bulk} bulk nodes while the daemons looked up (it sent ${Math.round(simSentPerS)} datagrams a second); near 100% it queues every hop through a bulk node` });
          ctx.figure(`reference_p50_${size.total}`, refP50, 'ms', { note: `the same ${ref.of} names looked up by plain bittorrent-dht nodes of the sim (time to first peer, ${ref.found} found): the library and simulator without kadnode's DNS and resolver` });
        }
        const last = s === SIZES.length - 1 && phases.length > 1;
        if (last && profileIfSlow) {
          const prev = phases[phases.length - 2]!;
          const growth = (ph.first.p50 / prev.first.p50) ** (1 / Math.log10(size.total / prev.total));
          if (growth > 1.5) ctx.record.data.profile = await profileQuerier(ctx, bed, names, pairs, size.total);
        }
        const tableSizes = (await bed.status()).map((x) => x.nodes ?? 0);
        ctx.record.data[`size${size.total}`] = {
          bulk: size.bulk,
          startMs: up.startMs,
          spread,
          tableSizes,
          reference,
          stats: { ...ph.stats, latencies: undefined, firstLatencies: undefined },
          first: ph.first,
          all: ph.all,
          results: compactResults(results),
        };
        const note = `${ph.stats.n} lookups (each a name of another daemon, no querier asked for a name twice), answers: ${rcodeText(ph.stats)}; ${ph.stats.wrong} wrong`;
        ctx.figure(`success_${size.total}`, ph.stats.successFirstPct, '%', { target: { op: '>=', value: 100 }, note: `correct address on the first query; ${note}` });
        ctx.figure(`success_with_retry_${size.total}`, ph.stats.successPct, '%', { note: 'one more query after SERVFAIL or silence, as a stub resolver would' });
        ctx.figure(`p50_${size.total}`, ph.first.p50, 'ms', size.total === 20 ? { target: { op: '<=', value: 50 } } : {});
        ctx.figure(`p95_${size.total}`, ph.first.p95, 'ms');
        ctx.figure(`max_${size.total}`, ph.first.max, 'ms');
        await bed.stopDaemons();
        await bed.stopBulk();
      }
      for (let i = 1; i < phases.length; i++) {
        const a = phases[i - 1]!;
        const b = phases[i]!;
        const perTenfold = (b.first.p50 / a.first.p50) ** (1 / Math.log10(b.total / a.total));
        ctx.figure(`p50_growth_${a.total}_to_${b.total}`, perTenfold, 'x per 10x nodes', {
          target: { op: '<=', value: 1.5 },
          note: `p50 ${a.first.p50.toFixed(1)} ms at ${a.total} nodes, ${b.first.p50.toFixed(1)} ms at ${b.total} nodes`,
        });
      }
      ctx.note(
        'Every lookup is one DNS query (A) from the client in the sim namespace to a daemon\'s DNS port, for a name another daemon announced with ' +
          '`--value-id`; the time is taken in the client from send to answer. Success: the answer holds exactly the announcing daemon\'s address. ' +
          'At 20 nodes every daemon stores every name (the library announces to the K=20 closest nodes, i.e. all of them), so answers come from the ' +
          'local store without a walk; at 200 and 2020 nodes most lookups walk the DHT. Bulk nodes start with formed routing tables ' +
          '(up to 20 nodes per distance bucket); their latency includes this event loop, which carries all bulk nodes (one process). ' +
          'For scale, `reference_p50_N` is the same set of names looked up by plain bittorrent-dht nodes inside the simulator (no DNS, no daemon, no namespace hop) ' +
          'and `sim_cpu_N` how busy the simulator was while the daemons walked through it. ' +
          'When the p50 growth misses its target, daemon h1 is restarted under `node --cpu-prof` and asks 60 more names (profile below): ' +
          'its busy share says whether the daemon itself or the waiting on other nodes takes the time.',
      );
      ctx.plot('cdf', 'Distribution of the time to a correct first answer, per network size (log scale)', lineChart({
        title: 'Lookup time (first query, correct answers)',
        xLabel: 'ms (log scale)',
        yLabel: '% of lookups',
        xLog: true,
        yMin: 0,
        yMax: 100,
        series: phases.map((p) => ({ name: p.label, points: cdfPoints(p.stats.firstLatencies), step: true })),
      }));
      ctx.plot('p50', 'p50 and p95 of the time to a correct first answer against the number of DHT nodes', lineChart({
        title: 'Lookup time against network size',
        xLabel: 'DHT nodes (log scale)',
        yLabel: 'ms',
        xLog: true,
        series: [
          { name: 'p50', points: phases.map((p) => [p.total, p.first.p50]), markers: true },
          { name: 'p95', points: phases.map((p) => [p.total, p.first.p95]), markers: true },
          { name: 'p50 plain bittorrent-dht (sim)', points: refP50s, markers: true },
        ],
        targets: [{ y: 50, label: 'p50 target at 20 nodes: 50 ms' }],
      }));
    } finally {
      await bed.destroy();
    }
  },
};
