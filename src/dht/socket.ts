// The one UDP socket of the DHT port. Datagrams starting with "AUTH" belong to the auth module
// (KadNode 1.x wire format), those starting with "BOB" to the bob module (KadNode 2.x), the rest to
// bittorrent-dht after the KRPC guard. bittorrent-dht gets this object in place of a dgram socket
// (k-rpc-socket only uses send/address/close and events).
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import type { Logger } from '../log.js';
import bencode from 'bencode';
import { checkKrpc, refusedQueryTransaction } from './guard.js';
import { bindUdp } from '../util/bind.js';
import { hostPort } from '../util/host-port.js';

export type DatagramHandler = (msg: Buffer, rinfo: dgram.RemoteInfo) => void;

const AUTH_MAGIC = Buffer.from('AUTH');
const BOB_MAGIC = Buffer.from('BOB');
// BEP 5 error 203 replies to malformed queries, at most this many a second in all: an answer is no larger
// than the query, and a flood of bad queries from forged addresses gets a trickle, not one each
const MAX_PROTOCOL_ERRORS_PER_S = 20;

export class DhtSocket extends EventEmitter {
  private readonly udp: dgram.Socket;
  private authHandler: DatagramHandler | null = null;
  private bobHandler: DatagramHandler | null = null;
  /** addresses we neither hear nor talk to */
  isBlocked: (address: string) => boolean = () => false;
  private bound = false;
  readonly counters = { krpc: 0, rejected: 0, auth: 0, bob: 0, libraryErrors: 0, blocked: 0, protocolErrors: 0 };
  private errorWindow = { second: 0, sent: 0 };

  constructor(private readonly log: Logger, private readonly family: 4 | 6 = 4) {
    super();
    this.udp = dgram.createSocket({ type: this.family === 6 ? 'udp6' : 'udp4', ipv6Only: this.family === 6 });
    this.udp.on('message', (msg, rinfo) => this.dispatch(msg, rinfo));
    this.udp.on('error', (err) => {
      // Bind errors are reported by bindTo(); later errors are logged and survived.
      if (this.bound) this.log.warn(`socket error: ${err.message}`);
    });
  }

  async bindTo(port: number, address: string): Promise<void> {
    // the socket is ours for the node's whole life: its owner closes it
    await bindUdp(this.udp, { port, address, keepOnFailure: true });
    this.bound = true;
  }

  /** AUTH packets go here; until set they are dropped. */
  setAuthHandler(handler: DatagramHandler | null): void {
    this.authHandler = handler;
  }

  /** BOB packets (KadNode 2.x) go here; until set they are dropped. */
  setBobHandler(handler: DatagramHandler | null): void {
    this.bobHandler = handler;
  }

  sendRaw(buf: Buffer, port: number, address: string): void {
    if (this.isBlocked(address)) return;
    this.udp.send(buf, port, address, (err) => {
      if (err) this.log.debug(`send to ${hostPort(address, port)} failed: ${err.message}`);
    });
  }

  private dispatch(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.isBlocked(rinfo.address)) {
      this.counters.blocked++;
      return;
    }
    if (msg.length >= 4 && msg.subarray(0, 4).equals(AUTH_MAGIC)) {
      this.counters.auth++;
      this.authHandler?.(msg, rinfo);
      return;
    }
    if (msg.length >= 3 && msg.subarray(0, 3).equals(BOB_MAGIC)) {
      this.counters.bob++;
      this.bobHandler?.(msg, rinfo);
      return;
    }
    const problem = checkKrpc(msg, this.family);
    if (problem) {
      this.counters.rejected++;
      this.log.debug(`dropped packet from ${hostPort(rinfo.address, rinfo.port)}: ${problem}`);
      this.answerProtocolError(msg, rinfo);
      return;
    }
    this.counters.krpc++;
    try {
      this.emit('message', msg, rinfo);
    } catch (err) {
      // Last line of defence: a library throw must not end the daemon.
      this.counters.libraryErrors++;
      this.log.warn(`DHT library failed on a packet from ${hostPort(rinfo.address, rinfo.port)}: ${(err as Error).message}`);
    }
  }

  /** BEP 5: a malformed query with a transaction id gets error 203 (rate-bounded), anything else silence. */
  private answerProtocolError(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const t = refusedQueryTransaction(msg);
    if (!t) return;
    const second = Math.floor(Date.now() / 1000);
    if (this.errorWindow.second !== second) this.errorWindow = { second, sent: 0 };
    if (this.errorWindow.sent >= MAX_PROTOCOL_ERRORS_PER_S) return;
    this.errorWindow.sent++;
    this.counters.protocolErrors++;
    this.sendRaw(Buffer.from(bencode.encode({ t, y: 'e', e: [203, 'Protocol Error'] })), rinfo.port, rinfo.address);
  }

  // --- the dgram subset k-rpc-socket calls ---
  send(buf: Buffer, offset: number, length: number, port: number, address: string, cb?: (err: Error | null) => void): void {
    if (this.isBlocked(address)) {
      cb?.(null);
      return;
    }
    this.udp.send(buf, offset, length, port, address, (err) => {
      if (err) this.log.debug(`send to ${hostPort(address, port)} failed: ${err.message}`);
      cb?.(null);
    });
  }

  address() {
    return this.udp.address();
  }

  bind(): void {
    // Bound by bindTo() before the library is created.
  }

  close(): void {
    this.udp.close(() => this.emit('close'));
  }
}
