// The DHT node's interfaces as its users see them (the resolver's Searcher, the announcer's
// AnnounceTarget, put options, routing-table rows and counters), apart from node.ts so that users and
// test fakes need not import the node itself.
import type { PeerAddress } from '../types.js';
import type { Family } from './compact.js';
import type { MutableItem } from './item-store.js';

/** BEP 44 put options (see putMutable). */
export interface PutOptions {
  /** BEP 44 `cas`: a node holding another seq for the key refuses with 301 */
  cas?: number;
  onItem?: (item: MutableItem) => void;
  refuse?: () => { code: 301 | 302; message: string } | null;
}

/**
 * Reports one address a search found, with the IP of the DHT node whose reply held it (undefined: our
 * own store) and that node's id when its reply carried one, so a caller can bound what one responder
 * may make it do and weigh where it sits.
 */
export type OnPeer = (peer: PeerAddress, from?: string, fromId?: Buffer) => void;

/** Reports one DHT node that answered a search's walk (with values or without), and its id. */
export type OnReply = (from: string, fromId: Buffer | undefined) => void;

/** What the resolver needs: a search that reports addresses as they arrive. */
export interface Searcher {
  /** resolves when the walk ends, with how many nodes answered it (0: the DHT could not be reached) */
  search(id: Buffer, onPeer: OnPeer, signal: AbortSignal, onReply?: OnReply): Promise<number>;
  /** about how many nodes the DHT has (null: not known yet) */
  sizeEstimate?(): number | null;
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

/** One node's counters (status, metrics, tests). */
export interface DhtStats {
  family: Family;
  nodes: { all: number; good: number };
  /** get_peers and get walks running */
  searches: number;
  /** queries waiting in k-rpc's queue for a free slot (bounded) */
  queued: number;
  /** queries refused because that queue was full */
  dropped: number;
  /** nodes kept out of the routing table because another node holds their address */
  refusedSameAddress: number;
  /** nodes that left the routing table and are tried again */
  lost: number;
  blocked: number;
  traffic: { sent: number; replied: number; received: number };
  /** announcements and BEP 44 items we store for others */
  announcements: number;
  items: number;
  external: string | null;
}
