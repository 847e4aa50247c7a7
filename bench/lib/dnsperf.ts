// dnsperf (Debian package dnsperf) against one server, parsed.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { haveCommand } from '../../test/e2e/harness.js';
import { run } from '../../test/e2e/netns.js';

export interface DnsperfResult {
  command: string;
  qps: number;
  sent: number;
  completed: number;
  lost: number;
  avgLatencyMs: number;
  rcodes: string;
  raw: string;
}

export function haveDnsperf(): boolean {
  return haveCommand('dnsperf');
}

/** Runs dnsperf for `seconds` (max rate, or `qps` per second) with the names (type A) in turn. */
export async function dnsperf(opts: { server: string; port: number; names: string[]; seconds: number; qps?: number; dir: string; label: string }): Promise<DnsperfResult> {
  const file = join(opts.dir, `queries-${opts.label}.txt`);
  writeFileSync(file, opts.names.map((n) => `${n} A`).join('\n') + '\n');
  const args = ['-s', opts.server, '-p', String(opts.port), '-d', file, '-l', String(opts.seconds), '-c', '1', '-T', '1', '-q', '100'];
  if (opts.qps) args.push('-Q', String(opts.qps));
  const r = await run(undefined, 'dnsperf', args, { timeoutMs: (opts.seconds + 20) * 1000 });
  const out = r.stdout;
  const num = (re: RegExp) => {
    const m = re.exec(out);
    return m ? Number(m[1]) : NaN;
  };
  if (r.code !== 0 || !/Queries per second/.test(out)) throw new Error(`dnsperf failed (exit ${r.code}): ${(r.stderr || out).slice(-500)}`);
  return {
    command: `dnsperf ${args.join(' ')}`,
    qps: num(/Queries per second:\s+([\d.]+)/),
    sent: num(/Queries sent:\s+(\d+)/),
    completed: num(/Queries completed:\s+(\d+)/),
    lost: num(/Queries lost:\s+(\d+)/),
    avgLatencyMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
    rcodes: /Response codes:\s+(.*)/.exec(out)?.[1]?.trim() ?? '',
    raw: out,
  };
}
