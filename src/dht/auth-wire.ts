// AUTH packets on the DHT socket: KadNode 1.x's exchange, byte for byte, and kadnode's address-bound
// exchange beside it. Every packet starts with "AUTH"; the length tells the kind (1.x took exactly 40
// bytes as a challenge and any other length as a reply, so a 1.x node ignores the bound packets).
//
//   1.x challenge    "AUTH" | id (20) | challenge (16)                                      = 40 bytes
//   1.x reply        "AUTH" | id (20) | crypto_sign(challenge): signature (64) | challenge   = 104 bytes
//   bound challenge  "AUTH" | id (20) | 0x02 | nonce (16) | port (2) | IP (4 or 16)         = 47 / 59 bytes
//   bound reply      "AUTH" | id (20) | 0x02 | nonce (16) | signature (64)                  = 105 bytes
//
// The bound signature covers "kadnode AUTH bound" | id | nonce | port | IP: the address the resolver
// sent the challenge to. A key holder signs it only when that IP is one of its own, so a challenge that
// an impostor forwards to the holder comes back unsigned (the 1.x signature covers the challenge alone
// and can be relayed: DESIGN.md). The domain string keeps the signature from ever being read as a 1.x
// reply or a BEP 44 item.
//
// A kadnode resolver also sends the 1.x challenge (for 1.x key holders), marked: its last 4 bytes are
// SHA-256("kadnode AUTH mark" | id | first 12 bytes)[0..4]. A kadnode key holder never answers a marked
// 1.x challenge, as the resolver that sent it asks with the bound exchange too; so an impostor cannot
// relay it to a kadnode holder either. A 1.x resolver's random challenge carries the mark by chance
// once in 2^32 lookups (then our holder stays silent to it; the next lookup draws another challenge).
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { randomBytes, sign, signDetached, verifyDetached, openSigned } from '../identity/keys.js';
import { bytesToIp, ipToBytes } from './compact.js';

const MAGIC = Buffer.from('AUTH');
const ID_LENGTH = 20;
const BOUND_VERSION = 2;
const SIGNATURE_LENGTH = 64;
export const CHALLENGE_LENGTH = 16;
export const NONCE_LENGTH = 16;
export const CHALLENGE_PACKET_LENGTH = 4 + ID_LENGTH + CHALLENGE_LENGTH;
export const REPLY_PACKET_LENGTH = 4 + ID_LENGTH + SIGNATURE_LENGTH + CHALLENGE_LENGTH;
const BOUND_HEAD = 4 + ID_LENGTH + 1 + NONCE_LENGTH;
export const BOUND_CHALLENGE_LENGTH = { 4: BOUND_HEAD + 2 + 4, 6: BOUND_HEAD + 2 + 16 } as const;
export const BOUND_REPLY_LENGTH = BOUND_HEAD + SIGNATURE_LENGTH;

const BOUND_DOMAIN = Buffer.from('kadnode AUTH bound');
const MARK_DOMAIN = Buffer.from('kadnode AUTH mark');
const MARK_LENGTH = 4;

export interface ChallengedAddress {
  address: string;
  port: number;
}

export type AuthPacket =
  | { kind: 'challenge'; id: Buffer; challenge: Buffer }
  | { kind: 'reply'; id: Buffer; signed: Buffer }
  | { kind: 'bound-challenge'; id: Buffer; nonce: Buffer; to: ChallengedAddress }
  | { kind: 'bound-reply'; id: Buffer; nonce: Buffer; signature: Buffer }
  | { kind: 'invalid'; reason: string };

// ---------------------------------------------------------------- KadNode 1.x

export function encodeChallenge(id: Buffer, challenge: Buffer): Buffer {
  return Buffer.concat([MAGIC, id, challenge]);
}

export function encodeReply(id: Buffer, challenge: Buffer, secretKey: Buffer): Buffer {
  return Buffer.concat([MAGIC, id, sign(challenge, secretKey)]);
}

/** True when `signed` opens with the key and holds exactly the challenge. */
export function replyProves(signed: Buffer, publicKey: Buffer, challenge: Buffer): boolean {
  const message = openSigned(signed, publicKey);
  return message !== null && message.equals(challenge);
}

/** The challenge a 1.x reply carries (the signed message trails the signature), before any check. */
export function challengeOfReply(signed: Buffer): Buffer {
  return signed.subarray(SIGNATURE_LENGTH);
}

const markOf = (id: Buffer, head: Buffer): Buffer => createHash('sha256').update(MARK_DOMAIN).update(id).update(head).digest().subarray(0, MARK_LENGTH);

/** A random 1.x challenge that tells a kadnode key holder "this resolver speaks the bound exchange". */
export function markedChallenge(id: Buffer): Buffer {
  const head = randomBytes(CHALLENGE_LENGTH - MARK_LENGTH);
  return Buffer.concat([head, markOf(id, head)]);
}

export function isMarked(id: Buffer, challenge: Buffer): boolean {
  if (challenge.length !== CHALLENGE_LENGTH) return false;
  return markOf(id, challenge.subarray(0, CHALLENGE_LENGTH - MARK_LENGTH)).equals(challenge.subarray(CHALLENGE_LENGTH - MARK_LENGTH));
}

// ---------------------------------------------------------------- bound exchange

/** The port and IP bytes of an address; null for anything that is not an IP literal. */
function addressBytes(to: ChallengedAddress): Buffer | null {
  const ip = isIP(to.address) ? ipToBytes(to.address) : null;
  if (!ip || !Number.isInteger(to.port) || to.port < 0 || to.port > 65535) return null;
  const port = Buffer.alloc(2);
  port.writeUInt16BE(to.port);
  return Buffer.concat([port, ip]);
}

export function encodeBoundChallenge(id: Buffer, nonce: Buffer, to: ChallengedAddress): Buffer | null {
  const address = addressBytes(to);
  return address && Buffer.concat([MAGIC, id, Buffer.of(BOUND_VERSION), nonce, address]);
}

function boundMessage(id: Buffer, nonce: Buffer, to: ChallengedAddress): Buffer | null {
  const address = addressBytes(to);
  return address && Buffer.concat([BOUND_DOMAIN, id, nonce, address]);
}

export function encodeBoundReply(id: Buffer, nonce: Buffer, to: ChallengedAddress, secretKey: Buffer): Buffer | null {
  const message = boundMessage(id, nonce, to);
  return message && Buffer.concat([MAGIC, id, Buffer.of(BOUND_VERSION), nonce, signDetached(message, secretKey)]);
}

/** True when the signature proves the key for this id, nonce and the address the challenge went to. */
export function boundReplyProves(signature: Buffer, publicKey: Buffer, id: Buffer, nonce: Buffer, to: ChallengedAddress): boolean {
  const message = boundMessage(id, nonce, to);
  return message !== null && verifyDetached(signature, message, publicKey);
}

// ---------------------------------------------------------------- parsing

/** Only the exact sizes above are accepted (KadNode 1.x took any other length ≥ 24 as a reply). */
export function parseAuthPacket(buf: Buffer): AuthPacket {
  if (buf.length < 4 || !buf.subarray(0, 4).equals(MAGIC)) return { kind: 'invalid', reason: 'no AUTH prefix' };
  const id = Buffer.from(buf.subarray(4, 4 + ID_LENGTH));
  const body = buf.subarray(4 + ID_LENGTH);
  if (buf.length === CHALLENGE_PACKET_LENGTH) return { kind: 'challenge', id, challenge: Buffer.from(body) };
  if (buf.length === REPLY_PACKET_LENGTH) return { kind: 'reply', id, signed: Buffer.from(body) };
  const bound = buf.length === BOUND_REPLY_LENGTH || buf.length === BOUND_CHALLENGE_LENGTH[4] || buf.length === BOUND_CHALLENGE_LENGTH[6];
  if (!bound) return { kind: 'invalid', reason: `bad length ${buf.length} (40, 47, 59, 104 or 105 expected)` };
  if (body[0] !== BOUND_VERSION) return { kind: 'invalid', reason: `unknown exchange version ${body[0]}` };
  const nonce = Buffer.from(body.subarray(1, 1 + NONCE_LENGTH));
  const rest = body.subarray(1 + NONCE_LENGTH);
  if (buf.length === BOUND_REPLY_LENGTH) return { kind: 'bound-reply', id, nonce, signature: Buffer.from(rest) };
  const family = rest.length === 2 + 4 ? 4 : 6;
  return { kind: 'bound-challenge', id, nonce, to: { port: rest.readUInt16BE(0), address: bytesToIp(rest, 2, family) } };
}
