// The DHT node: bittorrent-dht on our own socket, with our bounded peer store and bootstrapping.
// One node per address family: IPv4 speaks BEP 5 as the library does; IPv6 speaks BEP 32 (`nodes6`,
// 18-byte peers) through the codec hooks that patches/ adds to k-rpc and bittorrent-dht. BEP 32 keeps
// a routing table per family; two nodes of one daemon are linked as siblings to answer `want`.
// BEP 44 (mutable items, for PKARR): the library's get/put with our signature check and our bounded
// item store; BEP 42's `ip` field in replies tells each node its address as others see it.
import DHT from 'bittorrent-dht';
import KRpc from 'k-rpc';
import KRpcSocket from 'k-rpc-socket';
import type { Logger } from '../log.js';
import type { PeerAddress } from '../types.js';
import { createHash } from 'node:crypto';
import { BlockList } from 'node:net';
import { randomBytes } from '../identity/keys.js';
import { canonicalHost, decodePeer, decodePeers, encodeNodes, encodePeer, familyOf, libraryCodec, NODES_KEY, parseNodes, REPLY_NODES, WANT, type Family } from './compact.js';
import { ExternalAddress } from './external-address.js';
import { DEFAULT_ITEM_LIMITS, ItemStore, signedItemOf, verifyBep44, type ItemStoreOptions, type MutableItem } from './item-store.js';
import { PeerStore } from './peer-store.js';
import type { SeqPool } from './seq-memory.js';
import { DhtSocket } from './socket.js';

export interface HostPort {
  host: string;
  port: number;
}

/** BEP 44 put options (see putMutable). */
export interface PutOptions {
  /** BEP 44 `cas`: a node holding another seq for the key refuses with 301 */
  cas?: number;
  onItem?: (item: MutableItem) => void;
  refuse?: () => { code: 301 | 302; message: string } | null;
}

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
}

/**
 * Reports one address a search found, with the IP of the DHT node whose reply held it (undefined: our
 * own store), so a caller can bound what one responder may make it do.
 */
export type OnPeer = (peer: PeerAddress, from?: string) => void;

/** What the resolver needs: a search that reports addresses as they arrive. */
export interface Searcher {
  /** resolves when the walk ends, with how many nodes answered it (0: the DHT could not be reached) */
  search(id: Buffer, onPeer: OnPeer, signal: AbortSignal): Promise<number>;
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
export const GOOD_NODE_AGE_MS = 15 * 60_000;
const MAX_BLOCKED = 1024;
const ID_LENGTH = 20;

// Nodes of our family named in the sibling DHT's replies (BEP 32 `want`) are pinged while our table is
// small: a few per reply, each address once.
const OFFER_BELOW_NODES = 32;
const OFFER_PER_REPLY = 4;
const MAX_OFFERED = 4096;
// k-rpc queues every query beyond its 16 in flight, without a bound, and its walks wait while that queue
// keeps the socket busy. Pings of a full bucket's old nodes (16 for each new node heard), `import`, LPD
// and announcements all go through it: beyond this many queued, a query fails at once.
const MAX_QUEUED_QUERIES = 256;
// Pings (a full bucket pings its 16 oldest nodes for every new node heard, so anyone can cause them) may
// take at most half of k-rpc's 16 slots, in flight and queued together: searches are never starved by them.
const MAX_PING_SLOTS = 8;
// Nodes that left the routing table (timed out: a link down, a network split in two) are pinged again,
// a few every RECONNECT_MS while the table is small, together with the bootstrap addresses: otherwise two
// halves of a network that lost each other never meet again (nothing else looks for nodes we dropped).
const MAX_LOST = 256;
const RECONNECT_MS = 30_000;
const RECONNECT_PER_ROUND = 8;
// KRPC: a query times out after 2 s (the socket's timeout), but one unanswered after SHORT_TIMEOUT_MS
// gives up its slot of k-rpc's 16 and no longer counts among a walk's closest nodes, so the walk asks the
// next-closest node (libtorrent's "short timeout"); a late reply is still taken until the 2 s. Without it
// a walk through a routing table full of vanished nodes stalls with all 16 slots waiting on dead nodes.
// Queries in flight, the stalled ones included, stay below MAX_INFLIGHT. (patches/k-rpc)
const KRPC_TIMEOUT_MS = 2000;
export const SHORT_TIMEOUT_MS = 600;
const MAX_INFLIGHT = 64;
/** values in one get_peers reply that also carries the K closest nodes: it must fit one datagram (1232 bytes with IPv6) */
const REPLY_VALUES: Record<Family, number> = { 4: 50, 6: 32 };

// Networks where several DHT nodes may share one address (hosts of a LAN or a test network, containers
// behind one NAT that reach each other directly). Elsewhere one address (IPv6: one /64) is one node in
// our routing table, as libtorrent's restrict_routing_ips: otherwise one host could fill the buckets
// near an id with made-up ids and cut it off from the honest nodes.
const SHARED_ADDRESSES = new BlockList();
for (const [net, bits] of [['127.0.0.0', 8], ['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['169.254.0.0', 16], ['100.64.0.0', 10]] as const) SHARED_ADDRESSES.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['::1', 128], ['fc00::', 7], ['fe80::', 10]] as const) SHARED_ADDRESSES.addSubnet(net, bits, 'ipv6');

/** The routing-table slot an address takes (the address; an IPv6 address's /64), or null where nodes may share one. */
export function routingSlot(host: string): string | null {
  const family = familyOf(host);
  if (family === null) return null;
  const canonical = canonicalHost(host);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(canonical);
  if (mapped) return routingSlot(mapped[1]!);
  if (SHARED_ADDRESSES.check(canonical, family === 4 ? 'ipv4' : 'ipv6')) return null;
  if (family === 4) return canonical;
  return encodePeer(canonical, 0).subarray(0, 8).toString('hex');
}

/** The parts of k-rpc / k-rpc-socket this file reaches into. */
interface KrpcMessage {
  q?: unknown;
  a?: Record<string, unknown>;
  r?: Record<string, unknown>;
}
type QueryCallback = (err: Error | null, res?: unknown, peer?: unknown) => void;
interface KrpcSocketInternals {
  query(peer: HostPort, message: KrpcMessage, cb?: QueryCallback): number | undefined;
  on(event: 'response' | 'query', listener: (message: KrpcMessage) => void): void;
  response(peer: KrpcPeer, query: { t: unknown }, response: Record<string, unknown>, cb?: unknown): void;
  send(peer: KrpcPeer, message: Record<string, unknown>, cb?: unknown): void;
}
type KrpcPeer = { address?: string; host?: string; port: number };
/** bittorrent-dht's BEP 44 internals: the walk that collects write tokens, and put without its 999-byte check. */
interface DhtInternals {
  _closest(target: Buffer, message: KrpcMessage, onReply: ((message: KrpcMessage, node: { host?: string; address?: string }) => boolean) | null, cb: (err: Error | null, n?: number) => void): void;
  _put(opts: { k: Buffer; seq: number; sig: Buffer; v: Buffer; cas?: number }, cb: (err: (Error & { code?: unknown }) | null, key?: Buffer, n?: number) => void): void;
  _values: unknown;
  _tables: { get(key: string): unknown };
  _onput(query: KrpcMessage, peer: KrpcPeer): void;
  _validateToken(host: string, token: Uint8Array): boolean;
  _generateToken(host: string): Buffer;
  _ongetpeers(query: KrpcMessage, peer: KrpcPeer): void;
  _rpc: { response(peer: KrpcPeer, query: KrpcMessage, response: Record<string, unknown>): void; error(peer: KrpcPeer, query: KrpcMessage, error: [number, string]): void };
}
interface RpcInternals {
  _nodesKey?: string;
  /** queries holding a slot (patches/k-rpc: in flight minus those past the short timeout) */
  active?: () => number;
  pending: unknown[];
  query(node: unknown, message: KrpcMessage, cb?: QueryCallback): void;
  nodes: RoutingTable;
  response(node: unknown, query: KrpcMessage, response: Record<string, unknown>, nodes?: unknown, cb?: unknown): void;
}

/** k-bucket, the routing table */
interface RoutingContact {
  id: Buffer;
  host: string;
  port: number;
}
interface RoutingTable {
  closest(target: Buffer, n?: number): RoutingContact[];
  add(contact: RoutingContact): RoutingTable;
  get(id: Buffer): RoutingContact | null;
  on(event: 'added' | 'removed', listener: (c: RoutingContact) => void): void;
  on(event: 'updated', listener: (old: RoutingContact, current: RoutingContact) => void): void;
}

/** The `want` of a query (BEP 32), or null when it has none. */
function wantOf(query: KrpcMessage): Set<string> | null {
  const want = query.a?.want;
  if (!Array.isArray(want)) return null;
  return new Set(want.filter((w): w is Uint8Array => w instanceof Uint8Array).map((w) => Buffer.from(w).toString('latin1')));
}

// Walk again while the network forms, so early nodes learn of later ones. Replies carry only the 8 nodes
// closest to the target, so a walk to our own id meets our neighbours; walks to a random id in the far
// half of the id space and to a random id fill the buckets further away (Kademlia's bucket refresh).
const POPULATE_AFTER_MS: Array<[number, 'self' | 'far' | 'random']> = [[1_000, 'far'], [2_000, 'self'], [4_000, 'random'], [10_000, 'far'], [30_000, 'self']];
const BOOTSTRAP_RETRY_MAX_MS = 60_000;

export class DhtNode implements Searcher, AnnounceTarget {
  readonly family: Family;
  readonly socket: DhtSocket;
  readonly store: PeerStore;
  /** the daemon's DHT of the other family, if it runs one */
  private sibling: DhtNode | null = null;
  private readonly offered = new Set<string>();
  private dht: DHT | null = null;
  private rpc: ReturnType<typeof KRpc> | null = null;
  private readonly peerListeners = new Map<string, Set<OnPeer>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private bootstrapPeers: HostPort[] = [];
  private activeSearches = 0;
  private readonly blocked = new Set<string>();
  /** queries refused because k-rpc's queue was full */
  droppedQueries = 0;
  /** nodes kept out of the routing table because another node holds their address (routingSlot) */
  refusedSameAddress = 0;
  /** KRPC datagrams: our queries, the replies to them (errors too), queries from others (the dashboard's reply ratio and UDP hints) */
  readonly traffic = { sent: 0, replied: 0, received: 0 };
  private populating = false;
  /** `host|port` → nodes that left the routing table, oldest first (bounded by MAX_LOST) */
  private readonly lost = new Map<string, HostPort>();
  /** BEP 44 items stored for others (bittorrent-dht's `_values`) */
  readonly items: ItemStore;
  /** our address as other nodes report it (BEP 42 `ip`) */
  readonly external = new ExternalAddress();

  constructor(private readonly log: Logger, private readonly options: DhtNodeOptions) {
    this.family = options.family ?? 4;
    this.socket = new DhtSocket(log, this.family);
    this.socket.isBlocked = (address) => this.blocked.has(address);
    this.store = new PeerStore({ ...options.storage, maxReply: 50 });
    this.items = new ItemStore(options.items ?? DEFAULT_ITEM_LIMITS);
  }

  async start(): Promise<void> {
    await this.socket.bindTo(this.options.port, this.options.address);
    const krpcSocket = KRpcSocket({ socket: this.socket, timeout: KRPC_TIMEOUT_MS }) as KrpcSocketInternals;
    // IPv4 keeps the library's own encodings; IPv6 hands it ours (the options exist through patches/).
    const codec = this.family === 6 ? libraryCodec(6) : undefined;
    const id = this.options.nodeId ? { id: this.options.nodeId } : {};
    this.rpc = KRpc({ krpcSocket, bootstrap: [], idLength: ID_LENGTH, shortTimeout: this.options.shortTimeoutMs ?? SHORT_TIMEOUT_MS, maxInflight: MAX_INFLIGHT, ...id, ...codec?.krpc });
    if (typeof (this.rpc as unknown as RpcInternals).active !== 'function') this.log.warn('k-rpc is not patched (patches/, applied by `npm install`): no short timeout for queries to dead nodes');
    const dhtOptions = { krpc: this.rpc, bootstrap: false as const, verify: verifyBep44, ...codec?.dht };
    const dht = new DHT(dhtOptions);
    if (codec && !DhtNode.patched(this.rpc, dht)) {
      await new Promise<void>((resolve) => dht.destroy(() => resolve()));
      throw new Error('IPv6 needs the BEP 32 patches of k-rpc and bittorrent-dht (patches/, applied by `npm install` through patch-package)');
    }
    this.extendRpc(krpcSocket);
    // bittorrent-dht keeps its stored peers in `_peers`; swap in the bounded, expiring store.
    const internals = dht as unknown as { _peers: { destroy(): void } };
    internals._peers.destroy();
    internals._peers = this.store;
    // ... and `_values` (an LRU of 1000 by count, no expiry) for the bounded item store.
    (dht as unknown as DhtInternals)._values = this.items;
    this.refreshEqualPuts(dht as unknown as DhtInternals);
    this.answerGetPeersWithNodes(dht as unknown as DhtInternals);
    dht.on('peer', (peer: { host: string; port: number }, infoHash: Buffer, from: KrpcPeer | null) => this.onPeer(peer, infoHash, from));
    dht.on('warning', (err: Error) => this.log.debug(`warning: ${err.message}`));
    // A ping that reached our own address (LPD, import, a peer file listing us) answers with our id;
    // the library's addNode does not check it, so we do.
    dht.on('node', (node: { id?: Buffer }) => {
      if (node.id && node.id.equals(dht.nodeId)) dht.removeNode(node.id);
    });
    dht.on('error', (err: Error) => this.log.warn(`error: ${err.message}`));
    dht.setMaxListeners(0);
    this.dht = dht;
    const table = (this.rpc as unknown as RpcInternals).nodes;
    // k-bucket hands a caller without a count the whole table, and bittorrent-dht answers find_node,
    // get_peers and get with that: a reply of every node we know (kilobytes, fragmented or dropped on
    // the way). BEP 5 replies carry the K = 8 closest.
    const closest = table.closest.bind(table);
    table.closest = (target, n = REPLY_NODES) => closest(target, n);
    this.restrictRoutingAddresses(table);
    table.on('removed', (c) => this.rememberLost(c));
    table.on('added', (c) => this.lost.delete(`${c.host}|${c.port}`));
    this.scheduleReconnect();
    // The socket was bound before the library existed; tell it so its bucket refresh starts.
    this.socket.emit('listening');
    const bound = this.socket.address();
    this.log.info(`Bind to ${this.family === 6 ? `[${bound.address}]` : bound.address}:${bound.port}`);
  }

  /** One node per routingSlot in the routing table: a new id from a taken slot is not added. */
  private restrictRoutingAddresses(table: RoutingTable): void {
    const taken = new Map<string, number>();
    const count = (c: RoutingContact, delta: number) => {
      const slot = routingSlot(c.host);
      if (slot === null) return;
      const n = (taken.get(slot) ?? 0) + delta;
      if (n > 0) taken.set(slot, n);
      else taken.delete(slot);
    };
    table.on('added', (c) => count(c, 1));
    table.on('removed', (c) => count(c, -1));
    table.on('updated', (old, current) => {
      count(old, -1);
      count(current, 1);
    });
    const add = table.add.bind(table);
    table.add = (contact) => {
      const slot = routingSlot(contact.host);
      if (slot !== null && taken.has(slot) && !table.get(contact.id)) {
        this.refusedSameAddress++;
        return table;
      }
      return add(contact);
    };
  }

  /**
   * get_peers: the values we hold and the K closest nodes too (bittorrent-dht sends nodes only when it has
   * no values). KadNode 1.x and libtorrent send both; without nodes a walk stops at the first node that
   * stores the id, short of the closest ones, and a few nodes with fake values can end it there.
   */
  private answerGetPeersWithNodes(dht: DhtInternals): void {
    const ongetpeers = dht._ongetpeers.bind(dht);
    dht._ongetpeers = (query, peer) => {
      const infoHash = query.a?.info_hash;
      const host = peer.address ?? peer.host;
      if (!(infoHash instanceof Uint8Array) || !host) return ongetpeers(query, peer);
      (dht as unknown as DHT).emit('get_peers', infoHash);
      const values = this.store.get(Buffer.from(infoHash).toString('hex'), REPLY_VALUES[this.family]);
      const r: Record<string, unknown> = { id: this.nodeId, token: dht._generateToken(host) };
      if (values.length) r.values = values;
      (this.rpc as unknown as RpcInternals).response(peer, query, r, (this.rpc as unknown as RpcInternals).nodes.closest(Buffer.from(infoHash), REPLY_NODES));
    };
  }

  /**
   * BEP 44: a put of the item we already hold (same k, seq, v and sig) resets its timeout; the library
   * answers it with 302 ("sequence number less than current"), so a relay or publisher re-putting the
   * same packet would look refused and the item would expire. The library compares only with the item
   * it holds: a put older than the newest seq held or seen for the key (the item may have left the store)
   * gets 302 here, and a `cas` that is not that seq 301. Everything else goes to the library.
   */
  private refreshEqualPuts(dht: DhtInternals): void {
    const onput = dht._onput.bind(dht);
    dht._onput = (query, peer) => {
      const a = query.a;
      const host = peer.address ?? peer.host ?? '';
      if (a && a.k instanceof Uint8Array && a.sig instanceof Uint8Array && a.v instanceof Uint8Array && a.token instanceof Uint8Array && typeof a.seq === 'number' && a.salt === undefined) {
        const key = createHash('sha1').update(a.k).digest('hex');
        const floor = this.items.floor(key);
        if (floor !== undefined && !this.items.get(key) && dht._validateToken(host, a.token)) {
          if (typeof a.cas === 'number' && a.cas !== floor) return dht._rpc.error(peer, query, [301, 'CAS mismatch, re-read and try again']);
          if (a.seq < floor) return dht._rpc.error(peer, query, [302, 'sequence number less than current']);
        }
        const held = a.cas === undefined ? this.items.get(key) : undefined;
        const same = held?.k && held.sig && held.seq === a.seq && Buffer.from(held.k).equals(a.k) && Buffer.from(held.sig).equals(a.sig) && Buffer.from(held.v).equals(a.v);
        if (same && dht._validateToken(host, a.token)) {
          this.items.set(key, { ...held, id: a.id instanceof Uint8Array ? a.id : held.id });
          return dht._rpc.response(peer, query, { id: this.nodeId });
        }
      }
      onput(query, peer);
    };
  }

  /** True when the library took the IPv6 codec (the patches are applied). */
  private static patched(rpc: unknown, dht: unknown): boolean {
    return (rpc as RpcInternals)._nodesKey === NODES_KEY[6] && (dht as { _decodePeers?: unknown })._decodePeers === decodePeers;
  }

  /** BEP 32 on top of the library: `want` in our queries, `want` answered in our replies, sibling's nodes. */
  private extendRpc(krpcSocket: KrpcSocketInternals): void {
    const want = this.options.want?.map((f) => WANT[f]);
    if (want && want.length > 0) {
      const query = krpcSocket.query.bind(krpcSocket);
      krpcSocket.query = (peer, message, cb) => {
        const q = typeof message.q === 'string' ? message.q : '';
        if (message.a && (q === 'find_node' || q === 'get_peers' || q === 'get')) message.a.want = want;
        return query(peer, message, cb);
      };
    }
    const rpc = this.rpc as unknown as RpcInternals;
    const enqueue = rpc.query.bind(rpc);
    rpc.query = (node, message, cb) => {
      const holding = rpc.active ? rpc.active() : (krpcSocket as unknown as { inflight: number }).inflight;
      const busy = message.q === 'ping' ? holding + rpc.pending.length >= MAX_PING_SLOTS : rpc.pending.length >= MAX_QUEUED_QUERIES;
      if (!busy) return enqueue(node, message, cb);
      this.droppedQueries++;
      // A refused ping of a node in the table (bucket upkeep) must not count as a failed one: bittorrent-dht
      // would drop that node as dead. Without an answer its check simply ends there and the node stays.
      if (message.q === 'ping' && (node as { id?: unknown }).id) return;
      process.nextTick(() => cb?.(new Error('too many queries queued')));
    };
    const respond = rpc.response.bind(rpc);
    rpc.response = (node, query, response, nodes, cb) => {
      if (typeof nodes === 'function') [cb, nodes] = [nodes, null];
      const other = this.sibling;
      const wanted = nodes && other ? wantOf(query) : null;
      if (other && wanted?.has(WANT[other.family])) {
        const target = query.a?.target ?? query.a?.info_hash;
        if (target instanceof Uint8Array && target.length === ID_LENGTH) response[NODES_KEY[other.family]] = other.compactClosest(Buffer.from(target));
        if (!wanted.has(WANT[this.family])) nodes = null;
      }
      respond(node, query, response, nodes, cb);
    };
    // BEP 42: every reply tells the asking node its address and port as we see them ...
    const sock = krpcSocket;
    sock.response = (peer, query, response, cb) => {
      const host = peer.address ?? peer.host;
      const ip = host && familyOf(host) === this.family ? { ip: encodePeer(host, peer.port) } : {};
      sock.send(peer, { t: query.t, y: 'r', r: response, ...ip }, cb);
    };
    // ... and the replies to our own queries (matched transactions, not any datagram) tell us ours.
    const ask = krpcSocket.query.bind(krpcSocket);
    krpcSocket.query = (peer, message, cb) => {
      this.traffic.sent++;
      return ask(peer, message, (err, res, from) => {
        if (res) this.traffic.replied++;
        const ip = err ? undefined : (res as { ip?: unknown } | undefined)?.ip;
        const voter = (from as { address?: unknown } | undefined)?.address;
        const seen = ip instanceof Uint8Array ? decodePeer(ip) : null;
        if (seen && typeof voter === 'string' && familyOf(seen.host) === this.family) this.external.report(voter, seen.host);
        cb?.(err, res, from);
      });
    };
    krpcSocket.on('query', () => this.traffic.received++);
    krpcSocket.on('response', (message) => {
      const other = this.sibling;
      const list = other ? message.r?.[NODES_KEY[other.family]] : undefined;
      if (other && list instanceof Uint8Array) other.offerNodes(parseNodes(list, ID_LENGTH, other.family));
    });
  }

  /** Link the daemon's DHT of the other family (null: unlink). */
  setSibling(sibling: DhtNode | null): void {
    this.sibling = sibling && sibling !== this && sibling.family !== this.family ? sibling : null;
  }

  /** The K closest nodes to a target in this family's compact form (`nodes` / `nodes6`). */
  compactClosest(target: Buffer): Buffer {
    const rpc = this.rpc as unknown as RpcInternals | null;
    if (!rpc || !this.dht || this.dht.destroyed) return Buffer.alloc(0);
    return encodeNodes(rpc.nodes.closest(target, REPLY_NODES), ID_LENGTH, this.family);
  }

  /**
   * Nodes of our family that the other family's DHT learnt about: pinged while our table is small.
   * Our own id is skipped: the DHTs of a daemon share it, so remote lists name us too.
   */
  offerNodes(nodes: Array<HostPort & { id: Buffer }>): void {
    const dht = this.dht;
    if (!dht || dht.destroyed || this.nodeCount() >= OFFER_BELOW_NODES) return;
    let pinged = 0;
    for (const node of nodes) {
      if (pinged >= OFFER_PER_REPLY) break;
      const key = `${node.host}|${node.port}`;
      if (node.id.equals(dht.nodeId) || familyOf(node.host) !== this.family || this.offered.has(key) || this.blocked.has(node.host)) continue;
      if (this.offered.size >= MAX_OFFERED) this.offered.clear();
      this.offered.add(key);
      pinged++;
      this.ping(node);
    }
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
    this.requireDht().addNode({ host: canonicalHost(peer.host), port: peer.port });
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

  /** queries waiting in k-rpc's queue for a free slot (at most MAX_QUEUED_QUERIES) */
  queuedQueries(): number {
    return (this.rpc as unknown as RpcInternals | null)?.pending.length ?? 0;
  }

  boundPort(): number {
    return this.socket.address().port;
  }

  onNodeAdded(listener: () => void): void {
    this.requireDht().on('node', listener);
  }

  /** Ping the peers now and whenever the routing table runs empty. */
  bootstrap(peers: HostPort[]): void {
    // Addresses of our family, IPv6 written as replies will come from (k-rpc-socket compares the text);
    // host names only for IPv4, where the library resolves them as before.
    peers = peers
      .filter((p) => familyOf(p.host) === this.family || (familyOf(p.host) === null && this.family === 4))
      .map((p) => ({ host: canonicalHost(p.host), port: p.port }));
    this.bootstrapPeers = peers;
    if (!this.rpc) return;
    this.rpc.bootstrap = peers;
    this.populate();
    for (const [delay, toward] of POPULATE_AFTER_MS) this.later(delay, () => this.populate(toward));
    this.retryWhileEmpty(1_000);
  }

  private rememberLost(node: { id?: Buffer; host: string; port: number }): void {
    if (!this.dht || (node.id && node.id.equals(this.dht.nodeId)) || this.blocked.has(node.host)) return;
    const key = `${node.host}|${node.port}`;
    this.lost.delete(key);
    this.lost.set(key, { host: node.host, port: node.port });
    if (this.lost.size > MAX_LOST) this.lost.delete(this.lost.keys().next().value as string);
  }

  private scheduleReconnect(): void {
    this.later(this.options.reconnectMs ?? RECONNECT_MS, () => {
      this.reconnect();
      this.scheduleReconnect();
    });
  }

  /** Pings a few lost nodes (round robin) and the bootstrap addresses while the routing table is small. */
  private reconnect(): void {
    const dht = this.dht;
    if (!dht || dht.destroyed || this.nodeCount() >= OFFER_BELOW_NODES) return;
    const lost = [...this.lost].slice(0, RECONNECT_PER_ROUND);
    for (const [key, node] of lost) {
      // to the end of the line: the next round tries others
      this.lost.delete(key);
      this.lost.set(key, node);
    }
    const bootstrap = this.bootstrapPeers.filter((p) => familyOf(p.host) === this.family).slice(0, RECONNECT_PER_ROUND);
    const known = new Set(this.routingNodes().map((n) => `${n.address}|${n.port}`));
    for (const node of [...bootstrap, ...lost.map(([, n]) => n)]) {
      if (!known.has(`${node.host}|${node.port}`) && !this.blocked.has(node.host)) this.ping(node);
    }
  }

  /** nodes that left the routing table and are tried again */
  lostCount(): number {
    return this.lost.size;
  }

  private retryWhileEmpty(delay: number): void {
    this.later(delay, () => {
      if (this.nodeCount() > 0 || this.bootstrapPeers.length === 0) return;
      this.log.debug('routing table empty, bootstrapping again');
      this.populate();
      this.retryWhileEmpty(Math.min(delay * 2, BOOTSTRAP_RETRY_MAX_MS));
    });
  }

  private populate(toward: 'self' | 'far' | 'random' = 'self'): void {
    const rpc = this.rpc;
    // One at a time: k-rpc runs it in the background, behind every other query, so under steady load
    // it may wait long, and each one waiting keeps a listener on the socket.
    if (!rpc || this.dht?.destroyed || this.populating) return;
    this.populating = true;
    let target: Buffer = rpc.id;
    if (toward !== 'self') {
      target = randomBytes(ID_LENGTH);
      // the far half: the first bit differs from ours
      if (toward === 'far') target[0] = (rpc.id[0]! & 0x80) ^ 0x80 | (target[0]! & 0x7f);
    }
    rpc.populate(target, { q: 'find_node', a: { id: rpc.id, target } }, (err) => {
      this.populating = false;
      if (err) this.log.debug(`bootstrap: ${err.message}`);
      else this.log.debug(`bootstrap: ${this.nodeCount()} nodes known`);
    });
  }

  search(id: Buffer, onPeer: OnPeer, signal: AbortSignal): Promise<number> {
    const dht = this.requireDht();
    const key = id.toString('hex');
    let listeners = this.peerListeners.get(key);
    if (!listeners) {
      listeners = new Set();
      this.peerListeners.set(key, listeners);
    }
    listeners.add(onPeer);
    this.activeSearches++;
    return new Promise<number>((resolve) => {
      let finished = false;
      const finish = (answered: number) => {
        if (finished) return;
        finished = true;
        this.activeSearches--;
        listeners.delete(onPeer);
        if (listeners.size === 0) this.peerListeners.delete(key);
        signal.removeEventListener('abort', onAbort);
        resolve(answered);
      };
      const abortWalk = dht.lookup(id, (err, answered) => {
        if (err) this.log.debug(`search ${key}: ${err.message}`);
        finish(typeof answered === 'number' ? answered : 0);
      });
      const onAbort = () => {
        abortWalk();
        finish(0);
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

  /**
   * BEP 44 get: walks to the target and reports each signed item a node answers with (salt-less, its key
   * hashing to the target), the one we store ourselves first. Checking signatures and seq is the
   * caller's business (src/pkarr/hook.ts); the library's own verify only runs on puts we store.
   */
  getMutable(target: Buffer, onItem: (item: MutableItem) => void, signal: AbortSignal): Promise<void> {
    const dht = this.requireDht() as unknown as DhtInternals;
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
      dht._closest(target, { q: 'get', a: { id: this.nodeId, target } }, onReply, (err) => {
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
    const dht = this.requireDht() as unknown as DhtInternals;
    const { onItem, refuse, cas } = options;
    const local = onItem && signedItemOf(target, this.items.get(target.toString('hex')));
    if (local) onItem(local);
    const onReply = (message: KrpcMessage): boolean => {
      const found = signedItemOf(target, message.r);
      if (found) onItem?.(found);
      return true;
    };
    return new Promise((resolve, reject) => {
      dht._closest(target, { q: 'get', a: { id: this.nodeId, target } }, onItem ? onReply : null, () => {
        if (this.dht?.destroyed !== false) return resolve(0);
        // Without the walk's table _put would walk again and end in put(), which throws for 1000 bytes.
        if (!dht._tables.get(target.toString('hex'))) return reject(new Error('no nodes to put to'));
        const refusal = refuse?.();
        if (refusal) return reject(Object.assign(new Error(refusal.message), { code: refusal.code }));
        dht._put({ k: item.k, seq: item.seq, sig: item.sig, v: item.v, ...(cas === undefined ? {} : { cas }) }, (err, _key, n) => (err ? reject(err) : resolve(n ?? 0)));
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

  private onPeer(peer: { host: string; port: number }, infoHash: Buffer, from: KrpcPeer | null): void {
    if (this.blocked.has(peer.host)) return;
    const listeners = this.peerListeners.get(infoHash.toString('hex'));
    if (!listeners) return;
    const address: PeerAddress = { address: peer.host, port: peer.port, family: familyOf(peer.host) ?? this.family };
    // the replying node (k-rpc hands on the datagram's rinfo); none for the values of our own store
    const responder = from ? from.address ?? from.host : undefined;
    for (const listener of listeners) listener(address, responder);
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
