// A raw BEP 44 client for tests: one KRPC `get` or `put` to one node at a time (no walk, no routing
// table), so a test can put an item on exactly the nodes it chooses and read what exactly one node holds.
import { createHash } from 'node:crypto';
import { KrpcPeer, type Dict } from './krpc-peer.js';

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
  private constructor(private readonly peer: KrpcPeer) {}

  /** A client on a UDP socket bound to `address` (any port). */
  static async open(address = '127.0.0.1'): Promise<Bep44Client> {
    return new Bep44Client(await KrpcPeer.open(address));
  }

  close(): void {
    this.peer.close();
  }

  /** What the node at host:port holds for the item's key (its target: SHA-1 of k), and a write token. */
  async get(host: string, port: number, k: Buffer): Promise<HeldItem | null> {
    const target = createHash('sha1').update(k).digest();
    const reply = await this.peer.ask(host, port, 'get', { target });
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
    const a: Dict = { token: got.token, k: item.k, seq: item.seq, sig: item.sig, v: item.v };
    if (cas !== undefined) a.cas = cas;
    const reply = await this.peer.ask(host, port, 'put', a);
    if (!reply) return null;
    if (Buffer.from((reply.y as Uint8Array) ?? []).toString() === 'e') {
      const [code, message] = (reply.e as [number, Uint8Array]) ?? [0, Buffer.alloc(0)];
      return { ok: false, code, message: Buffer.from(message).toString() };
    }
    return { ok: true };
  }
}
