import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Announcer } from '../../src/dht/announcer.js';
import type { AnnounceTarget } from '../../src/dht/node.js';
import { silentLogger } from '../../src/log.js';

class FakeDht implements AnnounceTarget {
  nodes = 0;
  acks = 0;
  announced: { id: string; port: number }[] = [];
  private listeners: (() => void)[] = [];
  nodeCount() { return this.nodes; }
  announce(id: Buffer, port: number) {
    this.announced.push({ id: id.toString('hex'), port });
    return Promise.resolve(this.acks);
  }
  onNodeAdded(l: () => void) { this.listeners.push(l); }
  grow(n: number) {
    this.nodes += n;
    for (const l of this.listeners) l();
  }
}

const flush = () => new Promise((r) => setImmediate(r));
const value = { name: 'node1', id: Buffer.alloc(20, 1), port: 6881 };

test('waits for the first node, then announces at once', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const dht = new FakeDht();
  const a = new Announcer(dht, silentLogger, { intervalMs: 1_800_000, replication: 20, followUpMs: 2000, maxFollowUps: 3 }, () => Date.now());
  a.add(value);
  a.start();
  await flush();
  assert.equal(dht.announced.length, 0, 'no announcement into an empty table');
  dht.grow(1);
  await flush();
  assert.deepEqual(dht.announced, [{ id: value.id.toString('hex'), port: 6881 }]);
  a.stop();
});

test('follows up while the table grows, then settles on the interval', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const dht = new FakeDht();
  dht.nodes = 1;
  dht.acks = 1;
  const a = new Announcer(dht, silentLogger, { intervalMs: 1_800_000, replication: 20, followUpMs: 2000, maxFollowUps: 3 }, () => Date.now());
  a.add(value);
  a.start();
  await flush();
  assert.equal(dht.announced.length, 1);
  dht.nodes = 5; // table grew: the 2 s follow-up runs
  t.mock.timers.tick(2000);
  await flush();
  assert.equal(dht.announced.length, 2);
  t.mock.timers.tick(4000); // no growth: the follow-up is skipped
  await flush();
  assert.equal(dht.announced.length, 2);
  dht.nodes = 9;
  t.mock.timers.tick(8000);
  await flush();
  assert.equal(dht.announced.length, 3);
  t.mock.timers.tick(60_000);
  await flush();
  assert.equal(dht.announced.length, 3, 'follow-ups are bounded');
  t.mock.timers.tick(1_800_000);
  await flush();
  assert.equal(dht.announced.length, 4, 'periodic re-announcement');
  a.stop();
});

test('no follow-ups once K nodes hold the value', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const dht = new FakeDht();
  dht.nodes = 50;
  dht.acks = 20;
  const a = new Announcer(dht, silentLogger, { intervalMs: 1_800_000, replication: 20, followUpMs: 2000, maxFollowUps: 3 }, () => Date.now());
  a.add(value);
  a.start();
  await flush();
  dht.nodes = 80;
  t.mock.timers.tick(60_000);
  await flush();
  assert.equal(dht.announced.length, 1);
  assert.equal(a.portFor(value.id), 6881);
  assert.equal(a.portFor(Buffer.alloc(20)), undefined);
  a.stop();
});
