// The daemon, read like KadNode's main.c: the core every feature builds on (the DHTs, AUTH, the announcer,
// the query chain, the command table), then the feature table of src/features.ts, each enabled feature
// created and started in order, stopped in reverse.
import { randomBytes } from 'node:crypto';
import { Announcer, DEFAULT_ANNOUNCER_OPTIONS } from './dht/announcer.js';
import { AuthModule } from './dht/auth.js';
import { BobAuthModule } from './dht/bob-auth.js';
import { OwnAddresses } from './net/own-addresses.js';
import type { Family } from './dht/compact.js';
import { DhtGroup } from './dht/group.js';
import { DhtNode } from './dht/node.js';
import { DEFAULT_ITEM_LIMITS } from './dht/item-store.js';
import { SeqMemory } from './dht/seq-memory.js';
import { CommandTable } from './commands.js';
import type { Config } from './config.js';
import { dhtAddress, FEATURES, ModuleStack, type Core } from './features.js';
import type { Logger } from './log.js';
import type { PortMapper } from './net/portmap.js';
import { PkarrHook } from './pkarr/hook.js';
import type { PkarrPublisher } from './pkarr/publisher.js';
import { PkarrRelay } from './pkarr/relay.js';
import { DEFAULT_RESOLVER_OPTIONS, Resolver } from './resolver.js';
import { UpstreamStep } from './chain/upstream-step.js';
import { ObservedChain, QueryStats } from './surfaces/query-stats.js';
import { Telemetry } from './telemetry.js';
import { createNodeControl, makeValue } from './node-control.js';
import { VERSION_LINE } from './version.js';

// Announcements we store live 35 minutes: KadNode 1.x and others announce every 30 minutes counted from
// the end of a walk, which may take a while (src/dht/announcer.ts).
export const STORAGE_LIMITS = { maxAgeMs: 35 * 60_000, maxTotal: 16384, maxPerId: 128 };

/** --mode: the IPv4 DHT (BEP 5), the IPv6 DHT (BEP 32), or both, each with its own routing table. */
function dhtFamilies(mode: Config['mode']): Family[] {
  return mode === 'dual' ? [4, 6] : mode === 'ipv6' ? [6] : [4];
}

/** The DHTs of --mode, sharing one node id and one seq memory (BEP 44 items never go back, src/dht/seq-memory.ts). */
function createDhts(config: Config, log: Logger, seqs: SeqMemory): DhtGroup {
  const families = dhtFamilies(config.mode);
  const nodeId = randomBytes(20);
  return new DhtGroup(
    families.map(
      (family) =>
        new DhtNode(log.child(family === 4 ? 'DHT' : 'DHT6'), {
          family,
          port: config.port,
          address: dhtAddress(config, family),
          storage: STORAGE_LIMITS,
          maxSearches: DEFAULT_RESOLVER_OPTIONS.maxSearches,
          nodeId,
          items: { ...DEFAULT_ITEM_LIMITS, seqs },
          // BEP 32 `want` wherever IPv6 runs; the IPv4-only DHT sends plain BEP 5 messages
          ...(families.includes(6) ? { want: families } : {}),
        }),
    ),
  );
}

/** The core: modules every feature uses, made before anything binds. */
function createCore(config: Config, log: Logger, bound: readonly string[]): Core {
  const seqs = new SeqMemory();
  const dht = createDhts(config, log, seqs);
  const announcer = new Announcer(dht, log.child('VAL'), DEFAULT_ANNOUNCER_OPTIONS);
  // Addresses a bound AUTH challenge may name; the port mapper comes with its feature, so read lazily.
  const own = new OwnAddresses({
    external: () => [...dht.nodes.map((n) => n.external.address), ...(core.portMapper?.forwardings().map((f) => f.externalAddress) ?? [])],
  });
  const send = (packet: Buffer, port: number, address: string) => dht.sendRaw(packet, port, address);
  const auth = new AuthModule({ send, secretKeyFor: (id) => announcer.secretKeyFor(id), isOwnAddress: (address) => own.has(address), log: log.child('AUTH') }, { accept1x: !config.authRefuse1x });
  const bob = new BobAuthModule({ send, keys: config.bobKeys, log: log.child('BOB') });
  // loggers nest: PKARR, PKARR/PUB, PKARR/RELAY
  const pkarr = new PkarrHook({ dht, log: log.child('PKARR'), seqs });
  const relay = new PkarrRelay({ hook: pkarr, dht, log: log.child('PKARR').child('RELAY') });
  // The query chain every surface asks; proxy mode's forwarder is its last step (logs as DNS/FWD).
  const upstream = config.dnsServer ? new UpstreamStep({ log: log.child('DNS').child('FWD') }, { upstream: config.dnsServer, timeoutMs: config.dnsTimeoutMs }) : null;
  const resolver = new Resolver(
    { dht, own: announcer, log: log.child('RES'), keys: config.keys, verifier: auth, bobVerifier: bob, pkarr, families: () => dht.nodes.map((n) => n.family), upstream },
    { ...DEFAULT_RESOLVER_OPTIONS, tld: config.queryTld },
  );
  const queries = new QueryStats();
  const startedAt = Date.now();
  const storageMax = STORAGE_LIMITS.maxTotal;
  // publisher and port mapper: set by their features, so read through getters
  const telemetry = new Telemetry({
    versionLine: VERSION_LINE, startedAt, bound, dht, announcer, resolver, auth, pkarr, storageMax,
    get publisher() { return core.publisher; },
    get portMapper() { return core.portMapper; },
    dns: () => (core.dns ? { packetCacheEntries: core.dns.packets?.size ?? 0, packetCacheHits: core.dns.packets?.hits ?? 0, rateLimited: core.dns.rateLimited } : null),
  });
  const commands = new CommandTable({
    resolver: new ObservedChain(resolver, queries, 'command'),
    lookupTimeoutMs: config.lookupTimeoutMs,
    node: createNodeControl({
      config, dht, announcer, resolver, auth, versionLine: VERSION_LINE, startedAt, storageMax, bound: bound as string[],
      get portMapper() { return core.portMapper; },
      constants: {
        ANNOUNCE_INTERVAL_MIN: DEFAULT_ANNOUNCER_OPTIONS.intervalMs / 60_000,
        STORAGE_MAX_AGE_MIN: STORAGE_LIMITS.maxAgeMs / 60_000,
        STORAGE_MAX_TOTAL: STORAGE_LIMITS.maxTotal,
        STORAGE_MAX_PER_ID: STORAGE_LIMITS.maxPerId,
        RESOLVER_MAX_CACHED: DEFAULT_RESOLVER_OPTIONS.maxCached,
        RESOLVER_MAX_SEARCHES: DEFAULT_RESOLVER_OPTIONS.maxSearches,
        RESOLVER_FRESH_S: DEFAULT_RESOLVER_OPTIONS.freshMs / 1000,
        DNS_TIMEOUT_MS: config.dnsTimeoutMs,
        LOOKUP_TIMEOUT_MS: config.lookupTimeoutMs,
      },
    }),
  });
  const core: Core = { log, dht, auth, bob, announcer, resolver, pkarr, relay, commands, queries, telemetry, values: [], publisher: null, portMapper: null, dns: null };
  return core;
}

export class Daemon {
  private readonly core: Core;
  /** the features started so far, stopped in reverse */
  private readonly started: ModuleStack;
  private stopping: Promise<void> | null = null;
  /** "DHT 0.0.0.0:6881 (udp)", ... for status, in start order */
  private readonly bound: string[] = [];

  constructor(private readonly config: Config, private readonly log: Logger) {
    this.core = createCore(config, log, this.bound);
    this.started = new ModuleStack(log);
  }

  /** one DHT per family of --mode */
  get dht(): DhtGroup { return this.core.dht; }
  get announcer(): Announcer { return this.core.announcer; }
  get resolver(): Resolver { return this.core.resolver; }
  get auth(): AuthModule { return this.core.auth; }
  /** KadNode 2.x key names: challenges for our --bob-load-key keys, and proofs of the names we resolve */
  get bob(): BobAuthModule { return this.core.bob; }
  get commands(): CommandTable { return this.core.commands; }
  /** public-key names (PKARR): the resolver's step, our publisher (--pkarr-key, once started), the relay API */
  get pkarr(): PkarrHook { return this.core.pkarr; }
  get publisher(): PkarrPublisher | null { return this.core.publisher; }
  get relay(): PkarrRelay { return this.core.relay; }
  /** UPnP/NAT-PMP once started; null with --fwd-disable or an IPv6-only DHT (no NAT to open) */
  get portMapper(): PortMapper | null { return this.core.portMapper; }
  /** what clients asked (every surface) and the daemon's figures, for the dashboard and /metrics */
  get queries(): QueryStats { return this.core.queries; }
  get telemetry(): Telemetry { return this.core.telemetry; }

  /** Start everything or nothing: a failure stops what already started, in reverse, and rethrows. */
  async start(): Promise<void> {
    const { config, core } = this;
    try {
      // Value ids are checked before any socket opens, so a bad one starts nothing.
      core.values = config.valueIds.map((spec) => makeValue(config, spec.query, spec.port));
      for (const spec of FEATURES) {
        if (!spec.enabled(config)) continue;
        const feature = await spec.create(core, config);
        await feature.start();
        this.started.push(feature, spec.name);
        this.bound.push(...feature.bound());
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    this.log.info('Ready.');
  }

  stop(): Promise<void> {
    this.stopping ??= this.started.stop();
    return this.stopping;
  }
}
