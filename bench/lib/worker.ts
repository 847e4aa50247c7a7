// The benchmark worker: runs inside a network namespace, driven by the bench process through JSON lines
// on stdin/stdout (one request a line, one reply a line). Two roles, same file:
//   - sim: the bulk of the DHT, plain bittorrent-dht nodes in this process, each on its own address of
//     the namespace's AnyIP range (a `local` route), with optional userspace delay on every datagram a
//     node sends, removal of nodes, and malicious nodes (fake get_peers values, impostor announcements,
//     forged AUTH replies);
//   - client: DNS queries to the daemons, timed here (not in the bench process), and /status polls.
// Everything it does is bounded; it exits when stdin closes.
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import http from 'node:http';
import { createInterface } from 'node:readline';
import DHT from 'bittorrent-dht';
import { generateKeyPair, sign } from '../../src/identity/keys.js';
import { dnsQuery, type DnsReply } from './dnsclient.js';
import { pool, rng, shuffle } from './stats.js';

// ---------------------------------------------------------------- sim: a datagram socket with delay

interface Sim {
  delayMs: number;
  jitter: number;
  random: () => number;
}

const AUTH = Buffer.from('AUTH');

/** The dgram subset k-rpc-socket uses, with a send delay and an AUTH hook. */
class SimSocket extends EventEmitter {
  private readonly udp = dgram.createSocket('udp4');
  private closed = false;
  onAuth: ((msg: Buffer, rinfo: dgram.RemoteInfo) => void) | null = null;
  sent = 0;

  constructor(private readonly sim: Sim) {
    super();
    this.udp.on('message', (msg, rinfo) => {
      if (msg.length >= 4 && msg.subarray(0, 4).equals(AUTH)) {
        this.onAuth?.(msg, rinfo);
        return;
      }
      this.emit('message', msg, rinfo);
    });
    this.udp.on('error', (err) => this.emit('error', err));
  }

  bind(port: number, host: string, cb?: () => void): void {
    this.udp.bind(port, host, () => {
      this.emit('listening');
      cb?.();
    });
  }

  send(buf: Buffer, offset: number, length: number, port: number, host: string, cb?: (err: Error | null) => void): void {
    const go = () => {
      if (this.closed) return cb?.(null);
      this.sent++;
      this.udp.send(buf, offset, length, port, host, () => cb?.(null));
    };
    const { delayMs, jitter, random } = this.sim;
    if (delayMs > 0) setTimeout(go, delayMs * (1 + jitter * (2 * random() - 1)));
    else go();
  }

  address() {
    return this.udp.address();
  }

  close(): void {
    this.closed = true;
    this.udp.close(() => this.emit('close'));
  }
}

/** The parts of bittorrent-dht (and its k-rpc) the sim reaches into. */
interface DhtInternals {
  nodeId: Buffer;
  destroyed: boolean;
  _rpc: { id: Buffer; response(peer: unknown, query: unknown, r: Record<string, unknown>, nodes?: unknown): void; nodes: { count(): number }; removeAllListeners(event: string): void };
  _generateToken(host: string): Buffer;
  _ongetpeers(query: { a: { info_hash: Buffer } }, peer: { address?: string; host?: string; port: number }): void;
  _onannouncepeer(query: unknown, peer: { address?: string; host?: string; port: number }): void;
  addNode(node: { id: Buffer; host: string; port: number }): void;
  announce(id: Buffer, port: number, cb: (err: Error | null, n?: number) => void): void;
  lookup(id: Buffer, cb: (err: Error | null) => void): () => void;
  on(event: string, fn: (...args: never[]) => void): void;
  removeListener(event: string, fn: (...args: never[]) => void): void;
  listen(port: number, host: string): void;
  once(event: string, fn: (...args: never[]) => void): void;
  destroy(cb?: () => void): void;
}

interface BulkNode {
  host: string;
  port: number;
  dht: DhtInternals;
  socket: SimSocket;
  alive: boolean;
  malicious: boolean;
}

const sim: Sim = { delayMs: 0, jitter: 0.1, random: rng(1) };
const bulk: BulkNode[] = [];
const counters = { fakeReplies: 0, authChallenges: 0, forgedReplies: 0, impostorAnnounces: 0, impostorAcks: 0 };
const attacker = generateKeyPair();
let fakeCount = 16;

function cpl(a: Buffer, b: Buffer): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]! ^ b[i]!;
    if (x === 0) {
      n += 8;
      continue;
    }
    return n + Math.clz32(x) - 24;
  }
  return n;
}

function compactPeer(host: string, port: number): Buffer {
  const buf = Buffer.alloc(6);
  host.split('.').forEach((o, i) => (buf[i] = Number(o)));
  buf.writeUInt16BE(port, 4);
  return buf;
}

/** Addresses 10.201.<64+>.<1..254> in order. */
function bulkAddress(i: number, thirdBase: number): string {
  return `10.201.${thirdBase + Math.floor(i / 254)}.${(i % 254) + 1}`;
}

async function bulkStart(args: { count: number; port: number; k: number; thirdBase: number; seed: number }) {
  if (bulk.length > 0) throw new Error('bulkStart: stop the running bulk first');
  sim.random = rng(args.seed);
  for (let i = 0; i < args.count; i++) {
    const host = bulkAddress(i, args.thirdBase);
    const socket = new SimSocket(sim);
    const dht = new DHT({ socket, bootstrap: false } as unknown as ConstructorParameters<typeof DHT>[0]) as unknown as DhtInternals;
    dht.on('error', () => undefined);
    dht.on('warning', () => undefined);
    // A full bucket makes the library ping up to 16 old contacts (seen > 10 s ago) for each new one. Real
    // remote nodes pay that on their own CPUs; 2000 of them in one process would saturate the simulator
    // (about 30 datagrams per query from a new node), so bulk nodes just keep their formed tables.
    dht._rpc.removeAllListeners('ping');
    await new Promise<void>((resolve, reject) => {
      dht.once('listening', () => resolve());
      dht.once('error', (err: Error) => reject(err));
      dht.listen(args.port, host);
    });
    const node: BulkNode = { host, port: args.port, dht, socket, alive: true, malicious: false };
    socket.onAuth = (msg, rinfo) => onAuth(node, msg, rinfo);
    bulk.push(node);
  }
  // A formed network at once: every node learns up to k others per distance bucket (the routing table
  // a long-running node would have), so no bucket overflows and no ping storm starts.
  for (const a of bulk) {
    const perBucket = new Map<number, number>();
    for (const b of shuffle(bulk, sim.random)) {
      if (a === b || !b.alive) continue;
      const d = cpl(a.dht.nodeId, b.dht.nodeId);
      const n = perBucket.get(d) ?? 0;
      if (n >= args.k) continue;
      perBucket.set(d, n + 1);
      a.dht.addNode({ id: b.dht.nodeId, host: b.host, port: b.port });
    }
  }
  const sizes = bulk.map((n) => n.dht._rpc.nodes.count()).sort((x, y) => x - y);
  return { nodes: bulk.map((n) => ({ host: n.host, port: n.port, id: n.dht.nodeId.toString('hex') })), tableMedian: sizes[Math.floor(sizes.length / 2)] };
}

function alive(): BulkNode[] {
  return bulk.filter((n) => n.alive);
}

async function bulkRemove(args: { count: number }) {
  const victims = shuffle(alive().filter((n) => !n.malicious), sim.random).slice(0, args.count);
  await Promise.all(
    victims.map(
      (n) =>
        new Promise<void>((resolve) => {
          n.alive = false;
          n.dht.destroy(() => resolve());
        }),
    ),
  );
  return { removed: victims.length, alive: alive().length };
}

async function bulkStop() {
  await Promise.all(bulk.filter((n) => n.alive).map((n) => new Promise<void>((resolve) => n.dht.destroy(() => resolve()))));
  bulk.length = 0;
  return { ok: true };
}

function bulkDelay(args: { ms: number; jitter?: number }) {
  sim.delayMs = args.ms;
  sim.jitter = args.jitter ?? 0.1;
  return { delayMs: sim.delayMs, jitter: sim.jitter };
}

function fakeValues(): Buffer[] {
  const bad = bulk.filter((n) => n.malicious && n.alive);
  const out: Buffer[] = [];
  for (let i = 0; i < fakeCount; i++) {
    // half: other malicious nodes (they answer AUTH challenges with forged replies); half: nobody
    if (i % 2 === 0 && bad.length > 0) {
      const m = bad[Math.floor(sim.random() * bad.length)]!;
      out.push(compactPeer(m.host, m.port));
    } else {
      out.push(compactPeer(`10.201.${120 + Math.floor(sim.random() * 8)}.${1 + Math.floor(sim.random() * 254)}`, 1024 + Math.floor(sim.random() * 60000)));
    }
  }
  return out;
}

function onAuth(node: BulkNode, msg: Buffer, rinfo: dgram.RemoteInfo): void {
  if (!node.malicious || msg.length !== 40) return;
  counters.authChallenges++;
  // A reply in the right format, signed with the attacker's key: it must never verify.
  const reply = Buffer.concat([AUTH, msg.subarray(4, 24), sign(msg.subarray(24, 40), attacker.secretKey)]);
  counters.forgedReplies++;
  node.socket.send(reply, 0, reply.length, rinfo.port, rinfo.address);
}

function makeMalicious(node: BulkNode): void {
  node.malicious = true;
  const dht = node.dht;
  dht._ongetpeers = (query, peer) => {
    const host = peer.address ?? peer.host ?? '';
    counters.fakeReplies++;
    dht._rpc.response(peer, query, { id: dht._rpc.id, token: dht._generateToken(host), values: fakeValues() });
  };
}

async function bulkMalicious(args: { count: number; fakes: number; impostorIds: string[]; impostorShare: number; concurrency: number }) {
  fakeCount = args.fakes;
  const chosen = shuffle(alive().filter((n) => !n.malicious), sim.random).slice(0, args.count);
  for (const n of chosen) makeMalicious(n);
  return announceImpostors(chosen, args);
}

/** Every malicious node alive announces its own address for a share of `impostorIds`. */
async function bulkImpostors(args: { impostorIds: string[]; impostorShare: number; concurrency: number }) {
  return announceImpostors(alive().filter((n) => n.malicious), args);
}

/**
 * Impostor announcements: each of `chosen` announces its own address for a share of the ids, so honest
 * nodes store and hand out impostor addresses too.
 */
async function announceImpostors(chosen: BulkNode[], args: { impostorIds: string[]; impostorShare: number; concurrency: number }) {
  const jobs: Array<{ node: BulkNode; id: Buffer }> = [];
  for (const node of chosen) {
    for (const hex of args.impostorIds) if (sim.random() < args.impostorShare) jobs.push({ node, id: Buffer.from(hex, 'hex') });
  }
  const t0 = performance.now();
  await pool(jobs, args.concurrency, (job) =>
    new Promise<void>((resolve) => {
      counters.impostorAnnounces++;
      const timer = setTimeout(resolve, 20_000);
      job.node.dht.announce(job.id, job.node.port, (err, n) => {
        clearTimeout(timer);
        if (!err) counters.impostorAcks += n ?? 0;
        resolve();
      });
    }),
  );
  return { malicious: bulk.filter((n) => n.malicious && n.alive).length, announcements: jobs.length, ms: Math.round(performance.now() - t0), counters: { ...counters } };
}

/**
 * How many of the ids a get_peers walk from random honest bulk nodes finds (first peer each), bounded;
 * and the ms to the first peer of each found one (a plain bittorrent-dht lookup, for reference).
 */
async function bulkFind(args: { ids: string[]; timeoutMs: number; concurrency: number }) {
  const honest = alive().filter((n) => !n.malicious);
  const times: number[] = [];
  const found = await pool(args.ids, args.concurrency, (hex) =>
    new Promise<boolean>((resolve) => {
      const node = honest[Math.floor(sim.random() * honest.length)]!;
      const id = Buffer.from(hex, 'hex');
      const t0 = performance.now();
      let done = false;
      const finish = (ok: boolean) => {
        if (done) return;
        done = true;
        if (ok) times.push(performance.now() - t0);
        clearTimeout(timer);
        node.dht.removeListener('peer', onPeer);
        abort();
        resolve(ok);
      };
      const onPeer = (_peer: unknown, infoHash: Buffer) => {
        if (infoHash.equals(id)) finish(true);
      };
      const timer = setTimeout(() => finish(false), args.timeoutMs);
      node.dht.on('peer', onPeer as (...a: never[]) => void);
      const abort = node.dht.lookup(id, () => finish(false));
    }),
  );
  return { found: found.filter(Boolean).length, of: args.ids.length, times };
}

function bulkStats() {
  return {
    alive: alive().length,
    malicious: bulk.filter((n) => n.malicious && n.alive).length,
    sent: bulk.reduce((a, n) => a + n.socket.sent, 0),
    counters: { ...counters },
    rssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
  };
}

/**
 * Event-loop delay of this process since the last reset (ms): how late a 10 ms timer fires, sampled
 * continuously; what the worker itself adds to every hop through a bulk node.
 */
let lagSamples: number[] = [];
let lagExpected = performance.now() + 10;
setInterval(() => {
  const now = performance.now();
  lagSamples.push(Math.max(0, now - lagExpected));
  if (lagSamples.length > 200_000) lagSamples = lagSamples.slice(-100_000);
  lagExpected = now + 10;
}, 10).unref();
function loopDelay(args: { reset?: boolean }) {
  const sorted = [...lagSamples].sort((a, b) => a - b);
  const at = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN);
  const r = { p50: at(50), p99: at(99), max: sorted.length ? sorted[sorted.length - 1]! : NaN, samples: sorted.length };
  if (args.reset) lagSamples = [];
  return r;
}

// ---------------------------------------------------------------- client: DNS and /status

export interface LookupItem {
  server: string;
  port: number;
  name: string;
  type: 'A' | 'AAAA';
  /** every acceptable address; any other address in an answer is a wrong answer */
  expect: string[];
  tag?: string;
}

export type Outcome = 'correct' | 'wrong' | 'fail';

export interface LookupResult extends LookupItem {
  first: DnsReply;
  second?: DnsReply;
  firstOutcome: Outcome;
  outcome: Outcome;
  /** from the first query to the final answer */
  ms: number;
  at: number;
}

function classify(reply: DnsReply, expect: string[]): Outcome {
  if (reply.addresses.some((a) => !expect.includes(a))) return 'wrong';
  return reply.rcode === 'NOERROR' && reply.addresses.length > 0 ? 'correct' : 'fail';
}

async function lookups(args: { items: LookupItem[]; concurrency: number; timeoutMs: number; retry: boolean; gapMs?: number }) {
  return pool(args.items, args.concurrency, async (item) => {
    const at = Date.now();
    const first = await dnsQuery(item.server, item.port, item.name, item.type, args.timeoutMs);
    const firstOutcome = classify(first, item.expect);
    let result: LookupResult = { ...item, first, firstOutcome, outcome: firstOutcome, ms: first.ms, at };
    // A stub resolver asks again after SERVFAIL or silence; the answer then often comes from the cache.
    if (args.retry && firstOutcome === 'fail') {
      const second = await dnsQuery(item.server, item.port, item.name, item.type, args.timeoutMs);
      result = { ...result, second, outcome: classify(second, item.expect), ms: first.ms + second.ms };
    }
    if (args.gapMs) await new Promise((r) => setTimeout(r, args.gapMs));
    return result;
  });
}

function httpGet(host: string, port: number, path: string, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const req = http.get({ host, port, path, timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

export interface StatusFigures {
  host: string;
  nodes: number | null;
  announcements: number | null;
  cached: number | null;
}

async function status(targets: Array<{ host: string; port: number }>): Promise<StatusFigures[]> {
  return Promise.all(
    targets.map(async (t) => {
      const body = await httpGet(t.host, t.port, '/status', 2000);
      const nodes = body ? /DHT nodes:\s*(\d+)/.exec(body) : null;
      const storage = body ? /DHT storage:\s*(\d+)/.exec(body) : null;
      const cached = body ? /Resolver:\s*(\d+) cached/.exec(body) : null;
      return { host: t.host, nodes: nodes ? Number(nodes[1]) : null, announcements: storage ? Number(storage[1]) : null, cached: cached ? Number(cached[1]) : null };
    }),
  );
}

/** Polls /status until every target knows `need` nodes (or timeoutMs); the series for a plot. */
async function waitFormed(args: { targets: Array<{ host: string; port: number }>; need: number; timeoutMs: number; intervalMs: number }) {
  const t0 = Date.now();
  const series: Array<{ at: number; counts: Array<number | null> }> = [];
  let formedAt: number | null = null;
  while (Date.now() - t0 < args.timeoutMs) {
    const at = Date.now();
    const s = await status(args.targets);
    const counts = s.map((x) => x.nodes);
    series.push({ at, counts });
    if (counts.every((c) => c !== null && c >= args.need)) {
      formedAt = at;
      break;
    }
    await new Promise((r) => setTimeout(r, Math.max(0, args.intervalMs - (Date.now() - at))));
  }
  return { formedAt, series };
}

// ---------------------------------------------------------------- RPC loop

type Handler = (args: never) => unknown;
const handlers: Record<string, Handler> = {
  bulkStart,
  bulkRemove,
  bulkStop,
  bulkDelay,
  bulkMalicious,
  bulkImpostors,
  bulkFind,
  bulkStats,
  loopDelay,
  lookups,
  status: (args: { targets: Array<{ host: string; port: number }> }) => status(args.targets),
  waitFormed,
  ping: () => ({ pid: process.pid }),
};

function reply(obj: unknown): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  let req: { id: number; cmd: string; args: unknown };
  try {
    req = JSON.parse(line) as typeof req;
  } catch {
    return;
  }
  if (req.cmd === 'exit') {
    void bulkStop().finally(() => {
      reply({ id: req.id, ok: true, result: null });
      process.exit(0);
    });
    return;
  }
  const handler = handlers[req.cmd];
  if (!handler) return reply({ id: req.id, ok: false, error: `unknown command ${req.cmd}` });
  Promise.resolve()
    .then(() => handler(req.args as never))
    .then(
      (result) => reply({ id: req.id, ok: true, result }),
      (err: Error) => reply({ id: req.id, ok: false, error: err.stack ?? err.message }),
    );
});
rl.on('close', () => process.exit(0));
reply({ id: 0, ok: true, result: { ready: true, pid: process.pid } });
