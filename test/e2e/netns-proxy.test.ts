// Proxy mode (--dns-server) end to end, needs root: a real dnsmasq is the upstream in one network
// namespace, a real bin/kadnode with `--dns-server <dnsmasq>` runs in another, and the real dig asks
// kadnode. Names outside the TLD come from dnsmasq (A, MX, TXT, NXDOMAIN, over UDP and TCP), kadnode's
// own .p2p name comes from kadnode and never reaches dnsmasq; a fuzz run leaves it forwarding; a stopped dnsmasq (silent) and a killed one
// (port unreachable) both give SERVFAIL within the deadline (measured); a kadnode without --dns-server
// answers REFUSED; kadnode's DNS is not reachable from the other namespace (it binds loopback).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { createNetwork, registerCleanup, run, type Host, type Network } from './netns.js';
import { dig, emptyPeerFile, haveCommand, repoRoot, skipUnlessNetns, sleep, startDaemon, tempDir, type Daemon, type DigResult } from './harness.js';

const DNS_PORT = 3535;
/** Config.dnsTimeoutMs: the forwarder's deadline */
const DEADLINE_MS = 3000;
const OWN_NAME = 'self.p2p';
const UPSTREAM_A = '10.201.0.77';
const TXT = 'kadnode proxy test';
const FUZZ_COUNT = 3000;
const fuzzSender = join(repoRoot, 'dist', 'test', 'e2e', 'fuzz-sender.js');

function dnsmasqPath(): string | null {
  if (haveCommand('dnsmasq')) return 'dnsmasq';
  return existsSync('/usr/sbin/dnsmasq') ? '/usr/sbin/dnsmasq' : null;
}

/** The real dnsmasq in a namespace, in the foreground, killed by pid (also on exit) */
class Dnsmasq {
  readonly lines: string[] = [];
  readonly exited: Promise<void>;
  private exitedFlag = false;
  private readonly unregister: () => void;

  constructor(readonly child: ChildProcess) {
    const pid = child.pid;
    if (pid === undefined) throw new Error('dnsmasq: no pid');
    this.unregister = registerCleanup(() => {
      if (!this.exitedFlag) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    });
    let buf = '';
    const onData = (chunk: string) => {
      buf += chunk;
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      this.lines.push(...parts);
    };
    child.stdout?.setEncoding('utf8').on('data', onData);
    child.stderr?.setEncoding('utf8').on('data', onData);
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        this.exitedFlag = true;
        this.unregister();
        resolve();
      });
    });
  }

  signal(sig: NodeJS.Signals): void {
    if (!this.exitedFlag && this.child.pid !== undefined) process.kill(this.child.pid, sig);
  }

  /** SIGCONT (it may be stopped) and SIGKILL by pid; waits up to 5 s for the exit. */
  async kill(): Promise<boolean> {
    if (this.exitedFlag) return true;
    this.signal('SIGCONT');
    this.signal('SIGKILL');
    return Promise.race([this.exited.then(() => true), sleep(5000).then(() => false)]);
  }

  get alive(): boolean {
    return !this.exitedFlag;
  }
}

test('proxy mode: kadnode forwards to a real dnsmasq in another namespace', { timeout: 120_000 }, async (t: TestContext) => {
  const skip = skipUnlessNetns() || (dnsmasqPath() ? false : 'needs dnsmasq (Debian package dnsmasq-base; scripts/install-test-deps.sh installs it as root)');
  if (skip) {
    t.skip(skip);
    return;
  }
  const dnsmasqBin = dnsmasqPath()!;
  const daemons: Daemon[] = [];
  let upstream: Dnsmasq | undefined;
  let net: Network | undefined;
  const tmp = tempDir('kadnode-proxy');
  t.after(async () => {
    // processes first (a namespace with a process in it outlives `ip netns del`), then namespaces
    await Promise.all(daemons.map((d) => d.stop(5000)));
    await upstream?.kill();
    net?.destroy();
    tmp.remove();
  });

  net = createNetwork(2, { prefix: `kn-${process.pid}-px` });
  const kadHost: Host = net.host(1);
  const dnsHost: Host = net.host(2);
  const ask = (host: Host, name: string, type: string, extra: string[] = [], server = `@127.0.0.1`, port = DNS_PORT): Promise<DigResult> =>
    dig([server, '-p', String(port), name, type, '+tries=1', '+timeout=8', ...extra], { netns: host.name, timeoutMs: 20_000 });

  let failed: string | undefined;
  const phase = async (name: string, fn: (st: TestContext) => Promise<void>): Promise<void> => {
    await t.test(name, { skip: failed ? `skipped: phase "${failed}" failed` : false }, async (st: TestContext) => {
      try {
        await fn(st);
      } catch (err) {
        failed ??= name;
        throw err;
      }
    });
  };

  await phase('start dnsmasq (upstream) and kadnode --dns-server', async (st) => {
    const child = net!.spawn(dnsHost, dnsmasqBin, [
      '--no-daemon', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--pid-file=', '--user=root', '--log-queries',
      '--port=53', `--listen-address=${dnsHost.ip}`, '--bind-interfaces',
      `--host-record=example.test,${UPSTREAM_A}`,
      `--mx-host=example.test,mail.example.test,10`,
      `--txt-record=example.test,${TXT}`,
      '--local=/test/',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    upstream = new Dnsmasq(child);
    // bounded: until it answers from kadnode's namespace, at most 40 x 250 ms
    let r: DigResult | undefined;
    for (let i = 0; i < 40 && upstream.alive; i++) {
      r = await dig([`@${dnsHost.ip}`, 'example.test', 'A', '+tries=1', '+timeout=1'], { netns: kadHost.name, timeoutMs: 5000 });
      if (r.status === 'NOERROR') break;
      await sleep(250);
    }
    assert.equal(r?.status, 'NOERROR', `dnsmasq does not answer:\n${upstream.lines.join('\n')}\n${r?.raw ?? ''}`);

    const peerfile = emptyPeerFile(tmp.path);
    daemons.push(await startDaemon({
      args: ['--dns-port', String(DNS_PORT), '--dns-server', dnsHost.ip, '--peerfile', peerfile, '--value-id', OWN_NAME, '--cmd-disable-stdin'],
      netns: kadHost.name,
      stdin: 'ignore',
      label: 'kadnode --dns-server',
    }));
    const kad = daemons[0]!;
    assert.ok(!kad.stderrLines.some((l) => l.includes('open resolver')), 'loopback binding must not warn about an open resolver');
    st.diagnostic(`dnsmasq pid ${child.pid} on ${dnsHost.ip}:53, kadnode pid ${kad.pid} on 127.0.0.1:${DNS_PORT}`);
  });

  await phase('example.test A, MX, TXT come from dnsmasq through kadnode (UDP and TCP)', async (st) => {
    const a = await ask(kadHost, 'example.test', 'A');
    assert.equal(a.status, 'NOERROR', a.raw);
    assert.deepEqual(a.answers.filter((x) => x.type === 'A').map((x) => x.data), [UPSTREAM_A], a.raw);
    // kadnode's own answers never carry RA; dnsmasq's do (and AA for its configured records)
    assert.ok(a.flags.includes('ra'), `flags ${a.flags.join(' ')}: dnsmasq's, not kadnode's`);
    const tcp = await ask(kadHost, 'example.test', 'A', ['+tcp']);
    assert.deepEqual(tcp.answers.map((x) => x.data), [UPSTREAM_A], tcp.raw);
    const mx = await ask(kadHost, 'example.test', 'MX');
    assert.deepEqual(mx.answers.map((x) => x.data), ['10 mail.example.test.'], mx.raw);
    const txt = await ask(kadHost, 'example.test', 'TXT');
    assert.deepEqual(txt.answers.map((x) => x.data), [`"${TXT}"`], txt.raw);
    const nx = await ask(kadHost, 'nosuch.example.test', 'A');
    assert.equal(nx.status, 'NXDOMAIN', nx.raw);
    const logged = upstream!.lines.filter((l) => /query\[(A|MX|TXT)\] (nosuch\.)?example\.test from 10\.201\.0\.1/.test(l));
    assert.ok(logged.length >= 5, `dnsmasq saw ${logged.length} queries from kadnode:\n${upstream!.lines.join('\n')}`);
    st.diagnostic(`query times (ms): A ${a.queryTimeMs}, A/tcp ${tcp.queryTimeMs}, MX ${mx.queryTimeMs}, TXT ${txt.queryTimeMs}, NXDOMAIN ${nx.queryTimeMs}`);
  });

  await phase(`${OWN_NAME} is answered by kadnode itself, never by dnsmasq`, async () => {
    const before = upstream!.lines.length;
    const r = await ask(kadHost, OWN_NAME, 'A');
    assert.equal(r.status, 'NOERROR', r.raw);
    assert.ok(r.answers.some((x) => x.type === 'A'), r.raw);
    assert.ok(r.flags.includes('aa') && !r.flags.includes('ra'), `flags ${r.flags.join(' ')}: kadnode answers its TLD itself`);
    assert.ok(!upstream!.lines.slice(before).some((l) => l.includes(OWN_NAME)), upstream!.lines.slice(before).join('\n'));
  });

  await phase(`fuzz: ${FUZZ_COUNT} random and mutated queries, many of them forwarded; kadnode survives and still forwards`, async (st) => {
    const kad = daemons[0]!;
    const before = kad.stderrLines.length;
    const r = await run(kadHost.name, process.execPath, [fuzzSender, '--kind', 'dns', '--target', `127.0.0.1:${DNS_PORT}`, '--count', String(FUZZ_COUNT), '--seed', '5353'], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, `fuzz-sender failed: exit ${r.code}\n${r.stderr}`);
    const summary = JSON.parse(r.stdout.trim().split('\n').pop()!) as { sent: number; replies: number };
    const forwarded = upstream!.lines.filter((l) => / from 10\.201\.0\.1$/.test(l) && /query\[/.test(l)).length;
    st.diagnostic(`fuzz: ${summary.sent} sent, ${summary.replies} replies; dnsmasq logged ${forwarded} queries from kadnode in all; kadnode logged ${kad.stderrLines.length - before} lines`);
    assert.equal(summary.sent, FUZZ_COUNT);
    await sleep(DEADLINE_MS + 500); // what was still out has timed out
    assert.ok(kad.alive, kad.tail(30));
    const a = await ask(kadHost, 'example.test', 'A');
    assert.deepEqual(a.answers.map((x) => x.data), [UPSTREAM_A], a.raw);
    assert.ok(!kad.stderrLines.slice(before).some((l) => l.startsWith('(E)')), kad.stderrLines.slice(before).join('\n'));
  });

  await phase('kadnode DNS is not reachable from the other namespace (it binds loopback)', async () => {
    const r = await dig([`@${kadHost.ip}`, '-p', String(DNS_PORT), 'example.test', 'A', '+tries=1', '+timeout=2'], { netns: dnsHost.name, timeoutMs: 10_000 });
    assert.equal(r.answers.length, 0, r.raw);
    assert.ok(r.status === 'TIMEOUT', `status ${r.status}:\n${r.raw}`);
  });

  await phase('dnsmasq stopped (SIGSTOP, silent): SERVFAIL at the deadline; SIGCONT: answers again', async (st) => {
    const kad = daemons[0]!;
    upstream!.signal('SIGSTOP');
    const r = await ask(kadHost, 'example.test', 'A');
    upstream!.signal('SIGCONT');
    st.diagnostic(`silent upstream: SERVFAIL after ${r.queryTimeMs} ms (dig query time), ${Math.round(r.elapsedMs)} ms wall clock; deadline ${DEADLINE_MS} ms`);
    assert.equal(r.status, 'SERVFAIL', r.raw);
    assert.ok(r.queryTimeMs !== undefined && r.queryTimeMs >= DEADLINE_MS - 100 && r.queryTimeMs <= DEADLINE_MS + 500, `query time ${r.queryTimeMs} ms`);
    await kad.waitForLine(/\(W\) DNS\/FWD: Upstream 10\.201\.0\.2:53 gives no answer/, 2000);
    // bounded: the queries queued while it was stopped are answered first
    let again: DigResult | undefined;
    for (let i = 0; i < 10; i++) {
      again = await ask(kadHost, 'example.test', 'A');
      if (again.status === 'NOERROR') break;
      await sleep(200);
    }
    assert.deepEqual(again?.answers.map((x) => x.data), [UPSTREAM_A], again?.raw);
    await kad.waitForLine(/\(I\) DNS\/FWD: Upstream 10\.201\.0\.2:53 answers again/, 2000);
  });

  await phase('dnsmasq killed: SERVFAIL within the deadline (UDP and TCP), kadnode keeps running', async (st) => {
    assert.ok(await upstream!.kill(), 'dnsmasq did not exit');
    const udp = await ask(kadHost, 'example.test', 'A');
    const tcp = await ask(kadHost, 'example.test', 'MX', ['+tcp']);
    st.diagnostic(`killed upstream: SERVFAIL after ${udp.queryTimeMs} ms (UDP), ${tcp.queryTimeMs} ms (TCP), dig query time; deadline ${DEADLINE_MS} ms`);
    for (const r of [udp, tcp]) {
      assert.equal(r.status, 'SERVFAIL', r.raw);
      assert.ok(r.queryTimeMs !== undefined && r.queryTimeMs <= DEADLINE_MS + 500, `query time ${r.queryTimeMs} ms`);
    }
    const own = await ask(kadHost, OWN_NAME, 'A');
    assert.equal(own.status, 'NOERROR', own.raw);
    assert.ok(daemons[0]!.alive);
  });

  await phase('kadnode without --dns-server: names outside the TLD are REFUSED', async () => {
    const peerfile = emptyPeerFile(tmp.path, 'peers-empty-2.txt');
    // in the upstream's namespace, now free
    daemons.push(await startDaemon({
      args: ['--dns-port', String(DNS_PORT), '--peerfile', peerfile, '--cmd-disable-stdin'],
      netns: dnsHost.name,
      stdin: 'ignore',
      label: 'kadnode without --dns-server',
    }));
    for (const type of ['A', 'MX']) {
      const r = await ask(dnsHost, 'example.test', type);
      assert.equal(r.status, 'REFUSED', r.raw);
      assert.equal(r.answers.length, 0, r.raw);
    }
  });

  await phase('SIGTERM: both daemons exit 0', async () => {
    const results = await Promise.all(daemons.map((d) => d.stop(10_000)));
    const bad = results.map((r, i) => ({ r, d: daemons[i]! })).filter(({ r }) => r.code !== 0 || r.killed);
    assert.equal(bad.length, 0, bad.map(({ r, d }) => `${d.label}: ${JSON.stringify(r)}\n${d.tail()}`).join('\n\n'));
  });
});
