// Connection slots: when all are taken, a newcomer evicts the connection idle the longest; one with a
// request in progress is never evicted; only when all are busy is the newcomer refused.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConnectionSlots } from '../../../src/util/connection-slots.js';

class Conn {
  destroyed = 0;
  constructor(readonly name: string) {}
  destroy(): void {
    this.destroyed++;
  }
}

test('below the limit every connection is admitted and nothing is closed', () => {
  const slots = new ConnectionSlots<Conn>(3);
  const conns = ['a', 'b', 'c'].map((n) => new Conn(n));
  for (const c of conns) assert.deepEqual(slots.admit(c), { admitted: true, evicted: null });
  assert.equal(slots.size, 3);
  assert.ok(conns.every((c) => c.destroyed === 0));
});

test('full: the newcomer evicts the one idle the longest (oldest last activity)', () => {
  const slots = new ConnectionSlots<Conn>(3);
  const [a, b, c] = ['a', 'b', 'c'].map((n) => new Conn(n)) as [Conn, Conn, Conn];
  for (const x of [a, b, c]) slots.admit(x);
  slots.touch(a); // a spoke last: b is now the longest idle
  const d = new Conn('d');
  const admission = slots.admit(d);
  assert.deepEqual(admission, { admitted: true, evicted: b });
  assert.equal(b.destroyed, 1);
  assert.equal(slots.has(b), false);
  assert.equal(slots.size, 3);
  slots.release(b); // its close event comes later: harmless
  assert.equal(slots.size, 3);
  // next: c (admitted before a was touched, never active since)
  assert.deepEqual(slots.admit(new Conn('e')), { admitted: true, evicted: c });
});

test('a connection with a request in progress is not evicted; it is again once answered', () => {
  const slots = new ConnectionSlots<Conn>(2);
  const [a, b] = [new Conn('a'), new Conn('b')];
  slots.admit(a);
  slots.admit(b);
  slots.begin(a);
  slots.begin(a); // two queries on one connection
  assert.equal(slots.admit(new Conn('c')).admitted && b.destroyed, 1, 'b (idle) went, a (busy) stayed');
  assert.equal(a.destroyed, 0);
  slots.end(a);
  const [d] = [new Conn('d')];
  // c is idle and a still has one query: c goes although a is older
  const admission = slots.admit(d);
  assert.equal(admission.admitted && admission.evicted?.name, 'c');
  slots.end(a);
  slots.begin(d);
  const e = new Conn('e');
  assert.equal((slots.admit(e) as { evicted: Conn }).evicted, a, 'a answered its last query: evictable');
});

test('all busy: the newcomer is refused and nobody is closed', () => {
  const slots = new ConnectionSlots<Conn>(2);
  const [a, b] = [new Conn('a'), new Conn('b')];
  slots.admit(a);
  slots.admit(b);
  slots.begin(a);
  slots.begin(b);
  const c = new Conn('c');
  assert.deepEqual(slots.admit(c), { admitted: false });
  assert.equal(a.destroyed + b.destroyed + c.destroyed, 0);
  assert.equal(slots.size, 2);
  slots.end(b);
  assert.equal((slots.admit(c) as { evicted: Conn }).evicted, b);
});

test('one client holding every slot cannot keep a newcomer out, however often it reconnects', () => {
  const slots = new ConnectionSlots<Conn>(64);
  let hog = Array.from({ length: 64 }, (_, i) => new Conn(`hog${i}`));
  for (const h of hog) slots.admit(h);
  for (let round = 0; round < 10; round++) {
    const client = new Conn(`client${round}`);
    assert.ok(slots.admit(client).admitted);
    slots.begin(client);
    // the hog reconnects all 64 at once while the client's query runs: the client keeps its slot
    hog = Array.from({ length: 64 }, (_, i) => new Conn(`hog${round}-${i}`));
    for (const h of hog) slots.admit(h);
    assert.equal(client.destroyed, 0);
    slots.end(client);
    slots.release(client);
  }
});

test('destroyAll closes every connection once; release is idempotent; max must be positive', () => {
  const slots = new ConnectionSlots<Conn>(4);
  const conns = ['a', 'b'].map((n) => new Conn(n));
  for (const c of conns) slots.admit(c);
  slots.destroyAll();
  assert.deepEqual(conns.map((c) => c.destroyed), [1, 1]);
  assert.equal(slots.size, 0);
  slots.release(conns[0]!);
  slots.begin(conns[0]!); // unknown connection: ignored
  assert.equal(slots.size, 0);
  assert.throws(() => new ConnectionSlots<Conn>(0), RangeError);
});
