// The query chain every surface uses (src/chain/chain.ts), put together in its one order, as CoreDNS's
// plugin.cfg does:
//
//   route (once: pkarr zone | TLD | upstream | refuse, src/chain/route.ts), then the steps of the route:
//   pkarr → identify → own values → cache → DHT search (verify) → upstream
//
// pkarr        signed packets of public-key names (pkarr-step.ts; pkarr route only)
// identify     the DHT id of the name; invalid names end here (identify-step.ts)
// own values   names we announce answer with loopback (own-step.ts)
// cache        found answers, stale-while-refresh (cache-step.ts)
// DHT search   shared searches, addresses verified for keyed names (search-step.ts, verify.ts)
// upstream     proxy mode: DNS messages for names outside the TLD (upstream-step.ts; upstream route only)
//
// Besides answering, the Resolver shows its tables (status, `list results`, `list searches`) and forgets
// blacklisted addresses.
import type { Searcher } from './dht/node.js';
import type { KeyRing } from './identity/patterns.js';
import type { Logger } from './log.js';
import type { PkarrHook } from './pkarr/hook.js';
import type { Family, PeerAddress } from './types.js';
import { AnswerCache, CacheStep } from './chain/cache-step.js';
import { QueryChain, type Step } from './chain/chain.js';
import { IdentifyStep } from './chain/identify-step.js';
import { OwnValuesStep, type OwnValues } from './chain/own-step.js';
import { PkarrStep } from './chain/pkarr-step.js';
import { SearchStep } from './chain/search-step.js';
import type { UpstreamStep } from './chain/upstream-step.js';
import type { AddressVerifier } from './chain/verify.js';

export type { OwnValues } from './chain/own-step.js';
export type { AddressVerifier } from './chain/verify.js';
export { CANDIDATES_PER_RESPONDER } from './chain/verify.js';

export interface ResolverDeps {
  dht: Searcher;
  own: OwnValues;
  log: Logger;
  keys?: KeyRing;
  verifier?: AddressVerifier;
  /** the same for KadNode 2.x key names (identify() kind 'bob': P-256, src/dht/bob-auth.ts) */
  bobVerifier?: AddressVerifier;
  /** signed packets for public-key names (`<z32>`, `foo.<z32>`, also under the TLD) */
  pkarr?: PkarrHook;
  /** the address families the running DHTs can find; a query for another family waits for none */
  families?: () => readonly Family[];
  /** proxy mode (--dns-server): the last step, for DNS queries of names outside the TLD */
  upstream?: UpstreamStep | null;
}

export interface ResolverOptions {
  tld: string;
  /** answers younger than this are served as they are; older ones trigger a refresh search */
  freshMs: number;
  /**
   * answers older than this are stale (announcements live about 30 min on the DHT): served at once with
   * STALE_TTL while a refresh runs (RFC 8767), until the refresh finds the name gone or staleMs passes
   */
  maxAgeMs: number;
  /** stale answers are dropped after this; a name that resolved within it is never SERVFAIL while refreshing */
  staleMs: number;
  maxCached: number;
  maxSearches: number;
  maxAddresses: number;
  /** a search still running after this is ended (a walk that never finishes must not hold a search slot for good) */
  maxSearchMs?: number;
  /** a walk goes on this long after its first address, for other announcers' addresses, then ends */
  walkAfterAnswerMs?: number;
}

export const DEFAULT_RESOLVER_OPTIONS: Omit<ResolverOptions, 'tld'> = {
  freshMs: 60_000,
  maxAgeMs: 30 * 60_000,
  staleMs: 24 * 60 * 60_000,
  maxCached: 4096,
  maxSearches: 256,
  maxAddresses: 32,
  maxSearchMs: 30_000,
  walkAfterAnswerMs: 1000,
};

/**
 * The daemon's query chain (route, run, resolve, stop: chain.ts) with its tables. Its generation()
 * changes whenever addresses were found, dropped or expired; own values and pkarr are not counted.
 */
export class Resolver extends QueryChain {
  /** lookups of DHT names answered from the cache, and those that had to wait for a search (the dashboard's hit ratio) */
  readonly counters: { cacheHits: number; cacheMisses: number };
  private readonly cache: AnswerCache;
  private readonly search: SearchStep;

  constructor(deps: ResolverDeps, options: ResolverOptions, now: () => number = Date.now) {
    const { tld } = options;
    const answers = new AnswerCache(options, now);
    const maxSearchMs = options.maxSearchMs ?? DEFAULT_RESOLVER_OPTIONS.maxSearchMs!;
    const walkAfterAnswerMs = options.walkAfterAnswerMs ?? DEFAULT_RESOLVER_OPTIONS.walkAfterAnswerMs!;
    const search = new SearchStep({ ...deps, cache: answers }, { ...options, maxSearchMs, walkAfterAnswerMs }, now);
    const cache = new CacheStep({ cache: answers, refresh: (query) => search.refresh(query) }, now);
    const steps: Step[] = [
      ...(deps.pkarr ? [new PkarrStep({ pkarr: deps.pkarr })] : []),
      new IdentifyStep({ keys: deps.keys }, { tld }),
      new OwnValuesStep({ own: deps.own }),
      cache,
      search,
      ...(deps.upstream ? [deps.upstream] : []),
    ];
    super(steps, { tld, upstream: deps.upstream?.upstream ?? null });
    this.cache = answers;
    this.search = search;
    this.counters = cache.counters;
  }

  /** Cached answers, newest use last. */
  cachedEntries(): { id: string; addresses: PeerAddress[]; ageMs: number }[] {
    return this.cache.list();
  }

  runningSearches(): { id: string; addresses: PeerAddress[]; candidates: number; ageMs: number }[] {
    return this.search.running();
  }

  /** Forget an address everywhere (blacklisted). */
  dropAddress(address: string): void {
    this.cache.dropAddress(address);
    this.search.dropAddress(address);
  }

  stats(): { searches: number; cached: number } {
    return { searches: this.search.size, cached: this.cache.size };
  }
}
