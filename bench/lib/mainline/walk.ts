// The iterative Kademlia walk of a simulated node (find_node or get_peers towards a target): alpha
// queries in flight, the K closest candidates that did not fail decide when it ends, each candidate
// tried `tries` times (jech's dht, KadNode 1.x, tries 3; libtorrent once), bounded in queries and time.
// Then, for announcements, announce_peer to the K closest nodes that replied with a token.
import { K, type Contact, type SimNode } from './node.js';

export interface WalkOptions {
  q: 'find_node' | 'get_peers';
  alpha: number;
  tries: number;
  timeoutMs: number;
  maxQueries: number;
  maxMs: number;
}

export interface WalkResult {
  /** nodes that replied, closest first, with the token they gave */
  responders: Array<{ c: Contact; token?: Buffer }>;
  values: Set<string>;
  queries: number;
  ms: number;
}

const NEW = 0;
const ASKED = 1;
const REPLIED = 2;
const FAILED = 3;

interface Candidate {
  c: Contact;
  h: number;
  l: number;
  state: number;
  tries: number;
  token?: Buffer;
}

/** Walks towards target from node's own table; done is called once (never if the node leaves on the way). */
export function walk(node: SimNode, target: Buffer, o: WalkOptions, done: (r: WalkResult) => void): void {
  const t0 = performance.now();
  const thi = target.readUInt32BE(0);
  const tlo = target.readUInt32BE(4);
  const cands: Candidate[] = [];
  const seen = new Set<number>([node.self.idx]);
  const values = new Set<string>();
  let inflight = 0;
  let queries = 0;
  let finished = false;
  const contacts = node.net.contacts;

  const add = (idx: number) => {
    if (seen.has(idx)) return;
    seen.add(idx);
    const c = contacts[idx]!;
    const h = (c.hi ^ thi) >>> 0;
    const l = (c.lo ^ tlo) >>> 0;
    let pos = cands.length;
    while (pos > 0 && (cands[pos - 1]!.h > h || (cands[pos - 1]!.h === h && cands[pos - 1]!.l > l))) pos--;
    cands.splice(pos, 0, { c, h, l, state: NEW, tries: 0 });
  };

  const finish = () => {
    if (finished) return;
    finished = true;
    clearTimeout(bound);
    const responders = cands.filter((x) => x.state === REPLIED).map((x) => ({ c: x.c, ...(x.token ? { token: x.token } : {}) }));
    done({ responders, values, queries, ms: performance.now() - t0 });
  };

  const ask = (cand: Candidate) => {
    cand.state = ASKED;
    cand.tries++;
    inflight++;
    queries++;
    const q = o.q === 'find_node' ? { q: 'find_node', target } : { q: 'get_peers', infoHash: target };
    node.query(cand.c, q, o.timeoutMs, (reply) => {
      inflight--;
      if (finished) return;
      if (reply && reply.y === 'r') {
        cand.state = REPLIED;
        if (reply.token) cand.token = reply.token;
        for (const v of reply.values ?? []) values.add(v);
        for (const idx of reply.nodes ?? []) add(idx);
      } else {
        cand.state = !reply && cand.tries < o.tries ? NEW : FAILED;
      }
      step();
    });
  };

  const step = () => {
    if (finished || !node.alive) return;
    let considered = 0;
    for (const cand of cands) {
      if (cand.state === FAILED) continue;
      if (++considered > K) break;
      if (cand.state === NEW && inflight < o.alpha && queries < o.maxQueries) ask(cand);
    }
    if (inflight === 0) finish();
  };

  const bound = setTimeout(finish, o.maxMs);
  for (const idx of node.closest(target, K * 2)) add(idx);
  step();
}

/** announce_peer to the K closest responders that gave a token, each tried `tries` times; done(acks). */
export function announceTo(node: SimNode, infoHash: Buffer, port: number, responders: WalkResult['responders'], tries: number, timeoutMs: number, done: (acks: number, sentTo: Contact[]) => void): void {
  const targets = responders.filter((r) => r.token).slice(0, K);
  let open = targets.length;
  let acks = 0;
  if (open === 0) return done(0, []);
  for (const r of targets) {
    const attempt = (n: number) =>
      node.query(r.c, { q: 'announce_peer', infoHash, port, token: r.token! }, timeoutMs, (reply) => {
        if (reply?.y === 'r') acks++;
        else if (!reply && n < tries) return attempt(n + 1);
        if (--open === 0) done(acks, targets.map((x) => x.c));
      });
    attempt(1);
  }
}
