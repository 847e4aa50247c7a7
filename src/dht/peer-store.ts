// Announcements stored for other nodes. Replaces bittorrent-dht's record-cache (which by default
// never expires and has no per-id bound) with exact expiry and two bounds. The interface is the
// subset of record-cache that the library calls: add / get / remove / destroy / size.
// Peers are compact and opaque here: 6 bytes on the IPv4 DHT, 18 on the IPv6 one (BEP 32), one store per
// DHT; src/dht/compact.ts reads and formats them.

export interface PeerStoreOptions {
  maxAgeMs: number;
  maxTotal: number;
  maxPerId: number;
  /** most peers handed out for one id: a get_peers reply must fit in one datagram */
  maxReply: number;
  now?: () => number;
}

export class PeerStore {
  // Both maps iterate in insertion order; re-adding moves an entry to the end, so the head is the oldest.
  private readonly byAge = new Map<string, { id: string; peer: Buffer; at: number }>();
  private readonly byId = new Map<string, Map<string, Buffer>>();
  private readonly now: () => number;

  constructor(private readonly options: PeerStoreOptions) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.byAge.size;
  }

  get ids(): number {
    return this.byId.size;
  }

  add(id: string, peer: Buffer): void {
    this.expire();
    const peerKey = peer.toString('hex');
    const key = id + '/' + peerKey;
    this.byAge.delete(key);
    let peers = this.byId.get(id);
    if (!peers) {
      peers = new Map();
      this.byId.set(id, peers);
    }
    peers.delete(peerKey);
    if (peers.size >= this.options.maxPerId) {
      const oldest = peers.keys().next().value as string;
      this.remove(id, Buffer.from(oldest, 'hex'));
    }
    if (this.byAge.size >= this.options.maxTotal) {
      const head = this.byAge.values().next().value;
      if (head) this.remove(head.id, head.peer);
    }
    peers.set(peerKey, peer);
    this.byAge.set(key, { id, peer, at: this.now() });
  }

  /** Newest first. */
  get(id: string, n?: number): Buffer[] {
    this.expire();
    const peers = this.byId.get(id);
    if (!peers) return [];
    const limit = Math.min(n ?? Infinity, this.options.maxReply);
    return [...peers.values()].reverse().slice(0, limit);
  }

  /** Stored announcements per id, for listings. */
  *entries(): Generator<{ id: string; peers: Buffer[] }> {
    this.expire();
    for (const [id, peers] of this.byId) yield { id, peers: [...peers.values()] };
  }

  remove(id: string, peer: Buffer): void {
    const peerKey = peer.toString('hex');
    this.byAge.delete(id + '/' + peerKey);
    const peers = this.byId.get(id);
    if (!peers) return;
    peers.delete(peerKey);
    if (peers.size === 0) this.byId.delete(id);
  }

  expire(): void {
    const cutoff = this.now() - this.options.maxAgeMs;
    for (const entry of this.byAge.values()) {
      if (entry.at > cutoff) break;
      this.remove(entry.id, entry.peer);
    }
  }

  destroy(): void {
    this.byAge.clear();
    this.byId.clear();
  }
}
