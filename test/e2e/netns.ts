// Network namespaces for multi-host end-to-end tests.
//
// createNetwork(count) makes `count` hosts, each a network namespace with `lo` up and one interface
// `eth0` = 10.201.0.N/16 (N = 1..count), or 10.201.N.1/16 with `subnetPerHost` (each host in a /24 of its
// own, still one on-link /16: for peers that keep one node per /24, like libtorrent). The eth0s are veth pairs whose other ends sit in a bridge that
// lives in a namespace of its own, so nothing is added to the root namespace and the addresses exist
// only inside these namespaces. Names carry the process id (`kn-<pid>-h1`, `kn-<pid>-br`) so parallel
// or aborted runs never collide.
//
// Cleanup: destroy() deletes every namespace it created (deleting a namespace deletes its veths). The
// same happens on process exit and on SIGINT/SIGTERM/SIGHUP through registerCleanup(), which the
// harness also uses to kill the daemons it started (last registered runs first, so daemons die before
// their namespaces go away).
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

export const SUBNET_PREFIX = '10.201.0.';
export const SUBNET_BITS = 16;
/** IPv6 on the same eth0s, added by addIPv6(): fd20::<index>/64 */
export const SUBNET6_PREFIX = 'fd20::';
export const SUBNET6_BITS = 64;

// ---------------------------------------------------------------- process-exit cleanup registry

type CleanupFn = () => void;
const cleanups: CleanupFn[] = [];
let handlersInstalled = false;

function runCleanups(): void {
  while (cleanups.length > 0) {
    const fn = cleanups.pop()!;
    try {
      fn();
    } catch {
      // best effort: keep cleaning the rest
    }
  }
}

function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', runCleanups);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      runCleanups();
      // re-raise with the default disposition so the exit status says what happened
      process.kill(process.pid, sig);
    });
  }
}

/**
 * Registers a synchronous cleanup that runs on process exit or SIGINT/SIGTERM/SIGHUP (last registered
 * runs first). Returns a function that unregisters it (call it once you cleaned up yourself).
 */
export function registerCleanup(fn: CleanupFn): () => void {
  installHandlers();
  cleanups.push(fn);
  return () => {
    const i = cleanups.lastIndexOf(fn);
    if (i >= 0) cleanups.splice(i, 1);
  };
}

// ---------------------------------------------------------------- availability

let netnsCheck: string | null | undefined;

/** null when network namespaces can be used here, else the reason to skip. */
export function netnsSkipReason(): string | null {
  if (netnsCheck !== undefined) return netnsCheck;
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    netnsCheck = 'needs root for network namespaces';
    return netnsCheck;
  }
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'pipe', timeout: 5000 });
  } catch (err) {
    netnsCheck = `needs \`ip netns\` (iproute2) for network namespaces: ${(err as Error).message.split('\n')[0]}`;
    return netnsCheck;
  }
  // Creating one is the real test (a container may forbid it even to root).
  const probe = `kn-${process.pid}-probe`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'pipe', timeout: 5000 });
    netnsCheck = null;
  } catch (err) {
    netnsCheck = `cannot create network namespaces here: ${(err as Error).message.split('\n')[0]}`;
  } finally {
    try {
      execFileSync('ip', ['netns', 'del', probe], { stdio: 'pipe', timeout: 5000 });
    } catch {
      // was not created
    }
  }
  return netnsCheck;
}

// ---------------------------------------------------------------- commands

function ip(args: string[]): void {
  try {
    execFileSync('ip', args, { stdio: 'pipe', timeout: 10_000 });
  } catch (err) {
    const e = err as Error & { stderr?: Buffer };
    throw new Error(`ip ${args.join(' ')} failed: ${e.stderr?.toString().trim() || e.message}`);
  }
}

function listNamespaces(): string[] {
  try {
    const out = execFileSync('ip', ['netns', 'list'], { stdio: 'pipe', timeout: 5000 }).toString();
    // lines look like "name" or "name (id: 3)"
    return out.split('\n').map((l) => l.trim().split(/\s+/)[0]).filter((n): n is string => !!n);
  } catch {
    return [];
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Deletes namespaces left by aborted runs (`kn-<pid>-...` whose pid is gone and which hold no process).
 * Only touches names of that form.
 */
export function removeStaleNamespaces(): string[] {
  const removed: string[] = [];
  for (const ns of listNamespaces()) {
    const m = /^kn-(\d+)-/.exec(ns);
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid === process.pid || pidAlive(pid)) continue;
    try {
      const pids = execFileSync('ip', ['netns', 'pids', ns], { stdio: 'pipe', timeout: 5000 }).toString().trim();
      if (pids !== '') continue;
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'pipe', timeout: 5000 });
      removed.push(ns);
    } catch {
      // someone else's or already gone
    }
  }
  return removed;
}

// ---------------------------------------------------------------- network

export interface Host {
  /** namespace name */
  name: string;
  /** 1-based */
  index: number;
  /** 10.201.0.<index> (10.201.<index>.1 with subnetPerHost) */
  ip: string;
}

export interface ExecResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** wall-clock milliseconds */
  ms: number;
}

export interface ExecOptions {
  timeoutMs?: number;
  input?: string;
  env?: NodeJS.ProcessEnv;
}

/** argv that runs `cmd args` inside namespace `ns` (or directly when ns is undefined). */
export function inNetns(ns: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return ns === undefined ? [cmd, args] : ['ip', ['netns', 'exec', ns, cmd, ...args]];
}

/**
 * Runs a command to completion (inside namespace `ns` when given), bounded by timeoutMs (default 30 s;
 * killed with SIGKILL after that). Never rejects for a non-zero exit: look at code.
 */
export function run(ns: string | undefined, cmd: string, args: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const [file, argv] = inNetns(ns, cmd, args);
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = execFile(
      file,
      argv,
      { timeout: opts.timeoutMs ?? 30_000, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, env: opts.env, encoding: 'utf8' },
      (err, stdout, stderr) => {
        const ms = performance.now() - started;
        const e = err as (NodeJS.ErrnoException & { code?: unknown; signal?: NodeJS.Signals | null }) | null;
        if (e && typeof e.code === 'string') {
          // spawn failure (ENOENT...), not an exit status
          reject(new Error(`cannot run ${cmd}: ${e.message}`));
          return;
        }
        resolve({
          code: e ? (typeof e.code === 'number' ? e.code : null) : 0,
          signal: e?.signal ?? null,
          stdout,
          stderr,
          ms,
        });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

export class Network {
  readonly hosts: Host[];
  readonly bridgeNs: string;
  readonly prefix: string;
  private readonly created: string[] = [];
  private unregister: (() => void) | undefined;
  private destroyed = false;

  constructor(prefix: string, count: number, subnetPerHost = false) {
    if (!Number.isInteger(count) || count < 1 || count > 254) throw new Error(`host count must be 1..254, got ${count}`);
    this.prefix = prefix;
    this.bridgeNs = `${prefix}-br`;
    this.hosts = Array.from({ length: count }, (_, i) => ({
      name: `${prefix}-h${i + 1}`,
      index: i + 1,
      ip: subnetPerHost ? `10.201.${i + 1}.1` : `${SUBNET_PREFIX}${i + 1}`,
    }));
  }

  /** Builds the namespaces, veths and bridge. On failure, removes what it made and throws. */
  setup(): void {
    this.unregister = registerCleanup(() => this.destroy());
    try {
      this.addNs(this.bridgeNs);
      ip(['-n', this.bridgeNs, 'link', 'set', 'lo', 'up']);
      ip(['-n', this.bridgeNs, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
      ip(['-n', this.bridgeNs, 'link', 'set', 'br0', 'up']);
      for (const h of this.hosts) {
        this.addNs(h.name);
        ip(['-n', h.name, 'link', 'set', 'lo', 'up']);
        // create the pair directly inside the two namespaces: no interface ever appears in the root one
        const port = `v${h.index}`;
        ip(['link', 'add', 'eth0', 'netns', h.name, 'type', 'veth', 'peer', 'name', port, 'netns', this.bridgeNs]);
        ip(['-n', this.bridgeNs, 'link', 'set', port, 'master', 'br0']);
        ip(['-n', this.bridgeNs, 'link', 'set', port, 'up']);
        ip(['-n', h.name, 'addr', 'add', `${h.ip}/${SUBNET_BITS}`, 'dev', 'eth0']);
        ip(['-n', h.name, 'link', 'set', 'eth0', 'up']);
      }
    } catch (err) {
      this.destroy();
      throw err;
    }
  }

  private addNs(name: string): void {
    ip(['netns', 'add', name]);
    this.created.push(name);
  }

  host(index: number): Host {
    const h = this.hosts[index - 1];
    if (!h) throw new Error(`no host ${index}`);
    return h;
  }

  /** Runs `cmd args` inside the host's namespace to completion (bounded; see run()). */
  exec(host: Host | string, cmd: string, args: string[], opts?: ExecOptions): Promise<ExecResult> {
    return run(typeof host === 'string' ? host : host.name, cmd, args, opts);
  }

  /** Starts `cmd args` inside the host's namespace (`ip netns exec` execs, so child.pid is cmd's pid). */
  spawn(host: Host | string, cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    const [file, argv] = inNetns(typeof host === 'string' ? host : host.name, cmd, args);
    return spawn(file, argv, opts);
  }

  /**
   * Deletes every namespace this network created (synchronous, idempotent). Processes still running in
   * a namespace keep it alive: stop them first (the harness does, through registerCleanup order).
   */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const ns of [...this.created].reverse()) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'pipe', timeout: 10_000 });
      } catch {
        // already gone
      }
    }
    this.created.length = 0;
    this.unregister?.();
    this.unregister = undefined;
  }

  /** Names of this network's namespaces that still exist (for tests of the cleanup). */
  remaining(): string[] {
    const mine = new Set([this.bridgeNs, ...this.hosts.map((h) => h.name)]);
    return listNamespaces().filter((n) => mine.has(n));
  }
}

/** fd20::<index> of a host (index in hex, as IPv6 writes it). */
export function hostIPv6(host: Host): string {
  return `${SUBNET6_PREFIX}${host.index.toString(16)}`;
}

/**
 * Gives every host of the network its fd20::<index>/64 on eth0 as well, without duplicate address
 * detection (`nodad`), so the address is usable at once.
 */
export function addIPv6(net: Network): void {
  for (const h of net.hosts) ip(['-n', h.name, 'addr', 'add', `${hostIPv6(h)}/${SUBNET6_BITS}`, 'dev', 'eth0', 'nodad']);
}

export interface CreateNetworkOptions {
  /** namespace name prefix; must be unique per run. Default `kn-<pid>` (plus a counter after the first). */
  prefix?: string;
  /** host N at 10.201.N.1/16 instead of 10.201.0.N/16: every host in a /24 of its own */
  subnetPerHost?: boolean;
}

let networkCounter = 0;

/**
 * Creates `count` hosts 10.201.0.1..count on one bridge (see the file comment). Requires root:
 * check netnsSkipReason() first. Call destroy() when done (also done on exit/signals).
 */
export function createNetwork(count: number, opts: CreateNetworkOptions = {}): Network {
  removeStaleNamespaces();
  const n = networkCounter++;
  const prefix = opts.prefix ?? (n === 0 ? `kn-${process.pid}` : `kn-${process.pid}-${n}`);
  const net = new Network(prefix, count, opts.subnetPerHost);
  net.setup();
  return net;
}
