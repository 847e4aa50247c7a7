// Bootstrap peers: parsing `host`, `host:port`, `ip:port`, `[ipv6]:port` and resolving host names.
import { lookup } from 'node:dns/promises';
import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import type { Logger } from '../log.js';
import type { HostPort } from '../dht/node.js';

export const DEFAULT_DHT_PORT = 6881;
const MAX_LINE = 255;
const MAX_PEERS = 1000;

export class AddressError extends Error {}

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

export async function readPeerFile(path: string, log: Logger): Promise<HostPort[]> {
  let content: string;
  try {
    content = await readFile(path, 'utf8');
  } catch (err) {
    log.warn(`Cannot read peer file '${path}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    return [];
  }
  return parsePeerLines(content, path, log);
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
