// Step "identify": the DHT id of the name (src/identity/query.ts: strip the TLD, lowercase, raw ids, keys,
// key patterns) for the steps after it. A name that cannot be looked up (empty, too long, a KadNode 2.x
// key that is not a key) is answered here as invalid.
import { identify, QueryError } from '../identity/query.js';
import type { KeyRing } from '../identity/patterns.js';
import type { Resolution } from '../types.js';
import type { Next, Query, Step } from './chain.js';

export class IdentifyStep implements Step {
  readonly name = 'identify';
  readonly routes = ['pkarr', 'tld'] as const;

  constructor(private readonly deps: { keys?: KeyRing | undefined }, private readonly options: { tld: string }) {}

  async run(query: Query, next: Next): Promise<Resolution> {
    let ident;
    try {
      ident = identify(query.route.name, this.options.tld, this.deps.keys);
    } catch (err) {
      if (err instanceof QueryError) return { status: 'invalid', addresses: [], ttl: 0, reason: err.message };
      throw err;
    }
    return next({ ...query, ident });
  }
}

/** The identifier the identify step set; a step after it that finds none is wired wrongly. */
export function identOf(query: Query): NonNullable<Query['ident']> {
  if (!query.ident) throw new Error('query chain: no identify step before this one');
  return query.ident;
}
