// The datagrams of local peer discovery (KADNODE-1.x §9): KadNode 1.x's BEP-14-like `BT-SEARCH`
// request naming our DHT port (plus BEP 14's cookie), and KadNode 2.x's `DHT <port>`. Pure.
//
// The two never meet in one parser: KadNode 2.x reads at most 15 bytes of a datagram and sees
// `BT-SEARCH * HTT`, which its `DHT %hu` does not match, so sending both on one group is harmless.
import { hostPort } from '../util/host-port.js';

/** A packet longer than this is not ours (ours are about 150 bytes). */
export const MAX_PACKET_SIZE = 1024;
const MAX_HEADERS = 16;
const MAX_COOKIE = 64;
const ZERO_INFOHASH = '0'.repeat(40);
const KADNODE2_PREFIX = 'DHT ';

export class LpdPacketError extends Error {}

export interface LpdPacket {
  /** the sender's DHT port */
  port: number;
  /** KadNode 2.x's `DHT <port>` (absent: the BT-SEARCH form) */
  format?: 'kadnode2';
  /** lowercase, 40 hex characters each; usually one */
  infohashes: string[];
  cookie?: string;
  host?: string;
}

export interface LpdPacketFields {
  /** an IPv6 group is written in brackets */
  group: string;
  /** the port of the group, 6771 */
  lpdPort: number;
  /** our DHT port */
  port: number;
  cookie?: string;
  infohash?: string;
}

/** The packet KadNode 1.x sends, plus BEP 14's `cookie` header. */
export function formatLpdPacket(fields: LpdPacketFields): Buffer {
  const lines = [
    'BT-SEARCH * HTTP/1.0',
    `Host: ${hostPort(fields.group, fields.lpdPort)}`,
    `Port: ${fields.port}`,
    `Infohash: ${fields.infohash ?? ZERO_INFOHASH}`,
  ];
  if (fields.cookie !== undefined) lines.push(`cookie: ${fields.cookie}`);
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n\r\n', 'latin1');
}

/** KadNode 2.x's packet: `DHT <port>`, ASCII, no terminator (its ext-lpd.c reads `DHT %hu`). */
export function formatKadnode2LpdPacket(port: number): Buffer {
  return Buffer.from(`${KADNODE2_PREFIX}${port}`, 'latin1');
}

function parseKadnode2Packet(text: string): LpdPacket {
  // a line end is tolerated: KadNode 2.x sends none but its sscanf would not mind one
  const match = /^DHT (\d{1,5})(?:\r?\n)?$/.exec(text);
  if (!match) throw new LpdPacketError('not a "DHT <port>" packet');
  const port = Number(match[1]);
  if (!(port >= 1 && port <= 65535)) throw new LpdPacketError(`bad port '${match[1]}'`);
  return { port, infohashes: [], format: 'kadnode2' };
}

/**
 * Parses one datagram strictly: KadNode 2.x's `DHT <port>`, or the request line `BT-SEARCH * HTTP/1.0` (or 1.1), header lines
 * `Name: value` (CRLF or LF), an empty line, then nothing but empty lines. `Port` is required once
 * (1..65535); `Infohash` may repeat (40 hex each); `cookie` and `Host` at most once; other headers are
 * ignored. Printable ASCII only, at most MAX_PACKET_SIZE bytes and MAX_HEADERS headers.
 * Throws LpdPacketError saying what is wrong.
 */
export function parseLpdPacket(msg: Buffer): LpdPacket {
  if (msg.length === 0) throw new LpdPacketError('empty packet');
  if (msg.length > MAX_PACKET_SIZE) throw new LpdPacketError(`packet of ${msg.length} bytes (at most ${MAX_PACKET_SIZE})`);
  const text = msg.toString('latin1');
  if (!/^[\x20-\x7e\t\r\n]*$/.test(text)) throw new LpdPacketError('non-printable bytes');
  if (text.startsWith(KADNODE2_PREFIX)) return parseKadnode2Packet(text);
  const lines = text.split('\n').map((line) => (line.endsWith('\r') ? line.slice(0, -1) : line));
  if (lines.some((line) => line.includes('\r'))) throw new LpdPacketError('stray carriage return');
  // what follows the last line feed is not a line; it must be empty
  const unterminated = lines.pop()!;
  if (!/^BT-SEARCH \* HTTP\/1\.[01]$/.test(lines[0] ?? unterminated)) throw new LpdPacketError('not a BT-SEARCH request line');

  let port: number | undefined;
  let cookie: string | undefined;
  let host: string | undefined;
  const infohashes: string[] = [];
  let i = 1;
  for (; i < lines.length && lines[i] !== ''; i++) {
    if (i > MAX_HEADERS) throw new LpdPacketError(`more than ${MAX_HEADERS} headers`);
    const header = /^([A-Za-z][A-Za-z0-9-]*):[ \t]*(.*?)[ \t]*$/.exec(lines[i]!);
    if (!header) throw new LpdPacketError(`bad header line ${i + 1}`);
    const name = header[1]!.toLowerCase();
    const value = header[2]!;
    if (name === 'port') {
      if (port !== undefined) throw new LpdPacketError('Port header twice');
      const n = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
      if (!(n >= 1 && n <= 65535)) throw new LpdPacketError(`bad Port '${value}'`);
      port = n;
    } else if (name === 'infohash') {
      if (!/^[0-9a-fA-F]{40}$/.test(value)) throw new LpdPacketError(`bad Infohash '${value}'`);
      infohashes.push(value.toLowerCase());
    } else if (name === 'cookie') {
      if (cookie !== undefined) throw new LpdPacketError('cookie header twice');
      if (!/^[\x21-\x7e]+$/.test(value) || value.length > MAX_COOKIE) throw new LpdPacketError('bad cookie');
      cookie = value;
    } else if (name === 'host') {
      if (host !== undefined) throw new LpdPacketError('Host header twice');
      host = value;
    }
  }
  if (i >= lines.length) throw new LpdPacketError('headers not terminated by an empty line');
  if (unterminated !== '' || lines.slice(i).some((line) => line !== '')) throw new LpdPacketError('content after the headers');
  if (port === undefined) throw new LpdPacketError('no Port header');
  const packet: LpdPacket = { port, infohashes };
  if (cookie !== undefined) packet.cookie = cookie;
  if (host !== undefined) packet.host = host;
  return packet;
}
