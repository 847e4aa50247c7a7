// The gateway search used by the port mapper when none is injected: NAT-PMP at the default gateway and
// SSDP for a UPnP IGD, side by side.
import { defaultGatewayV4, NatPmpClient } from './portmap-natpmp.js';
import { findUpnpGateway, UpnpClient } from './portmap-upnp.js';
import { GatewayError, type GatewayFinder } from './portmap-types.js';

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * The gateway search used when none is injected: NAT-PMP at the default gateway and SSDP for a UPnP IGD,
 * side by side; NAT-PMP wins when both answer (native leases, the gateway picks a free port on conflict).
 */
export function defaultFinder(gateway?: string): GatewayFinder {
  if (gateway !== undefined && /^https?:\/\//i.test(gateway)) return (signal) => UpnpClient.fromLocation(gateway, signal);
  if (gateway !== undefined) {
    return async (signal) => {
      const client = new NatPmpClient(gateway, { tries: 3 });
      try {
        await client.probe(signal);
        return client;
      } catch (err) {
        client.close();
        throw err;
      }
    };
  }
  return async (signal) => {
    // NAT-PMP answering ends the SSDP search at once
    const upnpAbort = new AbortController();
    const upnpSignal = AbortSignal.any([signal, upnpAbort.signal]);
    const pmp = (async () => {
      const address = await defaultGatewayV4();
      if (!address) throw new GatewayError('NAT-PMP: no IPv4 default gateway');
      const client = new NatPmpClient(address, { tries: 3 });
      try {
        await client.probe(signal);
        upnpAbort.abort();
        return client;
      } catch (err) {
        client.close();
        throw err;
      }
    })();
    const [natpmp, upnp] = await Promise.allSettled([pmp, findUpnpGateway(upnpSignal)]);
    if (natpmp.status === 'fulfilled') {
      if (upnp.status === 'fulfilled') upnp.value.close();
      return natpmp.value;
    }
    if (upnp.status === 'fulfilled') return upnp.value;
    signal.throwIfAborted();
    throw new GatewayError(`${errorText(upnp.reason)}; ${errorText(natpmp.reason)}`);
  };
}
