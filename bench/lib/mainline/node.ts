// A light KRPC node for the mainline simulator: what a BEP 5 / BEP 44 node does with the messages it
// gets, without a socket of its own (the simulator, net.ts, carries its datagrams with delay, loss and
// NAT). Each node keeps a small routing table (K = 8 per distance bucket, as libtorrent and jech's dht),
// answers ping, find_node, get_peers, announce_peer (tokens rotating every 5 minutes, the previous one
// still accepted), get and put (immutable and mutable items, signatures checked), unknown methods with
// error 204 and malformed queries with 203, and stores announced peers for 45 minutes (libtorrent) or
// 32 (jech's dht, KadNode 1.x / 2.x), bounded like libtorrent.
// A plain bittorrent-dht instance per node would be the same protocol at several times the memory and
// CPU (its own k-bucket tree, LRU caches, timers and bencode round trip per node): 10,000 of them do not
// fit beside 10+ daemons on 2 cores. Between two simulated nodes messages stay objects (no bencode); only
// datagrams to and from the real daemons are bencoded (krpc-wire.ts).
import { createHash, createPublicKey, verify } from 'node:crypto';
import bencode from 'bencode';

export const K = 8;
const TOKEN_EPOCH_MS = 5 * 60_000;
const MAX_INFO_HASHES = 2000;
const MAX_PEERS_PER_HASH = 100;
const MAX_VALUES_PER_REPLY = 50;
const MAX_ITEMS = 700;
const ITEM_TTL_MS = 2 * 3600_000;
/** chance that a full bucket swaps a vanished entry for a node just heard (the upkeep of a real table) */
const REPLACE_DEAD = 0.25;

export interface Contact {
  idx: number;
  id: Buffer;
  /** the first 64 bits of the id, for fast XOR distances */
  hi: number;
  lo: number;
  ip: string;
  port: number;
  /** endpoint key of the RTT model */
  key: number;
  /** id (20) + IPv4 (4) + port (2) */
  compact: Buffer;
  /** the simulated node at this address (alive or gone); null: an outside node (a daemon) */
  node: SimNode | null;
  hasId: boolean;
}

export interface Query {
  y: 'q';
  t: number;
  q: string;
  target?: Buffer;
  infoHash?: Buffer;
  token?: Buffer;
  port?: number;
  impliedPort?: boolean;
  /** BEP 44 put / get */
  v?: unknown;
  k?: Buffer;
  sig?: Buffer;
  seq?: number;
  salt?: Buffer;
  cas?: number;
  /** why the query could not be read (answered with 203) */
  malformed?: string;
  /** the transaction id as an outside node sent it, echoed in the reply */
  rawT?: Buffer;
}

export interface StoredItem {
  v: unknown;
  vEnc: Buffer;
  k?: Buffer;
  sig?: Buffer;
  seq?: number;
  salt?: Buffer;
  expires: number;
}

export interface Reply {
  y: 'r';
  t: number;
  nodes?: number[];
  values?: string[];
  token?: Buffer;
  item?: StoredItem;
  rawT?: Buffer;
}

export interface ErrorMsg {
  y: 'e';
  t: number;
  code: number;
  text: string;
  rawT?: Buffer;
}

export type Msg = Query | Reply | ErrorMsg;

/** What a node needs from the simulator. */
export interface Network {
  readonly contacts: Contact[];
  now(): number;
  random(): number;
  send(from: SimNode, to: Contact, msg: Msg): void;
}

interface Pending {
  to: number;
  timer: NodeJS.Timeout;
  cb: (reply: Reply | ErrorMsg | null) => void;
}

export function cpl(a: Buffer, b: Buffer): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i]! ^ b[i]!;
    if (x !== 0) return i * 8 + Math.clz32(x) - 24;
  }
  return a.length * 8;
}

const ED25519_SPKI = Buffer.from('302a300506032b6570032100', 'hex');

/** BEP 44: the bytes a mutable item's signature covers. */
function signedPart(v: Buffer, seq: number, salt?: Buffer): Buffer {
  const head = salt && salt.length ? `4:salt${salt.length}:` : '';
  return Buffer.concat([Buffer.from(head, 'latin1'), salt && salt.length ? salt : Buffer.alloc(0), Buffer.from(`3:seqi${seq}e1:v`, 'latin1'), v]);
}

export class SimNode {
  alive = true;
  readonly buckets: Array<number[] | undefined> = [];
  /** info hash (hex) -> "ip:port" -> expiry */
  readonly peers = new Map<string, Map<string, number>>();
  readonly items = new Map<string, StoredItem>();
  /** NAT mappings: contact index -> expiry (only nodes behind NAT use it) */
  readonly natOpen = new Map<number, number>();
  private readonly pending = new Map<number, Pending>();
  private tid: number;

  constructor(
    readonly net: Network,
    readonly self: Contact,
    readonly nat: boolean,
    /** never leaves (routers, the 1.x announcers) */
    public pinned: boolean,
    readonly peerTtlMs: number,
    private readonly secret: Buffer,
  ) {
    self.node = this;
    this.tid = Math.floor(net.random() * 0x10000);
  }

  tableSize(): number {
    let n = 0;
    for (const b of this.buckets) n += b?.length ?? 0;
    return n;
  }

  /** Adds a contact the way a Kademlia table does: a free slot in its bucket, else now and then over a vanished one. */
  learn(c: Contact): void {
    if (c === this.self || !c.hasId) return;
    const b = cpl(this.self.id, c.id);
    if (b >= 160) return;
    const bucket = (this.buckets[b] ??= []);
    if (bucket.includes(c.idx)) return;
    if (bucket.length < K) {
      bucket.push(c.idx);
      return;
    }
    const contacts = this.net.contacts;
    const dead = bucket.findIndex((i) => contacts[i]!.node !== null && !contacts[i]!.node!.alive);
    if (dead >= 0 && this.net.random() < REPLACE_DEAD) bucket[dead] = c.idx;
  }

  /** The n contacts of the table closest to target (XOR), closest first; dead and NAT entries included, as a real table holds them. */
  closest(target: Buffer, n = K, exclude = -1): number[] {
    const thi = target.readUInt32BE(0);
    const tlo = target.readUInt32BE(4);
    const best: number[] = [];
    const dh: number[] = [];
    const dl: number[] = [];
    const contacts = this.net.contacts;
    for (const bucket of this.buckets) {
      if (!bucket) continue;
      for (const idx of bucket) {
        if (idx === exclude) continue;
        const c = contacts[idx]!;
        const h = (c.hi ^ thi) >>> 0;
        const l = (c.lo ^ tlo) >>> 0;
        let pos = best.length;
        while (pos > 0 && (dh[pos - 1]! > h || (dh[pos - 1] === h && dl[pos - 1]! > l))) pos--;
        if (pos >= n) continue;
        best.splice(pos, 0, idx);
        dh.splice(pos, 0, h);
        dl.splice(pos, 0, l);
        if (best.length > n) {
          best.pop();
          dh.pop();
          dl.pop();
        }
      }
    }
    return best;
  }

  token(ip: string, epoch = Math.floor(this.net.now() / TOKEN_EPOCH_MS)): Buffer {
    return createHash('sha1').update(this.secret).update(ip).update(String(epoch)).digest().subarray(0, 4);
  }

  private tokenValid(ip: string, token: Buffer | undefined): boolean {
    if (!token) return false;
    const epoch = Math.floor(this.net.now() / TOKEN_EPOCH_MS);
    return token.equals(this.token(ip, epoch)) || token.equals(this.token(ip, epoch - 1));
  }

  /** Sends a query; cb gets the reply, or null after timeoutMs. */
  query(to: Contact, q: Omit<Query, 't' | 'y'>, timeoutMs: number, cb: (reply: Reply | ErrorMsg | null) => void): void {
    if (!this.alive) return;
    const t = (this.tid = (this.tid + 1) & 0xffff);
    const old = this.pending.get(t);
    if (old) clearTimeout(old.timer);
    const timer = setTimeout(() => {
      this.pending.delete(t);
      cb(null);
    }, timeoutMs);
    this.pending.set(t, { to: to.idx, timer, cb });
    this.net.send(this, to, { ...q, y: 'q', t });
  }

  /** The node leaves: nothing more is sent or answered; what it started never completes. */
  leave(): void {
    this.alive = false;
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    this.natOpen.clear();
  }

  receive(from: Contact, msg: Msg): void {
    if (!this.alive) return;
    if (msg.y === 'q') {
      this.learn(from);
      const reply = this.answer(from, msg);
      if (msg.rawT) reply.rawT = msg.rawT;
      this.net.send(this, from, reply);
      return;
    }
    const p = this.pending.get(msg.t);
    if (!p || p.to !== from.idx) return;
    clearTimeout(p.timer);
    this.pending.delete(msg.t);
    if (msg.y === 'r') this.learn(from);
    p.cb(msg);
  }

  private error(t: number, code: number, text: string): ErrorMsg {
    return { y: 'e', t, code, text };
  }

  answer(from: Contact, q: Query): Reply | ErrorMsg {
    const t = q.t;
    if (q.malformed) return this.error(t, 203, q.malformed);
    const now = this.net.now();
    switch (q.q) {
      case 'ping':
        return { y: 'r', t };
      case 'find_node':
        if (!q.target) return this.error(t, 203, 'find_node without target');
        return { y: 'r', t, nodes: this.closest(q.target) };
      case 'get_peers': {
        if (!q.infoHash) return this.error(t, 203, 'get_peers without info_hash');
        // libtorrent's reply: the token and the closest nodes, and the stored peers when there are any
        const reply: Reply = { y: 'r', t, token: this.token(from.ip), nodes: this.closest(q.infoHash) };
        const stored = this.peers.get(q.infoHash.toString('hex'));
        if (stored) {
          const values: string[] = [];
          for (const [peer, expires] of stored) {
            if (expires <= now) stored.delete(peer);
            else if (values.length < MAX_VALUES_PER_REPLY) values.push(peer);
          }
          if (values.length) reply.values = values;
        }
        return reply;
      }
      case 'announce_peer': {
        if (!q.infoHash || (q.port === undefined && !q.impliedPort)) return this.error(t, 203, 'announce_peer without info_hash or port');
        if (!this.tokenValid(from.ip, q.token)) return this.error(t, 203, 'bad token');
        this.storePeer(q.infoHash.toString('hex'), `${from.ip}:${q.impliedPort ? from.port : q.port}`, now);
        return { y: 'r', t };
      }
      case 'get': {
        if (!q.target) return this.error(t, 203, 'get without target');
        const reply: Reply = { y: 'r', t, token: this.token(from.ip), nodes: this.closest(q.target) };
        const item = this.items.get(q.target.toString('hex'));
        if (item && item.expires > now && (q.seq === undefined || item.seq === undefined || item.seq > q.seq)) reply.item = item;
        return reply;
      }
      case 'put':
        return this.put(from, q, now);
      default:
        return this.error(t, 204, 'Method Unknown');
    }
  }

  storePeer(hash: string, peer: string, now: number): void {
    let stored = this.peers.get(hash);
    if (!stored) {
      if (this.peers.size >= MAX_INFO_HASHES) this.peers.delete(this.peers.keys().next().value!);
      stored = new Map();
      this.peers.set(hash, stored);
    }
    stored.delete(peer);
    if (stored.size >= MAX_PEERS_PER_HASH) stored.delete(stored.keys().next().value!);
    stored.set(peer, now + this.peerTtlMs);
  }

  /** Whether this node holds a live announcement of `hash` from address `ip` (any port). */
  holds(hash: string, ip: string): boolean {
    const stored = this.peers.get(hash);
    if (!stored) return false;
    const now = this.net.now();
    for (const [peer, expires] of stored) if (expires > now && peer.slice(0, peer.lastIndexOf(':')) === ip) return true;
    return false;
  }

  private put(from: Contact, q: Query, now: number): Reply | ErrorMsg {
    const t = q.t;
    if (q.v === undefined) return this.error(t, 203, 'put without v');
    if (!this.tokenValid(from.ip, q.token)) return this.error(t, 203, 'bad token');
    const vEnc = Buffer.from(bencode.encode(q.v as never));
    if (vEnc.length > 1000) return this.error(t, 205, 'message (v field) too big');
    let target: Buffer;
    if (q.k || q.sig) {
      if (!q.k || q.k.length !== 32 || !q.sig || q.sig.length !== 64 || q.seq === undefined) return this.error(t, 203, 'mutable put needs k, sig and seq');
      if (q.salt && q.salt.length > 64) return this.error(t, 207, 'salt (salt field) too big');
      const key = createPublicKey({ key: Buffer.concat([ED25519_SPKI, q.k]), format: 'der', type: 'spki' });
      if (!verify(null, signedPart(vEnc, q.seq, q.salt), key, q.sig)) return this.error(t, 206, 'invalid signature');
      target = createHash('sha1').update(q.k).update(q.salt ?? Buffer.alloc(0)).digest();
      const old = this.items.get(target.toString('hex'));
      if (old && old.expires > now && old.seq !== undefined) {
        if (q.cas !== undefined && q.cas !== old.seq) return this.error(t, 301, 'CAS mismatch');
        if (q.seq < old.seq) return this.error(t, 302, 'sequence number less than current');
      }
    } else {
      target = createHash('sha1').update(vEnc).digest();
    }
    const hex = target.toString('hex');
    if (!this.items.has(hex) && this.items.size >= MAX_ITEMS) this.items.delete(this.items.keys().next().value!);
    this.items.set(hex, { v: q.v, vEnc, ...(q.k ? { k: q.k, sig: q.sig, seq: q.seq } : {}), ...(q.salt ? { salt: q.salt } : {}), expires: now + ITEM_TTL_MS });
    return { y: 'r', t };
  }
}
