import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DhtNode } from '../../src/dht/node.js';
import { silentLogger } from '../../src/log.js';

const storage = { maxAgeMs: 60_000, maxTotal: 100, maxPerId: 10 };

test('a ping to our own address does not put us into our routing table', async (t) => {
  const node = new DhtNode(silentLogger, { port: 0, address: '127.0.0.1', storage, maxSearches: 8 });
  const other = new DhtNode(silentLogger, { port: 0, address: '127.0.0.1', storage, maxSearches: 8 });
  await node.start();
  await other.start();
  t.after(async () => {
    await node.stop();
    await other.stop();
  });
  node.ping({ host: '127.0.0.1', port: node.boundPort() });
  node.ping({ host: '127.0.0.1', port: other.boundPort() });
  for (let i = 0; i < 40 && node.nodeCount() === 0; i++) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 200));
  const ids = node.routingNodes().map((n) => n.id);
  assert.deepEqual(ids, [other.nodeId.toString('hex')]);
});

test('blocked addresses are dropped from the routing table and never heard again', async (t) => {
  const node = new DhtNode(silentLogger, { port: 0, address: '127.0.0.1', storage, maxSearches: 8 });
  const other = new DhtNode(silentLogger, { port: 0, address: '127.0.0.1', storage, maxSearches: 8 });
  await node.start();
  await other.start();
  t.after(async () => {
    await node.stop();
    await other.stop();
  });
  node.ping({ host: '127.0.0.1', port: other.boundPort() });
  for (let i = 0; i < 40 && node.nodeCount() === 0; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(node.nodeCount(), 1);
  assert.equal(node.block('127.0.0.1'), true);
  assert.equal(node.nodeCount(), 0);
  node.ping({ host: '127.0.0.1', port: other.boundPort() });
  other.ping({ host: '127.0.0.1', port: node.boundPort() });
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(node.nodeCount(), 0);
  assert.deepEqual(node.blockedAddresses(), ['127.0.0.1']);
});
