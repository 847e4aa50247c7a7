// The daemon's configuration: every option of the table (options.ts) parsed from the merged command line
// and --config file, then the rules between options, run once on the whole set: the bundled peer file
// unless --peer, key patterns against --query-tld and each other, --pkarr-key with --pkarr-zone, value
// ids against the keys, --dht-addr against --mode, LPD groups, no console in daemon mode.
import { fileURLToPath } from 'node:url';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import type { HostPort } from './dht/node.js';
import { ConfigError, KeyError, UsageError, ZoneError } from './errors.js';
import type { BobKey } from './identity/bob.js';
import { encodeZ32Key } from './identity/keys.js';
import { KeyRing } from './identity/patterns.js';
import { makeValue } from './identity/value-id.js';
import type { Verbosity } from './log.js';
import { LOOPBACK_ADDRESSES, LPD_GROUPS, type Mode, type ValueIdSpec } from './option-values.js';
import { parseOptions, type OptionValues, type RawOptions } from './options.js';
import { encodeDnsPacket, MAX_PACKET_BYTES } from './pkarr/packet.js';
import { readZoneFile, zoneAnswers, type ZoneRecord } from './pkarr/zone.js';
import { PACKAGE_ROOT } from './version.js';

// importers read these here
export { ConfigError };
export { parsePort, parseValueId, type ValueIdSpec } from './option-values.js';

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
  mode: Mode;
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
/** how long DNS holds a query for the first address (below common client time-outs of 5 s) */
const DNS_TIMEOUT_MS = 3000;
/** how long the console's lookup waits */
const LOOKUP_TIMEOUT_MS = 10_000;

// ::1 is skipped when the host has IPv6 disabled, so the default never fails to bind.
function defaultLoopback(): string[] {
  const hasV6Loopback = Object.values(networkInterfaces()).some((list) => list?.some((i) => i.address === '::1'));
  return LOOPBACK_ADDRESSES.filter((a) => a !== '::1' || hasV6Loopback);
}

/** The configuration of a whole set of options (command line and --config file merged). */
export function buildConfig(raw: RawOptions): Config {
  const o = parseOptions(raw);
  const peers = o.peer ?? [];
  const config: Config = {
    port: o.port,
    dhtAddress: o['dht-addr'],
    peers,
    // The bundled public bootstrap list, unless the operator named their own peers.
    peerfile: o.peerfile ?? (peers.length === 0 ? DEFAULT_PEERFILE : null),
    valueIds: o['value-id'] ?? [],
    queryTld: o['query-tld'],
    keys: keyRing(o),
    authRefuse1x: o['auth-refuse-1x'],
    bobKeys: o['bob-load-key'] ?? [],
    dnsPort: o['dns-port'],
    dnsAddresses: o['dns-addr'] ?? defaultLoopback(),
    cmdPort: o['cmd-port'],
    cmdAddresses: defaultLoopback(),
    // Daemon mode never reads the console from stdin (it is /dev/null).
    cmdDisableStdin: o['cmd-disable-stdin'] || o.daemon,
    webPort: o['web-port'],
    webAddresses: o['web-addr'] ?? defaultLoopback(),
    webHosts: o['web-host'] ?? [],
    nssPort: o['nss-port'],
    nssAddresses: defaultLoopback(),
    daemon: o.daemon,
    pidfile: o.pidfile ?? null,
    user: o.user ?? null,
    verbosity: o.verbosity,
    mode: o.mode,
    lpd: lpdGroups(o),
    peerfileSaveIntervalMs: o['peerfile-save-interval'],
    peerfileMinUptimeMs: o['peerfile-min-uptime'],
    fwdDisable: o['fwd-disable'],
    dnsServer: o['dns-server'] ?? null,
    dnsTimeoutMs: DNS_TIMEOUT_MS,
    lookupTimeoutMs: LOOKUP_TIMEOUT_MS,
    pkarr: pkarrZone(o),
  };
  checkValueIds(config);
  checkDhtAddress(config);
  return config;
}

/** Key patterns are sanitized against --query-tld; a pattern that conflicts with one before is refused. */
function keyRing(o: OptionValues): KeyRing {
  const keys = new KeyRing();
  try {
    for (const key of [...(o['auth-add-skey'] ?? []), ...(o['auth-add-pkey'] ?? [])]) keys.add(key, o['query-tld']);
  } catch (err) {
    if (err instanceof KeyError) throw new ConfigError(err.message);
    throw err;
  }
  return keys;
}

/** null with --lpd-disable; --lpd-addr sets the group of its own family, the other keeps its default. */
function lpdGroups(o: OptionValues): Config['lpd'] {
  if (o['lpd-disable']) return null;
  const lpd = { ipv4: LPD_GROUPS.ipv4 as string, ipv6: LPD_GROUPS.ipv6 as string };
  const given = o['lpd-addr'];
  if (given?.family === 4) lpd.ipv4 = given.address;
  if (given?.family === 6) lpd.ipv6 = given.address;
  return lpd;
}

/**
 * --pkarr-key and --pkarr-zone (both or neither). The zone is read and checked now, against the key's
 * name, so a bad line or a packet over 1000 bytes (`auto` counted at the longest address) stops the start.
 */
function pkarrZone(o: OptionValues): Config['pkarr'] {
  const secretKey = o['pkarr-key'];
  const zoneFile = o['pkarr-zone'];
  if (secretKey === undefined && zoneFile === undefined) return null;
  if (secretKey === undefined) throw new ConfigError('--pkarr-zone needs --pkarr-key');
  if (zoneFile === undefined) throw new ConfigError('--pkarr-key needs --pkarr-zone');
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

/** A value id read against the TLD, the key patterns and the DHT port, as the daemon will announce it. */
function checkValueIds(config: Config): void {
  for (const spec of config.valueIds) {
    try {
      makeValue(config, spec.query, spec.port);
    } catch (err) {
      if (err instanceof UsageError) throw new ConfigError(err.message);
      throw err;
    }
  }
}

/** --dht-addr binds the DHT of its family; with one DHT (not dual) it must be that DHT's family. */
function checkDhtAddress(config: Config): void {
  if (config.mode === 'dual' || config.dhtAddress === parseOptions({})['dht-addr']) return;
  if (isIP(config.dhtAddress) !== (config.mode === 'ipv6' ? 6 : 4)) throw new ConfigError(`Invalid --dht-addr '${config.dhtAddress}' for --mode ${config.mode}`);
}
