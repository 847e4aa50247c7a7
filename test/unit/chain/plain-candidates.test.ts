// The plain-name rule (src/chain/plain-candidates.ts, through verify.ts's candidateSink as the search step
// uses it): the attack is a minority of DHT nodes reporting a fake address for a plain name, close to the
// id or far from it, alone or as Sybils in one network; the honest address is the one most of the nodes
// closest to the id report.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { ADDRESSES_PER_RESPONDER, CLOSE, MAX_RESPONDERS, PlainCandidates } from '../../../src/chain/plain-candidates.js';
import { candidateSink } from '../../../src/chain/verify.js';
import { identify } from '../../../src/identity/query.js';
import type { PeerAddress } from '../../../src/types.js';

const ident = identify('printer.p2p', '.p2p');
const target = ident.id;
const REAL: PeerAddress = { address: '10.9.0.1', port: 4000, family: 4 };
const FAKE: PeerAddress = { address: '10.66.0.1', port: 6666, family: 4 };

/** An id that shares exactly `bits` leading bits with the target (more bits: closer). */
function idAt(bits: number): Buffer {
  const id = randomBytes(20);
  for (let i = 0; i < 20; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    const mask = keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
    id[i] = (target[i]! & mask) | (id[i]! & ~mask & 0xff);
  }
  const byte = Math.floor(bits / 8);
  if (byte < 20) id[byte] = (id[byte]! & ~(0x80 >> (bits % 8))) | (~target[byte]! & (0x80 >> (bits % 8)));
  return id;
}

function sink() {
  const taken: PeerAddress[] = [];
  const s = candidateSink(ident, {}, new Set(), 16, (peer) => taken.push(peer));
  const reply = (from: string, id: Buffer, values: PeerAddress[] = []) => {
    s.onReply?.(from, id);
    for (const v of values) s.onPeer(v, from, id);
  };
  return { taken, reply, settle: () => s.settle?.() };
}

const has = (list: PeerAddress[], p: PeerAddress) => list.some((a) => a.address === p.address && a.port === p.port);

test('a fake reported by a minority of the nodes that answered, close to the id or far from it, never wins; the closest nodes\' address does', () => {
  const { taken, reply, settle } = sink();
  // the walk hears far nodes first: three of them report the fake (colluding)
  for (let i = 0; i < 3; i++) reply(`10.1.0.${i + 1}`, idAt(1 + i), [FAKE]);
  assert.equal(taken.length, 0, 'far reports are never taken at once');
  // then five honest nodes close to the id, and three malicious ones closer still
  for (let i = 0; i < 5; i++) reply(`10.3.0.${i + 1}`, idAt(50 + i), [REAL]);
  assert.deepEqual(taken, [REAL], 'eight answered, five report it: taken during the walk');
  for (let i = 0; i < 3; i++) reply(`10.2.0.${i + 1}`, idAt(60 + i), [FAKE]);
  // any number of far nodes agreeing on the fake later: they are not among the closest that answered
  for (let i = 0; i < 20; i++) reply(`10.4.0.${i + 1}`, idAt(2 + (i % 5)), [FAKE]);
  settle();
  assert.deepEqual(taken, [REAL], 'the fake is not taken when the walk ends either');
});

test('junk that does not agree (a different fake from each node) is never taken, even from the closest', () => {
  const { taken, reply, settle } = sink();
  for (let i = 0; i < 30; i++) reply(`10.5.1.${i + 1}`, idAt(20 + i), [{ address: `10.66.1.${i + 1}`, port: 1000 + i, family: 4 }]);
  settle();
  assert.equal(taken.length, 0);
});

test('a lone report waits for the walk; it is dropped when it turns out to come from far from the id', () => {
  const { taken, reply, settle } = sink();
  reply('10.4.0.1', idAt(30), [FAKE]);
  assert.equal(taken.length, 0, 'one report is not taken at once');
  for (let i = 0; i < CLOSE; i++) reply(`10.5.0.${i + 1}`, idAt(60 + i)); // closer nodes answer without values
  settle();
  assert.equal(taken.length, 0, 'its node is not among the closest that answered');
});

test('during the walk the address is taken once half of a full close set (four nodes) agree, not before', () => {
  const { taken, reply } = sink();
  for (let i = 0; i < 3; i++) reply(`10.6.0.${i + 1}`, idAt(50 + i), [REAL]);
  for (let i = 0; i < 3; i++) reply(`10.6.1.${i + 1}`, idAt(60 + i));
  assert.equal(taken.length, 0, 'three agreeing nodes are not enough');
  reply('10.6.2.1', idAt(45), [REAL]);
  assert.deepEqual(taken, [REAL], 'the fourth closest node agrees');
});

test('a small network (3 nodes: our own store and two others) still resolves an honest name when the walk ends', () => {
  const { taken, reply, settle } = sink();
  reply('', idAt(3), [REAL]); // our own store, told with our own id
  reply('10.7.0.2', idAt(5), [REAL]);
  reply('10.7.0.3', idAt(1));
  assert.equal(taken.length, 0, 'fewer nodes answered than the close set holds: wait for the walk');
  settle();
  assert.deepEqual(taken, [REAL]);
});

test('Sybils in one /24 with ids that are not BEP 42-valid count once, at half weight', () => {
  const { taken, reply, settle } = sink();
  // 6 of the 8 closest are Sybils at public addresses of one /24, placed next to the id (BEP 42-invalid)
  for (let i = 0; i < 6; i++) reply(`203.0.113.${i + 1}`, idAt(70 + i), [FAKE]);
  for (let i = 0; i < 2; i++) reply(`10.8.0.${i + 1}`, idAt(40 + i), [REAL]);
  assert.equal(taken.length, 0, 'two nodes are not half of a full close set: wait for the walk');
  settle();
  assert.deepEqual(taken, [REAL], 'two BEP 42-valid nodes outweigh one network of Sybils');
});

test('bounded: addresses per responder and responders per search', () => {
  const plain = new PlainCandidates<string>(target, new Set(), 16, () => undefined);
  const id = idAt(40);
  for (let i = 0; i < 5 * ADDRESSES_PER_RESPONDER; i++) plain.report(`a${i}`, `a${i}`, '10.10.0.1', id);
  assert.equal(plain.tally().support.size, ADDRESSES_PER_RESPONDER);
  // many far responders: only the closest MAX_RESPONDERS are kept, so a flood cannot push out close ones
  const flood = new PlainCandidates<string>(target, new Set(), 16, () => undefined);
  for (let i = 0; i < CLOSE; i++) flood.answered(`10.11.0.${i + 1}`, idAt(100 + i));
  for (let i = 0; i < 4 * MAX_RESPONDERS; i++) flood.report(`x${i}`, `x${i}`, `10.12.${i >> 8}.${i & 0xff}`, idAt(2));
  assert.equal(flood.tally().support.size, 0, 'far reporters never enter the close set');
});
