// Figures, results and the Markdown report. Every figure is printed at once as `name: value unit`
// (stdout), kept in bench/results/<bench>.json, and listed in bench/results/report.md, which is
// rebuilt from every JSON file there after each run (a benchmark run alone updates its own section).
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { machineFacts, type MachineFacts } from './proc.js';
import { profileMarkdown, type ProfileSummary } from './profile.js';

export interface Target {
  op: '>=' | '<=';
  value: number;
}

export interface Figure {
  name: string;
  value: number;
  unit: string;
  target?: Target;
  met?: boolean;
  /** how far from the target, when missed */
  miss?: string;
  /** the command line that produced it, when it is not the benchmark's own */
  command?: string;
  note?: string;
}

export interface BenchRecord {
  name: string;
  title: string;
  command: string;
  started: string;
  durationS: number;
  skipped?: string;
  failed?: string;
  figures: Figure[];
  plots: Array<{ file: string; caption: string }>;
  notes: string[];
  profiles: Array<{ label: string; command: string; summary: ProfileSummary }>;
  machineStart: MachineFacts;
  machineEnd?: MachineFacts;
  data: Record<string, unknown>;
}

export function formatValue(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a >= 100 || Number.isInteger(v)) return String(Math.round(v));
  if (a >= 10) return v.toFixed(1);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(2);
}

function judge(value: number, unit: string, target: Target): { met: boolean; miss?: string } {
  if (!Number.isFinite(value)) return { met: false, miss: 'no value' };
  if (target.op === '>=') {
    if (value >= target.value) return { met: true };
    const ratio = target.value !== 0 ? ` (${formatValue((value / target.value) * 100)}% of the target)` : '';
    return { met: false, miss: `${formatValue(target.value - value)} ${unit} short${ratio}` };
  }
  if (value <= target.value) return { met: true };
  const ratio = target.value !== 0 ? ` (${formatValue(value / target.value)}× the target)` : '';
  return { met: false, miss: `${formatValue(value - target.value)} ${unit} over${ratio}` };
}

export function targetText(t: Target | undefined, unit: string): string {
  return t ? `${t.op === '>=' ? '≥' : '≤'} ${formatValue(t.value)} ${unit}` : '–';
}

export interface Benchmark {
  name: string;
  title: string;
  run(ctx: BenchContext): Promise<void>;
  /** run only when named (`npm run bench -- NAME`), not by a plain `npm run bench` */
  onlyWhenNamed?: boolean;
  /** the hard stop for this benchmark; bench/run.ts uses 10 minutes when not set */
  hardLimitMinutes?: number;
}

export class BenchContext {
  readonly record: BenchRecord;
  private readonly t0 = performance.now();

  constructor(readonly resultsDir: string, name: string, title: string, command: string) {
    mkdirSync(resultsDir, { recursive: true });
    this.record = {
      name,
      title,
      command,
      started: new Date().toISOString(),
      durationS: 0,
      figures: [],
      plots: [],
      notes: [],
      profiles: [],
      machineStart: machineFacts(),
      data: {},
    };
  }

  get name(): string {
    return this.record.name;
  }

  /** Records a figure and prints `bench.name: value unit`. */
  figure(name: string, value: number, unit: string, opts: { target?: Target; command?: string; note?: string } = {}): Figure {
    const f: Figure = { name, value, unit, ...opts };
    if (opts.target) Object.assign(f, judge(value, unit, opts.target));
    this.record.figures.push(f);
    process.stdout.write(`${this.name}.${name}: ${formatValue(value)} ${unit}\n`);
    return f;
  }

  /** Progress for people watching (stderr, so stdout holds only figures). */
  log(message: string): void {
    const s = ((performance.now() - this.t0) / 1000).toFixed(1);
    process.stderr.write(`[${this.name} ${s}s] ${message}\n`);
  }

  note(text: string): void {
    this.record.notes.push(text);
  }

  plot(base: string, caption: string, svg: string): void {
    const file = `${this.name}-${base}.svg`;
    writeFileSync(join(this.resultsDir, file), svg);
    this.record.plots.push({ file, caption });
  }

  profile(label: string, command: string, summary: ProfileSummary): void {
    this.record.profiles.push({ label, command, summary });
  }

  skip(reason: string): void {
    this.record.skipped = reason;
    process.stderr.write(`[${this.name}] skipped: ${reason}\n`);
  }

  elapsedS(): number {
    return (performance.now() - this.t0) / 1000;
  }

  finish(): BenchRecord {
    this.record.durationS = Math.round(this.elapsedS() * 10) / 10;
    this.record.machineEnd = machineFacts();
    writeFileSync(join(this.resultsDir, `${this.name}.json`), JSON.stringify(this.record, null, 2) + '\n');
    return this.record;
  }
}

function machineLine(m: MachineFacts): string {
  return `${m.cores} cores (${m.cpuModel}), load average ${m.loadAverage.join(' / ')}, memory ${m.memoryTotalMB} MB (${m.memoryAvailableMB} MB available), node ${m.node}, ${m.kernel}`;
}

/** Rebuilds report.md from every <bench>.json in the results folder, in the given order. */
export function writeReport(resultsDir: string, order: string[]): string {
  const records: BenchRecord[] = [];
  for (const file of readdirSync(resultsDir).filter((f) => f.endsWith('.json')).sort()) {
    try {
      const r = JSON.parse(readFileSync(join(resultsDir, file), 'utf8')) as BenchRecord;
      // only our benchmarks' files (others may keep results in this folder too)
      if (r && order.includes(r.name) && file === `${r.name}.json` && Array.isArray(r.figures)) records.push(r);
    } catch {
      // not ours
    }
  }
  records.sort((a, b) => (order.indexOf(a.name) + 1 || 99) - (order.indexOf(b.name) + 1 || 99));
  const latest = [...records].sort((a, b) => b.started.localeCompare(a.started))[0];
  const out: string[] = ['# kadnode benchmarks', ''];
  out.push(
    'Made by `npm run bench` (all benchmarks) or `npm run bench -- NAME` (one). Each section comes from',
    '`bench/results/NAME.json` and says when it ran, how long it took and on what machine; the SVG plots',
    'lie beside this file. Targets are goals (issue 8), not assertions: a missed one says by how much.',
    'Latencies and rates depend on what else the 2 cores do: each section gives the load average at its',
    'start and end (a load above 2 means other processes, e.g. test suites, competed with the benchmark).',
    '',
  );
  if (latest) out.push(`Machine (latest run, ${latest.started}): ${machineLine(latest.machineStart)}.`, '');
  out.push('## Summary', '', '| benchmark | figure | value | target | met? |', '|---|---|---:|---|---|');
  for (const r of records) {
    if (r.skipped) out.push(`| ${r.name} | (skipped: ${r.skipped}) | | | |`);
    if (r.failed) out.push(`| ${r.name} | (failed: ${r.failed.split('\n')[0]}) | | | |`);
    for (const f of r.figures) {
      if (!f.target) continue;
      out.push(`| ${r.name} | ${f.name} | ${formatValue(f.value)} ${f.unit} | ${targetText(f.target, f.unit)} | ${f.met ? 'yes' : `**no**: ${f.miss}`} |`);
    }
  }
  out.push('');
  for (const r of records) {
    out.push(`## ${r.name}: ${r.title}`, '');
    out.push(`- command: \`${r.command}\``);
    out.push(`- ran ${r.started}, took ${formatValue(r.durationS)} s`);
    out.push(`- machine at start: ${machineLine(r.machineStart)}`);
    if (r.machineEnd) out.push(`- load average at end: ${r.machineEnd.loadAverage.join(' / ')}`);
    out.push('');
    if (r.skipped) out.push(`Skipped: ${r.skipped}`, '');
    if (r.failed) out.push('Failed:', '', '```', r.failed, '```', '');
    if (r.figures.length) {
      out.push('| figure | value | target | met? | command line |', '|---|---:|---|---|---|');
      for (const f of r.figures) {
        const met = f.target ? (f.met ? 'yes' : `**no**: ${f.miss}`) : '';
        out.push(`| ${f.name} | ${formatValue(f.value)} ${f.unit} | ${targetText(f.target, f.unit)} | ${met} | ${f.command ? `\`${f.command}\`` : `\`${r.command}\``} |`);
      }
      out.push('');
      const withNotes = r.figures.filter((f) => f.note);
      for (const f of withNotes) out.push(`- ${f.name}: ${f.note}`);
      if (withNotes.length) out.push('');
    }
    for (const n of r.notes) out.push(n, '');
    for (const p of r.plots) out.push(`![${p.caption}](${p.file})`, '', `*${p.caption}*`, '');
    for (const p of r.profiles) {
      out.push(`### Profile: ${p.label}`, '', `\`${p.command}\``, '', ...profileMarkdown(p.summary), '');
    }
  }
  const text = out.join('\n');
  writeFileSync(join(resultsDir, 'report.md'), text);
  return text;
}
