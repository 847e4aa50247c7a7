// One option value → its typed form, for the option table (options.ts). Each parser looks at its own
// value only (rules between options run in config.ts, once, on the merged set) and fails with a
// ConfigError naming the option, in the words the operator reads on stderr or after `file:line:`.
import { isIP } from 'node:net';
import type { HostPort } from './dht/node.js';
import { AddressError, BobKeyError, ConfigError, KeyError } from './errors.js';
import { readBobKeyFile, type BobKey } from './identity/bob.js';
import { parseHexKey, publicKeyOf, readSecretKeyText, SECRET_KEY_BYTES } from './identity/keys.js';
import { parseKeyArgument, type KeyArgument, type KeyOption } from './identity/patterns.js';
import type { Verbosity } from './log.js';
import { parseHostPort, peerFileProblem } from './net/peerfile.js';
import { parseWebHost } from './surfaces/web-origin.js';

export interface ValueIdSpec {
  /** as the operator wrote it, without the port */
  query: string;
  /** undefined: announce the DHT port */
  port?: number;
}

export type Mode = 'ipv4' | 'ipv6' | 'dual';

/** where local surfaces bind unless told otherwise (::1 only where the host has it, see config.ts) */
export const LOOPBACK_ADDRESSES = ['127.0.0.1', '::1'] as const;

/** local peer discovery's multicast group per family (BEP 14; KadNode's) */
export const LPD_GROUPS = { ipv4: '239.192.152.143', ipv6: 'ff15::efc0:988f' } as const;

export function parsePort(option: string, value: string, allowZero: boolean): number {
  const port = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(port <= 65535 && (port >= 1 || (allowZero && port === 0)))) {
    throw new ConfigError(`Invalid port for --${option}: '${value}' (${allowZero ? '0' : '1'}..65535 expected)`);
  }
  return port;
}

export function parseValueId(value: string): ValueIdSpec {
  const match = /^(.*):(\d+)$/.exec(value);
  if (!match) {
    if (value.length === 0) throw new ConfigError('Invalid --value-id: empty');
    return { query: value };
  }
  const [, query, portText] = match;
  if (!query) throw new ConfigError(`Invalid --value-id: '${value}' has no name`);
  const port = parsePort('value-id', portText!, true);
  return port === 0 ? { query } : { query, port };
}

export function parseAddress(option: string, value: string): string {
  if (!isIP(value)) throw new ConfigError(`Invalid address for --${option}: '${value}' (an IPv4 or IPv6 address expected)`);
  return value;
}

export function parseWebHostOption(value: string): string {
  const host = parseWebHost(value);
  if (host === null) throw new ConfigError(`Invalid --web-host: '${value.slice(0, 100)}' (a host name or an IP address expected)`);
  return host;
}

export function normalizeTld(value: string): string {
  if (!/^\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/.test(value)) throw new ConfigError(`Invalid --query-tld: '${value}'`);
  return (value.startsWith('.') ? value : '.' + value).toLowerCase();
}

/** whole seconds → milliseconds */
export function parseSeconds(option: string, value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new ConfigError(`Invalid --${option}: '${value}' (whole seconds expected)`);
  return Number(value) * 1000;
}

export function parseMode(value: string): Mode {
  if (value === 'ipv4' || value === 'ipv6' || value === 'dual') return value;
  throw new ConfigError(`Invalid --mode: '${value}' (ipv4, ipv6 or dual expected)`);
}

export function parseVerbosity(value: string): Verbosity {
  if (value === 'quiet' || value === 'verbose' || value === 'debug') return value;
  throw new ConfigError(`Invalid --verbosity: '${value}' (quiet, verbose or debug expected)`);
}

/** One address sets the group of its own family (config.ts keeps the other family's default). */
export function parseLpdAddress(address: string): { family: 4 | 6; address: string } {
  const family = isIP(address);
  const multicast = family === 4 ? /^(22[4-9]|23\d)\./.test(address) : family === 6 && /^ff/i.test(address);
  if (!multicast) throw new ConfigError(`Invalid --lpd-addr: '${address}' (a multicast address expected)`);
  return { family: family as 4 | 6, address };
}

export function parsePeer(value: string): HostPort {
  try {
    return parseHostPort(value);
  } catch (err) {
    if (err instanceof AddressError) throw new ConfigError(`Invalid --peer ${err.message}`);
    throw err;
  }
}

export function parseDnsServer(value: string): HostPort {
  try {
    const server = parseHostPort(value, 53);
    if (!isIP(server.host)) throw new AddressError(`'${value}': an IP address expected`);
    return server;
  } catch (err) {
    if (err instanceof AddressError) throw new ConfigError(`Invalid --dns-server ${err.message}`);
    throw err;
  }
}

/** A peer file need not exist yet (it is written on exit), but must not be a device, a FIFO or a directory. */
export function parsePeerfile(path: string): string {
  const problem = peerFileProblem(path);
  if (problem) throw new ConfigError(`Invalid --peerfile: ${problem}`);
  return path;
}

/** --auth-add-skey / --auth-add-pkey: the pattern's form and the key; config.ts builds the KeyRing. */
export function keyArgument(option: KeyOption): (value: string) => KeyArgument {
  return (value) => {
    try {
      return parseKeyArgument(option, value);
    } catch (err) {
      if (err instanceof KeyError) throw new ConfigError(err.message);
      throw err;
    }
  };
}

export function parseBobKeyFile(path: string): BobKey {
  try {
    return readBobKeyFile(path);
  } catch (err) {
    if (err instanceof BobKeyError) throw new ConfigError(`Invalid --bob-load-key: ${err.message}`);
    throw err;
  }
}

/** 128 hex or @file; the zone of --pkarr-zone is read against this key's name (config.ts). */
export function parsePkarrKey(keyText: string): Buffer {
  try {
    const secretKey = parseHexKey(readSecretKeyText(keyText), SECRET_KEY_BYTES);
    publicKeyOf(secretKey);
    return secretKey;
  } catch (err) {
    if (err instanceof KeyError) throw new ConfigError(`Invalid --pkarr-key: ${err.message}`);
    throw err;
  }
}
