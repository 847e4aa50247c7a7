// The daemon's feature table, in start order (like KadNode's main.c and its ext-*.c): each feature says
// whether the config turns it on and creates its modules over the daemon's core; src/daemon.ts starts the
// enabled ones in this order and stops them in reverse.
//
// A feature loads its modules with import() in create(), so a feature that is off costs no memory: port
// mapping (and fast-xml-parser for UPnP), LPD, the PKARR publisher, and each surface. The web port's
// dashboard and /metrics (prom-client, uPlot) load on their first request.
import type http from 'node:http';
import { isIP } from 'node:net';
import type { Announcer } from './dht/announcer.js';
import type { AuthModule } from './dht/auth.js';
import type { BobAuthModule } from './dht/bob-auth.js';
import type { Family } from './dht/compact.js';
import type { DhtGroup } from './dht/group.js';
import type { CommandTable } from './commands.js';
import { DEFAULT_PEERFILE, type Config } from './config.js';
import type { AnnouncedValue } from './identity/value-id.js';
import type { Logger } from './log.js';
import type { PortMapper } from './net/portmap.js';
import type { PkarrHook } from './pkarr/hook.js';
import type { PkarrPublisher } from './pkarr/publisher.js';
import type { PkarrRelay } from './pkarr/relay.js';
import type { Resolver } from './resolver.js';
import type { DnsServer } from './surfaces/dns.js';
import type { QueryStats } from './surfaces/query-stats.js';
import type { Telemetry } from './telemetry.js';
import { hostPort } from './util/host-port.js';
import { VERSION } from './version.js';

/** What every feature builds on: made by the daemon before anything starts. */
export interface Core {
  log: Logger;
  dht: DhtGroup;
  auth: AuthModule;
  bob: BobAuthModule;
  announcer: Announcer;
  resolver: Resolver;
  pkarr: PkarrHook;
  relay: PkarrRelay;
  commands: CommandTable;
  queries: QueryStats;
  telemetry: Telemetry;
  /** --value-id values, checked before any socket opens (a bad one starts nothing) */
  values: AnnouncedValue[];
  // set by the feature that owns it, read by later features, status, the dashboard and AUTH
  publisher: PkarrPublisher | null;
  portMapper: PortMapper | null;
  dns: DnsServer | null;
}

/** One feature once created: start() binds (a failed start stops what it started), stop(), and its "Bound:" lines. */
export interface Feature {
  start(): Promise<void>;
  stop(): Promise<void>;
  bound(): readonly string[];
}

export interface FeatureSpec {
  name: string;
  enabled(config: Config): boolean;
  create(core: Core, config: Config): Promise<Feature>;
}

interface Stoppable {
  stop(): void | Promise<void>;
}

/** Modules in start order; stop() stops them in reverse, each once, a failure logged and passed over. */
export class ModuleStack {
  private readonly modules: Array<{ name: string; module: Stoppable }> = [];
  constructor(private readonly log: Logger) {}

  push(module: Stoppable, name = module.constructor.name): void {
    this.modules.push({ name, module });
  }

  async stop(): Promise<void> {
    for (const { name, module } of this.modules.splice(0).reverse()) {
      try {
        this.log.debug(`Stopping ${name}`);
        await module.stop();
      } catch (err) {
        this.log.warn(`stop failed: ${(err as Error).message}`);
      }
    }
  }
}

/** A feature whose `run` starts its modules in order, pushing each; a failure stops those in reverse and rethrows. */
function feature(log: Logger, run: (started: ModuleStack, bound: string[]) => Promise<void> | void): Feature {
  const started = new ModuleStack(log);
  const bound: string[] = [];
  return {
    async start() {
      try {
        await run(started, bound);
      } catch (err) {
        await started.stop();
        throw err;
      }
    },
    stop: () => started.stop(),
    bound: () => bound,
  };
}

/** --dht-addr binds the DHT of its family; a DHT of the other family binds all its addresses. */
export function dhtAddress(config: Config, family: Family): string {
  if (isIP(config.dhtAddress) === family) return config.dhtAddress;
  return family === 4 ? '0.0.0.0' : '::';
}

/** Every DHT of --mode, or a startup error; in dual mode an IPv6 DHT that cannot bind is left out. */
async function startDhts(core: Core, config: Config, started: ModuleStack, bound: string[]): Promise<void> {
  const { dht, auth, bob, log } = core;
  for (const node of [...dht.nodes]) {
    try {
      await node.start();
    } catch (err) {
      if (config.mode !== 'dual' || node.family !== 6) throw err;
      log.warn(`No IPv6 DHT, running IPv4 only: ${(err as Error).message}`);
      dht.remove(node);
      await node.stop();
      continue;
    }
    started.push(node);
    node.socket.setAuthHandler((msg, rinfo) => auth.handle(msg, rinfo));
    node.socket.setBobHandler((msg, rinfo) => bob.handle(msg, rinfo));
    bound.push(`DHT ${hostPort(dhtAddress(config, node.family), node.boundPort())} (udp)`);
  }
  started.push(auth);
  started.push(bob);
  log.info(`Node ID: ${dht.nodeId.toString('hex')}`);
}

type DashboardRoutes = { handle(path: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<boolean> };

/**
 * The dashboard (/, /assets/*, /api/state) and /metrics, loaded on their first request: prom-client, the
 * page and uPlot are memory an idle daemon does not need. A load that failed is tried again next time.
 */
function lazyDashboard(core: Core): DashboardRoutes {
  let loading: Promise<DashboardRoutes> | null = null;
  const load = async (): Promise<DashboardRoutes> => {
    const [{ DaemonMetrics }, { WebDashboard }] = await Promise.all([import('./surfaces/metrics.js'), import('./surfaces/web-dashboard.js')]);
    const snapshot = () => core.telemetry.snapshot();
    const dashboard = new WebDashboard({ snapshot, queries: core.queries, metrics: new DaemonMetrics({ snapshot, queries: core.queries, version: VERSION }) });
    await dashboard.start();
    return dashboard;
  };
  return {
    async handle(path, req, res) {
      if (path !== '/' && path !== '/api/state' && path !== '/metrics' && !path.startsWith('/assets/')) return false;
      loading ??= load().catch((err: unknown) => {
        loading = null;
        throw err;
      });
      return (await loading).handle(path, req, res);
    },
  };
}

export const FEATURES: readonly FeatureSpec[] = [
  {
    name: 'dht',
    enabled: () => true,
    create: async (core, config) => feature(core.log, (started, bound) => startDhts(core, config, started, bound)),
  },
  {
    // Bootstrap peers now; the peer file is written back when we stop, before the DHTs close.
    name: 'peer file',
    enabled: () => true,
    create: async (core, config) => {
      const { MAX_EXPORTED_PEERS, PeerFileService } = await import('./net/peerfile.js');
      return feature(core.log, (started) => {
        const peerFile = new PeerFileService(core.dht.nodes, core.log.child('PEERFILE'), {
          path: config.peerfile,
          writable: config.peerfile !== null && config.peerfile !== DEFAULT_PEERFILE,
          staticPeers: config.peers,
          saveIntervalMs: config.peerfileSaveIntervalMs,
          minUptimeMs: config.peerfileMinUptimeMs,
          retryMs: 5 * 60_000,
          maxExport: MAX_EXPORTED_PEERS,
        });
        peerFile.start();
        started.push(peerFile);
      });
    },
  },
  {
    // Local peer discovery: one service per running DHT, after it (LPD pings through it), stopped before it.
    name: 'lpd',
    enabled: (config) => config.lpd !== null,
    create: async (core, config) => {
      const { LPD_PORT, LpdService } = await import('./net/lpd.js');
      return feature(core.log, async (started, bound) => {
        for (const node of core.dht.nodes) {
          const group = node.family === 6 ? config.lpd!.ipv6 : config.lpd!.ipv4;
          const lpd = new LpdService({ dht: node, log: core.log.child('LPD'), options: { group, family: node.family } });
          await lpd.start();
          started.push(lpd);
          if (lpd.active) bound.push(`LPD ${hostPort(group, LPD_PORT)} (udp multicast)`);
        }
      });
    },
  },
  {
    name: 'announcer',
    enabled: () => true,
    create: async (core, config) =>
      feature(core.log, (started) => {
        for (const value of core.values) core.announcer.add(value);
        // KadNode 2.x announces a bob name's id with its DHT port, where the challenges arrive.
        for (const key of config.bobKeys) core.announcer.add({ name: key.name, id: key.id, port: config.port });
        core.announcer.start();
        started.push(core.announcer);
      }),
  },
  {
    // the query chain and its PKARR step: nothing to bind, stopped before the announcer
    name: 'resolver',
    enabled: () => true,
    create: async (core) =>
      feature(core.log, (started) => {
        started.push(core.resolver);
        started.push(core.pkarr);
      }),
  },
  {
    name: 'publisher',
    enabled: (config) => config.pkarr !== null,
    create: async (core, config) => {
      const { PkarrPublisher } = await import('./pkarr/publisher.js');
      const { secretKey, records } = config.pkarr!;
      // loggers nest: PKARR, PKARR/PUB, PKARR/RELAY
      const publisher = new PkarrPublisher({ dht: core.dht, log: core.log.child('PKARR').child('PUB'), secretKey, records, hook: core.pkarr });
      core.pkarr.setOwn(publisher);
      core.publisher = publisher;
      return feature(core.log, (started) => {
        publisher.start();
        started.push(publisher);
      });
    },
  },
  {
    // UPnP / NAT-PMP; an IPv6-only DHT has no NAT to open
    name: 'port mapping',
    enabled: (config) => !config.fwdDisable && config.mode !== 'ipv6',
    create: async (core, config) => {
      const { forwardedPorts, PortMapper } = await import('./net/portmap.js');
      const portMapper = new PortMapper({ log: core.log.child('FWD'), options: { ports: forwardedPorts(config.port, config.valueIds.map((v) => v.port)) } });
      core.portMapper = portMapper;
      return feature(core.log, (started) => {
        // Finds the gateway in the background (bounded) and returns at once; stop() removes the mappings.
        portMapper.start();
        started.push(portMapper);
      });
    },
  },
  {
    // Also answers DNS over HTTPS on the web port, even with no DNS port of its own. It names its logger itself (DNS).
    name: 'dns',
    enabled: (config) => config.dnsPort !== 0 || config.webPort !== 0,
    create: async (core, config) => {
      const [{ DnsServer }, { ObservedChain }] = await Promise.all([import('./surfaces/dns.js'), import('./surfaces/query-stats.js')]);
      const dns = new DnsServer({ chain: new ObservedChain(core.resolver, core.queries, 'dns'), observer: core.queries, log: core.log, options: { port: config.dnsPort, addresses: config.dnsAddresses, timeoutMs: config.dnsTimeoutMs } });
      core.dns = dns;
      return feature(core.log, async (started, bound) => {
        started.push(dns);
        if (config.dnsPort === 0) return;
        await dns.start();
        bound.push(...config.dnsAddresses.map((a) => `DNS ${hostPort(a, config.dnsPort)} (udp, tcp)`));
      });
    },
  },
  {
    name: 'control',
    enabled: (config) => config.cmdPort !== 0,
    create: async (core, config) => {
      const { ControlSurface } = await import('./surfaces/control.js');
      return feature(core.log, async (started, bound) => {
        const control = new ControlSurface(core.commands, core.log.child('CMD'), { port: config.cmdPort, addresses: config.cmdAddresses });
        await control.start();
        started.push(control);
        bound.push(...config.cmdAddresses.map((a) => `control ${hostPort(a, config.cmdPort)} (tcp)`));
      });
    },
  },
  {
    name: 'web',
    enabled: (config) => config.webPort !== 0,
    create: async (core, config) => {
      const { WebSurface } = await import('./surfaces/web.js');
      return feature(core.log, async (started, bound) => {
        core.telemetry.start();
        started.push(core.telemetry);
        const extras = { doh: core.dns, relay: core.relay, dashboard: lazyDashboard(core) };
        const web = new WebSurface(core.commands, core.log.child('WEB'), { port: config.webPort, addresses: config.webAddresses, hosts: new Set(config.webHosts) }, extras);
        await web.start();
        started.push(web);
        bound.push(...config.webAddresses.map((a) => `web ${hostPort(a, config.webPort)} (http)`));
      });
    },
  },
  {
    name: 'nss',
    enabled: (config) => config.nssPort !== 0,
    create: async (core, config) => {
      const [{ NssSurface }, { ObservedChain }] = await Promise.all([import('./surfaces/nss.js'), import('./surfaces/query-stats.js')]);
      return feature(core.log, async (started, bound) => {
        const options = { port: config.nssPort, addresses: config.nssAddresses, families: core.dht.nodes.map((n) => n.family) };
        const nss = new NssSurface({ chain: new ObservedChain(core.resolver, core.queries, 'nss'), log: core.log.child('NSS'), options });
        await nss.start();
        started.push(nss);
        bound.push(...config.nssAddresses.map((a) => `NSS ${hostPort(a, config.nssPort)} (udp)`));
      });
    },
  },
  {
    name: 'console',
    enabled: (config) => !config.cmdDisableStdin,
    create: async (core) => {
      const { ConsoleSurface } = await import('./surfaces/console.js');
      return feature(core.log, (started) => {
        const console = new ConsoleSurface({ commands: core.commands, input: process.stdin, output: process.stdout, errors: process.stderr });
        console.start();
        started.push(console);
      });
    },
  },
];
