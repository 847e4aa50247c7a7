// Types shared between the resolver and the surfaces that call it.
import type { Answer } from 'dns-packet';

export type Family = 4 | 6;

export interface PeerAddress {
  address: string;
  port: number;
  family: Family;
  /** for key names: how the address proved the key; '1.x' (KadNode 1.x's exchange) and 'bob' (KadNode 2.x's) can be relayed */
  auth?: 'bound' | '1.x' | 'bob';
}

/**
 * found: at least one address (or, for a public-key name, a signed packet that has the name); notfound: the search finished without any;
 * timeout: the deadline passed while still searching; invalid: not a name we can look up;
 * busy: too many searches running (a bound, not an error of the name).
 */
export type ResolveStatus = 'found' | 'notfound' | 'timeout' | 'invalid' | 'busy';

export interface Resolution {
  status: ResolveStatus;
  addresses: PeerAddress[];
  /** seconds a client may cache the answer */
  ttl: number;
  /** for invalid: why */
  reason?: string;
  /**
   * Public-key names answered from a signed packet (PKARR): the packet's records for the name (CNAME
   * chain and SRV targets included), named as asked, TTLs already counted down; `addresses` then holds
   * the A/AAAA records with port 0.
   */
  records?: Answer[];
  /** proxy mode: the upstream server's whole answer, with the client's ID (src/chain/upstream-step.ts) */
  forwarded?: Buffer;
}

export interface ResolveOptions {
  /** how long to wait for the first address */
  timeoutMs: number;
  /** wait for an address of this family (A: 4, AAAA: 6); the answer still holds every address found */
  family?: Family;
}

/** What every surface needs from the resolver. */
export interface NameResolver {
  resolve(name: string, options: ResolveOptions): Promise<Resolution>;
}
