// The plain-name rule (src/chain/plain-candidates.ts, through verify.ts's candidateSink as the search step
// uses it): the attack is a minority of DHT nodes reporting a fake address for a plain name, close to the
// id or far from it, alone or as Sybils in one network, with one fake or a reply full of them; the honest
// address is the one the nodes storing the id (the closest to it) report.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { ADDRESSES_PER_RESPONDER, CLOSE, MAX_RESPONDERS, PlainCandidates, storerZone, ZONE } from '../../../src/chain/plain-candidates.js';
import { candidateSink } from '../../../src/chain/verify.js';
import { identify } from '../../../src/identity/query.js';
import type { PeerAddress } from '../../../src/types.js';

const ident = identify('printer.p2p', '.p2p');
const target = ident.id;
const REAL: PeerAddress = { address: '10.9.0.1', port: 4000, family: 4 };
const FAKE: PeerAddress = { address: '10.66.0.1', port: 6666, family: 4 };
/** a DHT of 1024 nodes: the storers' zone is ZONE * CLOSE / 1024 = 2^-4 of the id space, ids sharing 4 bits or more */
const SIZE = 1024;
const NEAR = 4;

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

/** The search's sink for a DHT of `size` nodes (null: size unknown); a reply's values are weighed once it is in. */
function sink(size: number | null = SIZE) {
  const taken: PeerAddress[] = [];
  const s = candidateSink(ident, {}, new Set(), 16, (peer) => taken.push(peer), storerZone(size));
  const reply = async (from: string, id: Buffer, values: PeerAddress[] = []) => {
    s.onReply?.(from, id);
    for (const v of values) s.onPeer(v, from, id);
    await Promise.resolve();
  };
  return { taken, reply, settle: () => s.settle() };
}

const fakes = (n: number, base = 1) => Array.from({ length: n }, (_, i): PeerAddress => ({ address: `10.66.${base}.${i + 1}`, port: 6000 + i, family: 4 }));

test('the storers\' zone: ZONE times where the CLOSE closest nodes of a DHT of the estimated size sit', () => {
  assert.equal(storerZone(SIZE), (ZONE * CLOSE) / SIZE);
  assert.equal(storerZone(10), 1, 'a small DHT: every node may be a storer');
  assert.equal(storerZone(null), null);
  assert.equal(storerZone(0), null);
});

test('two storers agreeing take the address during the walk; one alone waits', async () => {
  const { taken, reply } = sink();
  await reply('10.3.0.1', idAt(NEAR + 3), [REAL]);
  assert.equal(taken.length, 0, 'one storer\'s word is not enough');
  await reply('10.3.0.2', idAt(NEAR + 1), [REAL]);
  assert.deepEqual(taken, [REAL], 'the second storer agrees: taken at once, not at the end of the walk');
});

test('nodes far from the id never vote during the walk, however many agree; nor at its end, once closer nodes answered', async () => {
  const { taken, reply, settle } = sink();
  for (let i = 0; i < 20; i++) await reply(`10.1.0.${i + 1}`, idAt(i % NEAR), [FAKE]);
  assert.equal(taken.length, 0, 'twenty far nodes agreeing on a fake');
  for (let i = 0; i < CLOSE; i++) await reply(`10.3.0.${i + 1}`, idAt(NEAR + 2 + i), i < 2 ? [REAL] : []);
  assert.deepEqual(taken, [REAL]);
  settle();
  assert.deepEqual(taken, [REAL], 'the fake is not taken when the walk ends either');
});

test('junk replies full of fakes split their vote: seven of them inside the zone naming the same sixteen fakes do not make one storer', async () => {
  const { taken, reply, settle } = sink();
  const junk = fakes(16);
  for (let i = 0; i < 7; i++) await reply(`10.2.0.${i + 1}`, idAt(NEAR + i), junk);
  assert.equal(taken.length, 0, '7 x 16 fakes: a quarter of a vote each');
  await reply('10.3.0.1', idAt(NEAR + 10), [REAL]);
  await reply('10.3.0.2', idAt(NEAR + 11), [REAL]);
  assert.deepEqual(taken, [REAL], 'two storers');
  for (let i = 3; i <= 5; i++) await reply(`10.3.0.${i}`, idAt(NEAR + 9 + i), [REAL]);
  settle();
  assert.deepEqual(taken, [REAL], 'the close set at the end: 5 storers and 3 junk nodes, no fake reaches half');
});

test('junk that does not agree (a different fake from each node) is never taken, even from the closest', async () => {
  const { taken, reply, settle } = sink();
  for (let i = 0; i < 30; i++) await reply(`10.5.1.${i + 1}`, idAt(NEAR + i), [{ address: `10.66.1.${i + 1}`, port: 1000 + i, family: 4 }]);
  settle();
  assert.equal(taken.length, 0);
});

test('a lone report waits for the walk; it is dropped when it turns out not to be among the closest that answered', async () => {
  const { taken, reply, settle } = sink();
  await reply('10.4.0.1', idAt(NEAR), [FAKE]);
  assert.equal(taken.length, 0, 'one report is not taken at once');
  for (let i = 0; i < CLOSE; i++) await reply(`10.5.0.${i + 1}`, idAt(NEAR + 10 + i)); // closer nodes answer without values
  settle();
  assert.equal(taken.length, 0, 'its node is not among the closest that answered');
});

test('without a size estimate the closest responders so far vote: two agreeing take, a far pair is outvoted once closer nodes answer', async () => {
  const { taken, reply } = sink(null);
  await reply('10.6.0.1', idAt(50), [REAL]);
  assert.equal(taken.length, 0, 'one report');
  await reply('10.6.0.2', idAt(51), [REAL]);
  assert.deepEqual(taken, [REAL], 'two of the closest so far agree');
  const late = sink(null);
  for (let i = 0; i < CLOSE; i++) await late.reply(`10.6.1.${i + 1}`, idAt(60 + i));
  await late.reply('10.6.2.1', idAt(3), [FAKE]);
  await late.reply('10.6.2.2', idAt(4), [FAKE]);
  assert.equal(late.taken.length, 0, 'two far nodes are not among the closest that answered');
});

test('an address in our own store is taken at once (its host announced it to us); in a small network two of three agree, one does not', async () => {
  const { taken, reply } = sink(null);
  await reply('', idAt(3), [REAL]); // our own store, told with our own id
  assert.deepEqual(taken, [REAL], 'first-hand: the only copy in a network of two');
  const lone = sink(null);
  await lone.reply('10.7.0.2', idAt(5), [REAL]);
  await lone.reply('10.7.0.3', idAt(1), [REAL]);
  await lone.reply('10.7.0.4', idAt(2), [FAKE]);
  assert.deepEqual(lone.taken, [REAL], 'two of three');
  lone.settle();
  assert.deepEqual(lone.taken, [REAL], 'the end of the walk: a third of the close set is not half');
});

test('Sybils in one /24 with ids that are not BEP 42-valid count once, at half weight', async () => {
  const { taken, reply, settle } = sink();
  // 6 of the 8 closest are Sybils at public addresses of one /24, placed next to the id (BEP 42-invalid)
  for (let i = 0; i < 6; i++) await reply(`203.0.113.${i + 1}`, idAt(70 + i), [FAKE]);
  assert.equal(taken.length, 0, 'six Sybils inside the zone are one network at half weight');
  await reply('10.8.0.1', idAt(40), [REAL]);
  await reply('10.8.0.2', idAt(41), [REAL]);
  assert.deepEqual(taken, [REAL], 'two BEP 42-valid storers');
  settle();
  assert.deepEqual(taken, [REAL], 'and the Sybils do not win at the end either');
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
