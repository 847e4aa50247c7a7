// KadNode 2.x "bob" keys: P-256 (secp256r1) key pairs whose public point has an even Y, named by the
// 32-byte X coordinate in lower-case Crockford base32 (52 characters, the last always `0` or `g`, so the
// spelling never meets a z-base32 PKARR key, which ends in `y` or `o`). DHT id = the first 20 bytes of X.
// A holder proves its key by signing the 32 random bytes of a challenge: ECDSA P-256 with those bytes
// taken as the digest itself (never hashed), the signature in DER, checked with the key `02 | X`.
// Keys are PEM files as mbedtls writes them (SEC1 `EC PRIVATE KEY`, or PKCS#8 `PRIVATE KEY`).
//
// Signatures (ECDSA without a hash, DER): @noble/curves, loaded on first use by loadBobCurve() (it costs
// ~4 MB of resident memory, and most daemons never meet a bob name). Point checks, key derivation, PEM
// and key generation: node's crypto; base32: @scure/base. Pure but for reading and writing key files.
import { ECDH, createECDH, createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import type { p256 as P256 } from '@noble/curves/nist.js';
import { base32crockford } from '@scure/base';
import { readRegularFileSync } from '../util/read-file.js';
import { BobKeyError } from '../errors.js';

export const BOB_KEY_BYTES = 32;
export const BOB_NAME_LENGTH = 52;
export const BOB_ID_BYTES = 20;
/** the longest DER encoding of a P-256 signature (two 33-byte integers) */
export const MAX_SIGNATURE_BYTES = 72;
/** a PEM key is about 230 bytes; anything much larger is not one */
const MAX_KEY_FILE_BYTES = 4096;
/** chance of 2^-64 to need more: half of all keys have an even Y */
const MAX_KEY_TRIES = 64;

// 51 characters of 5 bits and a last one holding X's last bit and 4 zero bits: `0` or `g`.
const BOB_NAME = /^[0-9a-hjkmnp-tv-z]{51}[0g]$/;

export { BobKeyError };

let curve: typeof P256 | null = null;
let loading: Promise<void> | null = null;

/** Loads the signature code; verifyBobSignature and signBobChallenge need it done. */
export function loadBobCurve(): Promise<void> {
  loading ??= import('@noble/curves/nist.js').then((m) => {
    curve = m.p256;
  });
  return loading;
}

/** Runs `fn` now when the signature code is loaded, else once it is (for packet handlers, which stay synchronous). */
export function withBobCurve(fn: () => void): void {
  if (curve) fn();
  else void loadBobCurve().then(fn);
}

function loadedCurve(): typeof P256 {
  if (!curve) throw new Error('bob signature code used before loadBobCurve()');
  return curve;
}

export interface BobKey {
  /** the name KadNode 2.x prints, without the TLD */
  name: string;
  /** the X coordinate: the public key as the wire and the name carry it */
  x: Buffer;
  /** first 20 bytes of X */
  id: Buffer;
  /** the secret scalar d (32 bytes); never logged */
  secret: Buffer;
}

/** X when `label` is a canonical bob name (lower-case Crockford, 52 characters, ending 0/g), else null. */
export function decodeBobName(label: string): Buffer | null {
  if (!BOB_NAME.test(label)) return null;
  let bytes: Uint8Array;
  try {
    bytes = base32crockford.decode(label.toUpperCase());
  } catch {
    return null;
  }
  // one key, one name: the decoder's aliases (O for 0, I and L for 1) are excluded by BOB_NAME already
  if (bytes.length !== BOB_KEY_BYTES || encodeBobName(Buffer.from(bytes)) !== label) return null;
  return Buffer.from(bytes);
}

export function encodeBobName(x: Buffer): string {
  return base32crockford.encode(x).toLowerCase();
}

/** The compressed public key with even Y, as KadNode 2.x checks signatures: `02 | X`. */
export function bobPublicKey(x: Buffer): Buffer {
  return Buffer.concat([Buffer.of(0x02), x]);
}

/** True when X is the X coordinate of a point on P-256 (then `02 | X` is a key). */
export function isBobKey(x: Buffer): boolean {
  if (x.length !== BOB_KEY_BYTES) return false;
  try {
    // decompressing fails unless X is on the curve
    ECDH.convertKey(bobPublicKey(x), 'prime256v1');
    return true;
  } catch {
    return false;
  }
}

export function bobId(x: Buffer): Buffer {
  return Buffer.from(x.subarray(0, BOB_ID_BYTES));
}

/**
 * True when `signature` (DER) is X's signature of the 32 challenge bytes taken as the digest. High S is
 * accepted: mbedtls does not normalize S. Never throws.
 */
export function verifyBobSignature(signature: Buffer, challenge: Buffer, x: Buffer): boolean {
  if (signature.length > MAX_SIGNATURE_BYTES || challenge.length !== BOB_KEY_BYTES || x.length !== BOB_KEY_BYTES) return false;
  try {
    return loadedCurve().verify(signature, challenge, bobPublicKey(x), { prehash: false, lowS: false, format: 'der' });
  } catch {
    return false;
  }
}

/** Signs the 32 challenge bytes as the digest (no hash), DER, as KadNode 2.x answers a challenge. */
export function signBobChallenge(challenge: Buffer, secret: Buffer): Buffer {
  return Buffer.from(loadedCurve().sign(challenge, secret, { prehash: false, format: 'der' }));
}

// ---------------------------------------------------------------- key files

/** `02|X` or `03|X` of a secret scalar; throws BobKeyError when it is not one (zero, or not below the order). */
function compressedPublicKey(secret: Buffer): Buffer {
  if (secret.length !== BOB_KEY_BYTES) throw new BobKeyError('the secret key is not a valid P-256 scalar');
  try {
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(secret);
    return ecdh.getPublicKey(null, 'compressed');
  } catch {
    throw new BobKeyError('the secret key is not a valid P-256 scalar');
  }
}

/** The key of a private KeyObject, or why it is not a bob key. */
function bobKeyOf(key: KeyObject): BobKey {
  if (key.asymmetricKeyType !== 'ec') throw new BobKeyError(`not an EC key (${key.asymmetricKeyType ?? 'unknown type'}); a P-256 key expected`);
  const jwk = key.export({ format: 'jwk' });
  if (jwk.crv !== 'P-256' || !jwk.d || !jwk.x) throw new BobKeyError(`not a P-256 key (curve ${jwk.crv ?? 'unknown'})`);
  const secret = Buffer.from(jwk.d, 'base64url');
  // The name comes from the secret itself: a file whose stored public key were another would otherwise
  // announce a name its signatures cannot prove.
  const point = compressedPublicKey(secret);
  const x = Buffer.from(point.subarray(1));
  if (!x.equals(Buffer.from(jwk.x, 'base64url'))) throw new BobKeyError('the public key stored in the file does not belong to its secret key');
  if (point[0] !== 0x02) {
    throw new BobKeyError('its public key has an odd Y coordinate: KadNode 2.x names only keys with an even Y (its name would not verify); create one with --bob-create-key');
  }
  return { name: encodeBobName(x), x, id: bobId(x), secret };
}

/** A PEM text (SEC1 or PKCS#8, unencrypted) as a bob key. The message never repeats the input. */
export function parseBobKeyPem(pem: Buffer): BobKey {
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: pem, format: 'pem' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new BobKeyError(`not an unencrypted PEM private key (SEC1 or PKCS#8)${code ? ` (${code})` : ''}`);
  }
  return bobKeyOf(key);
}

/** --bob-load-key: a regular file, not readable by group or others, holding a PEM key with even Y. */
export function readBobKeyFile(path: string): BobKey {
  const read = readRegularFileSync(path, MAX_KEY_FILE_BYTES);
  if (!read.ok) {
    if (read.problem === 'not-regular') throw new BobKeyError(`key file '${path}' is ${read.kind}, not a regular file`);
    if (read.problem === 'too-large') throw new BobKeyError(`key file '${path}' is too large (over ${read.maxBytes} bytes, a PEM key is about 230)`);
    throw new BobKeyError(`cannot read key file '${path}': ${read.error.code ?? read.error.message}`);
  }
  if ((read.stats.mode & 0o077) !== 0) throw new BobKeyError(`key file '${path}' is readable by group or others (chmod 600 it)`);
  try {
    return parseBobKeyPem(read.bytes);
  } catch (err) {
    if (err instanceof BobKeyError) throw new BobKeyError(`key file '${path}': ${err.message}`);
    throw err;
  }
}

/** A new key with even Y, as SEC1 PEM (what `kadnode --bob-create-key` of KadNode 2.x writes). */
export function createBobKey(): { pem: string; key: BobKey } {
  for (let i = 0; i < MAX_KEY_TRIES; i++) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    try {
      return { pem: privateKey.export({ type: 'sec1', format: 'pem' }).toString(), key: bobKeyOf(privateKey) };
    } catch (err) {
      if (!(err instanceof BobKeyError)) throw err;
      // odd Y: draw again
    }
  }
  throw new BobKeyError(`no key with an even Y in ${MAX_KEY_TRIES} tries`);
}

/** Writes a new key to `path` (mode 600; an existing file is never replaced). Returns its key. */
export function writeNewBobKeyFile(path: string): BobKey {
  const { pem, key } = createBobKey();
  try {
    writeFileSync(path, pem, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new BobKeyError(`'${path}' exists; not overwritten (a key there may be in use)`);
    throw new BobKeyError(`cannot write '${path}': ${code ?? (err as Error).message}`);
  }
  return key;
}
