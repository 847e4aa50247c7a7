// GET /metrics of a real bin/kadnode: Prometheus' own parser and linter (promtool check metrics, from
// Debian's prometheus package through scripts/fetch-promtool.sh) accepts every scrape, and the counters
// move with real traffic: dig over UDP and TCP, DNS over HTTPS, kadnode-ctl lookups, and a second daemon
// joining the DHT. `kadnode-ctl status` and /status keep their text output.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import { dig, emptyPeerFile, kadnodeCtl, pickPorts, repoRoot, retry, skipUnlessDig, startDaemon, tempDir, type Daemon } from './harness.js';
import { run } from './netns.js';

function get(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer in 10 s`)));
    req.on('error', reject);
  });
}

/** Sample values of a scrape by series (`name{labels}` exactly as written). */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

describe('/metrics of a running daemon', { skip: skipUnlessDig(), timeout: 180_000 }, () => {
  let dir: ReturnType<typeof tempDir> | undefined;
  let daemon: Daemon | undefined;
  let peer: Daemon | undefined;
  let ports: { dht: number; dns: number; cmd: number; web: number; peerDht: number };
  let promtool: string | null = null;
  let promtoolSkip = '';

  const scrape = async (): Promise<{ text: string; values: Map<string, number> }> => {
    const r = await get(ports.web, '/metrics');
    assert.equal(r.status, 200);
    assert.equal(r.type, 'text/plain; version=0.0.4; charset=utf-8');
    if (promtool) {
      const check = await run(undefined, promtool, ['check', 'metrics'], { input: r.body, timeoutMs: 30_000 });
      assert.equal(check.code, 0, `promtool check metrics:\n${check.stdout}${check.stderr}`);
      assert.equal((check.stdout + check.stderr).trim(), '', 'promtool found problems');
    }
    return { text: r.body, values: samples(r.body) };
  };

  before(async () => {
    dir = tempDir('kadnode-metrics');
    const [dht, dns, cmd, web, peerDht] = (await pickPorts(5)) as [number, number, number, number, number];
    ports = { dht, dns, cmd, web, peerDht };
    daemon = await startDaemon({
      label: 'metrics',
      args: ['--port', String(dht), '--peerfile', emptyPeerFile(dir.path), '--dns-port', String(dns), '--dns-addr', '127.0.0.1', '--cmd-port', String(cmd), '--web-port', String(web), '--web-addr', '127.0.0.1', '--value-id', 'own.p2p', '--cmd-disable-stdin'],
      stdin: 'ignore',
    });
    const fetched = await run(undefined, 'sh', [join(repoRoot, 'scripts', 'fetch-promtool.sh'), join(repoRoot, 'node_modules', '.cache', 'kadnode-promtool')], { timeoutMs: 180_000 });
    if (fetched.code === 0) promtool = fetched.stdout.trim().split('\n').pop()!;
    else promtoolSkip = fetched.stderr.trim().split('\n').pop() ?? 'fetch-promtool.sh failed';
    // as root the project installs what its tests need: no silent fallback to a weaker check there
    assert.ok(promtool || process.getuid?.() !== 0, `promtool could not be had as root: ${promtoolSkip}`);
  });

  after(async () => {
    await peer?.stop();
    await daemon?.stop();
    dir?.remove();
  });

  it('promtool accepts the scrape; DNS, lookup and DHT counters move with traffic', async (t) => {
    t.diagnostic(promtool ? `promtool: ${promtool}` : `promtool not available, only the counters are checked: ${promtoolSkip}`);
    const before = (await scrape()).values;
    const at = (values: Map<string, number>, series: string) => values.get(series) ?? 0;

    for (let i = 0; i < 3; i++) assert.equal((await dig(['-p', String(ports.dns), '@127.0.0.1', `udp-${i}.p2p`, 'A', '+tries=1', '+time=5'])).status, 'NXDOMAIN');
    for (let i = 0; i < 2; i++) assert.equal((await dig(['+tcp', '-p', String(ports.dns), '@127.0.0.1', `tcp-${i}.p2p`, 'AAAA', '+tries=1', '+time=5'])).status, 'NXDOMAIN');
    assert.equal((await dig(['-p', String(ports.dns), '@127.0.0.1', 'example.com', 'A', '+tries=1', '+time=5'])).status, 'REFUSED');
    const doh = dnsPacket.encode({ type: 'query', id: 0, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: 'doh.p2p' }] });
    assert.equal((await get(ports.web, `/dns-query?dns=${doh.toString('base64url')}`)).status, 200);
    const ctl = await kadnodeCtl(['-p', String(ports.cmd), 'lookup', 'ctl.p2p']);
    assert.match(ctl.stdout + ctl.stderr, /Not found/);

    const after = (await scrape()).values;
    const rose = (series: string) => at(after, series) - at(before, series);
    assert.equal(rose('kadnode_dns_queries_total{transport="udp",type="A",rcode="NXDOMAIN"}'), 3);
    assert.equal(rose('kadnode_dns_queries_total{transport="udp",type="A",rcode="REFUSED"}'), 1);
    assert.equal(rose('kadnode_dns_queries_total{transport="tcp",type="AAAA",rcode="NXDOMAIN"}'), 2);
    assert.equal(rose('kadnode_dns_queries_total{transport="https",type="A",rcode="NXDOMAIN"}'), 1);
    assert.equal(rose('kadnode_dns_answer_duration_seconds_count{transport="udp"}'), 4);
    assert.equal(rose('kadnode_dns_answer_duration_seconds_bucket{transport="tcp",le="+Inf"}'), 2);
    assert.equal(rose('kadnode_lookups_total{source="dns",outcome="notfound"}'), 6);
    assert.equal(rose('kadnode_lookups_total{source="command",outcome="notfound"}'), 1);
    assert.equal(rose('kadnode_resolver_cache_misses_total'), 7);
    assert.equal(at(after, 'kadnode_dht_nodes{family="4",state="good"}'), 0);
    assert.equal(at(after, 'kadnode_values{state="unreached"}') + at(after, 'kadnode_values{state="pending"}'), 1);
    assert.ok(at(after, 'process_resident_memory_bytes') > 10_000_000);

    // a second daemon joins: our routing table, the KRPC traffic and the announcement show it
    peer = await startDaemon({
      label: 'peer',
      args: ['--port', String(ports.peerDht), '--peerfile', emptyPeerFile(dir!.path, 'peers-peer.txt'), '--peer', `127.0.0.1:${ports.dht}`, '--dns-port', '0', '--cmd-port', '0', '--cmd-disable-stdin'],
      stdin: 'ignore',
    });
    const joined = await retry(
      async () => {
        const v = (await scrape()).values;
        return at(v, 'kadnode_dht_nodes{family="4",state="good"}') >= 1 && at(v, 'kadnode_values{state="reached"}') === 1 ? v : undefined;
      },
      { tries: 60, timeoutMs: 40_000, intervalMs: 500 },
    );
    assert.ok(joined.value, 'the peer never showed in kadnode_dht_nodes / kadnode_values');
    const v = joined.value;
    assert.ok(at(v, 'kadnode_dht_queries_received_total{family="4"}') > at(before, 'kadnode_dht_queries_received_total{family="4"}'));
    assert.ok(at(v, 'kadnode_dht_replies_total{family="4"}') >= 1);
    assert.ok(at(v, 'kadnode_dht_queries_sent_total{family="4"}') >= at(v, 'kadnode_dht_replies_total{family="4"}'));
    const ratio = v.get('kadnode_dht_reply_ratio{family="4"}');
    assert.ok(ratio !== undefined && ratio > 0 && ratio <= 1, `reply ratio ${ratio}`);
  });

  it('kadnode-ctl status and /status keep their text output; / is the dashboard', async () => {
    const ctl = await kadnodeCtl(['-p', String(ports.cmd), 'status']);
    const web = await get(ports.web, '/status');
    assert.match(web.type, /^text\/plain/);
    for (const text of [ctl.stdout, web.body]) {
      assert.match(text, /^Version: kadnode v\S+ \( .* \)\nDHT id: [0-9a-f]{40}\n(Bound: .*\n)+DHT nodes: \d+ \(\d+ good\)\nDHT storage: .*\nDHT searches: \d+ active\nResolver: .*\nValues to announce: 1\nUptime: \d+ s\n(DHT health IPv[46]: .*\nDHT external address IPv[46]: .*\n?(Warning: .*\n?)?)+$/);
    }
    const page = await get(ports.web, '/');
    assert.equal(page.status, 200);
    assert.match(page.type, /^text\/html/);
  });
});
