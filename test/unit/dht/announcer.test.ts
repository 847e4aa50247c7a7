import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Announcer, MAX_VALUES } from '../../../src/dht/announcer.js';
import type { AnnounceTarget } from '../../../src/dht/node.js';
import { silentLogger } from '../../../src/log.js';

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

test('a table that grows slowly (the internet, after the first minute) gets no follow-up; one that grew by half does', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const dht = new FakeDht();
  dht.nodes = 100;
  dht.acks = 17; // some of the nodes asked never acknowledge
  const a = new Announcer(dht, silentLogger, { intervalMs: 1_800_000, replication: 20, followUpMs: 2000, maxFollowUps: 3 }, () => Date.now());
  a.add(value);
  a.start();
  await flush();
  dht.nodes = 140;
  t.mock.timers.tick(2000);
  await flush();
  assert.equal(dht.announced.length, 1, '100 -> 140 nodes: no walk again');
  dht.nodes = 150;
  t.mock.timers.tick(4000);
  await flush();
  assert.equal(dht.announced.length, 2, '100 -> 150 nodes: a follow-up');
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

test('a name never lapses on its storing nodes across several intervals, slow walks included', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const { DEFAULT_ANNOUNCER_OPTIONS } = await import('../../../src/dht/announcer.js');
  const { PeerStore } = await import('../../../src/dht/peer-store.js');
  const { STORAGE_LIMITS } = await import('../../../src/daemon.js');
  // storing nodes as the common implementations keep announcements: jech's DHT (KadNode 1.x / 2.x) and ours
  const stores = [32 * 60_000, STORAGE_LIMITS.maxAgeMs].map((maxAgeMs) => new PeerStore({ maxAgeMs, maxTotal: 16, maxPerId: 8, maxReply: 8, now: () => Date.now() }));
  const peer = Buffer.from([10, 201, 0, 2, 0x1a, 0xe1]);
  const key = value.id.toString('hex');
  let walks = 0;
  // Every third walk is slow (3 minutes, storing at its end); the others store at once: the worst case is
  // an early store followed by a late one.
  const dht: AnnounceTarget = {
    nodeCount: () => 100,
    onNodeAdded: () => undefined,
    announce: () =>
      new Promise((resolve) => {
        const slow = ++walks % 3 === 0;
        const store = () => stores.forEach((s) => s.add(key, peer));
        if (!slow) store();
        setTimeout(() => {
          if (slow) store();
          resolve(20);
        }, slow ? 180_000 : 200);
      }),
  };
  const a = new Announcer(dht, silentLogger, DEFAULT_ANNOUNCER_OPTIONS, () => Date.now());
  a.add(value);
  a.start();
  await flush();
  const gaps: string[] = [];
  for (let ms = 0; ms < 4 * 60 * 60_000; ms += 10_000) {
    t.mock.timers.tick(10_000);
    await flush();
    stores.forEach((s, i) => {
      if (s.get(key).length === 0) gaps.push(`store ${i} empty at ${ms / 60_000} min`);
    });
  }
  a.stop();
  assert.ok(walks >= 8, `announced ${walks} times in 4 hours`);
  assert.deepEqual(gaps.slice(0, 5), []);
});

// ---------------------------------------------------------------- bounds: values, retries of unreached ones

test('announce: at most maxValues values; expired ones make room', () => {
  const dht = { nodeCount: () => 0, announce: () => Promise.resolve(0), onNodeAdded: () => undefined };
  let now = 0;
  const a = new Announcer(dht, silentLogger, { intervalMs: 1_800_000, replication: 20, followUpMs: 2000, maxFollowUps: 3, maxValues: 3 }, () => now);
  const value = (i: number) => ({ name: `v${i}`, id: Buffer.alloc(20, i), port: 1 });
  a.add(value(1), { kind: 'until', at: 10 });
  a.add(value(2));
  a.add(value(3));
  assert.throws(() => a.add(value(4)), /too many values/);
  a.add(value(3), { kind: 'once' }); // an existing value is not a new one
  now = 11;
  a.add(value(4));
  assert.equal(a.values().length, 3);
  assert.equal(MAX_VALUES, 1024);
});

test('announce: a value that reached no node is announced again within a minute, table grown or not', async (t) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const announced: number[] = [];
  let acks = 0;
  // the table holds 5 nodes that are all gone (a link down): nothing grows, nothing answers
  const dht = { nodeCount: () => 5, announce: () => (announced.push(Date.now()), Promise.resolve(acks)), onNodeAdded: () => undefined };
  const a = new Announcer(dht, silentLogger, { intervalMs: 1_800_000, replication: 20, followUpMs: 2000, maxFollowUps: 3 }, () => Date.now());
  a.add({ name: 'v', id: Buffer.alloc(20, 5), port: 1 });
  a.start();
  const flush = () => new Promise((r) => setImmediate(r));
  await flush();
  assert.equal(announced.length, 1);
  for (let minute = 0; minute < 10; minute++) {
    t.mock.timers.tick(60_000);
    await flush();
  }
  assert.ok(announced.length >= 10, `${announced.length} announcements in 10 minutes`);
  const gaps = announced.slice(1).map((at, i) => at - announced[i]!);
  assert.ok(gaps.every((g) => g <= 60_000), `gaps ${gaps.join(' ')}`);
  acks = 4; // the link is back: once it reached nodes, the normal follow-ups and the interval apply
  t.mock.timers.tick(60_000);
  await flush();
  const reached = announced.length;
  t.mock.timers.tick(20 * 60_000);
  await flush();
  assert.ok(announced.length - reached <= 3, 'no more minute-by-minute retries once it reached nodes');
  a.stop();
});
