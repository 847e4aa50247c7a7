// Which addresses a search for a plain name (no key) takes. A plain name has no owner who could prove
// anything, but an honest announcement sits on most of the nodes closest to the id, while junk get_peers
// values and Sybil nodes are a minority there: an address is taken once nodes that could be storing it
// agree on it, never on one node's word.
// - Each responder counts once per network (/24 for public IPv4, /48 for public IPv6: one operator's
//   Sybils are one vote; local addresses count one each) and weighs 1 when its id is BEP 42-valid for
//   its address, INVALID_WEIGHT when it is not (such a node chose its place next to the id).
// - An address in our own store (OWN_STORE) is taken at once: its host announced it to us itself, from
//   that address (announce_peer needs the token we sent there), so it is first-hand, not a report. In
//   a network of two it is the only copy there is.
// - A responder's vote is split when its reply holds more than FULL_VOTE addresses: a junk reply with 16
//   fakes gives each a quarter of a vote, an honest storer of a name with a few announcers a whole one.
// - While the walk runs, only responders in the storers' zone vote: at most ZONE times the distance at
//   which the CLOSE closest nodes of a DHT of the estimated size sit (`zone`, a fraction of the id
//   space). AGREE votes there take an address at once, typically the second storer to answer: a lone
//   report waits, and far nodes never count, however many agree. Without a size estimate (the first
//   seconds after a start, before a walk ended) the CLOSE closest responders so far vote instead.
// - When the walk ends the close set (the CLOSE closest responders) is final even if smaller (a small
//   network has fewer than CLOSE nodes): half of it, and AGREE unless the whole close set weighs less.
// The limit: AGREE colluding nodes that answer first inside the zone, each naming the same single
// address, are taken for storers (see docs/security.md; key names have no such limit).
import { isBep42Valid, isExemptAddress } from '../dht/bep42.js';
import { ipToBytes } from '../dht/compact.js';
import { normalizedDistance, xorDistance } from '../dht/health.js';

/** `from` of the addresses in our own store */
export const OWN_STORE = '';
/** the nodes an announcement is stored on (BEP 5's K) */
export const CLOSE = 8;
/** votes that take an address: two distinct BEP 42-valid storers at least */
export const AGREE = 2;
export const INVALID_WEIGHT = 0.5;
/** a reply naming more addresses than this splits its vote among them */
export const FULL_VOTE = 4;
/** the storers' zone: this many times the distance of the CLOSE-th closest node of the DHT */
export const ZONE = 8;
// Bounds per search: the closest MAX_RESPONDERS answering nodes are remembered (a farther one is
// dropped), and ADDRESSES_PER_RESPONDER addresses from each (a junk reply holds as many as fit).
export const MAX_RESPONDERS = 64;
export const ADDRESSES_PER_RESPONDER = 32;
const FARTHEST = Buffer.alloc(20, 0xff);

/** The zone (fraction of the id space) where the storers of an id sit in a DHT of `size` nodes; null: size unknown. */
export function storerZone(size: number | null): number | null {
  return size === null || !(size > 0) ? null : Math.min(1, (ZONE * CLOSE) / size);
}

interface Responder<T> {
  distance: Buffer;
  /** within the storers' zone */
  near: boolean;
  weight: number;
  /** the network it counts for */
  group: string;
  /** `address|port` → the address, in the order reported */
  reported: Map<string, T>;
}

function groupOf(address: string): string {
  const ip = ipToBytes(address);
  if (!ip || isExemptAddress(address)) return address;
  return ip.subarray(0, ip.length === 4 ? 3 : 6).toString('hex');
}

export class PlainCandidates<T> {
  /** responders by IP, and the same closest first */
  private readonly responders = new Map<string, Responder<T>>();
  private readonly byDistance: Responder<T>[] = [];
  private settled = false;
  private reviewQueued = false;

  /**
   * `taken` collects the `address|port` taken (at most `max`), `accept` gets each address taken, in the
   * order taken (best supported first); `zone` is storerZone() of the DHT's estimated size.
   */
  constructor(
    private readonly target: Buffer,
    private readonly taken: Set<string>,
    private readonly max: number,
    private readonly accept: (peer: T) => void,
    private readonly zone: number | null = null,
  ) {}

  /** A node (`from`, its IP; `id`, its node id if its reply had one) answered the walk. */
  answered(from: string, id: Buffer | undefined): void {
    if (this.responderOf(from, id)) this.queueReview();
  }

  /** `peer` (seen as `address|port`) was reported by the node at `from`. */
  report(seen: string, peer: T, from: string, id: Buffer | undefined): void {
    if (this.taken.has(seen) || this.taken.size >= this.max) return;
    if (from === OWN_STORE) return this.take(seen, peer);
    const responder = this.responderOf(from, id);
    if (!responder || responder.reported.has(seen) || responder.reported.size >= ADDRESSES_PER_RESPONDER) return;
    responder.reported.set(seen, peer);
    this.queueReview();
  }

  /** The walk ended: the close set is final, whatever its size. */
  settle(): void {
    this.settled = true;
    this.review();
  }

  /**
   * Support per address among `voters` (default: the close set), and their total weight: each network
   * counts once, at its best vote for each address.
   */
  tally(voters: Responder<T>[] = this.closeSet()): { total: number; support: Map<string, number> } {
    const groups = new Map<string, Responder<T>[]>();
    for (const r of voters) groups.set(r.group, [...(groups.get(r.group) ?? []), r]);
    let total = 0;
    const support = new Map<string, number>();
    for (const members of groups.values()) {
      total += Math.max(...members.map((m) => m.weight));
      const best = new Map<string, number>();
      for (const m of members) {
        const vote = m.weight * Math.min(1, FULL_VOTE / Math.max(1, m.reported.size));
        for (const seen of m.reported.keys()) best.set(seen, Math.max(best.get(seen) ?? 0, vote));
      }
      for (const [seen, w] of best) support.set(seen, (support.get(seen) ?? 0) + w);
    }
    return { total, support };
  }

  private closeSet(): Responder<T>[] {
    return this.byDistance.slice(0, CLOSE);
  }

  /** A reply's values arrive one by one: weigh them once the whole reply is in. */
  private queueReview(): void {
    if (this.reviewQueued || this.settled) return;
    this.reviewQueued = true;
    queueMicrotask(() => {
      this.reviewQueued = false;
      if (!this.settled) this.review();
    });
  }

  /** Take the addresses that have the support the rule asks. */
  private review(): void {
    const voters = this.settled || this.zone === null ? this.closeSet() : this.byDistance.filter((r) => r.near);
    const { total, support } = this.tally(voters);
    if (total === 0) return;
    const needed = this.settled ? Math.max(total / 2, Math.min(AGREE, total)) : AGREE;
    const winners = [...support.keys()].filter((seen) => !this.taken.has(seen) && support.get(seen)! >= needed);
    winners.sort((a, b) => support.get(b)! - support.get(a)!);
    for (const seen of winners) {
      if (this.taken.size >= this.max) return;
      this.take(seen, voters.find((r) => r.reported.has(seen))!.reported.get(seen)!);
    }
  }

  private take(seen: string, peer: T): void {
    this.taken.add(seen);
    this.accept(peer);
  }

  private responderOf(from: string, id: Buffer | undefined): Responder<T> | undefined {
    const known = this.responders.get(from);
    if (known) return known;
    const distance = id && id.length === this.target.length ? xorDistance(id, this.target) : FARTHEST;
    const farthest = this.byDistance[this.byDistance.length - 1];
    if (this.byDistance.length >= MAX_RESPONDERS) {
      if (!farthest || Buffer.compare(distance, farthest.distance) >= 0) return undefined;
      this.byDistance.pop();
      for (const [ip, r] of this.responders) if (r === farthest) this.responders.delete(ip);
    }
    const near = this.zone !== null && id !== undefined && id.length === 20 && normalizedDistance(id, this.target) <= this.zone;
    const responder: Responder<T> = { distance, near, weight: id && isBep42Valid(id, from) ? 1 : INVALID_WEIGHT, group: groupOf(from), reported: new Map() };
    this.responders.set(from, responder);
    // insertion keeps the list sorted; a tie goes behind (the node that answered first stays closer)
    let at = this.byDistance.length;
    while (at > 0 && Buffer.compare(this.byDistance[at - 1]!.distance, distance) > 0) at--;
    this.byDistance.splice(at, 0, responder);
    return responder;
  }
}
