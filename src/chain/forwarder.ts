// Proxy mode (--dns-server): the chain's upstream step (upstream-step.ts) hands DNS queries for names
// outside the TLD to one upstream server and gets back the upstream's answer carrying the client's own ID.
//
// Unlike KadNode 1.x (KADNODE-1.x §5), which matched replies by the client's ID alone in a 16-slot ring
// and dropped every type but A/AAAA/SRV/PTR:
// - every forwarded query gets a fresh random ID and a socket of its own, connected to the upstream, so
//   the kernel drops datagrams from any other address or port (checked again here) and the source port
//   is random as well; a reply counts only when its ID and its question (name, type, class) match;
// - any type and class is forwarded, byte for byte except the ID;
// - a truncated (TC) UDP answer is asked again over TCP; a client that came over TCP is forwarded over TCP;
// - each query has one deadline for all of that (SERVFAIL after it), UDP is sent again every
//   retransmitMs until then, and at most maxInFlight queries are out at once (beyond: SERVFAIL at once).
// It only ever forwards what reached the DNS surface's own sockets (loopback by default).
import dgram from 'node:dgram';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import type { Logger } from '../log.js';
import { FrameReader, replyHeader, tcpFrame, withId } from '../surfaces/dns-message.js';
import { hostPort } from '../util/host-port.js';
import { oneLine } from '../util/printable.js';

export interface Upstream {
  host: string;
  port: number;
}

export interface DnsForwarderOptions {
  upstream: Upstream;
  /** the whole budget of one forwarded query, UDP and TCP retry together */
  timeoutMs: number;
  /** forwarded queries out at once; beyond that fail at once (default 1024) */
  maxInFlight?: number;
  /** UDP: send the query again after this long without an answer (default 1000) */
  retransmitMs?: number;
}

export interface ForwardQuestion {
  name: string;
  type: string;
  class: string;
}

export type ForwardOutcome =
  /** the upstream's answer with the client's ID; `via` is how it came from the upstream */
  | { ok: true; answer: Buffer; via: 'udp' | 'tcp' }
  /** no usable answer: the caller answers SERVFAIL */
  | { ok: false; reason: string };

const MAX_IN_FLIGHT = 1024;
const RETRANSMIT_MS = 1000;
const WARN_INTERVAL_MS = 60_000;

class ForwardError extends Error {}

export class DnsForwarder {
  private readonly log: Logger;
  private readonly upstream: Upstream;
  private readonly options: DnsForwarderOptions;
  private readonly label: string;
  /** one entry per open upstream socket: closes it and fails its query */
  private readonly open = new Set<() => void>();
  private active = 0;
  private stopped = false;
  /** the last outcome was a failure of the upstream (for one warning per outage, not one per query) */
  private down = false;
  /** a warning was logged for the current outage */
  private warned = false;
  private warnedAt: number | undefined;

  constructor(deps: { log: Logger; options: DnsForwarderOptions }) {
    this.log = deps.log;
    this.options = deps.options;
    this.upstream = deps.options.upstream;
    this.label = hostPort(this.upstream.host, this.upstream.port);
  }

  /** queries out at the upstream now */
  get inFlight(): number {
    return this.active;
  }

  /**
   * Forwards one query (the client's raw message) and resolves with the upstream's answer, restored to
   * the client's ID, or with the reason there is none. Never rejects.
   */
  async forward(message: Buffer, question: ForwardQuestion, transport: 'udp' | 'tcp'): Promise<ForwardOutcome> {
    if (this.stopped) return { ok: false, reason: 'stopped' };
    if (this.active >= (this.options.maxInFlight ?? MAX_IN_FLIGHT)) return { ok: false, reason: 'too many forwarded queries in flight' };
    const clientId = message.readUInt16BE(0);
    const id = randomInt(0x10000);
    const query = withId(message, id);
    const deadline = performance.now() + this.options.timeoutMs;
    this.active++;
    try {
      let via: 'udp' | 'tcp' = transport;
      let answer: Buffer;
      if (transport === 'tcp') {
        answer = await this.overTcp(query, id, question, deadline);
      } else {
        answer = await this.overUdp(query, id, question, deadline);
        if (replyHeader(answer)?.truncated) {
          try {
            answer = await this.overTcp(query, id, question, deadline);
            via = 'tcp';
          } catch (err) {
            // The truncated answer is still an answer: the client may ask us again over TCP.
            if (this.stopped) throw err;
            this.log.debug(`Upstream ${this.label}: TCP retry of a truncated answer failed (${oneLine(err)}), passing the truncated one on`);
          }
        }
      }
      this.markUp();
      return { ok: true, answer: withId(answer, clientId), via };
    } catch (err) {
      const reason = oneLine(err);
      if (!this.stopped) this.markDown(reason);
      return { ok: false, reason };
    } finally {
      this.active--;
    }
  }

  /** Closes every upstream socket; the queries still out fail (their clients get nothing: we stop). */
  stop(): void {
    this.stopped = true;
    for (const close of [...this.open]) close();
  }

  // One warning per outage, and at most one a minute for an upstream that keeps flapping.
  private markDown(reason: string): void {
    this.log.debug(`Upstream ${this.label}: ${reason}`);
    if (this.down) return;
    this.down = true;
    const now = performance.now();
    if (this.warnedAt !== undefined && now - this.warnedAt < WARN_INTERVAL_MS) return;
    this.warnedAt = now;
    this.warned = true;
    this.log.warn(`Upstream ${this.label} gives no answer (${reason}); answering SERVFAIL for names outside the TLD`);
  }

  private markUp(): void {
    if (!this.down) return;
    this.down = false;
    if (this.warned) this.log.info(`Upstream ${this.label} answers again`);
    this.warned = false;
  }

  private overUdp(query: Buffer, id: number, question: ForwardQuestion, deadline: number): Promise<Buffer> {
    const { host, port } = this.upstream;
    return this.exchange(deadline, (finish) => {
      const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
      let resend: NodeJS.Timeout | undefined;
      let peer: net.AddressInfo | undefined;
      let closed = false;
      const send = () => {
        if (closed) return;
        socket.send(query, (err) => {
          if (err) finish(new ForwardError(`UDP send: ${err.message}`));
        });
      };
      // Connected: ICMP port unreachable comes back as ECONNREFUSED, so a dead upstream fails fast.
      socket.on('error', (err: NodeJS.ErrnoException) =>
        finish(new ForwardError(err.code === 'ECONNREFUSED' ? 'UDP port unreachable' : `UDP: ${err.message}`)));
      socket.on('message', (msg, rinfo) => {
        // The kernel already drops other sources on a connected socket; this is the second lock.
        if (!peer || rinfo.address !== peer.address || rinfo.port !== peer.port) return;
        if (matches(msg, id, question)) finish(null, msg);
      });
      socket.connect(port, host, (err?: Error) => {
        if (closed) return;
        if (err) return finish(new ForwardError(`UDP connect: ${err.message}`));
        peer = socket.remoteAddress();
        send();
        resend = setInterval(send, this.options.retransmitMs ?? RETRANSMIT_MS);
      });
      return () => {
        closed = true;
        clearInterval(resend);
        socket.close();
      };
    }, 'no UDP answer');
  }

  private overTcp(query: Buffer, id: number, question: ForwardQuestion, deadline: number): Promise<Buffer> {
    const { host, port } = this.upstream;
    return this.exchange(deadline, (finish) => {
      const socket = net.connect({ host, port });
      const frames = new FrameReader();
      socket.setNoDelay(true);
      socket.on('connect', () => socket.write(tcpFrame(query)));
      socket.on('error', (err: NodeJS.ErrnoException) =>
        finish(new ForwardError(err.code === 'ECONNREFUSED' ? 'TCP connection refused' : `TCP: ${err.message}`)));
      socket.on('close', () => finish(new ForwardError('upstream closed the TCP connection without an answer')));
      socket.on('data', (chunk: Buffer) => {
        const ok = frames.push(chunk, (frame) => {
          if (matches(frame, id, question)) finish(null, Buffer.from(frame));
        });
        if (!ok) finish(new ForwardError('zero-length TCP frame from the upstream'));
      });
      return () => socket.destroy();
    }, 'no TCP answer');
  }

  /**
   * Runs one exchange with the upstream until it finishes, the deadline passes or stop() is called;
   * `begin` opens the socket and returns how to close it. The socket is always closed afterwards.
   */
  private exchange(
    deadline: number,
    begin: (finish: (err: Error | null, answer?: Buffer) => void) => () => void,
    timeoutReason: string,
  ): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const left = deadline - performance.now();
      if (this.stopped) return reject(new ForwardError('stopped'));
      if (left <= 0) return reject(new ForwardError(`${timeoutReason} within ${this.options.timeoutMs} ms`));
      let done = false;
      let close: (() => void) | undefined;
      const finish = (err: Error | null, answer?: Buffer) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        this.open.delete(abort);
        try {
          close?.();
        } catch {
          // already closed
        }
        if (err) reject(err);
        else resolve(answer!);
      };
      const abort = () => finish(new ForwardError('stopped'));
      const timer = setTimeout(() => finish(new ForwardError(`${timeoutReason} within ${this.options.timeoutMs} ms`)), left);
      this.open.add(abort);
      try {
        const closer = begin(finish);
        if (done) closer();
        else close = closer;
      } catch (err) {
        finish(err as Error);
      }
    });
  }
}

/** A reply to our query: a response with our ID and our question (names compared without regard to ASCII case). */
function matches(reply: Buffer, id: number, question: ForwardQuestion): boolean {
  const head = replyHeader(reply);
  if (!head || head.id !== id || !head.question) return false;
  const q = head.question;
  return q.type === question.type && q.class === question.class && asciiLower(q.name) === asciiLower(question.name);
}

function asciiLower(s: string): string {
  return s.replace(/[A-Z]/g, (c) => c.toLowerCase());
}
