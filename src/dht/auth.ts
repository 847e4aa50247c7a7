// AUTH challenge/response on the DHT socket, byte-compatible with KadNode 1.x:
//   challenge: "AUTH" | id (20) | challenge (16)                        = 40 bytes
//   reply:     "AUTH" | id (20) | crypto_sign(challenge) (64 sig + 16)   = 104 bytes
// An address found for a keyed id counts only after its IP replies with exactly the challenge we
// sent it, signed by the id's key.
import type { RemoteInfo } from 'node:dgram';
import { openSigned, randomBytes, sign } from '../identity/keys.js';
import type { Logger } from '../log.js';
import type { PeerAddress } from '../types.js';

const MAGIC = Buffer.from('AUTH');
const ID_LENGTH = 20;
export const CHALLENGE_LENGTH = 16;
export const CHALLENGE_PACKET_LENGTH = 4 + ID_LENGTH + CHALLENGE_LENGTH;
export const REPLY_PACKET_LENGTH = 4 + ID_LENGTH + 64 + CHALLENGE_LENGTH;

export type AuthPacket =
  | { kind: 'challenge'; id: Buffer; challenge: Buffer }
  | { kind: 'reply'; id: Buffer; signed: Buffer }
  | { kind: 'invalid'; reason: string };

export function encodeChallenge(id: Buffer, challenge: Buffer): Buffer {
  return Buffer.concat([MAGIC, id, challenge]);
}

export function encodeReply(id: Buffer, challenge: Buffer, secretKey: Buffer): Buffer {
  return Buffer.concat([MAGIC, id, sign(challenge, secretKey)]);
}

/** Only the two exact sizes are accepted (KadNode took any other length ≥ 24 as a reply). */
export function parseAuthPacket(buf: Buffer): AuthPacket {
  if (buf.length < 4 || !buf.subarray(0, 4).equals(MAGIC)) return { kind: 'invalid', reason: 'no AUTH prefix' };
  const id = Buffer.from(buf.subarray(4, 4 + ID_LENGTH));
  if (buf.length === CHALLENGE_PACKET_LENGTH) return { kind: 'challenge', id, challenge: Buffer.from(buf.subarray(4 + ID_LENGTH)) };
  if (buf.length === REPLY_PACKET_LENGTH) return { kind: 'reply', id, signed: Buffer.from(buf.subarray(4 + ID_LENGTH)) };
  return { kind: 'invalid', reason: `bad length ${buf.length} (40 or 104 expected)` };
}

/** True when `signed` opens with the key and holds exactly the challenge. */
export function replyProves(signed: Buffer, publicKey: Buffer, challenge: Buffer): boolean {
  const message = openSigned(signed, publicKey);
  return message !== null && message.equals(challenge);
}

export interface AuthDeps {
  send(packet: Buffer, port: number, address: string): void;
  /** the secret key of one of our own values, if we hold it */
  secretKeyFor(id: Buffer): Buffer | undefined;
  log: Logger;
  now?: () => number;
}

export interface AuthOptions {
  /**
   * AUTH packets handled per second from one source IP; the rest from that IP are dropped. A reply to a
   * challenge we sent (its id and IP pending) is always handled: those are bounded by our own sends.
   */
  maxPerSecond: number;
  /** all unsolicited AUTH packets (challenges we sign an answer to, stray replies) handled per second */
  maxTotalPerSecond: number;
  /** source IPs counted per second; packets from further IPs wait for the next second */
  maxSources: number;
  /**
   * addresses being challenged at once; when full, the oldest challenge sent evictAfterSends times
   * without an answer (a fake address where nobody listens, most likely) gives way to a new one
   */
  maxPending: number;
  evictAfterSends: number;
  /** sends per address, the first one included */
  maxSends: number;
  /** first resend delay, doubled up to maxRetryMs */
  firstRetryMs: number;
  maxRetryMs: number;
}

export const DEFAULT_AUTH_OPTIONS: AuthOptions = { maxPerSecond: 20, maxTotalPerSecond: 1000, maxSources: 4096, maxPending: 1024, evictAfterSends: 3, maxSends: 10, firstRetryMs: 250, maxRetryMs: 1000 };

interface Pending {
  id: Buffer;
  publicKey: Buffer;
  address: string;
  port: number;
  challenge: Buffer;
  sends: number;
  timer: NodeJS.Timeout | null;
  result: Promise<boolean>;
  settle(ok: boolean): void;
}

export class AuthModule {
  private readonly pending = new Map<string, Pending>();
  private windowStart = 0;
  private windowCount = 0;
  /** packets per source IP in the current second (cleared every second, at most maxSources) */
  private readonly perSource = new Map<string, number>();
  readonly counters = { handled: 0, dropped: 0, invalid: 0, answered: 0, verified: 0, rejected: 0, evicted: 0 };

  private readonly options: AuthOptions;

  constructor(private readonly deps: AuthDeps, options: Partial<AuthOptions> = {}) {
    this.options = { ...DEFAULT_AUTH_OPTIONS, ...options };
  }

  /** Challenge `peer` for `id`; resolves true once it proves the key, false after the last send. */
  verify(id: Buffer, publicKey: Buffer, peer: PeerAddress): Promise<boolean> {
    // Replies are matched by IP (the reply may come from another port), so one challenge per IP and id.
    const key = `${id.toString('hex')}|${peer.address}`;
    const running = this.pending.get(key);
    if (running) return running.result;
    if (this.pending.size >= this.options.maxPending && !this.evictSilent()) return Promise.resolve(false);
    let settle!: (ok: boolean) => void;
    const result = new Promise<boolean>((resolve) => (settle = resolve));
    const entry: Pending = { id, publicKey, address: peer.address, port: peer.port, challenge: randomBytes(CHALLENGE_LENGTH), sends: 0, timer: null, result, settle };
    entry.settle = (ok) => {
      if (entry.timer) clearTimeout(entry.timer);
      this.pending.delete(key);
      settle(ok);
    };
    this.pending.set(key, entry);
    this.sendChallenge(entry);
    return result;
  }

  private sendChallenge(entry: Pending): void {
    if (entry.sends >= this.options.maxSends) {
      this.deps.log.debug(`No valid reply from ${entry.address}:${entry.port} after ${entry.sends} challenges`);
      entry.settle(false);
      return;
    }
    entry.sends++;
    this.deps.log.debug(`Send challenge to ${entry.address}:${entry.port}`);
    this.deps.send(encodeChallenge(entry.id, entry.challenge), entry.port, entry.address);
    const delay = Math.min(this.options.firstRetryMs * 2 ** (entry.sends - 1), this.options.maxRetryMs);
    entry.timer = setTimeout(() => this.sendChallenge(entry), delay);
  }

  /**
   * Ends the oldest challenge that went unanswered evictAfterSends times. Fake addresses of a keyed name
   * would otherwise hold the pending slots for all their sends (about 9 s) and refuse the real address
   * found by the next search.
   */
  private evictSilent(): boolean {
    for (const entry of this.pending.values()) {
      if (entry.sends < this.options.evictAfterSends) continue;
      this.counters.evicted++;
      this.deps.log.debug(`No reply from ${entry.address}:${entry.port} after ${entry.sends} challenges: gives way to a new one`);
      entry.settle(false);
      return true;
    }
    return false;
  }

  /** Every datagram of the DHT socket that starts with "AUTH". */
  handle(msg: Buffer, rinfo: RemoteInfo): void {
    const packet = parseAuthPacket(msg);
    // The reply to a challenge we sent is handled whatever else arrives (forged replies from other IPs
    // must not crowd it out); there is one at most per challenge: a wrong one ends the challenge.
    const entry = packet.kind === 'reply' ? this.pending.get(`${packet.id.toString('hex')}|${rinfo.address}`) : undefined;
    if (!entry && !this.admit(rinfo.address)) {
      this.counters.dropped++;
      return;
    }
    this.counters.handled++;
    switch (packet.kind) {
      case 'invalid':
        this.counters.invalid++;
        this.deps.log.debug(`Bad AUTH packet from ${rinfo.address}:${rinfo.port}: ${packet.reason}`);
        return;
      case 'challenge': {
        const secretKey = this.deps.secretKeyFor(packet.id);
        if (!secretKey) return;
        this.counters.answered++;
        this.deps.log.debug(`Received challenge from ${rinfo.address}:${rinfo.port} and send back response`);
        this.deps.send(encodeReply(packet.id, packet.challenge, secretKey), rinfo.port, rinfo.address);
        return;
      }
      case 'reply': {
        if (!entry) return;
        if (replyProves(packet.signed, entry.publicKey, entry.challenge)) {
          this.counters.verified++;
          this.deps.log.debug(`Challenge response is valid: ${entry.address}:${entry.port}`);
          entry.settle(true);
        } else {
          // The address answered, with a signature of another key or of another challenge: asking it
          // again would only bring more of the same (KadNode resent up to 10 times regardless).
          this.counters.rejected++;
          this.deps.log.debug(`Challenge response is invalid: ${rinfo.address}:${rinfo.port}`);
          entry.settle(false);
        }
      }
    }
  }

  /** Per source IP and in total, per second; the per-IP counts are forgotten every second. */
  private admit(address: string): boolean {
    const second = Math.floor((this.deps.now ?? Date.now)() / 1000);
    if (second !== this.windowStart) {
      this.windowStart = second;
      this.windowCount = 0;
      this.perSource.clear();
    }
    const count = this.perSource.get(address);
    if (count === undefined && this.perSource.size >= this.options.maxSources) return false;
    if ((count ?? 0) >= this.options.maxPerSecond || this.windowCount >= this.options.maxTotalPerSecond) return false;
    this.perSource.set(address, (count ?? 0) + 1);
    this.windowCount++;
    return true;
  }

  pendingCount(): number {
    return this.pending.size;
  }

  stop(): void {
    for (const entry of [...this.pending.values()]) entry.settle(false);
  }
}
