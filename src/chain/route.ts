// The route decision, made once per query before any step runs (CoreDNS picks a server block by zone the
// same way): a public-key name is its own zone (pkarr), a name under the query TLD is a DHT name (tld), any
// other name goes to the upstream of proxy mode or is refused. Pure, no I/O.
import { hasTld } from '../identity/query.js';
import { pkarrName, type PkarrName } from '../pkarr/names.js';

export type RouteKind = 'pkarr' | 'tld' | 'upstream' | 'refuse';

/**
 * Which names outside the TLD a surface takes:
 * - 'dns': public-key names (`<z32>`, `foo.<z32>`); any other name goes upstream, or is refused without one;
 * - 'tld-only': none (NSS: the system asks us only for names under the TLD);
 * - 'any': every name is a DHT name (the operator's `lookup`, as KadNode's, takes bare names and ids).
 */
export type Scope = 'dns' | 'tld-only' | 'any';

interface RouteBase {
  /** the name as the surface got it */
  name: string;
  /** the zone an answer speaks for: the key's origin (`<z32>` or `<z32>.p2p`), else the TLD */
  zone: string;
}

export type Route = (RouteBase & { kind: 'pkarr'; pkarr: PkarrName }) | (RouteBase & { kind: 'tld' | 'upstream' | 'refuse' });

export interface RouteOptions {
  /** the query TLD, e.g. '.p2p' */
  tld: string;
  /** a step forwards to an upstream server (proxy mode, --dns-server) */
  upstream: boolean;
}

export function routeOf(name: string, scope: Scope, options: RouteOptions): Route {
  const { tld } = options;
  const underTld = hasTld(name, tld);
  if (!underTld && scope === 'tld-only') return { kind: 'refuse', name, zone: tld };
  const pkarr = pkarrName(name, tld);
  if (pkarr) return { kind: 'pkarr', name, zone: pkarr.origin, pkarr };
  if (underTld || scope === 'any') return { kind: 'tld', name, zone: tld };
  return { kind: options.upstream ? 'upstream' : 'refuse', name, zone: tld };
}
