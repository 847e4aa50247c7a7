// KadNode 2.x's "bob" challenge on the DHT socket: proves that an address found for a bob name holds
// the name's P-256 key (resolving side), and answers the challenges for the bob keys we load
// (announcing side). Keys, names and the signature rule: src/identity/bob.ts. Every packet starts with
// "BOB"; the length tells the kind:
//
//   challenge  "BOB" | X (32) | challenge (32 random bytes)                     = 67 bytes
//   reply      "BOB" | DER ECDSA-P256 signature of the challenge (as digest)    = 11..75 bytes (73..75 in practice)
//
// The reply names neither the key nor the challenge, so it is matched by the address it comes from
// (IP and port: the challenged DHT port answers from itself) and checked against each challenge pending
// for that address (at most maxPerAddress, so a reply costs a bounded number of signature checks).
// KadNode 2.x matched by IP alone. Like KadNode 1.x's AUTH, the exchange signs the challenge alone, so
// a proof can be relayed by the address that was challenged: answers carry auth 'bob' (marked).
import type { RemoteInfo } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { BOB_KEY_BYTES, MAX_SIGNATURE_BYTES, signBobChallenge, verifyBobSignature, type BobKey } from '../identity/bob.js';
import type { Logger } from '../log.js';
import type { PeerAddress } from '../types.js';
import { canonicalHost } from './compact.js';
import { hostPort } from '../util/host-port.js';
import { PerSecondBudget, Tally } from '../util/per-second-budget.js';

const MAGIC = Buffer.from('BOB');
export const BOB_CHALLENGE_LENGTH = MAGIC.length + BOB_KEY_BYTES + BOB_KEY_BYTES;
/** a DER SEQUENCE of two INTEGERs is at least 8 bytes */
const MIN_REPLY_LENGTH = MAGIC.length + 8;
export const MAX_REPLY_LENGTH = MAGIC.length + MAX_SIGNATURE_BYTES;

export type BobPacket =
  | { kind: 'challenge'; x: Buffer; challenge: Buffer }
  | { kind: 'reply'; signature: Buffer }
  | { kind: 'invalid'; reason: string };

export function encodeBobChallenge(x: Buffer, challenge: Buffer): Buffer {
  return Buffer.concat([MAGIC, x, challenge]);
}

export function encodeBobReply(challenge: Buffer, secret: Buffer): Buffer {
  return Buffer.concat([MAGIC, signBobChallenge(challenge, secret)]);
}

export function parseBobPacket(buf: Buffer): BobPacket {
  if (buf.length < MAGIC.length || !buf.subarray(0, MAGIC.length).equals(MAGIC)) return { kind: 'invalid', reason: 'no BOB prefix' };
  if (buf.length === BOB_CHALLENGE_LENGTH) {
    return { kind: 'challenge', x: Buffer.from(buf.subarray(3, 3 + BOB_KEY_BYTES)), challenge: Buffer.from(buf.subarray(3 + BOB_KEY_BYTES)) };
  }
  if (buf.length < MIN_REPLY_LENGTH || buf.length > MAX_REPLY_LENGTH) return { kind: 'invalid', reason: `bad length ${buf.length} (67, or ${MIN_REPLY_LENGTH}..${MAX_REPLY_LENGTH} for a reply)` };
  return { kind: 'reply', signature: Buffer.from(buf.subarray(MAGIC.length)) };
}

export interface BobAuthDeps {
  send(packet: Buffer, port: number, address: string): void;
  /** the keys we answer challenges for (--bob-load-key) */
  keys: readonly BobKey[];
  log: Logger;
  now?: () => number;
  /** the challenge bytes (tests replay KadNode 2.x's captured ones); default crypto.randomBytes */
  random?: (bytes: number) => Buffer;
}

export interface BobAuthOptions {
  /** BOB packets handled per second from one source IP (replies to our challenges aside, see maxBadReplies) */
  maxPerSecond: number;
  /** all unsolicited BOB packets handled per second: each challenge for our key costs a signature */
  maxTotalPerSecond: number;
  /** source IPs counted per second; packets from further IPs wait for the next second */
  maxSources: number;
  /** addresses being challenged at once; when full, one silent for evictAfterSends gives way */
  maxPending: number;
  /** keys challenged at once at one IP and port (a reply is checked against each) */
  maxPerAddress: number;
  /** ports of one IP under one key (decoy ports), and addresses of one key */
  maxPortsPerAddress: number;
  maxPerKey: number;
  evictAfterSends: number;
  /** sends per address, the first one included (KadNode 2.x sends 3, a second apart) */
  maxSends: number;
  firstRetryMs: number;
  maxRetryMs: number;
  /** replies from the challenged address checked per challenge outside the rate limit */
  maxBadReplies: number;
}

export const DEFAULT_BOB_AUTH_OPTIONS: BobAuthOptions = {
  maxPerSecond: 10,
  // a signature costs about 1.5 ms here, a check 2.5 ms: at most a sixth of a core for strangers
  maxTotalPerSecond: 100,
  maxSources: 4096,
  maxPending: 1024,
  maxPerAddress: 4,
  maxPortsPerAddress: 16,
  maxPerKey: 256,
  evictAfterSends: 2,
  maxSends: 4,
  firstRetryMs: 500,
  maxRetryMs: 1000,
  maxBadReplies: 8,
};

interface Pending {
  x: Buffer;
  address: string;
  port: number;
  /** table keys: `x|ip|port`, `ip|port`, `x|ip`, `x` */
  key: string;
  where: string;
  ipKey: string;
  xKey: string;
  challenge: Buffer;
  packet: Buffer;
  sends: number;
  badReplies: number;
  timer: NodeJS.Timeout | null;
  result: Promise<'bob' | null>;
  settle(proof: 'bob' | null): void;
}


export class BobAuthModule {
  private readonly pending = new Map<string, Pending>();
  /** `ip|port` → the challenges pending there */
  private readonly byAddress = new Map<string, Set<Pending>>();
  private readonly perIp = new Tally();
  private readonly perKey = new Tally();
  private readonly secrets = new Map<string, BobKey>();
  private readonly budget: PerSecondBudget;
  private readonly options: BobAuthOptions;
  readonly counters = { handled: 0, dropped: 0, invalid: 0, answered: 0, notOurs: 0, unsolicited: 0, verified: 0, rejected: 0, evicted: 0 };

  constructor(private readonly deps: BobAuthDeps, options: Partial<BobAuthOptions> = {}) {
    this.options = { ...DEFAULT_BOB_AUTH_OPTIONS, ...options };
    this.budget = new PerSecondBudget(this.options, deps.now);
    for (const key of deps.keys) this.secrets.set(key.x.toString('hex'), key);
  }

  /**
   * Challenge `peer` for the key X (the resolver's AddressVerifier; the id is X's first bytes and not
   * needed). Resolves 'bob' once a reply from that address verifies, null after the last send.
   */
  verify(_id: Buffer, x: Buffer, peer: PeerAddress): Promise<'bob' | null> {
    const address = canonicalHost(peer.address);
    const xKey = x.toString('hex');
    const where = `${address}|${peer.port}`;
    const ipKey = `${xKey}|${address}`;
    const key = `${xKey}|${where}`;
    const running = this.pending.get(key);
    if (running) return running.result;
    if (x.length !== BOB_KEY_BYTES || !Number.isInteger(peer.port) || peer.port < 1 || peer.port > 65535) return Promise.resolve(null);
    const { maxPerAddress, maxPortsPerAddress, maxPerKey, maxPending } = this.options;
    const room =
      ((this.byAddress.get(where)?.size ?? 0) < maxPerAddress || this.evictSilent((e) => e.where === where)) &&
      (this.perIp.count(ipKey) < maxPortsPerAddress || this.evictSilent((e) => e.ipKey === ipKey)) &&
      (this.perKey.count(xKey) < maxPerKey || this.evictSilent((e) => e.xKey === xKey)) &&
      (this.pending.size < maxPending || this.evictSilent(() => true));
    if (!room) return Promise.resolve(null);
    const challenge = (this.deps.random ?? randomBytes)(BOB_KEY_BYTES);
    let settle!: (proof: 'bob' | null) => void;
    const result = new Promise<'bob' | null>((resolve) => (settle = resolve));
    const entry: Pending = { x, address, port: peer.port, key, where, ipKey, xKey, challenge, packet: encodeBobChallenge(x, challenge), sends: 0, badReplies: 0, timer: null, result, settle };
    entry.settle = (proof) => {
      if (entry.timer) clearTimeout(entry.timer);
      this.pending.delete(key);
      const here = this.byAddress.get(where);
      here?.delete(entry);
      if (here?.size === 0) this.byAddress.delete(where);
      this.perIp.add(ipKey, -1);
      this.perKey.add(xKey, -1);
      settle(proof);
    };
    this.pending.set(key, entry);
    const here = this.byAddress.get(where) ?? new Set<Pending>();
    here.add(entry);
    this.byAddress.set(where, here);
    this.perIp.add(ipKey, 1);
    this.perKey.add(xKey, 1);
    this.sendChallenge(entry);
    return result;
  }

  /** The same challenge each time (a late reply to an earlier send still counts), with back-off. */
  private sendChallenge(entry: Pending): void {
    if (entry.sends >= this.options.maxSends) {
      this.deps.log.debug(`No valid reply from ${hostPort(entry.address, entry.port)} after ${entry.sends} challenges`);
      entry.settle(null);
      return;
    }
    entry.sends++;
    this.deps.log.debug(`Send challenge to ${hostPort(entry.address, entry.port)}`);
    this.deps.send(entry.packet, entry.port, entry.address);
    const delay = Math.min(this.options.firstRetryMs * 2 ** (entry.sends - 1), this.options.maxRetryMs);
    entry.timer = setTimeout(() => this.sendChallenge(entry), delay);
  }

  /** Ends the oldest challenge (of those `which` selects) that went unanswered evictAfterSends times. */
  private evictSilent(which: (entry: Pending) => boolean): boolean {
    for (const entry of this.pending.values()) {
      if (entry.sends < this.options.evictAfterSends || !which(entry)) continue;
      this.counters.evicted++;
      this.deps.log.debug(`No reply from ${hostPort(entry.address, entry.port)} after ${entry.sends} challenges: gives way to a new one`);
      entry.settle(null);
      return true;
    }
    return false;
  }

  /** Every datagram of the DHT socket that starts with "BOB". */
  handle(msg: Buffer, rinfo: RemoteInfo): void {
    const packet = parseBobPacket(msg);
    const here = packet.kind === 'reply' ? this.byAddress.get(`${canonicalHost(rinfo.address)}|${rinfo.port}`) : undefined;
    // A reply from an address we challenged is checked whatever else arrives (a flood from elsewhere
    // must not crowd it out), up to maxBadReplies wrong ones per challenge.
    const free = here !== undefined && [...here].some((e) => e.badReplies < this.options.maxBadReplies);
    if (!free && !this.budget.admit(rinfo.address)) {
      this.counters.dropped++;
      return;
    }
    this.counters.handled++;
    const from = hostPort(rinfo.address, rinfo.port);
    switch (packet.kind) {
      case 'invalid':
        this.counters.invalid++;
        this.deps.log.debug(`Bad BOB packet from ${from}: ${packet.reason}`);
        return;
      case 'challenge': {
        const key = this.secrets.get(packet.x.toString('hex'));
        if (!key) {
          this.counters.notOurs++;
          return;
        }
        this.counters.answered++;
        this.deps.log.debug(`Received challenge for ${key.name} from ${from} and send back response`);
        this.deps.send(encodeBobReply(packet.challenge, key.secret), rinfo.port, rinfo.address);
        return;
      }
      case 'reply':
        if (!here) {
          this.counters.unsolicited++;
          this.deps.log.debug(`BOB reply from ${from}, which we did not challenge: ignored`);
          return;
        }
        this.check([...here], packet.signature, from);
    }
  }

  private check(entries: Pending[], signature: Buffer, from: string): void {
    const proven = entries.find((e) => verifyBobSignature(signature, e.challenge, e.x));
    if (proven) {
      this.counters.verified++;
      this.deps.log.debug(`Challenge response is valid (KadNode 2.x bob key, can be relayed): ${from}`);
      proven.settle('bob');
      return;
    }
    // Wrong key, an old challenge replayed, or junk: the right reply may still come.
    for (const e of entries) e.badReplies++;
    this.counters.rejected++;
    this.deps.log.debug(`Challenge response is invalid: ${from}`);
  }

  pendingCount(): number {
    return this.pending.size;
  }

  stop(): void {
    for (const entry of [...this.pending.values()]) entry.settle(null);
  }
}
