// Local peer discovery (KADNODE-1.x §9): BEP-14-like `BT-SEARCH` packets on a multicast group name our
// DHT port, and KadNode 2.x's `DHT <port>` beside them (both: lpd-packet.ts); whoever receives one
// pings `<sender ip>:<port>` through the DHT, and k-rpc adds the querier on the other side, so two
// nodes on one LAN know each other after one packet, with no bootstrap peer.
//
// Unlike KadNode 1.x: the group is joined once per interface and kept (no EADDRINUSE on every tick,
// issue #43); interfaces are rescanned every tick so one that comes up later is joined then; traffic
// beyond the budget is dropped for the rest of the window instead of leaving the group for good;
// multicast loopback is on (other nodes on this host hear us) and our own packets are recognised by a
// random cookie; we send 40 zeros as Infohash instead of repeating other peers' torrents; a few quick
// sends right after start cover the race with neighbours that start at the same moment.
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import type { Logger } from '../log.js';
import { linuxInterfaceFlags, selectInterfaces, stripScope, type LpdInterface } from './lpd-interfaces.js';
import { formatKadnode2LpdPacket, formatLpdPacket, parseLpdPacket, type LpdPacket } from './lpd-packet.js';
import { bindUdp, type BindError } from '../util/bind.js';
import { hostPort } from '../util/host-port.js';

export { linuxInterfaceFlags, selectInterfaces, type LpdInterface } from './lpd-interfaces.js';
export { formatKadnode2LpdPacket, formatLpdPacket, LpdPacketError, MAX_PACKET_SIZE, parseLpdPacket, type LpdPacket, type LpdPacketFields } from './lpd-packet.js';

export const LPD_PORT = 6771;

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
        this.log.debug((err as BindError).message);
        if (address === wildcard) {
          this.log.warn(`Cannot bind port ${this.lpdPort}/udp (${(err as BindError).code ?? (err as BindError).cause.message}): local peer discovery is off.`);
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
    this.log.info(`Bind to ${hostPort(boundTo, this.lpdPort)}`);
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
      // KadNode 1.x's packet and KadNode 2.x's, each ignored by the other generation
      const packets = [
        formatLpdPacket({ group: this.group, lpdPort: this.lpdPort, port: this.dht.boundPort(), cookie: this.cookie }),
        formatKadnode2LpdPacket(this.dht.boundPort()),
      ];
      this.log.debug(`${nodes} nodes known: send multicast message to find nodes on ${[...this.joined.keys()].join(', ')}.`);
      for (const [iface, packet] of [...this.joined.values()].flatMap((i) => packets.map((p) => [i, p] as const))) {
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
    // Without a cookie (KadNode 1.x, and every `DHT <port>`), a packet from one of our addresses with our port is ours.
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
    this.log.debug(`Ping ${hostPort(host, packet.port)} (heard on the LAN${packet.format === 'kadnode2' ? ', KadNode 2.x' : ''}).`);
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
  return bindUdp(dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', reuseAddr: true, ipv6Only: family === 6 }), { port, address });
}
