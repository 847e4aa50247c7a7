import { createHash } from 'node:crypto';

// KadNode's QUERY_MAX_SIZE: longer queries are refused before hashing.
export const QUERY_MAX_LENGTH = 511;

const HEX40 = /^[0-9a-f]{40}$/;

/** True when `name` ends in the query TLD; case-insensitive (KadNode 1.x compared bytes, a defect). */
export function hasTld(name: string, tld: string): boolean {
  const n = stripRootDot(name).toLowerCase();
  const t = tld.toLowerCase();
  return n.length > t.length && n.endsWith(t);
}

function stripRootDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

/** Strip the query TLD (if present) and lowercase, as KadNode's query_sanitize does. */
export function sanitizeQuery(query: string, tld: string): string {
  let q = stripRootDot(query).toLowerCase();
  const t = tld.toLowerCase();
  if (q.endsWith(t)) q = q.slice(0, q.length - t.length);
  return q;
}

export type IdentifierKind = 'raw' | 'plain';

export interface Identifier {
  kind: IdentifierKind;
  /** sanitized query */
  name: string;
  /** the 20-byte DHT id */
  id: Buffer;
}

export class QueryError extends Error {}

export function sha1(data: string | Buffer): Buffer {
  return createHash('sha1').update(data).digest();
}

/**
 * Classify a query and compute its DHT id (KADNODE-1.x §2.3): 40 hex = raw id, anything else
 * the SHA-1 of the sanitized name. Key-based kinds join here in the auth issue.
 */
export function identify(query: string, tld: string): Identifier {
  const name = sanitizeQuery(query, tld);
  if (name.length === 0) throw new QueryError('empty name');
  if (name.length > QUERY_MAX_LENGTH) throw new QueryError(`name longer than ${QUERY_MAX_LENGTH} characters`);
  if (HEX40.test(name)) return { kind: 'raw', name, id: Buffer.from(name, 'hex') };
  return { kind: 'plain', name, id: sha1(name) };
}
