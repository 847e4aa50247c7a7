// Names as KadNode compares them: the query TLD stripped, lowercase. A leaf: key patterns
// (patterns.ts) and identifiers (query.ts) both build on it.

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
