// Wires the modules together: start order DHT → announcer → resolver → surfaces, stop in reverse.
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { Announcer, DEFAULT_ANNOUNCER_OPTIONS } from './dht/announcer.js';
import { AuthModule } from './dht/auth.js';
import { BobAuthModule } from './dht/bob-auth.js';
import { OwnAddresses } from './net/own-addresses.js';
import type { Family } from './dht/compact.js';
import { DhtGroup } from './dht/group.js';
import { DhtNode } from './dht/node.js';
import { DEFAULT_ITEM_LIMITS } from './dht/item-store.js';
import { SeqMemory } from './dht/seq-memory.js';
import { CommandTable, formatAddress } from './commands.js';
import { DEFAULT_PEERFILE, DEFAULTS, type Config } from './config.js';
import type { Logger } from './log.js';
import { LPD_PORT, LpdService } from './net/lpd.js';
import { MAX_EXPORTED_PEERS, PeerFileService } from './net/peerfile.js';
import { forwardedPorts, PortMapper } from './net/portmap.js';
import { PkarrHook } from './pkarr/hook.js';
import { PkarrPublisher } from './pkarr/publisher.js';
import { PkarrRelay } from './pkarr/relay.js';
import { DEFAULT_RESOLVER_OPTIONS, Resolver } from './resolver.js';
import { ConsoleSurface } from './surfaces/console.js';
import { ControlSurface } from './surfaces/control.js';
import { DnsServer } from './surfaces/dns.js';
import { NssSurface } from './surfaces/nss.js';
import { WebSurface } from './surfaces/web.js';
import { WebDashboard } from './surfaces/web-dashboard.js';
import { DaemonMetrics } from './surfaces/metrics.js';
import { ObservedResolver, QueryStats } from './surfaces/query-stats.js';
import { Telemetry } from './telemetry.js';
import { createNodeControl, makeValue } from './node-control.js';
import { VERSION, VERSION_LINE } from './version.js';

// Announcements we store live 35 minutes: KadNode 1.x and others announce every 30 minutes counted from
// the end of a walk, which may take a while (src/dht/announcer.ts).
export const STORAGE_LIMITS = { maxAgeMs: 35 * 60_000, maxTotal: 16384, maxPerId: 128 };

interface Stoppable {
  stop(): void | Promise<void>;
}

/** --mode: the IPv4 DHT (BEP 5), the IPv6 DHT (BEP 32), or both, each with its own routing table. */
function dhtFamilies(mode: Config['mode']): Family[] {
  return mode === 'dual' ? [4, 6] : mode === 'ipv6' ? [6] : [4];
}

/** --dht-addr binds the DHT of its family; a DHT of the other family binds all its addresses. */
function dhtAddress(config: Config, family: Family): string {
  if (isIP(config.dhtAddress) === family) return config.dhtAddress;
  return family === 4 ? '0.0.0.0' : '::';
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

export class Daemon {
  private readonly started: Stoppable[] = [];
  /** one DHT per family of --mode */
  readonly dht: DhtGroup;
  readonly announcer: Announcer;
  readonly resolver: Resolver;
  readonly auth: AuthModule;
  /** KadNode 2.x key names: challenges for our --bob-load-key keys, and proofs of the names we resolve */
  readonly bob: BobAuthModule;
  readonly commands: CommandTable;
  /** public-key names (PKARR): the resolver's step, our publisher (--pkarr-key), the relay API */
  readonly pkarr: PkarrHook;
  readonly publisher: PkarrPublisher | null;
  readonly relay: PkarrRelay;
  /** UPnP/NAT-PMP; null with --fwd-disable or an IPv6-only DHT (no NAT to open) */
  readonly portMapper: PortMapper | null;
  private stopping: Promise<void> | null = null;
  /** what clients asked (every surface) and the daemon's figures, for the dashboard and /metrics */
  readonly queries = new QueryStats();
  readonly telemetry: Telemetry;
  private dns: DnsServer | null = null;
  /** "DHT 0.0.0.0:6881 (udp)", ... for status */
  private readonly bound: string[] = [];

  constructor(private readonly config: Config, private readonly log: Logger) {
    const seqs = new SeqMemory();
    this.dht = createDhts(config, log, seqs);
    this.announcer = new Announcer(this.dht, log.child('VAL'), DEFAULT_ANNOUNCER_OPTIONS);
    // Addresses a bound AUTH challenge may name: the port mapper is created below, so read lazily.
    const own = new OwnAddresses({
      external: () => [...this.dht.nodes.map((n) => n.external.address), ...(this.portMapper?.forwardings().map((f) => f.externalAddress) ?? [])],
    });
    this.auth = new AuthModule(
      {
        send: (packet, port, address) => this.dht.sendRaw(packet, port, address),
        secretKeyFor: (id) => this.announcer.secretKeyFor(id),
        isOwnAddress: (address) => own.has(address),
        log: log.child('AUTH'),
      },
      { accept1x: !config.authRefuse1x },
    );
    this.bob = new BobAuthModule({ send: (packet, port, address) => this.dht.sendRaw(packet, port, address), keys: config.bobKeys, log: log.child('BOB') });
    this.pkarr = new PkarrHook({ dht: this.dht, log: log.child('PKARR'), seqs });
    this.publisher = config.pkarr ? new PkarrPublisher({ dht: this.dht, log: log.child('PKARR'), secretKey: config.pkarr.secretKey, records: config.pkarr.records, hook: this.pkarr }) : null;
    this.pkarr.setOwn(this.publisher ?? undefined);
    this.relay = new PkarrRelay({ hook: this.pkarr, dht: this.dht, log: log.child('RELAY') });
    this.resolver = new Resolver({ dht: this.dht, own: this.announcer, log: log.child('RES'), keys: config.keys, verifier: this.auth, bobVerifier: this.bob, pkarr: this.pkarr, families: () => this.dht.nodes.map((n) => n.family) }, { ...DEFAULT_RESOLVER_OPTIONS, tld: config.queryTld });
    this.portMapper =
      config.fwdDisable || config.mode === 'ipv6'
        ? null
        : new PortMapper({ log: log.child('FWD'), options: { ports: forwardedPorts(config.port, config.valueIds.map((v) => v.port)) } });
    const startedAt = Date.now();
    this.telemetry = new Telemetry({
      versionLine: VERSION_LINE, startedAt, bound: this.bound, dht: this.dht, announcer: this.announcer, resolver: this.resolver, auth: this.auth,
      pkarr: this.pkarr, publisher: this.publisher, portMapper: this.portMapper, storageMax: STORAGE_LIMITS.maxTotal,
      dns: () => (this.dns ? { packetCacheEntries: this.dns.packets?.size ?? 0, packetCacheHits: this.dns.packets?.hits ?? 0, rateLimited: this.dns.rateLimited } : null),
    });
    this.commands = new CommandTable({
      resolver: new ObservedResolver(this.resolver, this.queries, 'command'),
      lookupTimeoutMs: config.lookupTimeoutMs,
      node: createNodeControl({
        config,
        dht: this.dht,
        announcer: this.announcer,
        resolver: this.resolver,
        auth: this.auth,
        versionLine: VERSION_LINE,
        startedAt,
        storageMax: STORAGE_LIMITS.maxTotal,
        bound: this.bound,
        portMapper: this.portMapper,
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
  }

  /** Start everything or nothing: a failure stops what already started and rethrows. */
  async start(): Promise<void> {
    const { config, log } = this;
    try {
      // Value ids are checked before any socket opens, so a bad one starts nothing.
      const values = config.valueIds.map((spec) => makeValue(config, spec.query, spec.port));

      await this.startDhts();
      this.started.push(this.auth, this.bob);
      log.info(`Node ID: ${this.dht.nodeId.toString('hex')}`);

      // Bootstrap peers now; the peer file is written back when we stop, before the DHTs close.
      const peerFile = new PeerFileService(this.dht.nodes, log.child('PEERFILE'), {
        path: config.peerfile,
        writable: config.peerfile !== null && config.peerfile !== DEFAULT_PEERFILE,
        staticPeers: config.peers,
        saveIntervalMs: config.peerfileSaveIntervalMs,
        minUptimeMs: config.peerfileMinUptimeMs,
        retryMs: 5 * 60_000,
        maxExport: MAX_EXPORTED_PEERS,
      });
      peerFile.start();
      this.started.push(peerFile);

      // Local peer discovery: one service per running DHT, after it (LPD pings through it), stopped before it.
      if (config.lpd) {
        for (const node of this.dht.nodes) {
          const group = node.family === 6 ? config.lpd.ipv6 : config.lpd.ipv4;
          const lpd = new LpdService({ dht: node, log: log.child('LPD'), options: { group, family: node.family } });
          await lpd.start();
          this.started.push(lpd);
          if (lpd.active) this.bound.push(`LPD ${formatAddress({ address: group, port: LPD_PORT })} (udp multicast)`);
        }
      }

      for (const value of values) this.announcer.add(value);
      // KadNode 2.x announces a bob name's id with its DHT port, where the challenges arrive.
      for (const key of config.bobKeys) this.announcer.add({ name: key.name, id: key.id, port: config.port });
      this.announcer.start();
      this.started.push(this.announcer, this.resolver, this.pkarr);
      if (this.publisher) {
        this.publisher.start();
        this.started.push(this.publisher);
      }

      if (this.portMapper) {
        // Finds the gateway in the background (bounded) and returns at once; stop() removes the mappings.
        this.portMapper.start();
        this.started.push(this.portMapper);
      }

      // The DNS surface also answers DNS over HTTPS on the web port, even with no DNS port of its own.
      const dns = config.dnsPort !== 0 || config.webPort !== 0
        ? new DnsServer({ resolver: new ObservedResolver(this.resolver, this.queries, 'dns'), observer: this.queries, log: log.child('DNS'), options: { port: config.dnsPort, addresses: config.dnsAddresses, tld: config.queryTld, timeoutMs: config.dnsTimeoutMs, upstream: config.dnsServer } })
        : null;
      if (dns) this.started.push(dns);
      this.dns = dns;
      if (dns && config.dnsPort !== 0) {
        await dns.start();
        this.bound.push(...config.dnsAddresses.map((a) => `DNS ${formatAddress({ address: a, port: config.dnsPort })} (udp, tcp)`));
      }
      if (config.cmdPort !== 0) {
        const control = new ControlSurface(this.commands, log.child('CMD'), { port: config.cmdPort, addresses: config.cmdAddresses });
        await control.start();
        this.started.push(control);
        this.bound.push(...config.cmdAddresses.map((a) => `control ${formatAddress({ address: a, port: config.cmdPort })} (tcp)`));
      }
      if (config.webPort !== 0) {
        this.telemetry.start();
        this.started.push(this.telemetry);
        const metrics = new DaemonMetrics({ snapshot: () => this.telemetry.snapshot(), queries: this.queries, version: VERSION });
        const dashboard = new WebDashboard({ snapshot: () => this.telemetry.snapshot(), queries: this.queries, metrics });
        await dashboard.start();
        const web = new WebSurface(this.commands, log.child('WEB'), { port: config.webPort, addresses: config.webAddresses, hosts: new Set(config.webHosts) }, { doh: dns, relay: this.relay, dashboard });
        await web.start();
        this.started.push(web);
        this.bound.push(...config.webAddresses.map((a) => `web ${formatAddress({ address: a, port: config.webPort })} (http)`));
      }
      if (config.nssPort !== 0) {
        const nss = new NssSurface({ resolver: new ObservedResolver(this.resolver, this.queries, 'nss'), log: log.child('NSS'), options: { port: config.nssPort, addresses: config.nssAddresses, tld: config.queryTld, families: this.dht.nodes.map((n) => n.family) } });
        await nss.start();
        this.started.push(nss);
        this.bound.push(...config.nssAddresses.map((a) => `NSS ${formatAddress({ address: a, port: config.nssPort })} (udp)`));
      }
      if (!config.cmdDisableStdin) {
        const console = new ConsoleSurface({ commands: this.commands, input: process.stdin, output: process.stdout, errors: process.stderr });
        console.start();
        this.started.push(console);
      }
    } catch (err) {
      await this.stop();
      throw err;
    }
    log.info('Ready.');
  }

  /** Every DHT of --mode, or a startup error; in dual mode an IPv6 DHT that cannot bind is left out. */
  private async startDhts(): Promise<void> {
    const { config, log } = this;
    if (config.mode !== 'dual' && config.dhtAddress !== DEFAULTS.dhtAddress && isIP(config.dhtAddress) !== this.dht.nodes[0]!.family) {
      throw new Error(`Invalid --dht-addr '${config.dhtAddress}' for --mode ${config.mode}`);
    }
    for (const node of [...this.dht.nodes]) {
      try {
        await node.start();
      } catch (err) {
        if (config.mode !== 'dual' || node.family !== 6) throw err;
        log.warn(`No IPv6 DHT, running IPv4 only: ${(err as Error).message}`);
        this.dht.remove(node);
        await node.stop();
        continue;
      }
      this.started.push(node);
      node.socket.setAuthHandler((msg, rinfo) => this.auth.handle(msg, rinfo));
      node.socket.setBobHandler((msg, rinfo) => this.bob.handle(msg, rinfo));
      this.bound.push(`DHT ${formatAddress({ address: dhtAddress(config, node.family), port: node.boundPort() })} (udp)`);
    }
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const module of this.started.reverse()) {
        try {
          this.log.debug(`Stopping ${module.constructor.name}`);
          await module.stop();
        } catch (err) {
          this.log.warn(`stop failed: ${(err as Error).message}`);
        }
      }
      this.started.length = 0;
    })();
    return this.stopping;
  }
}
