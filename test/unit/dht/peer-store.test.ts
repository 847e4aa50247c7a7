import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PeerStore } from '../../../src/dht/peer-store.js';

const peer = (n: number) => Buffer.from([10, 0, (n >> 8) & 255, n & 255, 0x1a, 0xe1]);

function store(overrides: Partial<ConstructorParameters<typeof PeerStore>[0]> = {}) {
  let clock = 0;
  const s = new PeerStore({ maxAgeMs: 30 * 60_000, maxTotal: 100, maxPerId: 10, maxReply: 50, now: () => clock, ...overrides });
  return { s, advance: (ms: number) => (clock += ms) };
}

test('stored announcements expire after exactly 30 minutes', () => {
  const { s, advance } = store();
  s.add('a', peer(1));
  advance(29 * 60_000);
  s.add('a', peer(2));
  assert.equal(s.get('a').length, 2);
  advance(60_000);
  assert.deepEqual(s.get('a'), [peer(2)]);
  advance(29 * 60_000);
  assert.deepEqual(s.get('a'), []);
  assert.equal(s.size, 0);
  assert.equal(s.ids, 0);
});

test('re-announcing refreshes the entry', () => {
  const { s, advance } = store();
  s.add('a', peer(1));
  advance(20 * 60_000);
  s.add('a', peer(1));
  advance(20 * 60_000);
  assert.deepEqual(s.get('a'), [peer(1)]);
  assert.equal(s.size, 1);
});

test('per-id bound drops the oldest of that id', () => {
  const { s } = store();
  for (let i = 0; i < 15; i++) s.add('a', peer(i));
  s.add('b', peer(99));
  assert.equal(s.get('a').length, 10);
  assert.deepEqual(s.get('a')[0], peer(14));
  assert.ok(!s.get('a').some((p) => p.equals(peer(0))));
  assert.equal(s.size, 11);
});

test('total bound drops the oldest overall', () => {
  const { s } = store({ maxTotal: 20, maxPerId: 5 });
  for (let id = 0; id < 10; id++) for (let i = 0; i < 3; i++) s.add(`id${id}`, peer(id * 10 + i));
  assert.equal(s.size, 20);
  assert.deepEqual(s.get('id0'), []);
  assert.equal(s.get('id9').length, 3);
});

test('replies are capped and newest first', () => {
  const { s } = store({ maxPerId: 100, maxReply: 50 });
  for (let i = 0; i < 80; i++) s.add('a', peer(i));
  const reply = s.get('a');
  assert.equal(reply.length, 50);
  assert.deepEqual(reply[0], peer(79));
  assert.equal(s.get('a', 3).length, 3);
});

test('an announcement expires at exactly maxAge, not a millisecond earlier', () => {
  const { s, advance } = store({ maxAgeMs: 1000 });
  s.add('a', peer(1));
  advance(999);
  assert.equal(s.size, 1);
  advance(1);
  assert.deepEqual(s.get('a'), []);
  assert.equal(s.ids, 0);
});

test('a reply holds at most 50 peers whatever the caller asks', () => {
  const { s } = store({ maxPerId: 128, maxTotal: 16384 });
  for (let i = 0; i < 128; i++) s.add('a', peer(i));
  assert.equal(s.size, 128);
  assert.equal(s.get('a').length, 50);
  assert.equal(s.get('a', 100).length, 50);
  assert.equal(s.get('a', 0).length, 0);
});

test('removing, re-adding and peers of both lengths keep each id in order', () => {
  const { s } = store();
  const v6 = Buffer.alloc(18, 7);
  s.add('a', peer(1));
  s.add('b', peer(1));
  s.add('a', v6);
  s.add('a', peer(2));
  s.remove('a', v6);
  s.remove('a', peer(9)); // not there
  s.remove('c', peer(1)); // no such id
  assert.deepEqual(s.get('a'), [peer(2), peer(1)]);
  s.add('a', peer(1)); // moves to the newest
  assert.deepEqual(s.get('a'), [peer(1), peer(2)]);
  s.add('a', v6);
  assert.deepEqual(s.get('a')[0], v6);
  assert.deepEqual([...s.entries()].map((e) => [e.id, e.peers.length]), [['a', 3], ['b', 1]]);
  // the caller's buffers are copied, not kept
  const p = peer(5);
  s.add('b', p);
  p.fill(0);
  assert.deepEqual(s.get('b')[0], peer(5));
  s.destroy();
  assert.equal(s.size, 0);
  assert.deepEqual(s.get('a'), []);
  s.add('a', peer(1));
  assert.deepEqual(s.get('a'), [peer(1)]);
});

test('16384 announcements of distinct ids: the total bound holds, then everything expires and the store shrinks', () => {
  const { s, advance } = store({ maxTotal: 16384, maxPerId: 128 });
  for (let i = 0; i < 20000; i++) {
    s.add(`id${i}`, peer(i));
    if (i % 1000 === 0) advance(1000);
  }
  assert.equal(s.size, 16384);
  assert.equal(s.ids, 16384);
  assert.deepEqual(s.get('id3615'), []);
  assert.deepEqual(s.get('id3616'), [peer(3616)]);
  assert.deepEqual(s.get('id19999'), [peer(19999)]);
  advance(30 * 60_000);
  assert.deepEqual(s.get('id19999'), []);
  assert.equal(s.size, 0);
  assert.equal(s.ids, 0);
  s.add('x', peer(1));
  assert.deepEqual(s.get('x'), [peer(1)]);
});

/** The store's rules written the plain way: one list in age order. */
class ModelStore {
  entries: Array<{ id: string; peer: string; at: number }> = [];
  constructor(private readonly o: { maxAgeMs: number; maxTotal: number; maxPerId: number; maxReply: number }, private readonly now: () => number) {}
  expire() {
    this.entries = this.entries.filter((e) => e.at > this.now() - this.o.maxAgeMs);
  }
  add(id: string, peer: Buffer) {
    this.expire();
    const key = peer.toString('hex');
    this.entries = this.entries.filter((e) => !(e.id === id && e.peer === key));
    const mine = this.entries.filter((e) => e.id === id);
    if (mine.length >= this.o.maxPerId) this.entries.splice(this.entries.indexOf(mine[0]!), 1);
    if (this.entries.length >= this.o.maxTotal) this.entries.shift();
    this.entries.push({ id, peer: key, at: this.now() });
  }
  remove(id: string, peer: Buffer) {
    const key = peer.toString('hex');
    this.entries = this.entries.filter((e) => !(e.id === id && e.peer === key));
  }
  get(id: string, n?: number) {
    this.expire();
    return this.entries.filter((e) => e.id === id).reverse().slice(0, Math.min(n ?? Infinity, this.o.maxReply)).map((e) => e.peer);
  }
  ids() {
    this.expire();
    const order: string[] = [];
    // an id's place is where it came in since it last had no announcement
    const live = new Map<string, number>();
    for (const e of this.entries) if (!live.has(e.id)) live.set(e.id, 0);
    for (const id of live.keys()) order.push(id);
    return order;
  }
}

test('random adds, removes and time steps agree with the plain model (bounds, expiry, order)', () => {
  let seed = 12345;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (const o of [
    { maxAgeMs: 10_000, maxTotal: 40, maxPerId: 5, maxReply: 3 },
    { maxAgeMs: 50_000, maxTotal: 300, maxPerId: 128, maxReply: 50 },
    { maxAgeMs: 5_000, maxTotal: 1000, maxPerId: 2, maxReply: 50 },
  ]) {
    let clock = 0;
    const s = new PeerStore({ ...o, now: () => clock });
    const m = new ModelStore(o, () => clock);
    const idCount = o.maxTotal / 2;
    for (let step = 0; step < 20000; step++) {
      const id = `id${rand(idCount)}`;
      const p = rand(3) === 0 ? Buffer.from([...Buffer.alloc(14, 0xfd), 0, rand(8), 0x1a, 0xe1]) : peer(rand(12));
      const r = rand(100);
      if (r < 70) {
        s.add(id, p);
        m.add(id, p);
      } else if (r < 80) {
        s.remove(id, p);
        m.remove(id, p);
      } else if (r < 95) {
        const n = rand(4) === 0 ? rand(60) : undefined;
        assert.deepEqual(s.get(id, n).map((b) => b.toString('hex')), m.get(id, n), `step ${step}`);
      } else {
        clock += rand(o.maxAgeMs / 4);
      }
      if (step % 500 === 0) {
        m.expire();
        s.expire();
        assert.equal(s.size, m.entries.length, `step ${step}`);
        // a listing holds the same ids; an id that emptied and came back sits at the end in both
        assert.deepEqual(
          [...s.entries()].map((e) => e.id).sort(),
          m.ids().sort(),
        );
        for (const e of s.entries()) assert.deepEqual(e.peers.map((b) => b.toString('hex')), m.entries.filter((x) => x.id === e.id).map((x) => x.peer));
        if (rand(4) === 0) clock += o.maxAgeMs; // everything expires: the store shrinks, then grows again
      }
    }
  }
});
