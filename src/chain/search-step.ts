// Step "DHT search": one shared search per id (a second query for the same name waits for the running
// one), answering each waiter at the first address of the family it asked for rather than at the end of
// the walk; addresses pass the verify rules (verify.ts: a plain name's once storers of its id agree on
// them) first. A search ends when the walk does, walkAfterAnswerMs after its first address, or after
// maxSearchMs, and its result goes to the cache (cache-step.ts); at most maxSearches run at once.
import type { Searcher } from '../dht/node-types.js';
import type { Identifier } from '../identity/query.js';
import type { Logger } from '../log.js';
import type { Family, PeerAddress, Resolution } from '../types.js';
import { cacheKey, ttlFor, type AnswerCache } from './cache-step.js';
import type { Next, Query, Step } from './chain.js';
import { identOf } from './identify-step.js';
import { storerZone } from './plain-candidates.js';
import { candidateSink, type Verifiers } from './verify.js';

export interface SearchStepOptions {
  /** answers carry what is left of this as TTL (the cache's freshMs) */
  freshMs: number;
  maxSearches: number;
  maxAddresses: number;
  /** a search still running after this is ended (a walk that never finishes must not hold a search slot for good) */
  maxSearchMs: number;
  /**
   * a walk ends this long after its first address unless someone still waits (for the other family):
   * at internet round trips a walk goes on for seconds to reach the closest nodes, and its queries hold
   * the DHT's slots that the next lookup needs
   */
  walkAfterAnswerMs: number;
}

export interface SearchStepDeps extends Verifiers {
  dht: Searcher;
  log: Logger;
  cache: AnswerCache;
  /** the address families the running DHTs can find; a query for another family waits for none */
  families?: (() => readonly Family[]) | undefined;
}

interface Waiter {
  family: Family | undefined;
  wake(resolution: Resolution): void;
}

interface Search {
  startedAt: number;
  addresses: PeerAddress[];
  candidates: Set<string>;
  waiters: Set<Waiter>;
  controller: AbortController;
  /** DHT nodes that answered the walk (0: the DHT was not reached) */
  answered: number;
  /** ends the walk walkAfterAnswerMs after the first address */
  tail?: NodeJS.Timeout;
}

const hasFamily = (addresses: PeerAddress[], family: Family | undefined) => family === undefined ? addresses.length > 0 : addresses.some((a) => a.family === family);

export class SearchStep implements Step {
  readonly name = 'DHT search';
  readonly routes = ['pkarr', 'tld'] as const;
  private readonly searches = new Map<string, Search>();
  private stopped = false;

  constructor(
    private readonly deps: SearchStepDeps,
    private readonly options: SearchStepOptions,
    private readonly now: () => number = Date.now,
  ) {}

  async run(query: Query, _next: Next): Promise<Resolution> {
    // AAAA on an IPv4-only node answers on the first address (NODATA) instead of waiting for the deadline.
    const asked = query.family;
    const family = asked !== undefined && (this.deps.families?.() ?? [4, 6]).includes(asked) ? asked : undefined;
    const ident = identOf(query);
    const key = cacheKey(ident);
    const search = this.searches.get(key) ?? this.start(key, ident);
    if (!search) return { status: 'busy', addresses: [], ttl: 0, reason: 'too many searches' };
    if (hasFamily(search.addresses, family)) return this.found(search.addresses);
    return new Promise((resolve) => {
      const waiter: Waiter = {
        family,
        wake: (resolution) => {
          clearTimeout(timer);
          search.waiters.delete(waiter);
          resolve(resolution);
        },
      };
      const timer = setTimeout(() => waiter.wake({ status: 'timeout', addresses: [], ttl: 0 }), query.timeoutMs);
      search.waiters.add(waiter);
    });
  }

  /** A search in the background (the cache's refresh of an aged answer); nothing waits for it. */
  refresh(query: Query): void {
    const ident = identOf(query);
    this.start(cacheKey(ident), ident);
  }

  running(): { id: string; addresses: PeerAddress[]; candidates: number; ageMs: number }[] {
    const now = this.now();
    return [...this.searches].map(([key, s]) => ({ id: key.slice(0, 40), addresses: s.addresses, candidates: s.candidates.size, ageMs: now - s.startedAt }));
  }

  get size(): number {
    return this.searches.size;
  }

  /** Forget an address in the running searches (blacklisted). */
  dropAddress(address: string): void {
    for (const search of this.searches.values()) {
      const kept = search.addresses.filter((a) => a.address !== address);
      search.addresses.splice(0, search.addresses.length, ...kept);
    }
  }

  stop(): void {
    this.stopped = true;
    for (const search of this.searches.values()) search.controller.abort();
  }

  private found(addresses: PeerAddress[]): Resolution {
    return { status: 'found', addresses: [...addresses], ttl: ttlFor(0, this.options.freshMs) };
  }

  private start(key: string, ident: Identifier): Search | undefined {
    const running = this.searches.get(key);
    if (running) return running;
    if (this.stopped || this.searches.size >= this.options.maxSearches) return undefined;
    const search: Search = { startedAt: this.now(), addresses: [], candidates: new Set(), waiters: new Set(), controller: new AbortController(), answered: 0 };
    this.searches.set(key, search);
    const accept = (peer: PeerAddress) => {
      if (search.addresses.length >= this.options.maxAddresses) return;
      this.deps.log.debug(`search ${key}: ${peer.address} taken after ${this.now() - search.startedAt} ms`);
      if (!search.tail) this.endLater(search);
      search.addresses.push(peer);
      this.deps.cache.changed();
      // First address of the family a waiter asked for: answer it now rather than at the end of the walk.
      for (const waiter of [...search.waiters]) if (hasFamily([peer], waiter.family)) waiter.wake(this.found(search.addresses));
    };
    const { onPeer, onReply, settle, checks } = candidateSink(ident, this.deps, search.candidates, this.options.maxAddresses, accept, this.zoneFor(key));
    const deadline = setTimeout(() => {
      this.deps.log.debug(`search ${key} ran too long: ended`);
      search.controller.abort();
    }, this.options.maxSearchMs);
    deadline.unref();
    this.deps.dht
      .search(ident.id, onPeer, search.controller.signal, onReply)
      .then((answered) => {
        search.answered = answered;
        settle();
        return Promise.all(checks);
      })
      .catch((err: Error) => this.deps.log.warn(`search ${key} failed: ${err.message}`))
      .finally(() => {
        clearTimeout(deadline);
        clearTimeout(search.tail);
        this.finish(key, search);
      });
    return search;
  }

  /** Ends the walk walkAfterAnswerMs from now, or as long after that as someone waits for it. */
  private endLater(search: Search): void {
    search.tail = setTimeout(() => (search.waiters.size === 0 ? search.controller.abort() : this.endLater(search)), this.options.walkAfterAnswerMs);
    search.tail.unref();
  }

  /** where the storers of an id sit in the DHT as big as it looks now (plain-candidates.ts) */
  private zoneFor(key: string): number | null {
    const size = this.deps.dht.sizeEstimate?.() ?? null;
    this.deps.log.debug(`search ${key}: DHT of ${size === null ? 'unknown size' : `about ${Math.round(size)} nodes`}`);
    return storerZone(size);
  }

  private finish(key: string, search: Search): void {
    this.searches.delete(key);
    this.deps.log.debug(`search ${key}: walk ended after ${this.now() - search.startedAt} ms, ${search.answered} nodes answered, ${search.addresses.length} addresses`);
    this.deps.cache.settle(key, search.addresses, search.answered);
    const outcome: Resolution = search.addresses.length > 0 ? this.found(search.addresses) : { status: 'notfound', addresses: [], ttl: 0 };
    for (const waiter of [...search.waiters]) waiter.wake(outcome);
  }
}
