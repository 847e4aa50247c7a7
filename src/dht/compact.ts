// Compact node and peer encodings of BEP 5 (IPv4) and BEP 32 (IPv6):
//   node: id (20) | IPv4 (4) | port (2) = 26 bytes in `nodes`;  id (20) | IPv6 (16) | port (2) = 38 bytes in `nodes6`
//   peer: IPv4 (4) | port (2) = 6 bytes;  IPv6 (16) | port (2) = 18 bytes, both in `values`
// bittorrent-dht / k-rpc only know the IPv4 forms; the library adapter (library-adapter.ts) uses these.
// The IPv4 forms here give the same bytes as the library's own functions. IPv6 addresses are written the
// way libuv writes a datagram's source address (`fd20::1`), so hosts from `nodes6` compare equal to
// `rinfo.address` (k-rpc-socket matches replies to requests by that string).
import { isIP, SocketAddress } from 'node:net';
import { hostPort } from '../util/host-port.js';

export type Family = 4 | 6;

export const NODE_LENGTH = { 4: 26, 6: 38 } as const;
export const PEER_LENGTH = { 4: 6, 6: 18 } as const;
/** the key of a reply's compact node list per family */
export const NODES_KEY = { 4: 'nodes', 6: 'nodes6' } as const;
/** BEP 32 `want` entries per family */
export const WANT = { 4: 'n4', 6: 'n6' } as const;

const ADDRESS_LENGTH = { 4: 4, 6: 16 } as const;
/** nodes in one reply's compact list */
export const REPLY_NODES = 8;

export interface CompactNode {
  id: Buffer;
  host: string;
  port: number;
  distance: number;
  token: null;
}

interface HostPort {
  host: string;
  port: number;
}

/** The 4 or 16 bytes of an IP address; null for anything that is not one. */
export function ipToBytes(host: string): Buffer | null {
  const family = isIP(host);
  if (family === 4) return Buffer.from(host.split('.').map(Number));
  if (family !== 6) return null;
  const text = host.replace(/%.*$/, ''); // a zone id is not part of the address
  const words = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((w) => {
          if (!w.includes('.')) return [parseInt(w, 16)];
          const [a, b, c, d] = w.split('.').map(Number) as [number, number, number, number];
          return [(a << 8) | b, (c << 8) | d];
        });
  const gap = text.indexOf('::');
  const head = words(gap < 0 ? text : text.slice(0, gap));
  const tail = gap < 0 ? [] : words(text.slice(gap + 2));
  const all = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  const buf = Buffer.alloc(16);
  all.forEach((w, i) => buf.writeUInt16BE(w, i * 2));
  return buf;
}

/** The address at `offset`: dotted quad, or IPv6 in libuv's canonical text. */
export function bytesToIp(buf: Uint8Array, offset: number, family: Family): string {
  if (family === 4) return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((buf[offset + i]! << 8) | buf[offset + i + 1]!).toString(16));
  return new SocketAddress({ address: words.join(':'), family: 'ipv6' }).address;
}

/** IPv6 hosts rewritten the way a datagram's source address reads (`[fd20:0::1]` → `fd20::1`); others as they are. */
export function canonicalHost(host: string): string {
  const bytes = isIP(host) === 6 ? ipToBytes(host) : null;
  return bytes ? bytesToIp(bytes, 0, 6) : host;
}

export function familyOf(host: string): Family | null {
  const f = isIP(host);
  return f === 4 || f === 6 ? f : null;
}

/** 6 bytes for an IPv4 host, 18 for an IPv6 one (the family of the address decides). */
export function encodePeer(host: string, port: number): Buffer {
  const ip = ipToBytes(host) ?? Buffer.alloc(4);
  const buf = Buffer.alloc(ip.length + 2);
  ip.copy(buf);
  buf.writeUInt16BE(port, ip.length);
  return buf;
}

/** One compact peer, or null for a length that is neither 6 nor 18 or a port 0. */
export function decodePeer(value: Uint8Array): HostPort | null {
  const family = value.length === PEER_LENGTH[4] ? 4 : value.length === PEER_LENGTH[6] ? 6 : null;
  if (family === null) return null;
  const at = ADDRESS_LENGTH[family];
  const port = (value[at]! << 8) | value[at + 1]!;
  return port === 0 ? null : { host: bytesToIp(value, 0, family), port };
}

export function decodePeers(values: Uint8Array[]): HostPort[] {
  const peers: HostPort[] = [];
  for (const value of Array.isArray(values) ? values : []) {
    const peer = value instanceof Uint8Array ? decodePeer(value) : null;
    if (peer) peers.push(peer);
  }
  return peers;
}

/** `1.2.3.4:80`, `[fd20::1]:80`, or hex for anything else. */
export function formatCompactPeer(value: Uint8Array): string {
  const peer = decodePeer(value);
  if (!peer) return Buffer.from(value).toString('hex');
  return hostPort(peer.host, peer.port);
}

/** Nodes of the family with a valid id, in compact form; others are left out. */
export function encodeNodes(nodes: ReadonlyArray<{ id?: Uint8Array; host?: string; address?: string; port: number }>, idLength: number, family: Family): Buffer {
  const parts: Buffer[] = [];
  for (const node of nodes) {
    if (!(node.id instanceof Uint8Array) || node.id.length !== idLength) continue;
    const host = node.host ?? node.address ?? '';
    const ip = isIP(host) === family ? ipToBytes(host) : null;
    if (!ip) continue;
    const port = Buffer.alloc(2);
    port.writeUInt16BE(node.port);
    parts.push(Buffer.from(node.id), ip, port);
  }
  return Buffer.concat(parts);
}

/** Whole entries only; entries with port 0 are skipped (as the library does for IPv4). */
export function parseNodes(buf: Uint8Array, idLength: number, family: Family): CompactNode[] {
  const size = idLength + ADDRESS_LENGTH[family] + 2;
  const nodes: CompactNode[] = [];
  if (!(buf instanceof Uint8Array)) return nodes;
  for (let i = 0; i + size <= buf.length; i += size) {
    const port = (buf[i + size - 2]! << 8) | buf[i + size - 1]!;
    if (!port) continue;
    nodes.push({ id: Buffer.from(buf.subarray(i, i + idLength)), host: bytesToIp(buf, i + idLength, family), port, distance: 0, token: null });
  }
  return nodes;
}
