// The DHT node: bittorrent-dht on our own socket, with our bounded peer store and bootstrapping.
import DHT from 'bittorrent-dht';
import KRpc from 'k-rpc';
import KRpcSocket from 'k-rpc-socket';
import type { Logger } from '../log.js';
import type { PeerAddress } from '../types.js';
import { PeerStore } from './peer-store.js';
import { DhtSocket } from './socket.js';

export interface HostPort {
  host: string;
  port: number;
}

export interface DhtNodeOptions {
  port: number;
  address: string;
  /** announcements we store for others */
  storage: { maxAgeMs: number; maxTotal: number; maxPerId: number };
  /** bounded: at most this many get_peers walks at once */
  maxSearches: number;
}

/** What the resolver needs: a search that reports addresses as they arrive. */
export interface Searcher {
  search(id: Buffer, onPeer: (peer: PeerAddress) => void, signal: AbortSignal): Promise<void>;
}

/** What the announcer needs. */
export interface AnnounceTarget {
  nodeCount(): number;
  announce(id: Buffer, port: number): Promise<number>;
  onNodeAdded(listener: () => void): void;
}

export interface RoutingNode {
  id: string;
  address: string;
  port: number;
  /** ms since we last heard from it */
  age: number;
}

// A node we heard from this recently counts as good (the Mainline rule, as in KadNode).
const GOOD_NODE_AGE_MS = 15 * 60_000;
const MAX_BLOCKED = 1024;

// Re-run the self-lookup while the network forms, so early nodes learn of later ones.
const POPULATE_AFTER_MS = [2_000, 10_000, 30_000];
const BOOTSTRAP_RETRY_MAX_MS = 60_000;

export class DhtNode implements Searcher, AnnounceTarget {
  readonly socket: DhtSocket;
  readonly store: PeerStore;
  private dht: DHT | null = null;
  private rpc: ReturnType<typeof KRpc> | null = null;
  private readonly peerListeners = new Map<string, Set<(peer: PeerAddress) => void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private bootstrapPeers: HostPort[] = [];
  private activeSearches = 0;
  private readonly blocked = new Set<string>();

  constructor(private readonly log: Logger, private readonly options: DhtNodeOptions) {
    this.socket = new DhtSocket(log);
    this.socket.isBlocked = (address) => this.blocked.has(address);
    this.store = new PeerStore({ ...options.storage, maxReply: 50 });
  }

  async start(): Promise<void> {
    await this.socket.bindTo(this.options.port, this.options.address);
    const krpcSocket = KRpcSocket({ socket: this.socket, timeout: 2000 });
    this.rpc = KRpc({ krpcSocket, bootstrap: [], idLength: 20 });
    const dht = new DHT({ krpc: this.rpc, bootstrap: false });
    // bittorrent-dht keeps its stored peers in `_peers`; swap in the bounded, expiring store.
    const internals = dht as unknown as { _peers: { destroy(): void } };
    internals._peers.destroy();
    internals._peers = this.store;
    dht.on('peer', (peer: { host: string; port: number }, infoHash: Buffer) => this.onPeer(peer, infoHash));
    dht.on('warning', (err: Error) => this.log.debug(`warning: ${err.message}`));
    dht.on('error', (err: Error) => this.log.warn(`error: ${err.message}`));
    dht.setMaxListeners(0);
    this.dht = dht;
    // The socket was bound before the library existed; tell it so its bucket refresh starts.
    this.socket.emit('listening');
    const bound = this.socket.address();
    this.log.info(`Bind to ${bound.address}:${bound.port}`);
  }

  get nodeId(): Buffer {
    return this.requireDht().nodeId;
  }

  nodeCount(): number {
    return this.dht ? this.dht.nodes.count() : 0;
  }

  /** All nodes of the routing table, and those heard from within 15 minutes. */
  nodeCounts(now = Date.now()): { all: number; good: number } {
    const nodes = this.routingNodes(now);
    return { all: nodes.length, good: nodes.filter((n) => n.age < GOOD_NODE_AGE_MS).length };
  }

  routingNodes(now = Date.now()): RoutingNode[] {
    if (!this.dht) return [];
    return this.dht.nodes.toArray().map((n) => ({
      id: n.id ? n.id.toString('hex') : '',
      address: n.host,
      port: n.port,
      age: now - ((n as { seen?: number }).seen ?? 0),
    }));
  }

  /** Up to `max` good nodes, most recently heard first. */
  goodNodes(max: number): RoutingNode[] {
    return this.routingNodes()
      .filter((n) => n.age < GOOD_NODE_AGE_MS)
      .sort((a, b) => a.age - b.age)
      .slice(0, max);
  }

  /** Ping a node; it joins the routing table when it answers. */
  ping(peer: HostPort): void {
    this.requireDht().addNode({ host: peer.host, port: peer.port });
  }

  /** Keep an address out of the routing table, out of every search, and out of results. */
  block(address: string): boolean {
    if (!this.blocked.has(address) && this.blocked.size >= MAX_BLOCKED) return false;
    this.blocked.add(address);
    const dht = this.dht;
    if (dht) for (const node of dht.nodes.toArray()) if (node.host === address && node.id) dht.removeNode(node.id);
    return true;
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
    this.requireDht().on('node', listener);
  }

  /** Ping the peers now and whenever the routing table runs empty. */
  bootstrap(peers: HostPort[]): void {
    this.bootstrapPeers = peers;
    if (!this.rpc) return;
    this.rpc.bootstrap = peers;
    this.populate();
    for (const delay of POPULATE_AFTER_MS) this.later(delay, () => this.populate());
    this.retryWhileEmpty(1_000);
  }

  private retryWhileEmpty(delay: number): void {
    this.later(delay, () => {
      if (this.nodeCount() > 0 || this.bootstrapPeers.length === 0) return;
      this.log.debug('routing table empty, bootstrapping again');
      this.populate();
      this.retryWhileEmpty(Math.min(delay * 2, BOOTSTRAP_RETRY_MAX_MS));
    });
  }

  private populate(): void {
    const rpc = this.rpc;
    if (!rpc || this.dht?.destroyed) return;
    rpc.populate(rpc.id, { q: 'find_node', a: { id: rpc.id, target: rpc.id } }, (err) => {
      if (err) this.log.debug(`bootstrap: ${err.message}`);
      else this.log.debug(`bootstrap: ${this.nodeCount()} nodes known`);
    });
  }

  search(id: Buffer, onPeer: (peer: PeerAddress) => void, signal: AbortSignal): Promise<void> {
    const dht = this.requireDht();
    const key = id.toString('hex');
    let listeners = this.peerListeners.get(key);
    if (!listeners) {
      listeners = new Set();
      this.peerListeners.set(key, listeners);
    }
    listeners.add(onPeer);
    this.activeSearches++;
    return new Promise<void>((resolve) => {
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        this.activeSearches--;
        listeners.delete(onPeer);
        if (listeners.size === 0) this.peerListeners.delete(key);
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const abortWalk = dht.lookup(id, (err) => {
        if (err) this.log.debug(`search ${key}: ${err.message}`);
        finish();
      });
      const onAbort = () => {
        abortWalk();
        finish();
      };
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort);
    });
  }

  /** Walk to the id first so the announcement goes to the nodes closest to it now (not a cached table). */
  announce(id: Buffer, port: number): Promise<number> {
    const dht = this.requireDht();
    return new Promise((resolve) => {
      dht.lookup(id, () => {
        if (dht.destroyed) return resolve(0);
        dht.announce(id, port, (err, n) => {
          if (err) this.log.debug(`announce ${id.toString('hex')}: ${err.message}`);
          resolve(err ? 0 : n ?? 0);
        });
      });
    });
  }

  private onPeer(peer: { host: string; port: number }, infoHash: Buffer): void {
    if (this.blocked.has(peer.host)) return;
    const listeners = this.peerListeners.get(infoHash.toString('hex'));
    if (!listeners) return;
    const address: PeerAddress = { address: peer.host, port: peer.port, family: 4 };
    for (const listener of listeners) listener(address);
  }

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }

  private requireDht(): DHT {
    if (!this.dht) throw new Error('DHT not started');
    return this.dht;
  }

  stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const dht = this.dht;
    this.dht = null;
    if (!dht) {
      try { this.socket.close(); } catch { /* never bound */ }
      return Promise.resolve();
    }
    return new Promise((resolve) => dht.destroy(() => resolve()));
  }
}
