// Port forwarding on the home router (UPnP IGD or NAT-PMP), so that DHT nodes and clients outside reach the
// DHT port and the ports of our values (KADNODE-1.x §11). start() returns at once: the gateway is searched in
// the background (bounded), every port is mapped UDP and/or TCP with external = internal, renewed at half its
// lease, and removed on stop() (bounded). No gateway, a refused mapping, a gateway gone: one log line each,
// retried with back-off, never thrown.
import type { Logger } from '../log.js';
import { hostPort } from '../util/host-port.js';
import { defaultFinder } from './portmap-finder.js';
import { GatewayError, MappingError, type GatewayFinder, type MappingClient, type Method, type Protocol } from './portmap-types.js';

export { GatewayError, MappingError } from './portmap-types.js';
export type { GatewayFinder, MapRequest, MapResult, MappingClient, Method, Protocol, UnmapRequest } from './portmap-types.js';
export { defaultFinder } from './portmap-finder.js';

export interface PortSpec {
  port: number;
  protocols: Protocol[];
  description: string;
}

export interface PortMapperOptions {
  ports: PortSpec[];
  /** lease asked for each mapping (default 1920 s, KadNode's NAT-PMP lifetime); renewed at half of what is granted */
  leaseSeconds?: number;
  /**
   * Skip discovery and use this gateway: an IPv4 address means NAT-PMP there, an http:// URL means the
   * UPnP device description at that URL (e.g. http://10.0.0.1:5000/rootDesc.xml).
   */
  gateway?: string;
  /** bound of one gateway search (default 8 s) */
  discoveryTimeoutMs?: number;
  /** bound of one map request (default 5 s) */
  requestTimeoutMs?: number;
  /** bound of the removal of all mappings in stop() (default 3 s) */
  stopTimeoutMs?: number;
  /** first retry after a failure (default 30 s), doubled up to retryMaxMs (default 30 min) */
  retryMinMs?: number;
  retryMaxMs?: number;
}

/** Finds a gateway or throws saying why (GatewayError). Injected by tests. */
export interface PortMapperDeps {
  log: Logger;
  options: PortMapperOptions;
  finder?: GatewayFinder;
}

export type ForwardingState = 'searching' | 'no-gateway' | 'pending' | 'mapped' | 'failed' | 'expired';

export interface ForwardingInfo {
  protocol: Protocol;
  internalPort: number;
  description: string;
  state: ForwardingState;
  externalPort: number | null;
  externalAddress: string | null;
  method: Method | null;
  gateway: string | null;
  /** seconds left of the lease; null when permanent or not mapped */
  leaseLeftS: number | null;
  permanent: boolean;
  /** the last failure, while it is not resolved */
  error: string | null;
  /** seconds until the next attempt after a failure */
  retryInS: number | null;
}

/** The ports KadNode forwards: the DHT port and every explicit value port (ports <= 1 never), UDP and TCP. */
export function forwardedPorts(dhtPort: number, valuePorts: Iterable<number | undefined>): PortSpec[] {
  const specs: PortSpec[] = [{ port: dhtPort, protocols: ['UDP', 'TCP'], description: 'kadnode DHT' }];
  for (const port of valuePorts) {
    if (port === undefined || port <= 1 || specs.some((s) => s.port === port)) continue;
    specs.push({ port, protocols: ['UDP', 'TCP'], description: 'kadnode value' });
  }
  return specs;
}

interface Entry {
  protocol: Protocol;
  internalPort: number;
  description: string;
  externalPort: number | null;
  externalAddress: string | null;
  /** when the last map request succeeded; null: never on this gateway */
  mappedAt: number | null;
  /** as granted by the last success; 0: permanent */
  leaseSeconds: number;
  nextAt: number;
  failures: number;
  error: string | null;
  loggedError: string | null;
  /** the client a map request went to (so stop() removes it even when the answer was lost) */
  sentTo: MappingClient | null;
}

/** A gateway that only does permanent mappings is asked again this often (as KadNode's 30-minute refresh). */
const PERMANENT_RECHECK_MS = 30 * 60_000;

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export class PortMapper {
  private readonly log: Logger;
  private readonly entries = new Map<string, Entry>();
  private readonly finder: GatewayFinder;
  private readonly leaseSeconds: number;
  private readonly discoveryTimeoutMs: number;
  private readonly requestTimeoutMs: number;
  private readonly stopTimeoutMs: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private client: MappingClient | null = null;
  private gatewayFailures = 0;
  private gatewayRetryAt = 0;
  private gatewayError: string | null = null;
  private loggedGatewayError: string | null = null;
  private searched = false;
  private started = false;
  private stopped = false;
  /** a pass is running (set and cleared by run() itself, so a pass that never awaits cannot leave it set) */
  private busy = false;
  private current: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | null = null;
  private readonly abort = new AbortController();
  private stopping: Promise<void> | null = null;

  constructor(deps: PortMapperDeps) {
    const o = deps.options;
    this.log = deps.log;
    this.finder = deps.finder ?? defaultFinder(o.gateway);
    this.leaseSeconds = o.leaseSeconds ?? 1920;
    this.discoveryTimeoutMs = o.discoveryTimeoutMs ?? 8000;
    this.requestTimeoutMs = o.requestTimeoutMs ?? 5000;
    this.stopTimeoutMs = o.stopTimeoutMs ?? 3000;
    this.retryMinMs = o.retryMinMs ?? 30_000;
    this.retryMaxMs = o.retryMaxMs ?? 30 * 60_000;
    for (const spec of o.ports) this.addEntries(spec);
  }

  /** Starts the background work and returns at once. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.gatewayRetryAt = Date.now();
    this.schedule();
  }

  /**
   * Forwards one more port (e.g. a value announced at run time with its own port); both protocols unless
   * told. Returns false when it is already forwarded (or invalid).
   */
  addPort(port: number, description = 'kadnode value', protocols: Protocol[] = ['UDP', 'TCP']): boolean {
    if (this.stopped || !Number.isInteger(port) || port <= 1 || port > 65535) return false;
    const added = this.addEntries({ port, protocols, description });
    if (added) this.schedule();
    return added;
  }

  /** Stops forwarding a port and removes its mappings from the gateway (in the background, bounded). */
  removePort(port: number): boolean {
    const removed = [...this.entries.entries()].filter(([, e]) => e.internalPort === port);
    for (const [key] of removed) this.entries.delete(key);
    const client = this.client;
    for (const [, e] of removed) {
      if (!client || e.sentTo !== client) continue;
      client.unmap({ protocol: e.protocol, internalPort: e.internalPort, externalPort: e.externalPort ?? e.internalPort }, AbortSignal.timeout(this.requestTimeoutMs)).then(
        () => this.log.debug(`Removed ${e.protocol} ${e.internalPort}`),
        (err) => this.log.debug(`Cannot remove ${e.protocol} ${e.internalPort}: ${errorText(err)}`),
      );
    }
    return removed.length > 0;
  }

  /** Removes every mapping this run made from the gateway; bounded by stopTimeoutMs (plus one aborted request). */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  /** What `list forwardings` shows, one entry per protocol and port. */
  forwardings(): ForwardingInfo[] {
    const now = Date.now();
    return [...this.entries.values()].map((e) => {
      const client = this.client;
      const leaseEnd = e.mappedAt !== null && e.leaseSeconds > 0 ? e.mappedAt + e.leaseSeconds * 1000 : null;
      const live = e.mappedAt !== null && (leaseEnd === null || leaseEnd > now);
      let state: ForwardingState;
      if (live) state = 'mapped';
      else if (e.mappedAt !== null && !e.error) state = 'expired';
      else if (!client) state = this.searched && this.gatewayError ? 'no-gateway' : 'searching';
      else state = e.error ? 'failed' : 'pending';
      const retryAt = !client ? (this.gatewayError ? this.gatewayRetryAt : null) : e.error ? e.nextAt : null;
      return {
        protocol: e.protocol,
        internalPort: e.internalPort,
        description: e.description,
        state,
        externalPort: e.mappedAt !== null ? e.externalPort : null,
        externalAddress: e.mappedAt !== null ? e.externalAddress : null,
        method: client?.method ?? (e.mappedAt !== null ? e.sentTo?.method ?? null : null),
        gateway: client?.gateway ?? (e.mappedAt !== null ? e.sentTo?.gateway ?? null : null),
        leaseLeftS: live && leaseEnd !== null ? Math.max(0, Math.round((leaseEnd - now) / 1000)) : null,
        permanent: live && leaseEnd === null,
        error: !client ? this.gatewayError : e.error,
        retryInS: retryAt === null ? null : Math.max(0, Math.round((retryAt - now) / 1000)),
      };
    });
  }

  /** The lines of `list forwardings`: protocol, internal port, external address:port, method, gateway, lease or error. */
  list(): string[] {
    return this.forwardings().map((f) => {
      const external = f.externalPort !== null ? hostPort(f.externalAddress ?? '?', f.externalPort) : '-';
      const via = f.method ? ` ${f.method} ${f.gateway}` : '';
      const retry = f.retryInS !== null ? `, retry in ${f.retryInS} s` : '';
      let status: string;
      switch (f.state) {
        case 'mapped':
          status = f.permanent ? 'lease permanent' : `lease ${f.leaseLeftS} s left`;
          if (f.error) status += `, renewal failed: ${f.error}${retry}`;
          break;
        case 'expired':
          status = 'lease expired';
          break;
        case 'searching':
          status = 'searching for a gateway';
          break;
        case 'no-gateway':
          status = `no gateway: ${f.error}${retry}`;
          break;
        case 'pending':
          status = 'mapping';
          break;
        case 'failed':
          status = `error: ${f.error}${retry}`;
          break;
      }
      return `${f.protocol} ${f.internalPort} -> ${external}${via} ${status} (${f.description})`;
    });
  }

  // ---------------------------------------------------------------- internals

  private addEntries(spec: PortSpec): boolean {
    let added = false;
    for (const protocol of spec.protocols) {
      const key = `${protocol}/${spec.port}`;
      if (this.entries.has(key)) continue;
      this.entries.set(key, {
        protocol,
        internalPort: spec.port,
        description: spec.description,
        externalPort: null,
        externalAddress: null,
        mappedAt: null,
        leaseSeconds: 0,
        nextAt: Date.now(),
        failures: 0,
        error: null,
        loggedError: null,
        sentTo: null,
      });
      added = true;
    }
    return added;
  }

  private backoff(failures: number): number {
    return Math.min(this.retryMaxMs, this.retryMinMs * 2 ** Math.max(0, failures - 1));
  }

  private schedule(): void {
    if (!this.started || this.stopped || this.busy) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    let next = Infinity;
    if (!this.client) next = this.entries.size > 0 ? this.gatewayRetryAt : Infinity;
    else for (const e of this.entries.values()) next = Math.min(next, e.nextAt);
    if (next === Infinity) return;
    const delay = Math.min(Math.max(0, next - Date.now()), 2 ** 31 - 1);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.current = this.run();
    }, delay);
    this.timer.unref();
  }

  /** One pass: find a gateway if there is none, then (re)map every entry that is due. Never throws. */
  private async run(): Promise<void> {
    this.busy = true;
    try {
      if (!this.client) await this.discover();
      for (;;) {
        const client = this.client;
        if (!client || this.stopped) break;
        const now = Date.now();
        let due: Entry | undefined;
        for (const e of this.entries.values()) if (e.nextAt <= now && (!due || e.nextAt < due.nextAt)) due = e;
        if (!due) break;
        await this.process(client, due);
      }
    } catch (err) {
      this.log.warn(`Unexpected failure: ${errorText(err)}`);
    } finally {
      this.busy = false;
      this.schedule();
    }
  }

  private async discover(): Promise<void> {
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.discoveryTimeoutMs)]);
    let client: MappingClient;
    try {
      client = await this.finder(signal);
    } catch (err) {
      if (this.stopped) return;
      this.searched = true;
      this.gatewayFailures++;
      const delay = this.backoff(this.gatewayFailures);
      this.gatewayRetryAt = Date.now() + delay;
      this.gatewayError = (err as Error)?.name === 'TimeoutError' ? `no gateway found within ${this.discoveryTimeoutMs} ms` : errorText(err);
      const line = `No UPnP/NAT-PMP gateway: ${this.gatewayError}; retrying in ${Math.round(delay / 1000)} s, then less often`;
      if (this.loggedGatewayError !== this.gatewayError) this.log.info(line);
      else this.log.debug(line);
      this.loggedGatewayError = this.gatewayError;
      return;
    }
    if (this.stopped) {
      client.close();
      return;
    }
    this.searched = true;
    this.client = client;
    this.gatewayFailures = 0;
    this.gatewayError = null;
    this.loggedGatewayError = null;
    this.log.info(`Gateway: ${client.method} at ${client.gateway}${client.externalAddress ? `, external address ${client.externalAddress}` : ''}`);
    // a gateway (new, or back after a failure) may know nothing of our mappings: map all now
    const now = Date.now();
    for (const e of this.entries.values()) {
      e.nextAt = now;
      e.failures = 0;
    }
  }

  private async process(client: MappingClient, e: Entry): Promise<void> {
    const signal = AbortSignal.any([this.abort.signal, AbortSignal.timeout(this.requestTimeoutMs)]);
    const what = `${e.protocol} ${e.internalPort}`;
    e.sentTo = client;
    try {
      const r = await client.map(
        { protocol: e.protocol, internalPort: e.internalPort, externalPort: e.externalPort ?? e.internalPort, leaseSeconds: this.leaseSeconds, description: e.description },
        signal,
      );
      if (this.stopped) return;
      if (this.entries.get(`${e.protocol}/${e.internalPort}`) !== e) {
        // removePort() while this request was out: its removal may have overtaken the mapping
        client.unmap({ protocol: e.protocol, internalPort: e.internalPort, externalPort: r.externalPort }, AbortSignal.timeout(this.requestTimeoutMs)).catch(() => undefined);
        return;
      }
      const now = Date.now();
      const changed = e.mappedAt === null || e.externalPort !== r.externalPort || e.error !== null;
      e.externalPort = r.externalPort;
      e.externalAddress = r.externalAddress ?? client.externalAddress;
      e.mappedAt = now;
      e.leaseSeconds = r.leaseSeconds;
      e.failures = 0;
      e.error = null;
      e.loggedError = null;
      e.nextAt = now + (r.leaseSeconds > 0 ? Math.max(1000, (r.leaseSeconds * 1000) / 2) : PERMANENT_RECHECK_MS);
      const lease = r.leaseSeconds > 0 ? `lease ${r.leaseSeconds} s` : 'permanent';
      const line = `Mapped ${what} -> ${hostPort(e.externalAddress ?? '?', r.externalPort)} via ${client.method} (${client.gateway}), ${lease}`;
      if (changed) this.log.info(line);
      else this.log.debug(line.replace('Mapped', 'Renewed'));
      if (r.externalPort !== e.internalPort && changed) {
        this.log.warn(`${what}: the gateway gave external port ${r.externalPort}; peers that use the announced port ${e.internalPort} will not get through`);
      }
    } catch (err) {
      if (this.stopped) return;
      if (err instanceof MappingError) {
        e.failures++;
        e.error = err.message;
        const delay = this.backoff(e.failures);
        const leaseEnd = e.mappedAt !== null && e.leaseSeconds > 0 ? e.mappedAt + e.leaseSeconds * 1000 : Infinity;
        // a renewal that failed is tried again before the lease runs out
        e.nextAt = Math.min(Date.now() + delay, Math.max(Date.now() + 1000, leaseEnd - 5000));
        const line = `Cannot map ${what} via ${client.method} (${client.gateway}): ${err.message}; retrying in ${Math.round((e.nextAt - Date.now()) / 1000)} s`;
        if (e.loggedError !== e.error) this.log.warn(line);
        else this.log.debug(line);
        e.loggedError = e.error;
        return;
      }
      this.loseGateway(client, err);
    }
  }

  private loseGateway(client: MappingClient, err: unknown): void {
    if (this.client !== client) return;
    this.client = null;
    client.close();
    this.gatewayFailures = Math.max(1, this.gatewayFailures + 1);
    const delay = this.backoff(this.gatewayFailures);
    this.gatewayRetryAt = Date.now() + delay;
    this.gatewayError = (err as Error)?.name === 'TimeoutError' ? `${client.method} gateway ${client.gateway} did not answer within ${this.requestTimeoutMs} ms` : errorText(err);
    const line = `Lost gateway ${client.method} at ${client.gateway}: ${this.gatewayError}; searching again in ${Math.round(delay / 1000)} s`;
    if (this.loggedGatewayError !== this.gatewayError) this.log.warn(line);
    else this.log.debug(line);
    this.loggedGatewayError = this.gatewayError;
  }

  private async shutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.abort.abort();
    await this.current;
    const client = this.client;
    this.client = null;
    if (!client) return;
    const targets = [...this.entries.values()].filter((e) => e.sentTo === client);
    if (targets.length > 0) {
      // a referenced timer: the bound holds even when nothing else keeps the process alive
      const bound = new AbortController();
      const timer = setTimeout(() => bound.abort(new GatewayError(`no answer within ${this.stopTimeoutMs} ms`)), this.stopTimeoutMs);
      const results = await Promise.allSettled(
        targets.map((e) => client.unmap({ protocol: e.protocol, internalPort: e.internalPort, externalPort: e.externalPort ?? e.internalPort }, bound.signal)),
      );
      clearTimeout(timer);
      const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed.length === 0) this.log.info(`Removed ${plural(targets.length, 'port mapping')} from ${client.method} gateway ${client.gateway}`);
      else this.log.warn(`Could not remove ${failed.length} of ${plural(targets.length, 'port mapping')} from ${client.method} gateway ${client.gateway}: ${errorText(failed[0]!.reason)}`);
    }
    client.close();
  }
}
