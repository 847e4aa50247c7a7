// GET /metrics: the daemon's figures in the Prometheus text format, through prom-client. Nothing is
// counted here: each scrape takes one Snapshot (src/telemetry.ts) and reads QueryStats, and every
// metric copies its numbers from those (so the query path only adds to plain numbers, and a scrape
// costs one pass). Names follow the Prometheus conventions: `kadnode_` prefix, counters end in
// `_total`, times in seconds, label values from short fixed lists (query types outside a list count as
// `other`, see query-stats.ts). Process and Node.js metrics are prom-client's defaults under their
// standard names (process_*, nodejs_*), which existing dashboards expect.
import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client';
import type { Snapshot } from '../telemetry.js';
import { ANSWER_BUCKETS_S, type QueryStats, type QueryTransport } from './query-stats.js';

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

type Labels = Record<string, string>;
type Rows = [Labels, number][];

export interface MetricsSources {
  snapshot(): Snapshot;
  queries: QueryStats;
  version: string;
}

const DNS_TRANSPORTS: QueryTransport[] = ['udp', 'tcp', 'https'];

/** A histogram whose buckets QueryStats keeps: prom-client's own Histogram can only be fed one observation at a time. */
class AnswerTimeHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly help = 'Time from a DNS query arriving to its answer being sent.';
  constructor(readonly name: string, private readonly queries: QueryStats) {}

  get(): { name: string; help: string; type: string; aggregator: string; values: { metricName: string; labels: Labels; value: number }[] } {
    const values: { metricName: string; labels: Labels; value: number }[] = [];
    for (const transport of DNS_TRANSPORTS) {
      const h = this.queries.histogram(transport);
      let cumulative = 0;
      ANSWER_BUCKETS_S.forEach((le, i) => {
        cumulative += h.counts[i]!;
        values.push({ metricName: `${this.name}_bucket`, labels: { transport, le: String(le) }, value: cumulative });
      });
      values.push({ metricName: `${this.name}_bucket`, labels: { transport, le: '+Inf' }, value: h.count });
      values.push({ metricName: `${this.name}_sum`, labels: { transport }, value: h.sumSeconds });
      values.push({ metricName: `${this.name}_count`, labels: { transport }, value: h.count });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {}
}

/** The registry behind GET /metrics; text() renders one scrape. */
export class DaemonMetrics {
  readonly registry = new Registry();
  /** the snapshot of the scrape in progress */
  private current: Snapshot | null = null;

  constructor(private readonly sources: MetricsSources) {
    collectDefaultMetrics({ register: this.registry });
    // Gauges named like counters, which Prometheus' linter (promtool check metrics) rejects; the same
    // figures by type remain (nodejs_active_handles{type=...}, ...).
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) this.registry.removeSingleMetric(name);
    this.define();
  }

  async text(): Promise<string> {
    this.current = this.sources.snapshot();
    try {
      return await this.registry.metrics();
    } finally {
      this.current = null;
    }
  }

  private counter(name: string, help: string, labelNames: string[], rows: (s: Snapshot) => Rows): void {
    const snapshot = () => this.current ?? this.sources.snapshot();
    new Counter({
      name,
      help,
      labelNames,
      registers: [this.registry],
      // Counters copied from the daemon's own: reset, then set to the current total.
      collect() {
        this.reset();
        for (const [labels, value] of rows(snapshot())) this.inc(labels, value);
      },
    });
  }

  private gauge(name: string, help: string, labelNames: string[], rows: (s: Snapshot) => Rows): void {
    const snapshot = () => this.current ?? this.sources.snapshot();
    new Gauge({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [labels, value] of rows(snapshot())) this.set(labels, value);
      },
    });
  }

  private define(): void {
    const { queries, version } = this.sources;
    const family = (f: { family: number }) => ({ family: String(f.family) });
    const one = (value: number | undefined | null): Rows => (value === undefined || value === null ? [] : [[{}, value]]);

    this.gauge('kadnode_build_info', 'Always 1; the version as a label.', ['version'], () => [[{ version }, 1]]);

    // ---- DNS and lookups
    this.counter('kadnode_dns_queries_total', 'DNS answers sent, by transport (udp, tcp, https: DNS over HTTPS), query type and rcode.', ['transport', 'type', 'rcode'], () =>
      queries
        .counts()
        .filter((c) => DNS_TRANSPORTS.includes(c.transport))
        .map((c) => [{ transport: c.transport, type: c.type, rcode: c.rcode }, c.count]),
    );
    this.registry.registerMetric(new AnswerTimeHistogram('kadnode_dns_answer_duration_seconds', queries) as unknown as Metric);
    this.counter('kadnode_lookups_total', 'Lookups through the resolver by source (dns, command: control port and web, nss) and outcome.', ['source', 'outcome'], () =>
      queries.lookups().map((l) => [{ source: l.source, outcome: l.status }, l.count]),
    );
    this.counter('kadnode_rate_limited_total', 'Packets dropped or refused by a per-source rate limit: DNS queries, AUTH packets.', ['surface'], (s) => [
      ...(s.dns ? ([[{ surface: 'dns' }, s.dns.rateLimited]] as Rows) : []),
      [{ surface: 'auth' }, s.auth.dropped],
    ]);
    this.gauge('kadnode_dns_packet_cache_entries', 'Whole DNS answers kept for repeated queries (up to a second).', [], (s) => one(s.dns?.packetCacheEntries));
    this.counter('kadnode_dns_packet_cache_hits_total', 'DNS queries answered from the packet cache.', [], (s) => one(s.dns?.packetCacheHits));

    // ---- resolver cache
    this.gauge('kadnode_resolver_cache_entries', 'Names with cached addresses.', [], (s) => one(s.resolver.cached));
    this.gauge('kadnode_resolver_searches', 'DHT searches the resolver is running.', [], (s) => one(s.resolver.searches));
    this.counter('kadnode_resolver_cache_hits_total', 'Lookups of DHT names answered from the cache.', [], (s) => one(s.resolver.cacheHits));
    this.counter('kadnode_resolver_cache_misses_total', 'Lookups of DHT names that waited for a search.', [], (s) => one(s.resolver.cacheMisses));
    this.gauge('kadnode_resolver_cache_hit_ratio', 'Cache hits over all lookups of DHT names since start (0 to 1).', [], (s) => {
      const total = s.resolver.cacheHits + s.resolver.cacheMisses;
      return total > 0 ? one(s.resolver.cacheHits / total) : [];
    });
    this.gauge('kadnode_pkarr_cache_entries', 'Signed packets (PKARR) cached.', [], (s) => one(s.pkarr.cached));

    // ---- DHT
    this.gauge('kadnode_dht_nodes', 'Nodes in the routing table by family and state (good: heard from within 15 minutes).', ['family', 'state'], (s) =>
      s.families.flatMap((f): Rows => [
        [{ ...family(f), state: 'good' }, f.good],
        [{ ...family(f), state: 'questionable' }, f.all - f.good],
      ]),
    );
    this.counter('kadnode_dht_queries_sent_total', 'KRPC queries we sent.', ['family'], (s) => s.families.map((f) => [family(f), f.traffic.sent]));
    this.counter('kadnode_dht_replies_total', 'Replies (errors too) to our KRPC queries.', ['family'], (s) => s.families.map((f) => [family(f), f.traffic.replied]));
    this.counter('kadnode_dht_queries_received_total', 'KRPC queries other nodes sent us.', ['family'], (s) => s.families.map((f) => [family(f), f.traffic.received]));
    this.counter('kadnode_dht_queries_dropped_total', 'Our KRPC queries not sent because the queue was full.', ['family'], (s) => s.families.map((f) => [family(f), f.droppedQueries]));
    this.gauge('kadnode_dht_reply_ratio', 'Replies over queries sent in the last five minutes (0 to 1).', ['family'], (s) =>
      s.families.filter((f) => f.replyRatio !== null).map((f) => [family(f), f.replyRatio!]),
    );
    this.gauge('kadnode_dht_searches', 'DHT searches running.', ['family'], (s) => s.families.map((f) => [family(f), f.searches]));
    this.gauge('kadnode_dht_stored_announcements', 'Announcements (peers) we store for others.', [], (s) => one(s.storage.announcements));
    this.gauge('kadnode_dht_stored_ids', 'Ids with announcements we store.', [], (s) => one(s.storage.ids));
    this.gauge('kadnode_dht_stored_items', 'BEP 44 items (PKARR packets) we store for others.', ['family'], (s) => s.families.map((f) => [family(f), f.items]));
    this.gauge('kadnode_dht_stored_item_bytes', 'Bytes of the BEP 44 items we store.', ['family'], (s) => s.families.map((f) => [family(f), f.itemBytes]));

    // ---- our own names
    this.gauge('kadnode_values', 'Our values (names) by state: reached (a node stored the last announcement), unreached, pending (not announced yet).', ['state'], (s) => [
      [{ state: 'reached' }, s.values.reached],
      [{ state: 'unreached' }, s.values.unreached],
      [{ state: 'pending' }, s.values.pending],
    ]);
    this.gauge('kadnode_port_forwardings', 'Port forwardings (UPnP / NAT-PMP) by state.', ['state'], (s) => {
      const byState = new Map<string, number>();
      for (const f of s.forwardings ?? []) byState.set(f.state, (byState.get(f.state) ?? 0) + 1);
      return [...byState].map(([state, n]) => [{ state }, n]);
    });

    // ---- AUTH (key names)
    this.counter('kadnode_auth_challenges_total', 'Our AUTH challenges by outcome: verified, verified_1x (KadNode 1.x proof), failed (no valid reply), evicted.', ['outcome'], (s) => [
      [{ outcome: 'verified' }, s.auth.verified - s.auth.verified1x],
      [{ outcome: 'verified_1x' }, s.auth.verified1x],
      [{ outcome: 'failed' }, s.auth.failed],
      [{ outcome: 'evicted' }, s.auth.evicted],
    ]);
    this.counter('kadnode_auth_invalid_replies_total', 'AUTH replies that proved nothing (wrong key or challenge).', [], (s) => one(s.auth.rejected));
    this.gauge('kadnode_auth_challenges_pending', 'Our AUTH challenges waiting for a reply.', [], (s) => one(s.auth.pending));
    this.counter('kadnode_auth_requests_total', "Other nodes' AUTH challenges for our keys by result.", ['result'], (s) => [
      [{ result: 'answered' }, s.auth.answered],
      [{ result: 'refused_foreign' }, s.auth.refusedForeign],
      [{ result: 'refused_marked' }, s.auth.refusedMarked],
      [{ result: 'invalid' }, s.auth.invalid],
    ]);

    // ---- PKARR (our zone)
    this.counter('kadnode_pkarr_publishes_total', 'Publications of our signed zone (--pkarr-key).', [], (s) => one(s.pkarr.own?.publishes));
    this.gauge('kadnode_pkarr_stored_nodes', 'Nodes that stored our last publication.', [], (s) => one(s.pkarr.own?.lastStored));
    this.gauge('kadnode_pkarr_last_publish_timestamp_seconds', 'When our zone was last published (UNIX time).', [], (s) =>
      one(s.pkarr.own?.lastPublishedAt ? s.pkarr.own.lastPublishedAt / 1000 : null),
    );
    this.gauge('kadnode_pkarr_seq', 'Sequence number of our published packet (UNIX time in microseconds).', [], (s) => one(s.pkarr.own?.seq));
  }
}
