// The newest BEP 44 seq this node has held or seen for each key (the target, in hex), so that no stored
// item, cached packet or DNS answer ever goes back to an older one, even after the item itself has left
// the item store or the packet cache. One memory per daemon: the item stores of every DHT and the
// resolver's pkarr step write and read the same one.
//
// It is bounded, in three pools that never push each other out, by how a key came:
//   held     items other DHT nodes put to us, and our own packet
//   seen     packets found in get replies while resolving a name (any DNS client can ask for any key)
//   relayed  keys first met in a relay PUT (any client of the web port can send those, for fresh keys)
// So a flood of relay PUTs or of lookups for fresh keys only pushes out keys that came the same way, never
// the memory of a key this node stores for the DHT. A key lives in the highest pool it was noted in
// (held, then seen, then relayed): a relayed key seen on the DHT or put to us by a node moves up. Each pool
// forgets the key raised least recently first. A key forgotten is not trusted blindly: the relay walks
// the DHT for the newest seq before it takes a packet for a key it does not remember.
//
// Size: a Map entry with a 40-character key is about 100 bytes, so the default pools stay under 5 MB even
// when full; the relay's rate limit lets a flood of 10,000 PUTs from 500 addresses store well under 16384
// fresh keys (test/e2e/pkarr-rollback.test.ts runs that attack).

import { BoundedMap } from '../util/bounded-map.js';

export type SeqPool = 'held' | 'seen' | 'relayed';

export type SeqMemoryOptions = Record<SeqPool, number>;

export const DEFAULT_SEQ_MEMORY: SeqMemoryOptions = { held: 16_384, seen: 8192, relayed: 16_384 };

const RANK: Record<SeqPool, number> = { relayed: 0, seen: 1, held: 2 };

export class SeqMemory {
  // The order is that of the last raise: note() makes a key the newest of its pool.
  private readonly pools: Record<SeqPool, BoundedMap<string, number>>;

  constructor(options: SeqMemoryOptions = DEFAULT_SEQ_MEMORY) {
    this.pools = { held: new BoundedMap(options.held), seen: new BoundedMap(options.seen), relayed: new BoundedMap(options.relayed) };
  }

  /** The newest seq held or seen for the key; undefined when none is remembered. */
  get(key: string): number | undefined {
    return this.pools.held.get(key) ?? this.pools.seen.get(key) ?? this.pools.relayed.get(key);
  }

  /** Remembers seq for the key unless a newer one is remembered already; the key moves up to `pool`. */
  note(key: string, seq: number, pool: SeqPool = 'held'): void {
    if (typeof seq !== 'number' || !Number.isFinite(seq)) return;
    const before = this.get(key);
    let into = pool;
    for (const p of ['held', 'seen', 'relayed'] as const) {
      if (!this.pools[p].delete(key)) continue;
      if (RANK[p] > RANK[into]) into = p;
    }
    this.pools[into].set(key, before === undefined ? seq : Math.max(before, seq));
  }

  get size(): SeqMemoryOptions {
    return { held: this.pools.held.size, seen: this.pools.seen.size, relayed: this.pools.relayed.size };
  }
}
