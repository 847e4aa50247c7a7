// The parts of bittorrent-dht 11.0.12, k-rpc 5.1.0, k-rpc-socket 1.11.1 and k-bucket 5.1.0 that the
// library adapter reaches into, typed; and what the adapter needs from the DHT node it serves.
import type DHT from 'bittorrent-dht';
import type { EventEmitter } from 'node:events';
import type { Family } from './compact.js';
import type { ExternalAddress } from './external-address.js';
import type { ItemStore } from './item-store.js';
import type { Contact, NodeCache } from './node-cache.js';
import type { PeerStore } from './peer-store.js';

export interface HostPort {
  host: string;
  port: number;
}

/** A KRPC message (bencode decoded: byte strings are Buffers). */
export interface KrpcMessage {
  t?: unknown;
  y?: unknown;
  q?: unknown;
  a?: Record<string, unknown>;
  r?: Record<string, unknown>;
  ip?: unknown;
}

/** Who a query goes to or came from: a contact, or a datagram's rinfo. */
export type KrpcPeer = { address?: string; host?: string; port: number; id?: Buffer; token?: unknown };
export type KrpcError = Error & { code?: unknown };
export type QueryCallback = (err: KrpcError | null, res?: KrpcMessage | null, peer?: KrpcPeer, req?: unknown) => void;
/** A walk's reply visitor: false ends the walk. */
export type Visit = (message: KrpcMessage, peer: KrpcPeer) => boolean | undefined;

/** k-bucket: a contact of the routing table (or of a walk's table). */
export type { Contact } from './node-cache.js';

/** k-bucket: the routing table, and each walk's table. */
export interface RoutingTable extends EventEmitter {
  closest(target: Uint8Array, n?: number): Contact[];
  add(contact: Contact): RoutingTable;
  get(id: Uint8Array): Contact | null;
  remove(id: Uint8Array): RoutingTable;
  count(): number;
  toArray(): Contact[];
}

/** k-rpc-socket: the transactions on one socket. */
export interface KrpcSocketLib extends EventEmitter {
  /** queries sent and not yet answered, failed or timed out */
  inflight: number;
  query(peer: KrpcPeer, message: KrpcMessage, cb?: QueryCallback): number | undefined;
  response(peer: KrpcPeer, query: KrpcMessage, response: Record<string, unknown>, cb?: unknown): void;
  send(peer: KrpcPeer, message: Record<string, unknown>, cb?: unknown): void;
}

/** k-rpc: the query slots and queue, walks, replies, the routing table. */
export interface RpcLib extends EventEmitter {
  id: Buffer;
  k: number;
  concurrency: number;
  backgroundConcurrency: number;
  destroyed: boolean;
  bootstrap: HostPort[];
  /** queries waiting for a slot: [node, message, callback] */
  pending: Array<[KrpcPeer, KrpcMessage, QueryCallback | undefined]>;
  socket: KrpcSocketLib;
  nodes: RoutingTable;
  query(node: KrpcPeer, message: KrpcMessage, cb?: QueryCallback): void;
  response(node: KrpcPeer, query: KrpcMessage, response: Record<string, unknown>, nodes?: Contact[] | null | (() => void), cb?: unknown): void;
  error(node: KrpcPeer, query: KrpcMessage, error: [number, string], cb?: unknown): void;
  _closest(target: Buffer, message: KrpcMessage, background: boolean, visit: Visit | null, cb?: (err: Error | null, n?: number) => void): void;
  populate(target: Buffer, message: KrpcMessage, cb: (err: Error | null, n?: number) => void): void;
  _addNode(node: Contact): void;
}

/** bittorrent-dht: the stores, BEP 44 internals and query handlers the overrides replace. */
export interface DhtLib extends DHT {
  _peers: unknown;
  _values: unknown;
  _rpc: RpcLib;
  _tables: { get(key: string): unknown };
  _closest(target: Buffer, message: KrpcMessage, onReply: ((message: KrpcMessage, node: KrpcPeer) => boolean | undefined) | null, cb: (err: Error | null, n?: number) => void): void;
  _put(opts: { k: Buffer; seq: number; sig: Buffer; v: Buffer; cas?: number }, cb: (err: KrpcError | null, key?: Buffer, n?: number) => void): void;
  _onput(query: KrpcMessage, peer: KrpcPeer): void;
  _onquery(query: KrpcMessage, peer: KrpcPeer): void;
  _onget(query: KrpcMessage, peer: KrpcPeer): void;
  _ongetpeers(query: KrpcMessage, peer: KrpcPeer): void;
  _addPeer(peer: HostPort, infoHash: Buffer, from: unknown): void;
  _validateToken(host: string, token: Uint8Array): boolean;
  _generateToken(host: string): Buffer;
}

/** One DHT node's library objects, overrides installed. */
export interface DhtLibrary {
  /** k-rpc-socket on the node's socket */
  readonly socket: KrpcSocketLib;
  readonly rpc: RpcLib;
  readonly dht: DhtLib;
  /** k-rpc's query slots with the short timeout */
  readonly slots: Slots;
}

/** k-rpc's query slots with the short timeout (krpc-scheduler.ts). */
export interface Slots {
  /** queries in flight that still hold a slot */
  active(): number;
  /** true when no query may start now */
  busy(reserve?: number): boolean;
  /** the socket's query with the short timeout: `onstall(node)` runs when the query gives up its slot at its time-out; the function returned gives it up at once */
  send(node: KrpcPeer, message: KrpcMessage, cb?: QueryCallback, onstall?: (node: KrpcPeer) => void): () => void;
  /** nodes that answered lately, with their RTTs (node-cache.ts) */
  readonly cache: NodeCache;
  /** targets (hex) of walks nobody waits for (an announcement's) */
  readonly unhurried: Set<string>;
  /** how long a query to this node may hold its slot */
  timeoutOf: (node: KrpcPeer) => number;
  /** nodes a walk to target starts from beside the routing table's */
  seeds: (target: Buffer, n: number) => Contact[];
  /** true when walk number `walk` (`found`: it had an answer) leaves a free slot to another walk */
  yields: (walk: number, found: boolean) => boolean;
  /** walks (by number; true: it had an answer) waiting for a slot */
  readonly waiting: Map<number, boolean>;
  /** a number for a new walk, higher than every earlier one */
  nextWalk(): number;
}

/** The daemon's DHT of the other family (BEP 32 `want`). */
export interface SiblingLink {
  readonly family: Family;
  /** its K closest nodes to a target in its family's compact form */
  compactClosest(target: Buffer): Buffer;
  /** nodes of its family learnt from our replies */
  offerNodes(nodes: Array<HostPort & { id: Buffer }>): void;
}

/** What the overrides need from the DHT node they serve. */
export interface AdapterHost {
  readonly family: Family;
  /** the node id (random when left out) */
  readonly nodeId?: Buffer;
  /** ms after which an unanswered query frees its slot (0: never) */
  readonly shortTimeoutMs: number;
  /** BEP 32 `want` in our queries */
  readonly want?: Family[];
  readonly store: PeerStore;
  readonly items: ItemStore;
  /** KRPC datagrams counted: our queries, the replies to them, queries from others */
  readonly traffic: { sent: number; replied: number; received: number };
  readonly external: ExternalAddress;
  sibling(): SiblingLink | null;
  /** counts a query refused for a full queue, or a node kept out because another holds its address */
  refused(what: 'query' | 'sameAddress'): void;
}
