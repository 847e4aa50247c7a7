// The zone file of --pkarr-zone: one record a line, `NAME TTL [IN] TYPE DATA`, names relative to the
// public key (`@` is the key itself, `foo` is `foo.<z32>`), `;` or `#` start a comment outside quotes.
// Types: A, AAAA, TXT, CNAME, SRV, HTTPS, SVCB. A/AAAA data `auto` is this node's address as the DHT sees
// it. Errors name the file and the line. Pure apart from readZoneFile().
import { isIPv4, isIPv6 } from 'node:net';
import type { Answer } from 'dns-packet';
import { ipToBytes } from '../dht/compact.js';
import { readRegularFileSync } from '../util/read-file.js';
import { ZoneError } from '../errors.js';

export type ZoneType = 'A' | 'AAAA' | 'TXT' | 'CNAME' | 'SRV' | 'HTTPS' | 'SVCB';

export type ZoneData =
  | { type: 'A' | 'AAAA'; address: string }
  | { type: 'TXT'; strings: Buffer[] }
  | { type: 'CNAME'; target: string }
  | { type: 'SRV'; priority: number; weight: number; port: number; target: string }
  | { type: 'HTTPS' | 'SVCB'; priority: number; target: string; params: Buffer };

export interface ZoneRecord {
  /** 1-based line in the file */
  line: number;
  /** relative to the key: '' for the key itself, else `foo`, `_srv._tcp` ... (lowercase) */
  name: string;
  ttl: number;
  data: ZoneData;
}

/** A/AAAA data meaning this node's address as other DHT nodes see it. */
export const AUTO = 'auto';

export { ZoneError };

const MAX_ZONE_FILE = 64 * 1024;
const MAX_TTL = 2 ** 31 - 1;
const LABEL = /^[a-z0-9_-]{1,63}$/;
const TYPES: ReadonlySet<string> = new Set(['A', 'AAAA', 'TXT', 'CNAME', 'SRV', 'HTTPS', 'SVCB']);
/** dns-packet has no names for these: records go through it as raw data */
export const RAW_TYPE = { SVCB: 'UNKNOWN_64', HTTPS: 'UNKNOWN_65' } as const;

interface Token {
  /** as written (quotes removed) */
  text: string;
  /** with \X and \DDD escapes applied */
  bytes: Buffer;
}

function tokenize(line: string, fail: (message: string) => never): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      continue;
    }
    if (c === ';' || c === '#') break;
    let text = '';
    const bytes: number[] = [];
    let quoted = false;
    for (; i < line.length; i++) {
      const ch = line[i]!;
      if (!quoted && (ch === ' ' || ch === '\t' || ch === '\r')) break;
      if (ch === '"') {
        quoted = !quoted;
        continue;
      }
      if (ch === '\\') {
        const digits = /^\d{3}/.exec(line.slice(i + 1));
        if (digits) {
          const value = Number(digits[0]);
          if (value > 255) fail(`bad escape \\${digits[0]}`);
          bytes.push(value);
          text += String.fromCharCode(value);
          i += 3;
          continue;
        }
        if (i + 1 >= line.length) fail('a backslash ends the line');
        i++;
      }
      text += line[i]!;
      bytes.push(...Buffer.from(line[i]!));
    }
    if (quoted) fail('unterminated quoted string');
    tokens.push({ text, bytes: Buffer.from(bytes) });
  }
  return tokens;
}

// A name below the key leaves room for `.<52 characters>` within DNS's 253.
function checkName(name: string, fail: (message: string) => never, max = 200): void {
  if (name.length > max || !name.split('.').every((l) => LABEL.test(l))) fail(`invalid name '${name}'`);
}

/** An owner name, relative to the key. */
function ownerName(text: string, origin: string | undefined, fail: (message: string) => never): string {
  let name = text.toLowerCase();
  if (name === '@') return '';
  if (name.endsWith('.')) {
    name = name.slice(0, -1);
    if (origin && name === origin) return '';
    if (origin && name.endsWith('.' + origin)) name = name.slice(0, -origin.length - 1);
    else fail(`'${text}' is not under the key: write names relative to it (@ for the key itself)`);
  }
  checkName(name, fail);
  return name;
}

/** A target name as written: `@`, `.` (root), absolute `host.example.`, or relative to the key. */
function targetName(text: string, fail: (message: string) => never, allowRoot = false): string {
  const name = text.toLowerCase();
  if (name === '@') return name;
  if (name === '.') {
    if (!allowRoot) fail(`'.' is not a valid target here`);
    return name;
  }
  if (name.endsWith('.')) checkName(name.slice(0, -1), fail, 253);
  else checkName(name, fail);
  return name;
}

function integer(text: string, what: string, max: number, fail: (message: string) => never): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) > max) fail(`invalid ${what} '${text}' (0..${max} expected)`);
  return Number(text);
}

export interface ParseZoneOptions {
  /** file name for messages */
  source: string;
  /** the key's z-base32 label: absolute owner names under it are accepted */
  origin?: string;
}

export function parseZone(text: string, options: ParseZoneOptions): ZoneRecord[] {
  const records: ZoneRecord[] = [];
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = n + 1;
    const fail = (message: string): never => {
      throw new ZoneError(`${options.source}:${line}: ${message}`);
    };
    const tokens = tokenize(lines[n]!, fail);
    if (tokens.length === 0) continue;
    if (tokens.length < 4) fail(`expected NAME TTL TYPE DATA, got ${tokens.length} field${tokens.length === 1 ? '' : 's'}`);
    const name = ownerName(tokens[0]!.text, options.origin, fail);
    const ttl = integer(tokens[1]!.text, 'TTL', MAX_TTL, fail);
    let at = 2;
    if (tokens[at]!.text.toUpperCase() === 'IN') at++;
    const type = tokens[at]?.text.toUpperCase() ?? '';
    if (!TYPES.has(type)) fail(`unsupported type '${type}' (A, AAAA, TXT, CNAME, SRV, HTTPS or SVCB expected)`);
    const data = parseData(type as ZoneType, tokens.slice(at + 1), fail);
    records.push({ line, name, ttl, data });
  }
  checkCnames(records, options.source);
  return records;
}

function parseData(type: ZoneType, args: Token[], fail: (message: string) => never): ZoneData {
  if (args.length === 0) fail(`${type} needs data`);
  const count = (n: number, form: string) => {
    if (args.length !== n) fail(`${type} data is ${form}`);
  };
  switch (type) {
    case 'A':
    case 'AAAA': {
      count(1, type === 'A' ? 'an IPv4 address or auto' : 'an IPv6 address or auto');
      const address = args[0]!.text.toLowerCase();
      const valid = address === AUTO || (type === 'A' ? isIPv4(address) : isIPv6(address));
      if (!valid) fail(`invalid ${type} address '${args[0]!.text}'`);
      return { type, address };
    }
    case 'TXT': {
      // A string over 255 bytes becomes several (as for long DKIM keys).
      const strings: Buffer[] = [];
      for (const arg of args) {
        if (arg.bytes.length === 0) strings.push(Buffer.alloc(0));
        for (let i = 0; i < arg.bytes.length; i += 255) strings.push(arg.bytes.subarray(i, i + 255));
      }
      return { type, strings };
    }
    case 'CNAME':
      count(1, 'a name');
      return { type, target: targetName(args[0]!.text, fail) };
    case 'SRV': {
      count(4, 'PRIORITY WEIGHT PORT TARGET');
      const [priority, weight, port] = args.slice(0, 3).map((a, i) => integer(a.text, ['priority', 'weight', 'port'][i]!, 65535, fail)) as [number, number, number];
      return { type, priority, weight, port, target: targetName(args[3]!.text, fail, true) };
    }
    case 'HTTPS':
    case 'SVCB': {
      if (args.length < 2) fail(`${type} data is PRIORITY TARGET [PARAMS...]`);
      const priority = integer(args[0]!.text, 'priority', 65535, fail);
      const target = targetName(args[1]!.text, fail, true);
      if (priority === 0 && args.length > 2) fail(`${type} with priority 0 (alias mode) takes no parameters`);
      return { type, priority, target, params: encodeSvcParams(args.slice(2), fail) };
    }
  }
}

/** RFC 1034 §3.6.2: a name with a CNAME has no other data. */
function checkCnames(records: ZoneRecord[], source: string): void {
  const byName = new Map<string, ZoneRecord[]>();
  for (const r of records) byName.set(r.name, [...(byName.get(r.name) ?? []), r]);
  for (const list of byName.values()) {
    const cname = list.find((r) => r.data.type === 'CNAME');
    if (!cname || list.length === 1) continue;
    const other = list.find((r) => r !== cname)!;
    throw new ZoneError(`${source}:${Math.max(cname.line, other.line)}: '${cname.name || '@'}' has a CNAME (line ${cname.line}) and other records (line ${other.line})`);
  }
}

// ---------------------------------------------------------------- SVCB / HTTPS parameters (RFC 9460)

const SVC_KEYS: Record<string, number> = { mandatory: 0, alpn: 1, 'no-default-alpn': 2, port: 3, ipv4hint: 4, ech: 5, ipv6hint: 6 };

function svcKey(name: string, fail: (message: string) => never): number {
  if (Object.hasOwn(SVC_KEYS, name)) return SVC_KEYS[name]!;
  const m = /^key(\d{1,5})$/.exec(name);
  if (m && Number(m[1]) <= 65534) return Number(m[1]);
  return fail(`unknown SVCB parameter '${name}'`);
}

function encodeSvcParams(args: Token[], fail: (message: string) => never): Buffer {
  const params = new Map<number, Buffer>();
  for (const arg of args) {
    const eq = arg.text.indexOf('=');
    const name = (eq < 0 ? arg.text : arg.text.slice(0, eq)).toLowerCase();
    const value = eq < 0 ? null : arg.text.slice(eq + 1);
    const key = svcKey(name, fail);
    if (params.has(key)) fail(`SVCB parameter '${name}' given twice`);
    const list = (v: string | null) => {
      if (!v) return fail(`SVCB parameter '${name}' needs a value`);
      return v.split(',');
    };
    let bytes: Buffer;
    switch (key) {
      case 0:
        bytes = Buffer.concat(list(value).map((k) => u16(svcKey(k.toLowerCase(), fail))));
        break;
      case 1:
        bytes = Buffer.concat(
          list(value).map((id) => {
            const b = Buffer.from(id);
            if (b.length === 0 || b.length > 255) fail(`invalid alpn id '${id}'`);
            return Buffer.concat([Buffer.from([b.length]), b]);
          }),
        );
        break;
      case 2:
        if (value !== null) fail(`SVCB parameter 'no-default-alpn' takes no value`);
        bytes = Buffer.alloc(0);
        break;
      case 3:
        bytes = u16(integer(value ?? '', 'port', 65535, fail));
        break;
      case 4:
      case 6:
        bytes = Buffer.concat(
          list(value).map((ip) => {
            const ok = key === 4 ? isIPv4(ip) : isIPv6(ip);
            const b = ok ? ipToBytes(ip) : null;
            if (!b) return fail(`invalid address '${ip}' in ${name}`);
            return b;
          }),
        );
        break;
      case 5:
        if (!value || !/^[A-Za-z0-9+/]+=*$/.test(value)) fail(`ech needs a base64 value`);
        bytes = Buffer.from(value!, 'base64');
        break;
      default:
        bytes = Buffer.from(value ?? '');
    }
    if (bytes.length > 65535) fail(`SVCB parameter '${name}' is too long`);
    params.set(key, bytes);
  }
  return Buffer.concat([...params].sort((a, b) => a[0] - b[0]).flatMap(([key, value]) => [u16(key), u16(value.length), value]));
}

function u16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(n);
  return b;
}

// ---------------------------------------------------------------- records → DNS answers

export interface ExternalAddresses {
  4?: string | null;
  6?: string | null;
}

/** A target as a full name: relative names are below the key. */
function qualify(target: string, origin: string): string {
  if (target === '@') return origin;
  if (target === '.') return '.';
  return target.endsWith('.') ? target.slice(0, -1) : `${target}.${origin}`;
}

function wireName(name: string): Buffer {
  if (name === '.') return Buffer.from([0]);
  const labels = name.split('.').map((l) => Buffer.from(l));
  return Buffer.concat([...labels.flatMap((l) => [Buffer.from([l.length]), l]), Buffer.from([0])]);
}

/**
 * The zone's records as DNS answers named under the key (`foo.<z32>`). `auto` records take this node's
 * address of their family; without one they are left out and listed in `skipped`.
 */
export function zoneAnswers(records: ZoneRecord[], origin: string, external: ExternalAddresses = {}): { answers: Answer[]; skipped: ZoneRecord[] } {
  const answers: Answer[] = [];
  const skipped: ZoneRecord[] = [];
  for (const r of records) {
    const name = r.name ? `${r.name}.${origin}` : origin;
    const base = { name, ttl: r.ttl, class: 'IN' as const };
    const d = r.data;
    switch (d.type) {
      case 'A':
      case 'AAAA': {
        const address = d.address === AUTO ? external[d.type === 'A' ? 4 : 6] : d.address;
        if (address) answers.push({ ...base, type: d.type, data: address });
        else skipped.push(r);
        break;
      }
      case 'TXT':
        answers.push({ ...base, type: 'TXT', data: d.strings });
        break;
      case 'CNAME':
        answers.push({ ...base, type: 'CNAME', data: qualify(d.target, origin) });
        break;
      case 'SRV':
        answers.push({ ...base, type: 'SRV', data: { priority: d.priority, weight: d.weight, port: d.port, target: qualify(d.target, origin) } });
        break;
      case 'HTTPS':
      case 'SVCB': {
        const rdata = Buffer.concat([u16(d.priority), wireName(qualify(d.target, origin)), d.params]);
        answers.push({ ...base, type: RAW_TYPE[d.type], data: rdata } as unknown as Answer);
        break;
      }
    }
  }
  return { answers, skipped };
}

/** True when some record needs this node's address. */
export function usesAuto(records: ZoneRecord[]): boolean {
  return records.some((r) => (r.data.type === 'A' || r.data.type === 'AAAA') && r.data.address === AUTO);
}

export function readZoneFile(path: string, origin?: string): ZoneRecord[] {
  const read = readRegularFileSync(path, MAX_ZONE_FILE);
  if (!read.ok) {
    if (read.problem === 'not-regular') throw new ZoneError(`zone file '${path}' is ${read.kind}, not a regular file`);
    if (read.problem === 'too-large') throw new ZoneError(`zone file '${path}' is larger than ${MAX_ZONE_FILE / 1024} KiB`);
    throw new ZoneError(`cannot read zone file '${path}': ${read.error.code ?? read.error.message}`);
  }
  return parseZone(read.bytes.toString('utf8'), { source: path, origin });
}
