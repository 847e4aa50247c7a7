// Every daemon option once: its name, default, parse and description. The command line (cli/kadnode.ts
// with yargs), the --config file (config-file.ts), --help and the docs test (docs/options.md and man page state
// these defaults) all read this table, so they accept and describe exactly the same options.
// parseOptions() gives each option's typed value; the rules between options (both of --pkarr-key and
// --pkarr-zone, key patterns against --query-tld, ...) run once on the merged set, in config.ts.
import * as parse from './option-values.js';
import { LOOPBACK_ADDRESSES, LPD_GROUPS } from './option-values.js';

interface Common {
  describe: string;
  /** not allowed inside a --config file */
  commandLineOnly?: true;
  /**
   * The default as --help, docs/options.md and man page state it. A value option's default is parsed like a
   * given value, unless `defaultByRule`: then it depends on the host or on other options, config.ts
   * supplies it after merging, and this text only describes it.
   */
  default?: string;
  defaultByRule?: true;
}
type Parse<T> = (value: string) => T;
interface FlagDef extends Common { kind: 'flag' }
interface ValueDef<T> extends Common { kind: 'value'; parse: Parse<T> }
interface ListDef<T> extends Common { kind: 'list'; parse: Parse<T> }
type Def = FlagDef | ValueDef<unknown> | ListDef<unknown>;

/** an option without a value */
const flag = <const D extends Common>(d: D) => ({ kind: 'flag' as const, ...d });
/** an option with one value */
const value = <T, const D extends Common>(parse: Parse<T>, d: D) => ({ kind: 'value' as const, parse, ...d });
/** a repeatable option: its values in order, command line first */
const list = <T, const D extends Common>(parse: Parse<T>, d: D) => ({ kind: 'list' as const, parse, ...d });
const text = (value: string): string => value;

const TABLE = {
  'value-id': list(parse.parseValueId, { describe: 'Announce <name>[:<port>] (repeatable); port defaults to the DHT port' }),
  'auth-gen-keys': flag({ commandLineOnly: true, describe: 'Print a new ed25519 key pair (hex, and the public key in z-base32) and exit' }),
  'auth-add-skey': list(parse.keyArgument('--auth-add-skey'), { describe: 'Secret key for announcing [<pattern>:]<128 hex> or [<pattern>:]@<file> (repeatable)' }),
  'auth-add-pkey': list(parse.keyArgument('--auth-add-pkey'), { describe: 'Public key for verifying lookups [<pattern>:]<64 hex> (repeatable)' }),
  'auth-refuse-1x': flag({ describe: 'Answer key names only with addresses proven by the address-bound exchange, not by the KadNode 1.x one (which can be relayed)' }),
  'bob-load-key': list(parse.parseBobKeyFile, { describe: 'Announce the KadNode 2.x key name of a P-256 secret key <file> (PEM, mode 600) and answer its challenges (repeatable)' }),
  'bob-create-key': value(text, { commandLineOnly: true, describe: 'Write a new P-256 secret key for --bob-load-key to <file>, print its name and exit' }),
  'pkarr-key': value(parse.parsePkarrKey, { describe: 'Secret key <128 hex> or @<file> whose zone is published on the DHT (PKARR); needs --pkarr-zone' }),
  'pkarr-zone': value(text, { describe: 'Zone file to publish under --pkarr-key: lines NAME TTL TYPE DATA (A, AAAA, TXT, CNAME, SRV, HTTPS, SVCB)' }),
  peer: list(parse.parsePeer, { describe: 'Bootstrap peer <addr>[:<port>] (repeatable)' }),
  peerfile: value(parse.parsePeerfile, { default: 'the bundled peers.txt unless --peer is given', defaultByRule: true, describe: 'File with bootstrap peers, one per line' }),
  port: value((v) => parse.parsePort('port', v, false), { default: '6881', describe: 'DHT UDP port' }),
  'dht-addr': value((v) => parse.parseAddress('dht-addr', v), { default: '0.0.0.0', describe: 'Address the DHT socket binds to' }),
  'query-tld': value(parse.normalizeTld, { default: '.p2p', describe: 'Top-level domain of DHT names' }),
  'dns-port': value((v) => parse.parsePort('dns-port', v, true), { default: '3535', describe: 'DNS port, UDP and TCP; 0 disables' }),
  'dns-addr': list((v) => parse.parseAddress('dns-addr', v), { default: LOOPBACK_ADDRESSES.join(' and '), defaultByRule: true, describe: 'Address the DNS server binds to, repeatable' }),
  'cmd-port': value((v) => parse.parsePort('cmd-port', v, true), { default: '1700', describe: 'Control port for kadnode-ctl, TCP on loopback; 0 disables' }),
  'cmd-disable-stdin': flag({ describe: 'Do not read console commands from standard input' }),
  'web-port': value((v) => parse.parsePort('web-port', v, true), { default: '8053', describe: 'Web interface port, HTTP on loopback; 0 disables' }),
  'web-addr': list((v) => parse.parseAddress('web-addr', v), { default: LOOPBACK_ADDRESSES.join(' and '), defaultByRule: true, describe: 'Address the web interface binds to, repeatable' }),
  'web-host': list(parse.parseWebHostOption, { describe: 'Name the web interface answers to besides its address and localhost (repeatable); other Host headers get 421' }),
  'nss-port': value((v) => parse.parsePort('nss-port', v, true), { default: '4053', describe: 'Port for the NSS module libnss_kadnode, UDP on loopback; 0 disables' }),
  mode: value(parse.parseMode, { default: 'ipv4', describe: 'IP family of the DHT: ipv4, ipv6 or dual' }),
  'lpd-addr': value(parse.parseLpdAddress, { default: `${LPD_GROUPS.ipv4} for IPv4, ${LPD_GROUPS.ipv6} for IPv6`, defaultByRule: true, describe: 'Multicast address for local peer discovery' }),
  'lpd-disable': flag({ describe: 'Disable local peer discovery' }),
  'peerfile-save-interval': value((v) => parse.parseSeconds('peerfile-save-interval', v), { default: '86400', describe: 'Seconds between peer file exports' }),
  'peerfile-min-uptime': value((v) => parse.parseSeconds('peerfile-min-uptime', v), { default: '300', describe: 'Seconds of runtime before the peer file is written' }),
  'fwd-disable': flag({ describe: 'Disable port forwarding via UPnP and NAT-PMP' }),
  'dns-server': value(parse.parseDnsServer, { describe: 'Upstream DNS server <addr>[:<port>] for names outside the TLD (proxy mode)' }),
  config: value(text, { commandLineOnly: true, describe: 'Read options from a file: one option and its value per line, # comments' }),
  daemon: flag({ describe: 'Run in the background and log to syslog' }),
  pidfile: value(text, { describe: 'Write the process id to this file when ready; removed on exit' }),
  user: value(text, { describe: 'Drop root privileges to this user after binding the sockets' }),
  verbosity: value(parse.parseVerbosity, { default: 'verbose', describe: 'quiet, verbose or debug' }),
} satisfies Record<string, Def>;

type Table = typeof TABLE;
type Parsed<D> = D extends { kind: 'flag' }
  ? boolean
  : D extends { kind: 'list'; parse: Parse<infer T> }
    ? T[] | undefined
    : D extends { kind: 'value'; parse: Parse<infer T> }
      ? D extends { default: string; defaultByRule?: undefined } ? T : T | undefined
      : never;

/** Each option's typed value: flags true or false, lists undefined when not given, values their default. */
export type OptionValues = { -readonly [K in keyof Table]: Parsed<Table[K]> };

export interface OptionSpec {
  name: string;
  /** takes a value (else a flag) */
  value: boolean;
  repeatable: boolean;
  /** not allowed inside a --config file */
  commandLineOnly: boolean;
  describe: string;
  /** as stated in --help, docs/options.md and man page (see Common.default) */
  default?: string;
  defaultByRule: boolean;
  /** one value → its typed form; throws ConfigError naming the option */
  parse?: Parse<unknown>;
}

export const OPTIONS: readonly OptionSpec[] = Object.entries(TABLE as Record<string, Def>).map(([name, d]) => ({
  name,
  value: d.kind !== 'flag',
  repeatable: d.kind === 'list',
  commandLineOnly: d.commandLineOnly === true,
  describe: d.describe,
  ...(d.default !== undefined ? { default: d.default } : {}),
  defaultByRule: d.defaultByRule === true,
  ...(d.kind !== 'flag' ? { parse: d.parse } : {}),
}));

export const OPTION_BY_NAME: ReadonlyMap<string, OptionSpec> = new Map(OPTIONS.map((o) => [o.name, o]));

/** Option values as the parsers hand them over: strings, lists of strings, or flags. */
export type RawOptions = Partial<Record<string, string | string[] | boolean>>;

/** The line of --help: the description and the default. */
export function helpText(spec: OptionSpec): string {
  return spec.default === undefined ? spec.describe : `${spec.describe} (default ${spec.default})`;
}

/** Every option of the table parsed on its own (a given value, or the default); throws ConfigError. */
export function parseOptions(raw: RawOptions): OptionValues {
  const values: Record<string, unknown> = {};
  for (const spec of OPTIONS) {
    const given = raw[spec.name];
    if (!spec.parse) {
      values[spec.name] = given === true;
    } else if (spec.repeatable) {
      const list = Array.isArray(given) ? given : typeof given === 'string' ? [given] : undefined;
      values[spec.name] = list?.map(spec.parse);
    } else if (typeof given === 'string') {
      values[spec.name] = spec.parse(given);
    } else if (spec.default !== undefined && !spec.defaultByRule) {
      values[spec.name] = spec.parse(spec.default);
    }
  }
  return values as OptionValues;
}
