// When V8's optimizing compiler comes back on. bin/kadnode starts node without it: module loading and
// start-up are a burst of short-lived hot code whose optimization costs ~10 MB of resident memory for
// nothing. An idle daemon does not need it either: its timers would still get optimized, in V8's
// background threads, whose malloc arenas glibc keeps (~3.5 MB of resident memory: four idle daemons
// side by side averaged 54.8 MB with it back at start, 51.3 MB without). So it comes back once the daemon works: a share of a core at or above
// `busyShare` in `busyChecks` checks in a row, `checkMs` apart (DNS under load, a busy DHT), unless node
// itself was told to run without it. Soon, because until then a burst runs slower: with the optimizer
// back after 1 s, a 10 s dnsperf run answered 0.59 x dnsmasq against 0.63 with it on from the start
// (npm run bench -- dns, side by side; multi-source 0.96 against 0.97).
import { setFlagsFromString } from 'node:v8';

export interface OptimizerDeps {
  /** process.cpuUsage */
  cpuUsage(): NodeJS.CpuUsage;
  /** v8.setFlagsFromString */
  setFlags(flags: string): void;
  /** node's own flags (process.execArgv and NODE_OPTIONS) */
  nodeFlags: readonly string[];
}

export interface OptimizerOptions {
  busyShare: number;
  busyChecks: number;
  checkMs: number;
}

export const DEFAULT_OPTIMIZER_OPTIONS: OptimizerOptions = { busyShare: 0.2, busyChecks: 4, checkMs: 250 };

export class OptimizerSwitch {
  private timer: NodeJS.Timeout | null = null;
  private last: NodeJS.CpuUsage | null = null;
  private busyFor = 0;
  enabled = false;

  constructor(private readonly deps: OptimizerDeps = defaultDeps(), private readonly options: OptimizerOptions = DEFAULT_OPTIMIZER_OPTIONS) {}

  start(): void {
    if (this.deps.nodeFlags.some((f) => /^--(no-opt|jitless|lite-mode)\b/.test(f))) return;
    this.last = this.deps.cpuUsage();
    this.timer = setInterval(() => this.check(this.options.checkMs), this.options.checkMs);
    this.timer.unref();
  }

  /** One look at the CPU time used since the last one, `elapsedMs` ago. */
  check(elapsedMs: number): void {
    if (this.enabled || !this.last) return;
    const now = this.deps.cpuUsage();
    const usedMs = (now.user - this.last.user + now.system - this.last.system) / 1000;
    this.last = now;
    this.busyFor = usedMs >= this.options.busyShare * elapsedMs ? this.busyFor + 1 : 0;
    if (this.busyFor < this.options.busyChecks) return;
    this.enabled = true;
    this.deps.setFlags('--opt');
    this.stop();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }
}

function defaultDeps(): OptimizerDeps {
  return {
    cpuUsage: () => process.cpuUsage(),
    setFlags: setFlagsFromString,
    nodeFlags: [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)],
  };
}
