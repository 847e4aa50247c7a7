// Step "pkarr", first on the pkarr route: a valid signed packet answers (src/pkarr/hook.ts: our own, the
// cache, or a BEP 44 get). For the key itself (`<z32>`) the rest of the chain (the announced,
// AUTH-verified addresses) runs at the same time and answers when the key has no packet, so the name works
// however its owner publishes; names below the key exist only in the packet.
import type { PkarrHook } from '../pkarr/hook.js';
import type { Resolution } from '../types.js';
import type { Next, Query, Step } from './chain.js';

export class PkarrStep implements Step {
  readonly name = 'pkarr';
  readonly routes = ['pkarr'] as const;
  private readonly hook: PkarrHook;

  constructor(deps: { pkarr: PkarrHook }) {
    this.hook = deps.pkarr;
  }

  async run(query: Query, next: Next): Promise<Resolution> {
    if (query.route.kind !== 'pkarr') return next(query);
    const pname = query.route.pkarr;
    const hit = this.hook.cached(pname.publicKey);
    if (hit && hit !== 'miss') return this.hook.resolution(hit, pname);
    const lookup = this.hook.lookup(pname.publicKey, query.timeoutMs);
    const fallback = pname.sub === '' ? next(query) : null;
    fallback?.catch(() => undefined); // awaited below only without a packet
    const result = await lookup;
    if (result.status === 'found') return this.hook.resolution(result.entry, pname);
    if (fallback) return fallback;
    return { status: result.status, addresses: [], ttl: 0 };
  }
}
