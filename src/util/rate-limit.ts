// Per-source rate limit (DNS queries, relay PUTs): a token bucket per source, in a bounded table.
//
// Each source may send `perSecond` queries a second on average and `burst` at once. The table holds at
// most `maxSources` buckets; a new source beyond that takes the place of the one heard from least
// recently (whose bucket has had the longest time to refill, so forgetting it costs nothing). The
// default exempts loopback: dnsmasq or systemd-resolved in front of kadnode send every client's queries
// from one loopback address, so a per-source limit there would throttle the whole host; the limit is
// for remote sources when --dns-addr binds a public address.
// takeToken() is the one token bucket: the NSS surface keeps a single one for all its requests.

import { BoundedMap } from './bounded-map.js';
import { isLoopback } from './host-port.js';

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

/** A token bucket: `tokens` left when last refilled `at` (ms). */
export interface Bucket {
  tokens: number;
  at: number;
}

/** Refills the bucket for the time since `at` (perSecond a second, at most burst) and takes one token; false when none is left. */
export function takeToken(bucket: Bucket, now: number, perSecond: number, burst: number): boolean {
  bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) * perSecond) / 1000);
  bucket.at = now;
  if (bucket.tokens < 1) return false;
  bucket.tokens -= 1;
  return true;
}

export class SourceRateLimiter {
  // Least recently heard first: every allow() makes its source the newest.
  private readonly buckets: BoundedMap<string, Bucket>;
  /** queries refused since start */
  limited = 0;

  constructor(private readonly options: RateLimitOptions, private readonly now: () => number = () => performance.now()) {
    this.buckets = new BoundedMap(options.maxSources);
  }

  /** Takes a token for the source; false when its bucket is empty (the query is over the limit). */
  allow(source: string): boolean {
    if (this.options.exemptLoopback && isLoopback(source)) return true;
    const now = this.now();
    const bucket = this.buckets.get(source) ?? { tokens: this.options.burst, at: now };
    this.buckets.set(source, bucket);
    if (takeToken(bucket, now, this.options.perSecond, this.options.burst)) return true;
    this.limited++;
    return false;
  }

  /** sources tracked now */
  get size(): number {
    return this.buckets.size;
  }
}
