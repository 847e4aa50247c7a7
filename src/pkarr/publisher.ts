// Publishes our zone (--pkarr-key, --pkarr-zone) as a signed packet: as soon as the routing table has a
// node, again while the network forms (so the nodes closest to the key hold it), and every hour (DHT
// nodes drop items after a few hours). Each publication is signed anew with seq = UNIX time in
// microseconds, never lower than one already published or seen on the DHT for our key. `auto` records
// take this node's address as the DHT reports it; the packet is published again when that changes.
import type { MutableItem } from '../dht/item-store.js';
import type { Family } from '../types.js';
import { encodeZ32Key, publicKeyOf } from '../identity/keys.js';
import type { Logger } from '../log.js';
import type { OwnPackets, PkarrHook } from './hook.js';
import { checkItem, encodeDnsPacket, MAX_PACKET_BYTES, PacketError, signable, signPacket, targetOf, verifySignature, type VerifiedPacket } from './packet.js';
import { usesAuto, zoneAnswers, type ZoneRecord } from './zone.js';

export interface PublishTarget {
  nodeCount(): number;
  onNodeAdded(listener: () => void): void;
  getMutable(target: Buffer, onItem: (item: MutableItem) => void, signal: AbortSignal): Promise<void>;
  putMutable(item: MutableItem, target: Buffer): Promise<number>;
  storeItem(item: MutableItem, target: Buffer): void;
  externalAddress(family: Family): string | null;
  onExternalAddress(listener: (address: string, family: Family) => void): void;
}

export interface PublisherOptions {
  intervalMs: number;
  /** an item on this many nodes needs no follow-up (K of the DHT) */
  replication: number;
  /** first follow-up delay, doubled each time */
  followUpMs: number;
  maxFollowUps: number;
  /** how long `auto` records wait for our address before the packet goes out without them */
  autoWaitMs: number;
}

export const DEFAULT_PUBLISHER_OPTIONS: PublisherOptions = {
  intervalMs: 60 * 60_000,
  replication: 20,
  followUpMs: 2_000,
  maxFollowUps: 6,
  autoWaitMs: 10_000,
};

export interface PublisherStatus {
  z32: string;
  seq: number | null;
  bytes: number;
  records: number;
  lastStored: number;
  lastPublishedAt: number | null;
}

export class PkarrPublisher implements OwnPackets {
  readonly publicKey: Buffer;
  readonly z32: string;
  private readonly target: Buffer;
  private current: VerifiedPacket | null = null;
  private lastSeq = 0;
  private seqChecked = false;
  private started = false;
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private nextAt = 0;
  private followUps = 0;
  private nodesAtLast = 0;
  private lastStored = 0;
  private lastPublishedAt: number | null = null;
  /** publications sent since start (whether or not a node stored them: lastStored tells) */
  publishes = 0;
  private firstNodeAt: number | null = null;
  private warnedAuto = false;

  constructor(
    private readonly deps: { dht: PublishTarget; log: Logger; secretKey: Buffer; records: ZoneRecord[]; hook?: PkarrHook },
    private readonly options: PublisherOptions = DEFAULT_PUBLISHER_OPTIONS,
    private readonly now: () => number = Date.now,
  ) {
    this.publicKey = publicKeyOf(deps.secretKey);
    this.z32 = encodeZ32Key(this.publicKey);
    this.target = targetOf(this.publicKey);
  }

  ownPacket(publicKey: Buffer): VerifiedPacket | undefined {
    return this.current && publicKey.equals(this.publicKey) ? this.current : undefined;
  }

  status(): PublisherStatus {
    return {
      z32: this.z32,
      seq: this.current?.seq ?? null,
      bytes: this.current?.v.length ?? 0,
      records: this.current?.answers.length ?? 0,
      lastStored: this.lastStored,
      lastPublishedAt: this.lastPublishedAt,
    };
  }

  start(): void {
    this.started = true;
    this.deps.log.info(`Publishing ${this.deps.records.length} records for ${this.z32} (hourly)`);
    this.deps.dht.onNodeAdded(() => this.tick());
    this.deps.dht.onExternalAddress((address, family) => {
      if (!usesAuto(this.deps.records)) return;
      this.deps.log.info(`This node's IPv${family} address as the DHT sees it: ${address}; publishing again`);
      this.followUps = 0;
      this.nextAt = this.now();
      this.tick();
    });
    // The DHT may have learnt it before we started (the publisher starts after the DHT): say so once.
    for (const family of [4, 6] as Family[]) {
      const known = this.deps.dht.externalAddress(family);
      if (known && usesAuto(this.deps.records)) this.deps.log.info(`This node's IPv${family} address as the DHT sees it: ${known}`);
    }
    this.tick();
  }

  stop(): void {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  /** Publish now (console `announce`, tests). */
  publishNow(): void {
    this.nextAt = this.now();
    this.tick();
  }

  /**
   * The packet with the zone's records; seq never below one already used. Throws PacketError('size')
   * naming the size when the encoded packet is over 1000 bytes.
   */
  build(): VerifiedPacket {
    const external = { 4: this.deps.dht.externalAddress(4), 6: this.deps.dht.externalAddress(6) };
    const { answers, skipped } = zoneAnswers(this.deps.records, this.z32, external);
    if (skipped.length > 0 && !this.warnedAuto) {
      this.warnedAuto = true;
      this.deps.log.warn(`No address for 'auto' yet (the DHT has not reported ours): publishing without the records of line ${skipped.map((r) => r.line).join(', ')}`);
    }
    const v = encodeDnsPacket(answers);
    if (v.length > MAX_PACKET_BYTES) throw new PacketError('size', `the PKARR packet of ${answers.length} records is ${v.length} bytes, over the ${MAX_PACKET_BYTES}-byte limit`);
    // Never below a seq this node has seen for our key (the daemon's seq memory would refuse it).
    const seen = this.deps.hook?.newestSeq(this.publicKey) ?? 0;
    const seq = Math.max(this.now() * 1000, this.lastSeq + 1, seen + 1);
    const item = signPacket(this.deps.secretKey, v, seq);
    this.lastSeq = seq;
    return checkItem({ k: item.publicKey, sig: item.signature, seq: item.seq, v: item.v });
  }

  private autoPending(): boolean {
    if (!usesAuto(this.deps.records)) return false;
    const needs = (family: Family) => this.deps.records.some((r) => r.data.type === (family === 4 ? 'A' : 'AAAA') && r.data.address === 'auto');
    const missing = ([4, 6] as Family[]).some((f) => needs(f) && !this.deps.dht.externalAddress(f));
    return missing && this.firstNodeAt !== null && this.now() - this.firstNodeAt < this.options.autoWaitMs;
  }

  private tick(): void {
    if (!this.started) return;
    const nodes = this.deps.dht.nodeCount();
    // Nothing to publish to: the next node added calls tick() again.
    if (nodes === 0) return;
    this.firstNodeAt ??= this.now();
    if (!this.running && this.nextAt <= this.now()) {
      // Replies carry our address from the first round trip on; give `auto` a moment to learn it.
      if (this.autoPending()) this.nextAt = this.firstNodeAt! + this.options.autoWaitMs;
      else void this.publish(nodes);
    }
    this.schedule();
  }

  private async publish(nodes: number): Promise<void> {
    this.running = true;
    this.nodesAtLast = nodes;
    const { log, dht } = this.deps;
    try {
      // Once (and after a refusal): the newest seq of ours on the DHT, so a restart never goes back.
      if (!this.seqChecked) await this.learnSeq();
      const packet = this.build();
      this.current = packet;
      const item = { k: packet.publicKey, seq: packet.seq, sig: packet.signature, v: packet.v };
      dht.storeItem(item, this.target);
      this.deps.hook?.accept(packet, 'held');
      let stored = 0;
      try {
        stored = await dht.putMutable(item, this.target);
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (code === 302) {
          this.seqChecked = false;
          log.warn(`The DHT holds a newer packet for ${this.z32} than seq ${packet.seq}; publishing again with a higher one`);
        } else {
          log.debug(`put ${this.z32}: ${(err as Error).message}`);
        }
      }
      this.lastStored = stored;
      this.lastPublishedAt = this.now();
      this.publishes++;
      log.info(`Published ${this.z32}: seq ${packet.seq}, ${packet.answers.length} records, ${packet.v.length} bytes, stored on ${stored} nodes`);
    } catch (err) {
      log.error(`Cannot publish ${this.z32}: ${(err as Error).message}`);
    } finally {
      this.running = false;
      this.nextAt = this.nextTime();
      this.schedule();
    }
  }

  private async learnSeq(): Promise<void> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 10_000);
    timer.unref();
    let newest = 0;
    await this.deps.dht
      .getMutable(
        this.target,
        (item) => {
          // Only a correctly signed item of ours counts: a forged seq must not push ours up.
          if (item.k.equals(this.publicKey) && item.seq > newest && verifySignature(item.k, item.sig, signable(item.seq, item.v))) newest = item.seq;
        },
        controller.signal,
      )
      .finally(() => clearTimeout(timer));
    this.seqChecked = true;
    if (newest > this.lastSeq) this.lastSeq = newest;
  }

  private nextTime(): number {
    const now = this.now();
    const periodic = (this.lastPublishedAt ?? now) + this.options.intervalMs;
    if (this.lastStored < this.options.replication && this.followUps < this.options.maxFollowUps) {
      const delay = this.options.followUpMs * 2 ** this.followUps;
      this.followUps++;
      return Math.min(periodic, now + delay);
    }
    this.followUps = 0;
    return periodic;
  }

  private schedule(): void {
    if (!this.started || this.running) return;
    if (this.timer) clearTimeout(this.timer);
    const delay = Math.max(0, this.nextAt - this.now());
    this.timer = setTimeout(() => this.followUpOrTick(), Math.min(delay, 2 ** 31 - 1));
    this.timer.unref();
  }

  private followUpOrTick(): void {
    this.timer = null;
    // A follow-up is worth a walk only when the routing table has grown since the last one.
    if (this.followUps > 0 && this.deps.dht.nodeCount() <= this.nodesAtLast && this.nextAt <= this.now()) this.nextAt = this.nextTime();
    this.tick();
  }
}
