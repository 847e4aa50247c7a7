// Local peer discovery across a bridge, needs root. Five namespaces (10.201.0.1..5 on one Linux bridge
// in a namespace of its own), each running bin/kadnode with an EMPTY peer file and no --peer, announcing
// its own name: the DHT must form through LPD alone, and every host must resolve every other host's name
// with the real dig. A second test runs the LPD service alone over IPv6 link-local addresses.
//
// What 239.x multicast needs here (checked while writing this test): no multicast route, because the
// service names the outgoing interface for every send (IP_MULTICAST_IF; without it a namespace whose only
// route is 10.201.0.0/16 answers ENETUNREACH); and nothing on the bridge: multicast_snooping stays on (the
// default of a Linux bridge), since the bridge floods multicast while no IGMP querier is around, and once
// one is, every host has reported its membership when it joined. TTL 1 is enough: a bridge is one link.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createNetwork, run, type Network } from './netns.js';
import { dig, emptyPeerFile, kadnodeCtl, parseStatus, repoRoot, skipUnlessNetns, sleep, startDaemon, tempDir, type Daemon, type DaemonStatus } from './harness.js';

const HOSTS = 5;
const DHT_PORT = 6881;
const DNS_PORT = 3535;
const CMD_PORT = 1700;
const name = (index: number): string => `lpd-host${index}.p2p`;

test('LPD alone: 5 namespaces, empty peer files, every name resolves on every host', { timeout: 180_000 }, async (t: TestContext) => {
  const skip = skipUnlessNetns();
  if (skip) {
    t.skip(skip);
    return;
  }
  const daemons: Daemon[] = [];
  const tmp = tempDir('kadnode-lpd');
  let net: Network | undefined;
  t.after(async () => {
    // daemons first (a namespace with a process in it outlives `ip netns del`), then namespaces
    await Promise.all(daemons.map((d) => d.stop(5000)));
    net?.destroy();
    tmp.remove();
  });

  net = createNetwork(HOSTS, { prefix: `kn-${process.pid}-lpd` });
  const hosts = net.hosts;
  const bridge = await run(net.bridgeNs, 'ip', ['-d', 'link', 'show', 'br0'], { timeoutMs: 5000 });
  t.diagnostic(`bridge: ${/mcast_snooping \d/.exec(bridge.stdout)?.[0] ?? '?'}, ${/mcast_querier \d/.exec(bridge.stdout)?.[0] ?? '?'}`);

  let failedPhase: string | undefined;
  const phase = async (title: string, fn: (st: TestContext) => Promise<void>): Promise<void> => {
    await t.test(title, { skip: failedPhase ? `skipped: phase "${failedPhase}" failed` : false }, async (st: TestContext) => {
      try {
        await fn(st);
      } catch (err) {
        failedPhase ??= title;
        throw err;
      }
    });
  };
  const status = async (i: number): Promise<DaemonStatus & { code: number | null }> => {
    const r = await kadnodeCtl(['-p', String(CMD_PORT), 'status'], { netns: hosts[i]!.name, timeoutMs: 10_000 });
    return { ...parseStatus(r.stdout), code: r.code };
  };
  let startedAt = 0;

  await phase(`start ${HOSTS} daemons with an empty peer file and no --peer`, async (st) => {
    const peerfile = emptyPeerFile(tmp.path);
    startedAt = performance.now();
    const started = await Promise.allSettled(
      hosts.map((h) =>
        startDaemon({
          args: ['--port', String(DHT_PORT), '--dns-port', String(DNS_PORT), '--cmd-port', String(CMD_PORT), '--cmd-disable-stdin', '--peerfile', peerfile, '--value-id', name(h.index)],
          netns: h.name,
          lpd: true,
          stdin: 'ignore',
          label: `host ${h.index}`,
          readyTimeoutMs: 30_000,
        }),
      ),
    );
    for (const s of started) if (s.status === 'fulfilled') daemons.push(s.value);
    const failures = started.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    assert.equal(failures.length, 0, failures.map((f) => String(f.reason)).join('\n\n'));
    st.diagnostic(`all ready after ${Math.round(performance.now() - startedAt)} ms`);
  });

  await phase('every daemon joined the LPD group on eth0', async () => {
    const waits = await Promise.allSettled(daemons.map((d) => d.waitForLine(/LPD: Joined multicast group 239\.192\.152\.143 on eth0 /, 10_000)));
    const problems = waits.filter((w): w is PromiseRejectedResult => w.status === 'rejected').map((w) => String((w.reason as Error).message));
    assert.equal(problems.length, 0, `no LPD line (is LpdService wired into src/daemon.ts?):\n${problems.join('\n\n')}`);
  });

  await phase(`DHT formation through LPD: every host knows all ${HOSTS - 1} others`, async (st) => {
    const t0 = performance.now();
    let last: Array<DaemonStatus & { code: number | null }> = [];
    let polls = 0;
    while (polls < 60 && performance.now() - t0 < 60_000) {
      polls++;
      last = await Promise.all(hosts.map((_, i) => status(i)));
      if (last.every((s) => s.code === 0 && (s.dhtNodes ?? 0) >= HOSTS - 1)) break;
      await sleep(500);
    }
    const counts = last.map((s) => s.dhtNodes ?? '?').join(' ');
    st.diagnostic(`formed ${Math.round(performance.now() - startedAt)} ms after the first start (${polls} polls); DHT nodes per host: ${counts}`);
    const bad = last.map((s, i) => ({ s, i })).filter(({ s }) => !(s.code === 0 && (s.dhtNodes ?? 0) >= HOSTS - 1));
    assert.equal(
      bad.length,
      0,
      `not formed within 60 s; DHT nodes per host: ${counts}\n` + bad.map(({ s, i }) => `host ${i + 1} (exit ${s.code}):\n${s.raw}\n${daemons[i]?.tail(20) ?? ''}`).join('\n'),
    );
  });

  await phase(`dig every other host's name from every host (${HOSTS * (HOSTS - 1)} names)`, async (st) => {
    const t0 = performance.now();
    const attempts: number[] = [];
    const problems: string[] = [];
    // one dig process at a time per host, hosts in parallel; at most 5 single-try queries per name
    await Promise.all(
      hosts.map(async (from) => {
        for (const to of hosts) {
          if (to === from) continue;
          let ok = false;
          let last = '';
          let n = 0;
          while (n < 5 && !ok) {
            n++;
            const r = await dig(['@127.0.0.1', '-p', String(DNS_PORT), name(to.index), 'A', '+tries=1', '+timeout=5'], { netns: from.name, timeoutMs: 15_000 });
            const addrs = r.answers.filter((a) => a.type === 'A').map((a) => a.data);
            ok = r.status === 'NOERROR' && addrs.length > 0 && addrs.every((a) => a === to.ip);
            last = `status ${r.status}, A ${JSON.stringify(addrs)}`;
            if (!ok) await sleep(1000);
          }
          attempts.push(n);
          if (!ok) problems.push(`host ${from.index} → ${name(to.index)}: ${last} after ${n} tries`);
        }
      }),
    );
    st.diagnostic(`all names in ${Math.round(performance.now() - t0)} ms; tries per name: ${attempts.join(' ')}`);
    assert.equal(problems.length, 0, problems.join('\n'));
  });

  await phase('SIGTERM: every daemon exits 0', async () => {
    const results = await Promise.all(daemons.map((d) => d.stop(10_000)));
    const bad = results.map((r, i) => ({ r, d: daemons[i]! })).filter(({ r }) => r.code !== 0 || r.killed);
    assert.equal(bad.length, 0, bad.map(({ r, d }) => `${d.label}: ${JSON.stringify(r)}\n${d.tail()}`).join('\n\n'));
  });
});

// The service alone (a stub DHT that prints its pings), over IPv6 link-local addresses: the group
// ff15::efc0:988f joined on eth0 by interface scope, the sender's address arrives as fe80::…%eth0.
const PROBE = `
const [lpdUrl, dhtPort, runMs] = process.argv.slice(1);
const { LpdService } = await import(lpdUrl);
const pings = [];
const dht = { nodeCount: () => 0, ping: (p) => pings.push(p), boundPort: () => Number(dhtPort) };
const log = { error() {}, warn: (m) => console.error(m), info: (m) => console.error(m), debug() {}, child() { return log; } };
const s = new LpdService({ dht, log, options: { group: 'ff15::efc0:988f', family: 6, quickDelaysMs: [500, 1500, 3000] } });
await s.start();
await new Promise((r) => setTimeout(r, Number(runMs)));
console.log(JSON.stringify({ pings, counters: s.counters, interfaces: s.interfaces() }));
await s.stop();
`;

test('LPD over IPv6 link-local: 3 namespaces ping each other by fe80::…%eth0', { timeout: 60_000 }, async (t: TestContext) => {
  const skip = skipUnlessNetns();
  if (skip) {
    t.skip(skip);
    return;
  }
  const net = createNetwork(3, { prefix: `kn-${process.pid}-lpd6` });
  t.after(() => net.destroy());
  // link-local addresses come after duplicate address detection (about a second); bounded wait
  const linkLocal: string[] = [];
  for (const h of net.hosts) {
    let address: string | undefined;
    for (let i = 0; i < 50 && !address; i++) {
      const r = await net.exec(h, 'ip', ['-6', '-o', 'addr', 'show', 'dev', 'eth0', 'scope', 'link'], { timeoutMs: 5000 });
      if (!/tentative/.test(r.stdout)) address = /inet6 (fe80::[0-9a-f:]+)\//.exec(r.stdout)?.[1];
      if (!address) await sleep(200);
    }
    assert.ok(address, `${h.name}: no usable link-local address on eth0`);
    linkLocal.push(address);
  }
  const lpdUrl = pathToFileURL(join(repoRoot, 'dist', 'src', 'net', 'lpd.js')).href;
  // started 300 ms apart: each later one's first packet reaches the earlier ones, the quick resends the rest
  const runs = [];
  for (const [i, h] of net.hosts.entries()) {
    runs.push(run(h.name, process.execPath, ['--input-type=module', '-e', PROBE, lpdUrl, String(7000 + h.index), String(5000 - i * 300)], { timeoutMs: 20_000 }));
    await sleep(300);
  }
  const results = await Promise.all(runs);
  const problems: string[] = [];
  for (const [i, r] of results.entries()) {
    const h = net.hosts[i]!;
    if (r.code !== 0) {
      problems.push(`${h.name}: exit ${r.code}\n${r.stderr}`);
      continue;
    }
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { pings: { host: string; port: number }[]; counters: Record<string, number>; interfaces: { name: string }[] };
    t.diagnostic(`${h.name}: ${JSON.stringify(out.counters)}; pinged ${out.pings.map((p) => `[${p.host}]:${p.port}`).join(' ')}`);
    const expected = net.hosts.filter((o) => o !== h).map((o) => ({ host: `${linkLocal[o.index - 1]}%eth0`, port: 7000 + o.index }));
    const sortKey = (p: { port: number }): number => p.port;
    if (JSON.stringify([...out.pings].sort((a, b) => sortKey(a) - sortKey(b))) !== JSON.stringify(expected)) {
      problems.push(`${h.name}: pinged ${JSON.stringify(out.pings)}, expected ${JSON.stringify(expected)}\n${r.stderr}`);
    }
    if (!(out.counters.own! >= 1)) problems.push(`${h.name}: never heard its own packets (multicast loopback on)`);
    if (out.interfaces.map((x) => x.name).join() !== 'eth0') problems.push(`${h.name}: joined on ${JSON.stringify(out.interfaces)}`);
  }
  assert.equal(problems.length, 0, problems.join('\n\n'));
});
