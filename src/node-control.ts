// What operators may do to the running node, behind the command table: the one place where
// console, control port and web reach the announcer, the DHT node and the resolver.
import type { Announcer, Lifetime, ValueId } from './dht/announcer.js';
import type { AuthModule } from './dht/auth.js';
import { canonicalHost, formatCompactPeer } from './dht/compact.js';
import type { DhtGroup } from './dht/group.js';
import type { NodeControl, StatusInfo, ValueInfo } from './commands.js';
import { formatAddress, UsageError } from './commands.js';
import type { Config } from './config.js';
import { makeValue } from './identity/value-id.js';
import { parseHostPort, resolvePeers } from './net/peerfile.js';
import type { PortMapper } from './net/portmap.js';
import type { Resolver } from './resolver.js';
import { silentLogger } from './log.js';
import { isIP } from 'node:net';

export interface NodeModules {
  config: Config;
  /** the daemon's DHTs, one per family */
  dht: DhtGroup;
  announcer: Announcer;
  resolver: Resolver;
  auth: AuthModule;
  versionLine: string;
  startedAt: number;
  storageMax: number;
  /** what is bound where, filled in as the surfaces start */
  bound: string[];
  constants: Record<string, number | string>;
  /** null: forwarding disabled (--fwd-disable, or --mode ipv6) */
  portMapper: PortMapper | null;
}

// one check for --value-id (config.ts), the console's announce and the daemon (identity/value-id.ts)
export { makeValue };

export function createNodeControl(m: NodeModules): NodeControl {
  return {
    status(): StatusInfo {
      return {
        versionLine: m.versionLine,
        nodeId: m.dht.nodeId.toString('hex'),
        bound: m.bound,
        nodes: m.dht.nodeCounts(),
        storage: { ...m.dht.storage(), max: m.storageMax },
        searches: m.dht.searchCount(),
        resolver: m.resolver.stats(),
        values: m.announcer.values().length,
        uptimeMs: Date.now() - m.startedAt,
        health: m.dht.nodes.map((n) => n.healthReport()),
      };
    },
    announce(query: string, port: number | undefined, lifetime: Lifetime) {
      let value: ValueId;
      try {
        value = makeValue(m.config, query, port);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      m.announcer.add(value, lifetime);
      // An explicit port is forwarded too, until shutdown (KADNODE-1.x §11).
      if (port !== undefined) m.portMapper?.addPort(value.port);
      return { port: value.port };
    },
    announceAll: () => m.announcer.announceAll(),
    async importPeer(address: string) {
      let peer;
      try {
        peer = parseHostPort(address);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      // A name is pinged on every DHT it resolves for; an address only on the DHT of its family.
      const pinged: string[] = [];
      for (const dht of m.dht.nodes) {
        const [resolved] = await resolvePeers([peer], dht.family, silentLogger);
        if (resolved && m.dht.ping(resolved)) pinged.push(formatAddress({ address: resolved.host, port: resolved.port }));
      }
      if (pinged.length === 0) {
        const family = isIP(peer.host);
        throw new Error(family ? `no IPv${family} DHT is running for '${peer.host}'` : `cannot resolve '${peer.host}'`);
      }
      return pinged.join(', ');
    },
    goodPeers: (max) => m.dht.goodNodes(max).map(formatAddress),
    blacklist(address: string) {
      const written = address.replace(/^\[(.*)\]$/, '$1');
      if (!isIP(written)) throw new UsageError(`'${address}' is not an IP address`);
      // as datagrams and compact peers write it (fd20:0::1 → fd20::1)
      const ip = canonicalHost(written);
      if (!m.dht.block(ip)) throw new Error('the blacklist is full');
      m.resolver.dropAddress(ip);
      return ip;
    },
    lists: {
      blacklist: () => m.dht.blockedAddresses(),
      buckets: () => m.dht.routingNodes().map((n) => ({ id: n.id, address: n.address, port: n.port, ageMs: n.age })),
      constants: () => m.constants,
      forwardings: () => (m.portMapper ? m.portMapper.list() : ['Port forwarding is disabled (--fwd-disable, or --mode ipv6).']),
      results: () => m.resolver.cachedEntries(),
      searches: () => m.resolver.runningSearches(),
      storage: () => m.dht.storedEntries().map((e) => ({ id: e.id, peers: e.peers.map(formatCompactPeer) })),
      values: (): ValueInfo[] =>
        m.announcer.values().map((v) => ({ name: v.name, id: v.id.toString('hex'), port: v.port, keyed: v.secretKey !== undefined, lifetime: v.lifetime, nextInMs: v.nextAt - Date.now(), lastAcks: v.lastAcks })),
    },
  };
}
