// The DNS surface's query → answer path, the same for UDP, TCP and DNS over HTTPS: parse the message, take
// the route the query chain decides for the name (src/chain/route.ts: a public-key zone or the TLD to the
// chain's steps, the upstream of proxy mode, or REFUSED), ask the chain, and encode what comes back.
// Sockets, framing, rate limits and the packet cache are dns.ts's; this says which answers the packet
// cache may keep.
import type { Chain, Route } from '../chain/chain.js';
import type { Logger } from '../log.js';
import type { PeerAddress, Resolution } from '../types.js';
import { buildResponse, maxUdpSize, NEGATIVE_TTL, parseQuery, TCP_MAX_SIZE, truncatedAnswer, type DnsQuery, type Rcode } from './dns-message.js';
import { oneLine, printable } from '../util/printable.js';

export interface DnsAnswerOptions {
  /** how long the chain may take before we answer SERVFAIL */
  timeoutMs: number;
  /** queries waiting for the chain at once; beyond that SERVFAIL (default 1024) */
  maxPending?: number;
}

/** A TCP connection (or one DoH request) as the answer path sees it. */
export interface TcpConnection {
  /** queries of this connection waiting for the chain */
  waiting: number;
  /** the client's IP address, for the rate limit */
  source: string;
}

export interface BuiltAnswer {
  /** null: stay silent */
  response: Buffer | null;
  /** seconds the packet cache may keep the response; null: not at all */
  keepTtl: number | null;
}

const RESOLVED_TYPES = new Set(['A', 'AAAA', 'SRV']);
const MAX_PENDING = 1024;
/** one connection must not take the whole chain budget */
export const MAX_WAITING_PER_CONNECTION = 32;

export class DnsAnswerer {
  private pending = 0;

  constructor(private readonly deps: { chain: Chain; log: Logger }, private readonly options: DnsAnswerOptions) {}

  /**
   * The answer to one DNS message from `from`, never rejecting. `conn`: it came over TCP or DoH (no UDP
   * size limit); `overLimit` then says whether its source is over the rate limit (asked only for a
   * message that parsed).
   */
  async build(msg: Buffer, from: string, conn: TcpConnection | null, overLimit: () => boolean): Promise<BuiltAnswer> {
    const log = this.deps.log;
    const parsed = parseQuery(msg);
    // Malformed packets are cheap to send in floods: debug, not warn.
    if (parsed.kind === 'drop') {
      log.debug(`Dropped message from ${from}: ${parsed.reason}`);
      return { response: null, keepTtl: null };
    }
    if (parsed.kind === 'error') {
      log.debug(`Malformed query from ${from}: ${parsed.reason}`);
      return { response: parsed.response, keepTtl: null };
    }
    const query = parsed;
    const { name, type } = query.question;
    const maxSize = conn ? TCP_MAX_SIZE : maxUdpSize(query);
    const route = this.deps.chain.route(name, 'dns');
    const reply = (rcode: Rcode, addresses?: PeerAddress[], ttl?: number, records?: Resolution['records']) =>
      buildResponse(query, rcode, { maxSize, addresses, ttl, zone: route.zone, records });
    const once = (response: Buffer) => ({ response, keepTtl: null });
    try {
      // A TCP source cannot be spoofed: over the limit it gets REFUSED rather than silence.
      if (conn && overLimit()) return once(reply('REFUSED'));
      // Not our zone: the upstream's business in proxy mode, else not ours at all.
      if (route.kind === 'upstream') return once(await this.forward(msg, query, route, conn, maxSize, from));
      if (route.kind === 'refuse') return once(reply('REFUSED'));
      if (query.question.class !== 'IN') return once(reply('REFUSED'));
      // A public-key name is its own zone and may hold any type of record.
      const pkarr = route.kind === 'pkarr';
      if (!pkarr && !RESOLVED_TYPES.has(type)) return once(reply('NOERROR'));
      if (this.pending >= (this.options.maxPending ?? MAX_PENDING) || (conn && conn.waiting >= MAX_WAITING_PER_CONNECTION)) {
        log.debug(`Too many pending queries, SERVFAIL for ${printable(name)} from ${from}`);
        return once(reply('SERVFAIL'));
      }
      const result = await this.resolve(route, type, conn);
      switch (result.status) {
        case 'found': {
          const answer = reply('NOERROR', result.addresses, result.ttl, result.records);
          // Only answers with records (not NODATA: an AAAA asked before the first IPv6 address arrives),
          // and not for public-key names (signed packets change without the chain's generation).
          return { response: answer, keepTtl: pkarr || answerCount(answer) === 0 ? null : result.ttl };
        }
        // A search that found nothing is not kept: the next query searches again, as without the cache.
        case 'notfound':
          return once(reply('NXDOMAIN'));
        // An invalid name (too long, empty) cannot exist, now or later: NXDOMAIN, so clients do not
        // retry it on another server as they would after SERVFAIL. Safe to keep: for a name under the TLD it
        // depends on the name alone.
        case 'invalid':
          return { response: reply('NXDOMAIN'), keepTtl: pkarr ? null : NEGATIVE_TTL };
        // Nothing known about the name yet: do not let anyone cache a negative answer.
        case 'timeout':
        case 'busy':
          return once(reply('SERVFAIL'));
        default:
          throw new Error(`resolver returned status ${String((result as Resolution).status)}`);
      }
    } catch (err) {
      log.warn(`Cannot answer ${type} ${printable(name)} from ${from}: ${oneLine(err)}`);
      try {
        return once(reply('SERVFAIL'));
      } catch {
        return { response: null, keepTtl: null };
      }
    }
  }

  /** Proxy mode: the upstream's answer with the client's ID, or SERVFAIL. */
  private async forward(msg: Buffer, query: DnsQuery, route: Route, conn: TcpConnection | null, maxSize: number, from: string): Promise<Buffer> {
    const { name, type } = query.question;
    const servfail = () => buildResponse(query, 'SERVFAIL', { maxSize, forwarded: true });
    if (conn && conn.waiting >= MAX_WAITING_PER_CONNECTION) {
      this.deps.log.debug(`Too many pending queries on one connection, SERVFAIL for ${type} ${printable(name)} from ${from}`);
      return servfail();
    }
    if (conn) conn.waiting++;
    try {
      const wire = { message: msg, question: query.question, transport: conn ? ('tcp' as const) : ('udp' as const) };
      const result = await this.deps.chain.run({ route, timeoutMs: this.options.timeoutMs, wire });
      if (!result.forwarded) {
        this.deps.log.debug(`Forwarding ${type} ${printable(name)} from ${from} failed (${result.reason ?? result.status}): SERVFAIL`);
        return servfail();
      }
      // Too big for this UDP client (the upstream may have been asked over TCP): TC, it asks again over TCP.
      return result.forwarded.length > maxSize ? truncatedAnswer(query, result.forwarded) : result.forwarded;
    } finally {
      if (conn) conn.waiting--;
    }
  }

  /** A and AAAA wait for an address of their family, so a dual-stack name does not answer AAAA empty too early. */
  private async resolve(route: Route, type: string, conn: TcpConnection | null): Promise<Resolution> {
    this.pending++;
    if (conn) conn.waiting++;
    try {
      const family = type === 'A' ? 4 : type === 'AAAA' ? 6 : undefined;
      return await this.deps.chain.run({ route, timeoutMs: this.options.timeoutMs, ...(family ? { family } : {}) });
    } finally {
      this.pending--;
      if (conn) conn.waiting--;
    }
  }
}

/** ANCOUNT of an encoded message */
function answerCount(msg: Buffer): number {
  return msg.length >= 12 ? msg.readUInt16BE(6) : 0;
}
