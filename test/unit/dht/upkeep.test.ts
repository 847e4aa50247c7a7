// Routing-table upkeep (src/dht/upkeep.ts) on real DHT nodes over loopback: a node that left the table
// is pinged again and comes back; the list of lost nodes is bounded.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import sodium from 'sodium-native';
import { DhtNode } from '../../../src/dht/node.js';
import { silentLogger } from '../../../src/log.js';
import { twoLinkedNodes } from '../../helpers/dht-nodes.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('DHT: a node that left the routing table (a link was down) is pinged again and comes back', { timeout: 20_000 }, async (t) => {
  const { a, peerOfA } = await twoLinkedNodes(t, { reconnectMs: 200 });
  const id = peerOfA()?.id;
  assert.ok(id, 'b joined a');
  // what k-rpc does when a query to it times out
  (a as unknown as { lib: { dht: { removeNode(id: Buffer): void } } }).lib.dht.removeNode(Buffer.from(id, 'hex'));
  assert.equal(peerOfA(), undefined);
  assert.equal(a.stats().lost, 1);
  for (let i = 0; i < 100 && !peerOfA(); i++) await sleep(20);
  assert.ok(peerOfA(), 'b is back in the routing table of a');
  assert.equal(a.stats().lost, 0);
});

test('DHT: at most 256 lost nodes are remembered, the most recently lost kept', async (t) => {
  const node = new DhtNode(silentLogger, { port: 0, address: '127.0.0.1', storage: { maxAgeMs: 60_000, maxTotal: 10, maxPerId: 10 }, maxSearches: 1 });
  await node.start();
  t.after(() => node.stop());
  const dht = (node as unknown as { lib: { dht: { addNode(n: { id: Buffer; host: string; port: number }): void; removeNode(id: Buffer): void } } }).lib.dht;
  for (let i = 0; i < 300; i++) {
    const id = Buffer.alloc(20);
    sodium.randombytes_buf(id);
    dht.addNode({ id, host: '10.201.9.9', port: 20_000 + i });
    dht.removeNode(id);
  }
  assert.equal(node.stats().lost, 256);
  const lost = [...(node as unknown as { upkeep: { lost: Map<string, unknown> } }).upkeep.lost.keys()];
  assert.equal(lost[0], `10.201.9.9|${20_000 + 44}`);
  assert.equal(lost.at(-1), `10.201.9.9|${20_000 + 299}`);
});
