// How one DHT node is doing, as an operator needs to see it (`status`, the log): the share of our queries
// answered, an estimate of the DHT's size, the share of BEP 42-valid nodes in the routing table, our
// external address and whether our node id fits it, and a warning when UDP looks filtered or nothing
// answers. Pure figures from counters the node keeps; the only state is a few recent walks and samples.
import { isBep42Valid, isExemptAddress } from './bep42.js';

/** the last walks whose closest nodes feed the size estimate (each holds K distances) */
export const MAX_WALKS = 8;
/** closest nodes per walk used (K) */
export const WALK_NODES = 8;
/** traffic samples kept, one per check (minutes): the window the UDP verdict looks at */
const MAX_SAMPLES = 5;
/** below this share of our queries answered, UDP looks filtered */
export const FILTERED_RATIO = 0.1;
/** the verdict waits for this many queries in the window (a quiet node proves nothing) */
export const MIN_QUERIES = 20;
/** and for this long after start */
export const SETTLE_MS = 60_000;

export interface Traffic {
  sent: number;
  replied: number;
  received: number;
}

/** 'ok', 'filtered' (under FILTERED_RATIO answered), 'silent' (nothing answers), 'settling' (too early or too few queries) */
export type UdpVerdict = 'ok' | 'filtered' | 'silent' | 'settling';

/**
 * N from the normalized XOR distances (0..1) of the closest nodes found by walks, each list sorted
 * closest first. With N ids spread uniformly, the i-th closest to a random target lies at about i/N;
 * the least-squares fit of d_i = i/N over all walks gives N = Σ i² / Σ i·d_i. (k over the mean distance
 * of the k closest would overestimate about twice: that mean is (k+1)/2N.) Null without data.
 */
export function estimateSize(walks: readonly (readonly number[])[]): number | null {
  let squares = 0;
  let weighted = 0;
  for (const distances of walks) {
    distances.forEach((d, index) => {
      const i = index + 1;
      squares += i * i;
      weighted += i * d;
    });
  }
  return weighted > 0 ? squares / weighted : null;
}

/** The XOR distance of two ids of the same length (Kademlia's metric), byte by byte. */
export function xorDistance(id: Uint8Array, target: Uint8Array): Buffer {
  const d = Buffer.allocUnsafe(id.length);
  for (let i = 0; i < id.length; i++) d[i] = id[i]! ^ target[i]!;
  return d;
}

/** The XOR distance of two 20-byte ids as a fraction of the id space (the first 8 bytes suffice: 2^-64). */
export function normalizedDistance(a: Uint8Array, b: Uint8Array): number {
  let d = 0;
  for (let i = 0; i < 8; i++) d = d * 256 + ((a[i]! ^ b[i]!) & 0xff);
  return d / 2 ** 64;
}

/** The verdict on `traffic` counted over `windowMs`, `sinceStartMs` after start. */
export function udpVerdict(traffic: Traffic, sinceStartMs: number): UdpVerdict {
  if (sinceStartMs < SETTLE_MS || traffic.sent < MIN_QUERIES) return 'settling';
  if (traffic.replied === 0) return 'silent';
  return traffic.replied / traffic.sent < FILTERED_RATIO ? 'filtered' : 'ok';
}

export interface HealthReport {
  family: 4 | 6;
  /** replies / queries since start (null: none sent) */
  replyRatio: number | null;
  sent: number;
  sizeEstimate: number | null;
  walks: number;
  nodes: number;
  /** routing-table nodes whose id is BEP 42-valid for their address (local addresses count as valid) */
  validNodes: number;
  external: string | null;
  /** our id fits the external address (BEP 42); null while that is unknown */
  idMatches: boolean | null;
  verdict: UdpVerdict;
  /** the warning for the log and `status`, null when all is well */
  warning: string | null;
}

/** Walks, traffic samples and the last verdict of one DHT node (see DhtNode.health). */
export class DhtHealth {
  private readonly walks: number[][] = [];
  private readonly samples: Array<{ at: number; traffic: Traffic }> = [];
  private lastVerdict: UdpVerdict = 'settling';

  constructor(private readonly family: 4 | 6, private readonly startedAt = Date.now()) {}

  /** A walk to `target` ended: the ids of the closest nodes that answered it, closest first. */
  recordWalk(target: Uint8Array, closest: readonly Uint8Array[]): void {
    if (closest.length < WALK_NODES) return; // a walk that met few nodes says little about the size
    this.walks.push(closest.slice(0, WALK_NODES).map((id) => normalizedDistance(id, target)));
    if (this.walks.length > MAX_WALKS) this.walks.shift();
  }

  /**
   * Takes a traffic sample (call once a minute) and returns the verdict over the last MAX_SAMPLES
   * samples, with `changed` true when it differs from the previous one (the log says it once).
   */
  sample(traffic: Traffic, now = Date.now()): { verdict: UdpVerdict; changed: boolean; window: Traffic } {
    this.samples.push({ at: now, traffic: { ...traffic } });
    if (this.samples.length > MAX_SAMPLES + 1) this.samples.shift();
    const first = this.samples[0]!.traffic;
    const window = this.samples.length > 1 ? { sent: traffic.sent - first.sent, replied: traffic.replied - first.replied, received: traffic.received - first.received } : traffic;
    const verdict = udpVerdict(window, now - this.startedAt);
    const changed = verdict !== this.lastVerdict && verdict !== 'settling';
    if (verdict !== 'settling') this.lastVerdict = verdict;
    return { verdict, changed, window };
  }

  /** estimateSize() of the last walks */
  size(): number | null {
    return estimateSize(this.walks);
  }

  report(input: { traffic: Traffic; nodes: readonly { id: string; address: string }[]; external: string | null; nodeId: Uint8Array }): HealthReport {
    const { traffic, nodes, external, nodeId } = input;
    const validNodes = nodes.filter((n) => n.id.length === 40 && isBep42Valid(Buffer.from(n.id, 'hex'), n.address)).length;
    const idMatches = external === null ? null : isExemptAddress(external) || isBep42Valid(nodeId, external);
    const verdict = this.lastVerdict;
    return {
      family: this.family,
      replyRatio: traffic.sent > 0 ? traffic.replied / traffic.sent : null,
      sent: traffic.sent,
      sizeEstimate: estimateSize(this.walks),
      walks: this.walks.length,
      nodes: nodes.length,
      validNodes,
      external,
      idMatches,
      verdict,
      warning: warningFor(verdict, this.family),
    };
  }
}

export function warningFor(verdict: UdpVerdict, family: 4 | 6): string | null {
  if (verdict === 'silent') return `no DHT node answers our IPv${family} queries: UDP looks blocked (a firewall, or no network)`;
  if (verdict === 'filtered') return `under ${FILTERED_RATIO * 100}% of our IPv${family} DHT queries are answered: UDP looks filtered (a firewall or NAT dropping replies)`;
  return null;
}

/** The `status` lines of one family's report. */
export function healthLines(h: HealthReport): string[] {
  const v = `IPv${h.family}`;
  const ratio = h.replyRatio === null ? 'no queries yet' : `${Math.round(h.replyRatio * 100)}% of ${h.sent} queries answered`;
  const size = h.sizeEstimate === null ? 'size unknown yet' : `about ${formatCount(h.sizeEstimate)} nodes (from ${h.walks} walks)`;
  const valid = h.nodes ? `${Math.round((h.validNodes / h.nodes) * 100)}% of ${h.nodes} routing-table nodes BEP 42-valid` : 'no routing-table nodes';
  const id = h.idMatches === null ? '' : h.idMatches ? ', node id matches it (BEP 42)' : ', node id does not match it yet (BEP 42)';
  return [
    `DHT health ${v}: ${ratio}, ${size}, ${valid}`,
    `DHT external address ${v}: ${h.external ?? 'not known yet'}${id}`,
    ...(h.warning ? [`Warning: ${h.warning}`] : []),
  ];
}

function formatCount(n: number): string {
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} million`;
  if (n >= 1e4) return `${Math.round(n / 1e3)} thousand`;
  return String(Math.round(n));
}
