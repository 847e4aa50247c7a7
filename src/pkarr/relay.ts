// The PKARR relay API behind the web surface (`GET /{z32}`, `PUT /{z32}`, see pubky/pkarr
// design/relays.md): a client without UDP hands us a signed packet and we put it on the DHT for it,
// or asks us for one. Payload: signature (64) | seq (8, big-endian) | DNS packet (at most 1000 bytes).
//
//   PUT  204 stored (header Pkarr-Dht-Stored-Nodes), 400 bad key / payload / signature / DNS packet,
//        409 seq older than one already seen for the key, 412 If-Match (CAS) is not the current seq,
//        413 payload over 1072 bytes, 429 too many PUTs from one address, 500 the DHT put failed
//   GET  200 payload, 400 bad key, 404 no packet found
import { decodeZ32Key } from '../identity/keys.js';
import type { MutableItem } from '../dht/item-store.js';
import type { Logger } from '../log.js';
import type { PkarrHook } from './hook.js';
import { fromRelayPayload, MAX_RELAY_PAYLOAD, PacketError, targetOf, toRelayPayload, type VerifiedPacket } from './packet.js';

export interface RelayTarget {
  putMutable(item: MutableItem, target: Buffer): Promise<number>;
  storeItem(item: MutableItem, target: Buffer): void;
}

export interface RelayOptions {
  getTimeoutMs: number;
  /** PUTs per source address: a burst of this many ... */
  putBurst: number;
  /** ... refilled at one every this many ms */
  putRefillMs: number;
  maxSources: number;
}

export const DEFAULT_RELAY_OPTIONS: RelayOptions = { getTimeoutMs: 5_000, putBurst: 10, putRefillMs: 6_000, maxSources: 4096 };

export type RelayGetResult = { status: 200; payload: Buffer; seq: number; maxAge: number } | { status: 400 | 404 | 503; message: string };
export type RelayPutResult = { status: 204; stored: number } | { status: 400 | 409 | 412 | 413 | 429 | 500; message: string };

export const RELAY_CONTENT_TYPE = 'application/pkarr.org/relays#payload';

export class PkarrRelay {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly deps: { hook: PkarrHook; dht: RelayTarget; log: Logger },
    private readonly options: RelayOptions = DEFAULT_RELAY_OPTIONS,
    private readonly now: () => number = Date.now,
  ) {}

  get maxPayload(): number {
    return MAX_RELAY_PAYLOAD;
  }

  /** Takes a PUT token of the source address; false when it has none left (429). */
  allowPut(source: string): boolean {
    const now = this.now();
    const { putBurst, putRefillMs, maxSources } = this.options;
    const b = this.buckets.get(source) ?? { tokens: putBurst, at: now };
    b.tokens = Math.min(putBurst, b.tokens + (now - b.at) / putRefillMs);
    b.at = now;
    this.buckets.delete(source);
    this.buckets.set(source, b);
    while (this.buckets.size > maxSources) this.buckets.delete(this.buckets.keys().next().value as string);
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  async get(z32: string): Promise<RelayGetResult> {
    const publicKey = decodeZ32Key(z32);
    if (!publicKey) return { status: 400, message: 'Invalid public key (52 z-base32 characters expected).' };
    const result = await this.deps.hook.lookup(publicKey, this.options.getTimeoutMs);
    if (result.status === 'busy') return { status: 503, message: 'Too many lookups running, try again.' };
    if (result.status !== 'found') return { status: 404, message: 'No packet found for this key.' };
    const { packet, expiresAt } = result.entry;
    return { status: 200, payload: toRelayPayload(packet), seq: packet.seq, maxAge: Math.max(0, Math.floor((expiresAt - this.now()) / 1000)) };
  }

  async put(z32: string, body: Buffer, ifMatch?: string): Promise<RelayPutResult> {
    const publicKey = decodeZ32Key(z32);
    if (!publicKey) return { status: 400, message: 'Invalid public key (52 z-base32 characters expected).' };
    if (body.length > MAX_RELAY_PAYLOAD) return { status: 413, message: `Payload over ${MAX_RELAY_PAYLOAD} bytes.` };
    let packet: VerifiedPacket;
    try {
      packet = fromRelayPayload(publicKey, body);
    } catch (err) {
      if (!(err instanceof PacketError)) throw err;
      return { status: err.code === 'size' ? 413 : 400, message: `Invalid payload: ${err.message}.` };
    }
    const hook = this.deps.hook;
    const known = hook.newestSeq(publicKey);
    if (ifMatch !== undefined && (known === undefined || ifMatch.trim() !== String(known))) {
      return { status: 412, message: `If-Match ${ifMatch.trim()} is not the current seq (${known ?? 'none'}).` };
    }
    if (known !== undefined && packet.seq < known) return { status: 409, message: `seq ${packet.seq} is older than ${known}.` };
    if (known !== undefined && packet.seq === known) {
      const cached = hook.cached(publicKey);
      const same = cached && cached !== 'miss' && cached.packet.seq === packet.seq && cached.packet.v.equals(packet.v);
      if (!same) return { status: 409, message: `seq ${packet.seq} is already taken by another packet.` };
    }
    const republish = known === packet.seq;
    hook.accept(packet);
    const item = { k: packet.publicKey, seq: packet.seq, sig: packet.signature, v: packet.v };
    const target = targetOf(publicKey);
    this.deps.dht.storeItem(item, target);
    try {
      const stored = await this.deps.dht.putMutable(item, target);
      this.deps.log.info(`Relayed ${z32}: seq ${packet.seq}, ${packet.v.length} bytes, stored on ${stored} nodes`);
      return { status: 204, stored };
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      // Nodes that take a put of the very item they hold for an older one (302) still hold it.
      if (code === 302 && republish) return { status: 204, stored: 0 };
      if (code === 302) return { status: 409, message: 'The DHT holds a newer packet for this key.' };
      if (code === 301) return { status: 412, message: 'CAS mismatch on the DHT.' };
      this.deps.log.debug(`relay put ${z32}: ${(err as Error).message}`);
      return { status: 500, message: `DHT put failed: ${(err as Error).message} (kept on this node).` };
    }
  }
}
