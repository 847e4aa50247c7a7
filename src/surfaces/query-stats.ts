// What clients asked and what they got, for the dashboard (GET /) and /metrics: every answer of the DNS
// port (UDP, TCP, DNS over HTTPS; packet-cache hits too) and every lookup of the control port, the web
// interface and NSS. Counts by transport, type and rcode, answer times in histogram buckets, outcomes per
// minute for the last hour, the most asked names and the latest queries.
//
// Names and types are chosen by whoever sends a query, so every table here is bounded: types outside a
// fixed list count as `other`, the recent queries are a ring, the name counts a map of at most
// `maxNames` that drops its less-asked half when full (one flood of made-up names costs the counts of
// rarely asked names, never memory). A name is kept to MAX_NAME characters.
// Hot path: onAnswer runs for every DNS answer, so it reads the answer's header and question by hand
// (no decoder, no allocation but the name) and only adds to numbers.
import type { Chain, Query, Route, Scope } from '../chain/chain.js';
import type { Upstream } from '../chain/forwarder.js';
import type { NameResolver, ResolveOptions, Resolution, ResolveStatus } from '../types.js';
import type { AnswerObserver } from './dns.js';

export type QueryTransport = 'udp' | 'tcp' | 'https' | 'command' | 'nss';
export type LookupSource = 'dns' | 'command' | 'nss';
export type Outcome = 'success' | 'nxdomain' | 'servfail' | 'other';

/** Upper bounds in seconds of the answer-time histogram (Prometheus `le`); +Inf follows. */
export const ANSWER_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
export const DEFAULT_QUERY_STATS = { maxRecent: 100, maxNames: 1000, minutes: 60 };
const MAX_NAME = 255;

const TYPES: Record<number, string> = { 1: 'A', 2: 'NS', 5: 'CNAME', 6: 'SOA', 12: 'PTR', 15: 'MX', 16: 'TXT', 28: 'AAAA', 33: 'SRV', 35: 'NAPTR', 43: 'DS', 48: 'DNSKEY', 64: 'SVCB', 65: 'HTTPS', 255: 'ANY', 257: 'CAA' };
const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
/** Lookups outside DNS ask for every address (ADDR) or one family. */
const LOOKUP_TYPE: Record<string, string> = { '4': 'A', '6': 'AAAA', none: 'ADDR' };
const STATUS_RCODE: Record<ResolveStatus, string> = { found: 'NOERROR', notfound: 'NXDOMAIN', invalid: 'NXDOMAIN', timeout: 'SERVFAIL', busy: 'SERVFAIL' };

export interface QueryRecord {
  /** ms since the epoch */
  at: number;
  transport: QueryTransport;
  name: string;
  type: string;
  rcode: string;
  answers: number;
  ms: number;
}

export interface MinuteOutcomes {
  /** start of the minute, ms since the epoch */
  at: number;
  success: number;
  nxdomain: number;
  servfail: number;
  other: number;
}

export interface Histogram {
  /** count per bucket of ANSWER_BUCKETS_S, then +Inf (not cumulative) */
  counts: number[];
  sumSeconds: number;
  count: number;
}

export interface AnswerInfo {
  name: string;
  type: string;
  rcode: string;
  answers: number;
}

export function outcomeOf(rcode: string): Outcome {
  return rcode === 'NOERROR' ? 'success' : rcode === 'NXDOMAIN' ? 'nxdomain' : rcode === 'SERVFAIL' ? 'servfail' : 'other';
}

const LABELLED_TYPES = new Set([...Object.values(TYPES), 'ADDR']);

/** A type name for a metric label: one of a fixed list, else `other` (label values must stay few). */
export function typeLabel(type: string): string {
  return LABELLED_TYPES.has(type) ? type : 'other';
}

/** Name, type, rcode and answer count of a DNS answer we built; null when it is shorter than it says. Never throws. */
export function describeAnswer(msg: Buffer): AnswerInfo | null {
  if (msg.length < 12) return null;
  const rcodeNumber = msg[3]! & 0x0f;
  const rcode = RCODES[rcodeNumber] ?? `RCODE${rcodeNumber}`;
  const answers = msg.readUInt16BE(6);
  if (msg.readUInt16BE(4) === 0) return { name: '', type: 'none', rcode, answers };
  let offset = 12;
  const labels: string[] = [];
  let length = 0;
  for (;;) {
    if (offset >= msg.length) return null;
    const size = msg[offset]!;
    offset++;
    if (size === 0) break;
    // a question has no compression pointers; 64..255 would be one or a reserved label type
    if (size > 63 || offset + size > msg.length) return null;
    length += size + 1;
    if (length > 255) return null;
    labels.push(printableLabel(msg, offset, size));
    offset += size;
  }
  if (offset + 2 > msg.length) return null;
  const typeNumber = msg.readUInt16BE(offset);
  return { name: labels.join('.') || '.', type: TYPES[typeNumber] ?? `TYPE${typeNumber}`, rcode, answers };
}

/** Lower case; a dot, a backslash and bytes outside printable ASCII as \DDD (as dig writes them). */
function printableLabel(msg: Buffer, start: number, size: number): string {
  let plain = true;
  for (let i = start; i < start + size && plain; i++) {
    const c = msg[i]!;
    plain = c > 0x20 && c < 0x7f && c !== 0x2e && c !== 0x5c && !(c >= 0x41 && c <= 0x5a);
  }
  // the common case: one slice, no string built a character at a time
  if (plain) return msg.toString('latin1', start, start + size);
  let label = '';
  for (let i = start; i < start + size; i++) {
    const c = msg[i]!;
    if (c >= 0x41 && c <= 0x5a) label += String.fromCharCode(c + 32);
    else if (c > 0x20 && c < 0x7f && c !== 0x2e && c !== 0x5c) label += String.fromCharCode(c);
    else label += '\\' + String(c).padStart(3, '0');
  }
  return label;
}

/** Counts per name, at most `max` names: when full, the less-asked half is dropped. */
export class TopNames {
  private readonly counts = new Map<string, number>();

  constructor(private readonly max: number) {}

  add(name: string): void {
    const count = this.counts.get(name);
    if (count !== undefined) return void this.counts.set(name, count + 1);
    if (this.counts.size >= this.max) this.dropLessAsked();
    this.counts.set(name, 1);
  }

  get size(): number {
    return this.counts.size;
  }

  /** The `n` most asked names, most asked first. */
  top(n: number): { name: string; count: number }[] {
    return [...this.counts]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, count]) => ({ name, count }));
  }

  // One sort per max/2 new names, not one scan per name: a flood of unique names stays cheap.
  private dropLessAsked(): void {
    const kept = [...this.counts].sort((a, b) => b[1] - a[1]).slice(0, Math.floor(this.max / 2));
    this.counts.clear();
    for (const [name, count] of kept) this.counts.set(name, count);
  }
}

export class QueryStats implements AnswerObserver {
  private readonly recentRing: QueryRecord[] = [];
  private recentNext = 0;
  private readonly names: TopNames;
  private readonly minutes: MinuteOutcomes[] = [];
  /** `transport type rcode` → count (types through typeLabel, so bounded) */
  private readonly byKind = new Map<string, number>();
  private readonly histograms = new Map<QueryTransport, Histogram>();
  /** `source outcome` → count */
  private readonly lookupCounts = new Map<string, number>();
  private readonly options: typeof DEFAULT_QUERY_STATS;

  constructor(options: Partial<typeof DEFAULT_QUERY_STATS> = {}, private readonly now: () => number = Date.now) {
    this.options = { ...DEFAULT_QUERY_STATS, ...options };
    this.names = new TopNames(this.options.maxNames);
  }

  onAnswer(transport: 'udp' | 'tcp' | 'https', answer: Buffer, startedAt: number): void {
    const info = describeAnswer(answer);
    if (info) this.record(transport, info.name, info.type, info.rcode, info.answers, performance.now() - startedAt);
  }

  /** A lookup through the query chain (ObservedChain): counted by source and outcome. */
  onLookup(source: LookupSource, status: ResolveStatus): void {
    const key = `${source} ${status}`;
    this.lookupCounts.set(key, (this.lookupCounts.get(key) ?? 0) + 1);
  }

  /** A lookup outside DNS, shown among the queries as the DNS answer it would have been. */
  recordLookup(transport: 'command' | 'nss', name: string, family: 4 | 6 | undefined, result: Resolution, ms: number): void {
    const answers = result.records?.length ?? result.addresses.length;
    this.record(transport, name.toLowerCase(), LOOKUP_TYPE[family ?? 'none']!, STATUS_RCODE[result.status], answers, ms);
  }

  record(transport: QueryTransport, name: string, type: string, rcode: string, answers: number, ms: number): void {
    const at = this.now();
    const shortName = name.length > MAX_NAME ? name.slice(0, MAX_NAME) : name;
    const entry: QueryRecord = { at, transport, name: shortName, type, rcode, answers, ms: Math.round(ms * 1000) / 1000 };
    if (this.recentRing.length < this.options.maxRecent) this.recentRing.push(entry);
    else this.recentRing[this.recentNext] = entry;
    this.recentNext = (this.recentNext + 1) % this.options.maxRecent;
    if (shortName) this.names.add(shortName);
    const key = `${transport} ${typeLabel(type)} ${rcode}`;
    this.byKind.set(key, (this.byKind.get(key) ?? 0) + 1);
    this.observeTime(transport, ms / 1000);
    this.minute(at)[outcomeOf(rcode)]++;
  }

  private observeTime(transport: QueryTransport, seconds: number): void {
    let h = this.histograms.get(transport);
    if (!h) this.histograms.set(transport, (h = { counts: new Array<number>(ANSWER_BUCKETS_S.length + 1).fill(0), sumSeconds: 0, count: 0 }));
    let i = 0;
    while (i < ANSWER_BUCKETS_S.length && seconds > ANSWER_BUCKETS_S[i]!) i++;
    h.counts[i]!++;
    h.sumSeconds += seconds;
    h.count++;
  }

  private minute(at: number): MinuteOutcomes {
    const start = at - (at % 60_000);
    const last = this.minutes[this.minutes.length - 1];
    if (last && last.at === start) return last;
    const bucket = { at: start, success: 0, nxdomain: 0, servfail: 0, other: 0 };
    this.minutes.push(bucket);
    if (this.minutes.length > this.options.minutes) this.minutes.shift();
    return bucket;
  }

  // ---- readers

  /** The latest queries, newest first. */
  recent(): QueryRecord[] {
    const n = this.recentRing.length;
    const out: QueryRecord[] = [];
    for (let i = 1; i <= n; i++) out.push(this.recentRing[(this.recentNext - i + n) % n]!);
    return out;
  }

  topNames(n: number): { name: string; count: number }[] {
    return this.names.top(n);
  }

  /** Outcomes of each of the last `minutes` minutes (the current one last, so far), quiet minutes as zeros. */
  perMinute(): MinuteOutcomes[] {
    const now = this.now();
    const current = now - (now % 60_000);
    const byStart = new Map(this.minutes.map((m) => [m.at, m]));
    const out: MinuteOutcomes[] = [];
    for (let i = this.options.minutes - 1; i >= 0; i--) {
      const at = current - i * 60_000;
      const m = byStart.get(at);
      out.push(m ? { ...m } : { at, success: 0, nxdomain: 0, servfail: 0, other: 0 });
    }
    return out;
  }

  /** Answers by transport, type label and rcode since start. */
  counts(): { transport: QueryTransport; type: string; rcode: string; count: number }[] {
    return [...this.byKind].map(([key, count]) => {
      const [transport, type, rcode] = key.split(' ') as [QueryTransport, string, string];
      return { transport, type, rcode, count };
    });
  }

  lookups(): { source: LookupSource; status: ResolveStatus; count: number }[] {
    return [...this.lookupCounts].map(([key, count]) => {
      const [source, status] = key.split(' ') as [LookupSource, ResolveStatus];
      return { source, status, count };
    });
  }

  /** Answer times of one transport, or of all summed (undefined). */
  histogram(transport?: QueryTransport): Histogram {
    const parts = transport ? [this.histograms.get(transport)].filter((h): h is Histogram => !!h) : [...this.histograms.values()];
    const sum: Histogram = { counts: new Array<number>(ANSWER_BUCKETS_S.length + 1).fill(0), sumSeconds: 0, count: 0 };
    for (const h of parts) {
      h.counts.forEach((c, i) => (sum.counts[i]! += c));
      sum.sumSeconds += h.sumSeconds;
      sum.count += h.count;
    }
    return sum;
  }
}

/**
 * The query chain as one surface sees it: every lookup (the pkarr and TLD routes; a forwarded query is
 * the upstream's, not a lookup) is counted by source and outcome, and for the surfaces that are not DNS,
 * whose answers the DNS observer does not see, listed among the queries. Keeps the chain's generation()
 * for the DNS packet cache.
 */
export class ObservedChain implements Chain, NameResolver {
  constructor(
    private readonly chain: Chain,
    private readonly stats: QueryStats,
    private readonly source: LookupSource,
  ) {}

  get countsChanges(): boolean {
    return this.chain.countsChanges;
  }

  get upstream(): Upstream | null {
    return this.chain.upstream;
  }

  route(name: string, scope: Scope): Route {
    return this.chain.route(name, scope);
  }

  async run(query: Query): Promise<Resolution> {
    if (query.route.kind !== 'pkarr' && query.route.kind !== 'tld') return this.chain.run(query);
    const started = performance.now();
    const result = await this.chain.run(query);
    this.stats.onLookup(this.source, result.status);
    if (this.source !== 'dns') this.stats.recordLookup(this.source, query.route.name, query.family, result, performance.now() - started);
    return result;
  }

  /** A name as the operator's commands ask it (scope 'any'). */
  resolve(name: string, options: ResolveOptions): Promise<Resolution> {
    return this.run({ route: this.route(name, 'any'), ...options });
  }

  generation(): number {
    return this.chain.generation();
  }
}
