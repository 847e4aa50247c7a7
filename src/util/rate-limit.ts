// Per-source rate limit (DNS queries, relay PUTs): a token bucket per source, in a bounded table.
//
// Each source may send `perSecond` queries a second on average and `burst` at once. The table holds at
// most `maxSources` buckets; a new source beyond that takes the place of the one heard from least
// recently (whose bucket has had the longest time to refill, so forgetting it costs nothing). The
// default exempts loopback: dnsmasq or systemd-resolved in front of kadnode send every client's queries
// from one loopback address, so a per-source limit there would throttle the whole host; the limit is
// for remote sources when --dns-addr binds a public address.

export interface RateLimitOptions {
  /** tokens added per second (sustained queries a second) */
  perSecond: number;
  /** bucket size (queries at once after a quiet spell) */
  burst: number;
  /** sources tracked at once */
  maxSources: number;
  /** 127.0.0.0/8 and ::1 are never limited */
  exemptLoopback?: boolean;
}

export const DEFAULT_DNS_RATE_LIMIT: RateLimitOptions = { perSecond: 1000, burst: 2000, maxSources: 4096, exemptLoopback: true };

const isLoopback = (address: string): boolean => address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');

interface Bucket {
  tokens: number;
  at: number;
}

export class SourceRateLimiter {
  // Map order is least recently heard first: every allow() moves its source to the end.
  private readonly buckets = new Map<string, Bucket>();
  /** queries refused since start */
  limited = 0;

  constructor(private readonly options: RateLimitOptions, private readonly now: () => number = () => performance.now()) {}

  /** Takes a token for the source; false when its bucket is empty (the query is over the limit). */
  allow(source: string): boolean {
    if (this.options.exemptLoopback && isLoopback(source)) return true;
    const now = this.now();
    let bucket = this.buckets.get(source);
    if (bucket) {
      this.buckets.delete(source);
      bucket.tokens = Math.min(this.options.burst, bucket.tokens + ((now - bucket.at) * this.options.perSecond) / 1000);
      bucket.at = now;
    } else {
      if (this.buckets.size >= this.options.maxSources) this.buckets.delete(this.buckets.keys().next().value as string);
      bucket = { tokens: this.options.burst, at: now };
    }
    this.buckets.set(source, bucket);
    if (bucket.tokens < 1) {
      this.limited++;
      return false;
    }
    bucket.tokens -= 1;
    return true;
  }

  /** sources tracked now */
  get size(): number {
    return this.buckets.size;
  }
}
