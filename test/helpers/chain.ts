// A query chain around a test double: the route decision (pkarr zone | TLD | upstream | refuse) and the
// upstream step are the real ones; the steps for names are one canned NameResolver, asked with the name
// as the surface got it. Surfaces take a chain, so their tests build one of these.
import { QueryChain, type ChangeCounter, type Step } from '../../src/chain/chain.js';
import type { Upstream } from '../../src/chain/forwarder.js';
import { UpstreamStep } from '../../src/chain/upstream-step.js';
import { silentLogger, type Logger } from '../../src/log.js';
import type { NameResolver } from '../../src/types.js';

export interface TestChainOptions {
  tld?: string;
  /** proxy mode: the upstream step forwards here */
  upstream?: Upstream | null;
  /** the forwarder's deadline (the DNS surface's timeoutMs in the daemon) */
  timeoutMs?: number;
  maxForwarded?: number;
  /** the forwarder logs as DNS/FWD under it */
  log?: Logger;
}

export function chainOver(resolver: NameResolver & Partial<ChangeCounter>, options: TestChainOptions = {}): QueryChain {
  const names: Step = {
    name: 'test resolver',
    routes: ['pkarr', 'tld'],
    run: (query) => resolver.resolve(query.route.name, { timeoutMs: query.timeoutMs, ...(query.family ? { family: query.family } : {}) }),
    ...(typeof resolver.generation === 'function' ? { generation: () => resolver.generation!() } : {}),
  };
  const upstream = options.upstream
    ? new UpstreamStep({ log: (options.log ?? silentLogger).child('DNS').child('FWD') }, { upstream: options.upstream, timeoutMs: options.timeoutMs ?? 1000, maxInFlight: options.maxForwarded })
    : null;
  return new QueryChain(upstream ? [names, upstream] : [names], { tld: options.tld ?? '.p2p', upstream: options.upstream ?? null });
}
