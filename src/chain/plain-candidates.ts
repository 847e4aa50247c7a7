// Which addresses a search for a plain name (no key) takes. A plain name has no owner who could prove
// anything, but an honest announcement sits on most of the nodes closest to the id, while junk get_peers
// values and Sybil nodes are a minority there. So an address is taken only when at least half of the
// close set reports it: the CLOSE nodes closest to the id among those that answered the walk (with values
// or without). Each counts once per network (/24 for public IPv4, /48 for public IPv6: one operator's
// Sybils are one vote; local addresses count one each) and weighs 1 when its id is BEP 42-valid for its
// address, INVALID_WEIGHT when it is not (such a node chose its place next to the id).
// While the walk runs, taking needs half of a full close set (CLOSE / 2 weight among the closest that
// answered so far), so the first nodes to agree answer without waiting for the rest: a lone report, or a
// few nodes that turn out far from the id, wait for the walk to converge. When the walk ends the close
// set is final even if smaller (a small network has fewer than CLOSE nodes): half of it, and AGREE (two
// distinct nodes) unless the whole close set weighs less.
import { isBep42Valid, isExemptAddress } from '../dht/bep42.js';
import { ipToBytes } from '../dht/compact.js';

/** the nodes an announcement is stored on (BEP 5's K) */
export const CLOSE = 8;
/** weight that takes an address when the walk ended: two distinct BEP 42-valid nodes at least */
export const AGREE = 2;
export const INVALID_WEIGHT = 0.5;
// Bounds per search: the closest MAX_RESPONDERS answering nodes are remembered (a farther one is
// dropped), and ADDRESSES_PER_RESPONDER addresses from each (a junk reply holds as many as fit).
export const MAX_RESPONDERS = 64;
export const ADDRESSES_PER_RESPONDER = 32;
const FARTHEST = Buffer.alloc(20, 0xff);

interface Responder<T> {
  distance: Buffer;
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

function xor(a: Buffer, b: Buffer): Buffer {
  if (a.length !== b.length) return FARTHEST;
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

export class PlainCandidates<T> {
  /** responders by IP, and the same closest first */
  private readonly responders = new Map<string, Responder<T>>();
  private readonly byDistance: Responder<T>[] = [];
  private settled = false;

  /**
   * `taken` collects the `address|port` taken (at most `max`), `accept` gets each address taken, in the
   * order taken (best supported first).
   */
  constructor(
    private readonly target: Buffer,
    private readonly taken: Set<string>,
    private readonly max: number,
    private readonly accept: (peer: T) => void,
  ) {}

  /** A node (`from`, its IP; `id`, its node id if its reply had one) answered the walk. */
  answered(from: string, id: Buffer | undefined): void {
    const before = this.closeSet();
    if (!this.responderOf(from, id)) return;
    const after = this.closeSet();
    if (after.some((r, i) => before[i] !== r)) this.review(after);
  }

  /** `peer` (seen as `address|port`) was reported by the node at `from`. */
  report(seen: string, peer: T, from: string, id: Buffer | undefined): void {
    if (this.taken.has(seen) || this.taken.size >= this.max) return;
    const before = this.closeSet();
    const responder = this.responderOf(from, id);
    if (!responder || responder.reported.has(seen) || responder.reported.size >= ADDRESSES_PER_RESPONDER) return;
    responder.reported.set(seen, peer);
    const after = this.closeSet();
    if (after.some((r, i) => before[i] !== r)) this.review(after);
    else if (after.includes(responder)) this.review(after, [seen]);
  }

  /** The walk ended: the close set is final, whatever its size. */
  settle(): void {
    this.settled = true;
    this.review(this.closeSet());
  }

  /** support per address among the close set, and the set's total weight: each network counts once, at its best weight */
  tally(close: Responder<T>[] = this.closeSet()): { total: number; support: Map<string, number> } {
    const groups = new Map<string, Responder<T>[]>();
    for (const r of close) groups.set(r.group, [...(groups.get(r.group) ?? []), r]);
    let total = 0;
    const support = new Map<string, number>();
    for (const members of groups.values()) {
      total += Math.max(...members.map((m) => m.weight));
      const best = new Map<string, number>();
      for (const m of members) for (const seen of m.reported.keys()) best.set(seen, Math.max(best.get(seen) ?? 0, m.weight));
      for (const [seen, w] of best) support.set(seen, (support.get(seen) ?? 0) + w);
    }
    return { total, support };
  }

  private closeSet(): Responder<T>[] {
    return this.byDistance.slice(0, CLOSE);
  }

  /** Take the addresses (all the close set reported, or only `only`) that have the support the rule asks. */
  private review(close: Responder<T>[], only?: string[]): void {
    const { total, support } = this.tally(close);
    // during the walk: half of a full close set, which may agree before the rest of it has answered;
    // when the walk ended, half of what answered, and two agreeing nodes unless fewer answered at all
    const needed = this.settled ? Math.max(total / 2, Math.min(AGREE, total)) : Math.max(AGREE, CLOSE / 2);
    if (total === 0) return;
    const order = [...(only ?? support.keys())];
    const winners = order.filter((seen) => !this.taken.has(seen) && (support.get(seen) ?? 0) >= needed);
    winners.sort((a, b) => support.get(b)! - support.get(a)!);
    for (const seen of winners) {
      if (this.taken.size >= this.max) return;
      const peer = close.find((r) => r.reported.has(seen))!.reported.get(seen)!;
      this.taken.add(seen);
      this.accept(peer);
    }
  }

  private responderOf(from: string, id: Buffer | undefined): Responder<T> | undefined {
    const known = this.responders.get(from);
    if (known) return known;
    const distance = id && id.length === 20 ? xor(id, this.target) : FARTHEST;
    const farthest = this.byDistance[this.byDistance.length - 1];
    if (this.byDistance.length >= MAX_RESPONDERS) {
      if (!farthest || Buffer.compare(distance, farthest.distance) >= 0) return undefined;
      this.byDistance.pop();
      for (const [ip, r] of this.responders) if (r === farthest) this.responders.delete(ip);
    }
    const responder: Responder<T> = { distance, weight: id && isBep42Valid(id, from) ? 1 : INVALID_WEIGHT, group: groupOf(from), reported: new Map() };
    this.responders.set(from, responder);
    // insertion keeps the list sorted; a tie goes behind (the node that answered first stays closer)
    let at = this.byDistance.length;
    while (at > 0 && Buffer.compare(this.byDistance[at - 1]!.distance, distance) > 0) at--;
    this.byDistance.splice(at, 0, responder);
    return responder;
  }
}
