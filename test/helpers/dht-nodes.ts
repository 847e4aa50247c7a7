// Two real DHT nodes on loopback, the second in the routing table of the first: for the tests of
// routing-table upkeep (a lost node comes back) and of the query scheduler (a refused ping drops no one).
import type { TestContext } from 'node:test';
import { DhtNode } from '../../src/dht/node.js';
import { silentLogger } from '../../src/log.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Two DHT nodes on loopback, b in a's routing table (a pinged it); both stopped after the test. */
export async function twoLinkedNodes(t: TestContext, extra: { reconnectMs?: number }) {
  const options = { port: 0, address: '127.0.0.1', storage: { maxAgeMs: 60_000, maxTotal: 10, maxPerId: 10 }, maxSearches: 1, ...extra };
  const a = new DhtNode(silentLogger, options);
  const b = new DhtNode(silentLogger, options);
  await a.start();
  await b.start();
  t.after(async () => {
    await a.stop();
    await b.stop();
  });
  const peerOfA = () => a.routingNodes().find((n) => n.port === b.boundPort());
  a.ping({ host: '127.0.0.1', port: b.boundPort() });
  for (let i = 0; i < 50 && !peerOfA(); i++) await sleep(20);
  return { a, peerOfA };
}
