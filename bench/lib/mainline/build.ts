// The routing tables of a network that has run for a long time, built at once: each node gets, for every
// bucket (common prefix length b with its own id), up to K nodes drawn at random from the nodes whose
// ids share exactly b leading bits with its own, until its own subtree holds nobody else. The pool
// includes nodes behind NAT and nodes that left before the run (their entries linger), in proportion.
import { K, type Contact, type SimNode } from './node.js';

/** index of the first element of sorted >= v */
function lowerBound(sorted: Uint32Array, v: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Fills the tables of `nodes` from `pool` (every contact a table may name). `accept` filters what a node
 * may hold (routers keep only reachable nodes, as a bootstrap router hands out recently seen ones).
 */
export function buildTables(nodes: SimNode[], pool: Contact[], random: () => number, accept: (node: SimNode, c: Contact) => boolean): void {
  const sorted = [...pool].sort((a, b) => a.hi - b.hi || a.lo - b.lo);
  const his = Uint32Array.from(sorted, (c) => c.hi);
  for (const node of nodes) {
    const x = node.self.hi;
    for (let b = 0; b < 31; b++) {
      const shift = 31 - b;
      const span = 2 ** shift;
      const own = Math.floor(x / span) * span;
      // the block of ids that share b leading bits with x and differ in bit b
      const sibling = (x >>> shift) & 1 ? own - span : own + span;
      const from = lowerBound(his, sibling);
      const to = lowerBound(his, sibling + span);
      const picks: number[] = [];
      if (to - from <= K * 3) {
        const all = sorted.slice(from, to).filter((c) => c !== node.self && accept(node, c));
        for (let i = all.length - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [all[i], all[j]] = [all[j]!, all[i]!];
        }
        for (const c of all.slice(0, K)) picks.push(c.idx);
      } else {
        for (let tries = 0; tries < K * 8 && picks.length < K; tries++) {
          const c = sorted[from + Math.floor(random() * (to - from))]!;
          if (c !== node.self && accept(node, c) && !picks.includes(c.idx)) picks.push(c.idx);
        }
      }
      if (picks.length) node.buckets[b] = picks;
      // deeper buckets only while the node's own half at this depth holds someone else
      const ownFrom = lowerBound(his, own);
      const ownTo = lowerBound(his, own + span);
      if (ownTo - ownFrom <= 1) break;
    }
  }
}
