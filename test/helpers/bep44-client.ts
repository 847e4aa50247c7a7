// A raw BEP 44 client for tests: one KRPC `get` or `put` to one node at a time (no walk, no routing
// table), so a test can put an item on exactly the nodes it chooses and read what exactly one node holds.
import { createHash, randomBytes } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import bencode from 'bencode';

type Dict = Record<string, unknown>;

export interface SignedItemFields {
  k: Buffer;
  seq: number;
  sig: Buffer;
  v: Buffer;
}

export interface HeldItem {
  /** write token for a put from this client's address */
  token: Buffer | null;
  /** the item the node holds, when it holds one */
  item: SignedItemFields | null;
}

/** A put's outcome: stored, refused with a KRPC error, or no answer (the node dropped it). */
export type PutOutcome = { ok: true } | { ok: false; code: number; message: string } | null;

export class Bep44Client {
  private readonly id = randomBytes(20);

  private constructor(private readonly socket: Socket) {}

  /** A client on a UDP socket bound to `address` (any port). */
  static async open(address = '127.0.0.1'): Promise<Bep44Client> {
    const socket = createSocket(address.includes(':') ? 'udp6' : 'udp4');
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, address, () => resolve());
    });
    return new Bep44Client(socket);
  }

  close(): void {
    this.socket.close();
  }

  /** What the node at host:port holds for the item's key (its target: SHA-1 of k), and a write token. */
  async get(host: string, port: number, k: Buffer): Promise<HeldItem | null> {
    const target = createHash('sha1').update(k).digest();
    const reply = await this.query(host, port, 'get', { id: this.id, target });
    const r = reply?.r as Dict | undefined;
    if (!r) return null;
    const token = r.token instanceof Uint8Array ? Buffer.from(r.token) : null;
    const held = r.k instanceof Uint8Array && r.sig instanceof Uint8Array && r.v instanceof Uint8Array && typeof r.seq === 'number';
    return { token, item: held ? { k: Buffer.from(r.k as Uint8Array), seq: r.seq as number, sig: Buffer.from(r.sig as Uint8Array), v: Buffer.from(r.v as Uint8Array) } : null };
  }

  /** A BEP 44 put of the item to the node at host:port (a get first, for the token). */
  async put(host: string, port: number, item: SignedItemFields, cas?: number): Promise<PutOutcome> {
    const got = await this.get(host, port, item.k);
    if (!got?.token) throw new Error(`no write token from ${host}:${port}`);
    const a: Dict = { id: this.id, token: got.token, k: item.k, seq: item.seq, sig: item.sig, v: item.v };
    if (cas !== undefined) a.cas = cas;
    const reply = await this.query(host, port, 'put', a);
    if (!reply) return null;
    if (Buffer.from((reply.y as Uint8Array) ?? []).toString() === 'e') {
      const [code, message] = (reply.e as [number, Uint8Array]) ?? [0, Buffer.alloc(0)];
      return { ok: false, code, message: Buffer.from(message).toString() };
    }
    return { ok: true };
  }

  private query(host: string, port: number, q: string, a: Dict, timeoutMs = 2000): Promise<Dict | null> {
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
      this.socket.send(Buffer.from(bencode.encode({ t, y: 'q', q, a })), port, host);
    });
  }
}
