// `npm run bench` runs every benchmark but fuzz (issues 8 and 15); `npm run bench -- NAME [NAME...]` runs those alone,
// and `npm run bench -- fuzz` is the long fuzz run (a million inputs per surface), run only when named.
// Figures go to stdout as `bench.figure: value unit`, progress to stderr; bench/results/ gets
// NAME.json, SVG plots and report.md (rebuilt from every JSON there). Never run by `npm test`.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { resultsDir } from './lib/paths.js';
import { BenchContext, writeReport, type Benchmark } from './lib/report.js';
import { costBench } from './cost.js';
import { dnsBench } from './dns.js';
import { lookupBench } from './lookup.js';
import { reliabilityBench } from './reliability.js';
import { badnetBench } from './badnet.js';
import { resilienceBench } from './resilience.js';
import { fuzzBench } from './fuzz.js';
import { mainlineBench } from './mainline.js';

// 13 surfaces × 1M inputs took ~29 CPU-minutes here, two surfaces at a time: well over the 10 minutes of the others.
const longFuzzBench: Benchmark = { ...fuzzBench, onlyWhenNamed: true, hardLimitMinutes: 60 };
const BENCHMARKS: Benchmark[] = [dnsBench, lookupBench, reliabilityBench, badnetBench, resilienceBench, mainlineBench, costBench, longFuzzBench];
const ORDER = BENCHMARKS.map((b) => b.name);
/** Each benchmark is designed to finish well within 10 minutes on 2 cores; this is the hard stop. */
const DEFAULT_LIMIT_MINUTES = 10;

async function main(): Promise<void> {
  const args = process.argv.slice(2).filter((a) => a !== '--');
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(`Usage: npm run bench [-- NAME...]\n\nBenchmarks:\n${BENCHMARKS.map((b) => `  ${b.name.padEnd(12)} ${b.title}${b.onlyWhenNamed ? ' (only when named)' : ''}`).join('\n')}\n`);
    return;
  }
  const unknown = args.filter((a) => !ORDER.includes(a));
  if (unknown.length) {
    process.stderr.write(`bench: unknown benchmark ${unknown.join(', ')}; known: ${ORDER.join(', ')}\n`);
    process.exit(2);
  }
  const chosen = args.length ? BENCHMARKS.filter((b) => args.includes(b.name)) : BENCHMARKS.filter((b) => !b.onlyWhenNamed);
  mkdirSync(resultsDir, { recursive: true });
  let failed = 0;
  for (const bench of chosen) {
    const ctx = new BenchContext(resultsDir, bench.name, bench.title, `npm run bench -- ${bench.name}`);
    ctx.log(`start: ${bench.title}`);
    // The hard stop: record the failure and exit; the exit handlers kill daemons and delete namespaces.
    const limitMinutes = bench.hardLimitMinutes ?? DEFAULT_LIMIT_MINUTES;
    const watchdog = setTimeout(() => {
      ctx.record.failed = `hard time limit of ${limitMinutes} minutes reached`;
      ctx.finish();
      writeReport(resultsDir, ORDER);
      process.stderr.write(`[${bench.name}] stopped: hard time limit reached\n`);
      process.exit(1);
    }, limitMinutes * 60_000);
    try {
      await bench.run(ctx);
    } catch (err) {
      failed++;
      ctx.record.failed = (err as Error).stack ?? String(err);
      process.stderr.write(`[${bench.name}] failed: ${(err as Error).stack ?? String(err)}\n`);
    } finally {
      clearTimeout(watchdog);
    }
    const record = ctx.finish();
    ctx.log(`done in ${record.durationS} s`);
    writeReport(resultsDir, ORDER);
  }
  process.stderr.write(`bench: report in ${join(resultsDir, 'report.md')}\n`);
  // Exit even if a failed benchmark left a handle open; the exit handlers kill what is left.
  process.exit(failed ? 1 : 0);
}

void main();
