// Wires the modules together: start order DHT → announcer → resolver → surfaces, stop in reverse.
import { Announcer, DEFAULT_ANNOUNCER_OPTIONS, type ValueId } from './dht/announcer.js';
import { AuthModule } from './dht/auth.js';
import { DhtNode } from './dht/node.js';
import { CommandTable } from './commands.js';
import type { Config } from './config.js';
import { identify, QueryError } from './identity/query.js';
import type { Logger } from './log.js';
import { readPeerFile, resolvePeers } from './net/peerfile.js';
import { DEFAULT_RESOLVER_OPTIONS, Resolver } from './resolver.js';
import { ConsoleSurface } from './surfaces/console.js';
import { ControlSurface } from './surfaces/control.js';
import { DnsServer } from './surfaces/dns.js';
import { VERSION_LINE } from './version.js';

export const STORAGE_LIMITS = { maxAgeMs: 30 * 60_000, maxTotal: 16384, maxPerId: 128 };

interface Stoppable {
  stop(): void | Promise<void>;
}

export class Daemon {
  private readonly started: Stoppable[] = [];
  readonly dht: DhtNode;
  readonly announcer: Announcer;
  readonly resolver: Resolver;
  readonly auth: AuthModule;
  readonly commands: CommandTable;
  private stopping: Promise<void> | null = null;

  constructor(private readonly config: Config, private readonly log: Logger) {
    this.dht = new DhtNode(log.child('DHT'), { port: config.port, address: config.dhtAddress, storage: STORAGE_LIMITS, maxSearches: DEFAULT_RESOLVER_OPTIONS.maxSearches });
    this.announcer = new Announcer(this.dht, log.child('VAL'), DEFAULT_ANNOUNCER_OPTIONS);
    this.auth = new AuthModule({
      send: (packet, port, address) => this.dht.socket.sendRaw(packet, port, address),
      secretKeyFor: (id) => this.announcer.secretKeyFor(id),
      log: log.child('AUTH'),
    });
    this.resolver = new Resolver({ dht: this.dht, own: this.announcer, log: log.child('RES'), keys: config.keys, verifier: this.auth }, { ...DEFAULT_RESOLVER_OPTIONS, tld: config.queryTld });
    const startedAt = Date.now();
    this.commands = new CommandTable({
      resolver: this.resolver,
      lookupTimeoutMs: config.lookupTimeoutMs,
      status: {
        versionLine: VERSION_LINE,
        startedAt,
        nodeId: () => this.dht.nodeId,
        dhtAddress: () => `${config.dhtAddress}:${this.dht.boundPort()}`,
        nodeCount: () => this.dht.nodeCount(),
        storage: () => ({ announcements: this.dht.store.size, ids: this.dht.store.ids, max: STORAGE_LIMITS.maxTotal }),
        dhtSearches: () => this.dht.searchCount(),
        resolverStats: () => this.resolver.stats(),
        valueCount: () => this.announcer.values().length,
      },
    });
  }

  /** Start everything or nothing: a failure stops what already started and rethrows. */
  async start(): Promise<void> {
    const { config, log } = this;
    try {
      // Value ids are checked before any socket opens, so a bad one starts nothing.
      const values = config.valueIds.map((spec) => this.valueFor(spec.query, spec.port));

      await this.dht.start();
      this.started.push(this.dht);
      this.dht.socket.setAuthHandler((msg, rinfo) => this.auth.handle(msg, rinfo));
      this.started.push(this.auth);
      log.info(`Node ID: ${this.dht.nodeId.toString('hex')}`);

      for (const value of values) this.announcer.add(value);
      this.announcer.start();
      this.started.push(this.announcer, this.resolver);

      if (config.dnsPort !== 0) {
        const dns = new DnsServer({ resolver: this.resolver, log: log.child('DNS'), options: { port: config.dnsPort, addresses: config.dnsAddresses, tld: config.queryTld, timeoutMs: config.dnsTimeoutMs } });
        await dns.start();
        this.started.push(dns);
      }
      if (config.cmdPort !== 0) {
        const control = new ControlSurface(this.commands, log.child('CMD'), { port: config.cmdPort, addresses: config.cmdAddresses });
        await control.start();
        this.started.push(control);
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
    void this.bootstrap();
    log.info('Ready.');
  }

  /** A value id as announced: a secret key means the DHT port, where challenges arrive (KADNODE-1.x §2.4). */
  private valueFor(query: string, port: number | undefined): ValueId {
    const { config } = this;
    let ident;
    try {
      ident = identify(query, config.queryTld, config.keys, 'announce');
    } catch (err) {
      if (err instanceof QueryError) throw new Error(`Invalid --value-id: ${err.message}`);
      throw err;
    }
    if (ident.secretKey && port !== undefined) {
      throw new Error(`Invalid port for --value-id ${ident.kind === 'skey' ? '<secret key>' : query}: values with a secret key are announced with the DHT port`);
    }
    const value: ValueId = { name: ident.name, id: ident.id, port: port ?? config.port };
    if (ident.secretKey) value.secretKey = ident.secretKey;
    return value;
  }

  private async bootstrap(): Promise<void> {
    const { config, log } = this;
    const peerLog = log.child('PEERFILE');
    const listed = [...config.peers];
    if (config.peerfile) {
      const fromFile = await readPeerFile(config.peerfile, peerLog);
      peerLog.info(`Imported ${fromFile.length} peers from: '${config.peerfile}'`);
      listed.push(...fromFile);
    }
    const peers = await resolvePeers(listed, 4, peerLog);
    if (this.stopping) return;
    this.dht.bootstrap(peers);
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
