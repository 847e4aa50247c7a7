// Local peer discovery (KADNODE-1.x §9): BEP-14-like `BT-SEARCH` packets on a multicast group name our
// DHT port; whoever receives one pings `<sender ip>:<Port>` through the DHT, and k-rpc adds the querier
// on the other side, so two nodes on one LAN know each other after one packet, with no bootstrap peer.
//
// Unlike KadNode 1.x: the group is joined once per interface and kept (no EADDRINUSE on every tick,
// issue #43); interfaces are rescanned every tick so one that comes up later is joined then; traffic
// beyond the budget is dropped for the rest of the window instead of leaving the group for good;
// multicast loopback is on (other nodes on this host hear us) and our own packets are recognised by a
// random cookie; we send 40 zeros as Infohash instead of repeating other peers' torrents; a few quick
// sends right after start cover the race with neighbours that start at the same moment.
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import type { Logger } from '../log.js';

export const LPD_PORT = 6771;
/** A packet longer than this is not ours (ours are about 150 bytes). */
export const MAX_PACKET_SIZE = 1024;
const MAX_HEADERS = 16;
const MAX_COOKIE = 64;
const ZERO_INFOHASH = '0'.repeat(40);

const DEFAULT_INTERVAL_MS = 5 * 60_000;
/** after the send at start; see LpdOptions.quickDelaysMs */
const DEFAULT_QUICK_DELAYS_MS = [2_000, 10_000, 30_000];
/** a routing table this big no longer needs the LAN's help */
const DEFAULT_ANNOUNCE_BELOW = 8;
const DEFAULT_MAX_PACKETS = 1000;
const DEFAULT_MAX_PINGS = 100;
const DEFAULT_SENDER_HOLD_MS = 60_000;
/** bound of the sender table (it holds at most maxPings fresh entries anyway) */
const MAX_SENDERS = 1024;

// Interface flags (linux/if.h), as /sys/class/net/<name>/flags shows them.
const IFF_UP = 0x1;
const IFF_LOOPBACK = 0x8;
const IFF_POINTOPOINT = 0x10;
const IFF_MULTICAST = 0x1000;

// ---------------------------------------------------------------- packet format

export class LpdPacketError extends Error {}

export interface LpdPacket {
  /** the sender's DHT port */
  port: number;
  /** lowercase, 40 hex characters each; usually one */
  infohashes: string[];
  cookie?: string;
  host?: string;
}

export interface LpdPacketFields {
  group: string;
  family: 4 | 6;
  /** the port of the group, 6771 */
  lpdPort: number;
  /** our DHT port */
  port: number;
  cookie?: string;
  infohash?: string;
}

/** `Host:` value: `239.192.152.143:6771` or `[ff15::efc0:988f]:6771`. */
export function lpdHost(group: string, family: 4 | 6, lpdPort: number): string {
  return family === 6 ? `[${group}]:${lpdPort}` : `${group}:${lpdPort}`;
}

/** The packet KadNode 1.x sends, plus BEP 14's `cookie` header. */
export function formatLpdPacket(fields: LpdPacketFields): Buffer {
  const lines = [
    'BT-SEARCH * HTTP/1.0',
    `Host: ${lpdHost(fields.group, fields.family, fields.lpdPort)}`,
    `Port: ${fields.port}`,
    `Infohash: ${fields.infohash ?? ZERO_INFOHASH}`,
  ];
  if (fields.cookie !== undefined) lines.push(`cookie: ${fields.cookie}`);
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n\r\n', 'latin1');
}

/**
 * Parses one datagram strictly: the request line `BT-SEARCH * HTTP/1.0` (or 1.1), header lines
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

// ---------------------------------------------------------------- interfaces

export interface LpdInterface {
  name: string;
  /** IPv4: the interface's address; IPv6: `::%<name>` (what addMembership/setMulticastInterface take) */
  spec: string;
  /** the address shown in logs */
  address: string;
}

/** Interface flags from sysfs (Linux); undefined where there is none. */
export function linuxInterfaceFlags(name: string): number | undefined {
  if (!/^[^/\0]+$/.test(name) || name === '.' || name === '..') return undefined;
  try {
    const n = Number.parseInt(readFileSync(`/sys/class/net/${name}/flags`, 'utf8').trim(), 16);
    return Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The interfaces to join and send on: up, multicast-capable, not loopback, not point-to-point, with an
 * address of the family (IPv6: link-local or global). `only` names interfaces explicitly (then loopback
 * and interfaces without the multicast flag are allowed: the operator or test knows better). Without
 * flags (no sysfs), `internal` stands for loopback; libuv lists only interfaces that are up.
 */
export function selectInterfaces(
  family: 4 | 6,
  list: NodeJS.Dict<NetworkInterfaceInfo[]>,
  flagsOf: (name: string) => number | undefined = linuxInterfaceFlags,
  only?: readonly string[],
): LpdInterface[] {
  const chosen: LpdInterface[] = [];
  for (const [name, infos] of Object.entries(list)) {
    if (!infos || infos.length === 0) continue;
    const explicit = only !== undefined;
    if (explicit && !only.includes(name)) continue;
    const flags = flagsOf(name);
    if (flags !== undefined) {
      if (!(flags & IFF_UP)) continue;
      if (!explicit && (flags & IFF_LOOPBACK || flags & IFF_POINTOPOINT || !(flags & IFF_MULTICAST))) continue;
    }
    const usable = infos.filter((info) => {
      if (info.family !== (family === 4 ? 'IPv4' : 'IPv6')) return false;
      if (!explicit && info.internal) return false;
      if (family === 6) return (explicit || info.address !== '::1') && !/^ff/i.test(info.address);
      return true;
    });
    const first = usable[0];
    if (!first) continue;
    chosen.push({ name, spec: family === 4 ? first.address : `::%${name}`, address: first.address });
  }
  return chosen;
}

function stripScope(address: string): string {
  const at = address.indexOf('%');
  return (at < 0 ? address : address.slice(0, at)).toLowerCase();
}

// ---------------------------------------------------------------- service

export interface LpdDht {
  nodeCount(): number;
  ping(peer: { host: string; port: number }): void;
  boundPort(): number;
}

export interface LpdOptions {
  /** multicast address, e.g. 239.192.152.143 or ff15::efc0:988f */
  group: string;
  family: 4 | 6;
  /** the group's port, default 6771 (tests use others) */
  port?: number;
  /** announce (while the routing table is small) and rescan interfaces this often; default 5 min */
  intervalMs?: number;
  /** extra announcements this long after start, default 2 s, 10 s, 30 s */
  quickDelaysMs?: number[];
  /** announce only while the routing table has fewer nodes than this; default 8 */
  announceBelow?: number;
  /** only these interfaces (by name; loopback allowed); default: every suitable one */
  interfaces?: string[];
  /** the window of the budgets below; default intervalMs */
  windowMs?: number;
  /** datagrams looked at per window, default 1000; the rest are dropped unread */
  maxPacketsPerWindow?: number;
  /** pings per window, default 100 */
  maxPingsPerWindow?: number;
  /** no second ping to the same ip:port within this, default 60 s */
  senderHoldMs?: number;
  /** for tests: the interface list (default os.networkInterfaces) and flags (default sysfs) */
  listInterfaces?: () => NodeJS.Dict<NetworkInterfaceInfo[]>;
  interfaceFlags?: (name: string) => number | undefined;
}

export interface LpdDeps {
  dht: LpdDht;
  log: Logger;
  options: LpdOptions;
}

export interface LpdCounters {
  /** packets handed to the kernel */
  sent: number;
  /** datagrams that arrived */
  received: number;
  /** ours (cookie or address and port), ignored */
  own: number;
  malformed: number;
  /** over a budget, or the sender was pinged within senderHoldMs */
  dropped: number;
  pinged: number;
}

export class LpdService {
  readonly cookie = randomBytes(8).toString('hex');
  readonly counters: LpdCounters = { sent: 0, received: 0, own: 0, malformed: 0, dropped: 0, pinged: 0 };
  private readonly dht: LpdDht;
  private readonly log: Logger;
  private readonly group: string;
  private readonly family: 4 | 6;
  private readonly lpdPort: number;
  private readonly intervalMs: number;
  private readonly quickDelaysMs: number[];
  private readonly announceBelow: number;
  private readonly windowMs: number;
  private readonly maxPackets: number;
  private readonly maxPings: number;
  private readonly senderHoldMs: number;
  private readonly only: string[] | undefined;
  private readonly listInterfaces: () => NodeJS.Dict<NetworkInterfaceInfo[]>;
  private readonly interfaceFlags: (name: string) => number | undefined;

  private socket: dgram.Socket | null = null;
  private running = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** name → interface whose membership we hold */
  private readonly joined = new Map<string, LpdInterface>();
  private localAddresses = new Set<string>();
  /** `ip|port` → when we pinged it */
  private readonly senders = new Map<string, number>();
  private windowStart = 0;
  private windowPackets = 0;
  private windowPings = 0;
  private warnedThisWindow = false;
  private sending = false;
  /** sends waiting for their callback; stop() releases them (a closed socket never calls back) */
  private readonly waiting = new Set<() => void>();
  private noInterfaceLogged = false;
  private starting = false;
  /** bumped by stop(), so a start() still binding knows it was cancelled */
  private generation = 0;

  constructor(deps: LpdDeps) {
    const o = deps.options;
    this.dht = deps.dht;
    this.log = deps.log;
    if (isIP(o.group) !== o.family) throw new Error(`LPD group ${o.group} is not an IPv${o.family} address`);
    this.group = o.group;
    this.family = o.family;
    this.lpdPort = o.port ?? LPD_PORT;
    this.intervalMs = o.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.quickDelaysMs = o.quickDelaysMs ?? DEFAULT_QUICK_DELAYS_MS;
    this.announceBelow = o.announceBelow ?? DEFAULT_ANNOUNCE_BELOW;
    this.windowMs = o.windowMs ?? this.intervalMs;
    this.maxPackets = o.maxPacketsPerWindow ?? DEFAULT_MAX_PACKETS;
    this.maxPings = o.maxPingsPerWindow ?? DEFAULT_MAX_PINGS;
    this.senderHoldMs = o.senderHoldMs ?? DEFAULT_SENDER_HOLD_MS;
    this.only = o.interfaces;
    this.listInterfaces = o.listInterfaces ?? networkInterfaces;
    this.interfaceFlags = o.interfaceFlags ?? linuxInterfaceFlags;
  }

  /** True between a successful start() and stop(). */
  get active(): boolean {
    return this.running;
  }

  /** Interfaces whose group membership we hold. */
  interfaces(): LpdInterface[] {
    return [...this.joined.values()];
  }

  /**
   * Binds the group's port (shared: reuseAddr) and announces. LPD is on by default and only helps, so a
   * port we cannot bind (say, another program holds 6771 exclusively, or IPv6 is off) is a warning and
   * the service stays inactive; the daemon runs on without it.
   */
  async start(): Promise<void> {
    if (this.running || this.socket || this.starting) return;
    this.starting = true;
    const generation = this.generation;
    try {
      await this.open(generation);
    } finally {
      this.starting = false;
    }
  }

  private async open(generation: number): Promise<void> {
    // Bound to the group where the system allows it (Linux does): only the group's datagrams arrive,
    // not every unicast datagram to the port. Elsewhere, the wildcard address.
    const wildcard = this.family === 6 ? '::' : '0.0.0.0';
    let socket: dgram.Socket | undefined;
    let boundTo = wildcard;
    for (const address of [this.group, wildcard]) {
      try {
        socket = await bindSocket(this.family, this.lpdPort, address);
        boundTo = address;
        break;
      } catch (err) {
        this.log.debug(`cannot bind ${address}:${this.lpdPort}: ${(err as Error).message}`);
        if (address === wildcard) {
          this.log.warn(`Cannot bind port ${this.lpdPort}/udp (${(err as Error).message}): local peer discovery is off.`);
          return;
        }
      }
    }
    if (!socket) return;
    if (generation !== this.generation) {
      // stop() came while we were binding
      socket.close();
      return;
    }
    this.socket = socket;
    socket.on('message', (msg, rinfo) => {
      try {
        this.onMessage(msg, rinfo);
      } catch (err) {
        this.log.debug(`packet from ${rinfo.address}: ${(err as Error).message}`);
      }
    });
    socket.on('error', (err) => this.log.debug(`socket error: ${err.message}`));
    try {
      socket.setMulticastLoopback(true);
      socket.setMulticastTTL(1);
    } catch (err) {
      this.log.debug(`socket options: ${(err as Error).message}`);
    }
    this.running = true;
    this.log.info(`Bind to ${this.family === 6 ? `[${boundTo}]` : boundTo}:${this.lpdPort}`);
    this.tick();
    for (const delay of this.quickDelaysMs) this.later(delay, () => this.tick());
    this.schedulePeriodic();
  }

  stop(): Promise<void> {
    this.generation++;
    this.running = false;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const wake of [...this.waiting]) wake();
    this.waiting.clear();
    const socket = this.socket;
    this.socket = null;
    this.joined.clear();
    this.senders.clear();
    if (!socket) return Promise.resolve();
    // closing drops the memberships
    return new Promise((resolve) => {
      try {
        socket.close(() => resolve());
      } catch {
        resolve();
      }
    });
  }

  private schedulePeriodic(): void {
    // ±10 % so nodes that booted together do not stay in step
    const delay = Math.round(this.intervalMs * (0.9 + Math.random() * 0.2));
    this.later(delay, () => {
      this.tick();
      this.schedulePeriodic();
    });
  }

  private later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      if (this.running) fn();
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }

  /** Rescan and join; announce while the routing table is small. */
  private tick(): void {
    if (!this.running) return;
    try {
      this.refreshInterfaces();
      const nodes = this.dht.nodeCount();
      if (nodes < this.announceBelow) {
        this.announce(nodes).catch((err: Error) => this.log.debug(`announce: ${err.message}`));
      }
    } catch (err) {
      this.log.debug(`tick: ${(err as Error).message}`);
    }
  }

  private refreshInterfaces(): void {
    const socket = this.socket;
    if (!socket) return;
    let list: NodeJS.Dict<NetworkInterfaceInfo[]>;
    try {
      list = this.listInterfaces();
    } catch (err) {
      this.log.debug(`cannot list interfaces: ${(err as Error).message}`);
      return;
    }
    this.localAddresses = new Set(Object.values(list).flatMap((infos) => (infos ?? []).map((i) => stripScope(i.address))));
    const wanted = selectInterfaces(this.family, list, this.interfaceFlags, this.only);
    const wantedByName = new Map(wanted.map((i) => [i.name, i]));
    for (const [name, iface] of this.joined) {
      const now = wantedByName.get(name);
      if (now && now.spec === iface.spec) continue;
      try {
        socket.dropMembership(this.group, iface.spec);
      } catch {
        // the interface or its address is gone, and the membership with it
      }
      this.joined.delete(name);
      this.log.info(`Left multicast group ${this.group} on ${name}.`);
    }
    for (const iface of wanted) {
      if (this.joined.has(iface.name)) continue;
      try {
        socket.addMembership(this.group, iface.spec);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        // already a member through this socket (should not happen, but harmless)
        if (code !== 'EADDRINUSE') {
          this.log.debug(`cannot join ${this.group} on ${iface.name}: ${(err as Error).message}`);
          continue;
        }
      }
      this.joined.set(iface.name, iface);
      this.noInterfaceLogged = false;
      this.log.info(`Joined multicast group ${this.group} on ${iface.name} (${iface.address}).`);
    }
    if (this.joined.size === 0 && !this.noInterfaceLogged) {
      this.noInterfaceLogged = true;
      this.log.info(`No interface for multicast group ${this.group} yet; looking again every ${Math.round(this.intervalMs / 1000)} s.`);
    }
  }

  /** One packet per joined interface, one after another (the outgoing interface is a socket option). */
  private async announce(nodes: number): Promise<void> {
    const socket = this.socket;
    if (!socket || this.sending || this.joined.size === 0) return;
    this.sending = true;
    try {
      const packet = formatLpdPacket({ group: this.group, family: this.family, lpdPort: this.lpdPort, port: this.dht.boundPort(), cookie: this.cookie });
      this.log.debug(`${nodes} nodes known: send multicast message to find nodes on ${[...this.joined.keys()].join(', ')}.`);
      for (const iface of [...this.joined.values()]) {
        if (!this.running || this.socket !== socket) return;
        try {
          socket.setMulticastInterface(iface.spec);
        } catch (err) {
          this.log.debug(`cannot send on ${iface.name}: ${(err as Error).message}`);
          continue;
        }
        const sent = await new Promise<boolean>((resolve) => {
          const wake = (): void => resolve(false);
          this.waiting.add(wake);
          const done = (ok: boolean): void => {
            this.waiting.delete(wake);
            resolve(ok);
          };
          try {
            socket.send(packet, this.lpdPort, this.group, (err) => {
              if (err) this.log.debug(`send on ${iface.name} failed: ${err.message}`);
              done(!err);
            });
          } catch (err) {
            this.log.debug(`send on ${iface.name} failed: ${(err as Error).message}`);
            done(false);
          }
        });
        if (sent) this.counters.sent++;
      }
    } finally {
      this.sending = false;
    }
  }

  private onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    this.counters.received++;
    const now = Date.now();
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.windowPackets = 0;
      this.windowPings = 0;
      this.warnedThisWindow = false;
      for (const [key, at] of this.senders) if (now - at >= this.senderHoldMs) this.senders.delete(key);
    }
    if (++this.windowPackets > this.maxPackets) return this.overBudget('packets');

    let packet: LpdPacket;
    try {
      packet = parseLpdPacket(msg);
    } catch (err) {
      this.counters.malformed++;
      this.log.debug(`ignored a packet from ${rinfo.address}: ${(err as Error).message}`);
      return;
    }
    if (packet.cookie === this.cookie) {
      this.counters.own++;
      return;
    }
    const host = rinfo.address;
    const bare = stripScope(host);
    if (isIP(bare) !== this.family || bare === '0.0.0.0' || bare === '::' || /^(22[4-9]|23\d)\./.test(bare) || /^ff/.test(bare)) {
      this.counters.malformed++;
      return;
    }
    // Without a cookie (KadNode 1.x), a packet from one of our addresses with our port is ours.
    if (packet.cookie === undefined && this.localAddresses.has(bare) && packet.port === this.dht.boundPort()) {
      this.counters.own++;
      return;
    }
    const key = `${host}|${packet.port}`;
    const last = this.senders.get(key);
    if (last !== undefined && now - last < this.senderHoldMs) {
      this.counters.dropped++;
      return;
    }
    if (this.windowPings >= this.maxPings) return this.overBudget('pings');
    if (this.senders.size >= MAX_SENDERS) {
      for (const [k, at] of this.senders) if (now - at >= this.senderHoldMs) this.senders.delete(k);
      if (this.senders.size >= MAX_SENDERS) return this.overBudget('senders');
    }
    this.senders.delete(key);
    this.senders.set(key, now);
    this.windowPings++;
    this.counters.pinged++;
    this.log.debug(`Ping ${bare.includes(':') ? `[${host}]` : host}:${packet.port} (heard on the LAN).`);
    try {
      this.dht.ping({ host, port: packet.port });
    } catch (err) {
      this.log.debug(`ping failed: ${(err as Error).message}`);
    }
  }

  private overBudget(what: string): void {
    this.counters.dropped++;
    if (this.warnedThisWindow) return;
    this.warnedThisWindow = true;
    this.log.warn(`Too much traffic (${what}): ignoring packets for the rest of this ${Math.round(this.windowMs / 1000)} s window.`);
  }
}

/** A fresh socket per attempt: a dgram socket whose bind failed cannot be bound again. */
function bindSocket(family: 4 | 6, port: number, address: string): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', reuseAddr: true, ipv6Only: family === 6 });
  return new Promise((resolve, reject) => {
    socket.once('error', (err) => {
      try { socket.close(); } catch { /* not open */ }
      reject(err);
    });
    socket.bind({ port, address }, () => {
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}
