// BEP 42 node ids: the first 21 bits of a node id are tied to its external IP address, so a node
// cannot choose where in the id space it sits (the defence against Sybil nodes placed next to an id).
//
//   crc = CRC32-C((IP & mask) with the top 3 bits of its first byte set to r), r = random 0..7
//   mask: IPv4 03 0f 3f ff, IPv6 01 03 07 0f 1f 3f 7f ff (the first 8 bytes)
//   id[0] = crc >> 24, id[1] = crc >> 16, id[2] = (crc >> 8) & 0xf8 | random 3 bits,
//   id[3..18] random, id[19] = a random byte whose low 3 bits are r
//
// Local addresses (10/8, 172.16/12, 192.168/16, 169.254/16, 127/8, and the IPv6 loopback, link-local and
// unique local ranges) are exempt: any id is valid from them.
import crc32c from 'crc-32/crc32c.js';
import { randomBytes } from 'node:crypto';
import { ipToBytes } from './compact.js';

const MASK_V4 = [0x03, 0x0f, 0x3f, 0xff];
const MASK_V6 = [0x01, 0x03, 0x07, 0x0f, 0x1f, 0x3f, 0x7f, 0xff];

/** The 21 bits (3 bytes, the last masked to 0xf8) an address allows, for a given r (0..7). */
function prefix(ip: Buffer, r: number): Buffer {
  const mask = ip.length === 4 ? MASK_V4 : MASK_V6;
  const masked = Buffer.from(mask.map((m, i) => ip[i]! & m));
  masked[0]! |= (r & 7) << 5;
  const crc = crc32c.buf(masked) >>> 0;
  return Buffer.from([crc >>> 24, (crc >>> 16) & 0xff, (crc >>> 8) & 0xf8]);
}

export function isExemptAddress(address: string): boolean {
  const ip = ipToBytes(address);
  if (!ip) return true;
  if (ip.length === 4) {
    const [a, b] = [ip[0]!, ip[1]!];
    return a === 10 || a === 127 || (a === 172 && (b & 0xf0) === 16) || (a === 192 && b === 168) || (a === 169 && b === 254);
  }
  const loopback = ip.subarray(0, 15).every((x) => x === 0) && ip[15] === 1;
  return loopback || (ip[0] === 0xfe && (ip[1]! & 0xc0) === 0x80) || (ip[0]! & 0xfe) === 0xfc;
}

/** A BEP 42 node id for our external address; `rand` and `random` only for tests (vectors). */
export function bep42NodeId(address: string, rand = randomBytes(1)[0]!, random: Buffer = randomBytes(20)): Buffer {
  const ip = ipToBytes(address);
  if (!ip) throw new RangeError(`not an IP address: ${address}`);
  const id = Buffer.from(random.subarray(0, 20));
  const head = prefix(ip, rand & 7);
  id[0] = head[0]!;
  id[1] = head[1]!;
  id[2] = head[2]! | (id[2]! & 0x07);
  id[19] = rand & 0xff;
  return id;
}

/** True when `id` is one `address` may use (always for exempt addresses). */
export function isBep42Valid(id: Uint8Array, address: string): boolean {
  if (isExemptAddress(address)) return true;
  const ip = ipToBytes(address)!;
  if (id.length !== 20) return false;
  const head = prefix(ip, id[19]! & 7);
  return id[0] === head[0] && id[1] === head[1] && (id[2]! & 0xf8) === head[2];
}
