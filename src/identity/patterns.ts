// Key patterns of --auth-add-skey / --auth-add-pkey (KADNODE-1.x §1.2, §2.2): `[pattern:]key`,
// pattern a full name or `*suffix`, sanitized like a query; no pattern means `*`.
import { KeyError, parseHexKey, PUBLIC_KEY_BYTES, publicKeyOf, readSecretKeyText, SECRET_KEY_BYTES } from './keys.js';
import { sanitizeQuery } from './query.js';

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

function splitArgument(option: string, value: string, tld: string): { pattern: string; keyText: string } {
  const colon = value.indexOf(':');
  const rawPattern = colon < 0 ? '*' : value.slice(0, colon);
  const keyText = colon < 0 ? value : value.slice(colon + 1);
  const pattern = sanitizeQuery(rawPattern, tld);
  if (pattern.length === 0) throw new KeyError(`${option}: empty pattern`);
  if (pattern.indexOf('*', 1) >= 0) throw new KeyError(`${option}: the '*' is only allowed at the front of a pattern: '${rawPattern}'`);
  return { pattern, keyText };
}

/** All keys of the daemon; a new pattern that conflicts with one in the same list is refused. */
export class KeyRing {
  readonly secretKeys: SecretKeyEntry[] = [];
  readonly publicKeys: PublicKeyEntry[] = [];

  addPublicKey(value: string, tld: string): void {
    const { pattern, keyText } = splitArgument('--auth-add-pkey', value, tld);
    let publicKey: Buffer;
    try {
      publicKey = parseHexKey(keyText, PUBLIC_KEY_BYTES);
    } catch (err) {
      throw new KeyError(`--auth-add-pkey: ${(err as Error).message}`);
    }
    this.insert(this.publicKeys, { pattern, publicKey });
  }

  addSecretKey(value: string, tld: string): void {
    const { pattern, keyText } = splitArgument('--auth-add-skey', value, tld);
    let secretKey: Buffer;
    let publicKey: Buffer;
    try {
      secretKey = parseHexKey(readSecretKeyText(keyText), SECRET_KEY_BYTES);
      publicKey = publicKeyOf(secretKey);
    } catch (err) {
      throw new KeyError(`--auth-add-skey: ${(err as Error).message}`);
    }
    this.insert(this.secretKeys, { pattern, publicKey, secretKey });
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
