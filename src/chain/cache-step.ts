// Step "cache": answers found by DHT searches, kept by id (stale-while-refresh, RFC 8767). Younger than
// freshMs an answer is served as it is; older, it is served and a refresh search starts; older than
// maxAgeMs (announcements live about 30 min on the DHT) it is stale: served with STALE_TTL while the
// refresh runs, until the refresh finds the name gone or staleMs passes. A name that resolved within
// staleMs is never SERVFAIL while its refresh is running. The search step (search-step.ts) settles its
// results here.
import type { Identifier } from '../identity/query.js';
import type { PeerAddress, Resolution } from '../types.js';
import type { Next, Query, Step } from './chain.js';
import { identOf } from './identify-step.js';
import { BoundedMap } from '../util/bounded-map.js';

export interface AnswerCacheOptions {
  /** answers younger than this are served as they are; older ones trigger a refresh search */
  freshMs: number;
  /** answers older than this are stale: served at once with STALE_TTL while a refresh runs */
  maxAgeMs: number;
  /** stale answers are dropped after this */
  staleMs: number;
  maxCached: number;
}

// RFC 8767 §4: stale answers carry a TTL of 30 s, and a refresh that failed is not tried again for 30 s.
const STALE_TTL = 30;
const STALE_RETRY_MS = 30_000;

interface CacheEntry {
  addresses: PeerAddress[];
  updatedAt: number;
  /** a refresh that reached no DHT node: the next one not before this */
  retryAt?: number;
}

/**
 * The cache and search key of an identifier. A keyed name's answers are verified ones: never shared with
 * a raw-id lookup of the same id, whose answers are not (a lookup of the 40-hex id would otherwise fill
 * the keyed name's cache).
 */
export function cacheKey(ident: Identifier): string {
  return ident.publicKey ? `${ident.id.toString('hex')}/${ident.publicKey.toString('hex')}` : ident.id.toString('hex');
}

/** The TTL of an answer `age` ms old: what is left of freshMs, at least 5 s. */
export function ttlFor(age: number, freshMs: number): number {
  return Math.max(5, Math.ceil((freshMs - age) / 1000));
}

export class AnswerCache {
  /** a hit makes its entry the newest (LRU) */
  private readonly entries: BoundedMap<string, CacheEntry>;
  /** bumped whenever an answer could change (the DNS packet cache compares it) */
  private changes = 0;

  constructor(readonly options: AnswerCacheOptions, private readonly now: () => number = Date.now) {
    this.entries = new BoundedMap(options.maxCached, { lru: true });
  }

  get(key: string): CacheEntry | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (this.now() - entry.updatedAt >= this.options.staleMs) {
      this.changes++;
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  /** A search of `key` ended with these addresses; `answered`: DHT nodes that answered it (0: not reached). */
  settle(key: string, addresses: PeerAddress[], answered: number): void {
    this.changes++;
    const previous = this.entries.peek(key);
    if (addresses.length > 0) {
      this.entries.set(key, { addresses, updatedAt: this.now() });
    } else if (previous && answered === 0) {
      // The DHT was not reached (offline, filtered): keep serving the stale answer, try again later.
      previous.retryAt = this.now() + STALE_RETRY_MS;
    } else if (previous && this.now() - previous.updatedAt >= this.options.maxAgeMs) {
      // The DHT answered and the name is not there any more.
      this.entries.delete(key);
    }
    // A search that found nothing is not cached: the next query searches again.
  }

  /** An answer elsewhere (a running search) changed. */
  changed(): void {
    this.changes++;
  }

  generation(): number {
    return this.changes;
  }

  /** Forget an address (blacklisted). */
  dropAddress(address: string): void {
    this.changes++;
    for (const [key, entry] of this.entries) {
      entry.addresses = entry.addresses.filter((a) => a.address !== address);
      if (entry.addresses.length === 0) this.entries.delete(key);
    }
  }

  /** Cached answers, newest use last. */
  list(): { id: string; addresses: PeerAddress[]; ageMs: number }[] {
    const now = this.now();
    return [...this.entries].map(([key, e]) => ({ id: key.slice(0, 40), addresses: e.addresses, ageMs: now - e.updatedAt }));
  }

  get size(): number {
    return this.entries.size;
  }
}

export class CacheStep implements Step {
  readonly name = 'cache';
  readonly routes = ['pkarr', 'tld'] as const;
  /** lookups answered from the cache, and those passed on to a search (the dashboard's hit ratio) */
  readonly counters = { cacheHits: 0, cacheMisses: 0 };

  constructor(
    private readonly deps: { cache: AnswerCache; refresh(query: Query): void },
    private readonly now: () => number = Date.now,
  ) {}

  async run(query: Query, next: Next): Promise<Resolution> {
    const { cache } = this.deps;
    const cached = cache.get(cacheKey(identOf(query)));
    if (!cached) {
      this.counters.cacheMisses++;
      return next(query);
    }
    this.counters.cacheHits++;
    const { freshMs, maxAgeMs } = cache.options;
    const age = this.now() - cached.updatedAt;
    if (age >= freshMs && (cached.retryAt ?? 0) <= this.now()) this.deps.refresh(query);
    return { status: 'found', addresses: cached.addresses, ttl: age >= maxAgeMs ? STALE_TTL : ttlFor(age, freshMs) };
  }

  generation(): number {
    return this.deps.cache.generation();
  }
}
