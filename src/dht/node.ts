// The DHT node: bittorrent-dht on our own socket, with our bounded peer and item stores. One node per
// address family: IPv4 speaks BEP 5 as the library does; IPv6 speaks BEP 32 (`nodes6`, 18-byte peers).
// BEP 32 keeps a routing table per family; two nodes of one daemon are linked as siblings to answer
// `want`. BEP 44 (mutable items, for PKARR): the library's get/put with our signature check and our
// bounded item store; BEP 42's `ip` field in replies tells each node its address as others see it.
// Every change to the libraries' behaviour is in library-adapter.ts (pinned to their versions), the
// routing-table upkeep (bootstrap walks, lost nodes, reconnect) in upkeep.ts, the node cache's filling in
// cache-filler.ts.
import type { Logger } from '../log.js';
import { hostPort } from '../util/host-port.js';
import type { PeerAddress } from '../types.js';
import { CacheFiller } from './cache-filler.js';
import { canonicalHost, familyOf, type Family } from './compact.js';
import { closestAnswered } from './citizen-overrides.js';
import { ExternalAddress } from './external-address.js';
import { DhtHealth, estimateSize, healthLines, normalizedDistance, WALK_NODES, type HealthReport } from './health.js';
import { DEFAULT_ITEM_LIMITS, ItemStore, signedItemOf, type ItemStoreOptions, type MutableItem } from './item-store.js';
import { SHORT_TIMEOUT_MS } from './krpc-scheduler.js';
import { compactClosest, createDhtLibrary, putToWalked, queuedQueries, walkedTo, walkForItems, type DhtLibrary, type KrpcMessage, type SiblingLink } from './library-adapter.js';
import type { HostPort } from './library-types.js';
import type { AnnounceTarget, DhtStats, OnPeer, OnReply, PutOptions, RoutingNode, Searcher } from './node-types.js';
import { PeerStore } from './peer-store.js';
import type { SeqPool } from './seq-memory.js';
import { DhtSocket } from './socket.js';
import { Upkeep } from './upkeep.js';

export type { HostPort } from './library-types.js';

export type { AnnounceTarget, DhtStats, OnPeer, OnReply, PutOptions, RoutingNode, Searcher } from './node-types.js';

export interface DhtNodeOptions {
  port: number;
  address: string;
  /** announcements we store for others */
  storage: { maxAgeMs: number; maxTotal: number; maxPerId: number };
  /** bounded: at most this many get_peers walks at once */
  maxSearches: number;
  /** 4 (BEP 5, the default) or 6 (BEP 32: udp6 socket, IPv6 only, `nodes6`, 18-byte peers) */
  family?: Family;
  /** the DHTs of one daemon share their id (BEP 32 allows it); random when left out */
  nodeId?: Buffer;
  /** BEP 32 `want` sent with find_node/get_peers/get; left out (plain BEP 5 messages) by default */
  want?: Family[];
  /** how often lost nodes and bootstrap addresses are pinged while the table is small (default 30 s) */
  reconnectMs?: number;
  /** BEP 44 items we store for others (default DEFAULT_ITEM_LIMITS: 4096 items, 4 MiB, 2 hours) */
  items?: ItemStoreOptions;
  /** ms after which an unanswered query frees its slot (default SHORT_TIMEOUT_MS; tests) */
  shortTimeoutMs?: number;
  /** named nodes the cache filler asks a second (default FILL_PER_SECOND; 0: none) */
  cacheFillPerSecond?: number;
}

// A node we heard from this recently counts as good (the Mainline rule, as in KadNode).
export const GOOD_NODE_AGE_MS = 15 * 60_000;
const MAX_BLOCKED = 1024;
// health: a traffic sample a minute (the UDP verdict), a summary in the log every half hour
const HEALTH_SAMPLE_MS = 60_000;
const HEALTH_LOG_EVERY = 30;

export class DhtNode implements Searcher, AnnounceTarget, SiblingLink {
  readonly family: Family;
  readonly socket: DhtSocket;
  readonly store: PeerStore;
  /** BEP 44 items stored for others (bittorrent-dht's `_values`) */
  readonly items: ItemStore;
  /** our address as other nodes report it (BEP 42 `ip`) */
  readonly external = new ExternalAddress();
  /** KRPC datagrams: our queries, the replies to them (errors too), queries from others (the dashboard's reply ratio and UDP hints) */
  readonly traffic = { sent: 0, replied: 0, received: 0 };
  /** queries refused because k-rpc's queue was full */
  droppedQueries = 0;
  /** nodes kept out of the routing table because another node holds their address (routingSlot) */
  refusedSameAddress = 0;
  private lib: DhtLibrary | null = null;
  private readonly upkeep: Upkeep;
  private readonly filler: CacheFiller;
  /** the daemon's DHT of the other family, if it runs one */
  private sibling: DhtNode | null = null;
  /** the running searches' callbacks, by id */
  private readonly peerListeners = new Map<string, Set<{ onPeer: OnPeer; onReply?: OnReply | undefined }>>();
  private readonly blocked = new Set<string>();
  private activeSearches = 0;
  readonly health: DhtHealth;
  private healthTimer: NodeJS.Timeout | null = null;

  constructor(private readonly log: Logger, private readonly options: DhtNodeOptions) {
    this.family = options.family ?? 4;
    this.socket = new DhtSocket(log, this.family);
    this.socket.isBlocked = (address) => this.blocked.has(address);
    this.store = new PeerStore({ ...options.storage, maxReply: 50 });
    this.items = new ItemStore(options.items ?? DEFAULT_ITEM_LIMITS);
    this.health = new DhtHealth(this.family);
    const deps = { log, family: this.family, library: () => this.lib, nodeCount: () => this.nodeCount(), routingNodes: () => this.routingNodes(), ping: (p: HostPort) => this.ping(p), isBlocked: (h: string) => this.blocked.has(h) };
    this.upkeep = new Upkeep(deps, { reconnectMs: options.reconnectMs });
    this.filler = new CacheFiller(deps, { perSecond: options.cacheFillPerSecond });
  }

  async start(): Promise<void> {
    await this.socket.bindTo(this.options.port, this.options.address);
    const { nodeId, want, shortTimeoutMs } = this.options;
    let lib: DhtLibrary;
    try {
      lib = createDhtLibrary(this.socket, {
        family: this.family, nodeId, want, shortTimeoutMs: shortTimeoutMs ?? SHORT_TIMEOUT_MS, store: this.store, items: this.items, traffic: this.traffic, external: this.external,
        sibling: () => this.sibling,
        refused: (what) => void (what === 'query' ? this.droppedQueries++ : this.refusedSameAddress++),
      });
    } catch (err) {
      this.socket.close();
      throw err;
    }
    const dht = lib.dht;
    dht.on('peer', (peer: { host: string; port: number }, infoHash: Buffer, from: { address?: string; host?: string; id?: Buffer } | null) => this.onPeer(peer, infoHash, from));
    dht.on('get_peers reply', (target: Buffer, from: { address?: string; host?: string; id?: Buffer }) => {
      const address = from.address ?? from.host;
      if (address && !this.blocked.has(address)) for (const listener of this.peerListeners.get(target.toString('hex')) ?? []) listener.onReply?.(address, from.id);
    });
    dht.on('warning', (err: Error) => this.log.debug(`warning: ${err.message}`));
    dht.on('error', (err: Error) => this.log.warn(`error: ${err.message}`));
    dht.setMaxListeners(0);
    this.lib = lib;
    this.upkeep.start();
    this.filler.start();
    let samples = 0;
    this.healthTimer = setInterval(() => {
      const { changed, verdict } = this.health.sample(this.traffic);
      const lines = healthLines(this.healthReport());
      if (changed && verdict !== 'ok') this.log.warn(lines.at(-1)!);
      if ((changed && verdict === 'ok') || ++samples % HEALTH_LOG_EVERY === 0) for (const line of lines) this.log.info(line);
    }, HEALTH_SAMPLE_MS).unref();
    // The socket was bound before the library existed; tell it so its bucket refresh starts.
    this.socket.emit('listening');
    const bound = this.socket.address();
    this.log.info(`Bind to ${hostPort(bound.address, bound.port)}`);
  }

  stop(): Promise<void> {
    this.upkeep.stop();
    this.filler.stop();
    if (this.healthTimer) clearInterval(this.healthTimer);
    const dht = this.lib?.dht;
    this.lib = null;
    if (!dht) {
      try { this.socket.close(); } catch { /* never bound */ }
      return Promise.resolve();
    }
    return new Promise((resolve) => dht.destroy(() => resolve()));
  }

  get nodeId(): Buffer {
    return this.requireLib().dht.nodeId;
  }

  /** Ping the peers now and whenever the routing table runs empty. */
  bootstrap(peers: HostPort[]): void {
    this.upkeep.bootstrap(peers);
  }

  search(id: Buffer, onPeer: OnPeer, signal: AbortSignal, onReply?: OnReply): Promise<number> {
    const dht = this.requireLib().dht;
    const key = id.toString('hex');
    let listeners = this.peerListeners.get(key);
    if (!listeners) {
      listeners = new Set();
      this.peerListeners.set(key, listeners);
    }
    const listener = { onPeer, onReply };
    listeners.add(listener);
    this.activeSearches++;
    return new Promise<number>((resolve) => {
      let finished = false;
      const finish = (answered: number) => {
        if (finished) return;
        finished = true;
        this.activeSearches--;
        listeners.delete(listener);
        if (listeners.size === 0) this.peerListeners.delete(key);
        signal.removeEventListener('abort', onAbort);
        resolve(answered);
      };
      const abortWalk = dht.lookup(id, (err, answered) => {
        if (err) this.log.debug(`search ${key}: ${err.message}`);
        else if (!finished && this.lib) this.health.recordWalk(id, closestAnswered(this.lib, id, WALK_NODES));
        finish(typeof answered === 'number' ? answered : 0);
      });
      const onAbort = () => {
        // a walk ended early (the resolver had its answer) still tells how far the closest nodes sit
        if (!finished && this.lib) this.health.recordWalk(id, closestAnswered(this.lib, id, WALK_NODES));
        abortWalk();
        finish(0);
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort);
    });
  }

  /** Walk to the id first so the announcement goes to the nodes closest to it now (not a cached table). */
  announce(id: Buffer, port: number): Promise<number> {
    const { dht, slots } = this.requireLib();
    // nobody waits for this walk: a user's lookup goes first (krpc-scheduler.ts)
    const key = id.toString('hex');
    slots.unhurried.add(key);
    return new Promise((resolve) => {
      dht.lookup(id, () => {
        slots.unhurried.delete(key);
        if (dht.destroyed) return resolve(0);
        dht.announce(id, port, (err, n) => {
          if (err) this.log.debug(`announce ${id.toString('hex')}: ${err.message}`);
          resolve(err ? 0 : n ?? 0);
        });
      });
    });
  }

  /**
   * BEP 44 get: walks to the target and reports each signed item a node answers with (salt-less, its key
   * hashing to the target), the one we store ourselves first. Checking signatures and seq is the
   * caller's business (src/pkarr/hook.ts); the library's own verify only runs on puts we store.
   */
  getMutable(target: Buffer, onItem: (item: MutableItem) => void, signal: AbortSignal): Promise<void> {
    const lib = this.requireLib();
    const local = signedItemOf(target, this.items.get(target.toString('hex')));
    if (local) onItem(local);
    this.activeSearches++;
    return new Promise<void>((resolve) => {
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        this.activeSearches--;
        signal.removeEventListener('abort', finish);
        resolve();
      };
      const onReply = (message: KrpcMessage, node: { host?: string; address?: string }): boolean => {
        if (finished) return false;
        const r = message.r;
        const host = node.host ?? node.address ?? '';
        if (!r || this.blocked.has(host)) return true;
        const found = signedItemOf(target, r);
        if (found) onItem(found);
        return true;
      };
      walkForItems(lib, target, onReply, (err) => {
        if (err) this.log.debug(`get ${target.toString('hex')}: ${err.message}`);
        finish();
      });
      if (signal.aborted) finish();
      else signal.addEventListener('abort', finish);
    });
  }

  /**
   * BEP 44 put of a signed item: walks to the target first (fresh write tokens from the closest nodes),
   * then puts. Resolves the number of nodes that stored it; rejects with the DHT's error when none did
   * (`code` 302: they hold a newer seq, 301: CAS mismatch). With `options.onItem` the items the walk
   * meets (ours first, unchecked) are reported, and `options.refuse`, asked after the walk, can stop
   * the put (it rejects with that code): the relay puts only what is newer than anything on the DHT.
   */
  putMutable(item: MutableItem, target: Buffer, options: PutOptions = {}): Promise<number> {
    const lib = this.requireLib();
    const { onItem, refuse, cas } = options;
    const local = onItem && signedItemOf(target, this.items.get(target.toString('hex')));
    if (local) onItem(local);
    const onReply = (message: KrpcMessage): boolean => {
      const found = signedItemOf(target, message.r);
      if (found) onItem?.(found);
      return true;
    };
    return new Promise((resolve, reject) => {
      walkForItems(lib, target, onItem ? onReply : null, () => {
        if (this.lib?.dht.destroyed !== false) return resolve(0);
        if (!walkedTo(lib, target)) return reject(new Error('no nodes to put to'));
        const refusal = refuse?.();
        if (refusal) return reject(Object.assign(new Error(refusal.message), { code: refusal.code }));
        putToWalked(lib, item, cas, (err, n) => (err ? reject(err) : resolve(n ?? 0)));
      });
    });
  }

  /**
   * Stores a signed item as if a node had put it (relay PUTs, our own packet), so gets find it here too;
   * false when the store refuses it (older than a seq held or seen). `pool`: see SeqMemory.
   */
  storeItem(item: MutableItem, target: Buffer, pool: SeqPool = 'held'): boolean {
    return this.items.set(target.toString('hex'), { v: item.v, k: item.k, sig: item.sig, seq: item.seq, id: this.nodeId }, pool);
  }

  /** Ping a node; it joins the routing table when it answers. */
  ping(peer: HostPort): void {
    this.requireLib().dht.addNode({ host: canonicalHost(peer.host), port: peer.port });
  }

  /** Keep an address out of the routing table, out of every search, and out of results. */
  block(address: string): boolean {
    if (!this.blocked.has(address) && this.blocked.size >= MAX_BLOCKED) return false;
    this.blocked.add(address);
    const dht = this.lib?.dht;
    if (dht) for (const node of dht.nodes.toArray()) if (node.host === address && node.id) dht.removeNode(node.id);
    return true;
  }

  stats(now = Date.now()): DhtStats {
    return {
      family: this.family,
      nodes: this.nodeCounts(now),
      searches: this.activeSearches,
      queued: this.lib ? queuedQueries(this.lib) : 0,
      dropped: this.droppedQueries,
      refusedSameAddress: this.refusedSameAddress,
      lost: this.upkeep.lostCount,
      blocked: this.blocked.size,
      traffic: { ...this.traffic },
      announcements: this.store.size,
      items: this.items.size,
      external: this.external.address,
    };
  }

  /**
   * About how many nodes this DHT has: from the last walks' closest nodes, or before any walk ended, from
   * the routing table's nodes closest to our own id (the bootstrap walked there, so they are the closest).
   */
  sizeEstimate(): number | null {
    const fromWalks = this.health.size();
    if (fromWalks !== null || !this.lib) return fromWalks;
    const own = this.lib.dht.nodeId;
    const closest = this.lib.rpc.nodes.closest(own, WALK_NODES + 1).filter((c) => c.id && !Buffer.from(c.id).equals(own));
    return closest.length < WALK_NODES ? null : estimateSize([closest.slice(0, WALK_NODES).map((c) => normalizedDistance(c.id, own))]);
  }

  /** The figures `status` and the log show (see health.ts). */
  healthReport(): HealthReport {
    return this.health.report({ traffic: this.traffic, nodes: this.routingNodes(), external: this.external.address, nodeId: this.lib?.dht.nodeId ?? Buffer.alloc(20) });
  }

  // ---- accessors other modules use (status, peer file, LPD, announcer, group)

  nodeCount(): number {
    return this.lib ? this.lib.dht.nodes.count() : 0;
  }

  /** All nodes of the routing table, and those heard from within 15 minutes. */
  nodeCounts(now = Date.now()): { all: number; good: number } {
    const nodes = this.routingNodes(now);
    return { all: nodes.length, good: nodes.filter((n) => n.age < GOOD_NODE_AGE_MS).length };
  }

  routingNodes(now = Date.now()): RoutingNode[] {
    if (!this.lib) return [];
    return this.lib.dht.nodes.toArray().map((n) => ({ id: n.id ? n.id.toString('hex') : '', address: n.host, port: n.port, age: now - ((n as { seen?: number }).seen ?? 0) }));
  }

  /** Up to `max` good nodes, most recently heard first. */
  goodNodes(max: number): RoutingNode[] {
    return this.routingNodes()
      .filter((n) => n.age < GOOD_NODE_AGE_MS)
      .sort((a, b) => a.age - b.age)
      .slice(0, max);
  }

  isBlocked(address: string): boolean {
    return this.blocked.has(address);
  }

  blockedAddresses(): string[] {
    return [...this.blocked];
  }

  searchCount(): number {
    return this.activeSearches;
  }

  boundPort(): number {
    return this.socket.address().port;
  }

  onNodeAdded(listener: () => void): void {
    this.requireLib().dht.on('node', listener);
  }

  // ---- the sibling: the daemon's DHT of the other family (BEP 32 `want`)

  /** Link the daemon's DHT of the other family (null: unlink). */
  setSibling(sibling: DhtNode | null): void {
    this.sibling = sibling && sibling !== this && sibling.family !== this.family ? sibling : null;
  }

  /** The K closest nodes to a target in this family's compact form (`nodes` / `nodes6`). */
  compactClosest(target: Buffer): Buffer {
    const lib = this.lib;
    return lib && !lib.dht.destroyed ? compactClosest(lib, this.family, target) : Buffer.alloc(0);
  }

  /** Nodes of our family that the other family's DHT learnt about (see Upkeep). */
  offerNodes(nodes: Array<HostPort & { id: Buffer }>): void {
    this.upkeep.offerNodes(nodes);
  }

  private onPeer(peer: { host: string; port: number }, infoHash: Buffer, from: { address?: string; host?: string; id?: Buffer } | null): void {
    if (this.blocked.has(peer.host)) return;
    const listeners = this.peerListeners.get(infoHash.toString('hex'));
    if (!listeners) return;
    const address: PeerAddress = { address: peer.host, port: peer.port, family: familyOf(peer.host) ?? this.family };
    // the replying node (k-rpc hands on the datagram's rinfo); none for the values of our own store
    const responder = from ? from.address ?? from.host : undefined;
    // our own store's values are told with our own id: where we sit decides what they are worth
    const responderId = from ? from.id : this.lib?.rpc.id;
    for (const listener of listeners) listener.onPeer(address, responder, responderId);
  }

  private requireLib(): DhtLibrary {
    if (!this.lib) throw new Error('DHT not started');
    return this.lib;
  }
}
