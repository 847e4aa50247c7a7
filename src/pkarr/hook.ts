// The resolver's "pkarr" step: the signed packet of a public key, from our own publisher, the cache, or a
// BEP 44 get on the DHT. Every item is checked (size, signature, DNS packet, and a seq that never goes
// back below the newest one held or seen for the key: the daemon's SeqMemory, shared with the DHT's item
// stores, so a packet another node put here counts too); the newest packet is cached until the smallest
// TTL in it ends, or until a newer seq for the key is seen elsewhere. TTLs are clamped to 30 s .. 1 day
// (PKARR's own clients use 5 min .. 1 day; 30 s lets an owner move quickly without every query walking
// the DHT). A key without a packet is remembered for 30 s.
import type { Answer, SrvAnswer } from 'dns-packet';
import type { MutableItem } from '../dht/item-store.js';
import { SeqMemory, type SeqPool } from '../dht/seq-memory.js';
import { encodeZ32Key } from '../identity/keys.js';
import type { Logger } from '../log.js';
import type { PeerAddress, Resolution } from '../types.js';
import type { PkarrName } from './names.js';
import { checkItem, PacketError, targetOf, type VerifiedPacket } from './packet.js';
import { BoundedMap } from '../util/bounded-map.js';

/** The DHT side: a BEP 44 get that reports items as they arrive (checked here, not there). */
export interface ItemSource {
  getMutable(target: Buffer, onItem: (item: MutableItem) => void, signal: AbortSignal): Promise<void>;
}

/** Our own publisher: the packet it publishes for a key, if any. */
export interface OwnPackets {
  ownPacket(publicKey: Buffer): VerifiedPacket | undefined;
}

export interface PkarrHookOptions {
  minTtl: number;
  maxTtl: number;
  /** a packet without records is cached this long (s) */
  emptyTtl: number;
  maxCached: number;
  /** DHT gets at once; beyond that 'busy' */
  maxLookups: number;
  /** a key without a packet is not searched again for this long */
  negativeMs: number;
  /** after the first valid item, wait this long for newer ones before answering */
  settleMs: number;
}

export const DEFAULT_PKARR_OPTIONS: PkarrHookOptions = {
  minTtl: 30,
  maxTtl: 86_400,
  emptyTtl: 300,
  maxCached: 1024,
  maxLookups: 64,
  negativeMs: 30_000,
  settleMs: 250,
};

export interface PacketEntry {
  packet: VerifiedPacket;
  fetchedAt: number;
  expiresAt: number;
}

export type PkarrLookup = { status: 'found'; entry: PacketEntry } | { status: 'notfound' | 'timeout' | 'busy' };

interface Lookup {
  best: VerifiedPacket | null;
  waiters: Set<(result: PkarrLookup) => void>;
  controller: AbortController;
  settle: NodeJS.Timeout | null;
}

const MAX_CHAIN = 8;

export class PkarrHook {
  /** by key hex; a hit makes its entry the newest (LRU) */
  private readonly cache: BoundedMap<string, PacketEntry>;
  /** key hex → until when it is a miss */
  private readonly misses: BoundedMap<string, number>;
  /** newest seq per key, by target hex (the DHT's item stores use the same memory) */
  private readonly seqs: SeqMemory;
  private readonly lookups = new Map<string, Lookup>();
  private own: OwnPackets | undefined;
  private stopped = false;

  constructor(
    private readonly deps: { dht: ItemSource; log: Logger; seqs?: SeqMemory },
    readonly options: PkarrHookOptions = DEFAULT_PKARR_OPTIONS,
    private readonly now: () => number = Date.now,
  ) {
    this.seqs = deps.seqs ?? new SeqMemory();
    this.cache = new BoundedMap(options.maxCached, { lru: true });
    this.misses = new BoundedMap(options.maxCached * 4);
  }

  setOwn(own: OwnPackets | undefined): void {
    this.own = own;
  }

  clampTtl(ttl: number | undefined): number {
    return Math.min(Math.max(Math.floor(ttl ?? 0), this.options.minTtl), this.options.maxTtl);
  }

  /** Our own packet or a cached one; 'miss' when the key recently had none; undefined: ask the DHT. */
  cached(publicKey: Buffer): PacketEntry | 'miss' | undefined {
    const own = this.own?.ownPacket(publicKey);
    if (own) return this.entryOf(own);
    const key = publicKey.toString('hex');
    const entry = this.cache.get(key);
    const now = this.now();
    if (entry) {
      // Still fresh unless a newer seq was seen since (put to our item store, relayed, ...).
      if (entry.expiresAt > now && entry.packet.seq >= (this.newestSeq(publicKey) ?? 0)) return entry;
      this.cache.delete(key);
    }
    const until = this.misses.get(key);
    if (until !== undefined) {
      if (until > now) return 'miss';
      this.misses.delete(key);
    }
    return undefined;
  }

  /** The newest packet for a key, searching the DHT when nothing fresh is known. */
  lookup(publicKey: Buffer, timeoutMs: number): Promise<PkarrLookup> {
    const hit = this.cached(publicKey);
    if (hit === 'miss') return Promise.resolve({ status: 'notfound' });
    if (hit) return Promise.resolve({ status: 'found', entry: hit });
    const key = publicKey.toString('hex');
    const lookup = this.lookups.get(key) ?? this.start(key, publicKey);
    if (!lookup) return Promise.resolve({ status: 'busy' });
    return new Promise((resolve) => {
      const wake = (result: PkarrLookup) => {
        clearTimeout(timer);
        lookup.waiters.delete(wake);
        resolve(result);
      };
      const timer = setTimeout(() => wake({ status: 'timeout' }), timeoutMs);
      lookup.waiters.add(wake);
    });
  }

  /**
   * A checked packet from anywhere (a DHT reply, a relay PUT): cached when it is at least as new as the
   * newest seen for its key. 'older' when it goes back, 'same' when that seq is already known.
   * `pool`: how it came (see SeqMemory): a get reply ('seen'), the relay ('relayed'), our own ('held').
   */
  accept(packet: VerifiedPacket, pool: SeqPool = 'seen'): 'newer' | 'same' | 'older' {
    const key = packet.publicKey.toString('hex');
    const newest = this.newestSeq(packet.publicKey);
    if (newest !== undefined && packet.seq < newest) return 'older';
    this.seqs.note(targetOf(packet.publicKey).toString('hex'), packet.seq, pool);
    const current = this.cache.peek(key);
    if (current && current.packet.seq === packet.seq) {
      // Seen again on the DHT: still current, so it may live another TTL.
      this.cache.replace(key, this.entryOf(current.packet));
      return 'same';
    }
    this.misses.delete(key);
    this.cache.set(key, this.entryOf(packet));
    return newest === packet.seq ? 'same' : 'newer';
  }

  /** The newest seq held or seen for a key (cached or not). */
  newestSeq(publicKey: Buffer): number | undefined {
    return this.seqs.get(targetOf(publicKey).toString('hex'));
  }

  stats(): { cached: number; lookups: number } {
    return { cached: this.cache.size, lookups: this.lookups.size };
  }

  stop(): void {
    this.stopped = true;
    for (const lookup of this.lookups.values()) lookup.controller.abort();
  }

  private entryOf(packet: VerifiedPacket): PacketEntry {
    const ttls = packet.answers.map((a) => this.clampTtl((a as { ttl?: number }).ttl));
    const ttl = ttls.length > 0 ? Math.min(...ttls) : this.options.emptyTtl;
    const now = this.now();
    return { packet, fetchedAt: now, expiresAt: now + ttl * 1000 };
  }

  private start(key: string, publicKey: Buffer): Lookup | undefined {
    if (this.stopped || this.lookups.size >= this.options.maxLookups) return undefined;
    const lookup: Lookup = { best: null, waiters: new Set(), controller: new AbortController(), settle: null };
    this.lookups.set(key, lookup);
    const name = encodeZ32Key(publicKey);
    const onItem = (item: MutableItem) => {
      let packet: VerifiedPacket;
      try {
        if (!item.k.equals(publicKey)) return;
        packet = checkItem(item, this.newestSeq(publicKey));
      } catch (err) {
        if (err instanceof PacketError) this.deps.log.debug(`Item for ${name} refused: ${err.message}`);
        else this.deps.log.warn(`Item for ${name}: ${(err as Error).message}`);
        return;
      }
      if (lookup.best && packet.seq <= lookup.best.seq) return;
      lookup.best = packet;
      // Answer shortly after the first valid item: a newer one usually arrives in the same round trip.
      lookup.settle ??= setTimeout(() => this.wake(lookup), this.options.settleMs);
    };
    this.deps.dht
      .getMutable(targetOf(publicKey), onItem, lookup.controller.signal)
      .catch((err: Error) => this.deps.log.debug(`get ${name} failed: ${err.message}`))
      .finally(() => {
        this.lookups.delete(key);
        if (lookup.settle) clearTimeout(lookup.settle);
        if (!lookup.best) {
          this.misses.set(key, this.now() + this.options.negativeMs);
          for (const wake of [...lookup.waiters]) wake({ status: 'notfound' });
          return;
        }
        this.deps.log.debug(`Packet for ${name}: seq ${lookup.best.seq}, ${lookup.best.answers.length} records`);
        this.wake(lookup);
      });
    return lookup;
  }

  private wake(lookup: Lookup): void {
    if (!lookup.best) return;
    this.accept(lookup.best);
    const entry = this.cached(lookup.best.publicKey);
    const result: PkarrLookup = entry && entry !== 'miss' ? { status: 'found', entry } : { status: 'notfound' };
    for (const wake of [...lookup.waiters]) wake(result);
  }

  /**
   * What a packet says about one name: its records (names moved under the query's origin, TTLs
   * clamped and counted down), following CNAMEs and SRV targets inside the key's zone. NXDOMAIN
   * (notfound) when the name holds nothing and nothing below it.
   */
  resolution(entry: PacketEntry, name: PkarrName): Resolution {
    const age = Math.max(0, Math.floor((this.now() - entry.fetchedAt) / 1000));
    const left = Math.max(1, Math.ceil((entry.expiresAt - this.now()) / 1000));
    const zone = name.z32;
    const inZone = (n: string) => n === zone || n.endsWith('.' + zone);
    const rebase = (n: string) => {
      const lower = n.toLowerCase().replace(/\.$/, '');
      return inZone(lower) ? lower.slice(0, lower.length - zone.length) + name.origin : n;
    };
    const records: Answer[] = [];
    for (const a of entry.packet.answers) {
      if (a.type === 'OPT' || ((a as { class?: string }).class ?? 'IN') !== 'IN') continue;
      if (!inZone(a.name.toLowerCase().replace(/\.$/, ''))) continue;
      const ttl = Math.max(1, Math.min(this.clampTtl((a as { ttl?: number }).ttl) - age, left));
      const r = { ...a, name: rebase(a.name), ttl } as Answer;
      if (r.type === 'CNAME') r.data = rebase(r.data);
      if (r.type === 'SRV') r.data = { ...r.data, target: rebase(r.data.target) };
      records.push(r);
    }
    const at = (n: string) => records.filter((r) => r.name.toLowerCase() === n);
    const qname = name.name;
    const exists = qname === name.origin || records.some((r) => r.name.toLowerCase() === qname || r.name.toLowerCase().endsWith('.' + qname));
    if (!exists) return { status: 'notfound', addresses: [], ttl: 0 };

    const selected = new Set<Answer>(at(qname));
    let owner = qname;
    for (let hop = 0; hop < MAX_CHAIN; hop++) {
      const cname = at(owner).find((r) => r.type === 'CNAME');
      if (!cname) break;
      owner = String((cname as { data: unknown }).data).toLowerCase();
      if (owner !== name.origin && !owner.endsWith('.' + name.origin)) break;
      for (const r of at(owner)) selected.add(r);
    }
    for (const r of [...selected]) {
      if (r.type !== 'SRV') continue;
      for (const glue of at((r as SrvAnswer).data.target.toLowerCase())) if (glue.type === 'A' || glue.type === 'AAAA') selected.add(glue);
    }
    const list = [...selected];
    const addresses: PeerAddress[] = at(owner)
      .filter((r) => r.type === 'A' || r.type === 'AAAA')
      .map((r) => ({ address: String((r as { data: unknown }).data), port: 0, family: r.type === 'A' ? 4 : 6 }));
    const ttl = list.length > 0 ? Math.min(...list.map((r) => (r as { ttl?: number }).ttl ?? left)) : left;
    return { status: 'found', addresses, records: list, ttl };
  }
}
