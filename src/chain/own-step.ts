// Step "own values": a name we announce ourselves (--value-id, `announce`) answers with loopback and its
// port at once, without the DHT.
import type { Resolution } from '../types.js';
import type { Next, Query, Step } from './chain.js';
import { identOf } from './identify-step.js';

export interface OwnValues {
  portFor(id: Buffer): number | undefined;
}

// Own values never change under us; downstream caches may keep them as long as a fresh answer.
export const OWN_VALUE_TTL = 60;

export class OwnValuesStep implements Step {
  readonly name = 'own values';
  readonly routes = ['pkarr', 'tld'] as const;

  constructor(private readonly deps: { own: OwnValues }) {}

  async run(query: Query, next: Next): Promise<Resolution> {
    const port = this.deps.own.portFor(identOf(query).id);
    if (port === undefined) return next(query);
    return { status: 'found', addresses: [{ address: '127.0.0.1', port, family: 4 }, { address: '::1', port, family: 6 }], ttl: OWN_VALUE_TTL };
  }
}
