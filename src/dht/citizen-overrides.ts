// The overrides that make kadnode a good citizen of the public Mainline DHT (mostly libtorrent, which must
// keep our nodes in its routing tables): BEP 5 error 204 for unknown methods, BEP 51 sample_infohashes,
// BEP 44 get replies with nodes, a BEP 42 node id from our external address, announcements stored on
// BEP 42-valid nodes first. Installed from library-adapter.ts's OVERRIDES (this file must not import it),
// pinned and tested in test/unit/dht/library-adapter.test.ts like the others.
import { randomInt } from 'node:crypto';
import { bep42NodeId, isBep42Valid, isExemptAddress } from './bep42.js';
import { REPLY_NODES } from './compact.js';
import type { AdapterHost, Contact, DhtLibrary, KrpcMessage, RoutingTable } from './library-types.js';

/** The queries bittorrent-dht answers (its _onquery), and BEP 51's, which sampleInfohashes answers. */
const KNOWN_METHODS = new Set(['ping', 'find_node', 'get_peers', 'announce_peer', 'get', 'put', 'sample_infohashes']);

/** BEP 51: how many info-hashes one reply samples (libtorrent's default; 20 × 20 bytes plus 8 nodes fit a datagram) */
export const SAMPLE_SIZE = 20;
/** BEP 51 `interval`: the sample is drawn again at most this often (seconds), so a flood of queries costs one draw a minute */
export const SAMPLE_INTERVAL_S = 60;
/** the node id follows our external address at most this often (a wrong or flapping vote cannot churn it) */
export const REKEY_MIN_INTERVAL_MS = 10 * 60_000;
/**
 * announce_peer goes to this many of the closest nodes that answered the walk with a token: the walk's
 * own k (k-rpc's 20), as bittorrent-dht did, more than libtorrent's 8 so that the 8 live nodes closest to
 * the id hold it under churn and unanswered queries
 */
export const ANNOUNCE_TARGETS = 20;

const methodOf = (query: KrpcMessage) => (query.q instanceof Uint8Array ? Buffer.from(query.q).toString('latin1') : '');

/**
 * BEP 5: a query of a method we do not know is answered with error 204 "Method Unknown"; bittorrent-dht
 * drops it, and the asker (libtorrent's BEP 51 sample_infohashes, a BEP 33 scrape, ...) waits for a
 * timeout and counts our node as failed.
 */
export function methodUnknown(lib: DhtLibrary): void {
  const { dht, rpc } = lib;
  const onquery = dht._onquery.bind(dht);
  dht._onquery = (query, peer) => {
    if (query.a && !KNOWN_METHODS.has(methodOf(query))) return rpc.error(peer, query, [204, 'Method Unknown']);
    onquery(query, peer);
  };
}

/**
 * BEP 51 sample_infohashes: a random sample of the info-hashes in our peer store (`samples`, 20 bytes
 * each), how many we hold (`num`), how soon to ask again (`interval`), and the K closest nodes to
 * `target` as find_node answers them (`nodes`, or `nodes6` on the IPv6 DHT; `want` through the reply
 * overrides). Bounded: SAMPLE_SIZE hashes, drawn at most once per SAMPLE_INTERVAL_S.
 */
export function sampleInfohashes(lib: DhtLibrary, host: AdapterHost): void {
  const { dht, rpc } = lib;
  const onquery = dht._onquery.bind(dht);
  let sample = { at: -Infinity, hashes: Buffer.alloc(0) };
  dht._onquery = (query, peer) => {
    const target = query.a?.target;
    if (methodOf(query) !== 'sample_infohashes') return onquery(query, peer);
    if (!(target instanceof Uint8Array) || target.length !== 20) return rpc.error(peer, query, [203, 'sample_infohashes: missing or bad `target`']);
    const now = Date.now();
    if (now - sample.at >= SAMPLE_INTERVAL_S * 1000) sample = { at: now, hashes: Buffer.concat(randomSample(host.store.idList(), SAMPLE_SIZE).map((hex) => Buffer.from(hex, 'hex'))) };
    const r = { id: rpc.id, interval: SAMPLE_INTERVAL_S, num: host.store.ids, samples: sample.hashes };
    rpc.response(peer, query, r, rpc.nodes.closest(Buffer.from(target), REPLY_NODES));
  };
}

/** Up to n distinct entries of `all`, uniformly (a partial Fisher-Yates shuffle of a copy). */
export function randomSample<T>(all: readonly T[], n: number): T[] {
  const pool = [...all];
  const k = Math.min(n, pool.length);
  for (let i = 0; i < k; i++) {
    const j = i + randomInt(pool.length - i);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, k);
}

/**
 * BEP 44: a get reply carries the K closest nodes to the target whether or not it carries a value (as
 * libtorrent's do); bittorrent-dht leaves them out next to a value, so a walk stops at the first node
 * that holds an item, short of the closest ones, which may hold a newer seq.
 */
export function getWithNodes(lib: DhtLibrary): void {
  const { dht, rpc } = lib;
  const onget = dht._onget.bind(dht);
  dht._onget = (query, peer) => {
    const target = query.a?.target;
    const from = peer.address ?? peer.host;
    if (!(target instanceof Uint8Array) || !from) return onget(query, peer);
    const key = Buffer.from(target);
    const value = (dht._values as { get(key: string): { v: unknown; k?: unknown; sig?: unknown; seq?: unknown } | undefined }).get(key.toString('hex'));
    dht.emit('get', key, value);
    const r: Record<string, unknown> = { id: rpc.id, token: dht._generateToken(from) };
    if (value) {
      r.v = value.v;
      if (value.sig) Object.assign(r, { sig: value.sig, k: value.k }, typeof value.seq === 'number' ? { seq: value.seq } : {});
    }
    rpc.response(peer, query, r, rpc.nodes.closest(key, REPLY_NODES));
  };
}

/**
 * BEP 42: once the DHT tells us our external address (the `ip` votes, see ExternalAddress), our node id
 * is derived from it, so that nodes enforcing BEP 42 keep us and our announcements count; re-derived
 * when the address changes, at most once per REKEY_MIN_INTERVAL_MS (a later change waits for that). A
 * local (exempt) address keeps the id we have. The library reads rpc.id at every use, so the id changes
 * in place (see rekey) and the routing table's nodes stay.
 */
export function bep42Id(lib: DhtLibrary, host: AdapterHost): void {
  const { dht, rpc } = lib;
  let lastRekey = -Infinity;
  let timer: NodeJS.Timeout | null = null;
  const follow = () => {
    timer = null;
    const address = host.external.address;
    if (rpc.destroyed || !address || isExemptAddress(address) || isBep42Valid(rpc.id, address)) return;
    const wait = lastRekey + REKEY_MIN_INTERVAL_MS - Date.now();
    if (wait > 0) {
      timer ??= setTimeout(follow, wait).unref();
      return;
    }
    lastRekey = Date.now();
    rekey(lib, bep42NodeId(address));
  };
  host.external.onChange(() => {
    if (!timer) follow();
  });
  dht.once('close', () => timer && clearTimeout(timer));
}

/**
 * A new node id for a running library: rpc.id (read by every query and reply), dht.nodeId, and the
 * routing table rebuilt around it: k-bucket split its tree by distance to the old id (the far halves
 * marked dontSplit), so the nodes are taken out, the tree reset for the new id and the nodes added again
 * (the routing table's events keep oneNodePerAddress's count and upkeep's lost list straight).
 */
export function rekey(lib: DhtLibrary, id: Buffer): void {
  const { dht, rpc } = lib;
  const table = rpc.nodes as RoutingTable & { localNodeId: Uint8Array; root: unknown };
  const contacts = table.toArray();
  for (const c of contacts) table.remove(c.id);
  table.root = { contacts: [], dontSplit: false, left: null, right: null };
  table.localNodeId = id;
  rpc.id = id;
  (dht as { nodeId: Buffer }).nodeId = id;
  for (const c of contacts) if (!c.id.equals(id)) table.add(c);
}

/** Closest first, the BEP 42-valid ones (exempt addresses count as valid) ahead of the others. */
export function validFirst(contacts: readonly Contact[], n: number): Contact[] {
  const valid = contacts.filter((c) => isBep42Valid(c.id, c.host));
  const other = contacts.filter((c) => !isBep42Valid(c.id, c.host));
  return [...valid, ...other].slice(0, n);
}

/**
 * Announcements are stored on the ANNOUNCE_TARGETS closest nodes that answered the walk with a token,
 * BEP 42-valid ones first (from the 2 × ANNOUNCE_TARGETS closest): a Sybil node placed next to the id
 * cannot have a valid id for its address. bittorrent-dht announces to every node that answered.
 */
export function preferValidStorers(lib: DhtLibrary): void {
  const dht = lib.dht;
  const announce = dht.announce.bind(dht);
  dht.announce = ((infoHash: Buffer, port: number, cb?: (err: Error | null, n?: number) => void) => {
    const table = dht._tables.get(Buffer.from(infoHash).toString('hex')) as RoutingTable | undefined;
    if (!table) return announce(infoHash, port, cb);
    const closest = table.closest;
    table.closest = (target, n) => (n === undefined ? validFirst(closest.call(table, target, 2 * ANNOUNCE_TARGETS), ANNOUNCE_TARGETS) : closest.call(table, target, n));
    try {
      return announce(infoHash, port, cb);
    } finally {
      delete (table as Partial<RoutingTable>).closest;
    }
  }) as typeof dht.announce;
}

/** The ids of the n closest nodes that answered the last walk to `target` (with a token), closest first. */
export function closestAnswered(lib: DhtLibrary, target: Buffer, n: number): Buffer[] {
  const table = lib.dht._tables.get(target.toString('hex')) as RoutingTable | undefined;
  return table ? table.closest(target, n).map((c) => c.id) : [];
}

/** queriers being pinged before they may enter the routing table */
export const MAX_VERIFYING = 64;

/**
 * BEP 5: a node is good once it has answered one of our queries. k-rpc puts every node that sends us a
 * query into the routing table, and we then hand it to others in replies: a client behind NAT, a one-off
 * probe or a forged source that never answers (libtorrent waited 10 s on such a node in the interop test,
 * and only hands out nodes it has heard from). Here a querier that is not in the table is pinged instead
 * (at most MAX_VERIFYING at once); its reply adds it the way every answering node is added.
 */
export function verifyQueryingNodes(lib: DhtLibrary): void {
  const { rpc, socket } = lib;
  // k-rpc adds the querier inside its own `query` listener: ours before and after it mark that span
  let inQuery = false;
  socket.prependListener('query', () => (inQuery = true));
  socket.on('query', () => (inQuery = false));
  const addNode = rpc._addNode.bind(rpc);
  const verifying = new Set<string>();
  rpc._addNode = (node) => {
    if (!inQuery) return addNode(node);
    const key = `${node.host}:${node.port}`;
    if (verifying.has(key) || verifying.size >= MAX_VERIFYING || rpc.destroyed) return;
    verifying.add(key);
    rpc.query({ host: node.host, port: node.port }, { q: 'ping' }, () => verifying.delete(key));
  };
}

