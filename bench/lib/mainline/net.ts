// The simulated internet between the light nodes (node.ts) and the real daemons: every datagram waits
// the one-way delay of its pair (half the pair's RTT, rtt.ts), is lost with a fixed chance, and is
// dropped at a node behind NAT unless that node sent to the other end within the NAT mapping time
// (an address-and-port restricted cone: such a node never answers a query it did not ask for).
// Between two simulated nodes a datagram is an object handed over after the delay; to and from a daemon
// it is a real UDP datagram on the node's own address (an AnyIP range of the sim namespace), delayed
// here on the way out and on the way in, so a daemon's query to a simulated node is answered after
// exactly the pair's RTT (plus this event loop's lag).
import dgram from 'node:dgram';
import { decodeFromWire, encodeForWire } from './krpc-wire.js';
import { SimNode, type Contact, type Msg, type Network } from './node.js';
import { endpointKey, pairRttMs } from './rtt.js';

export interface NetOptions {
  seed: number;
  /** chance in percent that one datagram is lost (each direction on its own) */
  lossPct: number;
  natMappingMs: number;
}

const RTT_SAMPLES = 20_000;

export class Simulation implements Network {
  readonly contacts: Contact[] = [];
  private readonly byAddr = new Map<string, number>();
  private readonly sockets = new Map<number, dgram.Socket>();
  readonly random: () => number;
  readonly counters = {
    simSent: 0,
    simLost: 0,
    simToGone: 0,
    simNatDropped: 0,
    /** datagrams from daemons arriving at a simulated node's socket */
    extIn: 0,
    extInLost: 0,
    extInToGone: 0,
    extInNatDropped: 0,
    extQueries: 0,
    extOut: 0,
    extOutLost: 0,
    /** replies (and errors) to daemons' queries that left the simulator */
    extReplies: 0,
  };
  /** the RTT applied (ms) to daemons' queries a simulated node answered (a reservoir sample) */
  readonly extReplyRtts: number[] = [];
  private extReplySeen = 0;

  constructor(private readonly o: NetOptions, random: () => number) {
    this.random = random;
  }

  now(): number {
    return Date.now();
  }

  contact(idx: number): Contact {
    return this.contacts[idx]!;
  }

  addContact(id: Buffer, ip: string, port: number, hasId = true): Contact {
    const c: Contact = { idx: this.contacts.length, id, hi: 0, lo: 0, ip, port, key: endpointKey(ip, port), compact: Buffer.alloc(26), node: null, hasId };
    this.setId(c, id, hasId);
    this.contacts.push(c);
    this.byAddr.set(`${ip}:${port}`, c.idx);
    return c;
  }

  private setId(c: Contact, id: Buffer, hasId: boolean): void {
    c.id = id;
    c.hi = id.readUInt32BE(0);
    c.lo = id.readUInt32BE(4);
    c.hasId = hasId;
    id.copy(c.compact, 0);
    c.ip.split('.').forEach((o, i) => (c.compact[20 + i] = Number(o)));
    c.compact.writeUInt16BE(c.port, 24);
  }

  /** The contact of an address named in a daemon's reply (a new outside one when unknown). */
  resolve = (id: Buffer, ip: string, port: number): number => {
    const known = this.byAddr.get(`${ip}:${port}`);
    if (known !== undefined) {
      const c = this.contacts[known]!;
      if (c.node === null && !c.id.equals(id)) this.setId(c, id, true);
      return known;
    }
    return this.addContact(id, ip, port).idx;
  };

  contactAt(ip: string, port: number): Contact | undefined {
    const idx = this.byAddr.get(`${ip}:${port}`);
    return idx === undefined ? undefined : this.contacts[idx];
  }

  oneWayMs(a: Contact, b: Contact): number {
    return pairRttMs(a.key, b.key, this.o.seed) / 2;
  }

  private lost(): boolean {
    return this.random() * 100 < this.o.lossPct;
  }

  send(from: SimNode, to: Contact, msg: Msg): void {
    if (!from.alive) return;
    if (from.nat) from.natOpen.set(to.idx, this.now() + this.o.natMappingMs);
    const delay = this.oneWayMs(from.self, to);
    if (to.node === null) {
      this.counters.extOut++;
      if (this.lost()) {
        this.counters.extOutLost++;
        return;
      }
      const socket = this.sockets.get(from.self.idx);
      if (!socket) return;
      const buf = encodeForWire(msg, from.self.id, to, this.contacts);
      if (msg.y !== 'q') this.recordReply(delay * 2);
      setTimeout(() => {
        if (from.alive) socket.send(buf, to.port, to.ip);
      }, delay);
      return;
    }
    this.counters.simSent++;
    if (this.lost()) {
      this.counters.simLost++;
      return;
    }
    const target = to.node;
    setTimeout(() => this.arrive(target, from.self, msg, false), delay);
  }

  private recordReply(rtt: number): void {
    this.counters.extReplies++;
    this.extReplySeen++;
    if (this.extReplyRtts.length < RTT_SAMPLES) this.extReplyRtts.push(rtt);
    else {
      const j = Math.floor(this.random() * this.extReplySeen);
      if (j < RTT_SAMPLES) this.extReplyRtts[j] = rtt;
    }
  }

  private arrive(node: SimNode, from: Contact, msg: Msg, ext: boolean): void {
    if (!node.alive) {
      if (ext) this.counters.extInToGone++;
      else this.counters.simToGone++;
      return;
    }
    if (node.nat && !((node.natOpen.get(from.idx) ?? 0) > this.now())) {
      if (ext) this.counters.extInNatDropped++;
      else this.counters.simNatDropped++;
      return;
    }
    node.receive(from, msg);
  }

  private onDatagram(node: SimNode, buf: Buffer, rinfo: dgram.RemoteInfo): void {
    this.counters.extIn++;
    if (this.lost()) {
      this.counters.extInLost++;
      return;
    }
    const wire = decodeFromWire(buf, this.resolve);
    if (!wire) return;
    let from = this.contactAt(rinfo.address, rinfo.port);
    if (!from) from = this.addContact(wire.senderId ?? Buffer.alloc(20), rinfo.address, rinfo.port, wire.senderId !== null);
    else if (from.node !== null) return;
    else if (wire.senderId && (!from.hasId || !from.id.equals(wire.senderId))) this.setId(from, wire.senderId, true);
    if (wire.msg.y === 'q') this.counters.extQueries++;
    const sender = from;
    setTimeout(() => this.arrive(node, sender, wire.msg, true), this.oneWayMs(node.self, sender));
  }

  /** Opens the node's UDP socket on its own address. */
  async bind(node: SimNode): Promise<void> {
    const socket = dgram.createSocket({ type: 'udp4' });
    socket.on('message', (buf, rinfo) => this.onDatagram(node, buf, rinfo));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(node.self.port, node.self.ip, () => {
        socket.removeListener('error', reject);
        socket.on('error', () => undefined);
        resolve();
      });
    });
    this.sockets.set(node.self.idx, socket);
  }

  /** The node leaves: its address goes silent (the datagrams of daemons to it are dropped unseen). */
  unbind(node: SimNode): void {
    node.leave();
    const socket = this.sockets.get(node.self.idx);
    this.sockets.delete(node.self.idx);
    socket?.close();
  }

  closeAll(): void {
    for (const s of this.sockets.values()) s.close();
    this.sockets.clear();
  }

  openSockets(): number {
    return this.sockets.size;
  }
}
