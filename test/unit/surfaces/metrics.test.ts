// /metrics: the text a scrape gets parses as the Prometheus text format (parse-prometheus-text-format,
// a port of Prometheus' prom2json parser, plus a line-by-line check of the grammar, since that parser lets
// some broken lines pass and folds histograms with labels into one: those are read from their lines),
// follows the naming conventions, and carries the daemon's numbers: counters move when queries arrive.
// Prometheus' own parser and linter (promtool check metrics) runs on a real daemon's scrape in
// test/e2e/metrics.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import dnsPacket from 'dns-packet';
import parsePrometheusTextFormat, { type ParsedFamily } from 'parse-prometheus-text-format';
import { DaemonMetrics } from '../../../src/surfaces/metrics.js';
import { ANSWER_BUCKETS_S, QueryStats } from '../../../src/surfaces/query-stats.js';
import { sampleSnapshot } from '../../helpers/snapshot.js';

// name{label="value",...} value — label values may hold escaped quotes, backslashes and newlines; NaN
// and Inf in any case (Go's ParseFloat, which Prometheus uses: prom-client writes `Nan`)
const SAMPLE_LINE = /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\["\\n])*",?)*\})? (-?[0-9.e+-]+|[Nn][Aa][Nn]|[+-]?[Ii]nf)$/;
const COMMENT_LINE = /^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|histogram|summary|untyped))$/;

function scrapeSetup() {
  const queries = new QueryStats();
  const metrics = new DaemonMetrics({ snapshot: () => sampleSnapshot(), queries, version: '0.1.0' });
  let lines: string[] = [];
  const scrape = async (): Promise<Map<string, ParsedFamily>> => {
    const text = await metrics.text();
    lines = text.split('\n');
    for (const line of lines) if (line !== '') assert.match(line, line.startsWith('#') ? COMMENT_LINE : SAMPLE_LINE);
    return new Map(parsePrometheusTextFormat(text).map((f) => [f.name, f]));
  };
  /** The value of the sample line that starts with `series` exactly (name and labels as written). */
  const sample = (series: string): number | undefined => {
    const line = lines.find((l) => l.startsWith(`${series} `));
    return line === undefined ? undefined : Number(line.slice(series.length + 1));
  };
  return { queries, scrape, sample };
}

const answer = (name: string, rcode: number): Buffer => dnsPacket.encode({ type: 'response', id: 1, flags: rcode, questions: [{ type: 'A', name }] });

function value(families: Map<string, ParsedFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  const family = families.get(name);
  const metric = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return metric?.value === undefined ? undefined : Number(metric.value);
}

test('metrics: parses, and names follow the conventions (prefix, _total counters, base units)', async () => {
  const { queries, scrape } = scrapeSetup();
  queries.onAnswer('udp', answer('a.p2p', 0), performance.now());
  const families = await scrape();
  assert.ok(families.size > 30, `${families.size} metric families`);
  for (const [name, family] of families) {
    assert.match(name, /^(kadnode_|process_|nodejs_)[a-z0-9_]+$/, name);
    assert.ok(family.help.length > 0, `${name} has no help`);
    if (family.type === 'COUNTER') assert.match(name, /_total$/, `counter ${name}`);
    else assert.doesNotMatch(name, /_total$/, `${family.type.toLowerCase()} ${name}`);
    assert.doesNotMatch(name, /_(ms|milliseconds|kb|kilobytes|minutes|percent)(_|$)/, `${name}: not a base unit`);
  }
  for (const name of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) assert.ok(families.has(name), name);
});

test('metrics: the daemon figures: DHT nodes, reply ratio, storage, caches, AUTH, PKARR, rate limits', async () => {
  const families = await scrapeSetup().scrape();
  assert.equal(value(families, 'kadnode_build_info', { version: '0.1.0' }), 1);
  assert.equal(value(families, 'kadnode_dht_nodes', { family: '4', state: 'good' }), 7);
  assert.equal(value(families, 'kadnode_dht_nodes', { family: '4', state: 'questionable' }), 2);
  assert.equal(value(families, 'kadnode_dht_nodes', { family: '6', state: 'good' }), 2);
  assert.equal(value(families, 'kadnode_dht_reply_ratio', { family: '4' }), 0.75);
  assert.equal(value(families, 'kadnode_dht_queries_sent_total', { family: '4' }), 120);
  assert.equal(value(families, 'kadnode_dht_replies_total', { family: '4' }), 90);
  assert.equal(value(families, 'kadnode_dht_queries_received_total', { family: '4' }), 40);
  assert.equal(value(families, 'kadnode_dht_stored_announcements'), 11);
  assert.equal(value(families, 'kadnode_dht_stored_items', { family: '4' }), 3);
  assert.equal(value(families, 'kadnode_dht_stored_item_bytes', { family: '4' }), 900);
  assert.equal(value(families, 'kadnode_resolver_cache_entries'), 4);
  assert.equal(value(families, 'kadnode_resolver_cache_hit_ratio'), 0.75);
  assert.equal(value(families, 'kadnode_dns_packet_cache_entries'), 6);
  assert.equal(value(families, 'kadnode_dns_packet_cache_hits_total'), 50);
  assert.equal(value(families, 'kadnode_rate_limited_total', { surface: 'dns' }), 7);
  assert.equal(value(families, 'kadnode_rate_limited_total', { surface: 'auth' }), 3);
  assert.equal(value(families, 'kadnode_auth_challenges_total', { outcome: 'verified' }), 7);
  assert.equal(value(families, 'kadnode_auth_challenges_total', { outcome: 'verified_1x' }), 2);
  assert.equal(value(families, 'kadnode_auth_challenges_total', { outcome: 'failed' }), 1);
  assert.equal(value(families, 'kadnode_auth_challenges_pending'), 2);
  assert.equal(value(families, 'kadnode_pkarr_publishes_total'), 4);
  assert.equal(value(families, 'kadnode_pkarr_stored_nodes'), 12);
  assert.equal(value(families, 'kadnode_pkarr_seq'), 1796525102233000);
  assert.equal(value(families, 'kadnode_values', { state: 'reached' }), 1);
  assert.equal(value(families, 'kadnode_values', { state: 'pending' }), 1);
  assert.equal(value(families, 'kadnode_port_forwardings', { state: 'mapped' }), 1);
});

test('metrics: DNS counters and the answer-time histogram move with queries', async () => {
  const { queries, scrape, sample } = scrapeSetup();
  const before = await scrape();
  assert.equal(value(before, 'kadnode_dns_queries_total', { transport: 'udp', type: 'A', rcode: 'NXDOMAIN' }), undefined);
  for (let i = 0; i < 3; i++) queries.onAnswer('udp', answer(`n${i}.p2p`, 3), performance.now());
  queries.onAnswer('tcp', answer('ok.p2p', 0), performance.now() - 30);
  queries.onLookup('dns', 'notfound');
  const after = await scrape();
  assert.equal(value(after, 'kadnode_dns_queries_total', { transport: 'udp', type: 'A', rcode: 'NXDOMAIN' }), 3);
  assert.equal(value(after, 'kadnode_dns_queries_total', { transport: 'tcp', type: 'A', rcode: 'NOERROR' }), 1);
  assert.equal(value(after, 'kadnode_lookups_total', { source: 'dns', outcome: 'notfound' }), 1);

  assert.equal(after.get('kadnode_dns_answer_duration_seconds')?.type, 'HISTOGRAM');
  const h = 'kadnode_dns_answer_duration_seconds';
  assert.equal(sample(`${h}_count{transport="tcp"}`), 1);
  const sum = sample(`${h}_sum{transport="tcp"}`)!;
  assert.ok(sum >= 0.03 && sum < 1, `sum ${sum}`);
  const cumulative = [...ANSWER_BUCKETS_S.map(String), '+Inf'].map((le) => sample(`${h}_bucket{transport="tcp",le="${le}"}`));
  assert.ok(cumulative.every((n, i) => n !== undefined && (i === 0 || n >= cumulative[i - 1]!)), `buckets: ${cumulative}`);
  assert.equal(sample(`${h}_bucket{transport="tcp",le="0.025"}`), 0);
  assert.equal(sample(`${h}_bucket{transport="tcp",le="0.05"}`), 1);
  assert.equal(sample(`${h}_bucket{transport="udp",le="+Inf"}`), 3);
  assert.equal(sample(`${h}_count{transport="udp"}`), 3);
});
