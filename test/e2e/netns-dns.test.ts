// Twelve real bin/kadnode daemons, one per network namespace (10.201.0.1..12 on one bridge), needs root.
// Host 1 announces node1.p2p; the others bootstrap from it. Measures how long the DHT takes to form,
// checks the announcement spread to the other nodes, resolves node1.p2p with the real dig from every
// host, then fuzzes every daemon's DNS and DHT ports and checks they all survived and still answer.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { createNetwork, run, type Network } from './netns.js';
import {
  dig,
  emptyPeerFile,
  kadnodeCtl,
  parseStatus,
  percentile,
  repoRoot,
  skipUnlessNetns,
  sleep,
  startDaemon,
  tempDir,
  type Daemon,
  type DaemonStatus,
  type DigResult,
} from './harness.js';

const HOSTS = 12;
const DHT_PORT = 6881;
const DNS_PORT = 3535;
const CMD_PORT = 1700;
const NAME = 'node1.p2p';
const FORMED_AT = HOSTS - 2; // every host knows at least N-2 others
const FUZZ_DNS_PER_DAEMON = 5000;
const FUZZ_DHT_PER_DAEMON = 600;
const fuzzSender = join(repoRoot, 'dist', 'test', 'e2e', 'fuzz-sender.js');

/** Runs fn over items with at most `limit` at a time. */
async function pool<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return out;
}

test('kadnode in 12 network namespaces: formation, spread, dig, fuzz', { timeout: 180_000 }, async (t: TestContext) => {
  const skip = skipUnlessNetns();
  if (skip) {
    t.skip(skip);
    return;
  }

  const daemons: Daemon[] = [];
  const tmp = tempDir('kadnode-netns');
  let net: Network | undefined;
  t.after(async () => {
    // daemons first (a namespace with a process in it outlives `ip netns del`), then namespaces
    await Promise.all(daemons.map((d) => d.stop(5000)));
    net?.destroy();
    tmp.remove();
  });

  net = createNetwork(HOSTS);
  const hosts = net.hosts;
  const others = hosts.slice(1);
  let failedPhase: string | undefined;
  const gate = (): string | false => (failedPhase ? `skipped: phase "${failedPhase}" failed` : false);
  const phase = async (name: string, fn: (t: TestContext) => Promise<void>): Promise<void> => {
    const skipped = gate();
    await t.test(name, { skip: skipped }, async (st: TestContext) => {
      try {
        await fn(st);
      } catch (err) {
        failedPhase ??= name;
        throw err;
      }
    });
  };

  const status = async (i: number): Promise<DaemonStatus & { code: number | null }> => {
    const r = await kadnodeCtl(['-p', String(CMD_PORT), 'status'], { netns: hosts[i]!.name, timeoutMs: 10_000 });
    return { ...parseStatus(r.stdout), code: r.code };
  };
  const statusAll = (): Promise<Array<DaemonStatus & { code: number | null }>> => Promise.all(hosts.map((_, i) => status(i)));
  const digName = (i: number, name: string, type: string, timeoutS = 5): Promise<DigResult> =>
    dig(['@127.0.0.1', '-p', String(DNS_PORT), name, type, '+tries=1', `+timeout=${timeoutS}`], {
      netns: hosts[i]!.name,
      timeoutMs: (timeoutS + 10) * 1000,
    });

  let startedAt = 0;

  await phase('start 12 daemons', async (st) => {
    const peerfile = emptyPeerFile(tmp.path);
    const common = ['--port', String(DHT_PORT), '--dns-port', String(DNS_PORT), '--cmd-port', String(CMD_PORT), '--cmd-disable-stdin'];
    startedAt = performance.now();
    daemons.push(
      await startDaemon({
        args: [...common, '--peerfile', peerfile, '--value-id', NAME],
        netns: hosts[0]!.name,
        stdin: 'ignore',
        label: 'host 1',
        readyTimeoutMs: 30_000,
      }),
    );
    const started = await Promise.allSettled(
      others.map((h) =>
        startDaemon({
          args: [...common, '--peer', `${hosts[0]!.ip}:${DHT_PORT}`],
          netns: h.name,
          stdin: 'ignore',
          label: `host ${h.index}`,
          readyTimeoutMs: 30_000,
        }),
      ),
    );
    for (const s of started) if (s.status === 'fulfilled') daemons.push(s.value);
    const failures = started.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    assert.equal(failures.length, 0, failures.map((f) => String(f.reason)).join('\n\n'));
    st.diagnostic(`all ${HOSTS} daemons ready after ${Math.round(performance.now() - startedAt)} ms`);
  });

  await phase(`DHT formation: every host knows >= ${FORMED_AT} nodes`, async (st) => {
    const t0 = performance.now();
    let last: Array<DaemonStatus & { code: number | null }> = [];
    let polls = 0;
    const deadline = t0 + 60_000;
    while (polls < 60 && performance.now() < deadline) {
      polls++;
      last = await statusAll();
      if (last.every((s) => s.code === 0 && (s.dhtNodes ?? 0) >= FORMED_AT)) break;
      await sleep(1000);
    }
    const counts = last.map((s) => s.dhtNodes ?? '?').join(' ');
    // resolution: one poll (12 kadnode-ctl runs, about a second)
    st.diagnostic(
      `formation: formed by ${Math.round(performance.now() - startedAt)} ms after the first start, ` +
        `${Math.round(performance.now() - t0)} ms after all were ready (${polls} polls); DHT nodes per host: ${counts}`,
    );
    const bad = last.map((s, i) => ({ s, i })).filter(({ s }) => !(s.code === 0 && (s.dhtNodes ?? 0) >= FORMED_AT));
    assert.equal(
      bad.length,
      0,
      `not formed within 60 s; DHT nodes per host: ${counts}\n` + bad.map(({ s, i }) => `host ${i + 1} (exit ${s.code}):\n${s.raw}`).join('\n'),
    );
  });

  await phase('the announcement reaches every other node', async (st) => {
    const t0 = performance.now();
    let last: Array<DaemonStatus & { code: number | null }> = [];
    let polls = 0;
    const deadline = t0 + 60_000;
    while (polls < 60 && performance.now() < deadline) {
      polls++;
      last = await statusAll();
      if (last.slice(1).every((s) => (s.announcements ?? 0) >= 1)) break;
      await sleep(1000);
    }
    const holders = last.slice(1).filter((s) => (s.announcements ?? 0) >= 1).length;
    st.diagnostic(
      `announcement stored on ${holders}/${others.length} other hosts, ${Math.round(performance.now() - t0)} ms after formation ` +
        `(${polls} polls); storage per host: ${last.map((s) => s.announcements ?? '?').join(' ')}`,
    );
    assert.equal(
      holders,
      others.length,
      `announcement on ${holders}/${others.length} hosts within 60 s:\n` +
        last.map((s, i) => `host ${i + 1}: ${s.raw.split('\n').find((l) => l.includes('DHT storage')) ?? s.raw}`).join('\n'),
    );
  });

  await phase(`dig ${NAME} A from every other host (one try each)`, async (st) => {
    const times: number[] = [];
    const problems: string[] = [];
    for (const h of others) {
      const r = await digName(h.index - 1, NAME, 'A');
      const addrs = r.answers.filter((a) => a.type === 'A').map((a) => a.data);
      if (r.queryTimeMs !== undefined) times.push(r.queryTimeMs);
      if (r.status !== 'NOERROR' || addrs.length === 0 || addrs.some((a) => a !== hosts[0]!.ip)) {
        problems.push(`host ${h.index}: status ${r.status}, A ${JSON.stringify(addrs)}, ${r.queryTimeMs ?? '-'} ms\n${r.raw}`);
      }
    }
    st.diagnostic(`dig ${NAME}: ${times.length} answers, query time p50 ${percentile(times, 50)} ms, max ${Math.max(...times)} ms (${times.join(' ')})`);
    assert.equal(problems.length, 0, problems.join('\n'));
  });

  await phase('nosuchname.p2p is NXDOMAIN, example.com is REFUSED, on every host', async (st) => {
    const nx = await Promise.all(hosts.map((h) => digName(h.index - 1, 'nosuchname.p2p', 'A', 10)));
    const refused = await Promise.all(hosts.map((h) => digName(h.index - 1, 'example.com', 'A')));
    st.diagnostic(`NXDOMAIN query times: ${nx.map((r) => r.queryTimeMs ?? '-').join(' ')} ms`);
    const problems = [
      ...nx.map((r, i) => (r.status === 'NXDOMAIN' && r.answers.length === 0 ? '' : `host ${i + 1} nosuchname.p2p: ${r.status}\n${r.raw}`)),
      ...refused.map((r, i) => (r.status === 'REFUSED' && r.answers.length === 0 ? '' : `host ${i + 1} example.com: ${r.status}\n${r.raw}`)),
    ].filter(Boolean);
    assert.equal(problems.length, 0, problems.join('\n'));
  });

  // The fuzz runs whatever happened before (as long as the daemons started): survival is its own check.
  if (daemons.length === HOSTS) failedPhase = undefined;

  await phase('fuzz every DNS port and DHT port', async (st) => {
    const linesBefore = daemons.map((d) => d.stderrLines.length);
    // DNS listens on loopback inside each namespace, so one sender per namespace (4 at a time)
    const dnsRuns = await pool(hosts, 4, (h) =>
      run(h.name, process.execPath, [fuzzSender, '--kind', 'dns', '--target', `127.0.0.1:${DNS_PORT}`, '--count', String(FUZZ_DNS_PER_DAEMON), '--seed', String(1000 + h.index)], {
        timeoutMs: 90_000,
      }),
    );
    // the DHT packets come over the bridge from one namespace to every daemon
    const from = hosts[HOSTS - 1]!;
    const dhtRun = await run(
      from.name,
      process.execPath,
      [fuzzSender, '--kind', 'dht', ...hosts.flatMap((h) => ['--target', `${h.ip}:${DHT_PORT}`]), '--count', String(FUZZ_DHT_PER_DAEMON), '--seed', '4242'],
      { timeoutMs: 90_000 },
    );
    const summaries = [...dnsRuns, dhtRun].map((r) => {
      assert.equal(r.code, 0, `fuzz-sender failed: exit ${r.code}\n${r.stderr}`);
      return JSON.parse(r.stdout.trim().split('\n').pop()!) as { kind: string; sent: number; replies: number; sendErrors: number; sendMs: number };
    });
    const dnsSent = summaries.filter((s) => s.kind === 'dns').reduce((a, s) => a + s.sent, 0);
    const dnsReplies = summaries.filter((s) => s.kind === 'dns').reduce((a, s) => a + s.replies, 0);
    const dht = summaries.find((s) => s.kind === 'dht')!;
    st.diagnostic(`fuzz: DNS ${dnsSent} packets sent, ${dnsReplies} replies; DHT ${dht.sent} packets sent, ${dht.replies} replies`);
    const logged = daemons.map((d, i) => d.stderrLines.slice(linesBefore[i]));
    st.diagnostic(`stderr lines logged during the fuzz per host: ${logged.map((l) => l.length).join(' ')}`);
    const sample = [...new Set(logged.flat().map((l) => l.replace(/[0-9a-f]{8,}/g, '…').replace(/\d+/g, 'N')))].slice(0, 8);
    if (sample.length > 0) st.diagnostic(`kinds of lines: ${sample.join(' | ')}`);
    assert.equal(dnsSent, FUZZ_DNS_PER_DAEMON * HOSTS);
    assert.ok(dht.sent >= FUZZ_DHT_PER_DAEMON * HOSTS, `DHT packets sent: ${dht.sent}`);
  });

  await phase('after the fuzz: every daemon is alive and still resolves', async (st) => {
    await sleep(2000);
    const dead = daemons.filter((d) => !d.alive);
    assert.equal(dead.length, 0, dead.map((d) => `${d.label} exited ${JSON.stringify(d.exitInfo)}:\n${d.tail(30)}`).join('\n\n'));
    const problems: string[] = [];
    const attemptsNeeded: number[] = [];
    for (const h of hosts) {
      let r: DigResult | undefined;
      let attempts = 0;
      let ok = false;
      // bounded: at most 3 single-try queries per host
      while (attempts < 3 && !ok) {
        attempts++;
        r = await digName(h.index - 1, NAME, 'A');
        const addrs = r.answers.filter((a) => a.type === 'A').map((a) => a.data);
        // host 1 may answer its own name with its own address (or loopback)
        const accept = h.index === 1 ? (a: string): boolean => a === h.ip || a.startsWith('127.') : (a: string): boolean => a === hosts[0]!.ip;
        ok = r.status === 'NOERROR' && addrs.length > 0 && addrs.every(accept);
        if (!ok) await sleep(1000);
      }
      attemptsNeeded.push(attempts);
      if (h.index === 1) st.diagnostic(`host 1 answers its own name with: ${r?.answers.map((a) => a.data).join(', ') || r?.status}`);
      if (!ok) problems.push(`host ${h.index}: ${r?.status}\n${r?.raw}`);
    }
    st.diagnostic(`post-fuzz dig attempts per host: ${attemptsNeeded.join(' ')}`);
    assert.equal(problems.length, 0, problems.join('\n'));
    const st2 = await statusAll();
    assert.deepEqual(
      st2.map((s) => s.code),
      hosts.map(() => 0),
      'kadnode-ctl status after the fuzz',
    );
  });

  await phase('SIGTERM: every daemon exits 0', async () => {
    const results = await Promise.all(daemons.map((d) => d.stop(10_000)));
    const bad = results.map((r, i) => ({ r, d: daemons[i]! })).filter(({ r }) => r.code !== 0 || r.killed);
    assert.equal(bad.length, 0, bad.map(({ r, d }) => `${d.label}: ${JSON.stringify(r)}\n${d.tail()}`).join('\n\n'));
  });
});
