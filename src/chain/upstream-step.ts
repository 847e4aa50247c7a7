// Step "upstream", last in the chain and only on the upstream route (proxy mode, --dns-server): the DNS
// message as the client sent it goes to the upstream server (forwarder.ts); its answer comes back whole in
// `forwarded`. A query without a DNS message (NSS, commands) never gets this route.
import type { Logger } from '../log.js';
import type { Resolution } from '../types.js';
import type { Next, Query, Step } from './chain.js';
import { DnsForwarder, type DnsForwarderOptions, type Upstream } from './forwarder.js';

export class UpstreamStep implements Step {
  readonly name = 'upstream';
  readonly routes = ['upstream'] as const;
  readonly upstream: Upstream;
  readonly forwarder: DnsForwarder;

  constructor(deps: { log: Logger }, options: DnsForwarderOptions) {
    this.upstream = options.upstream;
    this.forwarder = new DnsForwarder({ log: deps.log, options });
  }

  async run(query: Query, next: Next): Promise<Resolution> {
    const wire = query.wire;
    if (!wire) return next(query);
    const outcome = await this.forwarder.forward(wire.message, wire.question, wire.transport);
    if (!outcome.ok) return { status: 'timeout', addresses: [], ttl: 0, reason: outcome.reason };
    return { status: 'found', addresses: [], ttl: 0, forwarded: outcome.answer };
  }

  stop(): void {
    this.forwarder.stop();
  }
}
