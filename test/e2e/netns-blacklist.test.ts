// `blacklist` keeps an address out of the routing table and out of results (KadNode 1.x stored the address
// with port 0 and blocked nothing). Needs root: six network namespaces on one bridge, 10.201.0.0/16.
//
//   host 1  10.201.0.1  S  bootstrap node (empty peer file)
//   host 2  10.201.0.2  A  announces shared.p2p:8080 and fresh.p2p:8080
//   host 3  10.201.0.3  C  announces shared.p2p:8080, fresh.p2p:8080 and conly.p2p:9090   <- the address to blacklist
//   host 4  10.201.0.4  B  resolver: sees both, then blacklists C
//   host 5  10.201.0.5  D  fresh resolver: blacklists C before its first lookup
//   host 6  10.201.0.6  E  observer: never blacklists, keeps seeing C (C is alive)
//
// After the blacklist, in bounded rounds: B's and D's routing tables never hold 10.201.0.3, their
// lookups (kadnode-ctl and dig) of shared.p2p give 10.201.0.2 and never 10.201.0.3 (B's from its cache,
// D's from searches made after the blacklist), B's first lookup of fresh.p2p (a search made after the
// blacklist) gives only 10.201.0.2, and conly.p2p is not found (NXDOMAIN) rather than answered with C's
// address.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { createNetwork, type Network } from './netns.js';
import { dig, emptyPeerFile, kadnodeCtl, retry, runKadnode, skipUnlessNetns, sleep, startDaemon, tempDir, type Daemon, type DigResult } from './harness.js';

const HOSTS = 6;
const DHT_PORT = 6881;
const DNS_PORT = 3535;
const CMD_PORT = 1700;
const SHARED_PORT = 8080;
const CONLY_PORT = 9090;
const sha1 = (s: string): string => createHash('sha1').update(s).digest('hex');
const SHARED_ID = sha1('shared');
const CONLY_ID = sha1('conly');
const FRESH_ID = sha1('fresh');
const IP = (i: number): string => `10.201.0.${i}`;
const BLOCKED = IP(3);
const MAX_ROUNDS_MS = 90_000;
const MIN_ROUNDS = 3;
const ROUND_PAUSE_MS = 2500;

interface CtlOut {
  code: number | null;
  lines: string[];
  raw: string;
  ms: number;
}

test('blacklist keeps an address out of the routing table and out of results (6 namespaces)', { timeout: 240_000 }, async (t: TestContext) => {
  const skip = skipUnlessNetns();
  if (skip) {
    t.skip(skip);
    return;
  }

  const daemons = new Map<number, Daemon>();
  const tmp = tempDir('kadnode-netns-bl');
  let net: Network | undefined;
  t.after(async () => {
    // daemons first (a namespace with a process in it outlives `ip netns del`), then namespaces
    await Promise.all([...daemons.values()].map((d) => d.stop(5000)));
    net?.destroy();
    tmp.remove();
  });

  net = createNetwork(HOSTS, { prefix: `kn-${process.pid}-bl` });
  const ns = (i: number): string => net!.host(i).name;

  let failedPhase: string | undefined;
  const phase = async (name: string, fn: (st: TestContext) => Promise<void>): Promise<void> => {
    await t.test(name, { skip: failedPhase ? `skipped: phase "${failedPhase}" failed` : false }, async (st: TestContext) => {
      try {
        await fn(st);
      } catch (err) {
        failedPhase ??= name;
        throw err;
      }
    });
  };

  const ctl = async (i: number, args: string[], timeoutMs = 20_000): Promise<CtlOut> => {
    const r = await kadnodeCtl(['-p', String(CMD_PORT), ...args], { netns: ns(i), timeoutMs });
    return {
      code: r.code,
      lines: r.stdout.split('\n').map((l) => l.trim()).filter(Boolean),
      raw: `host ${i}: kadnode-ctl ${args.join(' ')} -> exit ${r.code} in ${Math.round(r.ms)} ms\nstdout:\n${r.stdout}stderr:\n${r.stderr}`,
      ms: r.ms,
    };
  };
  const digA = (i: number, name: string): Promise<DigResult> =>
    dig(['@127.0.0.1', '-p', String(DNS_PORT), name, 'A', '+tries=1', '+timeout=6'], { netns: ns(i), timeoutMs: 20_000 });
  const bucketHosts = async (i: number): Promise<{ hosts: string[]; raw: string }> => {
    const r = await ctl(i, ['list', 'buckets']);
    assert.equal(r.code, 0, r.raw);
    return { hosts: r.lines.map((l) => /^[0-9a-f]{40} (\d+\.\d+\.\d+\.\d+):\d+ /.exec(l)?.[1] ?? '').filter(Boolean), raw: r.raw };
  };
  const storageHas = (out: string[], id: string, peers: string[]): boolean => {
    const line = out.find((l) => l.startsWith(id + ' '));
    return !!line && peers.every((p) => line.split(' ').includes(p));
  };

  await phase('start 6 daemons (A and C announce shared.p2p, C also conly.p2p)', async (st) => {
    const t0 = performance.now();
    // --lpd-disable / --fwd-disable where this kadnode has them: the hosts meet through --peer only
    const help = await runKadnode(['--help'], { timeoutMs: 15_000 });
    const quiet = ['--lpd-disable', '--fwd-disable'].filter((o) => help.stdout.includes(o));
    const common = ['--port', String(DHT_PORT), '--dns-port', String(DNS_PORT), '--cmd-port', String(CMD_PORT), '--web-port', '0', '--cmd-disable-stdin', ...quiet];
    const start = (i: number, extra: string[]): Promise<Daemon> =>
      startDaemon({ args: [...common, ...extra], netns: ns(i), stdin: 'ignore', label: `host ${i} (${IP(i)})`, readyTimeoutMs: 30_000 }).then((d) => {
        daemons.set(i, d);
        return d;
      });
    await start(1, ['--peerfile', emptyPeerFile(tmp.path)]);
    const peer = ['--peer', `${IP(1)}:${DHT_PORT}`];
    const started = await Promise.allSettled([
      start(2, [...peer, '--value-id', `shared.p2p:${SHARED_PORT}`, '--value-id', `fresh.p2p:${SHARED_PORT}`]),
      start(3, [...peer, '--value-id', `shared.p2p:${SHARED_PORT}`, '--value-id', `fresh.p2p:${SHARED_PORT}`, '--value-id', `conly.p2p:${CONLY_PORT}`]),
      start(4, peer),
      start(5, peer),
      start(6, peer),
    ]);
    const failures = started.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    assert.equal(failures.length, 0, failures.map((f) => String(f.reason)).join('\n\n'));
    st.diagnostic(`6 daemons ready in ${Math.round(performance.now() - t0)} ms`);
  });

  await phase('the DHT forms and both announcements of shared.p2p (and conly.p2p) are stored everywhere', async (st) => {
    const t0 = performance.now();
    const formed = await retry(
      async () => {
        const rs = await Promise.all([1, 2, 3, 4, 5, 6].map((i) => ctl(i, ['status'])));
        const counts = rs.map((r) => Number(/^DHT nodes: (\d+)/m.exec(r.lines.join('\n'))?.[1] ?? 0));
        return counts.every((c) => c >= HOSTS - 1) ? counts : undefined;
      },
      { tries: 60, timeoutMs: 45_000, intervalMs: 500 },
    );
    assert.ok(formed.value, `not every host knows the ${HOSTS - 1} others within 45 s`);
    const storers = [1, 4, 5, 6];
    let last: CtlOut[] = [];
    const stored = await retry(
      async () => {
        last = await Promise.all(storers.map((i) => ctl(i, ['list', 'storage'])));
        return last.every(
          (r) =>
            storageHas(r.lines, SHARED_ID, [`${IP(2)}:${SHARED_PORT}`, `${BLOCKED}:${SHARED_PORT}`]) &&
            storageHas(r.lines, FRESH_ID, [`${IP(2)}:${SHARED_PORT}`, `${BLOCKED}:${SHARED_PORT}`]) &&
            storageHas(r.lines, CONLY_ID, [`${BLOCKED}:${CONLY_PORT}`]),
        )
          ? last
          : undefined;
      },
      { tries: 90, timeoutMs: 45_000, intervalMs: 500 },
    );
    assert.ok(stored.value, `announcements not stored on hosts ${storers.join(', ')} within 45 s:\n${last.map((r) => r.raw).join('\n')}`);
    st.diagnostic(`formed and stored in ${Math.round(performance.now() - t0)} ms`);
  });

  await phase('before: B resolves shared.p2p to both .2 and .3; B and D have C in their routing tables; D never looked anything up', async (st) => {
    let last: CtlOut | undefined;
    const both = await retry(
      async () => {
        last = await ctl(4, ['lookup', 'shared.p2p']);
        return last.code === 0 && last.lines.includes(`${IP(2)}:${SHARED_PORT}`) && last.lines.includes(`${BLOCKED}:${SHARED_PORT}`) ? last : undefined;
      },
      { tries: 20, timeoutMs: 30_000, intervalMs: 1000 },
    );
    assert.ok(both.value, `B never saw both announcers of shared.p2p; last:\n${last?.raw}`);
    st.diagnostic(`B: lookup shared.p2p -> ${both.value.lines.join(', ')} after ${both.attempts} attempts`);
    const digB = await retry(
      async () => {
        const r = await digA(4, 'shared.p2p');
        const a = r.answers.filter((x) => x.type === 'A').map((x) => x.data);
        return a.includes(IP(2)) && a.includes(BLOCKED) ? r : undefined;
      },
      { tries: 5, timeoutMs: 15_000, intervalMs: 1000 },
    );
    assert.ok(digB.value, 'dig shared.p2p on B never answered both .2 and .3');
    for (const i of [4, 5]) {
      const b = await bucketHosts(i);
      assert.ok(b.hosts.includes(BLOCKED), `host ${i}: ${BLOCKED} should be in the routing table before the blacklist\n${b.raw}`);
    }
    const results = await ctl(5, ['list', 'results']);
    assert.deepEqual(results.lines, ['(results: none)'], `D is not fresh:\n${results.raw}`);
  });

  await phase(`blacklist ${BLOCKED} on B and on D`, async () => {
    for (const i of [4, 5]) {
      const r = await ctl(i, ['blacklist', BLOCKED]);
      assert.equal(r.code, 0, r.raw);
      assert.deepEqual(r.lines, [`Added to blacklist: ${BLOCKED}`], r.raw);
      const list = await ctl(i, ['list', 'blacklist']);
      assert.deepEqual(list.lines, [BLOCKED], list.raw);
    }
    for (const i of [4, 5]) {
      const b = await bucketHosts(i);
      assert.ok(!b.hosts.includes(BLOCKED), `host ${i}: ${BLOCKED} still in the routing table right after the blacklist\n${b.raw}`);
    }
  });

  await phase('after: in every round, B and D never see .3 (routing table, kadnode-ctl, dig), conly.p2p is not found', async (st) => {
    const problems: string[] = [];
    const times: Record<string, number[]> = {};
    const time = (key: string, ms: number): void => {
      (times[key] ??= []).push(Math.round(ms));
    };
    const sharedOk = (name: string, addrs: string[], problem: (s: string) => void): void => {
      if (addrs.some((a) => a.startsWith(BLOCKED))) problem(`${name} contains ${BLOCKED}: ${addrs.join(', ')}`);
      if (!addrs.some((a) => a.startsWith(IP(2)))) problem(`${name} lacks ${IP(2)}: ${addrs.join(', ') || '(nothing)'}`);
    };
    let rounds = 0;
    const t0 = performance.now();
    // bounded in rounds and time
    while (performance.now() - t0 < MAX_ROUNDS_MS && rounds < MIN_ROUNDS) {
      rounds++;
      // B never looked fresh.p2p up before the blacklist: its first search runs after it
      const fresh = await ctl(4, ['lookup', 'fresh.p2p']);
      if (fresh.code !== 0) problems.push(`round ${rounds}, host 4: lookup fresh.p2p failed\n${fresh.raw}`);
      sharedOk('kadnode-ctl lookup fresh.p2p', fresh.lines, (s) => problems.push(`round ${rounds}, host 4: ${s}`));
      for (const i of [4, 5]) {
        const who = `round ${rounds}, host ${i}`;
        const problem = (s: string): number => problems.push(`${who}: ${s}`);
        const b = await bucketHosts(i);
        if (b.hosts.includes(BLOCKED)) problem(`routing table holds ${BLOCKED}\n${b.raw}`);
        if (b.hosts.length < 3) problem(`routing table nearly empty\n${b.raw}`);

        const shared = await ctl(i, ['lookup', 'shared.p2p']);
        time(`ctl shared host ${i}`, shared.ms);
        if (shared.code !== 0) problem(`lookup shared.p2p failed\n${shared.raw}`);
        sharedOk('kadnode-ctl lookup shared.p2p', shared.lines, problem);

        const d = await digA(i, 'shared.p2p');
        if (d.queryTimeMs !== undefined) time(`dig shared host ${i}`, d.queryTimeMs);
        if (d.status !== 'NOERROR') problem(`dig shared.p2p: ${d.status}\n${d.raw}`);
        sharedOk('dig shared.p2p', d.answers.filter((a) => a.type === 'A').map((a) => a.data), problem);

        const conly = await ctl(i, ['lookup', 'conly.p2p']);
        time(`ctl conly host ${i}`, conly.ms);
        if (conly.raw.includes(BLOCKED)) problem(`lookup conly.p2p answered ${BLOCKED}\n${conly.raw}`);
        if (conly.code !== 1 || !/Not found\./.test(conly.raw)) problem(`lookup conly.p2p: want exit 1 "Not found."\n${conly.raw}`);

        const dc = await digA(i, 'conly.p2p');
        if (dc.queryTimeMs !== undefined) time(`dig conly host ${i}`, dc.queryTimeMs);
        if (dc.answers.some((a) => a.data === BLOCKED)) problem(`dig conly.p2p answered ${BLOCKED}\n${dc.raw}`);
        if (dc.status !== 'NXDOMAIN') problem(`dig conly.p2p: ${dc.status}, want NXDOMAIN (query time ${dc.queryTimeMs} ms)`);
      }
      const results = await ctl(4, ['list', 'results']);
      for (const line of results.lines.filter((l) => l.startsWith(SHARED_ID + ' ') || l.startsWith(FRESH_ID + ' '))) {
        if (line.includes(BLOCKED)) problems.push(`round ${rounds}, host 4: list results holds ${BLOCKED}: ${line}`);
      }
      if (problems.length > 20) break;
      await sleep(ROUND_PAUSE_MS);
    }
    const spent = Math.round(performance.now() - t0);
    st.diagnostic(`${rounds} rounds in ${spent} ms`);
    for (const [k, v] of Object.entries(times)) st.diagnostic(`${k}: ${v.join(' ')} ms`);
    assert.deepEqual(problems, [], problems.join('\n\n'));
    assert.ok(rounds >= MIN_ROUNDS, `only ${rounds} rounds within ${MAX_ROUNDS_MS} ms`);
  });

  await phase('the hosts that did not blacklist still see C (C is alive)', async () => {
    const e = await bucketHosts(6);
    assert.ok(e.hosts.includes(BLOCKED), `E lost C from its routing table\n${e.raw}`);
    for (const [name, want] of [
      ['shared.p2p', [`${IP(2)}:${SHARED_PORT}`, `${BLOCKED}:${SHARED_PORT}`]],
      ['conly.p2p', [`${BLOCKED}:${CONLY_PORT}`]],
    ] as const) {
      let last: CtlOut | undefined;
      const r = await retry(
        async () => {
          last = await ctl(6, ['lookup', name]);
          return last.code === 0 && want.every((w) => last!.lines.includes(w)) ? last : undefined;
        },
        { tries: 10, timeoutMs: 20_000, intervalMs: 1000 },
      );
      assert.ok(r.value, `E: lookup ${name} should give ${want.join(', ')}; last:\n${last?.raw}`);
    }
    const d = await digA(6, 'conly.p2p');
    assert.deepEqual(
      d.answers.filter((a) => a.type === 'A').map((a) => a.data),
      [BLOCKED],
      `dig conly.p2p on E:\n${d.raw}`,
    );
    const s = await ctl(3, ['status']);
    assert.equal(s.code, 0, s.raw);
    // the blacklist stays in place on B and D
    for (const i of [4, 5]) assert.deepEqual((await ctl(i, ['list', 'blacklist'])).lines, [BLOCKED]);
  });

  await phase('SIGTERM: every daemon exits 0', async () => {
    const entries = [...daemons.entries()];
    const results = await Promise.all(entries.map(([, d]) => d.stop(10_000)));
    const bad = results.map((r, k) => ({ r, d: entries[k]![1] })).filter(({ r }) => r.code !== 0 || r.killed);
    assert.equal(bad.length, 0, bad.map(({ r, d }) => `${d.label}: ${JSON.stringify(r)}\n${d.tail()}`).join('\n\n'));
  });
});
