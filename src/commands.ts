// The command table shared by the stdin console, the control port and (later) the web interface.
import type { NameResolver } from './types.js';

export interface CommandResult {
  ok: boolean;
  text: string;
}

export interface StatusSource {
  versionLine: string;
  startedAt: number;
  nodeId(): Buffer;
  dhtAddress(): string;
  nodeCount(): number;
  storage(): { announcements: number; ids: number; max: number };
  dhtSearches(): number;
  resolverStats(): { searches: number; cached: number };
  valueCount(): number;
}

export interface CommandDeps {
  resolver: NameResolver;
  status: StatusSource;
  lookupTimeoutMs: number;
  now?: () => number;
}

interface Command {
  usage: string;
  args: [min: number, max: number];
  run(args: string[]): Promise<CommandResult> | CommandResult;
}

const MAX_LINE = 1500;

export class CommandTable {
  private readonly commands: Record<string, Command>;

  constructor(private readonly deps: CommandDeps) {
    this.commands = {
      help: { usage: 'help', args: [0, 0], run: () => ({ ok: true, text: this.usage() }) },
      status: { usage: 'status', args: [0, 0], run: () => ({ ok: true, text: this.status() }) },
      lookup: { usage: 'lookup <name>', args: [1, 1], run: ([name]) => this.lookup(name!) },
    };
  }

  usage(): string {
    return 'Usage:\n' + Object.values(this.commands).map((c) => `\t${c.usage}`).join('\n');
  }

  async run(line: string): Promise<CommandResult> {
    if (line.length > MAX_LINE) return { ok: false, text: `Command line longer than ${MAX_LINE} bytes.` };
    const [name, ...args] = line.trim().split(/\s+/).filter(Boolean);
    if (name === undefined) return { ok: true, text: this.usage() };
    const command = Object.hasOwn(this.commands, name) ? this.commands[name] : undefined;
    if (!command) return { ok: false, text: `Unknown command '${printable(name)}'.\n${this.usage()}` };
    const [min, max] = command.args;
    if (args.length < min || args.length > max) return { ok: false, text: `Wrong number of arguments for '${name}'. Usage: ${command.usage}` };
    try {
      return await command.run(args);
    } catch (err) {
      return { ok: false, text: `Command '${name}' failed: ${(err as Error).message}` };
    }
  }

  private status(): string {
    const s = this.deps.status;
    const now = (this.deps.now ?? Date.now)();
    const storage = s.storage();
    const resolver = s.resolverStats();
    return [
      `Version: ${s.versionLine}`,
      `DHT id: ${s.nodeId().toString('hex')}`,
      `DHT bound to: ${s.dhtAddress()}`,
      `DHT nodes: ${s.nodeCount()}`,
      `DHT storage: ${storage.announcements} announcements for ${storage.ids} ids (max ${storage.max})`,
      `DHT searches: ${s.dhtSearches()} active`,
      `Resolver: ${resolver.cached} cached names, ${resolver.searches} searches`,
      `Values to announce: ${s.valueCount()}`,
      `Uptime: ${Math.floor((now - s.startedAt) / 1000)} s`,
    ].join('\n');
  }

  private async lookup(name: string): Promise<CommandResult> {
    const result = await this.deps.resolver.resolve(name, { timeoutMs: this.deps.lookupTimeoutMs });
    switch (result.status) {
      case 'found':
        return { ok: true, text: result.addresses.map((a) => (a.family === 6 ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`)).join('\n') };
      case 'notfound':
        return { ok: false, text: 'Not found.' };
      case 'timeout':
        return { ok: false, text: `No result within ${Math.round(this.deps.lookupTimeoutMs / 1000)} s.` };
      case 'busy':
        return { ok: false, text: 'Too many searches running, try again.' };
      case 'invalid':
        return { ok: false, text: `Invalid name: ${result.reason ?? 'not a valid query'}.` };
    }
  }
}

function printable(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, '?').slice(0, 64);
}
