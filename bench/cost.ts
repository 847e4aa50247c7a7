// cost: resident memory and CPU of one daemon on loopback, idle (one peer, its own value id), then
// holding 10k announcements stored for others, then answering 1k DNS queries a second.
// Targets: RSS <= 50 MB idle (issue 14; node itself is ~39 MB), <= 80 MB with 10k announcements. For scale, the same figure of a bare
// `node` process and of a node process that only loaded kadnode's modules.
import { execFile, spawn } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { emptyPeerFile, pickPorts, repoRoot, tempDir, type Daemon } from '../test/e2e/harness.js';
import { registerCleanup } from '../test/e2e/netns.js';
import { loadGenerate } from './lib/dnsclient.js';
import { dnsperf, haveDnsperf } from './lib/dnsperf.js';
import { storeAnnouncements } from './lib/krpc.js';
import { startLoopbackDaemon, warmName } from './lib/loopback.js';
import { rssMB, sampleProcess, type ProcessWindow } from './lib/proc.js';
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

// what a daemon at rest has loaded (sodium-native, @noble/curves, fast-xml-parser, yargs and prom-client
// load on first need: test/e2e/idle-footprint.test.ts)
const MODULE_STEPS = ['node:dgram', 'bencode', 'dns-packet', 'z32', 'bittorrent-dht', './dist/src/daemon.js', './dist/src/cli/argv.js'];

/** RSS and heap of one node process after importing each module in turn (the kadnode cli entry is not run). */
async function moduleRss(): Promise<Array<{ step: string; rssMB: number; heapMB: number }>> {
  const code = [
    'const out = [];',
    'const m = (step) => out.push({ step, rssMB: process.memoryUsage().rss / 2 ** 20, heapMB: process.memoryUsage().heapUsed / 2 ** 20 });',
    'await new Promise((r) => setTimeout(r, 1000)); m("(empty node process)");',
    `for (const s of ${JSON.stringify(MODULE_STEPS)}) { await import(s.startsWith('./') ? new URL(s, ${JSON.stringify(pathToFileURL(repoRoot + '/').href)}).href : s); await new Promise((r) => setTimeout(r, 1000)); m(s); }`,
    'console.log(JSON.stringify(out));',
  ].join('\n');
  const stdout = await new Promise<string>((resolve) =>
    execFile(process.execPath, ['--input-type=module', '-e', code], { cwd: repoRoot, timeout: 60_000, killSignal: 'SIGKILL' }, (_err, out) => resolve(String(out))),
  );
  try {
    return JSON.parse(stdout.trim().split('\n').pop() ?? '[]') as Array<{ step: string; rssMB: number; heapMB: number }>;
  } catch {
    return [];
  }
}

/** Heap bytes per announcement of kadnode's peer store alone (10k distinct ids, one peer each). */
async function peerStoreHeap(): Promise<{ heapPerEntry: number; rssDeltaMB: number } | null> {
  const url = pathToFileURL(`${repoRoot}/dist/src/dht/peer-store.js`).href;
  const code = [
    `const { PeerStore } = await import(${JSON.stringify(url)});`,
    "const { randomBytes } = await import('node:crypto');",
    'gc(); const h0 = process.memoryUsage();',
    'const s = new PeerStore({ maxAgeMs: 1800000, maxTotal: 16384, maxPerId: 128, maxReply: 50 });',
    'for (let i = 0; i < 10000; i++) { const p = Buffer.alloc(6); p.writeUInt32BE(0x7f000002 + (i % 10)); p.writeUInt16BE(10000 + (i % 10), 4); s.add(randomBytes(20).toString("hex"), p); }',
    'gc(); const h1 = process.memoryUsage();',
    'console.log(JSON.stringify({ size: s.size, heapPerEntry: (h1.heapUsed - h0.heapUsed) / 10000, rssDeltaMB: (h1.rss - h0.rss) / 2 ** 20 }));',
  ].join('\n');
  const stdout = await new Promise<string>((resolve) =>
    execFile(process.execPath, ['--expose-gc', '--input-type=module', '-e', code], { cwd: repoRoot, timeout: 60_000, killSignal: 'SIGKILL' }, (_err, out) => resolve(String(out))),
  );
  try {
    const r = JSON.parse(stdout.trim().split('\n').pop() ?? '') as { size: number; heapPerEntry: number; rssDeltaMB: number };
    return r.size === 10_000 ? r : null;
  } catch {
    return null;
  }
}

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
    const [dhtA, dnsA, webA, dhtB, cmdA, nssA] = await pickPorts(6);
    const daemons: Daemon[] = [];
    const windows: Record<string, ProcessWindow> = {};
    try {
      const bareRss = await nodeRss('setInterval(() => {}, 1000)');
      // with the V8 settings bin/kadnode makes before it loads anything
      const loadedRss = await nodeRss(`(await import('node:v8')).default.setFlagsFromString('--semi-space-growth-factor=1 --no-opt'); await import('./dist/src/daemon.js'); await import('./dist/src/cli/argv.js'); setInterval(() => {}, 1000)`);
      ctx.figure('bare_node_rss', bareRss, 'MB', { command: `node -e 'setInterval(() => {}, 1000)'`, note: 'reference: an empty Node.js process on this machine' });
      ctx.figure('modules_loaded_rss', loadedRss, 'MB', { command: `node -e "v8.setFlagsFromString('--semi-space-growth-factor=1 --no-opt'); await import('./dist/src/daemon.js'); await import('./dist/src/cli/argv.js')"`, note: "reference: a Node.js process that loaded kadnode's modules with bin/kadnode's V8 settings and did nothing" });

      const b = await startLoopbackDaemon({ label: 'peer B', dhtPort: dhtB!, dnsPort: 0, peerfile, values: [CACHED] });
      daemons.push(b);
      const a = await startLoopbackDaemon({
        label: 'kadnode A',
        dhtPort: dhtA!,
        dnsPort: dnsA!,
        webPort: webA!,
        // every surface a default start has: DNS, web, control port, NSS and the console
        cmdPort: cmdA!,
        nssPort: nssA!,
        console: true,
        peerfile,
        peers: [dhtB!],
        values: [OWN],
      });
      daemons.push(a);
      const command = `bin/kadnode --port ${dhtA} --dht-addr 127.0.0.1 --dns-port ${dnsA} --web-port ${webA} --cmd-port ${cmdA} --nss-port ${nssA} --peer 127.0.0.1:${dhtB} --value-id ${OWN} ...`;
      ctx.note('RSS is VmRSS from /proc/PID/status (average of one sample a second), CPU is user+system time from /proc/PID/stat over the window, in percent of one core.');
      if (!(await warmName(dnsA!, CACHED, '127.0.0.1', 20_000))) throw new Error(`${CACHED} never answered`);

      ctx.log(`idle: settle ${SETTLE_MS / 1000} s, then sample ${WINDOW_MS / 1000} s`);
      await sleep(SETTLE_MS);
      windows.idle = await sampleProcess(a.pid, WINDOW_MS);
      ctx.figure('idle_rss', windows.idle.rssAvgMB, 'MB', { target: { op: '<=', value: 50 }, command, note: `max ${windows.idle.rssMaxMB.toFixed(1)} MB over ${WINDOW_MS / 1000} s` });
      ctx.figure('idle_cpu', windows.idle.cpuPct, '% of a core', { command });

      ctx.log(`storing ${ANNOUNCEMENTS} announcements from ${SOURCES} loopback addresses`);
      const sources = Array.from({ length: SOURCES }, (_, i) => `127.0.0.${i + 2}`);
      const stored = await storeAnnouncements({ port: dhtA!, sources, perSource: ANNOUNCEMENTS / SOURCES, ratePerSecond: 1000, rounds: 3 });
      const storage = await storageOf(webA!);
      ctx.log(`sent ${stored.sent}, acknowledged ${stored.acked}, errors ${stored.errors}; daemon stores ${storage}`);
      ctx.figure('stored_announcements', storage, 'announcements', { note: `${stored.acked} of ${ANNOUNCEMENTS} acknowledged (${stored.sent} announce_peer sent, unacknowledged ones again, at most 3 rounds) from ${SOURCES} loopback addresses in ${(stored.ms / 1000).toFixed(1)} s` });
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

      if (windows.stored.rssAvgMB > 80) {
        const store = await peerStoreHeap();
        ctx.record.data.peerStoreHeap = store;
        if (store) {
          ctx.figure('peer_store_heap_per_announcement', store.heapPerEntry, 'bytes', {
            command: `node --expose-gc: new PeerStore (dist/src/dht/peer-store.js), 10k add() of distinct ids, heap after gc()`,
            note: `the store alone: ${(store.heapPerEntry * 10_000 / 2 ** 20).toFixed(1)} MB of V8 heap for 10k announcements, RSS +${store.rssDeltaMB.toFixed(1)} MB in that process`,
          });
        }
      }
      if (![windows.idle, windows.stored].every((w, i) => w.rssAvgMB <= [50, 80][i]!)) {
        // Memory, not CPU, is what misses: say where it goes by loading the modules one by one.
        const steps = await moduleRss();
        ctx.record.data.moduleRss = steps;
        ctx.note(
          'RSS target missed. Where the memory goes before the daemon does anything: a fresh node process imports the modules one after another ' +
            '(each row: RSS and V8 heap after that import and a 1 s pause):\n\n| after importing | RSS MB | +RSS MB | heap used MB |\n|---|---:|---:|---:|\n' +
            steps.map((x, i) => `| ${x.step} | ${x.rssMB.toFixed(1)} | ${i ? (x.rssMB - steps[i - 1]!.rssMB).toFixed(1) : '–'} | ${x.heapMB.toFixed(1)} |`).join('\n'),
        );
      }

      ctx.record.data.windows = windows;
      ctx.record.data.store = stored;
      const phases = ['idle', 'stored', 'qps'] as const;
      const labels = ['idle', `${ANNOUNCEMENTS / 1000}k stored`, `${QPS} qps`];
      ctx.plot('rss', 'Resident memory per phase (average over 30 s); dashed: targets', barChart({
        title: 'kadnode RSS (MB)',
        yLabel: 'MB',
        categories: ['bare node', 'modules loaded', ...labels],
        series: [{ name: 'RSS', values: [bareRss, loadedRss, ...phases.map((p) => windows[p]!.rssAvgMB)] }],
        targets: [{ y: 50, label: 'idle target 50 MB' }, { y: 80, label: '10k target 80 MB' }],
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
