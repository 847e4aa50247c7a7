// The daemon's configuration: defaults, validation, and the rules shared by every option source.
import { fileURLToPath } from 'node:url';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { Verbosity } from './log.js';
import type { HostPort } from './dht/node.js';
import { encodeZ32Key, KeyError, parseHexKey, publicKeyOf, readSecretKeyText, SECRET_KEY_BYTES } from './identity/keys.js';
import { KeyRing } from './identity/patterns.js';
import { BobKeyError, readBobKeyFile, type BobKey } from './identity/bob.js';
import { AddressError, parseHostPort, peerFileProblem } from './net/peerfile.js';
import type { RawOptions } from './options.js';
import { encodeDnsPacket, MAX_PACKET_BYTES } from './pkarr/packet.js';
import { readZoneFile, zoneAnswers, ZoneError, type ZoneRecord } from './pkarr/zone.js';
import { PACKAGE_ROOT } from './version.js';
import { parseWebHost } from './surfaces/web-origin.js';

export class ConfigError extends Error {}

export interface ValueIdSpec {
  /** as the operator wrote it, without the port */
  query: string;
  /** undefined: announce the DHT port */
  port?: number;
}

export interface Config {
  port: number;
  dhtAddress: string;
  peers: HostPort[];
  peerfile: string | null;
  valueIds: ValueIdSpec[];
  queryTld: string;
  /** --auth-add-skey / --auth-add-pkey */
  keys: KeyRing;
  /** --auth-refuse-1x: key-name addresses count only when proven by the address-bound exchange */
  authRefuse1x: boolean;
  /** --bob-load-key: KadNode 2.x P-256 keys whose names we announce and prove */
  bobKeys: BobKey[];
  dnsPort: number;
  dnsAddresses: string[];
  cmdPort: number;
  cmdAddresses: string[];
  cmdDisableStdin: boolean;
  webPort: number;
  webAddresses: string[];
  /** --web-host: more names the web port answers to (canonical form, see surfaces/web-origin.ts) */
  webHosts: string[];
  /** libnss_kadnode's port (surfaces/nss.ts), UDP on loopback; 0 disables */
  nssPort: number;
  nssAddresses: string[];
  daemon: boolean;
  pidfile: string | null;
  user: string | null;
  verbosity: Verbosity;
  /** which DHTs run: one per family */
  mode: 'ipv4' | 'ipv6' | 'dual';
  /** null: LPD disabled; else the multicast group per family */
  lpd: { ipv4: string; ipv6: string } | null;
  peerfileSaveIntervalMs: number;
  peerfileMinUptimeMs: number;
  fwdDisable: boolean;
  /** proxy mode: names outside the TLD go here */
  dnsServer: HostPort | null;
  /** how long DNS holds a query for the first address (below common client time-outs of 5 s) */
  dnsTimeoutMs: number;
  /** how long the console's lookup waits */
  lookupTimeoutMs: number;
  /** --pkarr-key / --pkarr-zone: the zone published under our key (null: nothing published) */
  pkarr: { secretKey: Buffer; records: ZoneRecord[] } | null;
}

export const DEFAULT_PEERFILE = fileURLToPath(new URL('peers.txt', PACKAGE_ROOT));
// ::1 is skipped when the host has IPv6 disabled, so the default never fails to bind.
function defaultLoopback(): string[] {
  const hasV6Loopback = Object.values(networkInterfaces()).some((list) => list?.some((i) => i.address === '::1'));
  return hasV6Loopback ? ['127.0.0.1', '::1'] : ['127.0.0.1'];
}

export const DEFAULTS = {
  port: 6881,
  dhtAddress: '0.0.0.0',
  queryTld: '.p2p',
  dnsPort: 3535,
  cmdPort: 1700,
  webPort: 8053,
  nssPort: 4053,
  verbosity: 'verbose' as Verbosity,
  dnsTimeoutMs: 3000,
  lpdIpv4: '239.192.152.143',
  lpdIpv6: 'ff15::efc0:988f',
  peerfileSaveIntervalS: 86_400,
  peerfileMinUptimeS: 300,
  lookupTimeoutMs: 10_000,
};

type Raw = RawOptions;
const str = (raw: Raw, name: string): string | undefined => {
  const v = raw[name];
  return typeof v === 'string' ? v : undefined;
};
const list = (raw: Raw, name: string): string[] | undefined => {
  const v = raw[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : undefined;
};
const flag = (raw: Raw, name: string): boolean => raw[name] === true;

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

function parseAddress(option: string, value: string): string {
  if (!isIP(value)) throw new ConfigError(`Invalid address for --${option}: '${value}' (an IPv4 or IPv6 address expected)`);
  return value;
}

function parseWebHostOption(value: string): string {
  const host = parseWebHost(value);
  if (host === null) throw new ConfigError(`Invalid --web-host: '${value.slice(0, 100)}' (a host name or an IP address expected)`);
  return host;
}

function normalizeTld(value: string): string {
  if (!/^\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/.test(value)) throw new ConfigError(`Invalid --query-tld: '${value}'`);
  return (value.startsWith('.') ? value : '.' + value).toLowerCase();
}

function parseSeconds(option: string, value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new ConfigError(`Invalid --${option}: '${value}' (whole seconds expected)`);
  return Number(value) * 1000;
}

function parseMode(value: string): Config['mode'] {
  if (value === 'ipv4' || value === 'ipv6' || value === 'dual') return value;
  throw new ConfigError(`Invalid --mode: '${value}' (ipv4, ipv6 or dual expected)`);
}

/** The LPD group; one address sets the group of its own family, the other keeps its default. */
function parseLpd(raw: Raw): Config['lpd'] {
  if (flag(raw, 'lpd-disable')) return null;
  const lpd = { ipv4: DEFAULTS.lpdIpv4, ipv6: DEFAULTS.lpdIpv6 };
  const address = str(raw, 'lpd-addr');
  if (address === undefined) return lpd;
  const family = isIP(address);
  const multicast = family === 4 ? /^(22[4-9]|23\d)\./.test(address) : family === 6 && /^ff/i.test(address);
  if (!multicast) throw new ConfigError(`Invalid --lpd-addr: '${address}' (a multicast address expected)`);
  if (family === 4) lpd.ipv4 = address;
  else lpd.ipv6 = address;
  return lpd;
}

function parseDnsServer(value: string): HostPort {
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
function parsePeerfile(path: string | undefined): string | undefined {
  const problem = path === undefined ? null : peerFileProblem(path);
  if (problem) throw new ConfigError(`Invalid --peerfile: ${problem}`);
  return path;
}

function parseVerbosity(value: string): Verbosity {
  if (value === 'quiet' || value === 'verbose' || value === 'debug') return value;
  throw new ConfigError(`Invalid --verbosity: '${value}' (quiet, verbose or debug expected)`);
}

function buildKeyRing(raw: RawOptions, tld: string): KeyRing {
  const keys = new KeyRing();
  try {
    for (const value of list(raw, 'auth-add-skey') ?? []) keys.addSecretKey(value, tld);
    for (const value of list(raw, 'auth-add-pkey') ?? []) keys.addPublicKey(value, tld);
  } catch (err) {
    if (err instanceof KeyError) throw new ConfigError(err.message);
    throw err;
  }
  return keys;
}

/**
 * The configuration of a whole set of options (command line and --config file merged), or with
 * `oneOption` the check of a single option's value (a --config line): rules between options, such as
 * --pkarr-key with --pkarr-zone, are then left to the whole set.
 */
export function buildConfig(raw: RawOptions, oneOption = false): Config {
  const queryTld = str(raw, 'query-tld') !== undefined ? normalizeTld(str(raw, 'query-tld')!) : DEFAULTS.queryTld;
  const peers = (list(raw, 'peer') ?? []).map((peer) => {
    try {
      return parseHostPort(peer);
    } catch (err) {
      if (err instanceof AddressError) throw new ConfigError(`Invalid --peer ${err.message}`);
      throw err;
    }
  });
  return {
    port: str(raw, 'port') !== undefined ? parsePort('port', str(raw, 'port')!, false) : DEFAULTS.port,
    dhtAddress: str(raw, 'dht-addr') !== undefined ? parseAddress('dht-addr', str(raw, 'dht-addr')!) : DEFAULTS.dhtAddress,
    peers,
    // The bundled public bootstrap list, unless the operator named their own peers.
    peerfile: parsePeerfile(str(raw, 'peerfile')) ?? (peers.length === 0 ? DEFAULT_PEERFILE : null),
    valueIds: (list(raw, 'value-id') ?? []).map(parseValueId),
    queryTld,
    keys: buildKeyRing(raw, queryTld),
    authRefuse1x: flag(raw, 'auth-refuse-1x'),
    bobKeys: (list(raw, 'bob-load-key') ?? []).map(parseBobKeyFile),
    dnsPort: str(raw, 'dns-port') !== undefined ? parsePort('dns-port', str(raw, 'dns-port')!, true) : DEFAULTS.dnsPort,
    dnsAddresses: (list(raw, 'dns-addr') ?? defaultLoopback()).map((a) => parseAddress('dns-addr', a)),
    cmdPort: str(raw, 'cmd-port') !== undefined ? parsePort('cmd-port', str(raw, 'cmd-port')!, true) : DEFAULTS.cmdPort,
    cmdAddresses: defaultLoopback(),
    cmdDisableStdin: flag(raw, 'cmd-disable-stdin'),
    webPort: str(raw, 'web-port') !== undefined ? parsePort('web-port', str(raw, 'web-port')!, true) : DEFAULTS.webPort,
    webAddresses: (list(raw, 'web-addr') ?? defaultLoopback()).map((a) => parseAddress('web-addr', a)),
    webHosts: (list(raw, 'web-host') ?? []).map(parseWebHostOption),
    nssPort: str(raw, 'nss-port') !== undefined ? parsePort('nss-port', str(raw, 'nss-port')!, true) : DEFAULTS.nssPort,
    nssAddresses: defaultLoopback(),
    daemon: flag(raw, 'daemon'),
    pidfile: str(raw, 'pidfile') ?? null,
    user: str(raw, 'user') ?? null,
    verbosity: str(raw, 'verbosity') !== undefined ? parseVerbosity(str(raw, 'verbosity')!) : DEFAULTS.verbosity,
    mode: str(raw, 'mode') !== undefined ? parseMode(str(raw, 'mode')!) : 'ipv4',
    lpd: parseLpd(raw),
    peerfileSaveIntervalMs: str(raw, 'peerfile-save-interval') !== undefined ? parseSeconds('peerfile-save-interval', str(raw, 'peerfile-save-interval')!) : DEFAULTS.peerfileSaveIntervalS * 1000,
    peerfileMinUptimeMs: str(raw, 'peerfile-min-uptime') !== undefined ? parseSeconds('peerfile-min-uptime', str(raw, 'peerfile-min-uptime')!) : DEFAULTS.peerfileMinUptimeS * 1000,
    fwdDisable: flag(raw, 'fwd-disable'),
    dnsServer: str(raw, 'dns-server') !== undefined ? parseDnsServer(str(raw, 'dns-server')!) : null,
    dnsTimeoutMs: DEFAULTS.dnsTimeoutMs,
    lookupTimeoutMs: DEFAULTS.lookupTimeoutMs,
    pkarr: parsePkarr(raw, oneOption),
  };
}

function parseBobKeyFile(path: string): BobKey {
  try {
    return readBobKeyFile(path);
  } catch (err) {
    if (err instanceof BobKeyError) throw new ConfigError(`Invalid --bob-load-key: ${err.message}`);
    throw err;
  }
}

/**
 * --pkarr-key and --pkarr-zone (both or neither). The zone is read and checked now, so a bad line or a
 * packet over 1000 bytes (`auto` counted at the longest address) stops the start.
 */
function parsePkarr(raw: RawOptions, oneOption: boolean): Config['pkarr'] {
  const keyText = str(raw, 'pkarr-key');
  const zoneFile = str(raw, 'pkarr-zone');
  if (keyText === undefined && zoneFile === undefined) return null;
  // The zone is read against the key's name, so a lone zone line waits for the whole set.
  if (oneOption && zoneFile === undefined) return checkKeyOnly(keyText!);
  if (oneOption && keyText === undefined) return null;
  if (keyText === undefined) throw new ConfigError('--pkarr-zone needs --pkarr-key');
  if (zoneFile === undefined) throw new ConfigError('--pkarr-key needs --pkarr-zone');
  const secretKey = pkarrSecretKey(keyText);
  const origin = encodeZ32Key(secretKey.subarray(32));
  try {
    const records = readZoneFile(zoneFile, origin);
    const longest = { 4: '255.255.255.255', 6: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff' };
    const size = encodeDnsPacket(zoneAnswers(records, origin, longest).answers).length;
    if (size > MAX_PACKET_BYTES) throw new ZoneError(`${zoneFile}: the packet of ${records.length} records is ${size} bytes, over the ${MAX_PACKET_BYTES}-byte limit`);
    return { secretKey, records };
  } catch (err) {
    if (err instanceof ZoneError) throw new ConfigError(`Invalid --pkarr-zone: ${err.message}`);
    throw err;
  }
}

function pkarrSecretKey(keyText: string): Buffer {
  try {
    const secretKey = parseHexKey(readSecretKeyText(keyText), SECRET_KEY_BYTES);
    publicKeyOf(secretKey);
    return secretKey;
  } catch (err) {
    if (err instanceof KeyError) throw new ConfigError(`Invalid --pkarr-key: ${err.message}`);
    throw err;
  }
}

function checkKeyOnly(keyText: string): null {
  pkarrSecretKey(keyText);
  return null;
}
