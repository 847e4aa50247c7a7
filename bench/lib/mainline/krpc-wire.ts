// KRPC on the wire for the mainline simulator: the messages between a simulated node and a real daemon
// are bencoded datagrams (BEP 5, BEP 44); between two simulated nodes they stay objects (node.ts).
// Replies carry the requester's address in `ip` (BEP 42), as libtorrent's do.
import bencode from 'bencode';
import type { Contact, ErrorMsg, Msg, Query, Reply } from './node.js';

type Dict = Record<string, unknown>;

const bytes = (v: unknown): Buffer | undefined => (v instanceof Uint8Array ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : undefined);
const text = (v: unknown): string | undefined => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : undefined);
const int = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);

export function compactAddress(ip: string, port: number): Buffer {
  const b = Buffer.alloc(6);
  ip.split('.').forEach((o, i) => (b[i] = Number(o)));
  b.writeUInt16BE(port, 4);
  return b;
}

function parseAddress(b: Buffer, at: number): { ip: string; port: number } {
  return { ip: `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`, port: b.readUInt16BE(at + 4) };
}

function tBytes(msg: Msg): Buffer {
  if (msg.rawT) return msg.rawT;
  const t = Buffer.alloc(2);
  t.writeUInt16BE(msg.t & 0xffff);
  return t;
}

/** The datagram a simulated node (id selfId) sends to the outside node `to`. */
export function encodeForWire(msg: Msg, selfId: Buffer, to: Contact, contacts: Contact[]): Buffer {
  const t = tBytes(msg);
  if (msg.y === 'e') return Buffer.from(bencode.encode({ t, y: 'e', e: [msg.code, msg.text] }));
  if (msg.y === 'q') {
    const a: Dict = { id: selfId };
    if (msg.target) a.target = msg.target;
    if (msg.infoHash) a.info_hash = msg.infoHash;
    if (msg.token) a.token = msg.token;
    if (msg.port !== undefined) a.port = msg.port;
    if (msg.impliedPort) a.implied_port = 1;
    return Buffer.from(bencode.encode({ t, y: 'q', q: msg.q, a }));
  }
  const r: Dict = { id: selfId };
  if (msg.nodes) r.nodes = Buffer.concat(msg.nodes.map((i) => contacts[i]!.compact));
  if (msg.values) r.values = msg.values.map((p) => compactAddress(p.slice(0, p.lastIndexOf(':')), Number(p.slice(p.lastIndexOf(':') + 1))));
  if (msg.token) r.token = msg.token;
  if (msg.item) {
    r.v = msg.item.v;
    if (msg.item.k) Object.assign(r, { k: msg.item.k, sig: msg.item.sig, seq: msg.item.seq });
  }
  return Buffer.from(bencode.encode({ ip: compactAddress(to.ip, to.port), t, y: 'r', r }));
}

export interface WireMessage {
  msg: Msg;
  /** the sender's node id, when it sent a valid one */
  senderId: Buffer | null;
}

/**
 * Reads a datagram from an outside node; null when it is not KRPC. `resolve` turns a node of a
 * `nodes` list into a contact index.
 */
export function decodeFromWire(buf: Buffer, resolve: (id: Buffer, ip: string, port: number) => number): WireMessage | null {
  let obj: Dict;
  try {
    obj = bencode.decode(buf) as Dict;
  } catch {
    return null;
  }
  if (!obj || typeof obj !== 'object') return null;
  const y = text(obj.y);
  const rawT = bytes(obj.t);
  if (!rawT || (y !== 'q' && y !== 'r' && y !== 'e')) return null;
  const t = rawT.length === 2 ? rawT.readUInt16BE(0) : -1;
  if (y === 'e') {
    const e = Array.isArray(obj.e) ? obj.e : [];
    const msg: ErrorMsg = { y: 'e', t, code: int(e[0]) ?? 0, text: text(e[1]) ?? '' };
    return { msg, senderId: null };
  }
  if (y === 'r') {
    const r = (obj.r ?? {}) as Dict;
    const id = bytes(r.id);
    const msg: Reply = { y: 'r', t };
    const nodes = bytes(r.nodes);
    if (nodes) {
      msg.nodes = [];
      for (let at = 0; at + 26 <= nodes.length; at += 26) {
        const a = parseAddress(nodes, at + 20);
        msg.nodes.push(resolve(Buffer.from(nodes.subarray(at, at + 20)), a.ip, a.port));
      }
    }
    if (Array.isArray(r.values)) {
      msg.values = r.values
        .map(bytes)
        .filter((v): v is Buffer => v !== undefined && v.length === 6)
        .map((v) => {
          const a = parseAddress(v, 0);
          return `${a.ip}:${a.port}`;
        });
    }
    const token = bytes(r.token);
    if (token) msg.token = Buffer.from(token);
    return { msg, senderId: id && id.length === 20 ? Buffer.from(id) : null };
  }
  const a = (obj.a ?? {}) as Dict;
  const q: Query = { y: 'q', t, q: text(obj.q) ?? '', rawT: Buffer.from(rawT) };
  const id = bytes(a.id);
  const need20 = (name: string, v: unknown): Buffer | undefined => {
    if (v === undefined) return undefined;
    const b = bytes(v);
    if (!b || b.length !== 20) q.malformed ??= `${name} is not 20 bytes`;
    return b && b.length === 20 ? Buffer.from(b) : undefined;
  };
  if (!id || id.length !== 20) q.malformed = 'id is not 20 bytes';
  q.target = need20('target', a.target);
  q.infoHash = need20('info_hash', a.info_hash);
  const token = bytes(a.token);
  if (token) q.token = Buffer.from(token);
  if (a.port !== undefined) {
    const port = int(a.port);
    if (port === undefined || port < 1 || port > 65535) q.malformed ??= 'port is not a port number';
    else q.port = port;
  }
  if (int(a.implied_port)) q.impliedPort = true;
  if (a.v !== undefined) q.v = a.v;
  const k = bytes(a.k);
  if (k) q.k = Buffer.from(k);
  const sig = bytes(a.sig);
  if (sig) q.sig = Buffer.from(sig);
  const salt = bytes(a.salt);
  if (salt) q.salt = Buffer.from(salt);
  if (int(a.seq) !== undefined) q.seq = int(a.seq);
  if (int(a.cas) !== undefined) q.cas = int(a.cas);
  return { msg: q, senderId: id && id.length === 20 ? Buffer.from(id) : null };
}
