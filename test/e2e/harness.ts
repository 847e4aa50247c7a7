// Shared helpers for the end-to-end tests: start the real bin/kadnode, talk to it through its console
// and bin/kadnode-ctl, query it with the real dig. Every wait is bounded; every daemon started here is
// killed (by pid) on process exit or signal even when a test fails half way.
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants as fsConstants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { createSocket } from 'node:dgram';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inNetns, netnsSkipReason, registerCleanup, run, type ExecResult } from './netns.js';

export { netnsSkipReason, registerCleanup } from './netns.js';

/** Repository root: this file runs as <root>/dist/test/e2e/harness.js. */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const kadnodeBin = join(repoRoot, 'bin', 'kadnode');
export const kadnodeCtlBin = join(repoRoot, 'bin', 'kadnode-ctl');

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- environment checks

const commandCache = new Map<string, boolean>();

/** True when `name` is an executable file somewhere on PATH. */
export function haveCommand(name: string): boolean {
  const cached = commandCache.get(name);
  if (cached !== undefined) return cached;
  let found = false;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), fsConstants.X_OK);
      found = true;
      break;
    } catch {
      // not here
    }
  }
  commandCache.set(name, found);
  return found;
}

/** Reason to skip when dig is missing, else false (use as a node:test `skip` option). */
export function skipUnlessDig(): string | false {
  return haveCommand('dig') ? false : 'needs dig (Debian package dnsutils; scripts/install-test-deps.sh installs it as root)';
}

/** Reason to skip the network-namespace tests, else false (use as a node:test `skip` option). */
export function skipUnlessNetns(): string | false {
  const reason = netnsSkipReason();
  if (reason) return reason;
  return skipUnlessDig();
}

// ---------------------------------------------------------------- ports and files

function udpFree(port: number, host: string): Promise<boolean> {
  return new Promise((res) => {
    const s = createSocket('udp4');
    s.once('error', () => {
      s.close();
      res(false);
    });
    s.bind(port, host, () => s.close(() => res(true)));
  });
}

function tcpFree(port: number, host: string): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.once('error', () => res(false));
    srv.listen(port, host, () => srv.close(() => res(true)));
  });
}

/**
 * `count` distinct random ports in [min, max] that are free right now for UDP on 0.0.0.0 and TCP on
 * 127.0.0.1 (so each can be a DHT, DNS or control port). Bounded number of attempts.
 */
export async function pickPorts(count: number, min = 20000, max = 40000): Promise<number[]> {
  const chosen = new Set<number>();
  for (let attempt = 0; attempt < count * 50 && chosen.size < count; attempt++) {
    const port = min + Math.floor(Math.random() * (max - min + 1));
    if (chosen.has(port)) continue;
    if ((await udpFree(port, '0.0.0.0')) && (await tcpFree(port, '127.0.0.1'))) chosen.add(port);
  }
  if (chosen.size < count) throw new Error(`could not find ${count} free ports in ${min}-${max}`);
  return [...chosen];
}

/** A temporary directory removed on process exit; returns its path and a remove function. */
export function tempDir(label = 'kadnode-e2e'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), `${label}-`));
  const remove = (): void => rmSync(path, { recursive: true, force: true });
  const unregister = registerCleanup(remove);
  return {
    path,
    remove: () => {
      unregister();
      remove();
    },
  };
}

/** Writes an empty peer file (a daemon given it bootstraps from nobody) and returns its path. */
export function emptyPeerFile(dir: string, name = 'peers-empty.txt'): string {
  const p = join(dir, name);
  writeFileSync(p, '');
  return p;
}

// ---------------------------------------------------------------- daemons

export interface DaemonOptions {
  args: string[];
  /** run inside this network namespace (via `ip netns exec`) */
  netns?: string;
  /** extra environment (merged over process.env) */
  env?: NodeJS.ProcessEnv;
  /** 'pipe' (default: the console is usable through command()) or 'ignore' (stdin is /dev/null) */
  stdin?: 'pipe' | 'ignore';
  /** a label for messages */
  label?: string;
  /** wait for this stderr line before resolving; default /\(I\) Ready\./; null: do not wait */
  readyLine?: RegExp | null;
  /** bound for readyLine, default 20 s */
  readyTimeoutMs?: number;
  /**
   * Local peer discovery and UPnP/NAT-PMP send to multicast groups and the default gateway, so they stay
   * off unless a test asks for them — and only a test inside a namespace may (the host's own LAN and
   * gateway are never a test target).
   */
  lpd?: boolean;
  portForwarding?: boolean;
}

/** The daemon arguments every test gets unless it opts in: no web port clashes, no LAN or gateway traffic. */
export function safeDaemonArgs(opts: Pick<DaemonOptions, 'args' | 'netns' | 'lpd' | 'portForwarding'>): string[] {
  if ((opts.lpd || opts.portForwarding) && !opts.netns) throw new Error('LPD and port forwarding are only tested inside a network namespace');
  const args = [...opts.args];
  // Several test daemons share one loopback: the fixed-port local surfaces stay off unless asked for.
  if (!args.includes('--web-port')) args.push('--web-port', '0');
  if (!args.includes('--nss-port')) args.push('--nss-port', '0');
  if (!args.includes('--nss-port')) args.push('--nss-port', '0');
  if (!opts.lpd && !args.includes('--lpd-disable')) args.push('--lpd-disable');
  if (!opts.portForwarding && !args.includes('--fwd-disable')) args.push('--fwd-disable');
  return args;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One running bin/kadnode. */
export class Daemon {
  readonly label: string;
  readonly child: ChildProcess;
  readonly pid: number;
  readonly netns: string | undefined;
  readonly stderrLines: string[] = [];
  readonly stdoutLines: string[] = [];
  readonly exited: Promise<ExitInfo>;
  exitInfo: ExitInfo | undefined;
  private stdoutBuf = '';
  private stderrBuf = '';
  private stdoutSeq = 0;
  private readonly listeners = new Set<() => void>();
  private readonly unregister: () => void;

  constructor(child: ChildProcess, label: string, netns: string | undefined) {
    if (child.pid === undefined) throw new Error(`${label}: no pid (spawn failed)`);
    this.child = child;
    this.pid = child.pid;
    this.label = label;
    this.netns = netns;
    const pid = child.pid;
    // By pid, only this process; SIGKILL because the process is exiting and cannot wait.
    this.unregister = registerCleanup(() => {
      if (this.exitInfo === undefined) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    });
    child.stdout?.setEncoding('utf8');
    child.stderr?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      this.stdoutBuf += chunk;
      this.stdoutSeq++;
      this.stdoutBuf = this.split(this.stdoutBuf, this.stdoutLines);
      this.notify();
    });
    child.stderr?.on('data', (chunk: string) => {
      this.stderrBuf += chunk;
      this.stderrBuf = this.split(this.stderrBuf, this.stderrLines);
      this.notify();
    });
    // a daemon that dies must not crash the test process through EPIPE on its stdin
    child.stdin?.on('error', () => undefined);
    this.exited = new Promise((res) => {
      child.once('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        this.unregister();
        // flush partial lines
        if (this.stderrBuf) this.stderrLines.push(this.stderrBuf);
        if (this.stdoutBuf) this.stdoutLines.push(this.stdoutBuf);
        this.stderrBuf = this.stdoutBuf = '';
        this.notify();
        res(this.exitInfo);
      });
    });
  }

  private split(buf: string, into: string[]): string {
    const parts = buf.split('\n');
    const rest = parts.pop() ?? '';
    for (const p of parts) into.push(p.replace(/\r$/, ''));
    return rest;
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  /** Resolves on the next output or exit, or after ms. */
  private changed(ms: number): Promise<void> {
    return new Promise((res) => {
      const done = (): void => {
        clearTimeout(timer);
        this.listeners.delete(done);
        res();
      };
      const timer = setTimeout(done, ms);
      this.listeners.add(done);
    });
  }

  get alive(): boolean {
    if (this.exitInfo !== undefined) return false;
    try {
      process.kill(this.pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  /** The last n stderr lines, for failure messages. */
  tail(n = 15): string {
    return this.stderrLines.slice(-n).join('\n');
  }

  /**
   * Waits until a stderr line (any so far, or a later one) matches; returns it. Rejects after
   * timeoutMs or when the process exits first, with the stderr tail in the message.
   */
  async waitForLine(re: RegExp, timeoutMs: number, from = 0): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let i = from;
    for (;;) {
      for (; i < this.stderrLines.length; i++) {
        const line = this.stderrLines[i]!;
        if (re.test(line)) return line;
      }
      if (this.exitInfo !== undefined) {
        throw new Error(`${this.label} exited (${JSON.stringify(this.exitInfo)}) before printing ${re}; stderr:\n${this.tail()}`);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${this.label}: no stderr line matching ${re} within ${timeoutMs} ms; stderr:\n${this.tail()}`);
      await this.changed(Math.min(left, 250));
    }
  }

  /**
   * Writes one console command to stdin and collects the stdout lines that follow, until no new output
   * came for settleMs (after at least one line) or timeoutMs passed.
   */
  async command(line: string, opts: { settleMs?: number; timeoutMs?: number } = {}): Promise<string[]> {
    const settleMs = opts.settleMs ?? 300;
    const deadline = Date.now() + (opts.timeoutMs ?? 5000);
    const stdin = this.child.stdin;
    if (!stdin || stdin.destroyed || stdin.writableEnded) throw new Error(`${this.label}: stdin is not a pipe (or closed)`);
    const start = this.stdoutLines.length;
    stdin.write(line + '\n');
    let seq = this.stdoutSeq;
    let lastChange = Date.now();
    while (Date.now() < deadline && this.exitInfo === undefined) {
      await this.changed(Math.min(50, Math.max(1, deadline - Date.now())));
      if (this.stdoutSeq !== seq) {
        seq = this.stdoutSeq;
        lastChange = Date.now();
      } else if (this.stdoutLines.length > start && Date.now() - lastChange >= settleMs) {
        break;
      }
    }
    return this.stdoutLines.slice(start);
  }

  /** Runs bin/kadnode-ctl -p cmdPort ARGS (inside this daemon's namespace). */
  ctl(cmdPort: number, args: string[], timeoutMs = 10_000): Promise<ExecResult> {
    return kadnodeCtl(['-p', String(cmdPort), ...args], { netns: this.netns, timeoutMs });
  }

  /** Closes the console's stdin (the daemon must keep running). */
  closeStdin(): void {
    this.child.stdin?.end();
  }

  /** Sends a signal to this process (by pid). */
  signal(sig: NodeJS.Signals): void {
    if (this.exitInfo === undefined) {
      try {
        process.kill(this.pid, sig);
      } catch {
        // gone
      }
    }
  }

  /**
   * SIGTERM, wait up to timeoutMs for the exit, then SIGKILL (and wait up to 5 s more).
   * Resolves the exit info; `killed` says whether SIGKILL was needed.
   */
  async stop(timeoutMs = 10_000): Promise<ExitInfo & { killed: boolean; ms: number }> {
    const t0 = performance.now();
    if (this.exitInfo !== undefined) return { ...this.exitInfo, killed: false, ms: 0 };
    this.signal('SIGTERM');
    const first = await this.exitWithin(timeoutMs);
    if (first) return { ...first, killed: false, ms: performance.now() - t0 };
    this.signal('SIGKILL');
    const second = await this.exitWithin(5000);
    return { ...(second ?? { code: null, signal: null }), killed: true, ms: performance.now() - t0 };
  }

  /** The exit info once the process exited, or undefined after ms (no timer left behind). */
  exitWithin(ms: number): Promise<ExitInfo | undefined> {
    return new Promise((res) => {
      const timer = setTimeout(() => res(undefined), ms);
      void this.exited.then((info) => {
        clearTimeout(timer);
        res(info);
      });
    });
  }
}

/**
 * Starts `process.execPath bin/kadnode ...args` (inside opts.netns when given) and by default waits for
 * `(I) Ready.` on stderr. Rejects (after killing it) when it exits or is not ready in time.
 */
export async function startDaemon(opts: DaemonOptions): Promise<Daemon> {
  const label = opts.label ?? `kadnode ${opts.args.join(' ')}`;
  const args = safeDaemonArgs(opts);
  const [file, argv] = inNetns(opts.netns, process.execPath, [kadnodeBin, ...args]);
  const child = spawn(file, argv, {
    stdio: [opts.stdin ?? 'pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...opts.env },
    cwd: repoRoot,
  });
  await new Promise<void>((res, rej) => {
    child.once('spawn', () => res());
    child.once('error', (err) => rej(new Error(`${label}: cannot start: ${err.message}`)));
  });
  const d = new Daemon(child, label, opts.netns);
  const ready = opts.readyLine === undefined ? /\(I\) Ready\./ : opts.readyLine;
  if (ready) {
    try {
      await d.waitForLine(ready, opts.readyTimeoutMs ?? 20_000);
    } catch (err) {
      await d.stop(2000);
      throw err;
    }
  }
  return d;
}

/** Runs a bin/kadnode process to completion (for option errors and such); bounded, then SIGKILL. */
export function runKadnode(args: string[], opts: { netns?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  return run(opts.netns, process.execPath, [kadnodeBin, ...safeDaemonArgs({ args, netns: opts.netns })], { timeoutMs: opts.timeoutMs ?? 15_000 });
}

/** Runs `bin/kadnode-ctl ARGS` (inside opts.netns when given); bounded. */
export function kadnodeCtl(args: string[], opts: { netns?: string; timeoutMs?: number } = {}): Promise<ExecResult> {
  return run(opts.netns, process.execPath, [kadnodeCtlBin, ...args], { timeoutMs: opts.timeoutMs ?? 10_000 });
}

// ---------------------------------------------------------------- status parsing

export interface DaemonStatus {
  dhtNodes: number | undefined;
  announcements: number | undefined;
  ids: number | undefined;
  raw: string;
}

/** Parses `status` output: `DHT nodes: <n>` and `DHT storage: <a> announcements for <i> ids`. */
export function parseStatus(text: string): DaemonStatus {
  const nodes = /DHT nodes:\s*(\d+)/.exec(text);
  const storage = /DHT storage:\s*(\d+)\s+announcements?\s+for\s+(\d+)\s+ids?/.exec(text);
  return {
    dhtNodes: nodes ? Number(nodes[1]) : undefined,
    announcements: storage ? Number(storage[1]) : undefined,
    ids: storage ? Number(storage[2]) : undefined,
    raw: text,
  };
}

// ---------------------------------------------------------------- dig

export type DnsStatus = 'NOERROR' | 'NXDOMAIN' | 'SERVFAIL' | 'REFUSED' | 'FORMERR' | 'NOTIMP' | 'TIMEOUT' | string;

export interface DigAnswer {
  name: string;
  ttl: number;
  class: string;
  type: string;
  data: string;
}

export interface DigResult {
  /** header status, or TIMEOUT when no reply came */
  status: DnsStatus;
  answers: DigAnswer[];
  /** dig's own `;; Query time: N msec`, when it printed one */
  queryTimeMs: number | undefined;
  /** wall clock of the whole dig process */
  elapsedMs: number;
  flags: string[];
  code: number | null;
  raw: string;
}

/** Runs the real dig with ARGS (inside opts.netns when given) and parses its output. Bounded. */
export async function dig(args: string[], opts: { netns?: string; timeoutMs?: number } = {}): Promise<DigResult> {
  const r = await run(opts.netns, 'dig', args, { timeoutMs: opts.timeoutMs ?? 30_000 });
  return { ...parseDig(r.stdout + (r.stderr ? `\n${r.stderr}` : '')), elapsedMs: r.ms, code: r.code };
}

export function parseDig(out: string): Omit<DigResult, 'elapsedMs' | 'code'> {
  const header = /->>HEADER<<-.*status:\s*([A-Z]+)/.exec(out);
  const flagsLine = /;; flags:([^;]*);/.exec(out);
  const qt = /;; Query time:\s*(\d+)\s*msec/.exec(out);
  const answers: DigAnswer[] = [];
  const lines = out.split('\n');
  const at = lines.findIndex((l) => l.startsWith(';; ANSWER SECTION:'));
  if (at >= 0) {
    for (const line of lines.slice(at + 1)) {
      if (line.trim() === '' || line.startsWith(';')) break;
      const m = /^(\S+)\s+(\d+)\s+(\S+)\s+(\S+)\s+(.*)$/.exec(line.trim());
      if (m) answers.push({ name: m[1]!, ttl: Number(m[2]), class: m[3]!, type: m[4]!, data: m[5]!.trim() });
    }
  }
  return {
    status: header ? header[1]! : 'TIMEOUT',
    answers,
    queryTimeMs: qt ? Number(qt[1]) : undefined,
    flags: flagsLine ? flagsLine[1]!.trim().split(/\s+/).filter(Boolean) : [],
    raw: out,
  };
}

// ---------------------------------------------------------------- bounded retries and statistics

/**
 * Calls fn until it returns a value other than undefined, at most `tries` times and until `timeoutMs`
 * has passed, sleeping intervalMs between calls. Returns the value and how many calls it took, or
 * undefined value when the bound was reached.
 */
export async function retry<T>(
  fn: (attempt: number) => Promise<T | undefined>,
  bound: { tries: number; timeoutMs: number; intervalMs: number },
): Promise<{ value: T | undefined; attempts: number; ms: number }> {
  const t0 = performance.now();
  let attempts = 0;
  while (attempts < bound.tries && performance.now() - t0 < bound.timeoutMs) {
    attempts++;
    const v = await fn(attempts);
    if (v !== undefined) return { value: v, attempts, ms: performance.now() - t0 };
    if (attempts < bound.tries && performance.now() - t0 + bound.intervalMs < bound.timeoutMs) await sleep(bound.intervalMs);
    else break;
  }
  return { value: undefined, attempts, ms: performance.now() - t0 };
}

/** Nearest-rank percentile (p in 0..100) of the numbers. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1]!;
}
