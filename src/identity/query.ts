import { createHash } from 'node:crypto';
import { bobId, decodeBobName, isBobKey } from './bob.js';
import { decodeZ32Key, KeyError, parseHexKey, publicKeyOf, SECRET_KEY_BYTES } from './keys.js';
import type { KeyRing } from './patterns.js';
import { QueryError } from '../errors.js';
import { sanitizeQuery } from './sanitize.js';

// KadNode's QUERY_MAX_SIZE: longer queries are refused before hashing.
export const QUERY_MAX_LENGTH = 511;

const HEX40 = /^[0-9a-f]{40}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const HEX128 = /^[0-9a-f]{128}$/;

// sanitizing lives in a leaf module (patterns.ts needs it too); importers keep reading it here
export { hasTld, sanitizeQuery } from './sanitize.js';

/**
 * raw: 40 hex, the id itself. plain: SHA-1 of the name. pkey: a public key (64 hex or 52 z-base32),
 * id = SHA-1 of its hex. skey: a secret key as a value id (128 hex), id = SHA-1 of its public key's
 * hex. pattern: a name matching a key pattern, id = SHA-1 of public key hex ‖ name. bob: a KadNode 2.x
 * P-256 key name (52 Crockford base32 characters ending in 0 or g, src/identity/bob.ts), id = the
 * first 20 bytes of its X, publicKey = X.
 */
export type IdentifierKind = 'raw' | 'plain' | 'pkey' | 'skey' | 'pattern' | 'bob';

export interface Identifier {
  kind: IdentifierKind;
  /** sanitized query */
  name: string;
  /** the 20-byte DHT id */
  id: Buffer;
  /** addresses for this id count only once they prove they hold its secret key */
  publicKey?: Buffer;
  /** present when we can answer challenges for this id */
  secretKey?: Buffer;
}

export { QueryError };

export function sha1(data: string | Buffer): Buffer {
  return createHash('sha1').update(data).digest();
}

/** 'lookup' for names we search, 'announce' for our own value ids (KADNODE-1.x §2.3). */
export type Role = 'lookup' | 'announce';

export function identify(query: string, tld: string, keys?: KeyRing, role: Role = 'lookup'): Identifier {
  const name = sanitizeQuery(query, tld);
  if (name.length === 0) throw new QueryError('empty name');
  if (name.length > QUERY_MAX_LENGTH) throw new QueryError(`name longer than ${QUERY_MAX_LENGTH} characters`);
  if (HEX40.test(name)) return { kind: 'raw', name, id: Buffer.from(name, 'hex') };

  const rawPublicKey = HEX64.test(name) ? Buffer.from(name, 'hex') : decodeZ32Key(name);
  if (rawPublicKey) {
    if (role === 'announce') throw new QueryError('a public key cannot be announced without its secret key (use the 128 hex characters of the secret key)');
    return { kind: 'pkey', name, id: sha1(rawPublicKey.toString('hex')), publicKey: rawPublicKey };
  }
  const bobKey = decodeBobName(name);
  if (bobKey) {
    // Never a plain name instead: anyone could announce SHA-1 of it, unverified.
    if (!isBobKey(bobKey)) throw new QueryError('a KadNode 2.x key name (52 Crockford base32 characters ending in 0 or g) whose key is not a point of P-256');
    if (role === 'announce') throw new QueryError('a KadNode 2.x key name is announced with --bob-load-key <key file>');
    return { kind: 'bob', name, id: bobId(bobKey), publicKey: bobKey };
  }
  if (role === 'announce' && HEX128.test(name)) {
    let secretKey: Buffer;
    let publicKey: Buffer;
    try {
      secretKey = parseHexKey(name, SECRET_KEY_BYTES);
      publicKey = publicKeyOf(secretKey);
    } catch (err) {
      if (err instanceof KeyError) throw new QueryError(err.message);
      throw err;
    }
    return { kind: 'skey', name: `<secret key of ${publicKey.toString('hex')}>`, id: sha1(publicKey.toString('hex')), publicKey, secretKey };
  }

  const entry = role === 'announce' ? keys?.secretKeyFor(name) : keys?.publicKeyFor(name);
  if (entry) {
    const id = sha1(entry.publicKey.toString('hex') + name);
    const secretKey = 'secretKey' in entry ? (entry.secretKey as Buffer) : undefined;
    return { kind: 'pattern', name, id, publicKey: entry.publicKey, ...(secretKey ? { secretKey } : {}) };
  }
  return { kind: 'plain', name, id: sha1(name) };
}
