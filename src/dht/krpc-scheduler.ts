// The library adapter's overrides of k-rpc's scheduler (installed from OVERRIDES in library-adapter.ts):
// the short timeout, the walk that goes past stalled nodes, and a bounded queue.
//
// k-rpc runs at most `concurrency` queries at once (16 in the library, QUERY_SLOTS = 24 here) and queues
// the rest; a walk (get_peers, get, find_node) asks the k (20) closest nodes it knows. A query holds its
// slot until answered or until k-rpc-socket's 2 s timeout. A routing table full of vanished nodes
// therefore stalls every walk with all slots waiting on dead nodes. As libtorrent does ("short timeout"), a query unanswered after
// SHORT_TIMEOUT_MS gives up its slot and its node no longer counts among the walk's closest, so the walk
// asks the next-closest node; a late reply is still taken until the 2 s. Queries in flight, stalled ones
// included, stay below MAX_INFLIGHT. At internet round trips (issue 15) the node cache (node-cache.ts) makes
// that time-out adaptive (from measured RTTs, at most the short timeout) and starts walks near the target,
// a walk keeps at most WALK_SLOTS queries waiting (closer nodes overtake farther ones), and a freed slot
// goes to the walk someone is waiting for (unansweredWalksFirst).
import KBucket from 'k-bucket';
import { isIP } from 'node:net';
import { NODES_KEY, parseNodes } from './compact.js';
import { xorDistance } from './health.js';
import type { AdapterHost, Contact, DhtLibrary, KrpcMessage, KrpcPeer, KrpcSocketLib, QueryCallback, RoutingTable, RpcLib, Slots, Visit } from './library-types.js';
import { NodeCache } from './node-cache.js';

/** ms after which an unanswered query frees its slot (DhtNodeOptions.shortTimeoutMs) */
export const SHORT_TIMEOUT_MS = 600;
// queries in flight, stalled ones included (each ends by the 2 s timeout at the latest): with RTT-based
// time-outs about half of a walk's queries (to nodes that never answer) sit here for 2 s
const MAX_INFLIGHT = 128;
// k-rpc queues every query beyond its slots in flight, without a bound, and its walks wait while that queue
// keeps the socket busy. Pings of a full bucket's old nodes (16 for each new node heard), `import`, LPD and
// announcements all go through it: beyond this many queued, a query fails at once.
const MAX_QUEUED_QUERIES = 256;
// Pings (a full bucket pings its 16 oldest nodes for every new node heard, so anyone can cause them) may
// take at most a third of the slots, in flight and queued together: searches are never starved by them.
const MAX_PING_SLOTS = 8;
const ID_LENGTH = 20;
// cached nodes closest to its target a walk starts from, beside the routing table's k closest
const SEED_NODES = 32;
// replies with values (get_peers) or an item (get) after which a walk counts as answered and leaves free
// slots to walks that have none (unansweredWalksFirst): a plain name is taken once two storers agree
// (src/chain/plain-candidates.ts), a BEP 44 get wants the newest of several
const ANSWERED_AFTER = 2;
// slots (two thirds of QUERY_SLOTS) a walk that has its answer, or that nobody waits for, leaves free for
// walks that have none: a new lookup's first queries go out at once instead of one by one as the older
// walks' queries end (unansweredWalksFirst orders the waiting)
export const FRESH_RESERVE = 16;
/**
 * queries a walk has waiting for a reply (past the short timeout they no longer count): Kademlia's
 * alpha, wide. Without it a walk fills every free slot with its k closest, and a second lookup started
 * a moment later (a web page's names) waits for the first one's frontier, near or far from its target.
 */
export const WALK_SLOTS = 8;

const noop = () => undefined;
/** a walk's query holding one of its WALK_SLOTS: the queried node's distance to the target */
interface Flying {
  distance: Buffer;
  giveUp(): void;
}
const FARTHEST = Buffer.alloc(ID_LENGTH, 0xff);

export class QuerySlots implements Slots {
  /** queries in flight past the short timeout */
  private stalled = 0;
  /** nodes that answered lately, with their RTTs (filled by rememberAnsweringNodes) */
  readonly cache = new NodeCache();
  /** how long a query to this node may hold its slot (adaptiveTimeout measures it) */
  timeoutOf: (node: KrpcPeer) => number = () => this.shortTimeoutMs;
  /** nodes a walk to target starts from beside the routing table's (seedWalksFromCache) */
  seeds: (target: Buffer, n: number) => Contact[] = () => [];
  /** true when walk number `walk` (`found`: it had an answer) leaves a free slot to another walk (unansweredWalksFirst) */
  yields: (walk: number, found: boolean) => boolean = () => false;
  /** walks (by number, in start order; true: it had an answer) that found every slot taken, or yielded, the last time they had a query to send */
  readonly waiting = new Map<number, boolean>();
  /** targets (hex) of walks nobody waits for (an announcement's): they take slots as a walk that has its answer does */
  readonly unhurried = new Set<string>();
  private walks = 0;

  /** A number for a new walk, higher than every earlier one. */
  nextWalk(): number {
    return ++this.walks;
  }

  constructor(
    private readonly socket: KrpcSocketLib,
    private readonly rpc: RpcLib,
    private readonly shortTimeoutMs: number,
  ) {}

  active(): number {
    return this.socket.inflight - this.stalled;
  }

  /** every slot is taken, or all but `reserve` of them */
  busy(reserve = 0): boolean {
    return this.active() >= this.rpc.concurrency - reserve || this.socket.inflight >= MAX_INFLIGHT;
  }

  /**
   * Sends a query that holds a slot until answered or until its time-out (timeoutOf), when `onstall` is
   * told. The function returned gives the slot up at once (the query's reply is still taken until the 2 s).
   */
  send(node: KrpcPeer, message: KrpcMessage, cb: QueryCallback = noop, onstall?: (node: KrpcPeer) => void): () => void {
    const { socket, rpc } = this;
    // (a host name is resolved before the socket counts the query in flight)
    if (!this.shortTimeoutMs || !isIP(node.host ?? '')) {
      socket.query(node, message, cb);
      return noop;
    }
    let stalled = false;
    let answered = false;
    const giveUp = (): boolean => {
      if (answered || stalled || rpc.destroyed) return false;
      stalled = true;
      this.stalled++;
      if (timer) clearTimeout(timer);
      return true;
    };
    const freed = (): void => {
      socket.emit('update');
      socket.emit('postupdate');
    };
    let timer: NodeJS.Timeout | null = setTimeout(() => {
      timer = null;
      if (!giveUp()) return;
      onstall?.(node);
      freed();
    }, this.timeoutOf(node));
    timer.unref();
    socket.query(node, message, (err, res, peer, req) => {
      answered = true;
      if (timer) clearTimeout(timer);
      if (stalled) this.stalled--;
      cb(err, res, peer, req);
    });
    // called from inside a walk's round: the other walks hear of the free slot after it
    return () => void (giveUp() && process.nextTick(freed));
  }
}

/**
 * Library defect: k-rpc's query slots stay taken until the 2 s timeout (see the header). RPC#query is
 * replaced by one that counts only queries holding a slot and sends with the short timeout; and since
 * k-rpc drains its queue only while fewer than `concurrency` queries are in flight, stalled ones
 * included, a second drain starts queued queries whenever a slot frees.
 */
export function shortTimeout(lib: DhtLibrary): void {
  const { rpc, slots } = lib;
  rpc.query = (node, message, cb) => {
    if (slots.busy()) {
      rpc.pending.push([node, message, cb]);
      return;
    }
    if (!message.a) message.a = {};
    if (!message.a.id) message.a.id = rpc.id;
    if (node.token) message.a.token = node.token;
    slots.send(node, message, cb);
  };
  // registered after k-rpc's own drain (which starts what it can first) and before any walk's listener
  lib.socket.on('update', () => {
    while (rpc.pending.length && !slots.busy()) {
      const [node, message, cb] = rpc.pending.shift()!;
      rpc.query(node, message, cb);
    }
  });
}

/**
 * The walk (RPC#_closest, behind bittorrent-dht's lookup, get, put, announce and k-rpc's populate), a copy
 * of k-rpc's with three changes: (1) short timeout: a node that failed or stalled no longer counts among
 * the k closest, so the walk asks the next ones (a stalled node that answers late counts again); (2) BEP 32:
 * it reads its family's node list (`nodes6` on the IPv6 DHT) with our codec, where k-rpc reads IPv4
 * `nodes` with its own (byte for byte the same result for IPv4, test/unit/bep32.test.ts); (3) issue 15: at
 * most WALK_SLOTS of its queries wait for a reply at once, and a node closer than one of them is asked at
 * once, the farthest giving up its slot (measured in the mainline benchmark: a lookup's first round often
 * went to nodes that answer in a second or never, and a storer's reply naming the other storers waited
 * for them).
 */
export function walkPastStalledNodes(lib: DhtLibrary, host: AdapterHost): void {
  const { rpc, socket, slots } = lib;
  const nodesKey = NODES_KEY[host.family];
  rpc._closest = (target, message, background, visit, cb = noop) => {
    let count = 0;
    let pending = 0;
    // queries of this walk holding one of its WALK_SLOTS (sent, neither answered, past the short timeout
    // nor overtaken by a closer node), with the queried node's distance to the target
    const flying = new Set<Flying>();
    let once = true;
    let stop = false;
    const queried = new Set<string>();
    // nodes that failed or are past the short timeout
    const skip = new Set<string>();
    if (!message.a) message.a = {};
    if (!message.a.id) message.a.id = rpc.id;
    const table = new KBucket({ localNodeId: target, numberOfNodesPerKBucket: rpc.k, numberOfNodesToPing: rpc.concurrency }) as RoutingTable;
    const evt = background ? 'postupdate' : 'update';
    const walk = slots.nextWalk();
    // ANSWERED_AFTER replies with values (get_peers) or an item (get) came, or nobody waits for this walk
    let found = slots.unhurried.has(target.toString('hex'));
    let answers = 0;
    const reserve = (): number => (found ? FRESH_RESERVE : 0);
    const wait = (): void => void slots.waiting.set(walk, found);

    const kick = (): void => {
      slots.waiting.delete(walk);
      if (rpc.destroyed) return;
      if (slots.yields(walk, found)) return wait();
      const otherInflight = rpc.pending.length + socket.inflight - pending;
      if (background && slots.active() >= rpc.backgroundConcurrency && otherInflight) return;
      let closest = table.closest(target, rpc.k + skip.size);
      if (!closest.length || closest.length < rpc.bootstrap.length) {
        closest = rpc.nodes.closest(target, rpc.k + skip.size);
        if (!closest.length || closest.length < rpc.bootstrap.length) bootstrap();
      }
      let counted = 0;
      for (const peer of closest) {
        if (stop) break;
        const id = `${peer.host}:${peer.port}`;
        if (skip.has(id)) continue;
        if (++counted > rpc.k) break;
        if (queried.has(id)) continue;
        const full = flying.size >= WALK_SLOTS;
        if ((full || slots.busy(reserve())) && !overtake(peer)) {
          if (full) break;
          return wait();
        }
        if (slots.busy(reserve())) return wait();
        queried.add(id);
        ask(peer);
      }
      if (!pending) {
        slots.waiting.delete(walk);
        socket.removeListener(evt, kick);
        process.nextTick(() => cb(null, count));
      }
    };
    const bootstrap = (): void => {
      if (!once) return;
      once = false;
      for (const peer of rpc.bootstrap) ask(peer);
    };
    const ask = (peer: KrpcPeer): void => {
      pending++;
      const query: Flying = { distance: peer.id ? xorDistance(peer.id, target) : FARTHEST, giveUp: noop };
      flying.add(query);
      // a query past its time-out: this walk may ask in its place first (unless an older walk without an
      // answer waits: unansweredWalksFirst), then the others hear of the free slot
      const stalled = (node: KrpcPeer): void => {
        flying.delete(query);
        onstall(node);
        kick();
      };
      query.giveUp = slots.send(peer, message, (err, res, from, req) => (flying.delete(query), afterQuery(err, res, from, req)), stalled);
    };
    // A reply named a node closer than one the walk waits for: that query gives up its slot (its reply
    // still counts when it comes), so the walk goes on toward the target at once rather than after the
    // slow or vanished nodes of its first round.
    const overtake = (peer: KrpcPeer): boolean => {
      if (!peer.id) return false;
      const distance = xorDistance(peer.id, target);
      let farthest: Flying | undefined;
      for (const query of flying) if (!farthest || Buffer.compare(query.distance, farthest.distance) > 0) farthest = query;
      if (!farthest || Buffer.compare(distance, farthest.distance) >= 0) return false;
      flying.delete(farthest);
      farthest.giveUp();
      return true;
    };
    const onstall = (peer: KrpcPeer): void => void skip.add(`${peer.host}:${peer.port}`);
    const add = (node: Contact): void => {
      if (!node.id.equals(rpc.id)) table.add(node);
    };
    const afterQuery: QueryCallback = (err, res, peer) => {
      pending--;
      if (peer) {
        const key = `${peer.address ?? peer.host}:${peer.port}`;
        queried.add(key); // need this for bootstrap nodes
        if (err) skip.add(key);
        else skip.delete(key); // a late reply: the node counts again
      }
      if (peer?.id && rpc.nodes.get(peer.id) && err && (err.code === 'EUNEXPECTEDNODE' || err.code === 'ETIMEDOUT')) rpc.nodes.remove(peer.id);
      const r = res?.r;
      if (!r) return kick();
      if (!err && Buffer.isBuffer(r.id) && r.id.length === ID_LENGTH) {
        count++;
        add({ id: r.id, port: peer!.port, host: (peer!.host || peer!.address)!, distance: 0 });
      }
      const list = r[nodesKey];
      if (list) for (const node of parseNodes(list as Uint8Array, ID_LENGTH, host.family)) add(node);
      if ((r.values || r.v) && ++answers >= ANSWERED_AFTER) found = true;
      if (visit && (visit as Visit)(res!, peer!) === false) stop = true;
      kick();
    };

    // seedWalksFromCache: the walk's table starts with the routing table's k closest and the cached ones
    const seeds = slots.seeds(target, SEED_NODES);
    if (seeds.length) for (const node of [...rpc.nodes.closest(target, rpc.k), ...seeds]) add(node);
    socket.on(evt, kick);
    kick();
  };
}

/**
 * Library defect: k-rpc's queue has no bound. At most MAX_QUEUED_QUERIES wait; beyond that a query fails
 * at once. Pings take at most MAX_PING_SLOTS slots, in flight and queued. Wraps shortTimeout's query.
 */
export function boundQueryQueue(lib: DhtLibrary, host: AdapterHost): void {
  const { rpc, slots } = lib;
  const enqueue = rpc.query.bind(rpc);
  rpc.query = (node, message, cb) => {
    const busy = message.q === 'ping' ? slots.active() + rpc.pending.length >= MAX_PING_SLOTS : rpc.pending.length >= MAX_QUEUED_QUERIES;
    if (!busy) return enqueue(node, message, cb);
    host.refused('query');
    // A refused ping of a node in the table (bucket upkeep) must not count as a failed one: bittorrent-dht
    // would drop that node as dead. Without an answer its check simply ends there and the node stays.
    if (message.q === 'ping' && node.id) return;
    process.nextTick(() => cb?.(new Error('too many queries queued')));
  };
}

/**
 * Issue 15: the node cache learns, from every query of ours (walks, pings, announcements), which nodes
 * answer and how fast: a reply with a valid id records the node and its RTT, and the nodes it names (its
 * family's list) as heard of; a time-out removes the node.
 */
export function rememberAnsweringNodes(lib: DhtLibrary, host: AdapterHost): void {
  const { socket, slots } = lib;
  const nodesKey = NODES_KEY[host.family];
  const ask = socket.query.bind(socket);
  socket.query = (peer, message, cb) => {
    const sent = performance.now();
    return ask(peer, message, (err, res, from, req) => {
      const address = from?.address ?? from?.host ?? peer.address ?? peer.host;
      const id = res?.r?.id;
      if (address) {
        if (!err && Buffer.isBuffer(id)) {
          slots.cache.answered(id, address, from?.port ?? peer.port, performance.now() - sent);
          const list = res?.r?.[nodesKey];
          if (list instanceof Uint8Array) for (const node of parseNodes(list, ID_LENGTH, host.family).slice(0, 16)) slots.cache.heardOf(node.id, node.host, node.port);
        } else if (err?.code === 'ETIMEDOUT') slots.cache.failed(address, peer.port);
      }
      cb?.(err, res, from, req);
    });
  };
}

/**
 * Issue 15: a query gives up its slot after a time-out measured from RTTs (the node's smoothed RTT + 4
 * variations, else the 80th percentile of recent replies), bounded by the short timeout: on the live DHT
 * half the queries never get a reply, and a fixed 600 ms makes each of them cost that long.
 */
export function adaptiveTimeout(lib: DhtLibrary, host: AdapterHost): void {
  const { slots } = lib;
  slots.timeoutOf = (node) => slots.cache.timeoutFor(node.host ?? node.address, node.port, host.shortTimeoutMs);
}

/**
 * Issue 15: a walk starts from the SEED_NODES cached nodes closest to its target (those heard of in
 * replies too) beside the routing table's k closest: the routing table holds 20 nodes per bucket, mostly far from any one target, while a
 * warm cache holds nodes near it (often the ones storing it), so a lookup takes one or two round trips.
 */
export function seedWalksFromCache(lib: DhtLibrary): void {
  const { slots } = lib;
  slots.seeds = (target, n) => slots.cache.closest(target, n, true);
}

/**
 * Issue 15: when a slot frees, a walk waiting for one that has no answer yet goes first, the oldest of
 * them first (the lookup that has waited longest); then the younger of those that have one. A walk goes
 * on after its answer (for more addresses, the closest nodes, write tokens) for up to seconds at internet
 * round trips; k-rpc hands freed slots to walks in start order, so each new lookup, the one a user waits
 * for, queued behind the tails of older ones (measured: first query sent up to 4 s after the walk began).
 * Handing them to the youngest walk instead made a lookup that had not found its answer yet lose its
 * slots to every lookup started after it (the mainline benchmark's slowest lookups).
 */
export function unansweredWalksFirst(lib: DhtLibrary): void {
  const { slots } = lib;
  slots.yields = (walk, found) => {
    for (const [other, otherFound] of slots.waiting) if (found ? !otherFound || other > walk : !otherFound && other < walk) return true;
    return false;
  };
}
