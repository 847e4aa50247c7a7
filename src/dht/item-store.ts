// BEP 44 items we store for others. Replaces bittorrent-dht's `_values` (an LRU of 1000 entries by
// count, no expiry) with two bounds and an age limit. The interface is the subset of `lru` that the
// library calls: get / set (and `cache` for its toJSON). The library checks the rules before set():
// signature (through our verify function), seq only grows (302), CAS (301), v at most 1000 bytes.
//
// The library compares with the item it holds, and an item leaves the store (bounds, age): so set() itself
// refuses a seq older than the newest this node has held or seen for the key (the daemon's SeqMemory,
// which outlives the items), and get() hides an item that a newer seq seen elsewhere has replaced.
//
// Bounds: an item is at most 1000 bytes of v + 64 sig + 32 k + 64 salt + 20 id, about 1.2 KB; by default
// at most 4096 items and 4 MiB, whichever comes first, the least recently stored or read going first.
// Items stored through the relay (any web client can send them) take at most a quarter of the items:
// beyond that the oldest relayed item goes, never one another DHT node put here.
// Items not stored again within 2 hours expire (BEP 44: "a few hours"; PKARR republishes hourly).
import { createHash } from 'node:crypto';
import { verifyDetached } from '../identity/ed25519.js';
import { SeqMemory, type SeqPool } from './seq-memory.js';

export interface StoredItem {
  v: Uint8Array;
  /** mutable items only */
  k?: Uint8Array;
  sig?: Uint8Array;
  seq?: number;
  salt?: Uint8Array;
  /** the node id of the sender */
  id: Uint8Array;
}

/** A signed (mutable) item in the form the pkarr code uses. */
export interface MutableItem {
  k: Buffer;
  seq: number;
  sig: Buffer;
  v: Buffer;
}

/**
 * bittorrent-dht's `verify` option: a detached ed25519 signature over the bencoded {seq, v} (and salt);
 * false instead of an exception for wrong lengths.
 */
export function verifyBep44(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (!(signature instanceof Uint8Array && message instanceof Uint8Array && publicKey instanceof Uint8Array)) return false;
  return verifyDetached(signature, message, publicKey);
}

/** The signed, salt-less item a BEP 44 `get` reply (or our store) carries for the target, unchecked; else null. */
export function signedItemOf(target: Buffer, r: Record<string, unknown> | StoredItem | undefined): MutableItem | null {
  const { k, sig, seq, v, salt } = (r ?? {}) as Record<string, unknown>;
  if (!(k instanceof Uint8Array && sig instanceof Uint8Array && v instanceof Uint8Array) || typeof seq !== 'number' || salt !== undefined) return null;
  if (!createHash('sha1').update(k).digest().equals(target)) return null;
  return { k: Buffer.from(k), seq, sig: Buffer.from(sig), v: Buffer.from(v) };
}

export interface ItemStoreOptions {
  maxItems: number;
  maxBytes: number;
  maxAgeMs: number;
  /** of maxItems, at most this many stored through the relay; default a quarter */
  maxRelayed?: number;
  /** the daemon's one seq memory (shared with the pkarr step); default a memory of this store's own */
  seqs?: SeqMemory;
  now?: () => number;
}

export const DEFAULT_ITEM_LIMITS: ItemStoreOptions = { maxItems: 4096, maxBytes: 4 * 1024 * 1024, maxAgeMs: 2 * 60 * 60_000 };

// Per entry: Map slots, the object, the hex key.
const OVERHEAD = 128;

const sizeOf = (key: string, item: StoredItem): number =>
  OVERHEAD + key.length + item.v.length + (item.k?.length ?? 0) + (item.sig?.length ?? 0) + (item.salt?.length ?? 0) + item.id.length;

export class ItemStore {
  // Insertion order doubles as LRU order: get and set move an entry to the end.
  private readonly items = new Map<string, { item: StoredItem; at: number; bytes: number }>();
  /** keys of items stored through the relay, oldest first */
  private readonly relayed = new Set<string>();
  private total = 0;
  private lastExpire = 0;
  private readonly now: () => number;
  readonly seqs: SeqMemory;

  constructor(private readonly options: ItemStoreOptions = DEFAULT_ITEM_LIMITS) {
    this.now = options.now ?? Date.now;
    this.seqs = options.seqs ?? new SeqMemory();
  }

  /** The newest seq held or seen for the key, the item gone or not. */
  floor(key: string): number | undefined {
    return this.seqs.get(key);
  }

  get size(): number {
    return this.items.size;
  }

  get bytes(): number {
    return this.total;
  }

  get(key: string): StoredItem | undefined {
    const entry = this.items.get(key);
    if (!entry) return undefined;
    const floor = entry.item.seq === undefined ? undefined : this.seqs.get(key);
    // Expired, or a newer seq for the key was seen since (a get reply, the relay): not served any more.
    if (this.now() - entry.at >= this.options.maxAgeMs || (floor !== undefined && entry.item.seq! < floor)) {
      this.delete(key);
      return undefined;
    }
    this.items.delete(key);
    this.items.set(key, entry);
    return entry.item;
  }

  /**
   * Stores the item; false (nothing changes) when its seq is older than one held or seen for the key, or
   * when the key's item has that seq already with another signature (BEP 44: a new value needs a new seq).
   * `pool`: how the item came ('relayed': a relay PUT; 'held': another DHT node, our own publisher).
   */
  set(key: string, item: StoredItem, pool: SeqPool = 'held'): boolean {
    if (typeof item.seq === 'number') {
      const floor = this.seqs.get(key);
      if (floor !== undefined && item.seq < floor) return false;
      const held = this.items.get(key)?.item;
      if (held?.seq === item.seq && held.sig && item.sig && !Buffer.from(held.sig).equals(Buffer.from(item.sig))) return false;
      this.seqs.note(key, item.seq, pool);
    }
    const bytes = sizeOf(key, item);
    // A relayed item that replaces one stored another way keeps that item's standing.
    const relayed = pool === 'relayed' && (!this.items.has(key) || this.relayed.has(key));
    this.delete(key);
    if (bytes > this.options.maxBytes) return false;
    this.expire();
    const maxRelayed = this.options.maxRelayed ?? Math.max(1, Math.floor(this.options.maxItems / 4));
    while (relayed && this.relayed.size >= maxRelayed) this.delete(this.relayed.values().next().value as string);
    while (this.items.size >= this.options.maxItems || (this.items.size > 0 && this.total + bytes > this.options.maxBytes)) {
      this.delete(this.items.keys().next().value as string);
    }
    this.items.set(key, { item, at: this.now(), bytes });
    if (relayed) this.relayed.add(key);
    this.total += bytes;
    return true;
  }

  /** Mutable items, for listings. */
  *entries(): Generator<{ target: string; seq: number | undefined; bytes: number }> {
    this.expire();
    for (const [target, e] of this.items) yield { target, seq: e.item.seq, bytes: e.item.v.length };
  }

  /** What bittorrent-dht's toJSON reads. */
  get cache(): Record<string, { value: StoredItem }> {
    const out: Record<string, { value: StoredItem }> = {};
    for (const [key, e] of this.items) out[key] = { value: e.item };
    return out;
  }

  delete(key: string): void {
    const entry = this.items.get(key);
    if (!entry) return;
    this.items.delete(key);
    this.relayed.delete(key);
    this.total -= entry.bytes;
  }

  private expire(): void {
    const now = this.now();
    // Entries move to the end when read, so ages are not ordered: a full pass (bounded by maxItems), at
    // most once a second; get() checks the age of what it returns anyway.
    if (now - this.lastExpire < 1000) return;
    this.lastExpire = now;
    const cutoff = now - this.options.maxAgeMs;
    for (const [key, e] of this.items) if (e.at <= cutoff) this.delete(key);
  }

  clear(): void {
    this.items.clear();
    this.relayed.clear();
    this.total = 0;
  }
}
