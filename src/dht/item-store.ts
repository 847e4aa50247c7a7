// BEP 44 items we store for others. Replaces bittorrent-dht's `_values` (an LRU of 1000 entries by
// count, no expiry) with two bounds and an age limit. The interface is the subset of `lru` that the
// library calls: get / set (and `cache` for its toJSON). The library checks the rules before set():
// signature (through our verify function), seq only grows (302), CAS (301), v at most 1000 bytes.
//
// Bounds: an item is at most 1000 bytes of v + 64 sig + 32 k + 64 salt + 20 id, about 1.2 KB; by default
// at most 4096 items and 4 MiB, whichever comes first, the least recently stored or read going first.
// Items not stored again within 2 hours expire (BEP 44: "a few hours"; PKARR republishes hourly).
import sodium from 'sodium-native';

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
  if (signature.length !== sodium.crypto_sign_BYTES || publicKey.length !== sodium.crypto_sign_PUBLICKEYBYTES) return false;
  return sodium.crypto_sign_verify_detached(Buffer.from(signature), Buffer.from(message), Buffer.from(publicKey));
}

export interface ItemStoreOptions {
  maxItems: number;
  maxBytes: number;
  maxAgeMs: number;
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
  private total = 0;
  private lastExpire = 0;
  private readonly now: () => number;

  constructor(private readonly options: ItemStoreOptions = DEFAULT_ITEM_LIMITS) {
    this.now = options.now ?? Date.now;
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
    if (this.now() - entry.at >= this.options.maxAgeMs) {
      this.delete(key);
      return undefined;
    }
    this.items.delete(key);
    this.items.set(key, entry);
    return entry.item;
  }

  set(key: string, item: StoredItem): void {
    const bytes = sizeOf(key, item);
    this.delete(key);
    if (bytes > this.options.maxBytes) return;
    this.expire();
    while (this.items.size >= this.options.maxItems || (this.items.size > 0 && this.total + bytes > this.options.maxBytes)) {
      this.delete(this.items.keys().next().value as string);
    }
    this.items.set(key, { item, at: this.now(), bytes });
    this.total += bytes;
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
    this.total = 0;
  }
}
