// ed25519 keys in libsodium's layout (secret key = 32-byte seed ‖ 32-byte public key), their hex
// and z-base32 spellings, and reading secret keys from files.
import { readFileSync, statSync } from 'node:fs';
import sodium from 'sodium-native';
import z32 from 'z32';

export const PUBLIC_KEY_BYTES = 32;
export const SECRET_KEY_BYTES = 64;
export const Z32_KEY_LENGTH = 52;

export class KeyError extends Error {}

export interface KeyPair {
  publicKey: Buffer;
  secretKey: Buffer;
}

export function generateKeyPair(): KeyPair {
  const publicKey = Buffer.alloc(PUBLIC_KEY_BYTES);
  const secretKey = Buffer.alloc(SECRET_KEY_BYTES);
  sodium.crypto_sign_keypair(publicKey, secretKey);
  return { publicKey, secretKey };
}

/** The public half of a libsodium secret key, checked against its seed. */
export function publicKeyOf(secretKey: Buffer): Buffer {
  const publicKey = Buffer.alloc(PUBLIC_KEY_BYTES);
  const derived = Buffer.alloc(SECRET_KEY_BYTES);
  sodium.crypto_sign_seed_keypair(publicKey, derived, secretKey.subarray(0, 32));
  if (!derived.equals(secretKey)) throw new KeyError('secret key is not consistent (its last 32 bytes are not the public key of its seed)');
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
    bytes = z32.decode(text);
  } catch {
    return null;
  }
  if (bytes.length !== PUBLIC_KEY_BYTES || z32.encode(bytes) !== text) return null;
  return Buffer.from(bytes);
}

export function encodeZ32Key(publicKey: Buffer): string {
  return z32.encode(publicKey);
}

/**
 * A secret key argument: hex, or `@FILE` holding the hex, so it never shows in `ps`. The file
 * must not be readable by group or others.
 */
export function readSecretKeyText(value: string): string {
  if (!value.startsWith('@')) return value;
  const path = value.slice(1);
  const cannot = (err: unknown) => new KeyError(`cannot read key file '${path}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  let stat;
  try {
    stat = statSync(path);
  } catch (err) {
    throw cannot(err);
  }
  if ((stat.mode & 0o077) !== 0) throw new KeyError(`key file '${path}' is readable by group or others (chmod 600 it)`);
  // A directory, a device or a FIFO would throw EISDIR or never end; a key is 128 hex characters.
  if (!stat.isFile()) throw new KeyError(`key file '${path}' is not a regular file`);
  if (stat.size > MAX_KEY_FILE_BYTES) throw new KeyError(`key file '${path}' is too large (${stat.size} bytes, a key is 128 hex characters)`);
  try {
    return readFileSync(path, 'utf8').trim();
  } catch (err) {
    throw cannot(err);
  }
}

const MAX_KEY_FILE_BYTES = 4096;

export function sign(message: Buffer, secretKey: Buffer): Buffer {
  const signed = Buffer.alloc(sodium.crypto_sign_BYTES + message.length);
  sodium.crypto_sign(signed, message, secretKey);
  return signed;
}

/** Opens a libsodium combined signature; null when it does not verify. */
export function openSigned(signed: Buffer, publicKey: Buffer): Buffer | null {
  if (signed.length < sodium.crypto_sign_BYTES || publicKey.length !== PUBLIC_KEY_BYTES) return null;
  const message = Buffer.alloc(signed.length - sodium.crypto_sign_BYTES);
  return sodium.crypto_sign_open(message, signed, publicKey) ? message : null;
}

export function randomBytes(length: number): Buffer {
  const buf = Buffer.alloc(length);
  sodium.randombytes_buf(buf);
  return buf;
}
