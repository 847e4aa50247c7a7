// The PKARR relay API behind the web surface (`GET /{z32}`, `PUT /{z32}`, see pubky/pkarr
// design/relays.md): a client without UDP hands us a signed packet and we put it on the DHT for it,
// or asks us for one. Payload: signature (64) | seq (8, big-endian) | DNS packet (at most 1000 bytes).
//
//   PUT  204 stored (header Pkarr-Dht-Stored-Nodes), 400 bad key / payload / signature / DNS packet /
//        If-Match, 409 seq older than one held or seen for the key (here or on the DHT), or the same seq
//        with another packet, or a PUT for the key already in progress, 412 If-Match (BEP 44 `cas`) is
//        not the key's seq here or on the DHT, 413 payload over 1072 bytes, 429 too many PUTs from one
//        network, 503 too many PUTs at once, 500 the DHT put failed
//   GET  200 payload, 400 bad key, 404 no packet found
//
// A signed zone never goes back: a relayed packet reaches the packet cache and our item store only once
// it is known to be the newest. The PUT walks the DHT to the key first; every signed item the walk meets
// (ours first) is checked, and a newer one there refuses the PUT (409) before anything is put; nodes that
// hold a newer seq refuse it as well (302). `If-Match: <seq>` is a compare-and-swap as in the reference
// relay: it goes to the DHT as BEP 44 `cas`, and any seq other than <seq> seen here or on the walk, or a
// 301 from the nodes, answers 412. So a key this node has never seen (or has forgotten, see SeqMemory)
// is judged by what the DHT holds, not by our memory alone.
import { ipToBytes } from '../dht/compact.js';
import type { MutableItem } from '../dht/item-store.js';
import type { PutOptions } from '../dht/node-types.js';
import type { SeqPool } from '../dht/seq-memory.js';
import { decodeZ32Key } from '../identity/keys.js';
import { SourceRateLimiter } from '../util/rate-limit.js';
import type { Logger } from '../log.js';
import type { PkarrHook } from './hook.js';
import { checkItem, fromRelayPayload, MAX_RELAY_PAYLOAD, PacketError, targetOf, toRelayPayload, type VerifiedPacket } from './packet.js';

export interface RelayTarget {
  putMutable(item: MutableItem, target: Buffer, options?: PutOptions): Promise<number>;
  storeItem(item: MutableItem, target: Buffer, pool?: SeqPool): boolean | void;
}

export interface RelayOptions {
  getTimeoutMs: number;
  /** PUTs per source network (see sourceNetwork): a burst of this many ... */
  putBurst: number;
  /** ... refilled at one every this many ms */
  putRefillMs: number;
  maxSources: number;
  /** PUTs in progress at once (each walks the DHT); beyond that 503 */
  maxPuts: number;
}

export const DEFAULT_RELAY_OPTIONS: RelayOptions = { getTimeoutMs: 5_000, putBurst: 10, putRefillMs: 6_000, maxSources: 4096, maxPuts: 16 };

export type RelayGetResult = { status: 200; payload: Buffer; seq: number; maxAge: number } | { status: 400 | 404 | 503; message: string };
export type RelayPutResult = { status: 204; stored: number } | RelayRefusal;
type RelayRefusal = { status: 400 | 409 | 412 | 413 | 429 | 500 | 503; message: string };

export const RELAY_CONTENT_TYPE = 'application/pkarr.org/relays#payload';

/**
 * The network a PUT's rate limit is kept for: the /24 of an IPv4 address (IPv4-mapped too), the /64 of an
 * IPv6 one. One host on IPv6 has a whole /64 (2^64 addresses), so a limit per address would be no limit;
 * on IPv4 a /24 is what one operator usually holds. Every PUT of a fresh key costs a DHT walk and takes a
 * slot in the item store and the seq memory, so a network gets 10 at once and 10 a minute however many
 * addresses it sends from; the web port binds loopback unless the operator opens it.
 */
export function sourceNetwork(address: string): string {
  const bytes = ipToBytes(address);
  if (!bytes) return address;
  const mapped = bytes.length === 16 && bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
  if (bytes.length === 4 || mapped) return `${[...bytes.subarray(bytes.length - 4, bytes.length - 1)].join('.')}.0/24`;
  return `${bytes.subarray(0, 8).toString('hex').replace(/(.{4})(?!$)/g, '$1:')}::/64`;
}

export class PkarrRelay {
  private readonly limiter: SourceRateLimiter;
  /** keys (hex) with a PUT in progress */
  private readonly putting = new Set<string>();

  constructor(
    private readonly deps: { hook: PkarrHook; dht: RelayTarget; log: Logger },
    private readonly options: RelayOptions = DEFAULT_RELAY_OPTIONS,
    private readonly now: () => number = Date.now,
  ) {
    this.limiter = new SourceRateLimiter({ perSecond: 1000 / options.putRefillMs, burst: options.putBurst, maxSources: options.maxSources }, now);
  }

  get maxPayload(): number {
    return MAX_RELAY_PAYLOAD;
  }

  /** Takes a PUT token of the source's network; false when it has none left (429). */
  allowPut(source: string): boolean {
    return this.limiter.allow(sourceNetwork(source));
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
    const cas = ifMatch === undefined ? undefined : /^\s*\d{1,16}\s*$/.test(ifMatch) ? Number(ifMatch) : NaN;
    if (Number.isNaN(cas)) return { status: 400, message: 'If-Match must be the seq (a decimal integer) the PUT replaces.' };
    // Before the walk only what is surely refused: an If-Match above our seq may be what the DHT holds.
    const known = this.deps.hook.newestSeq(publicKey);
    const local = this.check(packet, known, cas !== undefined && known !== undefined && cas > known ? undefined : cas);
    if (local) return local;
    const key = publicKey.toString('hex');
    if (this.putting.has(key)) return { status: 409, message: 'A PUT for this key is in progress, try again.' };
    if (this.putting.size >= this.options.maxPuts) return { status: 503, message: 'Too many PUTs in progress, try again.' };
    this.putting.add(key);
    try {
      return await this.putOnDht(z32, packet, cas);
    } finally {
      this.putting.delete(key);
    }
  }

  /** Refusal of a packet given the newest seq held or seen for its key, or null when it may go on. */
  private check(packet: VerifiedPacket, known: number | undefined, cas: number | undefined, knownV?: Buffer): RelayRefusal | null {
    if (known === undefined) return null;
    if (cas !== undefined && cas !== known) return { status: 412, message: `If-Match ${cas} is not the current seq (${known}).` };
    if (packet.seq < known) return { status: 409, message: `seq ${packet.seq} is older than ${known}.` };
    if (packet.seq === known) {
      // The same packet again is a republish; when the packet of that seq is not at hand any more, the
      // nodes that hold it decide (302 for another packet under the same seq).
      const cached = this.deps.hook.cached(packet.publicKey);
      const v = knownV ?? (cached && cached !== 'miss' && cached.packet.seq === known ? cached.packet.v : undefined);
      if (v && !v.equals(packet.v)) return { status: 409, message: `seq ${packet.seq} is already taken by another packet.` };
    }
    return null;
  }

  private async putOnDht(z32: string, packet: VerifiedPacket, cas: number | undefined): Promise<RelayPutResult> {
    const { hook, dht, log } = this.deps;
    const target = targetOf(packet.publicKey);
    const item = { k: packet.publicKey, seq: packet.seq, sig: packet.signature, v: packet.v };
    // The newest correctly signed item the walk meets (ours first): only checked items count, so a
    // forged seq cannot block a PUT.
    let newest: VerifiedPacket | null = null;
    let refusal: RelayRefusal | null = null;
    const onItem = (found: MutableItem) => {
      if (!found.k.equals(packet.publicKey) || (newest && found.seq <= newest.seq)) return;
      try {
        newest = checkItem(found);
      } catch (err) {
        if (!(err instanceof PacketError)) throw err;
      }
    };
    // After the walk: a newer packet the DHT holds is seen (cached, remembered; not one we knew already,
    // so a PUT repeated cannot move a relayed key up), and the packet must be newer than everything held
    // or seen, with If-Match naming exactly the newest seq.
    const refuse = () => {
      const seen = newest as VerifiedPacket | null;
      if (seen && seen.seq > (hook.newestSeq(packet.publicKey) ?? -1)) hook.accept(seen);
      const known = hook.newestSeq(packet.publicKey);
      const found = this.check(packet, known, cas, seen?.seq === known ? seen?.v : undefined);
      if (found) refusal = found;
      return found ? { code: found.status === 412 ? (301 as const) : (302 as const), message: found.message } : null;
    };
    let stored: number;
    try {
      stored = await dht.putMutable(item, target, { onItem, refuse, ...(cas === undefined ? {} : { cas }) });
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (refusal) return refusal;
      if (code === 302) return { status: 409, message: 'The DHT holds a newer packet for this key.' };
      if (code === 301) return { status: 412, message: `If-Match ${cas} is not the current seq on the DHT (CAS mismatch).` };
      log.debug(`relay put ${z32}: ${(err as Error).message}`);
      return { status: 500, message: `DHT put failed: ${(err as Error).message}.` };
    }
    // Known to be the newest now: the DHT was walked and took it. Our cache and store, unless a newer
    // packet came in meanwhile (then they keep that one).
    const accepted = hook.accept(packet, 'relayed');
    if (accepted !== 'older') dht.storeItem(item, target, 'relayed');
    log.info(`Relayed ${z32}: seq ${packet.seq}, ${packet.v.length} bytes, stored on ${stored} nodes`);
    return { status: 204, stored };
  }
}
