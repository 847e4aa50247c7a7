// One address, one node (libtorrent's restrict_routing_ips): the slot an address takes in the routing
// table and in the node cache (krpc-scheduler.ts). Elsewhere than in the networks below, one address (IPv6:
// one /64) is one node: otherwise one host could fill the buckets near an id with made-up ids and cut it
// off from the honest nodes.
import { BlockList } from 'node:net';
import { canonicalHost, encodePeer, familyOf } from './compact.js';

// Networks where several DHT nodes may share one address (hosts of a LAN or a test network, containers
// behind one NAT that reach each other directly).
const SHARED_ADDRESSES = new BlockList();
for (const [net, bits] of [['127.0.0.0', 8], ['10.0.0.0', 8], ['172.16.0.0', 12], ['192.168.0.0', 16], ['169.254.0.0', 16], ['100.64.0.0', 10]] as const) SHARED_ADDRESSES.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['::1', 128], ['fc00::', 7], ['fe80::', 10]] as const) SHARED_ADDRESSES.addSubnet(net, bits, 'ipv6');

/** The routing-table slot an address takes (the address; an IPv6 address's /64), or null where nodes may share one. */
export function routingSlot(host: string): string | null {
  const family = familyOf(host);
  if (family === null) return null;
  const canonical = canonicalHost(host);
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(canonical);
  if (mapped) return routingSlot(mapped[1]!);
  if (SHARED_ADDRESSES.check(canonical, family === 4 ? 'ipv4' : 'ipv6')) return null;
  if (family === 4) return canonical;
  return encodePeer(canonical, 0).subarray(0, 8).toString('hex');
}
