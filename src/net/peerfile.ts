// Bootstrap peers: parsing `host`, `host:port`, `ip:port`, `[ipv6]:port` and resolving host names.
import { lookup } from 'node:dns/promises';
import { open, readdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { isIP } from 'node:net';
import type { Logger } from '../log.js';
import { hostPort } from '../util/host-port.js';
import type { HostPort } from '../dht/node.js';
import { nonRegularKind, readRegularFile } from '../util/read-file.js';
import { AddressError } from '../errors.js';

export const DEFAULT_DHT_PORT = 6881;
const MAX_LINE = 255;
const MAX_PEERS = 1000;

export { AddressError };

export function parseHostPort(text: string, defaultPort = DEFAULT_DHT_PORT): HostPort {
  const value = text.trim();
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(value);
  if (bracketed) {
    [, host, portText] = bracketed as unknown as [string, string, string | undefined];
    if (isIP(host) !== 6) throw new AddressError(`'${text}': not an IPv6 address in brackets`);
  } else if (isIP(value) === 6) {
    host = value;
  } else {
    const parts = value.split(':');
    if (parts.length > 2) throw new AddressError(`'${text}': write IPv6 addresses as [addr]:port`);
    [host, portText] = parts as [string, string | undefined];
  }
  if (!host || !/^[A-Za-z0-9.:_-]+$/.test(host)) throw new AddressError(`'${text}': bad host`);
  const port = portText === undefined ? defaultPort : Number(portText);
  if (!(Number.isInteger(port) && port >= 1 && port <= 65535) || (portText !== undefined && !/^\d+$/.test(portText))) {
    throw new AddressError(`'${text}': bad port`);
  }
  return { host, port };
}

/** Peer file lines: `#` comments and empty lines skipped; bad lines reported by line number. */
export function parsePeerLines(content: string, source: string, log: Logger): HostPort[] {
  const peers: HostPort[] = [];
  content.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line || peers.length >= MAX_PEERS) return;
    if (line.length > MAX_LINE) return log.warn(`${source}:${index + 1}: line too long`);
    try {
      peers.push(parseHostPort(line));
    } catch (err) {
      log.warn(`${source}:${index + 1}: ${(err as Error).message}`);
    }
  });
  return peers;
}

/** 1000 peers of up to 255 characters, with room for comments. */
export const MAX_PEER_FILE_BYTES = 1024 * 1024;

/** What is wrong with a peer file that exists but is not a regular file (checked at start), or null. */
export function peerFileProblem(path: string): string | null {
  const kind = nonRegularKind(path);
  return kind === null ? null : `peer file '${path}' is ${kind}, not a regular file`;
}

export async function readPeerFile(path: string, log: Logger): Promise<HostPort[]> {
  const read = await readRegularFile(path, MAX_PEER_FILE_BYTES);
  if (!read.ok) {
    if (read.problem === 'not-regular') log.warn(`Cannot read peer file '${path}': it is ${read.kind}, not a regular file`);
    else if (read.problem === 'too-large') log.warn(`Cannot read peer file '${path}': larger than ${read.maxBytes / 1024} KiB`);
    else log.warn(`Cannot read peer file '${path}': ${read.error.code ?? read.error.message}`);
    return [];
  }
  return parsePeerLines(read.bytes.toString('utf8'), path, log);
}

/** Resolve host names to addresses of the DHT's family; unresolvable ones are logged and left out. */
export async function resolvePeers(peers: HostPort[], family: 4 | 6, log: Logger): Promise<HostPort[]> {
  const resolved = await Promise.all(
    peers.map(async (peer) => {
      if (isIP(peer.host)) return isIP(peer.host) === family ? peer : null;
      try {
        const { address } = await lookup(peer.host, { family });
        return { host: address, port: peer.port };
      } catch (err) {
        log.warn(`Cannot resolve address '${peer.host}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        return null;
      }
    }),
  );
  return resolved.filter((p): p is HostPort => p !== null);
}

/** What the peer file needs from the DHT (one per family). */
export interface PeerFileDht {
  family: 4 | 6;
  nodeCount(): number;
  bootstrap(peers: HostPort[]): void;
  goodNodes(max: number): { address: string; port: number }[];
}

export interface PeerFileOptions {
  /** null: only static peers, nothing exported */
  path: string | null;
  /** exported to: false for the bundled read-only list */
  writable: boolean;
  staticPeers: HostPort[];
  saveIntervalMs: number;
  minUptimeMs: number;
  /** re-read and re-resolve while the routing table stays empty */
  retryMs: number;
  maxExport: number;
}

export const MAX_EXPORTED_PEERS = 150;

/** Peers of the peer file and --peer: imported at start and while the table is empty, exported atomically. */
export class PeerFileService {
  private readonly startedAt = Date.now();
  private timers: NodeJS.Timeout[] = [];
  private stopped = false;

  constructor(private readonly dhts: readonly PeerFileDht[], private readonly log: Logger, private readonly options: PeerFileOptions) {}

  start(): void {
    if (this.options.path && this.options.writable) void removeStaleTemporaries(this.options.path);
    void this.importPeers(true);
    this.repeat(this.options.retryMs, () => {
      if (this.dhts.some((d) => d.nodeCount() === 0)) void this.importPeers(false);
    });
    if (this.options.path && this.options.writable) this.repeat(this.options.saveIntervalMs, () => void this.exportPeers());
  }

  private repeat(ms: number, fn: () => void): void {
    const timer = setInterval(fn, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private async importPeers(first: boolean): Promise<void> {
    const listed = [...this.options.staticPeers];
    if (this.options.path) {
      const fromFile = await readPeerFile(this.options.path, this.log);
      if (first) this.log.info(`Imported ${fromFile.length} peers from: '${this.options.path}'`);
      listed.push(...fromFile);
    }
    for (const dht of this.dhts) {
      if (!first && dht.nodeCount() > 0) continue;
      const peers = await resolvePeers(listed, dht.family, this.log);
      if (this.stopped) return;
      dht.bootstrap(peers);
    }
  }

  /** Returns the number written, or null when skipped. */
  async exportPeers(): Promise<number | null> {
    const { path } = this.options;
    if (!path || !this.options.writable) return null;
    if (Date.now() - this.startedAt < this.options.minUptimeMs) {
      this.log.info(`No peers exported: kadnode needs to run at least ${Math.round(this.options.minUptimeMs / 1000)} s.`);
      return null;
    }
    const peers = this.dhts.flatMap((d) => d.goodNodes(this.options.maxExport)).slice(0, this.options.maxExport);
    if (peers.length === 0) {
      this.log.info('No peers to export.');
      return null;
    }
    const lines = peers.map((p) => hostPort(p.address, p.port));
    try {
      await writeFileAtomic(path, lines.join('\n') + '\n');
      this.log.info(`Exported ${peers.length} peers to: '${path}'`);
      return peers.length;
    } catch (err) {
      this.log.warn(`Cannot write peer file '${path}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      return null;
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    await this.exportPeers();
  }
}

/** Temporary files of writers that were killed mid-write (their pid is in the name). */
async function removeStaleTemporaries(path: string): Promise<void> {
  const prefix = `.${basename(path)}.`;
  try {
    for (const name of await readdir(dirname(path))) {
      const pid = name.startsWith(prefix) && name.endsWith('.tmp') ? Number(name.slice(prefix.length, -4)) : NaN;
      if (Number.isInteger(pid) && pid !== process.pid) await rm(join(dirname(path), name), { force: true });
    }
  } catch {
    // an unreadable directory shows up when the file is written
  }
}

/** Temporary file in the same directory, flushed, then renamed: a crash leaves the old or the new file. */
export async function writeFileAtomic(path: string, content: string): Promise<void> {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const handle = await open(temp, 'w', 0o644);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
