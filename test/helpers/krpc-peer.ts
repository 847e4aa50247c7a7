// A raw KRPC peer for tests: one UDP socket on loopback that sends queries and reads the replies, and
// answers (or ignores) the queries it receives as the test says. No DHT library behind it, so a test
// sees exactly the bytes a node sends.
import { randomBytes } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import bencode from 'bencode';

export type Dict = Record<string, unknown>;

export class KrpcPeer {
  /** our node id (a test may set the one a routing table expects) */
  id: Buffer = randomBytes(20);
  /** queries received, decoded */
  readonly queries: Dict[] = [];
  /** answers a query (its decoded message) with the `r` returned; null: no answer */
  answer: (query: Dict, rinfo: RemoteInfo) => Dict | null = () => null;
  /** BEP 42 `ip` put into every reply (the address the peer claims to see us at) */
  replyIp: Buffer | null = null;

  private constructor(private readonly socket: Socket) {
    socket.on('message', (msg, rinfo) => {
      let m: Dict;
      try {
        m = bencode.decode(msg) as Dict;
      } catch {
        return;
      }
      if (Buffer.from((m.y as Uint8Array) ?? []).toString() !== 'q') return;
      this.queries.push(m);
      const r = this.answer(m, rinfo);
      if (r) this.send({ t: m.t, y: 'r', r: { id: this.id, ...r }, ...(this.replyIp ? { ip: this.replyIp } : {}) }, rinfo.port, rinfo.address);
    });
  }

  /** A peer on `address` and `port` (default: any port). */
  static async open(address = '127.0.0.1', port = 0): Promise<KrpcPeer> {
    const socket = createSocket({ type: address.includes(':') ? 'udp6' : 'udp4', ipv6Only: address.includes(':') });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(port, address, () => resolve());
    });
    return new KrpcPeer(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(message: Dict, port: number, host: string): void {
    this.socket.send(Buffer.from(bencode.encode(message)), port, host);
  }

  /** One query to host:port; the decoded reply (or error), null after `timeoutMs`. */
  ask(host: string, port: number, q: string, a: Dict, timeoutMs = 2000): Promise<Dict | null> {
    const t = randomBytes(2);
    return new Promise((resolve) => {
      const onMessage = (msg: Buffer, rinfo: RemoteInfo) => {
        let m: Dict;
        try {
          m = bencode.decode(msg) as Dict;
        } catch {
          return;
        }
        if (rinfo.port !== port || !(m.t instanceof Uint8Array) || !Buffer.from(m.t).equals(t)) return;
        clearTimeout(timer);
        this.socket.off('message', onMessage);
        resolve(m);
      };
      const timer = setTimeout(() => {
        this.socket.off('message', onMessage);
        resolve(null);
      }, timeoutMs);
      this.socket.on('message', onMessage);
      this.send({ t, y: 'q', q, a: { id: this.id, ...a } }, port, host);
    });
  }

  close(): void {
    this.socket.close();
  }
}
