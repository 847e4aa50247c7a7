// Key patterns of --auth-add-skey / --auth-add-pkey (KADNODE-1.x §1.2, §2.2): `[pattern:]key`,
// pattern a full name or `*suffix`, sanitized like a query; no pattern means `*`.
import { KeyError, parseHexKey, PUBLIC_KEY_BYTES, publicKeyOf, readSecretKeyText, SECRET_KEY_BYTES } from './keys.js';
import { sanitizeQuery } from './sanitize.js';

export interface PublicKeyEntry {
  pattern: string;
  publicKey: Buffer;
}

export interface SecretKeyEntry extends PublicKeyEntry {
  secretKey: Buffer;
}

export function patternMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith('*')) return name.endsWith(pattern.slice(1));
  return pattern === name;
}

export function patternsConflict(a: string, b: string): boolean {
  const wildA = a.startsWith('*');
  const wildB = b.startsWith('*');
  if (wildA && wildB) {
    const sa = a.slice(1);
    const sb = b.slice(1);
    return sa.endsWith(sb) || sb.endsWith(sa);
  }
  if (wildA) return b.endsWith(a.slice(1));
  if (wildB) return a.endsWith(b.slice(1));
  return a === b;
}

export type KeyOption = '--auth-add-skey' | '--auth-add-pkey';

/**
 * One --auth-add-skey / --auth-add-pkey value, checked on its own: the form of its pattern and its key.
 * The pattern is sanitized against the query TLD (another option) when it joins a KeyRing.
 */
export interface KeyArgument {
  option: KeyOption;
  /** as written; no pattern means `*` */
  rawPattern: string;
  publicKey: Buffer;
  /** --auth-add-skey only */
  secretKey?: Buffer;
}

export function parseKeyArgument(option: KeyOption, value: string): KeyArgument {
  const colon = value.indexOf(':');
  const rawPattern = colon < 0 ? '*' : value.slice(0, colon);
  const keyText = colon < 0 ? value : value.slice(colon + 1);
  sanitizePattern(option, rawPattern, '');
  try {
    if (option === '--auth-add-pkey') return { option, rawPattern, publicKey: parseHexKey(keyText, PUBLIC_KEY_BYTES) };
    const secretKey = parseHexKey(readSecretKeyText(keyText), SECRET_KEY_BYTES);
    return { option, rawPattern, publicKey: publicKeyOf(secretKey), secretKey };
  } catch (err) {
    throw new KeyError(`${option}: ${(err as Error).message}`);
  }
}

function sanitizePattern(option: KeyOption, rawPattern: string, tld: string): string {
  const pattern = sanitizeQuery(rawPattern, tld);
  if (pattern.length === 0) throw new KeyError(`${option}: empty pattern`);
  if (pattern.indexOf('*', 1) >= 0) throw new KeyError(`${option}: the '*' is only allowed at the front of a pattern: '${rawPattern}'`);
  return pattern;
}

/** All keys of the daemon; a new pattern that conflicts with one in the same list is refused. */
export class KeyRing {
  readonly secretKeys: SecretKeyEntry[] = [];
  readonly publicKeys: PublicKeyEntry[] = [];

  addPublicKey(value: string, tld: string): void {
    this.add(parseKeyArgument('--auth-add-pkey', value), tld);
  }

  addSecretKey(value: string, tld: string): void {
    this.add(parseKeyArgument('--auth-add-skey', value), tld);
  }

  add(key: KeyArgument, tld: string): void {
    const pattern = sanitizePattern(key.option, key.rawPattern, tld);
    const { publicKey, secretKey } = key;
    if (secretKey) this.insert(this.secretKeys, { pattern, publicKey, secretKey });
    // As in KadNode, our own names must also be verifiable by us.
    this.insert(this.publicKeys, { pattern, publicKey });
  }

  private insert<T extends PublicKeyEntry>(list: T[], entry: T): void {
    const clash = list.find((other) => patternsConflict(entry.pattern, other.pattern));
    if (clash) throw new KeyError(`conflicting patterns: '${entry.pattern}' <=> '${clash.pattern}'`);
    list.push(entry);
  }

  publicKeyFor(name: string): PublicKeyEntry | undefined {
    return this.publicKeys.find((e) => patternMatches(e.pattern, name));
  }

  secretKeyFor(name: string): SecretKeyEntry | undefined {
    return this.secretKeys.find((e) => patternMatches(e.pattern, name));
  }
}
