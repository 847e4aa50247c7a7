// The daemon's DHTs, one per address family (BEP 32 keeps a routing table per family), seen as one:
// a search walks every DHT and reports addresses of both families as they come; a value is announced
// on every DHT; datagrams (AUTH) leave through the socket of the address's family. BEP 44 items (PKARR)
// are got from and put to every DHT as well.
import type { MutableItem } from './item-store.js';
import { canonicalHost, familyOf, type Family } from './compact.js';
import type { AnnounceTarget, DhtNode, HostPort, OnPeer, OnReply, PutOptions, RoutingNode, Searcher } from './node.js';
import type { SeqPool } from './seq-memory.js';

/** What the group needs of a member; DhtNode has it (tests hand in fakes). */
export type GroupMember = Searcher &
  AnnounceTarget &
  Pick<DhtNode, 'family' | 'ping' | 'nodeCounts' | 'routingNodes' | 'goodNodes' | 'block' | 'blockedAddresses' | 'searchCount' | 'boundPort'> & {
    readonly socket: { sendRaw(buf: Buffer, port: number, address: string): void };
    readonly store: DhtNode['store'];
    readonly nodeId: Buffer;
    setSibling(sibling: GroupMember | null): void;
  } & Partial<Pick<DhtNode, 'getMutable' | 'putMutable' | 'storeItem' | 'external'>>;

export interface FamilyCounts {
  family: Family;
  all: number;
  good: number;
}

export class DhtGroup<Member extends GroupMember = DhtNode> implements Searcher, AnnounceTarget {
  private readonly members: Member[];

  constructor(members: Member[]) {
    if (members.length === 0) throw new Error('a DHT group needs at least one DHT');
    if (new Set(members.map((m) => m.family)).size !== members.length) throw new Error('one DHT per address family');
    // IPv4 first: its figures lead status lines and its id is the one shown.
    this.members = [...members].sort((a, b) => a.family - b.family);
    this.link();
  }

  /** The running DHTs, IPv4 first. */
  get nodes(): readonly Member[] {
    return this.members;
  }

  node(family: Family): Member | undefined {
    return this.members.find((m) => m.family === family);
  }

  /** Takes a DHT out (its socket could not be bound, say); the last one stays. */
  remove(member: Member): void {
    const i = this.members.indexOf(member);
    if (i < 0 || this.members.length === 1) return;
    this.members.splice(i, 1);
    member.setSibling(null);
    this.link();
  }

  private link(): void {
    for (const m of this.members) m.setSibling(this.members.find((o) => o.family !== m.family) ?? null);
  }

  get nodeId(): Buffer {
    return this.members[0]!.nodeId;
  }

  // ---- Searcher: every DHT walks; done when all are

  async search(id: Buffer, onPeer: OnPeer, signal: AbortSignal, onReply?: OnReply): Promise<number> {
    const answered = await Promise.all(this.members.map((m) => m.search(id, onPeer, signal, onReply)));
    return answered.reduce((a, b) => a + b, 0);
  }

  /** the largest member's estimate: a search walks them all, and the big DHT is where junk hides */
  sizeEstimate(): number | null {
    const sizes = this.members.map((m) => m.sizeEstimate?.() ?? null).filter((n): n is number => n !== null);
    return sizes.length > 0 ? Math.max(...sizes) : null;
  }

  // ---- AnnounceTarget

  nodeCount(): number {
    return this.members.reduce((n, m) => n + m.nodeCount(), 0);
  }

  /**
   * Announces on every DHT. Returns the fewest nodes reached on any one of them, so the announcer's
   * follow-ups go on until each DHT holds the value (not just the one that formed first).
   */
  async announce(id: Buffer, port: number): Promise<number> {
    const acks = await Promise.all(this.members.map((m) => m.announce(id, port)));
    return Math.min(...acks);
  }

  onNodeAdded(listener: () => void): void {
    for (const m of this.members) m.onNodeAdded(listener);
  }

  // ---- BEP 44 (src/pkarr)

  /** Every DHT walks; items are reported as they come from any of them. */
  async getMutable(target: Buffer, onItem: (item: MutableItem) => void, signal: AbortSignal): Promise<void> {
    await Promise.all(this.members.map((m) => m.getMutable?.(target, onItem, signal)));
  }

  /**
   * Puts on every DHT; resolves the nodes that stored it on all of them. Rejects when none did, and with
   * the refusal (301/302) when any DHT refused it: an item older than one DHT holds is not the newest.
   */
  async putMutable(item: MutableItem, target: Buffer, options?: PutOptions): Promise<number> {
    const results = await Promise.allSettled(this.members.map((m) => m.putMutable?.(item, target, options) ?? Promise.resolve(0)));
    const stored = results.reduce((n, r) => n + (r.status === 'fulfilled' ? r.value : 0), 0);
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    const refused = failures.find((r) => [301, 302].includes((r.reason as { code?: unknown }).code as number));
    if (refused) throw refused.reason;
    if (stored === 0 && failures[0]) throw failures[0].reason;
    return stored;
  }

  /** Stores on every DHT's item store; false when any refused it (older than a seq held or seen). */
  storeItem(item: MutableItem, target: Buffer, pool?: SeqPool): boolean {
    return this.members.map((m) => m.storeItem?.(item, target, pool) ?? true).every(Boolean);
  }

  /** Our address per family as other nodes report it; null while unknown. */
  externalAddress(family: Family): string | null {
    return this.node(family)?.external?.address ?? null;
  }

  onExternalAddress(listener: (address: string, family: Family) => void): void {
    for (const m of this.members) m.external?.onChange((address) => listener(address, m.family));
  }

  // ---- per family

  /** Sends a datagram from the DHT socket of the address's family; dropped when that DHT is not running. */
  sendRaw(buf: Buffer, port: number, address: string): void {
    const family = familyOf(address);
    const member = family ? this.node(family) : undefined;
    member?.socket.sendRaw(buf, port, address);
  }

  /** Pings an address on the DHT of its family; false when there is none. */
  ping(peer: HostPort): boolean {
    const family = familyOf(peer.host);
    const member = family ? this.node(family) : undefined;
    if (!member) return false;
    member.ping({ host: canonicalHost(peer.host), port: peer.port });
    return true;
  }

  // ---- figures and lists for status and the command table

  nodeCounts(now = Date.now()): { all: number; good: number; families: FamilyCounts[] } {
    const families = this.members.map((m) => ({ family: m.family, ...m.nodeCounts(now) }));
    return { all: families.reduce((n, f) => n + f.all, 0), good: families.reduce((n, f) => n + f.good, 0), families };
  }

  routingNodes(now = Date.now()): RoutingNode[] {
    return this.members.flatMap((m) => m.routingNodes(now));
  }

  /** Up to `max` good nodes of all families, most recently heard first. */
  goodNodes(max: number): RoutingNode[] {
    return this.members
      .flatMap((m) => m.goodNodes(max))
      .sort((a, b) => a.age - b.age)
      .slice(0, max);
  }

  /** Blocks the address on every DHT; false when a blacklist is full. */
  block(address: string): boolean {
    return this.members.map((m) => m.block(address)).every(Boolean);
  }

  blockedAddresses(): string[] {
    return [...new Set(this.members.flatMap((m) => m.blockedAddresses()))];
  }

  searchCount(): number {
    return this.members.reduce((n, m) => n + m.searchCount(), 0);
  }

  storage(): { announcements: number; ids: number } {
    return { announcements: this.members.reduce((n, m) => n + m.store.size, 0), ids: this.members.reduce((n, m) => n + m.store.ids, 0) };
  }

  /** Stored announcements per id, the peers of every family together. */
  storedEntries(): { id: string; peers: Buffer[] }[] {
    const byId = new Map<string, Buffer[]>();
    for (const m of this.members) {
      for (const e of m.store.entries()) byId.set(e.id, [...(byId.get(e.id) ?? []), ...e.peers]);
    }
    return [...byId].map(([id, peers]) => ({ id, peers }));
  }

  boundPort(): number {
    return this.members[0]!.boundPort();
  }
}
