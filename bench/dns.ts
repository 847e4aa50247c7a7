// dns: how many queries a second kadnode answers, measured with dnsperf (Debian) for 10 s each at a
// cached name and at an own value id, next to dnsmasq serving a name from a hosts file, in the same run
// on the same loopback. Target: cached-name rate >= 0.75 x dnsmasq's (KadNode 1.x, in C, reaches 0.72).
// When missed, a second cached-name run under `node --cpu-prof` says where the time goes.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { emptyPeerFile, haveCommand, pickPorts, tempDir, type Daemon } from '../test/e2e/harness.js';
import { registerCleanup } from '../test/e2e/netns.js';
import { closedLoop, dnsQuery, type ClosedLoopResult } from './lib/dnsclient.js';
import { dnsperf, haveDnsperf, type DnsperfResult } from './lib/dnsperf.js';
import { startLoopbackDaemon, warmName } from './lib/loopback.js';
import { profilesDir } from './lib/paths.js';
import { newestProfile, summarizeProfile } from './lib/profile.js';
import type { Benchmark, BenchContext } from './lib/report.js';
import { barChart } from './lib/svg.js';
import { sleep } from './lib/stats.js';

const SECONDS = 10;
const CACHED = 'bench-cached.p2p';
const OWN = 'bench-own.p2p';
const HOSTS_NAME = 'bench-hosts.p2p';
const TARGET_RATIO = 0.75;

async function startDnsmasq(port: number, tmp: string): Promise<{ stop(): Promise<void>; command: string }> {
  // dnsmasq reads the hosts file after dropping root to `nobody`: a readable folder of its own
  chmodSync(tmp, 0o711);
  const dir = join(tmp, 'dnsmasq');
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(dir, 0o755);
  const hosts = join(dir, 'hosts');
  writeFileSync(hosts, `127.0.0.1 ${HOSTS_NAME}\n`, { mode: 0o644 });
  const args = [
    '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', `--addn-hosts=${hosts}`,
    '--listen-address=127.0.0.1', '--bind-interfaces', `--port=${port}`, `--pid-file=${join(dir, 'dnsmasq.pid')}`, '--log-facility=-',
  ];
  const child = spawn('dnsmasq', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-2000)));
  const pid = child.pid!;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const unregister = registerCleanup(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  });
  const stop = async () => {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // gone
    }
    await Promise.race([exited, sleep(5000)]);
    unregister();
  };
  for (let i = 0; i < 40; i++) {
    const r = await dnsQuery('127.0.0.1', port, HOSTS_NAME, 'A', 500);
    if (r.rcode === 'NOERROR' && r.addresses.includes('127.0.0.1')) return { stop, command: `dnsmasq ${args.join(' ')}` };
    await sleep(250);
  }
  await stop();
  throw new Error(`dnsmasq did not answer within 10 s: ${stderr}`);
}

const SOURCES = Array.from({ length: 200 }, (_, i) => `127.0.1.${i + 1}`);
const OUTSTANDING = 100;

export const dnsBench: Benchmark = {
  name: 'dns',
  title: 'DNS queries per second: kadnode (cached name, own value id) vs dnsmasq (hosts file), dnsperf 10 s each',
  async run(ctx: BenchContext) {
    if (!haveDnsperf()) return ctx.skip('needs dnsperf (Debian package dnsperf; npm run bench installs it as root)');
    if (!haveCommand('dnsmasq')) return ctx.skip('needs dnsmasq (Debian package dnsmasq-base; npm run bench installs it as root)');
    const tmp = tempDir('kadnode-bench-dns');
    const peerfile = emptyPeerFile(tmp.path);
    const [dhtA, dnsA, dhtB, dnsmasqPort] = await pickPorts(4);
    const daemons: Daemon[] = [];
    try {
      // B holds the name that A will have in its cache; A answers its own value id itself.
      const b = await startLoopbackDaemon({ label: 'peer B', dhtPort: dhtB!, dnsPort: 0, peerfile, values: [CACHED] });
      daemons.push(b);
      const startA = (nodeArgs?: string[]) => startLoopbackDaemon({ label: 'kadnode A', dhtPort: dhtA!, dnsPort: dnsA!, peerfile, peers: [dhtB!], values: [OWN], nodeArgs });
      let a = await startA();
      daemons.push(a);
      if (!(await warmName(dnsA!, CACHED, '127.0.0.1', 20_000))) throw new Error(`${CACHED} never answered through kadnode A`);
      ctx.log('cache warm; dnsmasq next');

      const dnsmasq = await startDnsmasq(dnsmasqPort!, tmp.path);
      const runs: Record<string, DnsperfResult> = {};
      const loops: Record<string, ClosedLoopResult> = {};
      const perf = (label: string, port: number, name: string) => dnsperf({ server: '127.0.0.1', port, names: [name], seconds: SECONDS, dir: tmp.path, label });
      const loop = (port: number, name: string) => closedLoop({ server: '127.0.0.1', port, names: [name], seconds: SECONDS, outstanding: OUTSTANDING, sources: SOURCES, timeoutMs: 1000 });
      try {
        runs.dnsmasq1 = await perf('dnsmasq1', dnsmasqPort!, HOSTS_NAME);
        ctx.log(`dnsperf: dnsmasq ${Math.round(runs.dnsmasq1.qps)} qps`);
        runs.cached = await perf('cached', dnsA!, CACHED);
        ctx.log(`dnsperf: kadnode cached ${Math.round(runs.cached.qps)} qps`);
        runs.own = await perf('own', dnsA!, OWN);
        ctx.log(`dnsperf: kadnode own ${Math.round(runs.own.qps)} qps`);
        runs.dnsmasq2 = await perf('dnsmasq2', dnsmasqPort!, HOSTS_NAME);
        ctx.log(`dnsperf: dnsmasq again ${Math.round(runs.dnsmasq2.qps)} qps`);
        loops.dnsmasq = await loop(dnsmasqPort!, HOSTS_NAME);
        ctx.log(`${SOURCES.length} sources: dnsmasq ${Math.round(loops.dnsmasq.qps)} qps`);
        loops.cached = await loop(dnsA!, CACHED);
        ctx.log(`${SOURCES.length} sources: kadnode cached ${Math.round(loops.cached.qps)} qps`);
        loops.own = await loop(dnsA!, OWN);
        ctx.log(`${SOURCES.length} sources: kadnode own ${Math.round(loops.own.qps)} qps`);
      } finally {
        await dnsmasq.stop();
      }
      const reference = (runs.dnsmasq1!.qps + runs.dnsmasq2!.qps) / 2;
      const rateLimited = a.stderrLines.some((l) => /Rate limit/.test(l));
      ctx.figure('dnsmasq_qps', reference, 'qps', { command: `${dnsmasq.command}; ${runs.dnsmasq1!.command} (twice: before and after kadnode, mean)` });
      ctx.figure('cached_qps', runs.cached!.qps, 'qps', { command: runs.cached!.command, note: `response codes: ${runs.cached!.rcodes}; ${runs.cached!.lost} of ${runs.cached!.sent} lost` });
      ctx.figure('own_qps', runs.own!.qps, 'qps', { command: runs.own!.command, note: `response codes: ${runs.own!.rcodes}; ${runs.own!.lost} of ${runs.own!.sent} lost` });
      const ratio = ctx.figure('cached_ratio', runs.cached!.qps / reference, 'x dnsmasq', { target: { op: '>=', value: TARGET_RATIO } });
      ctx.figure('own_ratio', runs.own!.qps / reference, 'x dnsmasq');
      ctx.figure('cached_latency_avg', runs.cached!.avgLatencyMs, 'ms', { command: runs.cached!.command });
      ctx.figure('dnsmasq_latency_avg', runs.dnsmasq1!.avgLatencyMs, 'ms', { command: runs.dnsmasq1!.command });
      const loopCommand = `closed loop (bench/lib/dnsclient.ts): ${OUTSTANDING} queries outstanding, round-robin from ${SOURCES.length} source addresses 127.0.1.1-200, 1 s loss timeout, ${SECONDS} s`;
      const rc = (r: ClosedLoopResult) => Object.entries(r.rcodes).map(([k, v]) => `${k} ${v}`).join(', ');
      ctx.figure('multisource_dnsmasq_qps', loops.dnsmasq!.qps, 'qps', { command: loopCommand, note: `${loops.dnsmasq!.lost} lost; ${rc(loops.dnsmasq!)}` });
      ctx.figure('multisource_cached_qps', loops.cached!.qps, 'qps', { command: loopCommand, note: `${loops.cached!.lost} lost; ${rc(loops.cached!)}; busiest source ${Math.round(loops.cached!.maxPerSourceQps)} qps` });
      ctx.figure('multisource_own_qps', loops.own!.qps, 'qps', { command: loopCommand, note: `${loops.own!.lost} lost; ${rc(loops.own!)}` });
      ctx.figure('multisource_cached_ratio', loops.cached!.qps / loops.dnsmasq!.qps, 'x dnsmasq', {
        command: loopCommand,
        note: 'both servers under the same generator; when the generator, not dnsmasq, is the limit (dnsmasq loses nothing and answers far less than under dnsperf), this ratio flatters kadnode',
      });
      ctx.figure('multisource_cached_vs_dnsperf_dnsmasq', loops.cached!.qps / reference, 'x dnsmasq', {
        command: loopCommand,
        note: 'kadnode without the per-source limit (200 sources) against dnsmasq under dnsperf: the closest figure to the target that the rate limit lets us measure',
      });
      ctx.record.data.dnsperf = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, { ...v, raw: undefined }]));
      ctx.record.data.multisource = loops;
      ctx.record.data.rateLimitLogged = rateLimited;
      ctx.plot('qps', 'Queries per second on loopback, 10 s each: dnsperf (one source address) and the closed loop from 200 source addresses; dashed: 0.75 x dnsmasq (dnsperf)', barChart({
        title: 'DNS queries per second (loopback)',
        yLabel: 'queries per second',
        categories: ['dnsmasq (hosts file)', 'kadnode cached name', 'kadnode own value id'],
        series: [
          { name: 'dnsperf, 1 source', values: [reference, runs.cached!.qps, runs.own!.qps] },
          { name: '200 sources', values: [loops.dnsmasq!.qps, loops.cached!.qps, loops.own!.qps] },
        ],
        targets: [{ y: reference * TARGET_RATIO, label: 'target 0.75 x dnsmasq' }],
      }));
      ctx.note(
        'dnsperf and the server share the 2 cores, so both servers are measured under the same handicap. ' +
          'kadnode is one Node.js process (one event-loop thread); dnsmasq is a single-threaded C program.',
      );
      if (rateLimited) {
        ctx.note(
          'kadnode logged its per-source rate limit during the dnsperf runs (`(W) DNS: Rate limit: 127.0.0.1 sends more than 1000 queries a second`): ' +
            'src/surfaces/rate-limit.ts allows each source address 1000 queries a second (burst 2000) and drops the rest, with no option to change it. ' +
            'dnsperf sends from one address and keeps 100 queries outstanding; every dropped query holds its slot until dnsperf\'s 5 s timeout, so the ' +
            'one-source figure is below even 1000 qps, and the target (0.75 x dnsmasq from one client) cannot be met while the limit applies to loopback. ' +
            'The multi-source closed loop spreads the same kind of load over 200 addresses (each far below the limit) and shows what the server itself can answer.',
        );
      }

      if (!ratio.met) {
        ctx.log('target missed: profiling kadnode under the multi-source load with node --cpu-prof');
        // B does not answer get_peers for its own value, so a new A finds the name only once B
        // announces it to A again: restart both, B first (it announces when A joins its table).
        await Promise.all(daemons.map((d) => d.stop(10_000)));
        daemons.length = 0;
        const dir = join(profilesDir, `dns-${Date.now()}`);
        mkdirSync(dir, { recursive: true });
        daemons.push(await startLoopbackDaemon({ label: 'peer B', dhtPort: dhtB!, dnsPort: 0, peerfile, values: [CACHED] }));
        a = await startA([`--cpu-prof`, `--cpu-prof-dir=${dir}`]);
        daemons.push(a);
        if (!(await warmName(dnsA!, CACHED, '127.0.0.1', 20_000))) throw new Error(`${CACHED} never answered through the profiled daemon`);
        const profiled = await loop(dnsA!, CACHED);
        ctx.log(`profiled run ${Math.round(profiled.qps)} qps; stopping to write the profile`);
        await a.stop(20_000);
        daemons.splice(daemons.indexOf(a), 1);
        const file = newestProfile(dir);
        if (file) {
          const summary = summarizeProfile(file);
          ctx.profile('kadnode answering a cached name at full load (200 sources)', `node --cpu-prof --cpu-prof-dir=${dir} bin/kadnode ...; ${loopCommand}`, summary);
          ctx.record.data.profile = { file, qpsUnderProfiler: profiled.qps };
          ctx.figure('profiled_cached_qps', profiled.qps, 'qps', { command: loopCommand, note: `under the profiler; profile in ${file}` });
        } else {
          ctx.note('The profiled daemon wrote no profile.');
        }
      }
    } finally {
      await Promise.all(daemons.map((d) => d.stop(10_000)));
      tmp.remove();
    }
  },
};
