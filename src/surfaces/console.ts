// The stdin console: one command per line, success to stdout, failure to stderr. node:readline loads with
// the first bytes typed: a daemon whose stdin is /dev/null or a terminal nobody types in (a service, a
// router) never pays its resident memory.
import { createRequire } from 'node:module';
import type readline from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { CommandTable } from '../commands.js';

export interface ConsoleDeps {
  commands: CommandTable;
  input: Readable;
  output: Writable;
  errors: Writable;
}

export class ConsoleSurface {
  private rl: readline.Interface | null = null;
  private queue: Promise<void> = Promise.resolve();
  /** the listener for the first bytes, until they come */
  private waiting: ((first: Buffer | string) => void) | null = null;

  constructor(private readonly deps: ConsoleDeps) {}

  start(): void {
    const { input } = this.deps;
    // A closed or /dev/null stdin just ends the console; the daemon keeps running.
    input.on('error', () => this.stop());
    const firstData = (first: Buffer | string) => {
      this.waiting = null;
      // readline reads from the first chunk on: it goes back in front of the stream, which readline resumes
      input.pause();
      input.unshift(first);
      this.lines(input);
    };
    this.waiting = firstData;
    input.once('data', firstData);
  }

  private lines(input: Readable): void {
    const { createInterface } = createRequire(import.meta.url)('node:readline') as typeof readline;
    this.rl = createInterface({ input, terminal: false, crlfDelay: Infinity });
    // Commands answer in the order they were typed, even when a lookup takes a while.
    this.rl.on('line', (line) => {
      this.queue = this.queue.then(() => this.handle(line));
    });
    this.rl.on('close', () => {
      this.rl = null;
    });
  }

  private async handle(line: string): Promise<void> {
    const result = await this.deps.commands.run(line);
    const stream = result.ok ? this.deps.output : this.deps.errors;
    if (stream.writable) stream.write(result.text + '\n');
  }

  stop(): void {
    if (this.waiting) {
      this.deps.input.off('data', this.waiting);
      this.deps.input.pause();
      this.waiting = null;
    }
    this.rl?.close();
    this.rl = null;
  }
}
