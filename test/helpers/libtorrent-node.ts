// Drives test/helpers/libtorrent-node.py (a libtorrent-rasterbar DHT node at its default settings) from a
// test: one JSON line per request on its stdin, one reply line per request on its stdout, in order. Every
// request is bounded; stop() closes stdin (the helper exits) and kills it by pid if it does not.
import { execFileSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { registerCleanup } from '../e2e/netns.js';
import type { Network, Host } from '../e2e/netns.js';
import { repoRoot } from '../e2e/harness.js';

/** Debian's python, which sees python3-libtorrent (a python3 first on PATH, e.g. pyenv's, does not). */
export const SYSTEM_PYTHON = '/usr/bin/python3';
const SCRIPT = join(repoRoot, 'test', 'helpers', 'libtorrent-node.py');

/** Reason to skip when libtorrent's python binding is missing, else false. */
export function skipUnlessLibtorrent(): string | false {
  try {
    const version = execFileSync(SYSTEM_PYTHON, ['-c', 'import libtorrent; print(libtorrent.__version__)'], { stdio: 'pipe', timeout: 10_000 });
    return version.toString().trim() ? false : 'python3-libtorrent did not say its version';
  } catch {
    return `needs libtorrent's python binding for ${SYSTEM_PYTHON} (Debian package python3-libtorrent; scripts/install-test-deps.sh installs it as root)`;
  }
}

export type Reply = Record<string, unknown> & { ok: boolean; error?: string };

export class LibtorrentNode {
  readonly stderr: string[] = [];
  private buf = '';
  private readonly waiting: ((line: string) => void)[] = [];
  private nextId = 1;
  private readonly unregister: () => void;
  private readonly exited: Promise<void>;

  private constructor(
    readonly host: Host,
    private readonly child: ChildProcess,
  ) {
    const pid = child.pid!;
    this.unregister = registerCleanup(() => {
      if (child.exitCode === null && child.signalCode === null) process.kill(pid, 'SIGKILL');
    });
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      this.buf += chunk;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        this.waiting.shift()?.(line);
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      this.stderr.push(...chunk.split('\n').filter(Boolean));
      if (this.stderr.length > 10_000) this.stderr.splice(0, this.stderr.length - 10_000);
    });
    child.stdin!.on('error', () => undefined);
  }

  /** Starts the helper on the host (listening on host.ip:port, bootstrapping from `bootstrap`), once it is ready. */
  static async start(net: Network, host: Host, port: number, bootstrap: string[], opts: { log?: boolean; maxSeconds?: number } = {}): Promise<LibtorrentNode> {
    const args = [SCRIPT, '--listen', `${host.ip}:${port}`, '--bootstrap', bootstrap.join(','), '--max-seconds', String(opts.maxSeconds ?? 180)];
    if (opts.log) args.push('--log');
    const child = net.spawn(host, SYSTEM_PYTHON, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const node = new LibtorrentNode(host, child);
    const ready = await node.nextLine(15_000);
    if (!ready?.includes('"ready"')) {
      await node.stop();
      throw new Error(`libtorrent helper on ${host.ip} did not start: ${ready ?? 'no output'}; ${node.stderr.slice(-10).join(' | ')}`);
    }
    return node;
  }

  private nextLine(timeoutMs: number): Promise<string | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const i = this.waiting.indexOf(take);
        if (i >= 0) this.waiting.splice(i, 1);
        resolve(undefined);
      }, timeoutMs);
      const take = (line: string) => {
        clearTimeout(timer);
        resolve(line);
      };
      this.waiting.push(take);
    });
  }

  /** One request; its reply, or throws when none came within the request's timeout and 5 s more. */
  async request(cmd: string, args: Record<string, unknown> = {}): Promise<Reply> {
    const id = this.nextId++;
    const timeoutMs = typeof args.timeout_ms === 'number' ? args.timeout_ms : 10_000;
    const reply = this.nextLine(timeoutMs + 5000);
    this.child.stdin!.write(JSON.stringify({ id, cmd, ...args }) + '\n');
    const line = await reply;
    if (line === undefined) throw new Error(`libtorrent helper on ${this.host.ip}: no reply to ${cmd}; stderr: ${this.stderr.slice(-10).join(' | ')}`);
    const parsed = JSON.parse(line) as Reply;
    if (parsed.id !== id) throw new Error(`libtorrent helper: reply ${line} is not for request ${id}`);
    if (!parsed.ok) throw new Error(`libtorrent helper ${cmd}: ${parsed.error}`);
    return parsed;
  }

  /** Closes stdin (the helper exits), then SIGKILL by pid after 5 s. */
  async stop(): Promise<void> {
    this.child.stdin!.end();
    const timer = setTimeout(() => {
      if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    }, 5000);
    await this.exited;
    clearTimeout(timer);
    this.unregister();
  }
}
