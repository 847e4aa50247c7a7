// A daemon's figures as src/telemetry.ts reports them (a plain data object), for tests of what reads
// them (/metrics, the dashboard's JSON) without starting a daemon.
import type { Snapshot } from '../../src/telemetry.js';

export const NODE_ID = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';

export function sampleSnapshot(now = Date.now()): Snapshot {
  const traffic = { sent: 120, replied: 90, received: 40 };
  return {
    at: now,
    versionLine: 'kadnode v0.1.0 ( dht )',
    nodeId: NODE_ID,
    uptimeS: 600,
    bound: ['DHT 0.0.0.0:6881 (udp)'],
    families: [
      { family: 4, port: 6881, good: 7, all: 9, external: '203.0.113.7', traffic, replyRatio: 0.75, droppedQueries: 2, searches: 1, buckets: [{ depth: 0, good: 3, questionable: 1 }, { depth: 1, good: 4, questionable: 1 }], items: 3, itemBytes: 900 },
      { family: 6, port: 6881, good: 2, all: 2, external: null, traffic: { sent: 10, replied: 0, received: 0 }, replyRatio: 0, droppedQueries: 0, searches: 0, buckets: [], items: 0, itemBytes: 0 },
    ],
    warnings: ['IPv6 DHT: none of our last 20 queries got a reply: outgoing UDP looks blocked'],
    history: [{ at: now - 60_000, families: [{ family: 4, good: 5, all: 8, traffic }] }],
    storage: { announcements: 11, ids: 5, max: 16384 },
    values: { total: 2, reached: 1, unreached: 0, pending: 1, listed: [{ name: 'own', port: 8080, keyed: false, lifetime: 'forever', lastAcks: 8, lastAnnouncedAt: now - 30_000, nextInS: 1650 }, { name: 'new', port: 80, keyed: true, lifetime: 'once', lastAcks: 0, lastAnnouncedAt: null, nextInS: 0 }] },
    forwardings: [{ protocol: 'UDP', internalPort: 6881, description: 'kadnode DHT', state: 'mapped', externalPort: 6881, externalAddress: '203.0.113.7', method: 'UPnP', gateway: '192.168.1.1', leaseLeftS: 3000, permanent: false, error: null, retryInS: null }],
    resolver: { cached: 4, searches: 1, cacheHits: 30, cacheMisses: 10 },
    auth: { handled: 20, dropped: 3, invalid: 1, answered: 5, verified: 9, verified1x: 2, rejected: 4, failed: 1, evicted: 0, refusedForeign: 1, refusedMarked: 0, pending: 2 },
    pkarr: { own: { z32: 'o4dksfbqk85ogzdb5osziw6befigbuxmuxkuxq8434q89uj56uyy', seq: 1796525102233000, bytes: 120, records: 3, lastStored: 12, lastPublishedAt: now - 120_000, publishes: 4 }, cached: 1, lookups: 0 },
    dns: { packetCacheEntries: 6, packetCacheHits: 50, rateLimited: 7 },
  };
}
