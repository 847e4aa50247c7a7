// Routing-table upkeep of one DHT node: the bootstrap walks while the network forms, bootstrapping again
// while the table is empty, and reconnecting: nodes that left the table (timed out: a link down, a
// network split in two) are pinged again, a few every reconnectMs while the table is small, together with
// the bootstrap addresses; otherwise two halves of a network that lost each other never meet again
// (nothing else looks for nodes we dropped). Nodes of our family that the sibling DHT learnt of (BEP 32
// `want`) are pinged while our table is small.
import type { Logger } from '../log.js';
import { randomBytes } from '../identity/keys.js';
import { canonicalHost, familyOf, type Family } from './compact.js';
import type { Contact, DhtLibrary, HostPort } from './library-types.js';
import { BoundedMap } from '../util/bounded-map.js';

export interface UpkeepDeps {
  log: Logger;
  family: Family;
  /** the node's libraries while it runs, else null */
  library(): DhtLibrary | null;
  nodeCount(): number;
  routingNodes(): Array<{ address: string; port: number }>;
  /** pings a node; it joins the routing table when it answers */
  ping(peer: HostPort): void;
  isBlocked(host: string): boolean;
}

export interface UpkeepOptions {
  /** how often lost nodes and bootstrap addresses are pinged while the table is small (default 30 s) */
  reconnectMs?: number;
}

// Below this many nodes the table counts as small.
const SMALL_TABLE = 32;
// Sibling nodes pinged: a few per reply, each address once.
const OFFER_PER_REPLY = 4;
const MAX_OFFERED = 4096;
const MAX_LOST = 256;
const RECONNECT_MS = 30_000;
const RECONNECT_PER_ROUND = 8;
const ID_LENGTH = 20;
// Walk again while the network forms, so early nodes learn of later ones. Replies carry only the 8 nodes
// closest to the target, so a walk to our own id meets our neighbours; walks to a random id in the far
// half of the id space and to a random id fill the buckets further away (Kademlia's bucket refresh).
const POPULATE_AFTER_MS: Array<[number, 'self' | 'far' | 'random']> = [[1_000, 'far'], [2_000, 'self'], [4_000, 'random'], [10_000, 'far'], [30_000, 'self']];
const BOOTSTRAP_RETRY_MAX_MS = 60_000;

export class Upkeep {
  /** `host|port` → nodes that left the routing table, oldest first (bounded by MAX_LOST) */
  private readonly lost = new BoundedMap<string, HostPort>(MAX_LOST);
  private readonly offered = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private bootstrapPeers: HostPort[] = [];
  private populating = false;

  constructor(private readonly deps: UpkeepDeps, private readonly options: UpkeepOptions = {}) {}

  /** Follows the routing table of the started node and starts the reconnect rounds. */
  start(): void {
    const table = this.deps.library()?.rpc.nodes;
    if (!table) return;
    table.on('removed', (c: Contact) => this.rememberLost(c));
    table.on('added', (c: Contact) => this.lost.delete(`${c.host}|${c.port}`));
    this.scheduleReconnect();
  }

  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  /** nodes that left the routing table and are tried again */
  get lostCount(): number {
    return this.lost.size;
  }

  /** Ping the peers now and whenever the routing table runs empty. */
  bootstrap(peers: HostPort[]): void {
    // Addresses of our family, IPv6 written as replies will come from (k-rpc-socket compares the text);
    // host names only for IPv4, where the library resolves them as before.
    const family = this.deps.family;
    peers = peers.filter((p) => familyOf(p.host) === family || (familyOf(p.host) === null && family === 4)).map((p) => ({ host: canonicalHost(p.host), port: p.port }));
    this.bootstrapPeers = peers;
    const rpc = this.deps.library()?.rpc;
    if (!rpc) return;
    rpc.bootstrap = peers;
    this.populate();
    for (const [delay, toward] of POPULATE_AFTER_MS) this.later(delay, () => this.populate(toward));
    this.retryWhileEmpty(1_000);
  }

  /**
   * Nodes of our family that the other family's DHT learnt about: pinged while our table is small.
   * Our own id is skipped: the DHTs of a daemon share it, so remote lists name us too.
   */
  offerNodes(nodes: Array<HostPort & { id: Buffer }>): void {
    const dht = this.deps.library()?.dht;
    if (!dht || dht.destroyed || this.deps.nodeCount() >= SMALL_TABLE) return;
    let pinged = 0;
    for (const node of nodes) {
      if (pinged >= OFFER_PER_REPLY) break;
      const key = `${node.host}|${node.port}`;
      if (node.id.equals(dht.nodeId) || familyOf(node.host) !== this.deps.family || this.offered.has(key) || this.deps.isBlocked(node.host)) continue;
      if (this.offered.size >= MAX_OFFERED) this.offered.clear();
      this.offered.add(key);
      pinged++;
      this.deps.ping(node);
    }
  }

  /** A walk to our own id, to a random id in the far half of the id space, or to a random id. */
  populate(toward: 'self' | 'far' | 'random' = 'self'): void {
    const lib = this.deps.library();
    // One at a time: k-rpc runs it in the background, behind every other query, so under steady load
    // it may wait long, and each one waiting keeps a listener on the socket.
    if (!lib || lib.dht.destroyed || this.populating) return;
    const rpc = lib.rpc;
    this.populating = true;
    let target: Buffer = rpc.id;
    if (toward !== 'self') {
      target = randomBytes(ID_LENGTH);
      // the far half: the first bit differs from ours
      if (toward === 'far') target[0] = ((rpc.id[0]! & 0x80) ^ 0x80) | (target[0]! & 0x7f);
    }
    rpc.populate(target, { q: 'find_node', a: { id: rpc.id, target } }, (err) => {
      this.populating = false;
      if (err) this.deps.log.debug(`bootstrap: ${err.message}`);
      else this.deps.log.debug(`bootstrap: ${this.deps.nodeCount()} nodes known`);
    });
  }

  private rememberLost(node: { id?: Buffer; host: string; port: number }): void {
    const dht = this.deps.library()?.dht;
    if (!dht || (node.id && node.id.equals(dht.nodeId)) || this.deps.isBlocked(node.host)) return;
    const key = `${node.host}|${node.port}`;
    this.lost.set(key, { host: node.host, port: node.port });
  }

  private scheduleReconnect(): void {
    this.later(this.options.reconnectMs ?? RECONNECT_MS, () => {
      this.reconnect();
      this.scheduleReconnect();
    });
  }

  /** Pings a few lost nodes (round robin) and the bootstrap addresses while the routing table is small. */
  private reconnect(): void {
    const dht = this.deps.library()?.dht;
    if (!dht || dht.destroyed || this.deps.nodeCount() >= SMALL_TABLE) return;
    const lost = [...this.lost].slice(0, RECONNECT_PER_ROUND);
    for (const [key, node] of lost) {
      // to the end of the line: the next round tries others
      this.lost.set(key, node);
    }
    const bootstrap = this.bootstrapPeers.filter((p) => familyOf(p.host) === this.deps.family).slice(0, RECONNECT_PER_ROUND);
    const known = new Set(this.deps.routingNodes().map((n) => `${n.address}|${n.port}`));
    for (const node of [...bootstrap, ...lost.map(([, n]) => n)]) {
      if (!known.has(`${node.host}|${node.port}`) && !this.deps.isBlocked(node.host)) this.deps.ping(node);
    }
  }

  private retryWhileEmpty(delay: number): void {
    this.later(delay, () => {
      if (this.deps.nodeCount() > 0 || this.bootstrapPeers.length === 0) return;
      this.deps.log.debug('routing table empty, bootstrapping again');
      this.populate();
      this.retryWhileEmpty(Math.min(delay * 2, BOOTSTRAP_RETRY_MAX_MS));
    });
  }

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      fn();
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }
}
