// Facts about the machine and about one process, read from /proc (Linux).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';

export interface MachineFacts {
  at: string;
  cores: number;
  cpuModel: string;
  loadAverage: [number, number, number];
  memoryTotalMB: number;
  memoryAvailableMB: number;
  node: string;
  kernel: string;
  platform: string;
}

function memAvailableMB(): number {
  try {
    const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Math.round(Number(m[1]) / 1024);
  } catch {
    // not Linux
  }
  return Math.round(os.freemem() / 2 ** 20);
}

export function machineFacts(): MachineFacts {
  const cpus = os.cpus();
  const [l1, l5, l15] = os.loadavg();
  return {
    at: new Date().toISOString(),
    cores: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    loadAverage: [round2(l1!), round2(l5!), round2(l15!)],
    memoryTotalMB: Math.round(os.totalmem() / 2 ** 20),
    memoryAvailableMB: memAvailableMB(),
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    platform: `${os.platform()} ${os.arch()}`,
  };
}

const round2 = (v: number) => Math.round(v * 100) / 100;

let clockTicks: number | undefined;
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 5000 }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** Resident set size in MB, or NaN when the process is gone. */
export function rssMB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** CPU time (user + system) in ms the process used so far, or NaN. */
export function cpuMs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // fields after the command name (which may hold spaces) start after the last ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) / ticksPerSecond()) * 1000;
  } catch {
    return NaN;
  }
}

export interface ProcessSample {
  /** seconds since the window started */
  t: number;
  rssMB: number;
  /** CPU % of one core over the last interval */
  cpuPct: number;
}

export interface ProcessWindow {
  seconds: number;
  rssAvgMB: number;
  rssMaxMB: number;
  /** CPU % of one core over the whole window */
  cpuPct: number;
  samples: ProcessSample[];
}

/** Samples RSS and CPU of `pid` every intervalMs for ms; CPU is measured over the whole window too. */
export async function sampleProcess(pid: number, ms: number, intervalMs = 1000): Promise<ProcessWindow> {
  const t0 = performance.now();
  const cpu0 = cpuMs(pid);
  let lastT = t0;
  let lastCpu = cpu0;
  const samples: ProcessSample[] = [];
  while (performance.now() - t0 < ms) {
    await new Promise((r) => setTimeout(r, Math.min(intervalMs, ms - (performance.now() - t0))));
    const now = performance.now();
    const cpu = cpuMs(pid);
    samples.push({ t: (now - t0) / 1000, rssMB: rssMB(pid), cpuPct: ((cpu - lastCpu) / (now - lastT)) * 100 });
    lastT = now;
    lastCpu = cpu;
  }
  const rss = samples.map((s) => s.rssMB).filter(Number.isFinite);
  return {
    seconds: (lastT - t0) / 1000,
    rssAvgMB: rss.reduce((a, b) => a + b, 0) / Math.max(1, rss.length),
    rssMaxMB: Math.max(...rss),
    cpuPct: ((lastCpu - cpu0) / (lastT - t0)) * 100,
    samples,
  };
}
