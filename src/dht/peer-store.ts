// Announcements stored for other nodes. Replaces bittorrent-dht's record-cache (which by default
// never expires and has no per-id bound) with exact expiry and two bounds. The interface is the
// subset of record-cache that the library calls: add / get / remove / destroy / size.
// Peers are compact and opaque here: 6 bytes on the IPv4 DHT, 18 on the IPv6 one (BEP 32), one store per
// DHT; src/dht/compact.ts reads and formats them.
//
// Layout (memory: a daemon may hold maxTotal = 16k of these): one slot per announcement in a few typed
// arrays (time, peer bytes, links), no object, Buffer or string per announcement. Slots sit on two
// doubly linked lists, both in insertion order (re-adding moves a slot to the end): all slots by age, whose
// head is the oldest (expiry and the total bound), and the slots of one id, kept circular so that the
// head's `idPrev` is that id's newest (the per-id bound, replies newest first). Per id the only object is
// one Map entry: id → its oldest slot. About 50 bytes per announcement plus its id string and Map entry.

export interface PeerStoreOptions {
  maxAgeMs: number;
  maxTotal: number;
  maxPerId: number;
  /** most peers handed out for one id: a get_peers reply must fit in one datagram */
  maxReply: number;
  now?: () => number;
}

/** Longest peer kept: an IPv6 address and port (BEP 32). */
const MAX_PEER = 18;
const NIL = -1;
const MIN_CAPACITY = 64;

export class PeerStore {
  private readonly now: () => number;
  /** id → its oldest slot */
  private readonly byId = new Map<string, number>();
  private capacity = 0;
  private count = 0;
  private oldest = NIL;
  private newest = NIL;
  /** unused slots, chained through `next` */
  private free = NIL;
  private at = new Float64Array(0);
  private peers = Buffer.alloc(0);
  private peerLength = new Uint8Array(0);
  private prev = new Int32Array(0);
  private next = new Int32Array(0);
  private idPrev = new Int32Array(0);
  private idNext = new Int32Array(0);
  /** the id of each slot: the Map's own key string, shared by the id's slots */
  private idOf: Array<string | undefined> = [];

  constructor(private readonly options: PeerStoreOptions) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.count;
  }

  get ids(): number {
    return this.byId.size;
  }

  add(id: string, peer: Buffer): void {
    this.expire();
    if (peer.length === 0 || peer.length > MAX_PEER) return;
    let head = this.byId.get(id);
    if (head !== undefined) {
      const same = this.find(head, peer);
      if (same !== NIL) this.unlink(same);
      head = this.byId.get(id);
      if (head !== undefined && this.countOf(head) >= this.options.maxPerId) this.unlink(head);
    }
    if (this.count >= this.options.maxTotal && this.oldest !== NIL) this.unlink(this.oldest);
    const slot = this.allocate();
    this.at[slot] = this.now();
    peer.copy(this.peers, slot * MAX_PEER);
    this.peerLength[slot] = peer.length;
    // global list: append
    this.prev[slot] = this.newest;
    this.next[slot] = NIL;
    if (this.newest === NIL) this.oldest = slot;
    else this.next[this.newest] = slot;
    this.newest = slot;
    this.count++;
    // the id's circular list: append before its head
    head = this.byId.get(id);
    if (head === undefined) {
      this.idOf[slot] = id;
      this.idPrev[slot] = slot;
      this.idNext[slot] = slot;
      this.byId.set(id, slot);
    } else {
      const tail = this.idPrev[head]!;
      this.idOf[slot] = this.idOf[head];
      this.idPrev[slot] = tail;
      this.idNext[slot] = head;
      this.idNext[tail] = slot;
      this.idPrev[head] = slot;
    }
  }

  /** Newest first. */
  get(id: string, n?: number): Buffer[] {
    this.expire();
    const head = this.byId.get(id);
    if (head === undefined) return [];
    const limit = Math.min(n ?? Infinity, this.options.maxReply);
    const out: Buffer[] = [];
    let slot = head;
    while (out.length < limit) {
      slot = this.idPrev[slot]!;
      out.push(this.peerAt(slot));
      if (slot === head) break;
    }
    return out;
  }

  /** Stored announcements per id (ids in the order they first came, peers oldest first), for listings. */
  *entries(): Generator<{ id: string; peers: Buffer[] }> {
    this.expire();
    const list: Array<{ id: string; peers: Buffer[] }> = [];
    for (const [id, head] of this.byId) {
      const peers: Buffer[] = [];
      let slot = head;
      do {
        peers.push(this.peerAt(slot));
        slot = this.idNext[slot]!;
      } while (slot !== head);
      list.push({ id, peers });
    }
    yield* list;
  }

  /** The ids (hex) that have announcements now (BEP 51 samples them). */
  idList(): string[] {
    this.expire();
    return [...this.byId.keys()];
  }

  remove(id: string, peer: Buffer): void {
    const head = this.byId.get(id);
    if (head === undefined) return;
    const slot = this.find(head, peer);
    if (slot !== NIL) this.unlink(slot);
  }

  expire(): void {
    const cutoff = this.now() - this.options.maxAgeMs;
    while (this.oldest !== NIL && this.at[this.oldest]! <= cutoff) this.unlink(this.oldest);
    if (this.capacity > MIN_CAPACITY && this.count < this.capacity / 4) this.resize(Math.max(MIN_CAPACITY, this.capacity / 2));
  }

  destroy(): void {
    this.byId.clear();
    this.count = 0;
    this.oldest = this.newest = this.free = NIL;
    this.setCapacity(0);
  }

  /** The slot of `peer` among the id's slots (head: its oldest), or NIL. */
  private find(head: number, peer: Buffer): number {
    const length = peer.length;
    let slot = head;
    do {
      if (this.peerLength[slot] === length && this.samePeer(slot, peer)) return slot;
      slot = this.idNext[slot]!;
    } while (slot !== head);
    return NIL;
  }

  private samePeer(slot: number, peer: Buffer): boolean {
    const base = slot * MAX_PEER;
    for (let i = 0; i < peer.length; i++) if (this.peers[base + i] !== peer[i]) return false;
    return true;
  }

  private countOf(head: number): number {
    let n = 0;
    let slot = head;
    do {
      n++;
      slot = this.idNext[slot]!;
    } while (slot !== head);
    return n;
  }

  private peerAt(slot: number): Buffer {
    const out = Buffer.allocUnsafe(this.peerLength[slot]!);
    this.peers.copy(out, 0, slot * MAX_PEER, slot * MAX_PEER + out.length);
    return out;
  }

  /** Takes a slot off both lists and frees it. */
  private unlink(slot: number): void {
    const p = this.prev[slot]!;
    const n = this.next[slot]!;
    if (p === NIL) this.oldest = n;
    else this.next[p] = n;
    if (n === NIL) this.newest = p;
    else this.prev[n] = p;

    const id = this.idOf[slot]!;
    const idNext = this.idNext[slot]!;
    if (idNext === slot) {
      this.byId.delete(id);
    } else {
      const idPrev = this.idPrev[slot]!;
      this.idNext[idPrev] = idNext;
      this.idPrev[idNext] = idPrev;
      if (this.byId.get(id) === slot) this.byId.set(id, idNext);
    }
    this.idOf[slot] = undefined;
    this.next[slot] = this.free;
    this.free = slot;
    this.count--;
  }

  private allocate(): number {
    if (this.free === NIL) this.resize(Math.max(MIN_CAPACITY, this.capacity * 2));
    const slot = this.free;
    this.free = this.next[slot]!;
    return slot;
  }

  /** New arrays of `capacity` slots holding the stored entries in slots 0..count-1, in age order. */
  private resize(capacity: number): void {
    const { at, peers, peerLength, next, idOf, oldest } = this;
    const entries = this.count;
    this.setCapacity(capacity);
    // age order: slot i follows slot i-1
    let i = 0;
    for (let s = oldest; s !== NIL; s = next[s]!, i++) {
      this.at[i] = at[s]!;
      peers.copy(this.peers, i * MAX_PEER, s * MAX_PEER, (s + 1) * MAX_PEER);
      this.peerLength[i] = peerLength[s]!;
      this.prev[i] = i - 1;
      this.next[i] = i + 1 < entries ? i + 1 : NIL;
      this.idOf[i] = idOf[s];
    }
    this.oldest = entries ? 0 : NIL;
    this.newest = entries ? entries - 1 : NIL;
    // the ids' lists keep their order (an id's slots are in age order too); the Map keeps its key order
    const tails = new Map<string, number>();
    for (let j = 0; j < entries; j++) {
      const id = this.idOf[j]!;
      const tail = tails.get(id);
      if (tail === undefined) {
        this.byId.set(id, j);
        this.idNext[j] = this.idPrev[j] = j;
      } else {
        const head = this.byId.get(id)!;
        this.idPrev[j] = tail;
        this.idNext[j] = head;
        this.idNext[tail] = j;
        this.idPrev[head] = j;
      }
      tails.set(id, j);
    }
    // the rest are free, in order
    this.free = entries < capacity ? entries : NIL;
    for (let j = entries; j < capacity; j++) this.next[j] = j + 1 < capacity ? j + 1 : NIL;
  }

  private setCapacity(capacity: number): void {
    this.capacity = capacity;
    this.at = new Float64Array(capacity);
    this.peers = Buffer.alloc(capacity * MAX_PEER);
    this.peerLength = new Uint8Array(capacity);
    this.prev = new Int32Array(capacity);
    this.next = new Int32Array(capacity);
    this.idPrev = new Int32Array(capacity);
    this.idNext = new Int32Array(capacity);
    this.idOf = new Array<string | undefined>(capacity).fill(undefined);
  }
}
