// A value id as announced (KADNODE-1.x §2.4): a --value-id or a console `announce`, checked against the
// query TLD, the key patterns and the DHT port (so a bad one is refused before anything starts).
import { UsageError } from '../errors.js';
import type { KeyRing } from './patterns.js';
import { identify, QueryError } from './query.js';

export interface AnnouncedValue {
  /** the sanitized name, for logs and listings */
  name: string;
  id: Buffer;
  port: number;
  /** with a secret key we answer AUTH challenges for this id */
  secretKey?: Buffer;
}

/** What a value id is read against: --query-tld, the --auth-add-* keys and the DHT --port. */
export interface ValueContext {
  queryTld: string;
  keys: KeyRing;
  port: number;
}

/** A secret key means the DHT port, where challenges arrive; throws UsageError for a bad name or port. */
export function makeValue(context: ValueContext, query: string, port: number | undefined): AnnouncedValue {
  let ident;
  try {
    ident = identify(query, context.queryTld, context.keys, 'announce');
  } catch (err) {
    if (err instanceof QueryError) throw new UsageError(`Invalid value id: ${err.message}`);
    throw err;
  }
  if (ident.secretKey && port !== undefined) {
    throw new UsageError(`Invalid port for value id ${ident.kind === 'skey' ? '<secret key>' : query}: values with a secret key are announced with the DHT port`);
  }
  const value: AnnouncedValue = { name: ident.name, id: ident.id, port: port ?? context.port };
  if (ident.secretKey) value.secretKey = ident.secretKey;
  return value;
}
