// The DNS surface: UDP and TCP on each configured address; names under the TLD and public-key names
// (`<z32>`, `foo.<z32>`, src/pkarr/names.ts) go to the resolver, other names to the upstream of proxy
// mode (--dns-server, dns-forwarder.ts) or get REFUSED without one. answer() is the same query → response
// path for DNS over HTTPS (web.ts), so both give the same answers.
// Unlike KadNode 1.x (KADNODE-1.x §5) it always answers (NXDOMAIN, SERVFAIL, REFUSED, FORMERR), binds
// loopback unless told otherwise (a public address plus an upstream is an open resolver: warned at start),
// compares the TLD case-insensitively and fails start() when a socket cannot be bound.
// In front of it all (after the per-source rate limit) sits a packet cache (dns-packet-cache.ts): a
// repeated query for a name the resolver answered is served as a copy of the earlier answer's bytes.
import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';
import { getSystemErrorMap } from 'node:util';
import { hasTld } from '../identity/query.js';
import type { Logger } from '../log.js';
import { pkarrName } from '../pkarr/names.js';
import type { NameResolver, PeerAddress, Resolution } from '../types.js';
import { DnsForwarder, type Upstream } from './dns-forwarder.js';
import { answerFor, DEFAULT_PACKET_CACHE_ENTRIES, DnsPacketCache, type Transport } from './dns-packet-cache.js';
import { buildResponse, FrameReader, maxUdpSize, NEGATIVE_TTL, parseQuery, TCP_MAX_SIZE, tcpFrame, truncatedAnswer, type DnsQuery, type Rcode } from './dns-message.js';
import { DEFAULT_DNS_RATE_LIMIT, SourceRateLimiter, type RateLimitOptions } from './rate-limit.js';
import { ConnectionSlots } from '../util/connection-slots.js';

export { FrameReader } from './dns-message.js';

export interface DnsServerOptions {
  /** 0: an ephemeral port (tests) */
  port: number;
  addresses: string[];
  /** the query TLD, e.g. '.p2p' */
  tld: string;
  /** how long the resolver may take before we answer SERVFAIL */
  timeoutMs: number;
  /** idle TCP connections are closed after this long (default 10 s) */
  tcpIdleMs?: number;
  /** queries waiting for the resolver at once; beyond that SERVFAIL (default 1024) */
  maxPending?: number;
  /** proxy mode: names outside the TLD are forwarded here (within timeoutMs); null/absent: REFUSED */
  upstream?: Upstream | null;
  /** proxy mode: forwarded queries out at once; beyond that SERVFAIL (default 1024) */
  maxForwarded?: number;
  /**
   * Per source IP address, UDP and TCP together (default 1000 a second, bursts of 2000, 4096 sources
   * tracked); null: no limit. Over it, UDP queries are dropped and TCP queries get REFUSED.
   */
  rateLimit?: RateLimitOptions | null;
  /**
   * Whole answers kept by query bytes (dns-packet-cache.ts), entries at most (default 4096); 0: none.
   * Used only with a resolver that counts its changes (ChangeCounter).
   */
  packetCacheSize?: number;
}

/**
 * A resolver that says when its answers may have changed: generation() returns a new number whenever
 * an answer it gave could now be different (addresses found, dropped or expired). The DNS surface keeps
 * whole answers only for such a resolver (src/resolver.ts is one), and never longer than a second.
 */
export interface ChangeCounter {
  generation(): number;
}

function changeCounter(resolver: NameResolver): ChangeCounter | null {
  return typeof (resolver as Partial<ChangeCounter>).generation === 'function' ? (resolver as NameResolver & ChangeCounter) : null;
}

export interface DnsServerDeps {
  resolver: NameResolver;
  log: Logger;
  options: DnsServerOptions;
  /** told of every answer sent (the dashboard's and /metrics' figures) */
  observer?: AnswerObserver;
}

/** Runs on every answer, packet-cache hits too: it must be cheap. `startedAt`: performance.now() at arrival. */
export interface AnswerObserver {
  onAnswer(transport: 'udp' | 'tcp' | 'https', answer: Buffer, startedAt: number): void;
}

export interface BoundSocket {
  address: string;
  port: number;
  protocol: 'udp' | 'tcp';
}

const RESOLVED_TYPES = new Set(['A', 'AAAA', 'SRV']);
const TCP_IDLE_MS = 10_000;
const MAX_PENDING = 1024;
const MAX_TCP_CONNECTIONS = 64;
/** one connection must not take the whole resolver budget */
const MAX_WAITING_PER_CONNECTION = 32;
/** answers a TCP client has not read yet; beyond this it is not reading and gets disconnected */
const MAX_UNREAD_BYTES = 256 * 1024;
const EPHEMERAL_TRIES = 5;
const RATE_WARN_INTERVAL_MS = 60_000;

interface TcpConnection {
  /** queries of this connection waiting for the resolver */
  waiting: number;
  /** the client's IP address, for the rate limit */
  source: string;
}

export class DnsServer {
  private readonly resolver: NameResolver;
  private readonly log: Logger;
  private readonly options: DnsServerOptions;
  private readonly forwarder: DnsForwarder | null;
  private readonly observer: AnswerObserver | null;
  private udp: dgram.Socket[] = [];
  private tcp: net.Server[] = [];
  /** full: a new connection evicts the one idle the longest (util/connection-slots.ts) */
  private readonly connections = new ConnectionSlots<net.Socket>(MAX_TCP_CONNECTIONS);
  private pending = 0;
  private readonly limiter: SourceRateLimiter | null;
  private readonly changes: ChangeCounter | null;
  /** null without a ChangeCounter or with packetCacheSize 0 */
  readonly packets: DnsPacketCache | null;
  private rateWarnedAt = -Infinity;
  private started = false;
  private stopping: Promise<void> | null = null;

  constructor(deps: DnsServerDeps) {
    this.resolver = deps.resolver;
    this.log = deps.log.child('DNS');
    this.observer = deps.observer ?? null;
    this.options = deps.options;
    const rateLimit = deps.options.rateLimit === undefined ? DEFAULT_DNS_RATE_LIMIT : deps.options.rateLimit;
    this.limiter = rateLimit ? new SourceRateLimiter(rateLimit) : null;
    this.changes = changeCounter(deps.resolver);
    const cacheSize = deps.options.packetCacheSize ?? DEFAULT_PACKET_CACHE_ENTRIES;
    this.packets = this.changes && cacheSize > 0 ? new DnsPacketCache({ maxEntries: cacheSize }) : null;
    const upstream = deps.options.upstream;
    this.forwarder = upstream
      ? new DnsForwarder({ log: this.log, options: { upstream, timeoutMs: deps.options.timeoutMs, maxInFlight: deps.options.maxForwarded } })
      : null;
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('DNS: already started');
    this.started = true;
    const upstream = this.options.upstream;
    if (upstream) {
      // Forwarding to ourselves would pass each query round until the in-flight bound is used up.
      const self = this.options.port !== 0 && upstream.port === this.options.port
        && this.options.addresses.some((a) => a === upstream.host || a === '0.0.0.0' || a === '::');
      if (self) throw new Error(`DNS: --dns-server ${hostPort(upstream.host, upstream.port)} is this DNS server itself`);
      const open = this.options.addresses.filter((a) => !isLoopback(a));
      if (open.length > 0) {
        this.log.warn(`Proxy mode on ${open.join(', ')}: anyone who can reach it can use ${hostPort(upstream.host, upstream.port)} through us (an open resolver) unless a firewall stops them`);
      }
    }
    try {
      for (const address of this.options.addresses) {
        const port = await this.bindPair(address);
        if (this.stopping) throw new Error('DNS: stopped while starting');
        this.log.info(`Bind to ${hostPort(address, port)}`);
      }
    } catch (err) {
      // closeAll, not stop(): a stop() during start already ran and missed what was bound since.
      const closing = this.closeAll();
      this.stopping ??= closing;
      await closing;
      throw err;
    }
  }

  /** Closes every socket; answers still waiting for the resolver are dropped. */
  stop(): Promise<void> {
    this.stopping ??= this.closeAll();
    return this.stopping;
  }

  addresses(): BoundSocket[] {
    const udp = this.udp.map((s) => ({ ...s.address(), protocol: 'udp' as const }));
    const tcp = this.tcp.map((s) => ({ ...(s.address() as net.AddressInfo), protocol: 'tcp' as const }));
    return [...udp, ...tcp].map(({ address, port, protocol }) => ({ address, port, protocol }));
  }

  /** UDP and TCP on the same port; with port 0 the TCP side follows the port UDP was given. */
  private async bindPair(address: string): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      const udp = await this.bindUdp(address, this.options.port);
      const port = udp.address().port;
      try {
        await this.listenTcp(address, port);
        return port;
      } catch (err) {
        const retry = this.options.port === 0 && attempt < EPHEMERAL_TRIES && (err as BindError).code === 'EADDRINUSE';
        if (!retry) throw err;
        this.udp = this.udp.filter((s) => s !== udp);
        udp.close();
      }
    }
  }

  private bindUdp(address: string, port: number): Promise<dgram.Socket> {
    const v6 = net.isIPv6(address);
    const socket = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6, lookup: literalLookup });
    return new Promise((resolve, reject) => {
      const failed = (err: Error) => {
        try { socket.close(); } catch { /* never bound */ }
        reject(bindError(address, port, 'udp', err));
      };
      socket.once('error', failed);
      socket.bind(port, address, () => {
        socket.off('error', failed);
        socket.on('error', (err) => this.log.warn(`UDP socket ${hostPort(address, port)}: ${oneLine(err)}`));
        socket.on('message', (msg, peer) => this.onUdp(socket, msg, peer));
        this.udp.push(socket);
        resolve(socket);
      });
    });
  }

  private listenTcp(address: string, port: number): Promise<void> {
    // allowHalfOpen: a client may send its queries and shut its side; it still gets the answers.
    const server = net.createServer({ allowHalfOpen: true }, (socket) => this.onTcp(socket));
    return new Promise((resolve, reject) => {
      const failed = (err: Error) => reject(bindError(address, port, 'tcp', err));
      server.once('error', failed);
      server.listen({ host: address, port, ipv6Only: net.isIPv6(address) }, () => {
        server.off('error', failed);
        server.on('error', (err) => this.log.warn(`TCP server ${hostPort(address, port)}: ${oneLine(err)}`));
        this.tcp.push(server);
        resolve();
      });
    });
  }

  private async closeAll(): Promise<void> {
    this.forwarder?.stop();
    this.connections.destroyAll();
    const udp = this.udp.map((s) => new Promise<void>((done) => s.close(() => done())));
    const tcp = this.tcp.map((s) => new Promise<void>((done) => s.close(() => done())));
    this.udp = [];
    this.tcp = [];
    await Promise.all([...udp, ...tcp]);
  }

  private onUdp(socket: dgram.Socket, msg: Buffer, peer: dgram.RemoteInfo): void {
    // Over the limit, UDP is dropped: an answer (even REFUSED) to a spoofed source address would make us
    // a reflector, and a real client simply retries once its bucket has refilled.
    if (!this.withinRate(peer.address)) return;
    const startedAt = this.observer ? performance.now() : 0;
    // A hit is sent at once, without a promise in between: this is the path that takes the load.
    const { hit, key, generation } = this.cached(msg, 'udp');
    if (hit !== null) {
      this.observer?.onAnswer('udp', hit, startedAt);
      return this.sendUdp(socket, hit, peer);
    }
    this.resolveAndBuild(msg, hostPort(peer.address, peer.port), null, key, generation, undefined)
      .then((response) => {
        if (!response || this.stopping) return;
        this.observer?.onAnswer('udp', response, startedAt);
        this.sendUdp(socket, response, peer);
      })
      .catch((err) => this.log.warn(`UDP query from ${hostPort(peer.address, peer.port)}: ${oneLine(err)}`));
  }

  /**
   * No callback: with one, dgram schedules a process.nextTick per answer to call it, measurably slower
   * at full load. A failed send (the client's port gone, a full socket buffer) goes unnoticed, as a lost
   * datagram would; the client retries. The address is always a literal: see literalLookup.
   */
  private sendUdp(socket: dgram.Socket, response: Buffer, peer: dgram.RemoteInfo): void {
    socket.send(response, peer.port, peer.address);
  }

  private onTcp(socket: net.Socket): void {
    const from = hostPort(socket.remoteAddress ?? '?', socket.remotePort ?? 0);
    const admission = this.stopping ? { admitted: false as const } : this.connections.admit(socket);
    if (!admission.admitted) {
      this.log.debug(`All ${MAX_TCP_CONNECTIONS} TCP connections have a query in progress, closing ${from}`);
      socket.destroy();
      return;
    }
    if (admission.evicted) this.log.debug(`All ${MAX_TCP_CONNECTIONS} TCP connections taken: closed the one idle longest (${hostPort(admission.evicted.remoteAddress ?? '?', admission.evicted.remotePort ?? 0)}) for ${from}`);
    const conn: TcpConnection = { waiting: 0, source: socket.remoteAddress ?? '?' };
    const frames = new FrameReader();
    let unanswered = 0;
    let peerDone = false;
    const finishIfDone = () => {
      if (peerDone && unanswered === 0) socket.end();
    };

    socket.on('close', () => this.connections.release(socket));
    socket.on('error', (err) => this.log.debug(`TCP connection ${from}: ${oneLine(err)}`));
    socket.setTimeout(this.options.tcpIdleMs ?? TCP_IDLE_MS);
    socket.on('timeout', () => {
      // A slow resolver is not idleness; a client stalled halfway through a frame is.
      if (conn.waiting === 0 || frames.partial) socket.destroy();
    });
    socket.on('end', () => {
      peerDone = true;
      finishIfDone();
    });
    socket.on('data', (chunk: Buffer) => {
      this.connections.touch(socket);
      const ok = frames.push(chunk, (frame) => {
        unanswered++;
        this.connections.begin(socket);
        const startedAt = this.observer ? performance.now() : 0;
        this.respond(frame, from, conn)
          .then((response) => {
            if (!response || socket.destroyed || !socket.writable) return;
            this.observer?.onAnswer('tcp', response, startedAt);
            socket.write(tcpFrame(response));
            if (socket.writableLength > MAX_UNREAD_BYTES) socket.destroy();
          })
          .catch((err) => this.log.warn(`TCP query from ${from}: ${oneLine(err)}`))
          .finally(() => {
            unanswered--;
            this.connections.end(socket);
            finishIfDone();
          });
      });
      if (!ok) {
        this.log.debug(`Zero-length frame from ${from}, closing`);
        socket.destroy();
      }
    });
  }

  /**
   * DNS over HTTPS: the answer to one DNS message from `source` (an IP address), as a TCP client gets it
   * (no UDP size limit, same limits per source), or null for a message that gets no answer. Works without
   * start() (DNS port 0).
   */
  async answer(msg: Buffer, source: string): Promise<Buffer | null> {
    const startedAt = this.observer ? performance.now() : 0;
    const response = await this.respond(msg, `${source} (https)`, { waiting: 0, source });
    if (response) this.observer?.onAnswer('https', response, startedAt);
    return response;
  }

  /**
   * The answer to one DNS message, or null to stay silent. Never rejects. A UDP message has passed the
   * rate limit already (onUdp); a TCP or DoH message (conn) takes its token here.
   */
  private respond(msg: Buffer, from: string, conn: TcpConnection | null): Promise<Buffer | null> {
    const { hit, key, generation } = this.cached(msg, conn ? 'tcp' : 'udp');
    if (hit === null) return this.resolveAndBuild(msg, from, conn, key, generation, undefined);
    // A hit is a query that parsed and answered fine before (same bytes but the ID): over the limit it
    // gets REFUSED from the whole path, as without the cache.
    if (conn && !this.withinRate(conn.source)) return this.resolveAndBuild(msg, from, conn, null, generation, true);
    return Promise.resolve(hit);
  }

  /**
   * The packet cache's answer to `msg` (with its ID), or null and what to keep the built answer under:
   * its key (null: not cachable, or no cache) and the resolver's generation, read before the resolver is
   * asked so that an answer built while it changes is stored as already stale.
   */
  private cached(msg: Buffer, transport: Transport): { hit: Buffer | null; key: string | null; generation: number } {
    if (this.packets === null) return { hit: null, key: null, generation: 0 };
    const key = DnsPacketCache.key(msg, transport);
    const generation = this.changes!.generation();
    const stored = key === null ? null : this.packets.get(key, generation);
    return { hit: stored === null ? null : answerFor(msg, stored), key, generation };
  }

  /** Keeps an answer in the packet cache; the rcodes and results worth keeping are the caller's choice. */
  private keep(key: string | null, answer: Buffer, generation: number, ttl: number): Buffer {
    if (key !== null) this.packets!.set(key, answer, generation, ttl);
    return answer;
  }

  /**
   * The whole path: parse, ask the resolver (or the upstream), build the answer; with a key, answers
   * that depend only on the resolver's state are kept in the packet cache. `limited`: the rate limit was
   * checked already with this outcome.
   */
  private async resolveAndBuild(msg: Buffer, from: string, conn: TcpConnection | null, key: string | null, generation: number, limited: boolean | undefined): Promise<Buffer | null> {
    const parsed = parseQuery(msg);
    // Malformed packets are cheap to send in floods: debug, not warn.
    if (parsed.kind === 'drop') {
      this.log.debug(`Dropped message from ${from}: ${parsed.reason}`);
      return null;
    }
    if (parsed.kind === 'error') {
      this.log.debug(`Malformed query from ${from}: ${parsed.reason}`);
      return parsed.response;
    }
    const query = parsed;
    const { name, type } = query.question;
    const maxSize = conn ? TCP_MAX_SIZE : maxUdpSize(query);
    // A public-key name is its own zone (`<z32>` or `<z32>.p2p`) and may hold any type of record.
    const pkarr = pkarrName(name, this.options.tld);
    const zone = pkarr ? pkarr.origin : this.options.tld;
    const reply = (rcode: Rcode, addresses?: PeerAddress[], ttl?: number, records?: Resolution['records']) =>
      buildResponse(query, rcode, { maxSize, addresses, ttl, zone, records });
    try {
      // A TCP source cannot be spoofed: over the limit it gets REFUSED rather than silence.
      if (conn && (limited ?? !this.withinRate(conn.source))) return reply('REFUSED');
      // Not our zone: the upstream's business in proxy mode, else not ours at all.
      if (!pkarr && !hasTld(name, this.options.tld)) {
        return this.forwarder ? await this.forward(msg, query, conn, maxSize, from) : reply('REFUSED');
      }
      if (query.question.class !== 'IN') return reply('REFUSED');
      if (!pkarr && !RESOLVED_TYPES.has(type)) return reply('NOERROR');
      if (this.pending >= (this.options.maxPending ?? MAX_PENDING) || (conn && conn.waiting >= MAX_WAITING_PER_CONNECTION)) {
        this.log.debug(`Too many pending queries, SERVFAIL for ${printable(name)} from ${from}`);
        return reply('SERVFAIL');
      }
      const result = await this.resolve(name, type, conn);
      switch (result.status) {
        case 'found': {
          const answer = reply('NOERROR', result.addresses, result.ttl, result.records);
          // Only answers with records (not NODATA: an AAAA asked before the first IPv6 address arrives),
          // and not for public-key names (signed packets change without the resolver's generation).
          return pkarr || answerCount(answer) === 0 ? answer : this.keep(key, answer, generation, result.ttl);
        }
        // A search that found nothing is not kept: the next query searches again, as without the cache.
        case 'notfound':
          return reply('NXDOMAIN');
        // An invalid name (too long, empty) cannot exist, now or later: NXDOMAIN, so clients do not
        // retry it on another server as they would after SERVFAIL. Safe to keep: for a name under the TLD it
        // depends on the name alone.
        case 'invalid':
          return pkarr ? reply('NXDOMAIN') : this.keep(key, reply('NXDOMAIN'), generation, NEGATIVE_TTL);
        // Nothing known about the name yet: do not let anyone cache a negative answer.
        case 'timeout':
        case 'busy':
          return reply('SERVFAIL');
        default:
          throw new Error(`resolver returned status ${String((result as Resolution).status)}`);
      }
    } catch (err) {
      this.log.warn(`Cannot answer ${type} ${printable(name)} from ${from}: ${oneLine(err)}`);
      try {
        return reply('SERVFAIL');
      } catch {
        return null;
      }
    }
  }

  /** Takes a token of the source's bucket; false (and at most one warning a minute) when it is over the limit. */
  private withinRate(source: string): boolean {
    if (!this.limiter || this.limiter.allow(source)) return true;
    const now = performance.now();
    if (now - this.rateWarnedAt >= RATE_WARN_INTERVAL_MS) {
      this.rateWarnedAt = now;
      const { perSecond } = this.options.rateLimit ?? DEFAULT_DNS_RATE_LIMIT;
      this.log.warn(`Rate limit: ${printable(source)} sends more than ${perSecond} queries a second; dropping UDP and refusing TCP queries beyond that (one line a minute at most)`);
    } else {
      this.log.debug(`Over the rate limit: query from ${printable(source)}`);
    }
    return false;
  }

  /** queries refused or dropped by the per-source rate limit since start */
  get rateLimited(): number {
    return this.limiter?.limited ?? 0;
  }

  /** Proxy mode: the upstream's answer with the client's ID, or SERVFAIL. */
  private async forward(msg: Buffer, query: DnsQuery, conn: TcpConnection | null, maxSize: number, from: string): Promise<Buffer> {
    const { name, type } = query.question;
    const servfail = () => buildResponse(query, 'SERVFAIL', { maxSize, forwarded: true });
    if (conn && conn.waiting >= MAX_WAITING_PER_CONNECTION) {
      this.log.debug(`Too many pending queries on one connection, SERVFAIL for ${type} ${printable(name)} from ${from}`);
      return servfail();
    }
    if (conn) conn.waiting++;
    try {
      const outcome = await this.forwarder!.forward(msg, query.question, conn ? 'tcp' : 'udp');
      if (!outcome.ok) {
        this.log.debug(`Forwarding ${type} ${printable(name)} from ${from} failed (${outcome.reason}): SERVFAIL`);
        return servfail();
      }
      // Too big for this UDP client (the upstream may have been asked over TCP): TC, it asks again over TCP.
      return outcome.answer.length > maxSize ? truncatedAnswer(query, outcome.answer) : outcome.answer;
    } finally {
      if (conn) conn.waiting--;
    }
  }

  /** A and AAAA wait for an address of their family, so a dual-stack name does not answer AAAA empty too early. */
  private async resolve(name: string, type: string, conn: TcpConnection | null): Promise<Resolution> {
    this.pending++;
    if (conn) conn.waiting++;
    try {
      const family = type === 'A' ? 4 : type === 'AAAA' ? 6 : undefined;
      return await this.resolver.resolve(name, { timeoutMs: this.options.timeoutMs, ...(family ? { family } : {}) });
    } finally {
      this.pending--;
      if (conn) conn.waiting--;
    }
  }
}

interface BindError extends Error {
  code?: string;
}

function bindError(address: string, port: number, protocol: 'udp' | 'tcp', cause: Error): BindError {
  const { errno, code } = cause as NodeJS.ErrnoException;
  const reason = (errno !== undefined && getSystemErrorMap().get(errno)?.[1]) || cause.message;
  const err: BindError = new Error(`DNS: cannot bind ${hostPort(address, port)}/${protocol}: ${reason}`, { cause });
  err.code = code;
  return err;
}

function hostPort(address: string, port: number): string {
  return net.isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
}

function isLoopback(address: string): boolean {
  return address.startsWith('127.') || address === '::1' || address.toLowerCase().startsWith('::ffff:127.');
}

/** ANCOUNT of an encoded message */
function answerCount(msg: Buffer): number {
  return msg.length >= 12 ? msg.readUInt16BE(6) : 0;
}

/**
 * dgram's address lookup for answers: the peer's address is always a literal, which dns.lookup would
 * hand back one process.nextTick later; this hands it back at once, so the answer goes out within the
 * 'message' callback.
 */
function literalLookup(hostname: string, options: dns.LookupOneOptions, callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  const family = net.isIP(hostname);
  if (family !== 0) callback(null, hostname, family);
  else dns.lookup(hostname, options, callback);
}

function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ');
}

/** Query names are attacker-chosen bytes: keep them to one printable log line. */
function printable(name: string): string {
  return name.replace(/[^\x21-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
