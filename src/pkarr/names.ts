// Which names are public-key domains: a 52-character z-base32 public key as the top label (`<z32>`,
// `foo.<z32>`), or the same under the query TLD (`<z32>.p2p`, `foo.<z32>.p2p`). Pure, no I/O.
import { decodeZ32Key } from '../identity/keys.js';
import { hasTld } from '../identity/query.js';

export interface PkarrName {
  publicKey: Buffer;
  /** the key's label */
  z32: string;
  /** the labels below the key, '' for the key itself */
  sub: string;
  /** the key's label and what followed it in the query: `<z32>` or `<z32>.p2p` (lowercase) */
  origin: string;
  /** the whole name, lowercase, without the root dot */
  name: string;
}

export function pkarrName(query: string, tld: string): PkarrName | null {
  const name = (query.endsWith('.') ? query.slice(0, -1) : query).toLowerCase();
  const underTld = hasTld(name, tld);
  const base = underTld ? name.slice(0, name.length - tld.length) : name;
  const labels = base.split('.');
  const z32 = labels[labels.length - 1]!;
  if (labels.some((l) => l.length === 0 || l.length > 63)) return null;
  const publicKey = decodeZ32Key(z32);
  if (!publicKey) return null;
  return { publicKey, z32, sub: labels.slice(0, -1).join('.'), origin: underTld ? z32 + tld.toLowerCase() : z32, name };
}
