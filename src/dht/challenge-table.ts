// The challenges the resolving side has out, for AUTH (auth.ts) and BOB (bob-auth.ts) alike: one entry
// per challenged (key, IP, port), sent again with back-off (firstRetryMs doubled up to maxRetryMs) until
// the owner settles it with a valid reply or maxSends went unanswered. Bounded as a whole (maxPending)
// and per group: each entry names its group under each of the owner's limits (the ports of one IP under
// one key, the addresses of one key, ...), in the order of `limits`. When a bound is reached, the oldest
// challenge of that group sent evictAfterSends times without an answer (a fake address where nobody
// listens, most likely) gives way to the new one: fake addresses of a keyed name would otherwise hold
// the slots for all their sends and refuse the real address found by the next search, or the real port
// of an IP full of decoy ports. A challenge that finds no room is not sent (its result: null).
import type { Logger } from '../log.js';
import { hostPort } from '../util/host-port.js';
import { Tally } from '../util/tally.js';

export interface ChallengeTableOptions {
  /** challenges at once */
  maxPending: number;
  /** a challenge sent this many times without an answer may give way to a new one */
  evictAfterSends: number;
  /** sends per challenge, the first one included */
  maxSends: number;
  /** first resend delay, doubled up to maxRetryMs */
  firstRetryMs: number;
  maxRetryMs: number;
}

export interface ChallengeTableDeps {
  send(packet: Buffer, port: number, address: string): void;
  log: Logger;
  /** the owner's counters: challenges that gave way, and those that ended after every send */
  counters: { evicted: number; failed: number };
}

/** What the owner gives for a new challenge. */
export interface NewChallenge {
  /** one entry per key: a second verify() of it shares the first one's result */
  key: string;
  address: string;
  port: number;
  /** the entry's group under each of the table's limits, in their order */
  groups: readonly string[];
  /** sent, in this order, at each send */
  packets: readonly Buffer[];
}

export interface Challenge<P> extends NewChallenge {
  sends: number;
  /** wrong replies checked for it (the owner counts them: its bound on free checks) */
  badReplies: number;
  result: Promise<P | null>;
}

interface Slot<P, E> {
  entry: E;
  timer: NodeJS.Timeout | null;
  resolve(proof: P | null): void;
  onEnd(entry: E): void;
}

export class ChallengeTable<P, E extends Challenge<P>> {
  /** by key, oldest first */
  private readonly pending = new Map<string, Slot<P, E>>();
  private readonly tallies: Tally[];

  /** `limits`: the most entries of one group, for each group an entry names */
  constructor(private readonly deps: ChallengeTableDeps, private readonly options: ChallengeTableOptions, private readonly limits: readonly number[]) {
    this.tallies = limits.map(() => new Tally());
  }

  /** The result of the challenge running for this key, if one is. */
  running(key: string): Promise<P | null> | undefined {
    return this.pending.get(key)?.entry.result;
  }

  /**
   * True when a challenge of these groups fits, after a silent one gave way where a bound was reached
   * (each bound in the order of `limits`, then maxPending); false: no room.
   */
  makeRoom(groups: readonly string[]): boolean {
    for (let i = 0; i < this.limits.length; i++) {
      if (this.tallies[i]!.count(groups[i]!) >= this.limits[i]! && !this.evictSilent((e) => e.groups[i] === groups[i])) return false;
    }
    return this.pending.size < this.options.maxPending || this.evictSilent(() => true);
  }

  /** Registers a challenge (call makeRoom first); send() sends it. onEnd runs when it is settled. */
  add(fields: Omit<E, keyof Challenge<P>> & NewChallenge, onEnd: (entry: E) => void): E {
    let resolve!: (proof: P | null) => void;
    const result = new Promise<P | null>((r) => (resolve = r));
    const entry = { ...fields, sends: 0, badReplies: 0, result } as unknown as E;
    this.pending.set(entry.key, { entry, timer: null, resolve, onEnd });
    entry.groups.forEach((group, i) => this.tallies[i]!.add(group, 1));
    return entry;
  }

  /** The same packets each time (a late reply to an earlier send still counts), with back-off; nothing once settled. */
  send(entry: E): void {
    const slot = this.pending.get(entry.key);
    if (slot?.entry !== entry) return;
    if (entry.sends >= this.options.maxSends) {
      this.deps.log.debug(`No valid reply from ${hostPort(entry.address, entry.port)} after ${entry.sends} challenges`);
      this.deps.counters.failed++;
      this.settle(entry, null);
      return;
    }
    entry.sends++;
    this.deps.log.debug(`Send challenge to ${hostPort(entry.address, entry.port)}`);
    for (const packet of entry.packets) this.deps.send(packet, entry.port, entry.address);
    const delay = Math.min(this.options.firstRetryMs * 2 ** (entry.sends - 1), this.options.maxRetryMs);
    slot.timer = setTimeout(() => this.send(entry), delay);
  }

  /** Ends the challenge: its result is `proof` (null: not proven); no more sends. */
  settle(entry: E, proof: P | null): void {
    const slot = this.pending.get(entry.key);
    if (slot?.entry !== entry) return;
    if (slot.timer) clearTimeout(slot.timer);
    this.pending.delete(entry.key);
    entry.groups.forEach((group, i) => this.tallies[i]!.add(group, -1));
    slot.onEnd(entry);
    slot.resolve(proof);
  }

  get size(): number {
    return this.pending.size;
  }

  stop(): void {
    for (const { entry } of [...this.pending.values()]) this.settle(entry, null);
  }

  /** Ends the oldest challenge (of those `which` selects) that went unanswered evictAfterSends times. */
  private evictSilent(which: (entry: E) => boolean): boolean {
    for (const { entry } of this.pending.values()) {
      if (entry.sends < this.options.evictAfterSends || !which(entry)) continue;
      this.deps.counters.evicted++;
      this.deps.log.debug(`No reply from ${hostPort(entry.address, entry.port)} after ${entry.sends} challenges: gives way to a new one`);
      this.settle(entry, null);
      return true;
    }
    return false;
  }
}
