// cost: resident memory and CPU of one daemon on loopback, idle (one peer, its own value id), then
// holding 10k announcements stored for others, then answering 1k DNS queries a second.
// Targets: RSS <= 60 MB idle, <= 80 MB with 10k announcements. For scale, the same figure of a bare
// `node` process and of a node process that only loaded kadnode's modules.
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { emptyPeerFile, pickPorts, repoRoot, tempDir, type Daemon } from '../test/e2e/harness.js';
import { registerCleanup } from '../test/e2e/netns.js';
import { loadGenerate } from './lib/dnsclient.js';
import { dnsperf, haveDnsperf } from './lib/dnsperf.js';
import { storeAnnouncements } from './lib/krpc.js';
import { startLoopbackDaemon, warmName } from './lib/loopback.js';
import { profilesDir } from './lib/paths.js';
import { rssMB, sampleProcess, type ProcessWindow } from './lib/proc.js';
import { newestProfile, summarizeProfile } from './lib/profile.js';
import type { Benchmark, BenchContext } from './lib/report.js';
import { barChart, lineChart } from './lib/svg.js';
import { sleep } from './lib/stats.js';

const WINDOW_MS = 30_000;
const SETTLE_MS = 10_000;
const ANNOUNCEMENTS = 10_000;
const SOURCES = 10;
const QPS = 1000;
const CACHED = 'cost-cached.p2p';
const OWN = 'cost-own.p2p';

/** RSS of a node process running `code` after it settled for 3 s. */
async function nodeRss(code: string): Promise<number> {
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: 'ignore', cwd: repoRoot });
  const pid = child.pid!;
  const unregister = registerCleanup(() => {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  });
  await sleep(3000);
  const rss = rssMB(pid);
  child.kill('SIGKILL');
  unregister();
  return rss;
}

async function storageOf(webPort: number): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${webPort}/status`, { signal: AbortSignal.timeout(5000) });
  const m = /DHT storage:\s*(\d+)/.exec(await res.text());
  return m ? Number(m[1]) : NaN;
}

export const costBench: Benchmark = {
  name: 'cost',
  title: 'RSS and CPU of one daemon: idle, with 10k stored announcements, under 1k DNS queries/s',
  async run(ctx: BenchContext) {
    const tmp = tempDir('kadnode-bench-cost');
    const peerfile = emptyPeerFile(tmp.path);
    const [dhtA, dnsA, webA, dhtB] = await pickPorts(4);
    const daemons: Daemon[] = [];
    const windows: Record<string, ProcessWindow> = {};
    try {
      const bareRss = await nodeRss('setInterval(() => {}, 1000)');
      const loadedRss = await nodeRss(`await import('./dist/src/daemon.js'); await import('yargs'); setInterval(() => {}, 1000)`);
      ctx.figure('bare_node_rss', bareRss, 'MB', { command: `node -e 'setInterval(() => {}, 1000)'`, note: 'reference: an empty Node.js process on this machine' });
      ctx.figure('modules_loaded_rss', loadedRss, 'MB', { command: `node -e "await import('./dist/src/daemon.js'); await import('yargs')"`, note: "reference: a Node.js process that loaded kadnode's modules and did nothing" });

      const b = await startLoopbackDaemon({ label: 'peer B', dhtPort: dhtB!, dnsPort: 0, peerfile, values: [CACHED] });
      daemons.push(b);
      const profileDir = join(profilesDir, `cost-${Date.now()}`);
      mkdirSync(profileDir, { recursive: true });
      const a = await startLoopbackDaemon({
        label: 'kadnode A',
        dhtPort: dhtA!,
        dnsPort: dnsA!,
        webPort: webA!,
        peerfile,
        peers: [dhtB!],
        values: [OWN],
        nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`],
      });
      daemons.push(a);
      const command = `bin/kadnode --port ${dhtA} --dht-addr 127.0.0.1 --dns-port ${dnsA} --web-port ${webA} --peer 127.0.0.1:${dhtB} --value-id ${OWN} ...`;
      ctx.note(
        `The measured daemon runs under \`node --cpu-prof\` (the profile covers all three phases); its overhead ` +
          'while idle is nil and small under load. RSS is VmRSS from /proc, CPU is user+system time over the window, in percent of one core.',
      );
      if (!(await warmName(dnsA!, CACHED, '127.0.0.1', 20_000))) throw new Error(`${CACHED} never answered`);

      ctx.log(`idle: settle ${SETTLE_MS / 1000} s, then sample ${WINDOW_MS / 1000} s`);
      await sleep(SETTLE_MS);
      windows.idle = await sampleProcess(a.pid, WINDOW_MS);
      ctx.figure('idle_rss', windows.idle.rssAvgMB, 'MB', { target: { op: '<=', value: 60 }, command, note: `max ${windows.idle.rssMaxMB.toFixed(1)} MB over ${WINDOW_MS / 1000} s` });
      ctx.figure('idle_cpu', windows.idle.cpuPct, '% of a core', { command });

      ctx.log(`storing ${ANNOUNCEMENTS} announcements from ${SOURCES} loopback addresses`);
      const sources = Array.from({ length: SOURCES }, (_, i) => `127.0.0.${i + 2}`);
      const stored = await storeAnnouncements({ port: dhtA!, sources, perSource: ANNOUNCEMENTS / SOURCES, ratePerSecond: 2000, timeoutMs: 10_000 });
      const storage = await storageOf(webA!);
      ctx.log(`sent ${stored.sent}, acknowledged ${stored.acked}, errors ${stored.errors}; daemon stores ${storage}`);
      ctx.figure('stored_announcements', storage, 'announcements', { note: `${stored.acked} of ${stored.sent} announce_peer acknowledged, sent from ${SOURCES} addresses in ${(stored.ms / 1000).toFixed(1)} s` });
      await sleep(SETTLE_MS);
      windows.stored = await sampleProcess(a.pid, WINDOW_MS);
      ctx.figure('stored_10k_rss', windows.stored.rssAvgMB, 'MB', { target: { op: '<=', value: 80 }, command, note: `max ${windows.stored.rssMaxMB.toFixed(1)} MB` });
      ctx.figure('stored_10k_cpu', windows.stored.cpuPct, '% of a core', { command });

      ctx.log(`${QPS} DNS queries a second for ${WINDOW_MS / 1000} s (cached name and own value id in turn)`);
      const sampling = sampleProcess(a.pid, WINDOW_MS);
      let load: { qps: number; answered: number; sent: number; command: string };
      if (haveDnsperf()) {
        const r = await dnsperf({ server: '127.0.0.1', port: dnsA!, names: [CACHED, OWN], seconds: WINDOW_MS / 1000, qps: QPS, dir: tmp.path, label: 'cost' });
        load = { qps: r.qps, answered: r.completed, sent: r.sent, command: r.command };
      } else {
        const r = await loadGenerate('127.0.0.1', dnsA!, [CACHED, OWN], QPS, WINDOW_MS / 1000);
        load = { qps: r.qps, answered: r.answered, sent: r.sent, command: `built-in load generator, ${QPS} qps (dnsperf not installed)` };
      }
      windows.qps = await sampling;
      ctx.figure('qps1k_answered', load.qps, 'qps', { command: load.command, note: `${load.answered} of ${load.sent} answered` });
      ctx.figure('qps1k_rss', windows.qps.rssAvgMB, 'MB', { command: load.command, note: `max ${windows.qps.rssMaxMB.toFixed(1)} MB, with the 10k announcements still stored` });
      ctx.figure('qps1k_cpu', windows.qps.cpuPct, '% of a core', { command: load.command });

      await a.stop(20_000);
      daemons.splice(daemons.indexOf(a), 1);
      const file = newestProfile(profileDir);
      if (file) ctx.profile('the measured daemon over all three phases', `node --cpu-prof --cpu-prof-dir=${profileDir} ${command}`, summarizeProfile(file));

      ctx.record.data.windows = windows;
      ctx.record.data.store = stored;
      const phases = ['idle', 'stored', 'qps'] as const;
      const labels = ['idle', `${ANNOUNCEMENTS / 1000}k stored`, `${QPS} qps`];
      ctx.plot('rss', 'Resident memory per phase (average over 30 s); dashed: targets', barChart({
        title: 'kadnode RSS (MB)',
        yLabel: 'MB',
        categories: ['bare node', 'modules loaded', ...labels],
        series: [{ name: 'RSS', values: [bareRss, loadedRss, ...phases.map((p) => windows[p]!.rssAvgMB)] }],
        targets: [{ y: 60, label: 'idle target 60 MB' }, { y: 80, label: '10k target 80 MB' }],
      }));
      let offset = 0;
      const series = phases.map((p, i) => {
        const w = windows[p]!;
        const s = { name: labels[i]!, points: w.samples.map((x) => [x.t + offset, x.cpuPct] as [number, number]), markers: true };
        offset += w.seconds + 5;
        return s;
      });
      ctx.plot('cpu', 'CPU per second of each phase (percent of one core)', lineChart({
        title: 'kadnode CPU (% of one core), one point per second',
        xLabel: 'seconds (phases placed one after another)',
        yLabel: '% of one core',
        series,
      }));
    } finally {
      await Promise.all(daemons.map((d) => d.stop(10_000)));
      tmp.remove();
    }
  },
};
