// A packet cache in front of the DNS surface (as PowerDNS has): whole encoded answers by the raw bytes
// of the query after its ID, so a repeated query is answered with a copy of the bytes and its own ID,
// without dns-packet, the identifier digest or the resolver.
//
// Only the bytes are compared, never parsed here: a query is a candidate when its header says QUERY with
// one question and no QR bit; everything after the ID (flags such as RD, counts, question with its exact
// case, the OPT record with its UDP size) is part of the key, so two queries share an entry only when
// dns-packet would have parsed them the same and buildResponse would have answered them the same. The
// transport is part of the key too: a UDP answer is bounded by the client's UDP size, a TCP one is not.
//
// Staleness: an entry is served only while (1) the resolver's generation (see ChangeCounter in dns.ts) is
// the one read before the resolver was asked, and (2) it is younger than its lifetime, at most
// MAX_LIFETIME_MS (1 s) and never longer than the answer's TTL. (1) makes a change of the resolver's
// cache (a search adding or finishing with addresses, an address blacklisted, an entry expiring) visible
// at once, as without this cache. (2) covers what the resolver cannot count: own values added or removed
// through the control port, TTLs counting down, and the resolver's own bookkeeping (a cached name older
// than its fresh time starts its refresh search only when a query reaches the resolver, and its LRU order
// follows queries): at least one query a second per entry still goes through the whole path.
//
// Bounded by entry count (FIFO: with a 1 s lifetime every entry is short-lived anyway, and an LRU move
// on each hit would cost a Map delete and insert), by key length and by answer size.

import { dnsPacket } from '../util/dns-packet.js';
import { EDNS_UDP_SIZE, HEADER_SIZE, OPCODE_MASK, QR } from './dns-message.js';
import { BoundedMap } from '../util/bounded-map.js';

export type Transport = 'udp' | 'tcp';

export const DEFAULT_PACKET_CACHE_ENTRIES = 4096;
export const MAX_LIFETIME_MS = 1000;
/** header (12) + a question with the longest name (255 + 4) + an OPT with a few options: longer queries are not cached */
export const MAX_KEY_BYTES = 320;
/** the EDNS UDP size we answer with: larger answers are not cached */
export const MAX_ANSWER_BYTES = EDNS_UDP_SIZE;

interface Entry {
  answer: Buffer;
  generation: number;
  expiresAt: number;
}

export interface PacketCacheOptions {
  /** entries at most (default DEFAULT_PACKET_CACHE_ENTRIES) */
  maxEntries?: number;
  /** milliseconds, a monotonic clock */
  now?: () => number;
}

export class DnsPacketCache {
  /** FIFO: get() does not change the order */
  private readonly entries: BoundedMap<string, Entry>;
  private readonly now: () => number;
  hits = 0;

  constructor(options: PacketCacheOptions = {}) {
    this.entries = new BoundedMap(Math.max(1, options.maxEntries ?? DEFAULT_PACKET_CACHE_ENTRIES));
    this.now = options.now ?? (() => performance.now());
  }

  /**
   * The cache key of a message: null unless it looks like a plain query (no QR, opcode QUERY, one
   * question) of at most MAX_KEY_BYTES. The bytes after the ID as latin1 (one character a byte), after a
   * transport marker.
   */
  static key(msg: Buffer, transport: Transport): string | null {
    if (msg.length <= HEADER_SIZE || msg.length > MAX_KEY_BYTES) return null;
    const flags = (msg[2]! << 8) | msg[3]!;
    if (flags & (QR | OPCODE_MASK)) return null;
    if (msg[4] !== 0 || msg[5] !== 1) return null;
    return (transport === 'udp' ? 'u' : 't') + msg.toString('latin1', 2);
  }

  /** The stored answer for the key (not a copy: never hand it out or change it), or null. */
  get(key: string, generation: number): Buffer | null {
    const entry = this.entries.get(key);
    if (entry === undefined) return null;
    if (entry.generation !== generation || this.now() >= entry.expiresAt) {
      this.entries.delete(key);
      return null;
    }
    this.hits++;
    return entry.answer;
  }

  /**
   * Keeps an answer built while the resolver was at `generation`, for at most `ttl` seconds (and
   * MAX_LIFETIME_MS). Truncated, oversized and zero-TTL answers are not kept. The caller decides which
   * rcodes may be cached; the buffer must not change afterwards.
   */
  set(key: string, answer: Buffer, generation: number, ttl: number): void {
    if (!(ttl > 0) || answer.length < HEADER_SIZE || answer.length > MAX_ANSWER_BYTES) return;
    if (answer.readUInt16BE(2) & dnsPacket().TRUNCATED_RESPONSE) return;
    const lifetime = Math.min(MAX_LIFETIME_MS, ttl * 1000);
    this.entries.set(key, { answer, generation, expiresAt: this.now() + lifetime });
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

/** A copy of a cached answer carrying the query's ID (its first two bytes). */
export function answerFor(query: Buffer, cached: Buffer): Buffer {
  const out = Buffer.allocUnsafe(cached.length);
  cached.copy(out, 2, 2);
  out[0] = query[0]!;
  out[1] = query[1]!;
  return out;
}
