// The DNS surface, transport only: UDP and TCP on each configured address, TCP framing, per-source rate
// limits, connection slots and the packet cache. What a query gets is decided by the query chain
// (src/chain, src/resolver.ts) through dns-answer.ts: names under the TLD and public-key names (`<z32>`,
// `foo.<z32>`) are resolved, other names go to the upstream of proxy mode (--dns-server) or get REFUSED
// without one. answer() is the same query → response path for DNS over HTTPS (web.ts), so both give the
// same answers.
// Unlike KadNode 1.x (KADNODE-1.x §5) it always answers (NXDOMAIN, SERVFAIL, REFUSED, FORMERR), binds
// loopback unless told otherwise (a public address plus an upstream is an open resolver: warned at start),
// compares the TLD case-insensitively and fails start() when a socket cannot be bound.
// In front of it all (after the per-source rate limit) sits a packet cache (dns-packet-cache.ts): a
// repeated query for a name the chain answered is served as a copy of the earlier answer's bytes.
import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';
import type { Chain } from '../chain/chain.js';
import type { Logger } from '../log.js';
import { DnsAnswerer, type TcpConnection } from './dns-answer.js';
import { oneLine, printable } from '../util/printable.js';
import { hostPort, isLoopback } from '../util/host-port.js';
import { answerFor, DEFAULT_PACKET_CACHE_ENTRIES, DnsPacketCache, type Transport } from './dns-packet-cache.js';
import { FrameReader, tcpFrame } from './dns-message.js';
import { DEFAULT_DNS_RATE_LIMIT, SourceRateLimiter, type RateLimitOptions } from '../util/rate-limit.js';
import { ConnectionSlots } from '../util/connection-slots.js';
import { bindUdp, listenTcp, type BindError } from '../util/bind.js';

export { FrameReader } from './dns-message.js';
export type { ChangeCounter } from '../chain/chain.js';

export interface DnsServerOptions {
  /** 0: an ephemeral port (tests) */
  port: number;
  addresses: string[];
  /** how long the chain may take before we answer SERVFAIL */
  timeoutMs: number;
  /** idle TCP connections are closed after this long (default 10 s) */
  tcpIdleMs?: number;
  /** queries waiting for the chain at once; beyond that SERVFAIL (default 1024) */
  maxPending?: number;
  /**
   * Per source IP address, UDP and TCP together (default 1000 a second, bursts of 2000, 4096 sources
   * tracked); null: no limit. Over it, UDP queries are dropped and TCP queries get REFUSED.
   */
  rateLimit?: RateLimitOptions | null;
  /**
   * Whole answers kept by query bytes (dns-packet-cache.ts), entries at most (default 4096); 0: none.
   * Used only with a chain that counts its changes (Chain.countsChanges).
   */
  packetCacheSize?: number;
}

export interface DnsServerDeps {
  /** the query chain (src/resolver.ts): routes and answers every query */
  chain: Chain;
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

const TCP_IDLE_MS = 10_000;
const MAX_TCP_CONNECTIONS = 64;
/** answers a TCP client has not read yet; beyond this it is not reading and gets disconnected */
const MAX_UNREAD_BYTES = 256 * 1024;
const EPHEMERAL_TRIES = 5;
const RATE_WARN_INTERVAL_MS = 60_000;

export class DnsServer {
  private readonly chain: Chain;
  private readonly log: Logger;
  private readonly options: DnsServerOptions;
  private readonly answerer: DnsAnswerer;
  private readonly observer: AnswerObserver | null;
  private udp: dgram.Socket[] = [];
  private tcp: net.Server[] = [];
  /** full: a new connection evicts the one idle the longest (util/connection-slots.ts) */
  private readonly connections = new ConnectionSlots<net.Socket>(MAX_TCP_CONNECTIONS);
  private readonly limiter: SourceRateLimiter | null;
  /** null for a chain that does not count its changes, or with packetCacheSize 0 */
  readonly packets: DnsPacketCache | null;
  private rateWarnedAt = -Infinity;
  private started = false;
  private stopping: Promise<void> | null = null;

  constructor(deps: DnsServerDeps) {
    this.chain = deps.chain;
    this.log = deps.log.child('DNS');
    this.observer = deps.observer ?? null;
    this.options = deps.options;
    const rateLimit = deps.options.rateLimit === undefined ? DEFAULT_DNS_RATE_LIMIT : deps.options.rateLimit;
    this.limiter = rateLimit ? new SourceRateLimiter(rateLimit) : null;
    const cacheSize = deps.options.packetCacheSize ?? DEFAULT_PACKET_CACHE_ENTRIES;
    this.packets = deps.chain.countsChanges && cacheSize > 0 ? new DnsPacketCache({ maxEntries: cacheSize }) : null;
    this.answerer = new DnsAnswerer({ chain: deps.chain, log: this.log }, { timeoutMs: deps.options.timeoutMs, maxPending: deps.options.maxPending });
  }

  async start(): Promise<void> {
    if (this.started) throw new Error('DNS: already started');
    this.started = true;
    const upstream = this.chain.upstream;
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

  /** Closes every socket; answers still waiting for the chain are dropped (the chain's owner stops it). */
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
      const udp = await this.openUdp(address, this.options.port);
      const port = udp.address().port;
      try {
        await this.openTcp(address, port);
        return port;
      } catch (err) {
        const retry = this.options.port === 0 && attempt < EPHEMERAL_TRIES && (err as BindError).code === 'EADDRINUSE';
        if (!retry) throw err;
        this.udp = this.udp.filter((s) => s !== udp);
        udp.close();
      }
    }
  }

  private async openUdp(address: string, port: number): Promise<dgram.Socket> {
    const v6 = net.isIPv6(address);
    const socket = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6, lookup: literalLookup });
    const onError = (err: Error) => this.log.warn(`UDP socket ${hostPort(address, port)}: ${oneLine(err)}`);
    await bindUdp(socket, { port, address, onError }).catch(inWords);
    socket.on('message', (msg, peer) => this.onUdp(socket, msg, peer));
    this.udp.push(socket);
    return socket;
  }

  private async openTcp(address: string, port: number): Promise<void> {
    // allowHalfOpen: a client may send its queries and shut its side; it still gets the answers.
    const server = net.createServer({ allowHalfOpen: true }, (socket) => this.onTcp(socket));
    const onError = (err: Error) => this.log.warn(`TCP server ${hostPort(address, port)}: ${oneLine(err)}`);
    await listenTcp(server, { host: address, port, ipv6Only: net.isIPv6(address), onError }).catch(inWords);
    this.tcp.push(server);
  }

  private async closeAll(): Promise<void> {
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
   * its key (null: not cachable, or no cache) and the chain's generation, read before the chain is
   * asked so that an answer built while it changes is stored as already stale.
   */
  private cached(msg: Buffer, transport: Transport): { hit: Buffer | null; key: string | null; generation: number } {
    if (this.packets === null) return { hit: null, key: null, generation: 0 };
    const key = DnsPacketCache.key(msg, transport);
    const generation = this.chain.generation();
    const stored = key === null ? null : this.packets.get(key, generation);
    return { hit: stored === null ? null : answerFor(msg, stored), key, generation };
  }

  /**
   * The whole path (dns-answer.ts): parse, ask the chain, build the answer; with a key, the answers that
   * depend only on the chain's state are kept in the packet cache. `limited`: the rate limit was checked
   * already with this outcome.
   */
  private async resolveAndBuild(msg: Buffer, from: string, conn: TcpConnection | null, key: string | null, generation: number, limited: boolean | undefined): Promise<Buffer | null> {
    const built = await this.answerer.build(msg, from, conn, () => limited ?? !this.withinRate(conn!.source));
    if (key !== null && built.response !== null && built.keepTtl !== null) this.packets!.set(key, built.response, generation, built.keepTtl);
    return built.response;
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
}

/** The DNS surface words a bind failure for people (`address already in use`); the code stays for the retry. */
function inWords(err: BindError): never {
  throw Object.assign(new Error(`DNS: cannot bind ${hostPort(err.address, err.port)}/${err.protocol}: ${err.words}`, { cause: err.cause }), { code: err.code });
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
