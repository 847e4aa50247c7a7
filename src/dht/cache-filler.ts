// The cache filler: asks the nodes that replies only named (never heard from ourselves) for the nodes
// they know near a random id, a few a second while the DHT is otherwise quiet, so the node cache
// (node-cache.ts) learns which nodes answer and how fast, spread over the whole id space.
//
// Why: a plain name is answered once two of the nodes storing it agree (src/chain/plain-candidates.ts).
// A walk starts from the cached nodes closest to its target; when the cache holds two of the storers, the
// answer takes one round trip, when it holds one or none, two or three. What a daemon knows otherwise
// comes from the walks it happened to make, bunched around their targets (in `npm run bench -- mainline`
// the warm lookups' p50 went from about 200 ms to about 160 with the filler). This is the
// "larger routing table" of Jimenez, Osmani & Knutsson (IEEE P2P 2011) that took their lookups under a
// second, kept as the node cache rather than as more nodes per k-bucket (k-bucket's table is the
// library's, and bittorrent-dht pings its full buckets' old nodes for every new one).
//
// Bounded, and a good citizen: one query per named node (the cache keeps one node per address, so replies
// cannot aim it at one host), oldest named first (each reply names up to 8 more, which keeps the crawl
// going while there is something to learn and stops it once every node named has been asked: in a small
// network within seconds), at most `perSecond` of them, only while fewer than IDLE_SLOTS queries hold the
// DHT's slots (lookups go first), and none once the cache is full.
import { randomBytes } from '../identity/keys.js';
import type { DhtLibrary } from './library-types.js';

export interface CacheFillerDeps {
  /** the node's libraries while it runs, else null */
  library(): DhtLibrary | null;
  isBlocked(host: string): boolean;
}

export interface CacheFillerOptions {
  /** named nodes asked a second at most (default 8: about 1 KB/s out, 3 KB/s back; 0 turns the filler off) */
  perSecond?: number;
}

export const FILL_PER_SECOND = 8;
// a tick sends perSecond / TICKS_PER_SECOND queries (the rest carried to the next)
const TICKS_PER_SECOND = 4;
// the filler asks only while fewer queries than this hold slots: a third of QUERY_SLOTS, the share that
// walks with an answer leave busy too (krpc-scheduler.ts)
const IDLE_SLOTS = 8;
const ID_LENGTH = 20;

export class CacheFiller {
  private timer: NodeJS.Timeout | null = null;
  private credit = 0;
  /** named nodes asked */
  asked = 0;

  constructor(private readonly deps: CacheFillerDeps, private readonly options: CacheFillerOptions = {}) {}

  start(): void {
    if ((this.options.perSecond ?? FILL_PER_SECOND) <= 0 || this.timer) return;
    this.timer = setInterval(() => this.tick(), 1000 / TICKS_PER_SECOND);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Asks up to this tick's share of named nodes while the DHT is quiet and the cache has room. */
  tick(): void {
    const lib = this.deps.library();
    if (!lib || lib.dht.destroyed) return;
    const { cache } = lib.slots;
    const perTick = (this.options.perSecond ?? FILL_PER_SECOND) / TICKS_PER_SECOND;
    // unused credit is not saved up: a quiet minute must not turn into a burst
    this.credit = Math.min(this.credit + perTick, Math.max(1, perTick));
    while (this.credit >= 1 && cache.size < cache.maxNodes && lib.slots.active() + lib.rpc.pending.length < IDLE_SLOTS) {
      const node = cache.takeNamed();
      if (!node) return;
      if (this.deps.isBlocked(node.host)) continue;
      this.credit--;
      this.asked++;
      // the reply (or its time-out) reaches the cache through rememberAnsweringNodes (krpc-scheduler.ts)
      lib.rpc.query({ host: node.host, port: node.port }, { q: 'find_node', a: { id: lib.rpc.id, target: randomBytes(ID_LENGTH) } }, () => undefined);
    }
  }
}
