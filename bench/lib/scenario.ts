// Steps the namespace benchmarks share: bring up a DHT of daemons plus bulk nodes, wait until the
// announced names can be found, run a batch of timed lookups, and turn results into figures.
import { createHash } from 'node:crypto';
import type { BenchContext } from './report.js';
import { percentile, rng, sleep, summarize, type Summary } from './stats.js';
import { DHT_PORT, lookupStats, type LookupStats, type Testbed } from './testbed.js';
import type { LookupResult } from './worker.js';

export interface NetworkPlan {
  bulk: number;
  /** names[d]: what daemon d announces (with .p2p) */
  names: string[][];
  /** extra arguments for daemon d (keys...) */
  extraArgs?: (d: number) => string[];
  /** 20-node networks: daemons bootstrap from daemon 1; with bulk nodes, from `bulkPeers` random ones */
  bulkPeers?: number;
  seed: number;
  /** daemons started at once */
  parallel?: number;
  /** without bulk nodes: called once daemon 1 is ready, before the others start */
  onFirstReady?: () => void;
}

export interface NetworkUp {
  readyAt: Map<number, number>;
  startMs: number;
}

/** DHT id of a plain name (SHA-1 of the sanitized name). */
export function plainId(name: string): string {
  return createHash('sha1').update(name.toLowerCase().replace(/\.p2p$/, '')).digest('hex');
}

export async function bringUp(ctx: BenchContext, bed: Testbed, plan: NetworkPlan): Promise<NetworkUp> {
  const random = rng(plan.seed);
  const t0 = performance.now();
  if (plan.bulk > 0) await bed.startBulk(plan.bulk, plan.seed);
  const values = (d: number) => (plan.names[d] ?? []).flatMap((n) => ['--value-id', n]);
  const extra = (d: number) => plan.extraArgs?.(d) ?? [];
  const all = bed.hosts.map((_, i) => i);
  let readyAt: Map<number, number>;
  if (plan.bulk > 0) {
    readyAt = await bed.startDaemons(all, (d) => [...bed.bulkPeers(plan.bulkPeers ?? 3, random), ...values(d), ...extra(d)], plan.parallel ?? 5);
  } else {
    readyAt = await bed.startDaemons([0], (d) => [...values(d), ...extra(d)]);
    plan.onFirstReady?.();
    const rest = await bed.startDaemons(all.slice(1), (d) => ['--peer', `${bed.daemonIp(0)}:${DHT_PORT}`, ...values(d), ...extra(d)], plan.parallel ?? 5);
    for (const [k, v] of rest) readyAt.set(k, v);
  }
  const startMs = performance.now() - t0;
  ctx.log(`${bed.runningDaemons().length} daemons ready in ${(startMs / 1000).toFixed(1)} s`);
  return { readyAt, startMs };
}

/**
 * Waits until the names can be found: with bulk nodes, get_peers walks from random bulk nodes find
 * every id; without, every daemon stores at least `share` of the other daemons' names. Bounded.
 */
export async function waitSpread(ctx: BenchContext, bed: Testbed, ids: string[], timeoutMs: number, expectedStoredPerDaemon?: number): Promise<{ ms: number; complete: boolean; last: string }> {
  const t0 = performance.now();
  let last = '';
  while (performance.now() - t0 < timeoutMs) {
    if (bed.bulk.length > 0) {
      const r = await bed.sim.call<{ found: number; of: number }>('bulkFind', { ids, timeoutMs: 3000, concurrency: 16 }, 120_000);
      last = `${r.found}/${r.of} names found from bulk nodes`;
      if (r.found === r.of) return { ms: performance.now() - t0, complete: true, last };
    } else {
      const s = await bed.status();
      const stored = s.map((x) => x.announcements ?? 0);
      last = `stored per daemon: min ${Math.min(...stored)} (want ${expectedStoredPerDaemon})`;
      if (Math.min(...stored) >= (expectedStoredPerDaemon ?? 0)) return { ms: performance.now() - t0, complete: true, last };
    }
    await sleep(1000);
  }
  ctx.log(`spread incomplete after ${timeoutMs / 1000} s: ${last}`);
  return { ms: performance.now() - t0, complete: false, last };
}

export interface PhaseFigures {
  label: string;
  stats: LookupStats;
  /** over the correct first answers */
  first: Summary;
  /** over the lookups that ended correct, retry included */
  all: Summary;
  /** percentiles over every lookup, retry included, a failed one counting as never answered (Infinity) */
  p50: number;
  p95: number;
  results: LookupResult[];
}

export function phaseFigures(label: string, results: LookupResult[]): PhaseFigures {
  const stats = lookupStats(results);
  const total = results.map((r) => (r.outcome === 'correct' ? r.ms : Infinity));
  return { label, stats, first: summarize(stats.firstLatencies), all: summarize(stats.latencies), p50: percentile(total, 50), p95: percentile(total, 95), results };
}

/** Compact form of results for the JSON file (the raw answers are long). */
export function compactResults(results: LookupResult[]): unknown[] {
  return results.map((r) => ({
    q: r.server,
    name: r.name,
    tag: r.tag,
    first: [r.first.rcode, Math.round(r.first.ms * 10) / 10, r.first.addresses.join(' ')],
    ...(r.second ? { second: [r.second.rcode, Math.round(r.second.ms * 10) / 10, r.second.addresses.join(' ')] } : {}),
    outcome: r.outcome,
  }));
}

export function rcodeText(stats: LookupStats): string {
  return Object.entries(stats.rcodes)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}
