// The DHT library adapter: every change kadnode makes to the behaviour of bittorrent-dht, k-rpc,
// k-rpc-socket and k-bucket, made at run time on the objects one DhtNode creates. Nothing is patched on
// disk and no shared prototype is touched, so another copy of these libraries in the process (a project
// that depends on kadnode and on bittorrent-dht) behaves as published.
//
// One named function per override, its header saying what it changes and which BEP or library defect it
// closes; OVERRIDES installs them in order (a later one wraps an earlier one). They lean on the libraries'
// internals, so they hold for the versions in LIBRARY_VERSIONS only: createDhtLibrary refuses to start
// with any other, and test/unit/dht/library-adapter.test.ts pins the source of every library function
// each override replaces or relies on and checks the behaviour it adds. docs/dht-adapter.md lists them.
// The k-rpc scheduler (short timeout, the walk) is in krpc-scheduler.ts, installed from the same list.
import DHT from 'bittorrent-dht';
import KRpc from 'k-rpc';
import KRpcSocket from 'k-rpc-socket';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { canonicalHost, decodePeer, decodePeers, encodeNodes, encodePeer, familyOf, NODES_KEY, parseNodes, REPLY_NODES, WANT, type Family } from './compact.js';
import { adaptiveTimeout, boundQueryQueue, QuerySlots, rememberAnsweringNodes, seedWalksFromCache, shortTimeout, unansweredWalksFirst, walkPastStalledNodes } from './krpc-scheduler.js';
import type { AdapterHost, Contact, DhtLib, DhtLibrary, KrpcMessage, KrpcSocketLib, RoutingTable, RpcLib } from './library-types.js';
import { verifyBep44, type MutableItem } from './item-store.js';
import { bep42Id, getWithNodes, methodUnknown, preferValidStorers, sampleInfohashes, verifyQueryingNodes } from './citizen-overrides.js';
import { routingSlot } from './routing-slot.js';
import { Tally } from '../util/tally.js';

export type { AdapterHost, DhtLibrary, KrpcMessage, SiblingLink } from './library-types.js';

/** The exact versions the overrides are written for; package.json pins the same. */
export const LIBRARY_VERSIONS = { 'bittorrent-dht': '11.0.12', 'k-rpc': '5.1.0', 'k-rpc-socket': '1.11.1', 'k-bucket': '5.1.0' } as const;
type Library = keyof typeof LIBRARY_VERSIONS;

const ID_LENGTH = 20;
// KRPC: a query times out after 2 s (k-rpc-socket's timeout).
const KRPC_TIMEOUT_MS = 2000;
/**
 * queries holding a slot at once (k-rpc's 16): at internet round trips a lookup's first queries waited
 * for slots held by the tails of earlier walks. With the short and adaptive time-outs a slot turns over
 * in about 0.3 s, so this is at most about 80 queries (8 KB) a second, libtorrent's default DHT rate limit.
 */
export const QUERY_SLOTS = 24;
/** values in one get_peers reply that also carries the K closest nodes: it must fit one datagram (1232 bytes with IPv6) */
const REPLY_VALUES: Record<Family, number> = { 4: 50, 6: 32 };

export interface Override {
  /** what in which library it changes */
  changes: string;
  /** installed on the DHT of this family only */
  family?: Family;
  install(lib: DhtLibrary, host: AdapterHost): void;
}

/** Every override, in the order they are installed. */
export const OVERRIDES: readonly Override[] = [
  { install: boundedPeerStore, changes: 'bittorrent-dht DHT#_peers' },
  { install: boundedItemStore, changes: 'bittorrent-dht DHT#_values' },
  { install: compactPeers6, changes: 'bittorrent-dht DHT#lookup, DHT#_addPeer', family: 6 },
  { install: valuesWithNodes, changes: 'bittorrent-dht DHT#_ongetpeers' },
  { install: responderIdOnPeers, changes: 'bittorrent-dht DHT#_closest (the `from` of `peer` events carries the replying node\'s id; a `get_peers reply` event per answer)' },
  { install: refreshEqualPuts, changes: 'bittorrent-dht DHT#_onput' },
  { install: noSelfInTable, changes: 'bittorrent-dht DHT#addNode (a listener on `node`)' },
  { install: replyWithKClosest, changes: 'k-bucket KBucket#closest (the routing table)' },
  { install: oneNodePerAddress, changes: 'k-bucket KBucket#add (the routing table)' },
  { install: shortTimeout, changes: 'k-rpc RPC#query, its queue drain' },
  { install: walkPastStalledNodes, changes: 'k-rpc RPC#_closest' },
  { install: boundQueryQueue, changes: 'k-rpc RPC#query (wraps shortTimeout)' },
  { install: rememberAnsweringNodes, changes: 'k-rpc-socket RPC#query (the node cache learns answering nodes and their RTTs)' },
  { install: adaptiveTimeout, changes: 'k-rpc RPC#query (the short timeout, from measured RTTs)' },
  { install: seedWalksFromCache, changes: 'k-rpc RPC#_closest (walks start from the node cache too)' },
  { install: unansweredWalksFirst, changes: 'k-rpc RPC#_closest (a freed slot goes to the oldest waiting walk without an answer)' },
  { install: nodes6InReplies, changes: 'k-rpc RPC#response', family: 6 },
  { install: answerWantFromSibling, changes: 'k-rpc RPC#response (wraps nodes6InReplies)' },
  { install: wantBothFamilies, changes: 'k-rpc-socket RPC#query, a listener on `response`' },
  { install: learnAddressAndCount, changes: 'k-rpc-socket RPC#query (wraps wantBothFamilies), a listener on `query`' },
  { install: tellAddressInReplies, changes: 'k-rpc-socket RPC#response' },
  { install: methodUnknown, changes: 'bittorrent-dht DHT#_onquery' },
  { install: sampleInfohashes, changes: 'bittorrent-dht DHT#_onquery (wraps methodUnknown)' },
  { install: getWithNodes, changes: 'bittorrent-dht DHT#_onget' },
  { install: preferValidStorers, changes: 'bittorrent-dht DHT#announce (the walk table\'s closest, during the call)' },
  { install: verifyQueryingNodes, changes: 'k-rpc RPC#_addNode (nodes learned from their queries), listeners on the socket\'s `query`' },
  { install: bep42Id, changes: 'k-rpc RPC#id, bittorrent-dht DHT#nodeId, k-bucket localNodeId and tree (on an external address change)' },
];

/** The libraries on `socket` (a dgram-like socket, bound), with every override of OVERRIDES installed. */
export function createDhtLibrary(socket: unknown, host: AdapterHost): DhtLibrary {
  if (!versionsChecked) checkLibraryVersions(installedLibraries());
  versionsChecked = true;
  const krpcSocket = KRpcSocket({ socket, timeout: KRPC_TIMEOUT_MS }) as KrpcSocketLib;
  const rpc = KRpc({ krpcSocket, bootstrap: [], idLength: ID_LENGTH, concurrency: QUERY_SLOTS, ...(host.nodeId ? { id: host.nodeId } : {}) }) as unknown as RpcLib;
  const dht = new DHT({ krpc: rpc, bootstrap: false, verify: verifyBep44 }) as DhtLib;
  const lib: DhtLibrary = { socket: krpcSocket, rpc, dht, slots: new QuerySlots(krpcSocket, rpc, host.shortTimeoutMs) };
  for (const { install, family } of OVERRIDES) if (family === undefined || family === host.family) install(lib, host);
  return lib;
}

// ---------------------------------------------------------------- versions

let versionsChecked = false;

/** Name, version and directory of each library as kadnode loads it (k-bucket twice: ours and k-rpc's, the routing table's). */
export function installedLibraries(): Array<{ name: Library; version: string; dir: string }> {
  const here = fileURLToPath(import.meta.url);
  const krpc = installed('k-rpc', here);
  return [installed('bittorrent-dht', here), krpc, installed('k-rpc-socket', here), installed('k-bucket', here), installed('k-bucket', join(krpc.dir, 'index.js'))];
}

/** Throws one line naming the first library that is not at its pinned version. */
export function checkLibraryVersions(found: Array<{ name: Library; version: string; dir: string }>): void {
  for (const { name, version, dir } of found) {
    const wanted = LIBRARY_VERSIONS[name];
    if (version !== wanted) throw new Error(`${name} ${version} is installed (${dir}), but kadnode's DHT adapter is written for ${name} ${wanted} exactly: reinstall kadnode's dependencies (npm ci)`);
  }
}

function installed(name: Library, from: string): { name: Library; version: string; dir: string } {
  let entry: string;
  try {
    entry = createRequire(from).resolve(name);
  } catch {
    entry = fileURLToPath(import.meta.resolve(name)); // bittorrent-dht exports `import` only
  }
  for (let dir = dirname(entry); dir !== dirname(dir); dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === name) return { name, version: String(pkg.version), dir };
    } catch {
      // no package.json here
    }
  }
  return { name, version: 'unknown', dir: dirname(entry) };
}

// ---------------------------------------------------------------- bittorrent-dht

/**
 * bittorrent-dht keeps announced peers in `_peers`, a record-cache of up to 10,000 that never expire
 * (defect: grows with outside input, serves stale peers): swapped for our PeerStore (bounded per id and
 * in all, entries expire), which has the add / get / destroy the library calls.
 */
function boundedPeerStore(lib: DhtLibrary, host: AdapterHost): void {
  (lib.dht._peers as { destroy(): void }).destroy();
  lib.dht._peers = host.store;
}

/**
 * BEP 44 items stored for others live in `_values`, an LRU of 1000 by count without expiry (1000 items of
 * up to 1 KB each, held forever): swapped for our ItemStore (bounded in count and bytes, items expire, seq
 * never goes back), which has the get / set / cache the library uses.
 */
function boundedItemStore(lib: DhtLibrary, host: AdapterHost): void {
  lib.dht._values = host.items;
}

/**
 * BEP 32: an IPv6 DHT stores and hands out 18-byte compact peers. lookup and _addPeer call the library's
 * module-private IPv4 codec (6 bytes), so on the IPv6 DHT both are replaced by copies that call ours.
 */
function compactPeers6(lib: DhtLibrary, host: AdapterHost): void {
  const { dht, rpc } = lib;
  dht._addPeer = (peer, infoHash, from) => {
    host.store.add(infoHash.toString('hex'), encodePeer(peer.host, peer.port));
    dht.emit('announce', peer, infoHash, from);
  };
  dht.lookup = (infoHash, cb = () => undefined) => {
    let aborted = false;
    const emit = (values?: unknown, from?: unknown) => {
      const peers = decodePeers((values ?? host.store.get(infoHash.toString('hex'), 100)) as Uint8Array[]);
      for (const peer of peers) dht.emit('peer', peer, infoHash, from ?? null);
    };
    process.nextTick(() => emit());
    const onReply = (message: KrpcMessage, node: unknown) => {
      if (aborted) return false;
      if (message.r?.values) emit(message.r.values, node);
      return undefined;
    };
    dht._closest(infoHash, { q: 'get_peers', a: { id: rpc.id, info_hash: infoHash } }, onReply, cb);
    return () => void (aborted = true);
  };
}

/**
 * A `peer` event names the replying node by its address only; the resolver also weighs where that node
 * sits (its id's distance to the id looked up, BEP 42 validity: src/chain/plain-candidates.ts), so the
 * reply's id rides along on the node handed to the walk's reply callback (lookup passes it on as `from`),
 * and every answer to a get_peers walk, with values or without, is told as `get_peers reply` (target, from).
 */
function responderIdOnPeers(lib: DhtLibrary): void {
  const dht = lib.dht;
  const closest = dht._closest.bind(dht);
  dht._closest = (target, message, onReply, cb) =>
    closest(target, message, (reply, node) => {
      const id = reply.r?.id;
      const from = id instanceof Uint8Array && id.length === ID_LENGTH ? { ...node, id: Buffer.from(id) } : node;
      // every node that answered a get_peers walk, values or not: the resolver's picture of who is closest
      if (message.q === 'get_peers' && reply.r) dht.emit('get_peers reply', target, from);
      return onReply ? onReply(reply, from) : undefined;
    }, cb);
}

/**
 * get_peers is answered with the values we hold and the K closest nodes; bittorrent-dht sends nodes only
 * when it has no values. KadNode 1.x and libtorrent send both: without nodes a walk stops at the first node
 * that stores the id, short of the closest ones, and a few nodes with fake values can end it there. Values
 * are capped so that the reply fits in one datagram.
 */
function valuesWithNodes(lib: DhtLibrary, host: AdapterHost): void {
  const { dht, rpc } = lib;
  const ongetpeers = dht._ongetpeers.bind(dht);
  dht._ongetpeers = (query, peer) => {
    const infoHash = query.a?.info_hash;
    const from = peer.address ?? peer.host;
    if (!(infoHash instanceof Uint8Array) || !from) return ongetpeers(query, peer);
    dht.emit('get_peers', infoHash);
    const values = host.store.get(Buffer.from(infoHash).toString('hex'), REPLY_VALUES[host.family]);
    const r: Record<string, unknown> = { id: rpc.id, token: dht._generateToken(from) };
    if (values.length) r.values = values;
    rpc.response(peer, query, r, rpc.nodes.closest(Buffer.from(infoHash), REPLY_NODES));
  };
}

/**
 * BEP 44: a put of the item we already hold (same k, seq, v and sig) resets its timeout; the library
 * answers it with 302 ("sequence number less than current"), so a relay or publisher re-putting the same
 * packet would look refused and the item would expire. The library compares only with the item it holds:
 * a put older than the newest seq held or seen for the key (the item may have left the store) gets 302
 * here, and a `cas` that is not that seq 301. Everything else goes to the library.
 */
function refreshEqualPuts(lib: DhtLibrary, host: AdapterHost): void {
  const { dht, rpc } = lib;
  const onput = dht._onput.bind(dht);
  dht._onput = (query, peer) => {
    const a = query.a;
    const from = peer.address ?? peer.host ?? '';
    if (a && a.k instanceof Uint8Array && a.sig instanceof Uint8Array && a.v instanceof Uint8Array && a.token instanceof Uint8Array && typeof a.seq === 'number' && a.salt === undefined) {
      const key = createHash('sha1').update(a.k).digest('hex');
      const floor = host.items.floor(key);
      if (floor !== undefined && !host.items.get(key) && dht._validateToken(from, a.token)) {
        if (typeof a.cas === 'number' && a.cas !== floor) return rpc.error(peer, query, [301, 'CAS mismatch, re-read and try again']);
        if (a.seq < floor) return rpc.error(peer, query, [302, 'sequence number less than current']);
      }
      const held = a.cas === undefined ? host.items.get(key) : undefined;
      const same = held?.k && held.sig && held.seq === a.seq && Buffer.from(held.k).equals(a.k) && Buffer.from(held.sig).equals(a.sig) && Buffer.from(held.v).equals(a.v);
      if (same && dht._validateToken(from, a.token)) {
        host.items.set(key, { ...held, id: a.id instanceof Uint8Array ? a.id : held.id });
        return rpc.response(peer, query, { id: rpc.id });
      }
    }
    onput(query, peer);
  };
}

/**
 * A ping that reached our own address (LPD, import, a peer file listing us) is answered with our id, and
 * the library's addNode adds that without checking (defect): our own id leaves the table at once.
 */
function noSelfInTable(lib: DhtLibrary): void {
  const dht = lib.dht;
  dht.on('node', (node: { id?: Buffer }) => {
    if (node.id && node.id.equals(dht.nodeId)) dht.removeNode(node.id);
  });
}

// ---------------------------------------------------------------- k-bucket (the routing table)

/**
 * BEP 5: a reply carries the K = 8 closest nodes. k-bucket hands a caller without a count the whole table,
 * and bittorrent-dht answers find_node, get_peers and get with that (defect: kilobytes, fragmented or
 * dropped on the way). The routing table's closest() now defaults to 8.
 */
function replyWithKClosest(lib: DhtLibrary): void {
  const table = lib.rpc.nodes;
  const closest = table.closest.bind(table);
  table.closest = (target, n = REPLY_NODES) => closest(target, n);
}

export { routingSlot } from './routing-slot.js';

/** Sybil defence (libtorrent's restrict_routing_ips): one node per routingSlot; a new id from a taken slot is not added. */
function oneNodePerAddress(lib: DhtLibrary, host: AdapterHost): void {
  const table: RoutingTable = lib.rpc.nodes;
  const taken = new Tally();
  const count = (c: Contact, delta: number) => {
    const slot = routingSlot(c.host);
    if (slot !== null) taken.add(slot, delta);
  };
  table.on('added', (c: Contact) => count(c, 1));
  table.on('removed', (c: Contact) => count(c, -1));
  table.on('updated', (old: Contact, current: Contact) => {
    count(old, -1);
    count(current, 1);
  });
  const add = table.add.bind(table);
  table.add = (contact) => {
    const slot = routingSlot(contact.host);
    if (slot !== null && taken.has(slot) && !table.get(contact.id)) {
      host.refused('sameAddress');
      return table;
    }
    return add(contact);
  };
}

// ---------------------------------------------------------------- k-rpc: replies (the scheduler: krpc-scheduler.ts)

/**
 * BEP 32: the replies of an IPv6 DHT carry `nodes6` (38-byte entries, the K closest); k-rpc's response
 * writes its module-private IPv4 `nodes` encoding only.
 */
function nodes6InReplies(lib: DhtLibrary): void {
  const rpc = lib.rpc;
  rpc.response = (node, query, response, nodes, cb) => {
    if (typeof nodes === 'function') [cb, nodes] = [nodes, null];
    if (!response.id) response.id = rpc.id;
    if (nodes) response[NODES_KEY[6]] = encodeNodes(nodes.slice(0, REPLY_NODES), ID_LENGTH, 6);
    rpc.socket.response(node, query, response, cb);
  };
}

/** The `want` of a query (BEP 32), or null when it has none. */
function wantOf(query: KrpcMessage): Set<string> | null {
  const want = query.a?.want;
  if (!Array.isArray(want)) return null;
  return new Set(want.filter((w): w is Uint8Array => w instanceof Uint8Array).map((w) => Buffer.from(w).toString('latin1')));
}

/**
 * BEP 32 `want`: a reply to find_node, get_peers or get that asks for the other family (`n4`/`n6`) also
 * carries the sibling DHT's K closest nodes of that family, and leaves out our own family's list when that
 * is not asked for. k-rpc knows one family.
 */
function answerWantFromSibling(lib: DhtLibrary, host: AdapterHost): void {
  const rpc = lib.rpc;
  const respond = rpc.response.bind(rpc);
  rpc.response = (node, query, response, nodes, cb) => {
    if (typeof nodes === 'function') [cb, nodes] = [nodes, null];
    const other = host.sibling();
    const wanted = nodes && other ? wantOf(query) : null;
    if (other && wanted?.has(WANT[other.family])) {
      const target = query.a?.target ?? query.a?.info_hash;
      if (target instanceof Uint8Array && target.length === ID_LENGTH) response[NODES_KEY[other.family]] = other.compactClosest(Buffer.from(target));
      if (!wanted.has(WANT[host.family])) nodes = null;
    }
    respond(node, query, response, nodes, cb);
  };
}

// ---------------------------------------------------------------- k-rpc-socket

/**
 * BEP 32 `want`: our find_node, get_peers and get queries ask for the families in `host.want`, and the
 * other family's nodes that replies carry are handed to the sibling DHT (pinged while its table is small).
 */
function wantBothFamilies(lib: DhtLibrary, host: AdapterHost): void {
  const socket = lib.socket;
  const want = host.want?.map((f) => WANT[f]);
  if (want && want.length > 0) {
    const query = socket.query.bind(socket);
    socket.query = (peer, message, cb) => {
      const q = typeof message.q === 'string' ? message.q : '';
      if (message.a && (q === 'find_node' || q === 'get_peers' || q === 'get')) message.a.want = want;
      return query(peer, message, cb);
    };
  }
  socket.on('response', (message: KrpcMessage) => {
    const other = host.sibling();
    const list = other ? message.r?.[NODES_KEY[other.family]] : undefined;
    if (other && list instanceof Uint8Array) other.offerNodes(parseNodes(list, ID_LENGTH, other.family));
  });
}

/**
 * BEP 42: the `ip` of replies to our own queries (matched transactions, not any datagram) is a vote for
 * our external address. Also counts KRPC datagrams for the dashboard's reply ratio and UDP hints: our
 * queries, the replies to them (errors too), queries from others.
 */
function learnAddressAndCount(lib: DhtLibrary, host: AdapterHost): void {
  const socket = lib.socket;
  const ask = socket.query.bind(socket);
  socket.query = (peer, message, cb) => {
    host.traffic.sent++;
    return ask(peer, message, (err, res, from, req) => {
      if (res) host.traffic.replied++;
      const ip = err ? undefined : res?.ip;
      const voter = from?.address;
      const seen = ip instanceof Uint8Array ? decodePeer(ip) : null;
      if (seen && typeof voter === 'string' && familyOf(seen.host) === host.family) host.external.report(voter, seen.host);
      cb?.(err, res, from, req);
    });
  };
  socket.on('query', () => host.traffic.received++);
}

/** BEP 42: every reply tells the asking node its address and port as we see them (`ip`); k-rpc-socket sends t, y and r only. */
function tellAddressInReplies(lib: DhtLibrary, host: AdapterHost): void {
  const socket = lib.socket;
  socket.response = (peer, query, response, cb) => {
    const from = peer.address ?? peer.host;
    const ip = from && familyOf(from) === host.family ? { ip: encodePeer(from, peer.port) } : {};
    socket.send(peer, { t: query.t, y: 'r', r: response, ...ip }, cb);
  };
}

// ---------------------------------------------------------------- internals used, not changed

/**
 * BEP 44 get walk: bittorrent-dht's _closest, which keeps the write tokens of the nodes that answered (in
 * `_tables`, for a put); `onReply` sees every reply.
 */
export function walkForItems(lib: DhtLibrary, target: Buffer, onReply: ((message: KrpcMessage, node: { host?: string; address?: string }) => boolean) | null, cb: (err: Error | null) => void): void {
  lib.dht._closest(target, { q: 'get', a: { id: lib.rpc.id, target } }, onReply, cb);
}

/** True when a walk to `target` left the nodes that answered it, with their write tokens, for a put. */
export function walkedTo(lib: DhtLibrary, target: Buffer): boolean {
  return Boolean(lib.dht._tables.get(target.toString('hex')));
}

/**
 * BEP 44 put of a signed item to the nodes the last walk to its target met (see walkedTo), through _put:
 * put() refuses a v of 1000 bytes, which BEP 44 allows. Without a walk's nodes _put would walk again and
 * end in put().
 */
export function putToWalked(lib: DhtLibrary, item: MutableItem, cas: number | undefined, cb: (err: (Error & { code?: unknown }) | null, n?: number) => void): void {
  lib.dht._put({ k: item.k, seq: item.seq, sig: item.sig, v: item.v, ...(cas === undefined ? {} : { cas }) }, (err, _key, n) => cb(err, n));
}

/** queries waiting in k-rpc's queue for a free slot */
export function queuedQueries(lib: DhtLibrary): number {
  return lib.rpc.pending.length;
}

/** The K closest nodes to a target in the family's compact form (`nodes` / `nodes6`). */
export function compactClosest(lib: DhtLibrary, family: Family, target: Buffer): Buffer {
  return encodeNodes(lib.rpc.nodes.closest(target, REPLY_NODES), ID_LENGTH, family);
}
