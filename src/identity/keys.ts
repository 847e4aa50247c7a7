// ed25519 keys in libsodium's layout (secret key = 32-byte seed ‖ 32-byte public key), their hex
// and z-base32 spellings, and reading secret keys from files.
import { randomFillSync } from 'node:crypto';
import { ed25519, SIGNATURE_BYTES, signDetached as sign64, verifyDetached as verify64 } from './ed25519.js';
import { createRequire } from 'node:module';
import type Z32 from 'z32';
import { readRegularFileSync } from '../util/read-file.js';
import { KeyError } from '../errors.js';

// z-base-32 (CommonJS, with b4a) loads with the first key name: ~0.2 MB an idle daemon of plain names
// does not need.
let z32Module: typeof Z32 | null = null;
const z32 = (): typeof Z32 => (z32Module ??= createRequire(import.meta.url)('z32') as typeof Z32);

export const PUBLIC_KEY_BYTES = 32;
export const SECRET_KEY_BYTES = 64;
export const Z32_KEY_LENGTH = 52;

export { KeyError };

export interface KeyPair {
  publicKey: Buffer;
  secretKey: Buffer;
}

export function generateKeyPair(): KeyPair {
  const secretKey = ed25519.generate();
  return { publicKey: Buffer.from(secretKey.subarray(32)), secretKey };
}

/** The public half of a libsodium secret key, checked against its seed. */
export function publicKeyOf(secretKey: Buffer): Buffer {
  const publicKey = secretKey.length === SECRET_KEY_BYTES ? ed25519.publicKeyOfSeed(secretKey.subarray(0, 32)) : Buffer.alloc(0);
  if (!publicKey.equals(secretKey.subarray(32))) throw new KeyError('secret key is not consistent (its last 32 bytes are not the public key of its seed)');
  return publicKey;
}

const HEX = /^[0-9a-fA-F]*$/;

/** Hex of exactly `bytes` bytes; the message never repeats the input (it may be a secret). */
export function parseHexKey(text: string, bytes: number): Buffer {
  if (!HEX.test(text)) throw new KeyError(`invalid key format, only hex characters expected`);
  if (text.length !== bytes * 2) throw new KeyError(`invalid key length, ${bytes * 2} hex characters expected (got ${text.length})`);
  return Buffer.from(text, 'hex');
}

/** z-base32 as PKARR writes public keys; only the canonical spelling is accepted, so one key has one name. */
export function decodeZ32Key(text: string): Buffer | null {
  if (text.length !== Z32_KEY_LENGTH) return null;
  let bytes: Uint8Array;
  try {
    bytes = z32().decode(text);
  } catch {
    return null;
  }
  if (bytes.length !== PUBLIC_KEY_BYTES || z32().encode(bytes) !== text) return null;
  return Buffer.from(bytes);
}

export function encodeZ32Key(publicKey: Buffer): string {
  return z32().encode(publicKey);
}

/**
 * A secret key argument: hex, or `@FILE` holding the hex, so it never shows in `ps`. The file
 * must not be readable by group or others.
 */
export function readSecretKeyText(value: string): string {
  if (!value.startsWith('@')) return value;
  const path = value.slice(1);
  const read = readRegularFileSync(path, MAX_KEY_FILE_BYTES);
  if (!read.ok) {
    if (read.problem === 'not-regular') throw new KeyError(`key file '${path}' is ${read.kind}, not a regular file`);
    if (read.problem === 'too-large') throw new KeyError(`key file '${path}' is too large (over ${read.maxBytes} bytes, a key is 128 hex characters)`);
    throw new KeyError(`cannot read key file '${path}': ${read.error.code ?? read.error.message}`);
  }
  if ((read.stats.mode & 0o077) !== 0) throw new KeyError(`key file '${path}' is readable by group or others (chmod 600 it)`);
  return read.bytes.toString('utf8').trim();
}

const MAX_KEY_FILE_BYTES = 4096;

/** libsodium's combined form (crypto_sign): signature ‖ message. */
export function sign(message: Buffer, secretKey: Buffer): Buffer {
  return Buffer.concat([sign64(message, secretKey), message]);
}

/** Opens a libsodium combined signature; null when it does not verify. */
export function openSigned(signed: Buffer, publicKey: Buffer): Buffer | null {
  if (signed.length < SIGNATURE_BYTES) return null;
  const message = Buffer.from(signed.subarray(SIGNATURE_BYTES));
  return verify64(signed.subarray(0, SIGNATURE_BYTES), message, publicKey) ? message : null;
}

/** A detached ed25519 signature (64 bytes). */
export function signDetached(message: Buffer, secretKey: Buffer): Buffer {
  return sign64(message, secretKey);
}

/** False for a wrong signature and for wrong lengths (never throws). */
export function verifyDetached(signature: Buffer, message: Buffer, publicKey: Buffer): boolean {
  return verify64(signature, message, publicKey);
}

export function randomBytes(length: number): Buffer {
  return randomFillSync(Buffer.alloc(length));
}
