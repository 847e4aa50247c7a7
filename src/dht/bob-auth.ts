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
import { BOB_KEY_BYTES, MAX_SIGNATURE_BYTES, signBobChallenge, verifyBobSignature, withBobCurve, type BobKey } from '../identity/bob.js';
import type { Logger } from '../log.js';
import type { PeerAddress } from '../types.js';
import { AuthGate } from './auth-gate.js';
import { ChallengeTable, type Challenge } from './challenge-table.js';
import { canonicalHost } from './compact.js';

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

/**
 * A challenge out: keyed `x|ip|port`, in the groups `ip|port` (maxPerAddress), `x|ip`
 * (maxPortsPerAddress) and `x` (maxPerKey).
 */
interface Pending extends Challenge<'bob'> {
  x: Buffer;
  where: string;
  challenge: Buffer;
}

export class BobAuthModule {
  private readonly pending: ChallengeTable<'bob', Pending>;
  /** `ip|port` → the challenges pending there */
  private readonly byAddress = new Map<string, Set<Pending>>();
  private readonly secrets = new Map<string, BobKey>();
  private readonly gate: AuthGate;
  private readonly options: BobAuthOptions;
  readonly counters = { handled: 0, dropped: 0, invalid: 0, answered: 0, notOurs: 0, unsolicited: 0, verified: 0, rejected: 0, evicted: 0, failed: 0 };

  constructor(private readonly deps: BobAuthDeps, options: Partial<BobAuthOptions> = {}) {
    this.options = { ...DEFAULT_BOB_AUTH_OPTIONS, ...options };
    this.gate = new AuthGate('BOB', { counters: this.counters, log: deps.log, now: deps.now }, this.options);
    const { maxPerAddress, maxPortsPerAddress, maxPerKey } = this.options;
    this.pending = new ChallengeTable({ send: deps.send, log: deps.log, counters: this.counters }, this.options, [maxPerAddress, maxPortsPerAddress, maxPerKey]);
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
    const running = this.pending.running(key);
    if (running) return running;
    if (x.length !== BOB_KEY_BYTES || !Number.isInteger(peer.port) || peer.port < 1 || peer.port > 65535) return Promise.resolve(null);
    if (!this.pending.makeRoom([where, ipKey, xKey])) return Promise.resolve(null);
    const challenge = (this.deps.random ?? randomBytes)(BOB_KEY_BYTES);
    const packets = [encodeBobChallenge(x, challenge)];
    const entry = this.pending.add({ x, address, port: peer.port, key, groups: [where, ipKey, xKey], where, challenge, packets }, () => {
      const here = this.byAddress.get(where);
      here?.delete(entry);
      if (here?.size === 0) this.byAddress.delete(where);
    });
    const here = this.byAddress.get(where) ?? new Set<Pending>();
    here.add(entry);
    this.byAddress.set(where, here);
    // a reply is checked as it arrives, so the signature code is loaded before the challenge leaves
    withBobCurve(() => this.pending.send(entry));
    return entry.result;
  }

  /** Every datagram of the DHT socket that starts with "BOB". */
  handle(msg: Buffer, rinfo: RemoteInfo): void {
    const packet = parseBobPacket(msg);
    const here = packet.kind === 'reply' ? this.byAddress.get(`${canonicalHost(rinfo.address)}|${rinfo.port}`) : undefined;
    // A reply from an address we challenged is checked whatever else arrives (a flood from elsewhere
    // must not crowd it out), up to maxBadReplies wrong ones per challenge.
    const from = this.gate.enter(packet, rinfo, here !== undefined && [...here].some((e) => e.badReplies < this.options.maxBadReplies));
    if (from === null) return;
    switch (packet.kind) {
      case 'challenge': {
        const key = this.secrets.get(packet.x.toString('hex'));
        if (!key) {
          this.counters.notOurs++;
          return;
        }
        this.counters.answered++;
        this.deps.log.debug(`Received challenge for ${key.name} from ${from} and send back response`);
        withBobCurve(() => this.deps.send(encodeBobReply(packet.challenge, key.secret), rinfo.port, rinfo.address));
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
      this.pending.settle(proven, 'bob');
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
    this.pending.stop();
  }
}
