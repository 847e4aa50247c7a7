// The mainline simulator worker: runs in the sim namespace, driven by the bench process with JSON lines
// on stdin/stdout (bench/lib/workerctl.ts). It holds the bulk of the DHT as light KRPC nodes (node.ts),
// each on its own address of the namespace's AnyIP range, over the simulated internet of net.ts, and
// keeps it moving: nodes leave and new ones join (churn), nodes look up and announce (background
// traffic that reaches the daemons too), and a few nodes announce like KadNode 1.x (jech's dht) once.
// Everything is bounded; it exits when stdin closes.
import { createInterface } from 'node:readline';
import { rng } from '../stats.js';
import { buildTables } from './build.js';
import { Simulation } from './net.js';
import { K, SimNode, type Contact } from './node.js';
import { announceTo, walk, type WalkOptions } from './walk.js';

interface StartArgs {
  nodes: number;
  routers: number;
  natShare: number;
  /** share of routing-table entries that point at nodes gone before the run */
  deadShare: number;
  lossPct: number;
  natMappingMs: number;
  seed: number;
  port: number;
  thirdBase: number;
  /** the last third octet of the AnyIP range */
  thirdLast: number;
}

let sim: Simulation | null = null;
let cfg: StartArgs;
let random: () => number = Math.random;
const live: SimNode[] = [];
const livePos = new Map<SimNode, number>();
const routers: SimNode[] = [];
let nextAddress = 0;
const timers: NodeJS.Timeout[] = [];
const activity = { joined: 0, left: 0, joinFailed: 0, lookups: 0, lookupQueries: 0, announces: 0, announceAcks: 0, ghosts: 0, toDaemons: 0 };

const BACKGROUND_WALK: WalkOptions = { q: 'get_peers', alpha: 3, tries: 1, timeoutMs: 2000, maxQueries: 40, maxMs: 15_000 };
const JECH_WALK: WalkOptions = { q: 'get_peers', alpha: 3, tries: 3, timeoutMs: 2000, maxQueries: 120, maxMs: 60_000 };

function randomId(): Buffer {
  const id = Buffer.alloc(20);
  for (let i = 0; i < 20; i += 4) id.writeUInt32BE(Math.floor(random() * 4294967296), i);
  return id;
}

function address(i: number): string | null {
  const third = cfg.thirdBase + Math.floor(i / 254);
  return third > cfg.thirdLast ? null : `10.201.${third}.${(i % 254) + 1}`;
}

function newNode(nat: boolean, pinned: boolean): SimNode | null {
  const ip = address(nextAddress++);
  if (!ip) return null;
  const c = sim!.addContact(randomId(), ip, cfg.port);
  // libtorrent keeps announced peers 45 minutes, jech's dht (KadNode 1.x / 2.x) 32
  const ttl = (random() < 0.8 ? 45 : 32) * 60_000;
  return new SimNode(sim!, c, nat, pinned, ttl, randomId());
}

function addLive(n: SimNode): void {
  livePos.set(n, live.length);
  live.push(n);
}

function removeLive(n: SimNode): void {
  const at = livePos.get(n);
  if (at === undefined) return;
  const last = live.pop()!;
  if (last !== n) {
    live[at] = last;
    livePos.set(last, at);
  }
  livePos.delete(n);
}

async function start(args: StartArgs) {
  if (sim) throw new Error('start: already started');
  cfg = args;
  random = rng(args.seed);
  sim = new Simulation({ seed: args.seed, lossPct: args.lossPct, natMappingMs: args.natMappingMs }, random);
  const t0 = performance.now();
  const nodes: SimNode[] = [];
  for (let i = 0; i < args.nodes; i++) {
    const router = i < args.routers;
    const n = newNode(!router && random() < args.natShare, router);
    if (!n) throw new Error(`start: the address range holds fewer than ${args.nodes} nodes`);
    nodes.push(n);
    if (router) routers.push(n);
  }
  // nodes that left before the run: their entries linger in the tables built below
  const ghosts = Math.round((args.nodes * args.deadShare) / (1 - args.deadShare));
  const pool: Contact[] = nodes.map((n) => n.self);
  for (let i = 0; i < ghosts; i++) {
    const g = newNode(false, false);
    if (!g) break;
    g.leave();
    pool.push(g.self);
    activity.ghosts++;
  }
  for (let i = 0; i < nodes.length; i += 250) await Promise.all(nodes.slice(i, i + 250).map((n) => sim!.bind(n)));
  for (const n of nodes) addLive(n);
  const bindMs = performance.now() - t0;
  buildTables(nodes, pool, random, (node, c) => !node.pinned || (c.node !== null && c.node.alive && !c.node.nat));
  const sizes = nodes.map((n) => n.tableSize()).sort((a, b) => a - b);
  return {
    routers: routers.map((r) => ({ host: r.self.ip, port: r.self.port })),
    alive: live.length,
    nat: live.filter((n) => n.nat).length,
    ghosts,
    tableMedian: sizes[Math.floor(sizes.length / 2)],
    bindMs: Math.round(bindMs),
    ms: Math.round(performance.now() - t0),
  };
}

function pickLive(filter: (n: SimNode) => boolean): SimNode | null {
  for (let i = 0; i < 50 && live.length; i++) {
    const n = live[Math.floor(random() * live.length)]!;
    if (filter(n)) return n;
  }
  return null;
}

async function join(): Promise<void> {
  const node = newNode(random() < cfg.natShare, false);
  if (!node) return;
  try {
    await sim!.bind(node);
  } catch {
    activity.joinFailed++;
    return;
  }
  addLive(node);
  activity.joined++;
  for (const r of routers) node.learn(r.self);
  // a new node looks itself up (its neighbours learn it), then fills its far buckets
  walk(node, node.self.id, { ...BACKGROUND_WALK, q: 'find_node' }, () => walk(node, randomId(), { ...BACKGROUND_WALK, q: 'find_node' }, () => undefined));
}

function leave(): void {
  const n = pickLive((x) => !x.pinned);
  if (!n) return;
  removeLive(n);
  sim!.unbind(n);
  activity.left++;
}

function backgroundLookup(announceShare: number): void {
  const node = pickLive((x) => !routers.includes(x));
  if (!node) return;
  const getPeers = random() < 0.7;
  const target = randomId();
  activity.lookups++;
  walk(node, target, { ...BACKGROUND_WALK, q: getPeers ? 'get_peers' : 'find_node' }, (r) => {
    activity.lookupQueries += r.queries;
    if (getPeers && random() < announceShare) {
      activity.announces++;
      announceTo(node, target, 1024 + Math.floor(random() * 60000), r.responders, 1, 2000, (acks) => (activity.announceAcks += acks));
    }
  });
}

/**
 * A query from a random node to an outside node (a daemon): what a node on the live DHT gets all the time
 * from nodes it never met, many of them behind NAT, each a candidate for its routing table.
 */
function queryOutside(c: Contact): void {
  const node = pickLive((x) => !routers.includes(x));
  if (!node) return;
  const r = random();
  const q = r < 0.6 ? { q: 'get_peers', infoHash: randomId() } : r < 0.9 ? { q: 'find_node', target: randomId() } : { q: 'ping' };
  activity.toDaemons++;
  node.query(c, q, 2000, () => undefined);
}

/**
 * Churn (a share of the nodes per minute leaves, as many join), background lookups per second, and
 * queries per second to each outside node from random nodes.
 */
function startActivity(args: { churnPerMin: number; lookupsPerS: number; announceShare: number; toDaemonsPerS: number }) {
  let churnDue = 0;
  let lookupsDue = 0;
  let outsideDue = 0;
  timers.push(
    setInterval(() => {
      outsideDue += args.toDaemonsPerS / 4;
      const outside = sim!.contacts.filter((c) => c.node === null && c.hasId);
      for (; outsideDue >= 1; outsideDue--) for (const c of outside) queryOutside(c);
    }, 250),
    setInterval(() => {
      churnDue += (live.length * args.churnPerMin) / 100 / 60;
      for (; churnDue >= 1; churnDue--) {
        leave();
        void join();
      }
    }, 1000),
    setInterval(() => {
      lookupsDue += args.lookupsPerS / 4;
      for (; lookupsDue >= 1; lookupsDue--) backgroundLookup(args.announceShare);
    }, 250),
  );
  return { ok: true };
}

interface OneXState {
  id: string;
  host: string;
  port: number;
  done: boolean;
  acks: number;
  queries: number;
  ms: number;
}
const oneX: OneXState[] = [];

/**
 * KadNode 1.x's announcement of a --value-id: jech's dht searches with up to 3 tries per node, then sends
 * announce_peer (up to 3 tries) to the 8 closest nodes that replied with a token; once per 30 minutes,
 * so once in this run. The announcing nodes are reachable and stay for the run.
 */
function announce1x(args: { ids: string[]; port: number }) {
  for (const id of args.ids) {
    const node = pickLive((x) => !x.nat && !x.pinned);
    if (!node) throw new Error('announce1x: no node left to announce from');
    node.pinned = true;
    const st: OneXState = { id, host: node.self.ip, port: args.port, done: false, acks: 0, queries: 0, ms: 0 };
    oneX.push(st);
    const t0 = performance.now();
    const hash = Buffer.from(id, 'hex');
    walk(node, hash, JECH_WALK, (r) => {
      st.queries = r.queries;
      announceTo(node, hash, args.port, r.responders, 3, 2000, (acks) => {
        Object.assign(st, { done: true, acks, ms: Math.round(performance.now() - t0) });
      });
    });
  }
  return oneX.slice(-args.ids.length).map((s) => ({ id: s.id, host: s.host, port: s.port }));
}

function xorLess(a: Contact, b: Contact, t: Buffer): number {
  for (let i = 0; i < 20; i++) {
    const d = (a.id[i]! ^ t[i]!) - (b.id[i]! ^ t[i]!);
    if (d !== 0) return d;
  }
  return 0;
}

/** Asks a daemon (from a router) whether it holds an announcement of hash by ip: get_peers, 2 tries. */
function probeDaemon(c: Contact, hash: Buffer, ip: string): Promise<boolean | null> {
  const from = routers[0]!;
  return new Promise((resolve) => {
    const attempt = (n: number) =>
      from.query(c, { q: 'get_peers', infoHash: hash }, 3000, (reply) => {
        if (!reply && n < 2) return attempt(n + 1);
        if (!reply || reply.y !== 'r') return resolve(null);
        resolve((reply.values ?? []).some((v) => v.slice(0, v.lastIndexOf(':')) === ip));
      });
    attempt(1);
  });
}

/**
 * Announce coverage: for each (id, announcer ip), the K live reachable nodes closest to the id (simulated
 * nodes not behind NAT and the running daemons), and how many of them hold the announcement.
 */
async function coverage(args: { entries: Array<{ id: string; ip: string }>; daemons: string[] }) {
  const reachable: Contact[] = live.filter((n) => !n.nat).map((n) => n.self);
  for (const ip of args.daemons) {
    const c = sim!.contactAt(ip, cfg.port);
    if (c?.hasId) reachable.push(c);
  }
  return Promise.all(
    args.entries.map(async (e) => {
      const hash = Buffer.from(e.id, 'hex');
      const closest = [...reachable].sort((a, b) => xorLess(a, b, hash)).slice(0, K);
      const held = await Promise.all(closest.map((c) => (c.node ? c.node.holds(e.id, e.ip) : probeDaemon(c, hash, e.ip))));
      let anywhere = 0;
      for (const n of live) if (n.holds(e.id, e.ip)) anywhere++;
      return { id: e.id, holders: held.filter((h) => h === true).length, daemonsAmongClosest: closest.filter((c) => !c.node).length, unprobed: held.filter((h) => h === null).length, anywhere };
    }),
  );
}

let lagSamples: number[] = [];
let lagExpected = performance.now() + 10;
setInterval(() => {
  const now = performance.now();
  lagSamples.push(Math.max(0, now - lagExpected));
  if (lagSamples.length > 100_000) lagSamples = lagSamples.slice(-50_000);
  lagExpected = now + 10;
}, 10).unref();

function quantile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

function stats(args: { resetLag?: boolean }) {
  const r = {
    alive: live.length,
    nat: live.filter((n) => n.nat).length,
    openSockets: sim?.openSockets() ?? 0,
    activity: { ...activity },
    counters: { ...sim?.counters },
    extReplyRtt: { p50: quantile(sim?.extReplyRtts ?? [], 50), p98: quantile(sim?.extReplyRtts ?? [], 98), n: sim?.extReplyRtts.length ?? 0 },
    loopLag: { p50: quantile(lagSamples, 50), p99: quantile(lagSamples, 99), max: lagSamples.length ? Math.max(...lagSamples) : NaN },
    oneX: oneX.map((s) => ({ ...s })),
    rssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
  };
  if (args.resetLag) lagSamples = [];
  return r;
}

function stop() {
  for (const t of timers) clearInterval(t);
  sim?.closeAll();
  return { ok: true };
}

type Handler = (args: never) => unknown;
const handlers: Record<string, Handler> = { start, activity: startActivity, announce1x, coverage, stats, stop, ping: () => ({ pid: process.pid }) };

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
    stop();
    reply({ id: req.id, ok: true, result: null });
    process.exit(0);
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
