// The NSS surface: answers libnss_kadnode.so.2 (packaging/nss/) over UDP on loopback (--nss-port,
// default 4053, 0 disables), so that `hosts: files kadnode dns` in /etc/nsswitch.conf resolves names
// under the TLD for every program. KadNode 1.x answered with raw `struct sockaddr_storage` arrays and
// only the name (KADNODE-1.x §6); this protocol is explicit and versionless, every field fixed-size:
//
// Request, one datagram of 4..258 bytes:
//   offset 0  id      2 bytes, chosen by the client, copied into the reply
//   offset 2  family  1 byte: 4 = IPv4 addresses, 6 = IPv6 addresses, 0 = both
//   offset 3  name    1..255 bytes of [A-Za-z0-9._-], no NUL: a name under the query TLD
// Reply, one datagram of 8 + records bytes:
//   offset 0  id      2 bytes, as in the request
//   offset 2  status  1 byte: 0 found, 1 not found, 2 try again (still searching, or busy),
//                     3 refused (not a name under the TLD, or not a valid name)
//   offset 3  count   1 byte: records that follow, 0..32 (found with count 0: no address of that family)
//   offset 4  ttl     4 bytes, big-endian seconds the answer may be cached
//   offset 8  count records: family 1 byte (4 or 6), then the address (4 or 16 bytes, network order)
//
// A request too short or too long, or with another family byte, gets no reply (logged at debug level);
// every other request gets exactly one reply, within WAIT_MS. Requests beyond the rate limit are
// dropped; beyond MAX_PENDING lookups at once they get "try again" at once.
import dgram from 'node:dgram';
import net from 'node:net';
import type { Chain } from '../chain/chain.js';
import type { Logger } from '../log.js';
import type { Family, PeerAddress, Resolution } from '../types.js';
import { hostPort } from '../util/host-port.js';
import { printable } from '../util/printable.js';
import { bindUdp } from '../util/bind.js';
import { takeToken, type Bucket } from '../util/rate-limit.js';

export interface NssOptions {
  /** 0: an ephemeral port (tests) */
  port: number;
  /** loopback addresses to bind (127.0.0.1, ::1) */
  addresses: string[];
  /** the DHT families running: a family none of them serves does not wait for its addresses */
  families: Family[];
  /** how long a request waits for the first address (default WAIT_MS) */
  waitMs?: number;
  /** requests per second (token bucket; default RATE_PER_S, burst the same) */
  ratePerSecond?: number;
  /** lookups waiting for the resolver at once (default MAX_PENDING) */
  maxPending?: number;
}

export interface NssDeps {
  /** the query chain (src/resolver.ts); NSS takes names under the TLD only (scope 'tld-only') */
  chain: Chain;
  log: Logger;
  options: NssOptions;
}

export const NSS_STATUS = { found: 0, notfound: 1, tryagain: 2, refused: 3 } as const;
export type NssStatus = (typeof NSS_STATUS)[keyof typeof NSS_STATUS];

/** below the library's 3 s receive timeout (KADNODE_TIMEOUT_MS in packaging/nss/nss_kadnode.c) */
export const WAIT_MS = 2500;
export const NAME_MAX = 255;
export const REQUEST_HEADER = 3;
export const REPLY_HEADER = 8;
export const MAX_RECORDS = 32;
const RATE_PER_S = 500;
const MAX_PENDING = 256;
const NAME_CHARS = /^[A-Za-z0-9._-]+$/;
const DROP_WARN_INTERVAL_MS = 60_000;

export interface NssRequest {
  id: number;
  family: 0 | Family;
  name: string;
}

/** The request in a datagram, or a reason to drop it. Never throws. */
export function parseNssRequest(msg: Buffer): NssRequest | { drop: string } {
  if (msg.length < REQUEST_HEADER + 1) return { drop: `${msg.length} bytes, at least ${REQUEST_HEADER + 1} expected` };
  if (msg.length > REQUEST_HEADER + NAME_MAX) return { drop: `${msg.length} bytes, at most ${REQUEST_HEADER + NAME_MAX} expected` };
  const family = msg[2]!;
  if (family !== 0 && family !== 4 && family !== 6) return { drop: `family ${family}` };
  return { id: msg.readUInt16BE(0), family, name: msg.subarray(REQUEST_HEADER).toString('latin1') };
}

/** 4 or 16 bytes of an IP address in network order, or null (an address with a zone, a typo). */
export function addressBytes(address: string, family: Family): Buffer | null {
  if (family === 4) {
    if (!net.isIPv4(address)) return null;
    return Buffer.from(address.split('.').map(Number));
  }
  if (!net.isIPv6(address) || address.includes('%')) return null;
  let text = address;
  let tail: number[] = [];
  const v4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const p = v4[2]!.split('.').map(Number);
    tail = [(p[0]! << 8) | p[1]!, (p[2]! << 8) | p[3]!];
    text = v4[1]!.endsWith('::') ? v4[1]! : v4[1]!.slice(0, -1);
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const words = (s: string): number[] => (s === '' ? [] : s.split(':').map((w) => (/^[0-9a-f]{1,4}$/i.test(w) ? parseInt(w, 16) : NaN)));
  const head = words(halves[0]!);
  const back = halves.length === 2 ? words(halves[1]!) : [];
  const fill = halves.length === 2 ? 8 - head.length - back.length - tail.length : 0;
  if (fill < 0) return null;
  const all = [...head, ...new Array<number>(fill).fill(0), ...back, ...tail];
  if (all.length !== 8 || all.some((w) => Number.isNaN(w))) return null;
  const out = Buffer.alloc(16);
  all.forEach((w, i) => out.writeUInt16BE(w, i * 2));
  return out;
}

/** The reply datagram: records of the asked family only (both for family 0), at most MAX_RECORDS. */
export function buildNssReply(id: number, status: NssStatus, family: 0 | Family, addresses: PeerAddress[] = [], ttl = 0): Buffer {
  const records: Buffer[] = [];
  const seen = new Set<string>();
  for (const a of addresses) {
    if (seen.size >= MAX_RECORDS) break;
    if (family !== 0 && a.family !== family) continue;
    const bytes = addressBytes(a.address, a.family);
    if (!bytes || seen.has(bytes.toString('hex'))) continue;
    seen.add(bytes.toString('hex'));
    records.push(Buffer.from([a.family]), bytes);
  }
  const header = Buffer.alloc(REPLY_HEADER);
  header.writeUInt16BE(id & 0xffff, 0);
  header[2] = status;
  header[3] = seen.size;
  header.writeUInt32BE(Math.max(0, Math.min(0x7fffffff, Math.floor(ttl))), 4);
  return Buffer.concat([header, ...records]);
}

export class NssSurface {
  private readonly chain: Chain;
  private readonly log: Logger;
  private readonly options: NssOptions;
  private sockets: dgram.Socket[] = [];
  private pending = 0;
  private readonly bucket: Bucket;
  private dropped = 0;
  private droppedWarnAt = 0;
  private stopped = false;

  constructor(deps: NssDeps) {
    this.chain = deps.chain;
    this.log = deps.log;
    this.options = deps.options;
    this.bucket = { tokens: this.rate(), at: Date.now() };
  }

  async start(): Promise<void> {
    try {
      for (const address of this.options.addresses) {
        const socket = await this.bind(address);
        const a = socket.address();
        this.log.info(`Bind to ${hostPort(a.address, a.port)}`);
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  ports(): number[] {
    return this.sockets.map((s) => s.address().port);
  }

  stop(): Promise<void> {
    this.stopped = true;
    const closing = this.sockets.map((s) => new Promise<void>((done) => s.close(() => done())));
    this.sockets = [];
    return Promise.all(closing).then(() => undefined);
  }

  private rate(): number {
    return this.options.ratePerSecond ?? RATE_PER_S;
  }

  private async bind(address: string): Promise<dgram.Socket> {
    const v6 = net.isIPv6(address);
    const socket = dgram.createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6 });
    // With port 0 the second address follows the first one's port, so one number reaches both.
    const port = this.options.port === 0 && this.sockets.length > 0 ? this.sockets[0]!.address().port : this.options.port;
    const onError = (err: Error) => this.log.warn(`UDP socket ${hostPort(address, port)}: ${err.message}`);
    await bindUdp(socket, { port, address, exclusive: true, onError });
    socket.on('message', (msg, peer) => this.onMessage(socket, msg, peer));
    this.sockets.push(socket);
    return socket;
  }

  /** Token bucket: false when this request is over the rate. */
  private admit(): boolean {
    const now = Date.now();
    const rate = this.rate();
    if (takeToken(this.bucket, now, rate, rate)) return true;
    this.dropped++;
    if (now - this.droppedWarnAt >= DROP_WARN_INTERVAL_MS) {
      this.droppedWarnAt = now;
      this.log.warn(`More than ${rate} requests a second: dropping (${this.dropped} so far)`);
    }
    return false;
  }

  private onMessage(socket: dgram.Socket, msg: Buffer, peer: dgram.RemoteInfo): void {
    if (this.stopped || !this.admit()) return;
    const from = hostPort(peer.address, peer.port);
    const request = parseNssRequest(msg);
    if ('drop' in request) {
      this.log.debug(`Dropped request from ${from}: ${request.drop}`);
      return;
    }
    this.answer(request)
      .catch((err: unknown) => {
        this.log.warn(`Cannot answer ${printable(request.name)} from ${from}: ${err instanceof Error ? err.message : String(err)}`);
        return buildNssReply(request.id, NSS_STATUS.tryagain, request.family);
      })
      .then((reply) => {
        if (this.stopped) return;
        socket.send(reply, peer.port, peer.address, (err) => {
          if (err) this.log.debug(`Cannot answer ${from}: ${err.message}`);
        });
      })
      .catch(() => undefined);
  }

  /** The reply to a well-formed request. */
  private async answer(request: NssRequest): Promise<Buffer> {
    const { id, family, name } = request;
    const refused = () => buildNssReply(id, NSS_STATUS.refused, family);
    const bare = name.endsWith('.') ? name.slice(0, -1) : name;
    if (!NAME_CHARS.test(bare) || bare.includes('..')) return refused();
    const route = this.chain.route(bare, 'tld-only');
    if (route.kind === 'refuse' || route.kind === 'upstream') return refused();
    if (this.pending >= (this.options.maxPending ?? MAX_PENDING)) {
      this.log.debug(`Too many pending lookups, try again for ${bare}`);
      return buildNssReply(id, NSS_STATUS.tryagain, family);
    }
    // Wait for the asked family only where a DHT of that family runs; otherwise any address ends the wait.
    const waitFor = family !== 0 && this.options.families.includes(family) ? family : undefined;
    this.pending++;
    let result: Resolution;
    try {
      result = await this.chain.run({ route, timeoutMs: this.options.waitMs ?? WAIT_MS, ...(waitFor ? { family: waitFor } : {}) });
    } finally {
      this.pending--;
    }
    switch (result.status) {
      case 'found':
        return buildNssReply(id, NSS_STATUS.found, family, result.addresses, result.ttl);
      case 'notfound':
        return buildNssReply(id, NSS_STATUS.notfound, family);
      case 'invalid':
        return refused();
      default:
        return buildNssReply(id, NSS_STATUS.tryagain, family);
    }
  }
}
