// The node cache: DHT nodes that answered our queries lately, with their smoothed round-trip time, and
// the RTTs of recent replies. On the live DHT about half of all queries go unanswered and RTTs spread
// from tens of milliseconds to seconds (median 175 ms, p98 1.1 s: Jimenez et al., IEEE P2P 2011), so:
// - a walk starts from the cached nodes closest to its target as well as from the routing table (20 per
//   bucket, most of them far from any one target): a warm daemon starts near the target, often at the
//   nodes that store it, one round trip instead of three or four;
// - a query gives up its slot after a time-out measured from RTTs (the node's own smoothed RTT when known,
//   else a percentile of recent replies), not a fixed 600 ms that dead nodes hold every slot for.
// Nodes only named in replies (not yet asked: about half of them never answer) are kept apart, as many
// again, and offered to walks too: they widen what a warm daemon knows near any target; one that answers
// moves over, one that does not leaves.
// Bounded: at most maxNodes nodes each (the least recently heard leave first), one node per routing slot
// (one public address, an IPv6 /64: a host cannot fill the cache with made-up ids), a ring of RTT samples.
import { xorDistance } from './health.js';
import { routingSlot } from './routing-slot.js';
import { BoundedMap } from '../util/bounded-map.js';

/** A node as k-rpc and k-bucket hold it (the routing table, a walk's table, the node cache). */
export interface Contact {
  id: Buffer;
  host: string;
  port: number;
  seen?: number;
  distance?: number;
  token?: unknown;
}

export interface NodeCacheOptions {
  /** nodes kept (default 8192: about 1 MB) */
  maxNodes?: number;
  /** the time-out of a node never heard from: this percentile of the recent RTTs (default 80) */
  unknownPercentile?: number;
  /** the shortest time-out (default 150 ms) */
  minTimeoutMs?: number;
}

interface Entry {
  id: Buffer;
  host: string;
  port: number;
  /** smoothed RTT (RFC 6298: 7/8 old + 1/8 new) */
  srtt: number;
  /** RTT variation (RFC 6298) */
  rttvar: number;
}

// RTT samples the unknown-node time-out is taken from; enough for a stable p80, few enough to follow change.
const RTT_SAMPLES = 256;
// a percentile needs this many samples; before that an unknown node gets the ceiling
const MIN_SAMPLES = 16;

export class NodeCache {
  private readonly unknownPercentile: number;
  private readonly minTimeoutMs: number;
  /** by slot (routingSlot, or host:port where nodes may share an address); least recently heard first */
  private readonly nodes: BoundedMap<string, Entry>;
  /** nodes named in replies, not heard from ourselves; same keys and order */
  private readonly named: BoundedMap<string, Entry>;
  private readonly samples = new Float64Array(RTT_SAMPLES);
  private sampleCount = 0;
  private sorted: number[] | null = null;

  constructor(options: NodeCacheOptions = {}) {
    this.nodes = new BoundedMap(options.maxNodes ?? 8192);
    this.named = new BoundedMap(this.nodes.max);
    this.unknownPercentile = options.unknownPercentile ?? 80;
    this.minTimeoutMs = options.minTimeoutMs ?? 150;
  }

  /** nodes that answered us */
  get size(): number {
    return this.nodes.size;
  }

  /** nodes only named in replies */
  get namedSize(): number {
    return this.named.size;
  }

  /** nodes that answered us the cache holds at most */
  get maxNodes(): number {
    return this.nodes.max;
  }

  /** The node named longest ago and not yet heard from, taken out to be asked (cache-filler.ts). */
  takeNamed(): Contact | undefined {
    const oldest = this.named.entries().next();
    if (oldest.done) return undefined;
    const [key, e] = oldest.value;
    this.named.delete(key);
    return { id: e.id, host: e.host, port: e.port };
  }

  /** A reply named this node: kept apart until it answers us (nothing changes for a node that did). */
  heardOf(id: Buffer, host: string, port: number): void {
    if (id.length !== 20) return;
    const key = slotOf(host, port);
    if (this.nodes.has(key)) return;
    this.named.set(key, { id: Buffer.from(id), host, port, srtt: NaN, rttvar: NaN });
  }

  /** A node answered a query of ours after rttMs. */
  answered(id: Buffer, host: string, port: number, rttMs: number): void {
    if (id.length !== 20 || !(rttMs >= 0)) return;
    this.samples[this.sampleCount++ % RTT_SAMPLES] = rttMs;
    this.sorted = null;
    const key = slotOf(host, port);
    this.named.delete(key);
    const old = this.nodes.get(key);
    // another node on the same address (a new id, a new port) replaces the old one
    const same = old && old.port === port && old.host === host && old.id.equals(id);
    const entry: Entry = same
      ? { ...old, rttvar: 0.75 * old.rttvar + 0.25 * Math.abs(old.srtt - rttMs), srtt: 0.875 * old.srtt + 0.125 * rttMs }
      : { id: Buffer.from(id), host, port, srtt: rttMs, rttvar: rttMs / 2 };
    this.nodes.set(key, entry);
  }

  /** A query to the node failed or timed out: it is no longer offered to walks. */
  failed(host: string, port: number): void {
    const key = slotOf(host, port);
    for (const map of [this.nodes, this.named]) {
      const entry = map.get(key);
      if (entry && entry.host === host && entry.port === port) map.delete(key);
    }
  }

  /** The n cached nodes closest to target (XOR), closest first; with `named`, nodes only named in replies too. */
  closest(target: Uint8Array, n: number, named = false): Contact[] {
    const best: Array<{ e: Entry; d: Buffer }> = [];
    for (const e of named ? [...this.nodes.values(), ...this.named.values()] : this.nodes.values()) {
      if (best.length === n && compareXor(e.id, best[n - 1]!.d, target) >= 0) continue;
      const d = xorDistance(e.id, target);
      let i = best.length;
      while (i > 0 && Buffer.compare(best[i - 1]!.d, d) > 0) i--;
      best.splice(i, 0, { e, d });
      if (best.length > n) best.pop();
    }
    return best.map(({ e }) => ({ id: e.id, host: e.host, port: e.port }));
  }

  /**
   * How long a query to this node may hold a slot: its smoothed RTT + 4 x its variation (RFC 6298) when it
   * answered before, else the unknownPercentile of recent replies' RTTs; between minTimeoutMs and ceilingMs.
   */
  timeoutFor(host: string | undefined, port: number, ceilingMs: number): number {
    const entry = host ? this.nodes.get(slotOf(host, port)) : undefined;
    let ms = ceilingMs;
    if (entry && entry.host === host && entry.port === port) ms = entry.srtt + 4 * entry.rttvar;
    else if (this.sampleCount >= MIN_SAMPLES) ms = this.recentRtt(this.unknownPercentile);
    return Math.round(Math.min(ceilingMs, Math.max(Math.min(this.minTimeoutMs, ceilingMs), ms)));
  }

  /** The p-th percentile of the recent replies' RTTs (NaN without any). */
  recentRtt(p: number): number {
    const n = Math.min(this.sampleCount, RTT_SAMPLES);
    if (n === 0) return NaN;
    this.sorted ??= Array.from(this.samples.subarray(0, n)).sort((a, b) => a - b);
    return this.sorted[Math.min(n - 1, Math.floor((p / 100) * n))]!;
  }
}

const slotOf = (host: string, port: number) => routingSlot(host) ?? `${host}:${port}`;

/** Sign of (id XOR target) - d, without allocating. */
function compareXor(id: Uint8Array, d: Uint8Array, target: Uint8Array): number {
  for (let i = 0; i < id.length; i++) {
    const x = id[i]! ^ target[i]!;
    if (x !== d[i]) return x - d[i]!;
  }
  return 0;
}
