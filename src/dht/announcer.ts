// Keeps our value ids on the nodes closest to them: announce as soon as the routing table has a
// node, follow up while the table is still growing (the network forming), then every interval.
//
// Announcements must never lapse on the nodes that store them: those drop an announcement a fixed time
// after they received it (KadNode 1.x and 2.x, i.e. jech's DHT: 32 minutes; ours: 35; libtorrent longer),
// and a walk that reaches them takes from milliseconds to tens of seconds. So the interval runs from the
// *start* of the previous walk, and is shorter than the shortest common storage time by a margin that
// covers a slow walk: 28 minutes against 32 (a storing node received the last announcement no earlier
// than that start).
import type { Logger } from '../log.js';
import type { AnnounceTarget } from './node-types.js';

export interface ValueId {
  /** the sanitized name, for logs and listings */
  name: string;
  id: Buffer;
  port: number;
  /** with a secret key we answer AUTH challenges for this id */
  secretKey?: Buffer;
}

export interface AnnouncerOptions {
  intervalMs: number;
  /** K of the DHT: an announcement that reached this many nodes needs no follow-up */
  replication: number;
  /** first follow-up delay; doubled each time */
  followUpMs: number;
  /** how many follow-ups at most after each periodic announcement */
  maxFollowUps: number;
  /** values announced at once (default MAX_VALUES); adding one more throws */
  maxValues?: number;
}

/** `announce` on the control port or the web interface adds values: a bound on what local users can add. */
export const MAX_VALUES = 1024;
/** An announcement that reached no node (offline, cut off) is tried again at least this often. */
const UNREACHED_RETRY_MS = 60_000;
/**
 * A follow-up walks again only when the routing table has grown this much since the last walk: while
 * the network forms (or a daemon joins) the table doubles within seconds and a walk from it reaches
 * closer nodes; on the internet it keeps growing slowly for minutes, and a follow-up for every new node
 * re-walked every name up to 8 times (two thirds of a fresh daemon's queries in the mainline benchmark).
 */
const FOLLOW_UP_GROWTH = 1.5;

/** How long a value is announced: the whole run, until a time, or a single announcement. */
export type Lifetime = { kind: 'forever' } | { kind: 'until'; at: number } | { kind: 'once' };

interface Entry extends ValueId {
  lifetime: Lifetime;
  nextAt: number;
  running: boolean;
  followUps: number;
  nodesAtLastAnnounce: number;
  lastAcks: number;
  lastAnnouncedAt: number | null;
  /** when the last walk began: the next periodic one is counted from here */
  lastStartedAt: number | null;
}

export const DEFAULT_ANNOUNCER_OPTIONS: AnnouncerOptions = {
  intervalMs: 28 * 60_000,
  replication: 20,
  followUpMs: 2_000,
  maxFollowUps: 8,
};

export class Announcer {
  private readonly entries = new Map<string, Entry>();
  private timer: NodeJS.Timeout | null = null;
  private started = false;

  constructor(
    private readonly dht: AnnounceTarget,
    private readonly log: Logger,
    private readonly options: AnnouncerOptions = DEFAULT_ANNOUNCER_OPTIONS,
    private readonly now: () => number = Date.now,
  ) {}

  /** Adding a value we already announce announces it now, with the new port and lifetime. */
  add(value: ValueId, lifetime: Lifetime = { kind: 'forever' }): void {
    const key = value.id.toString('hex');
    const existing = this.entries.get(key);
    if (existing) {
      existing.port = value.port;
      if (value.secretKey) existing.secretKey = value.secretKey;
      existing.nextAt = this.now();
      // A single announcement does not shorten a value announced for longer.
      if (lifetime.kind !== 'once') existing.lifetime = lifetime;
    } else {
      this.expire();
      const max = this.options.maxValues ?? MAX_VALUES;
      if (this.entries.size >= max) throw new Error(`too many values to announce (at most ${max})`);
      this.entries.set(key, { ...value, lifetime, nextAt: this.now(), running: false, followUps: 0, nodesAtLastAnnounce: 0, lastAcks: 0, lastAnnouncedAt: null, lastStartedAt: null });
    }
    this.log.debug(`Add value id ${key}:${value.port} (${value.name})`);
    if (this.started) this.tick();
  }

  /** The port of our own value for this id, if we announce it. */
  portFor(id: Buffer): number | undefined {
    return this.entries.get(id.toString('hex'))?.port;
  }

  secretKeyFor(id: Buffer): Buffer | undefined {
    return this.entries.get(id.toString('hex'))?.secretKey;
  }

  values(): ReadonlyArray<Readonly<ValueId & { lifetime: Lifetime; lastAcks: number; lastAnnouncedAt: number | null; nextAt: number }>> {
    this.expire();
    return [...this.entries.values()];
  }

  /** Announce every value now; returns how many. */
  announceAll(): number {
    const now = this.now();
    for (const entry of this.entries.values()) entry.nextAt = now;
    this.tick();
    return this.entries.size;
  }

  private expire(): void {
    const now = this.now();
    for (const [key, entry] of this.entries) {
      if (!entry.running && entry.lifetime.kind === 'until' && entry.lifetime.at <= now) {
        this.entries.delete(key);
        this.log.debug(`Value ${entry.name} expired`);
      }
    }
  }

  start(): void {
    this.started = true;
    this.dht.onNodeAdded(() => this.tick());
    this.tick();
  }

  stop(): void {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private tick(): void {
    if (!this.started) return;
    this.expire();
    const now = this.now();
    const nodes = this.dht.nodeCount();
    if (nodes > 0) {
      for (const entry of this.entries.values()) {
        if (!entry.running && entry.nextAt <= now) this.announce(entry, nodes);
      }
    }
    this.schedule();
  }

  private announce(entry: Entry, nodes: number): void {
    entry.running = true;
    entry.lastStartedAt = this.now();
    entry.nodesAtLastAnnounce = nodes;
    this.dht.announce(entry.id, entry.port).then((acks) => {
      entry.running = false;
      entry.lastAcks = acks;
      entry.lastAnnouncedAt = this.now();
      this.log.debug(`Announced ${entry.name} (${entry.id.toString('hex')}:${entry.port}) to ${acks} nodes`);
      if (entry.lifetime.kind === 'once') {
        this.entries.delete(entry.id.toString('hex'));
        return;
      }
      entry.nextAt = this.nextTime(entry);
      this.schedule();
    });
  }

  private nextTime(entry: Entry): number {
    const now = this.now();
    const periodic = (entry.lastStartedAt ?? now) + this.options.intervalMs;
    // Reached nobody: the table holds only nodes that are gone (a link down, the network split). Try again,
    // backing off to once a minute, whether the table grows or not, until some node stores it.
    if (entry.lastAcks === 0) {
      const delay = Math.min(this.options.followUpMs * 2 ** Math.min(entry.followUps, 20), UNREACHED_RETRY_MS);
      entry.followUps++;
      return Math.min(periodic, now + delay);
    }
    // While fewer than K nodes hold it and the table may still grow, look again soon.
    if (entry.lastAcks < this.options.replication && entry.followUps < this.options.maxFollowUps) {
      const delay = this.options.followUpMs * 2 ** entry.followUps;
      entry.followUps++;
      return Math.min(periodic, now + delay);
    }
    entry.followUps = 0;
    return periodic;
  }

  private schedule(): void {
    if (!this.started) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    let next = Infinity;
    for (const entry of this.entries.values()) {
      if (entry.running) continue;
      next = Math.min(next, entry.nextAt);
      if (entry.lifetime.kind === 'until') next = Math.min(next, entry.lifetime.at);
    }
    if (next === Infinity) return;
    const delay = Math.max(0, next - this.now());
    this.timer = setTimeout(() => this.followUpOrTick(), Math.min(delay, 2 ** 31 - 1));
    this.timer.unref();
  }

  private followUpOrTick(): void {
    // A follow-up is only worth a walk when the routing table has grown much since the last one.
    const nodes = this.dht.nodeCount();
    const now = this.now();
    for (const entry of this.entries.values()) {
      if (entry.running || entry.nextAt > now || entry.followUps === 0) continue;
      if (nodes < entry.nodesAtLastAnnounce * FOLLOW_UP_GROWTH && entry.lastAcks > 0) entry.nextAt = this.nextTime(entry);
    }
    this.tick();
  }
}
