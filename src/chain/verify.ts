// Step "verify", inside the DHT search: which addresses a search reports are taken. A plain name takes
// addresses that the nodes storing its id agree on, never one node's word (plain-candidates.ts). A keyed
// name (a public key, a key pattern, a KadNode 2.x key name) takes only addresses that prove they hold
// the key (the AUTH challenge, src/dht/auth.ts, or 2.x's bob exchange, src/dht/bob-auth.ts): unverified
// addresses never reach an answer.
import type { OnPeer, OnReply } from '../dht/node-types.js';
import type { Identifier } from '../identity/query.js';
import type { PeerAddress } from '../types.js';
import { BoundedMap } from '../util/bounded-map.js';
import { OWN_STORE, PlainCandidates } from './plain-candidates.js';

/** Proves that an address holds the secret key of an id (the AUTH challenge); null: it did not. */
export interface AddressVerifier {
  verify(id: Buffer, publicKey: Buffer, peer: PeerAddress): Promise<PeerAddress['auth'] | null>;
}

export interface Verifiers {
  verifier?: AddressVerifier | undefined;
  /** the same for KadNode 2.x key names (identify() kind 'bob': P-256) */
  bobVerifier?: AddressVerifier | undefined;
}

// A keyed name may draw fake addresses from the DHT; check more candidates than we keep: up to
// maxAddresses * CANDIDATES_PER_ADDRESS, at most CANDIDATES_PER_RESPONDER of them from any one DHT node
// (a malicious node answers get_peers with as many fakes as fit), and beyond that, up to twice as many,
// only addresses that a second node reported too (the real address is stored by every honest node
// close to the id, a random fake one comes in a single reply). For that second report, addresses not
// taken are remembered: REPORTED_PER_RESPONDER from each node, MAX_REPORTED_PER_CANDIDATE times the
// candidates in all (oldest forgotten first), from at most MAX_RESPONDERS_PER_CANDIDATE times the
// candidates nodes.
const CANDIDATES_PER_ADDRESS = 4;
export const CANDIDATES_PER_RESPONDER = 8;
const REPORTED_PER_RESPONDER = 24;
const MAX_REPORTED_PER_CANDIDATE = 4;
const MAX_RESPONDERS_PER_CANDIDATE = 2;
/** our own store's values (the search's `from` is undefined for them) */
const SELF = OWN_STORE;

interface Responder {
  taken: number;
  reported: number;
}

/** Which addresses found for a keyed name are challenged (the rules above). */
class KeyedCandidates {
  /** responder IP → candidates taken from its replies, addresses remembered */
  private readonly responders = new Map<string, Responder>();
  /** address → the responder that reported it first, for addresses not taken; the oldest leave first */
  private readonly reported: BoundedMap<string, string>;

  constructor(private readonly taken: Set<string>, private readonly soft: number) {
    this.reported = new BoundedMap(soft * MAX_REPORTED_PER_CANDIDATE);
  }

  /** True: take `seen` (`address|port`), reported by the node at `from`, as a candidate now. */
  admit(seen: string, from: string): boolean {
    if (this.taken.has(seen)) return false;
    let responder = this.responders.get(from);
    if (!responder && this.responders.size < this.soft * MAX_RESPONDERS_PER_CANDIDATE) this.responders.set(from, (responder = { taken: 0, reported: 0 }));
    const first = this.reported.get(seen);
    const fair = responder !== undefined && responder.taken < CANDIDATES_PER_RESPONDER && this.taken.size < this.soft;
    const corroborated = first !== undefined && first !== from && this.taken.size < 2 * this.soft;
    if (!fair && !corroborated) {
      if (first === undefined && responder && responder.reported < REPORTED_PER_RESPONDER) this.remember(seen, from, responder);
      return false;
    }
    this.reported.delete(seen);
    this.taken.add(seen);
    if (responder) responder.taken++;
    return true;
  }

  private remember(seen: string, from: string, responder: Responder): void {
    responder.reported++;
    this.reported.set(seen, from);
  }
}

/**
 * The search's peer callback for `ident`: addresses taken go to `accept` (a keyed name's once verified,
 * with how); `candidates` collects `address|port` of those taken; `checks` the verifications running.
 * `onReply` learns every node that answered the walk and `settle` is called when the walk ended (a plain
 * name's rule needs both).
 */
export function candidateSink(
  ident: Identifier,
  verifiers: Verifiers,
  candidates: Set<string>,
  maxAddresses: number,
  accept: (peer: PeerAddress) => void,
  zone: number | null = null,
): { onPeer: OnPeer; onReply?: OnReply; settle(): void; checks: Promise<void>[] } {
  const { publicKey } = ident;
  const verifier = ident.kind === 'bob' ? verifiers.bobVerifier : verifiers.verifier;
  const checks: Promise<void>[] = [];
  const keyed = publicKey ? new KeyedCandidates(candidates, maxAddresses * CANDIDATES_PER_ADDRESS) : null;
  if (!keyed || !publicKey) {
    const plain = new PlainCandidates<PeerAddress>(ident.id, candidates, maxAddresses, accept, zone);
    return {
      onPeer: (peer, from = SELF, fromId) => plain.report(`${peer.address}|${peer.port}`, peer, from, fromId),
      onReply: (from, fromId) => plain.answered(from, fromId),
      settle: () => plain.settle(),
      checks,
    };
  }
  const onPeer: OnPeer = (peer, from = SELF) => {
    const seen = `${peer.address}|${peer.port}`;
    if (!keyed.admit(seen, from)) return;
    if (verifier) checks.push(verifier.verify(ident.id, publicKey, peer).then((proof) => (proof ? accept({ ...peer, auth: proof }) : undefined)));
  };
  return { onPeer, settle: () => undefined, checks };
}
