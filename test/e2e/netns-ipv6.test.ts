// The IPv6 DHT (BEP 32) across network namespaces, needs root. Six hosts on one bridge with fd20::N/64
// (and 10.201.0.N/16). `--mode ipv6`: host 1 announces node1.p2p, the others bootstrap through
// [fd20::1]:6881 and answer `dig AAAA node1.p2p` with fd20::1 from the IPv6 announcement.
// `--mode dual`: every host runs both DHTs; A answers 10.201.0.1 and AAAA fd20::1; a host given only an
// IPv4 peer still joins the IPv6 DHT through BEP 32 `want` (nodes6 learnt over IPv4).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { addIPv6, createNetwork, hostIPv6, type Host, type Network } from './netns.js';
import { dig, emptyPeerFile, kadnodeCtl, percentile, skipUnlessNetns, sleep, startDaemon, tempDir, type Daemon, type DigResult } from './harness.js';

const HOSTS = 6;
const DHT_PORT = 6881;
const DNS_PORT = 3535;
const CMD_PORT = 1700;
const NAME = 'node1.p2p';

interface Counts {
  code: number | null;
  /** per family, from `DHT nodes: 5 (5 good) IPv4, 4 (4 good) IPv6` */
  nodes: { 4?: number; 6?: number };
  announcements: number;
  raw: string;
}

function parseCounts(code: number | null, text: string): Counts {
  const line = /^DHT nodes: (.*)$/m.exec(text)?.[1] ?? '';
  const nodes: Counts['nodes'] = {};
  for (const m of line.matchAll(/(\d+) \(\d+ good\) IPv([46])/g)) nodes[Number(m[2]) as 4 | 6] = Number(m[1]);
  const storage = /DHT storage:\s*(\d+)/.exec(text);
  return { code, nodes, announcements: storage ? Number(storage[1]) : 0, raw: text };
}

interface Scenario {
  t: TestContext;
  net: Network;
  daemons: Daemon[];
  /** empty: host 1 bootstraps from nobody */
  peerfile: string;
}

/** A network of HOSTS hosts with IPv6, torn down (daemons first) after the test. */
function scenario(t: TestContext, prefix: string): Scenario {
  const daemons: Daemon[] = [];
  const tmp = tempDir('kadnode-netns-v6');
  let net: Network | undefined;
  t.after(async () => {
    await Promise.all(daemons.map((d) => d.stop(5000)));
    net?.destroy();
    tmp.remove();
  });
  net = createNetwork(HOSTS, { prefix });
  addIPv6(net);
  return { t, net, daemons, peerfile: emptyPeerFile(tmp.path) };
}

async function startAll(s: Scenario, mode: 'ipv6' | 'dual', peersOf: (h: Host) => string[]): Promise<void> {
  const common = ['--mode', mode, '--port', String(DHT_PORT), '--dns-port', String(DNS_PORT), '--cmd-port', String(CMD_PORT), '--web-port', '0', '--cmd-disable-stdin'];
  const first = s.net.hosts[0]!;
  s.daemons.push(await startDaemon({ args: [...common, '--peerfile', s.peerfile, '--value-id', NAME], netns: first.name, stdin: 'ignore', label: `${mode} host 1`, readyTimeoutMs: 30_000 }));
  const started = await Promise.allSettled(
    s.net.hosts.slice(1).map((h) =>
      startDaemon({ args: [...common, ...peersOf(h).flatMap((p) => ['--peer', p])], netns: h.name, stdin: 'ignore', label: `${mode} host ${h.index}`, readyTimeoutMs: 30_000 }),
    ),
  );
  for (const r of started) if (r.status === 'fulfilled') s.daemons.push(r.value);
  const failures = started.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  assert.equal(failures.length, 0, failures.map((f) => String(f.reason)).join('\n\n'));
}

const statusAll = (s: Scenario): Promise<Counts[]> =>
  Promise.all(
    s.net.hosts.map(async (h) => {
      const r = await kadnodeCtl(['-p', String(CMD_PORT), 'status'], { netns: h.name, timeoutMs: 10_000 });
      return parseCounts(r.code, r.stdout);
    }),
  );

/** Polls status (bounded: 60 polls, 60 s) until ok() holds for every host; returns the last figures. */
async function waitAll(s: Scenario, what: string, ok: (c: Counts, i: number) => boolean): Promise<Counts[]> {
  const t0 = performance.now();
  let last: Counts[] = [];
  for (let polls = 0; polls < 60 && performance.now() - t0 < 60_000; polls++) {
    last = await statusAll(s);
    if (last.every(ok)) break;
    await sleep(1000);
  }
  const bad = last.map((c, i) => ({ c, i })).filter(({ c, i }) => !ok(c, i));
  assert.equal(bad.length, 0, `${what} not reached within 60 s:\n` + bad.map(({ c, i }) => `host ${i + 1} (exit ${c.code}):\n${c.raw}`).join('\n'));
  s.t.diagnostic(`${what}: ${Math.round(performance.now() - t0)} ms; DHT nodes per host: ${last.map((c) => `${c.nodes[4] ?? '-'}/${c.nodes[6] ?? '-'}`).join(' ')} (IPv4/IPv6)`);
  return last;
}

const digName = (h: Host, type: 'A' | 'AAAA'): Promise<DigResult> =>
  dig(['@::1', '-p', String(DNS_PORT), NAME, type, '+tries=1', '+timeout=5'], { netns: h.name, timeoutMs: 20_000 });

/** One single-try dig per host (no retry); every answer must be exactly `want`. Returns query times. */
async function digOthers(s: Scenario, type: 'A' | 'AAAA', want: string): Promise<number[]> {
  const times: number[] = [];
  const problems: string[] = [];
  for (const h of s.net.hosts.slice(1)) {
    const r = await digName(h, type);
    const addrs = r.answers.filter((a) => a.type === type).map((a) => a.data);
    if (r.queryTimeMs !== undefined) times.push(r.queryTimeMs);
    if (r.status !== 'NOERROR' || addrs.length === 0 || addrs.some((a) => a !== want)) problems.push(`host ${h.index}: ${r.status} ${type} ${JSON.stringify(addrs)}\n${r.raw}`);
  }
  s.t.diagnostic(`dig ${NAME} ${type} → ${want}: ${times.length} answers, query time p50 ${percentile(times, 50)} ms, max ${Math.max(...times)} ms (${times.join(' ')})`);
  assert.equal(problems.length, 0, problems.join('\n'));
  return times;
}

test('--mode ipv6 in 6 network namespaces: AAAA from the IPv6 DHT', { timeout: 150_000 }, async (t) => {
  const skip = skipUnlessNetns();
  if (skip) return t.skip(skip);
  const s = scenario(t, `kn-${process.pid}-v6`);
  const first = s.net.hosts[0]!;
  await startAll(s, 'ipv6', () => [`[${hostIPv6(first)}]:${DHT_PORT}`]);
  await waitAll(s, `IPv6 DHT formed (every host knows >= ${HOSTS - 2})`, (c) => c.code === 0 && (c.nodes[6] ?? 0) >= HOSTS - 2 && c.nodes[4] === undefined);
  await waitAll(s, 'announcement stored on every other host', (c, i) => i === 0 || c.announcements >= 1);
  await digOthers(s, 'AAAA', hostIPv6(first));
  // the IPv6 DHT has no IPv4 address for the name
  const a = await digName(s.net.hosts[1]!, 'A');
  assert.deepEqual(a.answers.filter((x) => x.type === 'A'), [], a.raw);
  // the listing shows the 18-byte peer
  const storage = await kadnodeCtl(['-p', String(CMD_PORT), 'list', 'storage'], { netns: s.net.hosts[1]!.name });
  assert.match(storage.stdout, new RegExp(`^[0-9a-f]{40} \\[${hostIPv6(first)}\\]:${DHT_PORT}$`, 'm'));
  const results = await Promise.all(s.daemons.map((d) => d.stop(10_000)));
  assert.deepEqual(results.map((r) => r.code), s.daemons.map(() => 0));
});

test('--mode dual in 6 network namespaces: A and AAAA, and IPv6 joined through IPv4', { timeout: 150_000 }, async (t) => {
  const skip = skipUnlessNetns();
  if (skip) return t.skip(skip);
  const s = scenario(t, `kn-${process.pid}-v6d`);
  const first = s.net.hosts[0]!;
  // the last host knows only host 1's IPv4 address
  await startAll(s, 'dual', (h) => (h.index === HOSTS ? [`${first.ip}:${DHT_PORT}`] : [`${first.ip}:${DHT_PORT}`, `[${hostIPv6(first)}]:${DHT_PORT}`]));
  const counts = await waitAll(s, `both DHTs formed (every host knows >= ${HOSTS - 2} per family)`, (c) => c.code === 0 && (c.nodes[4] ?? 0) >= HOSTS - 2 && (c.nodes[6] ?? 0) >= HOSTS - 2);
  assert.match(counts[0]!.raw, /^DHT nodes: \d+ \(\d+ good\) IPv4, \d+ \(\d+ good\) IPv6$/m);
  assert.match(counts[0]!.raw, /^Bound: DHT 0\.0\.0\.0:6881 \(udp\)$/m);
  assert.match(counts[0]!.raw, /^Bound: DHT \[::\]:6881 \(udp\)$/m);
  // announced on both DHTs: two stored peers (one per family) on every other host
  await waitAll(s, 'announcement stored on both DHTs of every other host', (c, i) => i === 0 || c.announcements >= 2);
  await digOthers(s, 'A', first.ip);
  await digOthers(s, 'AAAA', hostIPv6(first));
  const results = await Promise.all(s.daemons.map((d) => d.stop(10_000)));
  assert.deepEqual(results.map((r) => r.code), s.daemons.map(() => 0));
});
