// Figures of the mainline benchmark: lookup latency over every lookup (a failed one counts as never
// answered), coverage summaries, and the closing block that sets calibration and results side by side.
import type { BenchContext, Figure } from '../report.js';
import { formatValue, targetText } from '../report.js';
import { percentile } from '../stats.js';
import type { LookupResult } from '../worker.js';

export interface Latency {
  n: number;
  successPct: number;
  p50: number;
  p75: number;
  p98: number;
  p99: number;
  over1sPct: number;
  /** over the correct answers only */
  okP50: number;
  okP99: number;
  rcodes: Record<string, number>;
  wrong: number;
}

export function latency(results: LookupResult[]): Latency {
  const all = results.map((r) => (r.outcome === 'correct' ? r.ms : Infinity));
  const ok = results.filter((r) => r.outcome === 'correct').map((r) => r.ms);
  const rcodes: Record<string, number> = {};
  for (const r of results) rcodes[r.first.rcode] = (rcodes[r.first.rcode] ?? 0) + 1;
  const n = results.length;
  return {
    n,
    successPct: n ? (ok.length / n) * 100 : NaN,
    p50: percentile(all, 50),
    p75: percentile(all, 75),
    p98: percentile(all, 98),
    p99: percentile(all, 99),
    over1sPct: n ? (all.filter((v) => v > 1000).length / n) * 100 : NaN,
    okP50: percentile(ok, 50),
    okP99: percentile(ok, 99),
    rcodes,
    wrong: results.filter((r) => r.outcome === 'wrong').length,
  };
}

export function rcodeList(l: Latency): string {
  return Object.entries(l.rcodes).map(([k, v]) => `${k} ${v}`).join(', ');
}

export interface CoverageRow {
  id: string;
  holders: number;
  daemonsAmongClosest: number;
  unprobed: number;
  anywhere: number;
}

export interface CoverageSummary {
  ids: number;
  mean: number;
  min: number;
  /** percent of ids held by at least 6 of their 8 closest live nodes */
  atLeast6Pct: number;
  anywhereMean: number;
}

export function coverageSummary(rows: CoverageRow[]): CoverageSummary {
  const h = rows.map((r) => r.holders);
  return {
    ids: rows.length,
    mean: h.length ? h.reduce((a, b) => a + b, 0) / h.length : NaN,
    min: h.length ? Math.min(...h) : NaN,
    atLeast6Pct: h.length ? (h.filter((x) => x >= 6).length / h.length) * 100 : NaN,
    anywhereMean: rows.length ? rows.reduce((a, r) => a + r.anywhere, 0) / rows.length : NaN,
  };
}

/** The closing block on stderr (stdout keeps one figure a line): calibration beside results, PASS/MISS per target. */
export function printSummary(ctx: BenchContext, calibration: string[]): void {
  const lines = ['', '=== mainline: the network as the daemons saw it ===', ...calibration, '', '=== results against the targets ==='];
  const targeted = ctx.record.figures.filter((f: Figure) => f.target);
  for (const f of targeted) {
    const verdict = f.met ? 'PASS' : `MISS (${f.miss})`;
    lines.push(`  ${f.name.padEnd(28)} ${`${formatValue(f.value)} ${f.unit}`.padStart(12)}   target ${targetText(f.target, f.unit).padEnd(12)} ${verdict}`);
  }
  process.stderr.write(lines.join('\n') + '\n\n');
  ctx.note(['Summary as printed at the end of the run:', '', '```', ...lines.slice(1), '```'].join('\n'));
}
