// Schema check for KRPC messages before bittorrent-dht sees them. The library trusts field types
// (e.g. `info_hash.toString('hex')`, `token.equals()`, `hash(a.k)`) and throws from inside the
// socket handler, which would end the process; anything that does not fit BEP 5 / BEP 32 / BEP 44 is
// dropped here. The family is the socket's: its replies carry peers (`values`) of that family only.
import bencode from 'bencode';
import { NODE_LENGTH, PEER_LENGTH, type Family } from './compact.js';

type Dict = Record<string, unknown>;

const ID_LENGTH = 20;
const MAX_TOKEN = 64;
const MAX_SALT = 64;
const MAX_V = 1000;
// BEP 32 `want`: a short list of short strings ("n4", "n6"; unknown ones are ignored, not refused)
const MAX_WANT = 8;
const MAX_WANT_ENTRY = 16;

const isDict = (x: unknown): x is Dict => typeof x === 'object' && x !== null && !ArrayBuffer.isView(x) && !Array.isArray(x);
const isBytes = (x: unknown): x is Uint8Array => x instanceof Uint8Array;
const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x);
const text = (x: unknown) => (isBytes(x) ? Buffer.from(x).toString('latin1') : undefined);

function bytesOf(x: unknown, length?: number, max?: number): boolean {
  if (!isBytes(x)) return false;
  if (length !== undefined && x.length !== length) return false;
  return max === undefined || x.length <= max;
}

/** Returns null when the message is acceptable, else a short reason for the log. */
export function checkKrpc(buf: Buffer, family: Family = 4): string | null {
  let msg: unknown;
  try {
    msg = bencode.decode(buf);
  } catch {
    return 'not bencode';
  }
  if (!isDict(msg)) return 'not a dictionary';
  if (!bytesOf(msg.t, undefined, 32) || (msg.t as Uint8Array).length === 0) return 'bad transaction id';
  switch (text(msg.y)) {
    case 'q': return checkQuery(msg);
    case 'r': return checkReply(msg.r, family);
    case 'e': return Array.isArray(msg.e) ? null : 'bad error body';
    default: return 'unknown message type';
  }
}

function checkQuery(msg: Dict): string | null {
  const q = text(msg.q);
  const a = msg.a;
  if (q === undefined) return 'query without name';
  if (!isDict(a)) return `${q}: arguments missing`;
  if (!bytesOf(a.id, ID_LENGTH)) return `${q}: bad node id`;
  if (a.want !== undefined && !(Array.isArray(a.want) && a.want.length <= MAX_WANT && a.want.every((w) => bytesOf(w, undefined, MAX_WANT_ENTRY)))) {
    return `${q}: bad want`;
  }
  switch (q) {
    case 'ping':
      return null;
    case 'find_node':
      return bytesOf(a.target, ID_LENGTH) ? null : 'find_node: bad target';
    case 'get_peers':
      return bytesOf(a.info_hash, ID_LENGTH) ? null : 'get_peers: bad info_hash';
    case 'announce_peer':
      if (!bytesOf(a.info_hash, ID_LENGTH)) return 'announce_peer: bad info_hash';
      if (!bytesOf(a.token, undefined, MAX_TOKEN)) return 'announce_peer: bad token';
      if (a.port !== undefined && !(isInt(a.port) && a.port >= 0 && a.port <= 65535)) return 'announce_peer: bad port';
      if (a.implied_port !== undefined && !isInt(a.implied_port)) return 'announce_peer: bad implied_port';
      return null;
    case 'get':
      if (!bytesOf(a.target, ID_LENGTH)) return 'get: bad target';
      return a.seq === undefined || isInt(a.seq) ? null : 'get: bad seq';
    case 'put':
      return checkPut(a);
    default:
      return null; // unknown queries are ignored by the library
  }
}

function checkPut(a: Dict): string | null {
  if (!bytesOf(a.token, undefined, MAX_TOKEN)) return 'put: bad token';
  if (a.v === undefined) return 'put: missing v';
  if (bencode.byteLength(a.v) > MAX_V + 8) return 'put: v too large';
  const mutable = a.k !== undefined || a.sig !== undefined;
  if (!mutable) return null;
  return checkSigned(a, 'put');
}

function checkSigned(d: Dict, what: string): string | null {
  if (!bytesOf(d.k, 32)) return `${what}: bad k`;
  if (!bytesOf(d.sig, 64)) return `${what}: bad sig`;
  if (!(isInt(d.seq) && d.seq >= 0)) return `${what}: bad seq`;
  if (d.salt !== undefined && !bytesOf(d.salt, undefined, MAX_SALT)) return `${what}: bad salt`;
  if (d.cas !== undefined && !isInt(d.cas)) return `${what}: bad cas`;
  return null;
}

function checkReply(r: unknown, family: Family): string | null {
  if (!isDict(r)) return 'reply: body missing';
  if (!bytesOf(r.id, ID_LENGTH)) return 'reply: bad node id';
  if (r.nodes !== undefined && !isBytes(r.nodes)) return 'reply: bad nodes';
  if (r.nodes6 !== undefined && !(isBytes(r.nodes6) && r.nodes6.length % NODE_LENGTH[6] === 0)) return 'reply: bad nodes6';
  if (r.token !== undefined && !bytesOf(r.token, undefined, MAX_TOKEN)) return 'reply: bad token';
  if (r.values !== undefined && !(Array.isArray(r.values) && r.values.every((v) => bytesOf(v, PEER_LENGTH[family])))) return 'reply: bad values';
  if (r.k !== undefined || r.sig !== undefined) return checkSigned(r, 'reply');
  if (r.seq !== undefined && !isInt(r.seq)) return 'reply: bad seq';
  return null;
}
