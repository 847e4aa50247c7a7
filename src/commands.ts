// The command table shared by the stdin console, the control port and the web interface.
// Commands call the resolver or the node's control interface and format what comes back.
import { hostPort } from './util/host-port.js';
import { printableShort } from './util/printable.js';
import type { Lifetime } from './dht/announcer.js';
import { healthLines, type HealthReport } from './dht/health.js';
import { formatRecord } from './pkarr/packet.js';
import type { NameResolver, PeerAddress } from './types.js';
import { UsageError } from './errors.js';

/** ok, or why not: surfaces map the kind to exit codes and HTTP status codes. */
export type ResultKind = 'ok' | 'usage' | 'notfound' | 'timeout' | 'busy' | 'failed';

// NodeControl throws UsageError when the operator's argument is wrong (not when the node failed).
export { UsageError };

export interface CommandResult {
  ok: boolean;
  kind: ResultKind;
  text: string;
}

export interface StatusInfo {
  versionLine: string;
  nodeId: string;
  bound: string[];
  /** families: one entry per DHT (IPv4 first) */
  nodes: { all: number; good: number; families?: { family: 4 | 6; all: number; good: number }[] };
  storage: { announcements: number; ids: number; max: number };
  searches: number;
  resolver: { searches: number; cached: number };
  values: number;
  uptimeMs: number;
  /** per DHT (IPv4 first): reply ratio, size estimate, BEP 42, UDP warnings */
  health?: HealthReport[];
}

export interface ValueInfo {
  name: string;
  id: string;
  port: number;
  keyed: boolean;
  lifetime: Lifetime;
  nextInMs: number;
  lastAcks: number;
}

/** What the daemon lets operators do; implemented in daemon.ts over the modules. */
export interface NodeControl {
  status(): StatusInfo;
  /** throws UsageError for a bad name or port */
  announce(query: string, port: number | undefined, lifetime: Lifetime): { port: number };
  announceAll(): number;
  /** resolves and pings; returns the address pinged */
  importPeer(address: string): Promise<string>;
  goodPeers(max: number): string[];
  blacklist(address: string): string;
  lists: {
    blacklist(): string[];
    buckets(): { id: string; address: string; port: number; ageMs: number }[];
    constants(): Record<string, number | string>;
    forwardings(): string[];
    results(): { id: string; addresses: PeerAddress[]; ageMs: number }[];
    searches(): { id: string; addresses: PeerAddress[]; candidates: number; ageMs: number }[];
    storage(): { id: string; peers: string[] }[];
    values(): ValueInfo[];
  };
}

export interface CommandDeps {
  resolver: NameResolver;
  node: NodeControl;
  lookupTimeoutMs: number;
}

interface Command {
  usage: string;
  describe: string;
  args: [min: number, max: number];
  run(args: string[]): Promise<CommandResult> | CommandResult;
}

const MAX_LINE = 1500;
const MAX_EXPORT = 32;
const LISTS = ['blacklist', 'buckets', 'constants', 'forwardings', 'results', 'searches', 'storage', 'values'] as const;
type ListName = (typeof LISTS)[number];

const ok = (text: string): CommandResult => ({ ok: true, kind: 'ok', text });
const fail = (kind: Exclude<ResultKind, 'ok'>, text: string): CommandResult => ({ ok: false, kind, text });

export function formatAddress(a: { address: string; port: number }): string {
  return hostPort(a.address, a.port);
}

/** A resolved address; one proven only by KadNode 1.x's AUTH or 2.x's bob exchange says so (it can be relayed). */
export function formatResult(a: PeerAddress): string {
  if (a.auth === 'bob') return `${formatAddress(a)} (KadNode 2.x proof, relayable)`;
  return a.auth === '1.x' ? `${formatAddress(a)} (KadNode 1.x proof, relayable)` : formatAddress(a);
}

const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;

/** `9 (9 good)` for the IPv4 DHT alone, else per family: `9 (9 good) IPv4, 4 (4 good) IPv6`. */
function formatNodeCounts(nodes: StatusInfo['nodes']): string {
  const families = nodes.families ?? [];
  if (families.length === 0 || (families.length === 1 && families[0]!.family === 4)) return `${nodes.all} (${nodes.good} good)`;
  return families.map((f) => `${f.all} (${f.good} good) IPv${f.family}`).join(', ');
}

export class CommandTable {
  private readonly commands: Record<string, Command>;

  constructor(private readonly deps: CommandDeps) {
    this.commands = {
      status: { usage: 'status', describe: 'state of the node', args: [0, 0], run: () => ok(this.status()) },
      lookup: { usage: 'lookup <name>', describe: 'addresses of a name, one ip:port a line', args: [1, 1], run: ([name]) => this.lookup(name!) },
      announce: { usage: 'announce [<name>[:<port>] [<minutes>]]', describe: 'announce now; no minutes: once, negative: for the whole run', args: [0, 2], run: (args) => this.announce(args) },
      import: { usage: 'import <addr>[:<port>]', describe: 'ping a DHT node', args: [1, 1], run: ([addr]) => this.importPeer(addr!) },
      export: { usage: 'export', describe: `up to ${MAX_EXPORT} good DHT nodes`, args: [0, 0], run: () => this.exportPeers() },
      blacklist: { usage: 'blacklist <addr>', describe: 'keep an IP address out of the DHT and of results', args: [1, 1], run: ([addr]) => this.blacklist(addr!) },
      list: { usage: `list ${LISTS.join('|')}`, describe: 'internal tables', args: [1, 1], run: ([what]) => this.list(what!) },
      help: { usage: 'help', describe: 'this list', args: [0, 0], run: () => ok(this.usage()) },
    };
  }

  usage(): string {
    return 'Usage:\n' + Object.values(this.commands).map((c) => `\t${c.usage}`).join('\n');
  }

  async run(line: string): Promise<CommandResult> {
    if (line.length > MAX_LINE) return fail('usage', `Command line longer than ${MAX_LINE} bytes.`);
    const [name, ...args] = line.trim().split(/\s+/).filter(Boolean);
    if (name === undefined) return ok(this.usage());
    const command = Object.hasOwn(this.commands, name) ? this.commands[name] : undefined;
    if (!command) return fail('usage', `Unknown command '${printableShort(name)}'.\n${this.usage()}`);
    const [min, max] = command.args;
    if (args.length < min || args.length > max) return fail('usage', `Wrong number of arguments for '${name}'. Usage: ${command.usage}`);
    try {
      return await command.run(args);
    } catch (err) {
      return fail(err instanceof UsageError ? 'usage' : 'failed', `${name}: ${(err as Error).message}`);
    }
  }

  private status(): string {
    const s = this.deps.node.status();
    return [
      `Version: ${s.versionLine}`,
      `DHT id: ${s.nodeId}`,
      ...s.bound.map((b) => `Bound: ${b}`),
      `DHT nodes: ${formatNodeCounts(s.nodes)}`,
      `DHT storage: ${s.storage.announcements} announcements for ${s.storage.ids} ids (max ${s.storage.max})`,
      `DHT searches: ${s.searches} active`,
      `Resolver: ${s.resolver.cached} cached names, ${s.resolver.searches} searches`,
      `Values to announce: ${s.values}`,
      `Uptime: ${seconds(s.uptimeMs)}`,
      ...(s.health ?? []).flatMap(healthLines),
    ].join('\n');
  }

  private async lookup(name: string): Promise<CommandResult> {
    const result = await this.deps.resolver.resolve(name, { timeoutMs: this.deps.lookupTimeoutMs });
    switch (result.status) {
      case 'found':
        // A public-key name answered from its signed packet: the records, one a line, as dig prints them.
        if (result.records) return ok(result.records.length ? result.records.map(formatRecord).join('\n') : 'No records of this name.');
        return ok(result.addresses.map(formatResult).join('\n'));
      case 'notfound':
        return fail('notfound', 'Not found.');
      case 'timeout':
        return fail('timeout', `No result within ${seconds(this.deps.lookupTimeoutMs)}.`);
      case 'busy':
        return fail('busy', 'Too many searches running, try again.');
      case 'invalid':
        return fail('usage', `Invalid name: ${result.reason ?? 'not a valid query'}.`);
    }
  }

  private announce(args: string[]): CommandResult {
    if (args.length === 0) return ok(`${this.deps.node.announceAll()} announcements started.`);
    const [target, minutesText] = args as [string, string | undefined];
    const match = /^(.*?)(?::(\d{1,5}))?$/.exec(target)!;
    const query = match[1]!;
    const port = match[2] === undefined ? undefined : Number(match[2]);
    if (!query || (port !== undefined && (port < 1 || port > 65535))) return fail('usage', `Invalid name or port '${printableShort(target)}'. Usage: ${this.commands.announce!.usage}`);
    let lifetime: Lifetime = { kind: 'once' };
    if (minutesText !== undefined) {
      if (!/^-?\d{1,7}$/.test(minutesText)) return fail('usage', `Invalid minutes '${printableShort(minutesText)}'. Usage: ${this.commands.announce!.usage}`);
      const minutes = Number(minutesText);
      lifetime = minutes < 0 ? { kind: 'forever' } : { kind: 'until', at: Date.now() + minutes * 60_000 };
    }
    const announced = this.deps.node.announce(query, port, lifetime);
    switch (lifetime.kind) {
      case 'once':
        return ok(`Start single announcement now (port ${announced.port}).`);
      case 'forever':
        return ok(`Start regular announcements for the entire run time (port ${announced.port}).`);
      case 'until':
        return ok(`Start regular announcements for ${minutesText} minutes (port ${announced.port}).`);
    }
  }

  private async importPeer(address: string): Promise<CommandResult> {
    return ok(`Send ping to: ${await this.deps.node.importPeer(address)}`);
  }

  private exportPeers(): CommandResult {
    const peers = this.deps.node.goodPeers(MAX_EXPORT);
    return peers.length ? ok(peers.join('\n')) : fail('notfound', 'No good nodes found.');
  }

  private blacklist(address: string): CommandResult {
    return ok(`Added to blacklist: ${this.deps.node.blacklist(address)}`);
  }

  private list(what: string): CommandResult {
    if (!(LISTS as readonly string[]).includes(what)) return fail('usage', `Unknown list '${printableShort(what)}'. Usage: ${this.commands.list!.usage}`);
    const lines = this.listLines(what as ListName);
    return ok(lines.length ? lines.join('\n') : `(${what}: none)`);
  }

  private listLines(what: ListName): string[] {
    const lists = this.deps.node.lists;
    switch (what) {
      case 'blacklist':
        return lists.blacklist();
      case 'buckets':
        return lists.buckets().map((n) => `${n.id} ${formatAddress(n)} heard ${seconds(n.ageMs)} ago`);
      case 'constants':
        return Object.entries(lists.constants()).map(([k, v]) => `${k}: ${v}`);
      case 'forwardings':
        return lists.forwardings();
      case 'results':
        return lists.results().map((r) => `${r.id} ${r.addresses.map(formatResult).join(' ')} (${seconds(r.ageMs)} old)`);
      case 'searches':
        return lists.searches().map((s) => `${s.id} ${s.addresses.length} addresses, ${s.candidates} candidates, running ${seconds(s.ageMs)}`);
      case 'storage':
        return lists.storage().map((s) => `${s.id} ${s.peers.join(' ')}`);
      case 'values':
        return lists.values().map((v) => {
          const life = v.lifetime.kind === 'forever' ? 'whole run' : v.lifetime.kind === 'once' ? 'once' : `until ${new Date(v.lifetime.at).toISOString()}`;
          return `${v.id} ${v.name} port ${v.port}${v.keyed ? ' keyed' : ''} ${life}, next in ${seconds(Math.max(0, v.nextInMs))}, last reached ${v.lastAcks} nodes`;
        });
    }
  }
}
