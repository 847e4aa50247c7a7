// The stdin console: one command per line, success to stdout, failure to stderr.
import readline from 'node:readline';
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

  constructor(private readonly deps: ConsoleDeps) {}

  start(): void {
    const { input } = this.deps;
    // A closed or /dev/null stdin just ends the console; the daemon keeps running.
    input.on('error', () => this.stop());
    this.rl = readline.createInterface({ input, terminal: false, crlfDelay: Infinity });
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
    this.rl?.close();
    this.rl = null;
  }
}
