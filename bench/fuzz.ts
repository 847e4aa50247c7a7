// The long fuzz run (issue 9): at least 1M seeded inputs per surface into the real handlers of
// test/fuzz/drivers.ts (the same drivers and fast-check arbitraries as the bounded run in `npm test`),
// each surface in a child process of its own, so a crash that kills the process is counted and memory
// is measured per surface. Reports per surface: inputs, crashes, probes (a valid request answered every
// 100k inputs and at the end), RSS and heap (after a full GC) after warm-up and at the end, heap peak.
// Target: 0 crashes, heap flat: over the second half of the inputs the heap (after a full GC) grows by
// at most HEAP_FLAT_MB. A leak grows with every input; the bounded tables a surface fills (announced
// values, blacklist, caches, rate-limit entries) fill in the first half and stay. The growth from the
// warm-up (after the first chunk) to the end is reported too.
//
//   npm run bench -- fuzz                      through bench/run.ts (fuzzBench below)
//   node dist/bench/fuzz.js [--inputs N] [--surfaces dns-udp,web] [--seed N] [--parallel N] [--max-minutes M]
//                                              on its own (after `npm run build`); FUZZ_INPUTS=N works for both
//
// Each surface's inputs are fc.sample(arbitrary, { seed: seed + chunk, numRuns: 5000 }) for chunk 0, 1, ...,
// so input #i of a surface is reproducible from the seed alone; the first crashing inputs are written to
// bench/results/fuzz-crashes-<surface>.json.
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import fc from 'fast-check';
import type { Benchmark, BenchContext } from './lib/report.js';
import { memory, SURFACES, type Memory } from '../test/fuzz/drivers.js';

const HERE = fileURLToPath(import.meta.url);
const RESULTS = join(resolve(dirname(HERE), '..', '..'), 'bench', 'results');
const CHUNK = 5000;
const PROBE_EVERY = 100_000;
/** second-half heap growth up to this is flat: a leak of 16 bytes an input over 500k inputs reaches it */
const HEAP_FLAT_MB = 8;
const DEFAULT_INPUTS = 1_000_000;
const DEFAULT_SEED = 20_251_121;

export interface SurfaceResult {
  surface: string;
  what: string;
  inputs: number;
  crashes: number;
  probes: number;
  probeFailures: number;
  seconds: number;
  /** after warm-up (the first chunk) and at the end, after a full GC */
  rssBeforeMB: number;
  rssAfterMB: number;
  heapBeforeMB: number;
  /** after half the inputs */
  heapMidMB: number;
  heapAfterMB: number;
  heapPeakMB: number;
  figures: Record<string, number>;
  firstCrashes: Array<{ input: number; message: string; value: string }>;
  /** the child died or ran out of time */
  died?: string;
}

const MB = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

function show(value: unknown): string {
  if (Buffer.isBuffer(value)) return `hex:${value.toString('hex')}`;
  try {
    return JSON.stringify(value, (_k, v: unknown) => (v instanceof Uint8Array ? `hex:${Buffer.from(v).toString('hex')}` : v)).slice(0, 4000);
  } catch {
    return String(value).slice(0, 4000);
  }
}

// ---------------------------------------------------------------- one surface (child process)

async function runSurface(name: string, inputs: number, seed: number): Promise<SurfaceResult> {
  const surface = SURFACES.find((s) => s.name === name);
  if (!surface) throw new Error(`unknown surface ${name}`);
  const result: SurfaceResult = { surface: name, what: surface.what, inputs: 0, crashes: 0, probes: 0, probeFailures: 0, seconds: 0, rssBeforeMB: 0, rssAfterMB: 0, heapBeforeMB: 0, heapMidMB: 0, heapAfterMB: 0, heapPeakMB: 0, figures: {}, firstCrashes: [] };
  const crash = (input: number, message: string, value: unknown) => {
    result.crashes++;
    if (result.firstCrashes.length < 5) result.firstCrashes.push({ input, message: message.slice(0, 2000), value: show(value) });
  };
  let current: unknown;
  process.on('uncaughtException', (err) => crash(result.inputs, `uncaught: ${err.stack ?? err}`, current));
  process.on('unhandledRejection', (err) => crash(result.inputs, `unhandled rejection: ${(err as Error)?.stack ?? err}`, current));
  const driver = await surface.start();
  const probe = async () => {
    result.probes++;
    try {
      await driver.probe();
    } catch (err) {
      result.probeFailures++;
      crash(result.inputs, `probe failed: ${(err as Error).message}`, current);
    }
  };
  await probe();
  const t0 = performance.now();
  let before: Memory | undefined;
  let mid: Memory | undefined;
  let nextProbe = PROBE_EVERY;
  for (let chunk = 0; result.inputs < inputs; chunk++) {
    const batch = fc.sample(surface.arbitrary, { seed: seed + chunk, numRuns: Math.min(CHUNK, inputs - result.inputs) });
    for (const value of batch) {
      current = value;
      try {
        await driver.feed(value as never);
      } catch (err) {
        crash(result.inputs, (err as Error).stack ?? String(err), value);
      }
      result.inputs++;
    }
    if (!before) before = await memory();
    if (!mid && result.inputs >= inputs / 2) mid = await memory();
    if (result.inputs >= nextProbe) {
      nextProbe += PROBE_EVERY;
      await probe();
      const m = process.memoryUsage();
      result.heapPeakMB = Math.max(result.heapPeakMB, MB(m.heapUsed));
      process.stderr.write(`[fuzz ${name}] ${result.inputs} inputs, ${result.crashes} crashes, ${Math.round((performance.now() - t0) / 1000)} s, rss ${MB(m.rss)} MB, heap ${MB(m.heapUsed)} MB\n`);
    }
  }
  await probe();
  result.seconds = Math.round((performance.now() - t0) / 100) / 10;
  const after = await memory();
  result.figures = driver.figures?.() ?? {};
  await driver.stop();
  before ??= after;
  mid ??= after;
  Object.assign(result, { rssBeforeMB: MB(before.rss), rssAfterMB: MB(after.rss), heapBeforeMB: MB(before.heapUsed), heapMidMB: MB(mid.heapUsed), heapAfterMB: MB(after.heapUsed) });
  result.heapPeakMB = Math.max(result.heapPeakMB, result.heapAfterMB);
  return result;
}

// ---------------------------------------------------------------- every surface (parent)

export interface FuzzOptions {
  inputs: number;
  surfaces: string[];
  seed: number;
  parallel: number;
  maxMinutes: number;
  log(line: string): void;
}

function runChild(name: string, o: FuzzOptions, index: number): Promise<SurfaceResult> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [HERE, '--child', name, '--inputs', String(o.inputs), '--seed', String(o.seed + index * 1_000_000)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      err += c;
      for (const line of c.split('\n')) if (line.startsWith('[fuzz ')) o.log(line.slice(1).replace(/\]/, ':'));
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), o.maxMinutes * 60_000);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const line = out.trim().split('\n').pop() ?? '';
      try {
        const r = JSON.parse(line) as SurfaceResult;
        if (code !== 0) r.died = `exit ${code ?? signal}`;
        return done(r);
      } catch {
        const surface = SURFACES.find((s) => s.name === name);
        const lines = err.trim().split('\n');
        const reason = lines.find((l) => /FATAL ERROR|out of memory|Error:/.test(l)) ?? lines[lines.length - 1] ?? '';
        const died = signal === 'SIGKILL' ? `killed after ${o.maxMinutes} minutes` : `exit ${code ?? signal}: ${reason.trim().slice(0, 160)}`;
        done({ surface: name, what: surface?.what ?? '', inputs: 0, crashes: 1, probes: 0, probeFailures: 0, seconds: 0, rssBeforeMB: 0, rssAfterMB: 0, heapBeforeMB: 0, heapMidMB: 0, heapAfterMB: 0, heapPeakMB: 0, figures: {}, firstCrashes: [], died });
      }
    });
  });
}

export async function runFuzz(o: FuzzOptions): Promise<SurfaceResult[]> {
  const names = o.surfaces.length ? o.surfaces : SURFACES.map((s) => s.name);
  const results: SurfaceResult[] = new Array(names.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, o.parallel) }, async () => {
      while (next < names.length) {
        const i = next++;
        const name = names[i]!;
        o.log(`${name}: start, ${o.inputs} inputs`);
        results[i] = await runChild(name, o, SURFACES.findIndex((s) => s.name === name));
        const r = results[i]!;
        o.log(`${name}: ${r.inputs} inputs in ${r.seconds} s, ${r.crashes} crashes, heap ${r.heapBeforeMB} → ${r.heapMidMB} → ${r.heapAfterMB} MB, rss ${r.rssBeforeMB} → ${r.rssAfterMB} MB${r.died ? `, DIED: ${r.died}` : ''}`);
        if (r.firstCrashes.length) {
          mkdirSync(RESULTS, { recursive: true });
          writeFileSync(join(RESULTS, `fuzz-crashes-${name}.json`), JSON.stringify(r.firstCrashes, null, 2) + '\n');
        }
      }
    }),
  );
  return results;
}

export function table(results: SurfaceResult[]): string {
  const rows = results.map((r) => `| ${r.surface} | ${r.inputs} | ${r.crashes}${r.died ? ` (${r.died})` : ''} | ${r.probes - r.probeFailures}/${r.probes} | ${r.rssBeforeMB} → ${r.rssAfterMB} | ${r.heapBeforeMB} → ${r.heapMidMB} → ${r.heapAfterMB} (peak ${r.heapPeakMB}) | ${r.seconds} |`);
  return ['| surface | inputs | crashes | probes answered | RSS MB (after warm-up → end) | heap MB after GC: warm-up → half → end (peak seen without GC) | s |', '|---|---:|---:|---:|---|---|---:|', ...rows].join('\n');
}

function options(argv: string[], log: (line: string) => void): FuzzOptions {
  const get = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  return {
    inputs: Number(get('--inputs') ?? process.env.FUZZ_INPUTS ?? DEFAULT_INPUTS),
    surfaces: (get('--surfaces') ?? process.env.FUZZ_SURFACES ?? '').split(',').filter(Boolean),
    seed: Number(get('--seed') ?? process.env.FUZZ_SEED ?? DEFAULT_SEED),
    parallel: Number(get('--parallel') ?? 2),
    maxMinutes: Number(get('--max-minutes') ?? 45),
    log,
  };
}

/** For bench/run.ts: `npm run bench -- fuzz`. Takes FUZZ_INPUTS / FUZZ_SURFACES / FUZZ_SEED from the environment. */
export const fuzzBench: Benchmark = {
  name: 'fuzz',
  title: 'Fuzzing: 1M seeded inputs per surface, crashes and memory',
  async run(ctx: BenchContext) {
    const o = options([], (line) => ctx.log(line));
    const results = await runFuzz(o);
    for (const r of results) {
      ctx.figure(`${r.surface}.inputs`, r.inputs, 'inputs', { target: { op: '>=', value: o.inputs } });
      ctx.figure(`${r.surface}.crashes`, r.crashes, 'crashes', { target: { op: '<=', value: 0 } });
      ctx.figure(`${r.surface}.heap_growth_second_half`, Math.round((r.heapAfterMB - r.heapMidMB) * 10) / 10, 'MB', { target: { op: '<=', value: HEAP_FLAT_MB }, note: `heap after GC ${r.heapMidMB} → ${r.heapAfterMB} MB over the second half of the inputs` });
      ctx.figure(`${r.surface}.heap_growth`, Math.round((r.heapAfterMB - r.heapBeforeMB) * 10) / 10, 'MB', { note: `heap ${r.heapBeforeMB} → ${r.heapMidMB} → ${r.heapAfterMB} MB after GC (warm-up, half, end; peak ${r.heapPeakMB}), RSS ${r.rssBeforeMB} → ${r.rssAfterMB} MB: bounded tables filling` });
      ctx.figure(`${r.surface}.rss_after`, r.rssAfterMB, 'MB');
    }
    ctx.note(`Seeds: surface i uses ${o.seed} + i × 1000000 + chunk. What each surface covers:\n\n${results.map((r) => `- ${r.surface}: ${r.what}`).join('\n')}\n\n${table(results)}`);
    ctx.record.data.fuzz = results;
  },
};

// ---------------------------------------------------------------- on its own

async function main(argv: string[]): Promise<void> {
  const childAt = argv.indexOf('--child');
  if (childAt >= 0) {
    const o = options(argv, () => undefined);
    const result = await runSurface(argv[childAt + 1]!, o.inputs, o.seed);
    process.stdout.write(JSON.stringify(result) + '\n');
    // sockets of a stopped daemon may keep the loop alive for a moment: the result is out, leave
    process.exit(0);
  }
  const o = options(argv, (line) => process.stderr.write(`[fuzz] ${line}\n`));
  const results = await runFuzz(o);
  process.stdout.write(table(results) + '\n');
  mkdirSync(RESULTS, { recursive: true });
  writeFileSync(join(RESULTS, 'fuzz-standalone.json'), JSON.stringify({ inputsPerSurface: o.inputs, seed: o.seed, results }, null, 2) + '\n');
  const bad = results.filter((r) => r.crashes > 0 || r.died || r.inputs < o.inputs || r.heapAfterMB - r.heapMidMB > HEAP_FLAT_MB);
  process.exitCode = bad.length ? 1 : 0;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main(process.argv.slice(2));
