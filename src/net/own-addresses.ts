// The addresses a datagram may be sent to and reach us: the host's interface addresses, all of
// loopback, and the public addresses others see us at (the DHT's BEP 42 vote, a port mapping's
// external address). The AUTH responder signs a bound challenge only for one of these (auth-wire.ts).
import { isIP } from 'node:net';
import os from 'node:os';
import { canonicalHost } from '../dht/compact.js';
import { isLoopback } from '../util/host-port.js';

export interface OwnAddressDeps {
  /** public addresses learned at run time; null where not known yet */
  external(): Iterable<string | null>;
  /** the interface addresses (os.networkInterfaces by default) */
  interfaces?: () => string[];
  now?: () => number;
}

export interface OwnAddressOptions {
  /** interfaces are listed again after this (addresses come and go: DHCP, PPP, SLAAC) */
  refreshMs: number;
}

const listInterfaces = (): string[] =>
  Object.values(os.networkInterfaces())
    .flat()
    .filter((a): a is os.NetworkInterfaceInfo => a !== undefined)
    .map((a) => a.address);


export class OwnAddresses {
  private interfaces = new Set<string>();
  private listedAt = -Infinity;

  constructor(private readonly deps: OwnAddressDeps, private readonly options: OwnAddressOptions = { refreshMs: 10_000 }) {}

  has(address: string): boolean {
    const wanted = canonicalHost(address.replace(/^::ffff:(?=\d+\.)/i, ''));
    if (isIP(wanted) === 0) return false;
    if (isLoopback(wanted)) return true;
    for (const external of this.deps.external()) if (external !== null && canonicalHost(external) === wanted) return true;
    const now = (this.deps.now ?? Date.now)();
    if (now - this.listedAt >= this.options.refreshMs) {
      this.listedAt = now;
      this.interfaces = new Set((this.deps.interfaces ?? listInterfaces)().map((a) => canonicalHost(a.replace(/%.*$/, ''))));
    }
    return this.interfaces.has(wanted);
  }
}
