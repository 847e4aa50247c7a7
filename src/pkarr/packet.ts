// Signed packets: PKARR's DNS packets as BEP 44 mutable items. Pure functions, no I/O.
//
//   k   = the ed25519 public key (32 bytes); the DHT target is SHA-1(k), no salt
//   seq = UNIX time in microseconds
//   v   = a DNS packet of at most 1000 bytes, its answers named relative to the key (`foo.<z32>`)
//   sig = ed25519 over the bencoded `3:seqi<seq>e1:v<len>:<v>` (BEP 44 without salt)
//
// Relay payload (PKARR relays, HTTP): sig (64) | seq (8, big-endian) | v.
import { createHash } from 'node:crypto';
import { isIPv4, isIPv6 } from 'node:net';
import { dnsPacket } from '../util/dns-packet.js';
import type { Answer } from 'dns-packet';
import { signDetached } from '../identity/ed25519.js';
import { verifyBep44 } from '../dht/item-store.js';
import { PUBLIC_KEY_BYTES, SECRET_KEY_BYTES } from '../identity/keys.js';

export const MAX_PACKET_BYTES = 1000;
export const SIGNATURE_BYTES = 64;
export const RELAY_HEADER_BYTES = SIGNATURE_BYTES + 8;
export const MAX_RELAY_PAYLOAD = RELAY_HEADER_BYTES + MAX_PACKET_BYTES;

export interface SignedItem {
  publicKey: Buffer;
  /** microseconds since the UNIX epoch */
  seq: number;
  signature: Buffer;
  /** the encoded DNS packet */
  v: Buffer;
}

/** A checked item with its decoded answers. */
export interface VerifiedPacket extends SignedItem {
  answers: Answer[];
}

export type PacketErrorCode = 'key' | 'signature' | 'size' | 'seq' | 'dns' | 'format';

export class PacketError extends Error {
  constructor(readonly code: PacketErrorCode, message: string) {
    super(message);
  }
}

/** The bytes that are signed: the bencoded dictionary {seq, v} without its `d` and `e`. */
export function signable(seq: number, v: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`3:seqi${seq}e1:v${v.length}:`, 'latin1'), v]);
}

/** The DHT target of a public key: SHA-1 of its 32 bytes. */
export function targetOf(publicKey: Buffer): Buffer {
  return createHash('sha1').update(publicKey).digest();
}

/** A detached ed25519 signature check; false for wrong lengths instead of throwing. */
export function verifySignature(publicKey: Uint8Array, signature: Uint8Array, message: Uint8Array): boolean {
  return verifyBep44(signature, message, publicKey);
}

function checkSeq(seq: number): void {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new PacketError('format', `seq ${seq} is not an integer in 0..2^53`);
}

/** Signs an encoded DNS packet; the secret key is libsodium's 64 bytes (seed ‖ public key). */
export function signPacket(secretKey: Buffer, v: Buffer, seq: number): SignedItem {
  if (secretKey.length !== SECRET_KEY_BYTES) throw new PacketError('key', `secret key of ${secretKey.length} bytes (${SECRET_KEY_BYTES} expected)`);
  if (v.length > MAX_PACKET_BYTES) throw new PacketError('size', `DNS packet of ${v.length} bytes is over the ${MAX_PACKET_BYTES}-byte limit`);
  checkSeq(seq);
  const signature = signDetached(signable(seq, v), secretKey);
  return { publicKey: Buffer.from(secretKey.subarray(32)), seq, signature, v };
}

/**
 * Checks an item as it comes from the DHT or a relay: key and signature lengths, size, signature, a
 * decodable DNS packet, and (with `newerThan`) a seq that does not go back. Throws PacketError.
 */
export function checkItem(item: { k: Uint8Array; sig: Uint8Array; seq: number; v: Uint8Array }, newerThan?: number): VerifiedPacket {
  if (item.k.length !== PUBLIC_KEY_BYTES) throw new PacketError('key', `public key of ${item.k.length} bytes (${PUBLIC_KEY_BYTES} expected)`);
  if (item.sig.length !== SIGNATURE_BYTES) throw new PacketError('signature', `signature of ${item.sig.length} bytes (${SIGNATURE_BYTES} expected)`);
  if (item.v.length > MAX_PACKET_BYTES) throw new PacketError('size', `DNS packet of ${item.v.length} bytes is over the ${MAX_PACKET_BYTES}-byte limit`);
  checkSeq(item.seq);
  const v = Buffer.from(item.v);
  if (!verifySignature(item.k, item.sig, signable(item.seq, v))) throw new PacketError('signature', 'bad signature');
  if (newerThan !== undefined && item.seq < newerThan) throw new PacketError('seq', `seq ${item.seq} is older than ${newerThan}`);
  const answers = decodeDnsPacket(v);
  return { publicKey: Buffer.from(item.k), seq: item.seq, signature: Buffer.from(item.sig), v, answers };
}

// ---------------------------------------------------------------- the DNS packet

// Parts of dns-packet its typings leave out: one record, one name.
const codec = () =>
  dnsPacket() as unknown as {
    answer: { encode(a: Answer): Buffer };
    name: { encodingLength(name: string): number };
  };

const HEADER_BYTES = 12;
const QR_AA = 0x8400;
const MAX_POINTER = 0x3fff;

/**
 * A response packet holding `answers`, owner names compressed (RFC 1035 §4.1.4): PKARR names all end in
 * the 52-character key, so without compression a packet holds few records. Record data is written by
 * dns-packet uncompressed, which every reader accepts (SRV and SVCB targets must not be compressed).
 */
export function encodeDnsPacket(answers: Answer[]): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header.writeUInt16BE(QR_AA, 2);
  header.writeUInt16BE(answers.length, 6);
  const parts: Buffer[] = [header];
  let offset = HEADER_BYTES;
  const suffixes = new Map<string, number>();
  for (const answer of answers) {
    const record = codec().answer.encode(answer);
    const rest = record.subarray(codec().name.encodingLength(answer.name));
    const owner = compressName(answer.name, offset, suffixes);
    parts.push(owner, rest);
    offset += owner.length + rest.length;
  }
  return Buffer.concat(parts);
}

function compressName(name: string, offset: number, suffixes: Map<string, number>): Buffer {
  const labels = name.replace(/^\.|\.$/g, '').split('.').filter((l) => l.length > 0);
  const parts: Buffer[] = [];
  let at = offset;
  for (let i = 0; i < labels.length; i++) {
    const suffix = labels.slice(i).join('.').toLowerCase();
    const pointer = suffixes.get(suffix);
    if (pointer !== undefined) {
      const p = Buffer.alloc(2);
      p.writeUInt16BE(0xc000 | pointer);
      parts.push(p);
      return Buffer.concat(parts);
    }
    if (at <= MAX_POINTER) suffixes.set(suffix, at);
    const label = Buffer.from(labels[i]!);
    parts.push(Buffer.from([label.length]), label);
    at += 1 + label.length;
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

/** The answers of a DNS packet (compressed or not); PacketError('dns') when it cannot be read. */
export function decodeDnsPacket(v: Buffer): Answer[] {
  let packet: ReturnType<ReturnType<typeof dnsPacket>['decode']>;
  try {
    packet = dnsPacket().decode(v);
  } catch (err) {
    throw new PacketError('dns', `undecodable DNS packet: ${(err as Error).message}`);
  }
  const answers = packet.answers ?? [];
  for (const a of answers) {
    // dns-packet reads A/AAAA without looking at rdlength; a record that does not hold an address is broken.
    if (a.type === 'A' && !isIPv4(String(a.data))) throw new PacketError('dns', 'undecodable DNS packet: bad A record');
    if (a.type === 'AAAA' && !isIPv6(String(a.data))) throw new PacketError('dns', 'undecodable DNS packet: bad AAAA record');
  }
  return answers;
}

/** One record as a zone file line: `foo.<z32> 300 IN TXT "hello"` (HTTPS/SVCB in RFC 3597 form). */
export function formatRecord(a: Answer): string {
  const r = a as { name: string; ttl?: number; type: string; data?: unknown };
  const raw = /^UNKNOWN_(\d+)$/.exec(r.type);
  const type = raw ? ({ 64: 'SVCB', 65: 'HTTPS' } as Record<string, string>)[raw[1]!] ?? `TYPE${raw[1]}` : r.type;
  let data: string;
  if (Buffer.isBuffer(r.data)) data = `\\# ${r.data.length} ${r.data.toString('hex')}`;
  else if (r.type === 'TXT') data = (Array.isArray(r.data) ? r.data : [r.data]).map((t) => JSON.stringify(Buffer.from(t as Buffer).toString('latin1'))).join(' ');
  else if (r.type === 'SRV') {
    const d = r.data as { priority?: number; weight?: number; port?: number; target: string };
    data = `${d.priority ?? 0} ${d.weight ?? 0} ${d.port ?? 0} ${d.target}`;
  } else data = String(r.data);
  return `${r.name} ${r.ttl ?? 0} IN ${type} ${data}`;
}

// ---------------------------------------------------------------- relay payload

export function toRelayPayload(item: SignedItem): Buffer {
  const seq = Buffer.alloc(8);
  seq.writeBigUInt64BE(BigInt(item.seq));
  return Buffer.concat([item.signature, seq, item.v]);
}

/** Parses and checks a relay payload for a public key; PacketError (size, format, signature, dns). */
export function fromRelayPayload(publicKey: Buffer, payload: Buffer): VerifiedPacket {
  if (payload.length > MAX_RELAY_PAYLOAD) throw new PacketError('size', `payload of ${payload.length} bytes is over the ${MAX_RELAY_PAYLOAD}-byte limit`);
  if (payload.length < RELAY_HEADER_BYTES) throw new PacketError('format', `payload of ${payload.length} bytes is shorter than ${RELAY_HEADER_BYTES}`);
  const seq = payload.readBigUInt64BE(SIGNATURE_BYTES);
  if (seq > BigInt(Number.MAX_SAFE_INTEGER)) throw new PacketError('format', `seq ${seq} is too large`);
  return checkItem({ k: publicKey, sig: payload.subarray(0, SIGNATURE_BYTES), seq: Number(seq), v: payload.subarray(RELAY_HEADER_BYTES) });
}
