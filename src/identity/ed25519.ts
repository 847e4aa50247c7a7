// The one place kadnode signs and verifies ed25519, with two interchangeable backends:
//   - sodium-native (libsodium), the fast one, when its native addon loads;
//   - node's own crypto (OpenSSL), when it does not: sodium-native ships no prebuilt addon for musl
//     (OpenWrt, Alpine), so it is an optional dependency and may be missing or fail to load.
// Both take libsodium's key layout (secret key = 32-byte seed ‖ 32-byte public key) and give the same
// bytes: ed25519 signatures are deterministic (RFC 8032). KADNODE_ED25519=node forces node's backend
// (tests, and operators who want no native code).
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as nodeSign, verify as nodeVerify, type KeyObject } from 'node:crypto';
import { createRequire } from 'node:module';

export const SIGNATURE_BYTES = 64;
export const PUBLIC_KEY_BYTES = 32;
export const SECRET_KEY_BYTES = 64;
const SEED_BYTES = 32;

export interface Ed25519 {
  readonly name: 'sodium-native' | 'node';
  /** a new secret key (seed ‖ public key) */
  generate(): Buffer;
  /** the public key of a seed */
  publicKeyOfSeed(seed: Buffer): Buffer;
  signDetached(message: Buffer, secretKey: Buffer): Buffer;
  /** false for a wrong signature, never throws */
  verifyDetached(signature: Buffer, message: Buffer, publicKey: Buffer): boolean;
}

interface Sodium {
  crypto_sign_keypair(pk: Buffer, sk: Buffer): void;
  crypto_sign_seed_keypair(pk: Buffer, sk: Buffer, seed: Buffer): void;
  crypto_sign_detached(sig: Buffer, message: Buffer, sk: Buffer): void;
  crypto_sign_verify_detached(sig: Buffer, message: Buffer, pk: Buffer): boolean;
}

function sodiumBackend(sodium: Sodium): Ed25519 {
  return {
    name: 'sodium-native',
    generate() {
      const publicKey = Buffer.alloc(PUBLIC_KEY_BYTES);
      const secretKey = Buffer.alloc(SECRET_KEY_BYTES);
      sodium.crypto_sign_keypair(publicKey, secretKey);
      return secretKey;
    },
    publicKeyOfSeed(seed) {
      const publicKey = Buffer.alloc(PUBLIC_KEY_BYTES);
      sodium.crypto_sign_seed_keypair(publicKey, Buffer.alloc(SECRET_KEY_BYTES), seed);
      return publicKey;
    },
    signDetached(message, secretKey) {
      const signature = Buffer.alloc(SIGNATURE_BYTES);
      sodium.crypto_sign_detached(signature, message, secretKey);
      return signature;
    },
    verifyDetached(signature, message, publicKey) {
      return sodium.crypto_sign_verify_detached(signature, message, publicKey);
    },
  };
}

// DER wrappers of a raw ed25519 key (RFC 8410): what node's KeyObject API takes.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

const privateKey = (seed: Buffer): KeyObject => createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
const rawPublicKey = (key: KeyObject): Buffer => (key.export({ format: 'der', type: 'spki' }) as Buffer).subarray(SPKI_PREFIX.length);

function nodeBackend(): Ed25519 {
  return {
    name: 'node',
    generate() {
      const { privateKey: key } = generateKeyPairSync('ed25519');
      const seed = (key.export({ format: 'der', type: 'pkcs8' }) as Buffer).subarray(PKCS8_PREFIX.length);
      return Buffer.concat([seed, rawPublicKey(createPublicKey(key))]);
    },
    publicKeyOfSeed(seed) {
      return rawPublicKey(createPublicKey(privateKey(seed)));
    },
    signDetached(message, secretKey) {
      return nodeSign(null, message, privateKey(secretKey.subarray(0, SEED_BYTES)));
    },
    verifyDetached(signature, message, publicKey) {
      try {
        return nodeVerify(null, message, createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' }), signature);
      } catch {
        // a public key that is no curve point
        return false;
      }
    },
  };
}

/** sodium-native when it loads (and is not turned off), else node's crypto. */
export function loadEd25519(env: NodeJS.ProcessEnv = process.env): Ed25519 {
  if (env.KADNODE_ED25519 === 'node') return nodeBackend();
  try {
    return sodiumBackend(createRequire(import.meta.url)('sodium-native') as Sodium);
  } catch {
    return nodeBackend();
  }
}

let loaded: Ed25519 | null = null;
const backend = (): Ed25519 => (loaded ??= loadEd25519());

/**
 * The process's backend, chosen at its first use: a daemon that never signs or verifies (no key names,
 * no BEP 44 item reaching it) never loads the native addon, ~4 MB of resident memory.
 */
export const ed25519: Ed25519 = {
  get name() {
    return backend().name;
  },
  generate: () => backend().generate(),
  publicKeyOfSeed: (seed) => backend().publicKeyOfSeed(seed),
  signDetached: (message, secretKey) => backend().signDetached(message, secretKey),
  verifyDetached: (signature, message, publicKey) => backend().verifyDetached(signature, message, publicKey),
};

/** Lengths checked before either backend sees them: both then agree on every input. */
export function verifyDetached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array, backend: Ed25519 = ed25519): boolean {
  if (signature.length !== SIGNATURE_BYTES || publicKey.length !== PUBLIC_KEY_BYTES) return false;
  return backend.verifyDetached(Buffer.from(signature), Buffer.from(message), Buffer.from(publicKey));
}

export function signDetached(message: Buffer, secretKey: Buffer, backend: Ed25519 = ed25519): Buffer {
  if (secretKey.length !== SECRET_KEY_BYTES) throw new RangeError(`ed25519 secret key of ${secretKey.length} bytes (${SECRET_KEY_BYTES} expected)`);
  return backend.signDetached(message, secretKey);
}
