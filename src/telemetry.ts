// The daemon's figures in one plain object, for the dashboard (GET /api/state) and /metrics: read from
// the modules when asked (nothing here runs on the query path), plus a history sampled once a minute for
// the last hour (nodes per family, KRPC traffic), from which the reply ratio and the hints that UDP
// looks blocked are worked out. Like node-control.ts, the one place that reads the modules for a surface.
import type { Announcer } from './dht/announcer.js';
import type { AuthModule } from './dht/auth.js';
import type { DhtGroup } from './dht/group.js';
import { GOOD_NODE_AGE_MS, type RoutingNode } from './dht/node.js';
import type { ForwardingInfo, PortMapper } from './net/portmap.js';
import type { PkarrHook } from './pkarr/hook.js';
import type { PkarrPublisher, PublisherStatus } from './pkarr/publisher.js';
import type { Resolver } from './resolver.js';
import type { Family } from './types.js';

export interface TelemetryDeps {
  versionLine: string;
  startedAt: number;
  /** what is bound where (filled in as the surfaces start) */
  bound: readonly string[];
  dht: DhtGroup;
  announcer: Announcer;
  resolver: Resolver;
  auth: AuthModule;
  pkarr: PkarrHook;
  publisher: PkarrPublisher | null;
  portMapper: PortMapper | null;
  storageMax: number;
  /** the DNS surface's own figures; null while there is none */
  dns: () => { packetCacheEntries: number; packetCacheHits: number; rateLimited: number } | null;
  now?: () => number;
}

export interface TelemetryOptions {
  sampleMs: number;
  /** samples kept (an hour of minutes) */
  maxSamples: number;
}

export const DEFAULT_TELEMETRY_OPTIONS: TelemetryOptions = { sampleMs: 60_000, maxSamples: 60 };
/** Own values and forwardings listed at most (MAX_VALUES is 1024; a page needs far fewer). */
const MAX_LISTED = 100;
const RATIO_WINDOW_MS = 5 * 60_000;
const INCOMING_WINDOW_MS = 10 * 60_000;
/** queries unanswered in the window before outgoing UDP is said to look blocked */
const MIN_UNANSWERED = 20;

export interface Traffic {
  sent: number;
  replied: number;
  received: number;
}

export interface Sample {
  at: number;
  families: { family: Family; good: number; all: number; traffic: Traffic }[];
}

/** Nodes of the routing table by how many leading bits their id shares with ours (Kademlia's bucket index). */
export interface Bucket {
  depth: number;
  good: number;
  questionable: number;
}

export interface FamilySnapshot {
  family: Family;
  port: number;
  good: number;
  all: number;
  /** our address as other nodes report it (BEP 42) */
  external: string | null;
  traffic: Traffic;
  /** replies to our queries over the last five minutes (since start before that); null: none sent */
  replyRatio: number | null;
  droppedQueries: number;
  searches: number;
  buckets: Bucket[];
  /** BEP 44 items stored for others */
  items: number;
  itemBytes: number;
}

export interface Snapshot {
  at: number;
  versionLine: string;
  nodeId: string;
  uptimeS: number;
  bound: string[];
  families: FamilySnapshot[];
  /** one line each, e.g. that incoming UDP looks filtered */
  warnings: string[];
  /** oldest first, one a minute, the last hour */
  history: Sample[];
  storage: { announcements: number; ids: number; max: number };
  /** own values: reached (a node stored the last announcement), unreached (none did), pending (not announced yet) */
  values: { total: number; reached: number; unreached: number; pending: number; listed: { name: string; port: number; keyed: boolean; lifetime: string; lastAcks: number; lastAnnouncedAt: number | null; nextInS: number }[] };
  /** null: port forwarding is off */
  forwardings: ForwardingInfo[] | null;
  resolver: { cached: number; searches: number; cacheHits: number; cacheMisses: number };
  auth: AuthModule['counters'] & { pending: number };
  pkarr: { own: (PublisherStatus & { publishes: number }) | null; cached: number; lookups: number };
  dns: { packetCacheEntries: number; packetCacheHits: number; rateLimited: number } | null;
}

/** Leading bits `a` and `b` (hex ids of equal length) have in common. */
export function commonPrefixBits(a: string, b: string): number {
  let bits = 0;
  for (let i = 0; i < a.length && i < b.length; i++) {
    const x = parseInt(a[i]!, 16) ^ parseInt(b[i]!, 16);
    if (Number.isNaN(x)) return bits;
    if (x !== 0) return bits + Math.clz32(x) - 28;
    bits += 4;
  }
  return bits;
}

/** The routing table as Kademlia buckets: depth 0 (the far half of the id space) up to the deepest one used. */
export function bucketsOf(ownId: string, nodes: readonly RoutingNode[]): Bucket[] {
  const buckets: Bucket[] = [];
  for (const node of nodes) {
    if (!node.id) continue;
    const depth = commonPrefixBits(ownId, node.id);
    while (buckets.length <= depth) buckets.push({ depth: buckets.length, good: 0, questionable: 0 });
    if (node.age < GOOD_NODE_AGE_MS) buckets[depth]!.good++;
    else buckets[depth]!.questionable++;
  }
  return buckets;
}

/**
 * Hints for one family from its traffic over the last minutes (`recent`: the difference since a sample
 * `windowMs` ago, or since start): no nodes at all; our queries go unanswered (outgoing UDP blocked);
 * others answer us but none ever asks us anything (incoming UDP filtered: a firewall, or a NAT without
 * a forwarded port, so we are no use to the DHT and our values are stored only where we push them).
 */
export function udpWarnings(f: { family: Family; port: number; all: number }, recent: Traffic, windowMs: number, uptimeMs: number): string[] {
  const name = `IPv${f.family} DHT`;
  if (f.all === 0 && uptimeMs >= 60_000) return [`${name}: no nodes. Nothing to start from: give peers with --peer or a peer file (--peerfile)`];
  if (recent.sent >= MIN_UNANSWERED && recent.replied === 0) return [`${name}: none of our last ${recent.sent} queries got a reply: outgoing UDP looks blocked`];
  if (windowMs >= INCOMING_WINDOW_MS && recent.replied > 0 && recent.received === 0) {
    return [`${name}: no node has queried us in ${Math.round(windowMs / 60_000)} minutes: incoming UDP to port ${f.port} looks filtered (a firewall, or a NAT without port forwarding)`];
  }
  return [];
}

const minus = (a: Traffic, b: Traffic): Traffic => ({ sent: a.sent - b.sent, replied: a.replied - b.replied, received: a.received - b.received });

export class Telemetry {
  private readonly samples: Sample[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;

  constructor(private readonly deps: TelemetryDeps, private readonly options: TelemetryOptions = DEFAULT_TELEMETRY_OPTIONS) {
    this.now = deps.now ?? Date.now;
  }

  start(): void {
    this.sample();
    this.timer = setInterval(() => this.sample(), this.options.sampleMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Takes a sample now (the timer does it every sampleMs); the oldest beyond maxSamples is dropped. */
  sample(): void {
    const now = this.now();
    const counts = this.deps.dht.nodeCounts(now).families;
    const families = this.deps.dht.nodes.map((n) => ({ family: n.family, good: counts.find((c) => c.family === n.family)?.good ?? 0, all: counts.find((c) => c.family === n.family)?.all ?? 0, traffic: { ...n.traffic } }));
    this.samples.push({ at: now, families });
    while (this.samples.length > this.options.maxSamples) this.samples.shift();
  }

  /** The newest sample at least `windowMs` old, else the oldest (since start). */
  private sampleBefore(windowMs: number, now: number): Sample | undefined {
    let found: Sample | undefined = this.samples[0];
    for (const s of this.samples) if (now - s.at >= windowMs) found = s;
    return found;
  }

  snapshot(): Snapshot {
    const { deps } = this;
    const now = this.now();
    const uptimeMs = now - deps.startedAt;
    const ownId = deps.dht.nodeId.toString('hex');
    const counts = deps.dht.nodeCounts(now).families;
    const warnings: string[] = [];
    const families = deps.dht.nodes.map((node): FamilySnapshot => {
      const count = counts.find((c) => c.family === node.family) ?? { good: 0, all: 0 };
      const traffic = { ...node.traffic };
      const at = (windowMs: number) => {
        const s = this.sampleBefore(windowMs, now);
        const then = s?.families.find((f) => f.family === node.family)?.traffic ?? { sent: 0, replied: 0, received: 0 };
        return { recent: minus(traffic, then), windowMs: s ? now - s.at : uptimeMs };
      };
      const ratio = at(RATIO_WINDOW_MS).recent;
      const incoming = at(INCOMING_WINDOW_MS);
      const f = { family: node.family, port: node.boundPort(), good: count.good, all: count.all };
      warnings.push(...udpWarnings(f, incoming.recent, incoming.windowMs, uptimeMs));
      return {
        ...f,
        external: node.external.address,
        traffic,
        replyRatio: ratio.sent > 0 ? Math.min(1, ratio.replied / ratio.sent) : null,
        droppedQueries: node.droppedQueries,
        searches: node.searchCount(),
        buckets: bucketsOf(ownId, node.routingNodes(now)),
        items: node.items.size,
        itemBytes: node.items.bytes,
      };
    });
    const values = deps.announcer.values();
    const { cached, searches } = deps.resolver.stats();
    return {
      at: now,
      versionLine: deps.versionLine,
      nodeId: ownId,
      uptimeS: Math.round(uptimeMs / 1000),
      bound: [...deps.bound],
      families,
      warnings,
      history: this.samples.map((s) => ({ at: s.at, families: s.families.map((f) => ({ ...f, traffic: { ...f.traffic } })) })),
      storage: { ...deps.dht.storage(), max: deps.storageMax },
      values: {
        total: values.length,
        reached: values.filter((v) => v.lastAnnouncedAt !== null && v.lastAcks > 0).length,
        unreached: values.filter((v) => v.lastAnnouncedAt !== null && v.lastAcks === 0).length,
        pending: values.filter((v) => v.lastAnnouncedAt === null).length,
        listed: values.slice(0, MAX_LISTED).map((v) => ({
          name: v.name,
          port: v.port,
          keyed: v.secretKey !== undefined,
          lifetime: v.lifetime.kind === 'until' ? `until ${new Date(v.lifetime.at).toISOString()}` : v.lifetime.kind,
          lastAcks: v.lastAcks,
          lastAnnouncedAt: v.lastAnnouncedAt,
          nextInS: Math.max(0, Math.round((v.nextAt - now) / 1000)),
        })),
      },
      forwardings: deps.portMapper ? deps.portMapper.forwardings().slice(0, MAX_LISTED) : null,
      resolver: { cached, searches, ...deps.resolver.counters },
      auth: { ...deps.auth.counters, pending: deps.auth.pendingCount() },
      pkarr: { own: deps.publisher ? { ...deps.publisher.status(), publishes: deps.publisher.publishes } : null, ...deps.pkarr.stats() },
      dns: deps.dns(),
    };
  }
}
