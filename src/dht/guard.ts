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

// Deeper than any KRPC message (a BEP 44 `v` may hold a little structure of its own).
const MAX_DEPTH = 32;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

/**
 * True when `buf` is exactly one well-formed bencode value: byte strings with a plain decimal length
 * that fits the buffer, integers `i-?[0-9]+e`, lists, dictionaries with byte-string keys, at most
 * MAX_DEPTH deep. The bencode package decodes a negative string length by moving backwards: the 16
 * bytes `d1:Sli201e-3:Gen` make it loop, filling a list until the process runs out of memory (found by
 * the fuzzer). k-rpc-socket decodes every datagram with it too, so nothing reaches either unchecked.
 */
export function isBencode(buf: Uint8Array): boolean {
  // one entry per open container: a list, or a dictionary expecting a key or a value next
  const LIST = 0;
  const KEY = 1;
  const VALUE = 2;
  const stack: number[] = [];
  const digitsFrom = (from: number): number => {
    let j = from;
    while (j < buf.length && buf[j]! >= DIGIT_0 && buf[j]! <= DIGIT_9) j++;
    return j;
  };
  let i = 0;
  for (;;) {
    if (i >= buf.length) return false;
    const c = buf[i]!;
    const top = stack.length - 1;
    if (c === 0x65 /* e */) {
      // closes a list or a dictionary; not a dictionary holding a key without its value
      if (top < 0 || stack[top] === VALUE) return false;
      stack.pop();
      i++;
    } else {
      const isDigit = c >= DIGIT_0 && c <= DIGIT_9;
      if (top >= 0 && stack[top] === KEY && !isDigit) return false;
      if (c === 0x69 /* i */) {
        let j = i + 1;
        if (buf[j] === 0x2d /* - */) j++;
        const end = digitsFrom(j);
        if (end === j || buf[end] !== 0x65) return false;
        i = end + 1;
      } else if (isDigit) {
        const end = digitsFrom(i);
        if (buf[end] !== 0x3a /* : */ || end - i > 9) return false;
        const length = Number(Buffer.from(buf.subarray(i, end)).toString('latin1'));
        if (end + 1 + length > buf.length) return false;
        i = end + 1 + length;
      } else if (c === 0x6c /* l */ || c === 0x64 /* d */) {
        if (stack.length >= MAX_DEPTH) return false;
        // the container is the value of an enclosing dictionary, which expects a key after it
        if (top >= 0 && stack[top] === VALUE) stack[top] = KEY;
        stack.push(c === 0x6c ? LIST : KEY);
        i++;
        continue;
      } else {
        return false;
      }
      if (top >= 0 && stack[top] !== LIST) stack[top] = stack[top] === KEY ? VALUE : KEY;
    }
    if (stack.length === 0) return i === buf.length;
  }
}

/** Returns null when the message is acceptable, else a short reason for the log. */
export function checkKrpc(buf: Buffer, family: Family = 4): string | null {
  if (!isBencode(buf)) return 'not bencode';
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

/**
 * The transaction id of a packet checkKrpc refused that BEP 5 has us answer with error 203 "Protocol
 * Error": a query (`y` = q) with a sane `t`. Null for anything else: replies and errors are never
 * answered (two nodes would bounce errors forever), nor packets without a `t` to answer to.
 */
export function refusedQueryTransaction(buf: Buffer): Uint8Array | null {
  if (!isBencode(buf)) return null;
  let msg: unknown;
  try {
    msg = bencode.decode(buf);
  } catch {
    return null;
  }
  if (!isDict(msg) || text(msg.y) !== 'q' || !bytesOf(msg.t, undefined, 32) || (msg.t as Uint8Array).length === 0) return null;
  return msg.t as Uint8Array;
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
      return null; // unknown methods: error 204 (citizen-overrides.ts methodUnknown)
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
