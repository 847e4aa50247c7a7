// The DHT libraries with kadnode's overrides (src/dht/library-adapter.ts) on a loopback socket, and a raw
// KRPC peer to talk to them: what the adapter's override tests share. Both close when the test ends.
import dgram from 'node:dgram';
import type { TestContext } from 'node:test';
import type { Family } from '../../src/dht/compact.js';
import { ExternalAddress } from '../../src/dht/external-address.js';
import { DEFAULT_ITEM_LIMITS, ItemStore } from '../../src/dht/item-store.js';
import { createDhtLibrary, type AdapterHost, type DhtLibrary } from '../../src/dht/library-adapter.js';
import { PeerStore } from '../../src/dht/peer-store.js';
import { KrpcPeer } from './krpc-peer.js';

const LOCAL = '127.0.0.1';

export interface Adapted {
  lib: DhtLibrary;
  host: AdapterHost;
  /** what the adapter refused, by kind */
  refused: { query: number; sameAddress: number };
  address: string;
  port: number;
}

export async function adaptedDht(t: TestContext, family: Family = 4, extra: Partial<AdapterHost> = {}): Promise<Adapted> {
  const address = family === 6 ? '::1' : LOCAL;
  const socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: family === 6 });
  await new Promise<void>((r) => socket.bind(0, address, () => r()));
  const refused = { query: 0, sameAddress: 0 };
  const host: AdapterHost = {
    family,
    shortTimeoutMs: 600,
    store: new PeerStore({ maxAgeMs: 60_000, maxTotal: 1000, maxPerId: 100, maxReply: 100 }),
    items: new ItemStore(DEFAULT_ITEM_LIMITS),
    traffic: { sent: 0, replied: 0, received: 0 },
    external: new ExternalAddress(),
    sibling: () => null,
    refused: (what) => void refused[what]++,
    ...extra,
  };
  const lib = createDhtLibrary(socket, host);
  t.after(() => new Promise<void>((r) => lib.dht.destroy(() => r())));
  return { lib, host, refused, address, port: socket.address().port };
}

export async function krpcPeer(t: TestContext, address = LOCAL): Promise<KrpcPeer> {
  const p = await KrpcPeer.open(address);
  t.after(() => p.close());
  return p;
}
