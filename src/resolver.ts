// The single entry point every surface uses. A query passes these steps in order:
// name → pkarr (public-key names: a signed packet, see src/pkarr/hook.ts) → identifier → own value? →
// cache → shared DHT search → addresses.
import type { OnPeer, Searcher } from './dht/node.js';
import type { KeyRing } from './identity/patterns.js';
import { identify, QueryError, type Identifier } from './identity/query.js';
import type { Logger } from './log.js';
import type { PkarrHook } from './pkarr/hook.js';
import { pkarrName, type PkarrName } from './pkarr/names.js';
import type { Family, NameResolver, PeerAddress, Resolution, ResolveOptions } from './types.js';

export interface OwnValues {
  portFor(id: Buffer): number | undefined;
}

/** Proves that an address holds the secret key of an id (the AUTH challenge); null: it did not. */
export interface AddressVerifier {
  verify(id: Buffer, publicKey: Buffer, peer: PeerAddress): Promise<PeerAddress['auth'] | null>;
}

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
}

export const DEFAULT_RESOLVER_OPTIONS: Omit<ResolverOptions, 'tld'> = {
  freshMs: 60_000,
  maxAgeMs: 30 * 60_000,
  staleMs: 24 * 60 * 60_000,
  maxCached: 4096,
  maxSearches: 256,
  maxAddresses: 32,
  maxSearchMs: 30_000,
};

// Own values never change under us; downstream caches may keep them as long as a fresh answer.
const OWN_VALUE_TTL = 60;

// RFC 8767 §4: stale answers carry a TTL of 30 s, and a refresh that failed is not tried again for 30 s.
const STALE_TTL = 30;
const STALE_RETRY_MS = 30_000;

interface CacheEntry {
  addresses: PeerAddress[];
  updatedAt: number;
  /** a refresh that reached no DHT node: the next one not before this */
  retryAt?: number;
}

interface Waiter {
  family: Family | undefined;
  wake(resolution: Resolution): void;
}

const hasFamily = (addresses: PeerAddress[], family: Family | undefined) => family === undefined ? addresses.length > 0 : addresses.some((a) => a.family === family);

// A keyed name may draw fake addresses from the DHT; check more candidates than we keep: up to
// maxAddresses * CANDIDATES_PER_ADDRESS, at most CANDIDATES_PER_RESPONDER of them from any one DHT node
// (a malicious node answers get_peers with as many fakes as fit), and beyond that, up to twice as many,
// only addresses that a second node reported too (the real address is stored by every honest node
// close to the id, a random fake one comes in a single reply). For that second report, addresses not
// taken are remembered: REPORTED_PER_RESPONDER from each node, MAX_REPORTED_PER_CANDIDATE times the
// candidates in all (oldest forgotten first), from at most MAX_RESPONDERS_PER_CANDIDATE times the
// candidates nodes.
const CANDIDATES_PER_ADDRESS = 4;
export const CANDIDATES_PER_RESPONDER = 8;
const REPORTED_PER_RESPONDER = 24;
const MAX_REPORTED_PER_CANDIDATE = 4;
const MAX_RESPONDERS_PER_CANDIDATE = 2;
/** our own store's values (the search's `from` is undefined for them) */
const SELF = '';

interface Responder {
  taken: number;
  reported: number;
}

/** Which addresses found for a keyed name are challenged (the rules above). */
class KeyedCandidates {
  /** responder IP → candidates taken from its replies, addresses remembered */
  private readonly responders = new Map<string, Responder>();
  /** address → the responder that reported it first, for addresses not taken */
  private readonly reported = new Map<string, string>();

  constructor(private readonly taken: Set<string>, private readonly soft: number) {}

  /** True: take `seen` (`address|port`), reported by the node at `from`, as a candidate now. */
  admit(seen: string, from: string): boolean {
    if (this.taken.has(seen)) return false;
    let responder = this.responders.get(from);
    if (!responder && this.responders.size < this.soft * MAX_RESPONDERS_PER_CANDIDATE) this.responders.set(from, (responder = { taken: 0, reported: 0 }));
    const first = this.reported.get(seen);
    const fair = responder !== undefined && responder.taken < CANDIDATES_PER_RESPONDER && this.taken.size < this.soft;
    const corroborated = first !== undefined && first !== from && this.taken.size < 2 * this.soft;
    if (!fair && !corroborated) {
      if (first === undefined && responder && responder.reported < REPORTED_PER_RESPONDER) this.remember(seen, from, responder);
      return false;
    }
    this.reported.delete(seen);
    this.taken.add(seen);
    if (responder) responder.taken++;
    return true;
  }

  private remember(seen: string, from: string, responder: Responder): void {
    responder.reported++;
    this.reported.set(seen, from);
    if (this.reported.size > this.soft * MAX_REPORTED_PER_CANDIDATE) this.reported.delete(this.reported.keys().next().value as string);
  }
}

interface Search {
  startedAt: number;
  addresses: PeerAddress[];
  candidates: Set<string>;
  waiters: Set<Waiter>;
  controller: AbortController;
  /** DHT nodes that answered the walk (0: the DHT was not reached) */
  answered: number;
}

export class Resolver implements NameResolver {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly searches = new Map<string, Search>();
  private stopped = false;
  /** bumped whenever an answer could change (the DNS packet cache compares it; see ChangeCounter in surfaces/dns.ts) */
  private changes = 0;
  /** lookups of DHT names answered from the cache, and those that had to wait for a search (the dashboard's hit ratio) */
  readonly counters = { cacheHits: 0, cacheMisses: 0 };

  private readonly dht: Searcher;
  private readonly log: Logger;

  constructor(
    private readonly deps: ResolverDeps,
    private readonly options: ResolverOptions,
    private readonly now: () => number = Date.now,
  ) {
    this.dht = deps.dht;
    this.log = deps.log;
  }

  async resolve(name: string, options: ResolveOptions): Promise<Resolution> {
    const pkarr = this.deps.pkarr ? pkarrName(name, this.options.tld) : null;
    if (pkarr) return this.resolvePkarr(name, pkarr, options);
    return this.resolveAddresses(name, options);
  }

  /**
   * Step "pkarr": a valid signed packet answers first. For the key itself (`<z32>`) the announced,
   * AUTH-verified addresses are looked for at the same time and answer when the key has no packet, so
   * the name works however its owner publishes; names below the key exist only in the packet.
   */
  private async resolvePkarr(name: string, pname: PkarrName, options: ResolveOptions): Promise<Resolution> {
    const hook = this.deps.pkarr!;
    const hit = hook.cached(pname.publicKey);
    if (hit && hit !== 'miss') return hook.resolution(hit, pname);
    const lookup = hook.lookup(pname.publicKey, options.timeoutMs);
    const fallback = pname.sub === '' ? this.resolveAddresses(name, options) : null;
    fallback?.catch(() => undefined); // awaited below only without a packet
    const result = await lookup;
    if (result.status === 'found') return hook.resolution(result.entry, pname);
    if (fallback) return fallback;
    return { status: result.status, addresses: [], ttl: 0 };
  }

  private async resolveAddresses(name: string, { timeoutMs, family: asked }: ResolveOptions): Promise<Resolution> {
    // AAAA on an IPv4-only node answers on the first address (NODATA) instead of waiting for the deadline.
    const family = asked !== undefined && (this.deps.families?.() ?? [4, 6]).includes(asked) ? asked : undefined;
    let ident: Identifier;
    try {
      ident = identify(name, this.options.tld, this.deps.keys);
    } catch (err) {
      if (err instanceof QueryError) return { status: 'invalid', addresses: [], ttl: 0, reason: err.message };
      throw err;
    }

    const ownPort = this.deps.own.portFor(ident.id);
    if (ownPort !== undefined) {
      return { status: 'found', addresses: [{ address: '127.0.0.1', port: ownPort, family: 4 }, { address: '::1', port: ownPort, family: 6 }], ttl: OWN_VALUE_TTL };
    }

    // A keyed name's answers are verified ones: never shared with a raw-id lookup of the same id, whose
    // answers are not (a lookup of the 40-hex id would otherwise fill the keyed name's cache).
    const key = ident.publicKey ? `${ident.id.toString('hex')}/${ident.publicKey.toString('hex')}` : ident.id.toString('hex');
    const cached = this.cached(key);
    if (cached) this.counters.cacheHits++;
    else this.counters.cacheMisses++;
    if (cached) {
      const age = this.now() - cached.updatedAt;
      if (age >= this.options.freshMs && (cached.retryAt ?? 0) <= this.now()) this.startSearch(key, ident);
      const stale = age >= this.options.maxAgeMs;
      return { status: 'found', addresses: cached.addresses, ttl: stale ? STALE_TTL : this.ttlFor(age) };
    }

    return this.waitForSearch(key, ident, timeoutMs, family);
  }

  /** A new number whenever addresses were found, dropped or expired; own values and pkarr are not counted. */
  generation(): number {
    return this.changes;
  }

  /** Cached answers, newest use last. */
  cachedEntries(): { id: string; addresses: PeerAddress[]; ageMs: number }[] {
    const now = this.now();
    return [...this.cache].map(([key, e]) => ({ id: key.slice(0, 40), addresses: e.addresses, ageMs: now - e.updatedAt }));
  }

  runningSearches(): { id: string; addresses: PeerAddress[]; candidates: number; ageMs: number }[] {
    const now = this.now();
    return [...this.searches].map(([key, s]) => ({ id: key.slice(0, 40), addresses: s.addresses, candidates: s.candidates.size, ageMs: now - s.startedAt }));
  }

  /** Forget an address everywhere (blacklisted). */
  dropAddress(address: string): void {
    this.changes++;
    for (const [key, entry] of this.cache) {
      entry.addresses = entry.addresses.filter((a) => a.address !== address);
      if (entry.addresses.length === 0) this.cache.delete(key);
    }
    for (const search of this.searches.values()) {
      const kept = search.addresses.filter((a) => a.address !== address);
      search.addresses.splice(0, search.addresses.length, ...kept);
    }
  }

  stats(): { searches: number; cached: number } {
    return { searches: this.searches.size, cached: this.cache.size };
  }

  stop(): void {
    this.stopped = true;
    for (const search of this.searches.values()) search.controller.abort();
  }

  private ttlFor(age: number): number {
    return Math.max(5, Math.ceil((this.options.freshMs - age) / 1000));
  }

  private cached(key: string): CacheEntry | undefined {
    const entry = this.cache.get(key);
    if (!entry) return undefined;
    if (this.now() - entry.updatedAt >= this.options.staleMs) {
      this.changes++;
      this.cache.delete(key);
      return undefined;
    }
    // Map order doubles as LRU order.
    this.cache.delete(key);
    this.cache.set(key, entry);
    return entry;
  }

  private waitForSearch(key: string, ident: Identifier, timeoutMs: number, family: Family | undefined): Promise<Resolution> {
    const search = this.searches.get(key) ?? this.startSearch(key, ident);
    if (!search) return Promise.resolve({ status: 'busy', addresses: [], ttl: 0, reason: 'too many searches' });
    if (hasFamily(search.addresses, family)) return Promise.resolve(this.found(search.addresses));
    return new Promise((resolve) => {
      const waiter: Waiter = {
        family,
        wake: (resolution) => {
          clearTimeout(timer);
          search.waiters.delete(waiter);
          resolve(resolution);
        },
      };
      const timer = setTimeout(() => waiter.wake({ status: 'timeout', addresses: [], ttl: 0 }), timeoutMs);
      search.waiters.add(waiter);
    });
  }

  private found(addresses: PeerAddress[]): Resolution {
    return { status: 'found', addresses: [...addresses], ttl: this.ttlFor(0) };
  }

  private startSearch(key: string, ident: Identifier): Search | undefined {
    const running = this.searches.get(key);
    if (running) return running;
    if (this.stopped || this.searches.size >= this.options.maxSearches) return undefined;
    const search: Search = { startedAt: this.now(), addresses: [], candidates: new Set(), waiters: new Set(), controller: new AbortController(), answered: 0 };
    this.searches.set(key, search);
    const accept = (peer: PeerAddress) => {
      if (search.addresses.length >= this.options.maxAddresses) return;
      search.addresses.push(peer);
      this.changes++;
      // First address of the family a waiter asked for: answer it now rather than at the end of the walk.
      for (const waiter of [...search.waiters]) if (hasFamily([peer], waiter.family)) waiter.wake(this.found(search.addresses));
    };
    const { publicKey } = ident;
    const verifier = ident.kind === 'bob' ? this.deps.bobVerifier : this.deps.verifier;
    const checks: Promise<void>[] = [];
    const deadline = setTimeout(() => {
      this.log.debug(`search ${key} ran too long: ended`);
      search.controller.abort();
    }, this.options.maxSearchMs ?? DEFAULT_RESOLVER_OPTIONS.maxSearchMs);
    deadline.unref();
    const keyed = publicKey ? new KeyedCandidates(search.candidates, this.options.maxAddresses * CANDIDATES_PER_ADDRESS) : null;
    const onPeer: OnPeer = (peer, from = SELF) => {
      const seen = `${peer.address}|${peer.port}`;
      if (!keyed || !publicKey) {
        if (search.candidates.has(seen) || search.candidates.size >= this.options.maxAddresses) return;
        search.candidates.add(seen);
        return accept(peer);
      }
      if (!keyed.admit(seen, from)) return;
      // Unverified addresses of a keyed name never reach an answer.
      if (verifier) checks.push(verifier.verify(ident.id, publicKey, peer).then((proof) => (proof ? accept({ ...peer, auth: proof }) : undefined)));
    };
    this.dht
      .search(ident.id, onPeer, search.controller.signal)
      .then((answered) => {
        search.answered = answered;
        return Promise.all(checks);
      })
      .catch((err: Error) => this.log.warn(`search ${key} failed: ${err.message}`))
      .finally(() => {
        clearTimeout(deadline);
        this.finishSearch(key, search);
      });
    return search;
  }

  private finishSearch(key: string, search: Search): void {
    this.changes++;
    this.searches.delete(key);
    const previous = this.cache.get(key);
    if (search.addresses.length > 0) {
      this.cache.delete(key);
      this.cache.set(key, { addresses: search.addresses, updatedAt: this.now() });
      while (this.cache.size > this.options.maxCached) this.cache.delete(this.cache.keys().next().value as string);
    } else if (previous && search.answered === 0) {
      // The DHT was not reached (offline, filtered): keep serving the stale answer, try again later.
      previous.retryAt = this.now() + STALE_RETRY_MS;
    } else if (previous && this.now() - previous.updatedAt >= this.options.maxAgeMs) {
      // The DHT answered and the name is not there any more.
      this.cache.delete(key);
    }
    // A search that found nothing is not cached: the next query searches again.
    const outcome: Resolution = search.addresses.length > 0 ? this.found(search.addresses) : { status: 'notfound', addresses: [], ttl: 0 };
    for (const waiter of [...search.waiters]) waiter.wake(outcome);
  }
}
