// The query chain, after CoreDNS's plugin chain: one ordered list of steps; the route is decided once
// (route.ts), then the query passes the steps that serve its route, in order. Each step either answers
// or hands the query to the next one; past the last step the name is not found. src/resolver.ts puts
// the list together (pkarr → identify → own values → cache → DHT search → upstream); every surface (DNS,
// DoH, NSS, console, control, web) asks through it and only formats what comes back.
import type { Identifier } from '../identity/query.js';
import type { Family, NameResolver, Resolution, ResolveOptions } from '../types.js';
import type { ForwardQuestion, Upstream } from './forwarder.js';
import { routeOf, type Route, type RouteKind, type Scope } from './route.js';

export type { Route, RouteKind, Scope } from './route.js';

/** A DNS message as it came in, for the upstream step (DNS and DoH only). */
export interface WireQuery {
  message: Buffer;
  question: ForwardQuestion;
  transport: 'udp' | 'tcp';
}

export interface Query {
  route: Route;
  /** how long the asker waits for the first address */
  timeoutMs: number;
  /** wait for an address of this family (A: 4, AAAA: 6) */
  family?: Family;
  /** the DHT id of the name, set by the identify step for the steps after it */
  ident?: Identifier;
  wire?: WireQuery;
}

export type Next = (query: Query) => Promise<Resolution>;

export interface Step {
  /** for logs and for reading the list */
  readonly name: string;
  /** the routes this step serves; a query on another route never sees it */
  readonly routes: readonly RouteKind[];
  run(query: Query, next: Next): Promise<Resolution>;
  /** a new number whenever an answer this step gave could now be different (see ChangeCounter) */
  generation?(): number;
  stop?(): void;
}

/**
 * A resolver that says when its answers may have changed: generation() returns a new number whenever
 * an answer it gave could now be different (addresses found, dropped or expired). The DNS surface keeps
 * whole answers only for such a chain, and never longer than a second.
 */
export interface ChangeCounter {
  generation(): number;
}

/** What a surface sees of the chain. */
export interface Chain extends ChangeCounter {
  /** the route of a name for a surface of this scope (route.ts) */
  route(name: string, scope: Scope): Route;
  /** the steps of the query's route, in order */
  run(query: Query): Promise<Resolution>;
  /** some step counts its changes: generation() means something (else the DNS packet cache stays off) */
  readonly countsChanges: boolean;
  /** proxy mode's upstream server, or null (the DNS surface checks it is not itself) */
  readonly upstream: Upstream | null;
}

const NOT_FOUND: Resolution = { status: 'notfound', addresses: [], ttl: 0 };
const KINDS: readonly RouteKind[] = ['pkarr', 'tld', 'upstream', 'refuse'];

export interface QueryChainOptions {
  tld: string;
  /** proxy mode's upstream server, when a step forwards to it */
  upstream?: Upstream | null;
}

export class QueryChain implements Chain, NameResolver {
  readonly countsChanges: boolean;
  readonly upstream: Upstream | null;
  /** the steps of each route, in list order */
  private readonly byRoute: Record<RouteKind, readonly Step[]>;

  constructor(readonly steps: readonly Step[], private readonly options: QueryChainOptions) {
    this.byRoute = Object.fromEntries(KINDS.map((kind) => [kind, steps.filter((s) => s.routes.includes(kind))])) as Record<RouteKind, Step[]>;
    this.countsChanges = steps.some((s) => typeof s.generation === 'function');
    this.upstream = this.byRoute.upstream.length > 0 ? (options.upstream ?? null) : null;
  }

  route(name: string, scope: Scope): Route {
    return routeOf(name, scope, { tld: this.options.tld, upstream: this.byRoute.upstream.length > 0 });
  }

  run(query: Query): Promise<Resolution> {
    if (query.route.kind === 'refuse') return Promise.resolve({ status: 'invalid', addresses: [], ttl: 0, reason: 'not a name this node answers' });
    const steps = this.byRoute[query.route.kind];
    const at = (i: number): Next => (q) => (i < steps.length ? steps[i]!.run(q, at(i + 1)) : Promise.resolve(NOT_FOUND));
    return at(0)(query);
  }

  /** A name as the operator's commands ask it (scope 'any': any name is looked up). */
  resolve(name: string, options: ResolveOptions): Promise<Resolution> {
    return this.run({ route: this.route(name, 'any'), ...options });
  }

  generation(): number {
    let sum = 0;
    for (const step of this.steps) sum += step.generation?.() ?? 0;
    return sum;
  }

  stop(): void {
    for (const step of this.steps) step.stop?.();
  }
}
