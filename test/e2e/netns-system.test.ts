// Into the system (issue 6), needs root: every way `ping node1.p2p` reaches kadnode, end to end with
// the real system tools (getent, ping, dnsmasq, systemd-resolved, the NSS module) in network namespaces.
// `ip netns exec` overlays /etc/netns/<ns>/{resolv.conf,nsswitch.conf} on /etc; those files are created
// for these namespaces only and removed afterwards; the host's /etc is never touched.
//
//   h1 10.201.0.1  kadnode announcing node1.p2p (and one cold name per path)
//   h2 10.201.0.2  path a: dnsmasq on 127.0.0.1:53 with packaging/dnsmasq/kadnode.conf (server=/p2p/127.0.0.1#3535)
//   h3 10.201.0.3  path b: kadnode itself on port 53 in proxy mode (--dns-server 10.201.0.4)
//   h4 10.201.0.4  dnsmasq upstream for names outside .p2p (upstream.test = 10.201.0.4)
//   h5 10.201.0.5  path c: NSS, `hosts: files kadnode dns`, libnss_kadnode.so.2 built by make -C packaging/nss
//   h6 10.201.0.6  path d: systemd-resolved with packaging/systemd/resolved-kadnode.conf (DNS=127.0.0.1:3535, Domains=~p2p)
//
// systemd-resolved runs without systemd as PID 1: it is unpacked (never installed: its postinst would turn
// the host's /etc/resolv.conf into a symlink) by scripts/fetch-systemd-resolved.sh and started in a private
// mount namespace (a tmpfs on /run, our resolved.conf on /etc/systemd) as `nobody` with the capabilities it
// keeps anyway; it waits for a D-Bus that never comes (that only costs resolvectl) and serves its stub
// listener 127.0.0.53. It needs a non-loopback link with an address, or it answers everything with
// "network-down": eth0 of the namespace is one.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { netnsEtc } from './netns-etc.js';
import { createNetwork, registerCleanup, run, type ExecResult, type Host, type Network } from './netns.js';
import { dig, emptyPeerFile, haveCommand, percentile, repoRoot, skipUnlessNetns, sleep, startDaemon, tempDir, type Daemon, type DigResult } from './harness.js';

const HOSTS = 6;
const DHT_PORT = 6881;
const NAME = 'node1.p2p';
const NAME_IP = '10.201.0.1';
const UPSTREAM_NAME = 'upstream.test';
const UPSTREAM_IP = '10.201.0.4';
const COLD = { a: 'cold-a.p2p', b: 'cold-b.p2p', c: 'cold-c.p2p', d: 'cold-d.p2p' };
const LATENCY_RUNS = 20;
const NSS_DIR = join(repoRoot, 'packaging', 'nss');

function dnsmasqPath(): string | null {
  if (haveCommand('dnsmasq')) return 'dnsmasq';
  return existsSync('/usr/sbin/dnsmasq') ? '/usr/sbin/dnsmasq' : null;
}

/** A helper process (dnsmasq, systemd-resolved) in a namespace, killed by pid, also on exit. */
class Helper {
  readonly lines: string[] = [];
  readonly exited: Promise<void>;
  private done = false;

  constructor(readonly label: string, readonly child: ChildProcess) {
    const pid = child.pid;
    if (pid === undefined) throw new Error(`${label}: no pid`);
    const unregister = registerCleanup(() => {
      if (!this.done) {
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
      if (this.lines.length > 5000) this.lines.splice(0, this.lines.length - 5000);
    };
    child.stdout?.setEncoding('utf8').on('data', onData);
    child.stderr?.setEncoding('utf8').on('data', onData);
    this.exited = new Promise((resolve) => {
      child.once('exit', () => {
        this.done = true;
        unregister();
        resolve();
      });
    });
  }

  get alive(): boolean {
    return !this.done;
  }

  async kill(): Promise<void> {
    if (this.done || this.child.pid === undefined) return;
    try {
      process.kill(this.child.pid, 'SIGTERM');
    } catch {
      return;
    }
    const exited = await Promise.race([this.exited.then(() => true), sleep(3000).then(() => false)]);
    if (!exited) {
      try {
        process.kill(this.child.pid, 'SIGKILL');
      } catch {
        // gone
      }
      await Promise.race([this.exited, sleep(3000)]);
    }
  }

  tail(n = 20): string {
    return this.lines.slice(-n).join('\n');
  }
}

/** The directory glibc loads NSS modules from (where libnss_files.so.2 lives), resolved through symlinks. */
function systemLibDir(): string | null {
  const candidates = ['/usr/lib/x86_64-linux-gnu', '/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib64', '/lib64', '/usr/lib', '/lib'];
  for (const dir of candidates) {
    if (existsSync(join(dir, 'libnss_files.so.2'))) return realpathSync(dir);
  }
  return null;
}

function stats(values: number[]): string {
  const r = (x: number) => Math.round(x * 10) / 10;
  return `median ${r(percentile(values, 50))} ms, p95 ${r(percentile(values, 95))} ms, min ${r(Math.min(...values))} ms, max ${r(Math.max(...values))} ms (n=${values.length})`;
}

test('into the system: dnsmasq, resolv.conf, NSS and systemd-resolved paths in namespaces', { timeout: 300_000 }, async (t: TestContext) => {
  const skip = skipUnlessNetns()
    || (dnsmasqPath() ? false : 'needs dnsmasq (Debian package dnsmasq-base; scripts/install-test-deps.sh installs it as root)')
    || (haveCommand('getent') ? false : 'needs getent (libc-bin)')
    || (haveCommand('ping') ? false : 'needs ping (Debian package iputils-ping; scripts/install-test-deps.sh installs it as root)');
  if (skip) {
    t.skip(skip);
    return;
  }
  const dnsmasqBin = dnsmasqPath()!;
  const daemons: Daemon[] = [];
  const helpers: Helper[] = [];
  const etcRemovers: Array<() => void> = [];
  const tmp = tempDir('kadnode-system');
  let net: Network | undefined;
  t.after(async () => {
    // processes first (a namespace with a process in it outlives `ip netns del`), then namespaces, then files
    await Promise.all(daemons.map((d) => d.stop(5000)));
    await Promise.all(helpers.map((h) => h.kill()));
    net?.destroy();
    for (const remove of etcRemovers) remove();
    tmp.remove();
  });

  net = createNetwork(HOSTS, { prefix: `kn-${process.pid}-sys` });
  const [h1, h2, h3, h4, h5, h6] = net.hosts as [Host, Host, Host, Host, Host, Host];
  const exec = (host: Host, cmd: string, args: string[], timeoutMs = 20_000): Promise<ExecResult> => run(host.name, cmd, args, { timeoutMs });
  const getent = (host: Host, db: string, name: string, env: string[] = []): Promise<ExecResult> =>
    env.length ? exec(host, 'env', [...env, 'getent', db, name]) : exec(host, 'getent', [db, name]);
  const ping = (host: Host, name: string, prefix: string[] = []): Promise<ExecResult> =>
    prefix.length ? exec(host, prefix[0]!, [...prefix.slice(1), 'ping', '-c1', '-W2', name]) : exec(host, 'ping', ['-c1', '-W2', name]);
  const hostsLine = (r: ExecResult) => r.stdout.trim().split(/\s+/);
  const latency = async (host: Host, name: string, env: string[] = []): Promise<number[]> => {
    const times: number[] = [];
    for (let i = 0; i < LATENCY_RUNS; i++) {
      const r = await getent(host, 'hosts', name, env);
      assert.equal(r.code, 0, `getent hosts ${name} failed on run ${i + 1}: ${r.stdout}${r.stderr}`);
      times.push(r.ms);
    }
    return times;
  };
  const figures: string[] = [];

  let failed: string | undefined;
  const phase = async (name: string, fn: (st: TestContext) => Promise<void>, opts: { skip?: string | false } = {}): Promise<void> => {
    await t.test(name, { skip: failed ? `skipped: phase "${failed}" failed` : opts.skip ?? false }, async (st: TestContext) => {
      try {
        await fn(st);
      } catch (err) {
        failed ??= name;
        throw err;
      }
    });
  };

  // ------------------------------------------------------------------ setup

  let nssBuild = '';
  let resolvedBin: string | null = null;
  let resolvedSkip: string | false = false;

  await phase('resolver files for the namespaces, the NSS module, systemd-resolved unpacked', async (st) => {
    const resolv = (ip: string) => `nameserver ${ip}\noptions timeout:2 attempts:1\n`;
    etcRemovers.push(netnsEtc(h2.name, { 'resolv.conf': resolv('127.0.0.1'), 'nsswitch.conf': 'hosts: files dns\n' }));
    etcRemovers.push(netnsEtc(h3.name, { 'resolv.conf': resolv('127.0.0.1'), 'nsswitch.conf': 'hosts: files dns\n' }));
    // nothing listens on 127.0.0.1:53 in h5: an answer for a .p2p name can only come from the NSS module
    etcRemovers.push(netnsEtc(h5.name, { 'resolv.conf': resolv('127.0.0.1'), 'nsswitch.conf': 'hosts: files kadnode dns\n' }));
    etcRemovers.push(netnsEtc(h6.name, { 'resolv.conf': resolv('127.0.0.53'), 'nsswitch.conf': 'hosts: files dns\n' }));
    const seen = await exec(h5, 'cat', ['/etc/nsswitch.conf', '/etc/resolv.conf']);
    assert.match(seen.stdout, /hosts: files kadnode dns/, 'ip netns exec overlays /etc/netns/<ns>/ on /etc');
    assert.doesNotMatch(readFileSync('/etc/nsswitch.conf', 'utf8'), /kadnode/, 'the host file is untouched');

    if (haveCommand('make') && haveCommand('cc')) {
      nssBuild = join(tmp.path, 'nss');
      mkdirSync(nssBuild);
      const b = await run(undefined, 'make', ['-C', NSS_DIR, '-B', `BUILD=${nssBuild}`], { timeoutMs: 120_000 });
      assert.equal(b.code, 0, `make -C packaging/nss failed:\n${b.stdout}${b.stderr}`);
    }

    if (!haveCommand('setpriv') || !haveCommand('unshare')) {
      resolvedSkip = 'needs setpriv and unshare (util-linux)';
    } else {
      const cache = join(repoRoot, 'node_modules', '.cache', 'kadnode-systemd-resolved');
      const f = await run(undefined, 'sh', [join(repoRoot, 'scripts', 'fetch-systemd-resolved.sh'), cache], { timeoutMs: 120_000 });
      if (f.code === 0) resolvedBin = f.stdout.trim().split('\n').pop()!;
      else resolvedSkip = `systemd-resolved not available: ${f.stderr.trim().split('\n').pop()}`;
    }
    st.diagnostic(`NSS module: ${nssBuild ? join(nssBuild, 'libnss_kadnode.so.2') : 'not built (no make/cc)'}; systemd-resolved: ${resolvedBin ?? resolvedSkip}`);
  });

  await phase('start kadnode on h1 (announcer), h2, h3 (port 53, proxy), h5 (NSS port), h6; dnsmasq on h2 and h4', async (st) => {
    const peerfile = emptyPeerFile(tmp.path);
    const common = ['--port', String(DHT_PORT), '--cmd-disable-stdin'];
    const peer = ['--peer', `${h1.ip}:${DHT_PORT}`];
    daemons.push(await startDaemon({
      args: [...common, '--peerfile', peerfile, '--value-id', NAME, ...Object.values(COLD).flatMap((n) => ['--value-id', n])],
      netns: h1.name, stdin: 'ignore', label: 'h1 announcer',
    }));

    // h4: upstream for names outside .p2p
    helpers.push(new Helper('dnsmasq upstream', net!.spawn(h4, dnsmasqBin, [
      '--no-daemon', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--pid-file=', '--user=root', '--log-queries',
      '--port=53', `--listen-address=${h4.ip}`, '--bind-interfaces', `--host-record=${UPSTREAM_NAME},${UPSTREAM_IP}`, '--local=/test/',
    ], { stdio: ['ignore', 'pipe', 'pipe'] })));
    // h2: dnsmasq as the namespace's resolver, with the shipped snippet
    helpers.push(new Helper('dnsmasq resolver', net!.spawn(h2, dnsmasqBin, [
      '--no-daemon', `--conf-file=${join(repoRoot, 'packaging', 'dnsmasq', 'kadnode.conf')}`, '--no-resolv', '--no-hosts', '--pid-file=', '--user=root',
      '--log-queries', '--port=53', '--listen-address=127.0.0.1', '--bind-interfaces', `--server=${UPSTREAM_IP}`,
    ], { stdio: ['ignore', 'pipe', 'pipe'] })));

    const started = await Promise.allSettled([
      startDaemon({ args: [...common, ...peer], netns: h2.name, stdin: 'ignore', label: 'h2 (behind dnsmasq)' }),
      startDaemon({ args: [...common, ...peer, '--dns-port', '53', '--dns-server', UPSTREAM_IP], netns: h3.name, stdin: 'ignore', label: 'h3 (port 53, proxy)' }),
      startDaemon({ args: [...common, ...peer, '--nss-port', '4053'], netns: h5.name, stdin: 'ignore', label: 'h5 (NSS)' }),
      startDaemon({ args: [...common, ...peer], netns: h6.name, stdin: 'ignore', label: 'h6 (behind systemd-resolved)' }),
    ]);
    for (const s of started) if (s.status === 'fulfilled') daemons.push(s.value);
    const failures = started.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    assert.equal(failures.length, 0, failures.map((f) => String(f.reason)).join('\n\n'));
    assert.ok(daemons[3]!.stderrLines.some((l) => l === '(I) NSS: Bind to 127.0.0.1:4053'), daemons[3]!.tail());
    assert.ok(!daemons[1]!.stderrLines.some((l) => l.includes('NSS:')), 'the harness turns the NSS port off unless asked');
    for (const h of helpers) assert.ok(h.alive, `${h.label} exited:\n${h.tail()}`);
    st.diagnostic(`daemons ${daemons.map((d) => d.pid).join(' ')}; dnsmasq ${helpers.map((h) => h.child.pid).join(' ')}`);
  });

  await phase(`the DHT forms: ${NAME} resolves through every kadnode (dig, bounded)`, async (st) => {
    const t0 = performance.now();
    const targets: Array<[Host, string, number]> = [[h2, '127.0.0.1', 3535], [h3, '127.0.0.1', 53], [h5, '127.0.0.1', 3535], [h6, '127.0.0.1', 3535]];
    for (const [host, server, port] of targets) {
      let last: DigResult | undefined;
      for (let i = 0; i < 60; i++) {
        last = await dig([`@${server}`, '-p', String(port), NAME, 'A', '+tries=1', '+timeout=4'], { netns: host.name, timeoutMs: 10_000 });
        if (last.answers.some((a) => a.data === NAME_IP)) break;
        await sleep(1000);
      }
      assert.ok(last?.answers.some((a) => a.data === NAME_IP), `${host.name}: ${last?.raw}`);
    }
    st.diagnostic(`${NAME} resolved on all four hosts ${Math.round(performance.now() - t0)} ms after the daemons were ready`);
  });

  // ------------------------------------------------------------------ path a: dnsmasq

  await phase('path a: dnsmasq (server=/p2p/127.0.0.1#3535) as the resolver: getent and ping', async (st) => {
    const cold = await getent(h2, 'hosts', COLD.a);
    assert.equal(cold.code, 0, `cold ${COLD.a}: ${cold.stdout}${cold.stderr}`);
    assert.deepEqual(hostsLine(cold), [NAME_IP, COLD.a]);
    const r = await getent(h2, 'hosts', NAME);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(hostsLine(r), [NAME_IP, NAME]);
    const p = await ping(h2, NAME);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    assert.match(p.stdout, new RegExp(`PING ${NAME.replace('.', '\\.')} \\(${NAME_IP.replaceAll('.', '\\.')}\\)`));
    const other = await getent(h2, 'hosts', UPSTREAM_NAME);
    assert.deepEqual(hostsLine(other), [UPSTREAM_IP, UPSTREAM_NAME], 'other names still resolve through dnsmasq');
    const resolver = helpers.find((h) => h.label === 'dnsmasq resolver')!;
    assert.ok(resolver.lines.some((l) => l.includes(`forwarded ${NAME} to 127.0.0.1#3535`)), resolver.tail());
    const times = await latency(h2, NAME);
    const base = await latency(h2, 'localhost');
    figures.push(`path a (dnsmasq): cold ${Math.round(cold.ms)} ms; warm ${stats(times)}; getent hosts localhost ${stats(base)}`);
    st.diagnostic(figures.at(-1)!);
  });

  // ------------------------------------------------------------------ path b: kadnode on port 53

  await phase('path b: resolv.conf straight at kadnode on port 53 (proxy mode): getent and ping, also for other names', async (st) => {
    const cold = await getent(h3, 'hosts', COLD.b);
    assert.equal(cold.code, 0, `cold ${COLD.b}: ${cold.stdout}${cold.stderr}`);
    assert.deepEqual(hostsLine(cold), [NAME_IP, COLD.b]);
    const r = await getent(h3, 'hosts', NAME);
    assert.deepEqual(hostsLine(r), [NAME_IP, NAME], r.stdout + r.stderr);
    const p = await ping(h3, NAME);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    assert.match(p.stdout, new RegExp(`\\(${NAME_IP.replaceAll('.', '\\.')}\\)`));
    const other = await getent(h3, 'hosts', UPSTREAM_NAME);
    assert.deepEqual(hostsLine(other), [UPSTREAM_IP, UPSTREAM_NAME], `through the upstream: ${other.stdout}${other.stderr}`);
    const po = await ping(h3, UPSTREAM_NAME);
    assert.equal(po.code, 0, po.stdout + po.stderr);
    const upstream = helpers.find((h) => h.label === 'dnsmasq upstream')!;
    assert.ok(upstream.lines.some((l) => l.includes(`query[A] ${UPSTREAM_NAME} from ${h3.ip}`)), upstream.tail());
    assert.ok(!upstream.lines.some((l) => l.includes('.p2p')), '.p2p names never reach the upstream');
    const times = await latency(h3, NAME);
    const otherTimes = await latency(h3, UPSTREAM_NAME);
    figures.push(`path b (kadnode on :53): cold ${Math.round(cold.ms)} ms; warm ${stats(times)}; ${UPSTREAM_NAME} through the upstream ${stats(otherTimes)}`);
    st.diagnostic(figures.at(-1)!);
  });

  // ------------------------------------------------------------------ path c: NSS

  const nssSkip = (): string | false => (nssBuild ? false : 'needs make and a C compiler to build packaging/nss');
  const ldPath = (): string[] => [`LD_LIBRARY_PATH=${nssBuild}`];

  await phase('path c: NSS module (hosts: files kadnode dns), found through LD_LIBRARY_PATH: getent hosts/ahosts', async (st) => {
    const cold = await getent(h5, 'hosts', COLD.c, ldPath());
    assert.equal(cold.code, 0, `cold ${COLD.c}: ${cold.stdout}${cold.stderr}`);
    assert.deepEqual(hostsLine(cold), [NAME_IP, COLD.c]);
    const r = await getent(h5, 'hosts', NAME, ldPath());
    assert.deepEqual(hostsLine(r), [NAME_IP, NAME], r.stdout + r.stderr);
    const a = await getent(h5, 'ahostsv4', NAME, ldPath());
    assert.match(a.stdout, new RegExp(`^${NAME_IP.replaceAll('.', '\\.')}\\s+STREAM ${NAME.replace('.', '\\.')}`), a.stdout);
    const without = await getent(h5, 'hosts', NAME);
    assert.equal(without.code, 2, `without the module there is no answer (nothing on 127.0.0.1:53): ${without.stdout}`);
    const local = await getent(h5, 'hosts', 'localhost', ldPath());
    assert.equal(local.code, 0, 'files still answers first');
    const nx = await getent(h5, 'hosts', 'nosuch-name.p2p', ldPath());
    assert.equal(nx.code, 2, nx.stdout);
    const times = await latency(h5, NAME, ldPath());
    const base = await latency(h5, 'localhost', ldPath());
    figures.push(`path c (NSS): cold ${Math.round(cold.ms)} ms; warm ${stats(times)}; getent hosts localhost ${stats(base)}; nosuch-name.p2p (not found) ${Math.round(nx.ms)} ms`);
    st.diagnostic(figures.at(-1)!);
  }, { skip: nssSkip() });

  await phase('path c: NSS module installed into the system library directory (private mount namespace): ping and getent without LD_LIBRARY_PATH', async (st) => {
    const libDir = systemLibDir();
    if (!libDir) return st.skip('cannot find the directory of libnss_files.so.2');
    // an overlay visible to this command only: the module appears next to libnss_files.so.2, as installed
    const mounted = ['unshare', '-m', 'sh', '-c', `mount -t overlay overlay -o lowerdir=${nssBuild}:${libDir} ${libDir} && exec "$@"`, 'sh'];
    const probe = await exec(h5, mounted[0]!, [...mounted.slice(1), 'true']);
    if (probe.code !== 0) return st.skip(`no overlay mount here: ${probe.stderr.trim()}`);
    const p = await ping(h5, NAME, mounted);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    assert.match(p.stdout, new RegExp(`\\(${NAME_IP.replaceAll('.', '\\.')}\\)`));
    const r = await exec(h5, mounted[0]!, [...mounted.slice(1), 'getent', 'hosts', NAME]);
    assert.deepEqual(hostsLine(r), [NAME_IP, NAME], r.stdout + r.stderr);
    assert.ok(!existsSync(join(libDir, 'libnss_kadnode.so.2')), 'the host library directory is untouched');
  }, { skip: nssSkip() });

  // ------------------------------------------------------------------ path d: systemd-resolved

  await phase('path d: systemd-resolved (DNS=127.0.0.1:3535, Domains=~p2p) as the resolver: getent and ping', async (st) => {
    const etc = join(tmp.path, 'resolved-etc');
    mkdirSync(join(etc, 'resolved.conf.d'), { recursive: true });
    // no LLMNR / mDNS chatter on the bridge; everything else is the distribution's default
    writeFileSync(join(etc, 'resolved.conf'), '[Resolve]\nLLMNR=no\nMulticastDNS=no\n');
    writeFileSync(join(etc, 'resolved.conf.d', 'kadnode.conf'), readFileSync(join(repoRoot, 'packaging', 'systemd', 'resolved-kadnode.conf')));
    const script = [
      'set -e',
      'mount -t tmpfs -o mode=0755 tmpfs /run',
      'mkdir -p /run/systemd/resolve',
      'chown nobody:nogroup /run/systemd/resolve',
      `mount --bind ${etc} /etc/systemd`,
      'exec setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=+net_bind_service,+net_raw,+setpcap --ambient-caps=+net_bind_service,+net_raw,+setpcap "$0"',
    ].join('\n');
    const resolved = new Helper('systemd-resolved', net!.spawn(h6, 'unshare', ['-m', 'sh', '-c', script, resolvedBin!], { stdio: ['ignore', 'pipe', 'pipe'] }));
    helpers.push(resolved);
    let ready: DigResult | undefined;
    for (let i = 0; i < 40 && resolved.alive; i++) {
      ready = await dig(['@127.0.0.53', NAME, 'A', '+tries=1', '+timeout=2'], { netns: h6.name, timeoutMs: 5000 });
      if (ready.answers.some((a) => a.data === NAME_IP)) break;
      await sleep(250);
    }
    assert.ok(ready?.answers.some((a) => a.data === NAME_IP), `systemd-resolved does not answer ${NAME}:\n${resolved.tail()}\n${ready?.raw ?? ''}`);
    const cold = await getent(h6, 'hosts', COLD.d);
    assert.equal(cold.code, 0, `cold ${COLD.d}: ${cold.stdout}${cold.stderr}\n${resolved.tail()}`);
    assert.deepEqual(hostsLine(cold), [NAME_IP, COLD.d]);
    const r = await getent(h6, 'hosts', NAME);
    assert.deepEqual(hostsLine(r), [NAME_IP, NAME], r.stdout + r.stderr);
    const p = await ping(h6, NAME);
    assert.equal(p.code, 0, p.stdout + p.stderr);
    const times = await latency(h6, NAME);
    figures.push(`path d (systemd-resolved): cold ${Math.round(cold.ms)} ms; warm ${stats(times)}`);
    st.diagnostic(figures.at(-1)!);
  }, { skip: resolvedBin ? false : resolvedSkip || 'systemd-resolved not available' });

  // ------------------------------------------------------------------ NSS without a daemon

  await phase('path c: the daemon stopped: getent fails at once (connection refused), no hang', async (st) => {
    const nss = daemons.find((d) => d.label === 'h5 (NSS)')!;
    const stopped = await nss.stop(10_000);
    assert.equal(stopped.code, 0, nss.tail());
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await getent(h5, 'hosts', NAME, ldPath());
      assert.equal(r.code, 2, r.stdout);
      times.push(r.ms);
    }
    assert.ok(percentile(times, 50) < 1000, `getent took ${times.map(Math.round).join(', ')} ms without a daemon`);
    figures.push(`path c without a daemon: getent hosts ${NAME} fails in ${stats(times)}`);
    st.diagnostic(figures.at(-1)!);
  }, { skip: nssSkip() });

  await phase('every daemon exits 0 on SIGTERM', async () => {
    const results = await Promise.all(daemons.map((d) => d.stop(10_000)));
    const bad = results.map((r, i) => ({ r, d: daemons[i]! })).filter(({ r }) => r.code !== 0 || r.killed);
    assert.equal(bad.length, 0, bad.map(({ r, d }) => `${d.label}: ${JSON.stringify(r)}\n${d.tail()}`).join('\n\n'));
    for (const line of figures) t.diagnostic(line);
  });
});
