// The bench side of bench/lib/worker.ts: starts a worker (inside a namespace), sends requests, kills
// it by pid on exit or signal.
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { inNetns, registerCleanup } from '../../test/e2e/netns.js';

const workerJs = join(dirname(fileURLToPath(import.meta.url)), 'worker.js');

export class WorkerHandle {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly unregister: () => void;
  private exited = false;
  readonly stderr: string[] = [];

  private constructor(readonly label: string, readonly child: ChildProcess, private readonly ready: Promise<void>) {
    const pid = child.pid!;
    this.unregister = registerCleanup(() => {
      if (!this.exited) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    });
  }

  /** Starts a worker (inside namespace ns when given) and waits until it says it is ready; `script`: another worker file speaking the same protocol. */
  static async start(label: string, ns?: string, nodeArgs: string[] = [], script = workerJs): Promise<WorkerHandle> {
    const [file, argv] = inNetns(ns, process.execPath, [...nodeArgs, script]);
    const child = spawn(file, argv, { stdio: ['pipe', 'pipe', 'pipe'] });
    let readyResolve!: () => void;
    let readyReject!: (e: Error) => void;
    const ready = new Promise<void>((res, rej) => {
      readyResolve = res;
      readyReject = rej;
    });
    const w = new WorkerHandle(label, child, ready);
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (c: string) => {
      w.stderr.push(c);
      if (w.stderr.length > 200) w.stderr.shift();
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let msg: { id: number; ok: boolean; result?: unknown; error?: string };
      try {
        msg = JSON.parse(line) as typeof msg;
      } catch {
        return;
      }
      if (msg.id === 0) return readyResolve();
      const p = w.waiting.get(msg.id);
      if (!p) return;
      w.waiting.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(`${label}: ${msg.error}`));
    });
    child.once('exit', (code, signal) => {
      w.exited = true;
      w.unregister();
      const err = new Error(`${label} exited (${code ?? signal}); stderr: ${w.stderr.join('').slice(-2000)}`);
      readyReject(err);
      for (const p of w.waiting.values()) p.reject(err);
      w.waiting.clear();
    });
    const timer = setTimeout(() => readyReject(new Error(`${label}: not ready within 20 s`)), 20_000);
    try {
      await w.ready;
    } catch (err) {
      w.kill();
      throw err;
    } finally {
      clearTimeout(timer);
    }
    return w;
  }

  call<T>(cmd: string, args: unknown = {}, timeoutMs = 120_000): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.label} is not running`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${this.label}: ${cmd} took longer than ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.stdin!.write(JSON.stringify({ id, cmd, args }) + '\n');
    });
  }

  kill(): void {
    if (this.exited) return;
    try {
      process.kill(this.child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  }

  /** Asks it to exit (it destroys its nodes), SIGKILL after 5 s. */
  async stop(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    this.child.stdin!.write(JSON.stringify({ id: this.nextId++, cmd: 'exit', args: {} }) + '\n');
    const timer = setTimeout(() => this.kill(), 5000);
    await exited;
    clearTimeout(timer);
  }
}
