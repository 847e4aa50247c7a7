// AUTH on the DHT socket: proves that an address found for a keyed id holds the id's secret key
// (resolving side), and answers the challenges for the keys we hold (announcing side). Wire formats
// and why there are two exchanges: auth-wire.ts.
//
// Resolving side: every announced (IP, port) of a keyed id gets its own challenge, sent in both
// exchanges at once (the bound one alone with --auth-refuse-1x) and resent with back-off. The first
// valid reply settles it: 'bound' or '1.x' (a 1.x key holder; such an answer can be relayed and is
// marked). A wrong reply is counted and ignored: it never ends a challenge that the right reply can
// still answer. Bound replies are matched by nonce (the signature binds the address, so the source does
// not matter), 1.x replies by the challenge they carry and the challenged IP, as KadNode 1.x did.
import type { RemoteInfo } from 'node:dgram';
import { randomBytes } from '../identity/keys.js';
import type { Logger } from '../log.js';
import type { PeerAddress } from '../types.js';
import {
  boundReplyProves,
  challengeOfReply,
  encodeBoundChallenge,
  encodeBoundReply,
  encodeChallenge,
  encodeReply,
  isMarked,
  markedChallenge,
  NONCE_LENGTH,
  parseAuthPacket,
  replyProves,
} from './auth-wire.js';
import { AuthGate } from './auth-gate.js';
import { ChallengeTable, type Challenge } from './challenge-table.js';
import { canonicalHost } from './compact.js';
import { hostPort } from '../util/host-port.js';

/** How an address proved its key: the address-bound exchange, or KadNode 1.x's (relayable). */
export type AuthProof = 'bound' | '1.x';

export interface AuthDeps {
  send(packet: Buffer, port: number, address: string): void;
  /** the secret key of one of our own values, if we hold it */
  secretKeyFor(id: Buffer): Buffer | undefined;
  /**
   * True when a challenge sent to `address` reached us legitimately: an address of ours (an interface,
   * our external address as the DHT sees it, a port mapping's). A bound challenge for any other address
   * was forwarded by whoever it was sent to, and is not answered.
   */
  isOwnAddress(address: string): boolean;
  log: Logger;
  now?: () => number;
}

export interface AuthOptions {
  /**
   * AUTH packets handled per second from one source IP; the rest from that IP are dropped. A reply that
   * matches a challenge we sent (its nonce, or its 1.x challenge from the challenged IP) is always
   * handled, up to maxBadReplies wrong ones per challenge: those are bounded by our own sends.
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
  /** the same bound for the ports of one IP under one id (decoy ports), and for the addresses of one id */
  maxPortsPerAddress: number;
  maxPerId: number;
  evictAfterSends: number;
  /** sends per address, the first one included */
  maxSends: number;
  /** first resend delay, doubled up to maxRetryMs */
  firstRetryMs: number;
  maxRetryMs: number;
  /** wrong replies checked per challenge without the rate limit (each costs a signature check) */
  maxBadReplies: number;
  /** also send the 1.x challenge and accept a 1.x proof (false: --auth-refuse-1x) */
  accept1x: boolean;
}

export const DEFAULT_AUTH_OPTIONS: AuthOptions = {
  maxPerSecond: 20,
  maxTotalPerSecond: 1000,
  maxSources: 4096,
  maxPending: 1024,
  maxPortsPerAddress: 16,
  maxPerId: 256,
  evictAfterSends: 3,
  maxSends: 10,
  firstRetryMs: 250,
  maxRetryMs: 1000,
  maxBadReplies: 16,
  accept1x: true,
};

/** A challenge out: keyed `id|ip|port`, in the groups `id|ip` (maxPortsPerAddress) and `id` (maxPerId). */
interface Pending extends Challenge<AuthProof> {
  id: Buffer;
  publicKey: Buffer;
  nonce: Buffer;
  /** the marked 1.x challenge; null when 1.x proofs are refused */
  challenge1x: Buffer | null;
}

export class AuthModule {
  private readonly pending: ChallengeTable<AuthProof, Pending>;
  private readonly byNonce = new Map<string, Pending>();
  private readonly byChallenge = new Map<string, Pending>();
  private readonly gate: AuthGate;
  readonly counters = {
    handled: 0,
    dropped: 0,
    invalid: 0,
    answered: 0,
    verified: 0,
    verified1x: 0,
    rejected: 0,
    /** challenges that ended without a valid reply after every send */
    failed: 0,
    evicted: 0,
    /** bound challenges for an address not ours (relayed), and marked 1.x challenges: not answered */
    refusedForeign: 0,
    refusedMarked: 0,
  };

  private readonly options: AuthOptions;

  constructor(private readonly deps: AuthDeps, options: Partial<AuthOptions> = {}) {
    this.options = { ...DEFAULT_AUTH_OPTIONS, ...options };
    this.gate = new AuthGate('AUTH', { counters: this.counters, log: deps.log, now: deps.now }, this.options);
    const { maxPortsPerAddress, maxPerId } = this.options;
    this.pending = new ChallengeTable({ send: deps.send, log: deps.log, counters: this.counters }, this.options, [maxPortsPerAddress, maxPerId]);
  }

  /** Challenge `peer` for `id`; resolves with how it proved the key, or null after the last send. */
  verify(id: Buffer, publicKey: Buffer, peer: PeerAddress): Promise<AuthProof | null> {
    const address = canonicalHost(peer.address);
    const idKey = id.toString('hex');
    const ipKey = `${idKey}|${address}`;
    const key = `${ipKey}|${peer.port}`;
    const running = this.pending.running(key);
    if (running) return running;
    const room = this.pending.makeRoom([ipKey, idKey]);
    const nonce = randomBytes(NONCE_LENGTH);
    const bound = encodeBoundChallenge(id, nonce, { address, port: peer.port });
    if (!room || !bound) return Promise.resolve(null);
    const challenge1x = this.options.accept1x ? markedChallenge(id) : null;
    const packets = challenge1x ? [bound, encodeChallenge(id, challenge1x)] : [bound];
    const entry = this.pending.add({ id, publicKey, address, port: peer.port, key, groups: [ipKey, idKey], nonce, challenge1x, packets }, () => {
      this.byNonce.delete(nonce.toString('hex'));
      if (challenge1x) this.byChallenge.delete(challenge1x.toString('hex'));
    });
    this.byNonce.set(nonce.toString('hex'), entry);
    if (challenge1x) this.byChallenge.set(challenge1x.toString('hex'), entry);
    this.pending.send(entry);
    return entry.result;
  }

  /** The challenge a reply answers, when it is one of ours and may still be checked. */
  private matching(packet: ReturnType<typeof parseAuthPacket>, source: string): Pending | undefined {
    let entry: Pending | undefined;
    if (packet.kind === 'bound-reply') entry = this.byNonce.get(packet.nonce.toString('hex'));
    else if (packet.kind === 'reply') {
      entry = this.byChallenge.get(challengeOfReply(packet.signed).toString('hex'));
      if (entry && entry.address !== canonicalHost(source)) entry = undefined;
    }
    if (!entry || (packet.kind !== 'reply' && packet.kind !== 'bound-reply') || !entry.id.equals(packet.id)) return undefined;
    return entry;
  }

  /** Every datagram of the DHT socket that starts with "AUTH". */
  handle(msg: Buffer, rinfo: RemoteInfo): void {
    const packet = parseAuthPacket(msg);
    // A reply to a challenge we sent is handled whatever else arrives (forged replies from other IPs
    // must not crowd it out); finding it needs the nonce or challenge we sent, which only the
    // challenged host (and whoever it forwards them to) has seen.
    const entry = this.matching(packet, rinfo.address);
    const from = this.gate.enter(packet, rinfo, entry !== undefined && entry.badReplies < this.options.maxBadReplies);
    if (from === null) return;
    switch (packet.kind) {
      case 'challenge': {
        const secretKey = this.deps.secretKeyFor(packet.id);
        if (!secretKey) return;
        if (isMarked(packet.id, packet.challenge)) {
          this.counters.refusedMarked++;
          this.deps.log.debug(`Received 1.x challenge from ${from} marked by a kadnode resolver: answered only in the bound exchange`);
          return;
        }
        this.counters.answered++;
        this.deps.log.debug(`Received challenge from ${from} and send back response`);
        this.deps.send(encodeReply(packet.id, packet.challenge, secretKey), rinfo.port, rinfo.address);
        return;
      }
      case 'bound-challenge': {
        const secretKey = this.deps.secretKeyFor(packet.id);
        if (!secretKey) return;
        const to = hostPort(packet.to.address, packet.to.port);
        if (!this.deps.isOwnAddress(packet.to.address)) {
          this.counters.refusedForeign++;
          this.deps.log.debug(`Received challenge from ${from} sent to ${to}, not an address of ours (relayed?): not answered`);
          return;
        }
        this.counters.answered++;
        this.deps.log.debug(`Received bound challenge for ${to} from ${from} and send back response`);
        this.deps.send(encodeBoundReply(packet.id, packet.nonce, packet.to, secretKey)!, rinfo.port, rinfo.address);
        return;
      }
      case 'bound-reply':
        if (entry) this.check(entry, boundReplyProves(packet.signature, entry.publicKey, entry.id, entry.nonce, entry), 'bound', from);
        return;
      case 'reply':
        if (entry) this.check(entry, entry.challenge1x !== null && replyProves(packet.signed, entry.publicKey, entry.challenge1x), '1.x', from);
    }
  }

  private check(entry: Pending, valid: boolean, proof: AuthProof, from: string): void {
    const challenged = hostPort(entry.address, entry.port);
    if (valid) {
      this.counters.verified++;
      if (proof === '1.x') this.counters.verified1x++;
      this.deps.log.debug(proof === 'bound' ? `Challenge response is valid: ${challenged}` : `Challenge response is valid (KadNode 1.x exchange only, can be relayed): ${challenged}`);
      this.pending.settle(entry, proof);
      return;
    }
    // Wrong key, wrong challenge, or junk from a host that saw our nonce: the right reply may still come.
    entry.badReplies++;
    this.counters.rejected++;
    this.deps.log.debug(`Challenge response is invalid: ${challenged} (from ${from})`);
  }

  pendingCount(): number {
    return this.pending.size;
  }

  stop(): void {
    this.pending.stop();
  }
}

