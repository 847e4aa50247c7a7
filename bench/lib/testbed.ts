// The namespace testbed shared by lookup, reliability, badnet and resilience:
//   - hosts h1..hN: one real bin/kadnode each, 10.201.0.<i>/16, DHT 6881, DNS 3535 and web 8053 on that
//     address (the client reaches them from the sim namespace);
//   - host h(N+1), "sim": the worker with the bulk of the DHT (plain bittorrent-dht nodes on
//     10.201.64.0/18, an AnyIP `local` route there; the daemons route that range via the sim host) and a
//     second worker, the client, that times DNS queries.
// Everything lives in namespaces made here (test/e2e/netns.ts) and is deleted at the end, also on
// failure and on signals (its cleanup registry). LPD and port forwarding stay off (safeDaemonArgs).
import { execFileSync } from 'node:child_process';
import { createNetwork, run, type Host, type Network } from '../../test/e2e/netns.js';
import { emptyPeerFile, kadnodeCtl, startDaemon, tempDir, type Daemon } from '../../test/e2e/harness.js';
import { startDaemonWithNodeArgs } from './loopback.js';
import type { BenchContext } from './report.js';
import { pool, rng, shuffle } from './stats.js';
import type { LookupItem, LookupResult, StatusFigures } from './worker.js';
import { WorkerHandle } from './workerctl.js';

export const DHT_PORT = 6881;
export const DNS_PORT = 3535;
export const WEB_PORT = 8053;
export const BULK_RANGE = '10.201.64.0/18';
export const BULK_THIRD_OCTET = 64;

export interface BulkNodeInfo {
  host: string;
  port: number;
  id: string;
}

export interface DaemonSpec {
  /** extra arguments (value ids, keys, peers) */
  args: string[];
}

/** null when the namespace benchmarks can run here, else why not. */
export function namespaceSkipReason(needNft = false): string | null {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'needs root for network namespaces (run `npm run bench` as root)';
  for (const cmd of needNft ? ['ip', 'nft'] : ['ip']) {
    try {
      execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'pipe' });
    } catch {
      return `needs \`${cmd}\` (npm run bench installs it as root)`;
    }
  }
  return null;
}

function ip(args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe', timeout: 10_000 });
}

export class Testbed {
  readonly daemons: Array<Daemon | undefined>;
  readonly bulk: BulkNodeInfo[] = [];
  private lossPct = 0;
  /** kadnode-ctl port on the loopback of each daemon's namespace; 0: none */
  controlPort = 0;
  private tmp = tempDir('kadnode-bench');
  readonly peerfile: string;

  private constructor(
    private readonly ctx: BenchContext,
    readonly net: Network,
    readonly hosts: Host[],
    readonly simHost: Host,
    readonly sim: WorkerHandle,
    readonly client: WorkerHandle,
  ) {
    this.daemons = hosts.map(() => undefined);
    this.peerfile = emptyPeerFile(this.tmp.path);
  }

  /** `simWorker`: another sim worker script (and its node flags) in place of lib/worker.ts. */
  static async create(ctx: BenchContext, daemonCount: number, simWorker?: { script: string; nodeArgs: string[] }): Promise<Testbed> {
    const net = createNetwork(daemonCount + 1);
    let sim: WorkerHandle | undefined;
    try {
      const simHost = net.hosts[daemonCount]!;
      const hosts = net.hosts.slice(0, daemonCount);
      ip(['-n', simHost.name, 'route', 'add', 'local', BULK_RANGE, 'dev', 'lo']);
      for (const h of hosts) ip(['-n', h.name, 'route', 'add', BULK_RANGE, 'via', simHost.ip]);
      sim = simWorker === undefined
        ? await WorkerHandle.start('sim worker', simHost.name, ['--max-old-space-size=2048'])
        : await WorkerHandle.start('sim worker', simHost.name, simWorker.nodeArgs, simWorker.script);
      const client = await WorkerHandle.start('client worker', simHost.name);
      ctx.log(`testbed: ${daemonCount} daemon namespaces + sim namespace (${net.prefix}-*)`);
      return new Testbed(ctx, net, hosts, simHost, sim, client);
    } catch (err) {
      await sim?.stop().catch(() => undefined);
      net.destroy();
      throw err;
    }
  }

  daemonIp(i: number): string {
    return this.hosts[i]!.ip;
  }

  /** Starts the bulk: `count` plain DHT nodes with formed routing tables (k per bucket). */
  async startBulk(count: number, seed = 1, k = 20): Promise<BulkNodeInfo[]> {
    if (count <= 0) return [];
    const t0 = performance.now();
    const r = await this.sim.call<{ nodes: BulkNodeInfo[]; tableMedian: number }>('bulkStart', { count, port: DHT_PORT, k, thirdBase: BULK_THIRD_OCTET, seed }, 300_000);
    this.bulk.splice(0, this.bulk.length, ...r.nodes);
    this.ctx.log(`bulk: ${count} bittorrent-dht nodes in ${Math.round(performance.now() - t0)} ms (median table ${r.tableMedian} nodes)`);
    return r.nodes;
  }

  async stopBulk(): Promise<void> {
    await this.sim.call('bulkStop', {}, 60_000);
    this.bulk.length = 0;
  }

  /** Common daemon arguments: ports on the host's address, no console, no bundled peers. */
  baseArgs(i: number): string[] {
    const addr = this.daemonIp(i);
    return [
      '--port', String(DHT_PORT),
      '--dns-port', String(DNS_PORT), '--dns-addr', addr,
      '--web-port', String(WEB_PORT), '--web-addr', addr,
      '--cmd-port', String(this.controlPort), '--cmd-disable-stdin',
      '--peerfile', this.peerfile,
    ];
  }

  /**
   * Starts daemons (indexes into hosts) with base arguments plus specs[i].args, `parallel` at a time.
   * Returns when each is ready; the times each became ready (Date.now()).
   */
  async startDaemons(indexes: number[], spec: (i: number) => string[], parallel = 4, nodeArgs: string[] = []): Promise<Map<number, number>> {
    const readyAt = new Map<number, number>();
    // every start settles before a failure is thrown, so no daemon is left starting behind our back
    const errors: Error[] = [];
    await pool(indexes, parallel, async (i) => {
      try {
        const args = [...this.baseArgs(i), ...spec(i)];
        const label = `daemon h${i + 1}`;
        const netns = this.hosts[i]!.name;
        const d = nodeArgs.length
          ? await startDaemonWithNodeArgs(nodeArgs, { args, label, netns, readyTimeoutMs: 60_000 })
          : await startDaemon({ args, netns, stdin: 'ignore', label, readyTimeoutMs: 60_000 });
        this.daemons[i] = d;
        readyAt.set(i, Date.now());
      } catch (err) {
        errors.push(err as Error);
      }
    });
    if (errors.length) throw errors[0];
    return readyAt;
  }

  runningDaemons(): number[] {
    return this.daemons.map((d, i) => (d && d.alive ? i : -1)).filter((i) => i >= 0);
  }

  /** Stops one daemon (SIGTERM, so a --cpu-prof daemon writes its profile). */
  async stopDaemon(i: number): Promise<void> {
    await this.daemons[i]?.stop(20_000);
    this.daemons[i] = undefined;
  }

  async stopDaemons(): Promise<void> {
    await Promise.all(this.daemons.map((d) => d?.stop(5000)));
    this.daemons.fill(undefined);
  }

  webTargets(indexes = this.runningDaemons()): Array<{ host: string; port: number }> {
    return indexes.map((i) => ({ host: this.daemonIp(i), port: WEB_PORT }));
  }

  status(indexes?: number[]): Promise<StatusFigures[]> {
    return this.client.call<StatusFigures[]>('status', { targets: this.webTargets(indexes) }, 30_000);
  }

  /** `kadnode-ctl ARGS` against daemon i (needs controlPort); its stdout lines, or [] on failure. */
  async ctl(i: number, args: string[]): Promise<string[]> {
    if (!this.controlPort) throw new Error('the testbed runs the daemons without a control port');
    const r = await kadnodeCtl(['-p', String(this.controlPort), ...args], { netns: this.hosts[i]!.name, timeoutMs: 10_000 });
    return r.stdout.split('\n').filter((l) => l.trim() !== '');
  }

  /** Random bulk nodes as --peer arguments. */
  bulkPeers(count: number, random: () => number): string[] {
    return shuffle(this.bulk, random)
      .slice(0, count)
      .flatMap((n) => ['--peer', `${n.host}:${n.port}`]);
  }

  lookups(items: LookupItem[], opts: { concurrency: number; retry: boolean; timeoutMs?: number }): Promise<LookupResult[]> {
    const timeoutMs = opts.timeoutMs ?? 5000;
    const bound = Math.ceil(items.length / Math.max(1, opts.concurrency)) * timeoutMs * 2 + 60_000;
    return this.client.call<LookupResult[]>('lookups', { items, concurrency: opts.concurrency, timeoutMs, retry: opts.retry }, bound);
  }

  /**
   * Packet loss on every namespace (daemons and sim): an nftables rule drops that share of the UDP
   * datagrams arriving for the DHT port (numgen random), so each datagram is lost with that chance once.
   * Counters say how many were dropped.
   */
  async setLoss(pct: number): Promise<void> {
    const perMille = Math.round(pct * 10);
    const script = [
      'table inet kbench',
      'delete table inet kbench',
      ...(perMille > 0
        ? [
            'table inet kbench {',
            '  chain input {',
            '    type filter hook input priority 0; policy accept;',
            `    udp dport ${DHT_PORT} counter`,
            `    udp dport ${DHT_PORT} numgen random mod 1000 < ${perMille} counter drop`,
            '  }',
            '}',
          ]
        : []),
      '',
    ].join('\n');
    const all = [...this.hosts, this.simHost];
    await Promise.all(
      all.map(async (h) => {
        const r = await run(h.name, 'nft', ['-f', '-'], { input: script, timeoutMs: 10_000 });
        if (r.code !== 0) throw new Error(`nft in ${h.name} failed: ${r.stderr.trim()}`);
      }),
    );
    this.lossPct = pct;
  }

  /**
   * Counts (never drops) AUTH datagrams arriving at each daemon's DHT port: replies (104-byte payload,
   * IP length 132) and challenges (40 bytes, IP length 68), payload starting with "AUTH". Resets them.
   */
  async countAuth(): Promise<void> {
    const script = [
      'table inet kbauth',
      'delete table inet kbauth',
      'table inet kbauth {',
      '  chain input {',
      '    type filter hook input priority -10; policy accept;',
      `    udp dport ${DHT_PORT} meta length 132 @th,64,32 0x41555448 counter`,
      `    udp dport ${DHT_PORT} meta length 68 @th,64,32 0x41555448 counter`,
      '  }',
      '}',
      '',
    ].join('\n');
    await Promise.all(
      this.hosts.map(async (h) => {
        const r = await run(h.name, 'nft', ['-f', '-'], { input: script, timeoutMs: 10_000 });
        if (r.code !== 0) throw new Error(`nft in ${h.name} failed: ${r.stderr.trim()}`);
      }),
    );
  }

  /** AUTH replies and challenges each daemon received since countAuth(). */
  async authCounts(): Promise<Array<{ replies: number; challenges: number }>> {
    return Promise.all(
      this.hosts.map(async (h) => {
        const r = await run(h.name, 'nft', ['list', 'table', 'inet', 'kbauth'], { timeoutMs: 10_000 });
        const counts = [...r.stdout.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
        return { replies: counts[0] ?? 0, challenges: counts[1] ?? 0 };
      }),
    );
  }

  /** Datagrams seen and dropped by the loss rules since they were set, summed over the namespaces. */
  async lossCounters(): Promise<{ seen: number; dropped: number }> {
    if (this.lossPct === 0) return { seen: 0, dropped: 0 };
    let seen = 0;
    let dropped = 0;
    for (const h of [...this.hosts, this.simHost]) {
      const r = await run(h.name, 'nft', ['list', 'table', 'inet', 'kbench'], { timeoutMs: 10_000 });
      const counts = [...r.stdout.matchAll(/counter packets (\d+)/g)].map((m) => Number(m[1]));
      seen += counts[0] ?? 0;
      dropped += counts[1] ?? 0;
    }
    return { seen, dropped };
  }

  async destroy(): Promise<void> {
    await this.stopDaemons().catch(() => undefined);
    await this.sim.stop().catch(() => undefined);
    await this.client.stop().catch(() => undefined);
    this.net.destroy();
    this.tmp.remove();
    this.ctx.log('testbed removed (namespaces deleted)');
  }
}

// ---------------------------------------------------------------- names and lookup plans

export interface NamePlan {
  /** names[d] = the names daemon d announces (with .p2p) */
  names: string[][];
}

export function plainNames(prefix: string, daemons: number, perDaemon: number): string[][] {
  return Array.from({ length: daemons }, (_, d) => Array.from({ length: perDaemon }, (_, j) => `${prefix}-d${d + 1}-n${j + 1}.p2p`));
}

export interface Pair {
  querier: number;
  owner: number;
  name: string;
}

/** Every (querier, name of another daemon) pair once, shuffled: no lookup can hit a cache filled by another. */
export function lookupPairs(names: string[][], queriers: number[], seed: number): Pair[] {
  const pairs: Pair[] = [];
  for (const q of queriers) {
    names.forEach((list, owner) => {
      if (owner === q) return;
      for (const name of list) pairs.push({ querier: q, owner, name });
    });
  }
  return shuffle(pairs, rng(seed));
}

export function lookupItem(bed: Testbed, pair: Pair, tag?: string): LookupItem {
  return { server: bed.daemonIp(pair.querier), port: DNS_PORT, name: pair.name, type: 'A', expect: [bed.daemonIp(pair.owner)], ...(tag ? { tag } : {}) };
}

export interface LookupStats {
  n: number;
  /** correct answer to the first query, percent */
  successFirstPct: number;
  /** correct answer with one retry after SERVFAIL/timeout, percent */
  successPct: number;
  wrong: number;
  /** ms to the correct answer, retry included, over the successful lookups */
  latencies: number[];
  /** ms of first queries that answered correctly */
  firstLatencies: number[];
  rcodes: Record<string, number>;
}

export function lookupStats(results: LookupResult[]): LookupStats {
  const rcodes: Record<string, number> = {};
  for (const r of results) rcodes[r.first.rcode] = (rcodes[r.first.rcode] ?? 0) + 1;
  const ok = results.filter((r) => r.outcome === 'correct');
  const okFirst = results.filter((r) => r.firstOutcome === 'correct');
  const n = results.length || 1;
  return {
    n: results.length,
    successFirstPct: (okFirst.length / n) * 100,
    successPct: (ok.length / n) * 100,
    wrong: results.filter((r) => r.firstOutcome === 'wrong' || r.outcome === 'wrong').length,
    latencies: ok.map((r) => r.ms),
    firstLatencies: okFirst.map((r) => r.first.ms),
    rcodes,
  };
}
