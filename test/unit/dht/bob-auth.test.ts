// The bob exchange (KadNode 2.x) on the DHT socket, against the challenges and replies captured from the
// real KadNode 2.4.2 (test/helpers/kadnode2-fixtures.ts): the resolving side accepts exactly the captured
// replies to their challenges, from the challenged address; our responder answers like KadNode 2.x did.
import assert from 'node:assert/strict';
import dgram, { type RemoteInfo } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { BOB_CHALLENGE_LENGTH, BobAuthModule, encodeBobChallenge, MAX_REPLY_LENGTH, parseBobPacket, type BobAuthOptions } from '../../../src/dht/bob-auth.js';
import { DhtSocket } from '../../../src/dht/socket.js';
import { bobId, loadBobCurve, readBobKeyFile, verifyBobSignature, type BobKey } from '../../../src/identity/bob.js';
import { silentLogger } from '../../../src/log.js';
import { DEFAULT_RESOLVER_OPTIONS, Resolver } from '../../../src/resolver.js';
import { ANSWERED, CAPTURES, privateKeyCopy, type Capture } from '../../helpers/kadnode2-fixtures.js';
import { ScriptedSearcher } from '../../helpers/scripted-searcher.js';

const HOLDER = '10.201.0.2';
const IMPOSTOR = '10.201.0.3';
const RESOLVER = '10.201.0.4';
const rinfo = (address: string, port = 6881): RemoteInfo => ({ address, port, family: 'IPv4', size: 0 });
const peer = (address: string, port = 6881) => ({ address, port, family: 4 as const });

const dir = mkdtempSync(join(tmpdir(), 'kadnode-bob-auth-'));
const [KEY1, KEY2] = (['key1', 'key2'] as const).map((k) => readBobKeyFile(privateKeyCopy(k, dir))) as [BobKey, BobKey];
rmSync(dir, { recursive: true, force: true });
const [c1a, c1b, c2a] = [ANSWERED[0]!, ANSWERED[1]!, ANSWERED[2]!];
assert.ok(c1a.x.equals(KEY1.x) && c1b.x.equals(KEY1.x) && c2a.x.equals(KEY2.x), 'fixture order: two of key1, then key2');

interface Sent {
  packet: Buffer;
  port: number;
  address: string;
}

/** One module with what it sends recorded; `challenges` are handed out as its random challenge bytes. */
function node(keys: BobKey[] = [], options: Partial<BobAuthOptions> = {}, challenges: Buffer[] = []) {
  const sent: Sent[] = [];
  let clock = 1_000_000;
  const bob = new BobAuthModule(
    { send: (packet, port, address) => sent.push({ packet, port, address }), keys, log: silentLogger, now: () => clock, random: (n) => challenges.shift() ?? Buffer.alloc(n, 0xee) },
    { maxSends: 3, firstRetryMs: 10, maxRetryMs: 20, ...options },
  );
  return { bob, sent, tick: (ms: number) => (clock += ms) };
}

const replyOf = (c: Capture): Buffer => c.replyPacket!;

// ---------------------------------------------------------------- wire

test('wire: the captured packets parse as KadNode 2.x sent them', () => {
  for (const c of CAPTURES) {
    assert.equal(c.challengePacket.length, BOB_CHALLENGE_LENGTH);
    assert.deepEqual(parseBobPacket(c.challengePacket), { kind: 'challenge', x: c.x, challenge: c.challenge });
    assert.deepEqual(encodeBobChallenge(c.x, c.challenge), c.challengePacket);
  }
  for (const c of ANSWERED) {
    assert.ok(c.replyPacket.length >= 73 && c.replyPacket.length <= MAX_REPLY_LENGTH);
    assert.deepEqual(parseBobPacket(c.replyPacket), { kind: 'reply', signature: c.replyPacket.subarray(3) });
  }
  assert.equal(parseBobPacket(Buffer.from('BOX')).kind, 'invalid');
  assert.equal(parseBobPacket(Buffer.alloc(76, 0x42)).kind, 'invalid');
  assert.equal(parseBobPacket(Buffer.concat([Buffer.from('BOB'), Buffer.alloc(100)])).kind, 'invalid', 'over 75 bytes');
  assert.equal(parseBobPacket(Buffer.from('BOB1234')).kind, 'invalid', 'shorter than any DER signature');
});

// ---------------------------------------------------------------- resolving side

test('resolver: the signature code loads on first use; the first challenge leaves once it has loaded', async () => {
  const c = ANSWERED[0]!;
  const r = node([], {}, [c.challenge]);
  const result = r.bob.verify(bobId(c.x), c.x, peer(HOLDER));
  await loadBobCurve();
  assert.deepEqual(r.sent[0], { packet: c.challengePacket, port: 6881, address: HOLDER });
  r.bob.handle(replyOf(c), rinfo(HOLDER, c.replyFromPort));
  assert.equal(await result, 'bob');
});

test('resolver: the captured reply to its challenge, from the challenged IP and port, proves the key', async () => {
  for (const c of ANSWERED) {
    const r = node([], {}, [c.challenge]);
    const result = r.bob.verify(bobId(c.x), c.x, peer(HOLDER));
    assert.deepEqual(r.sent[0], { packet: c.challengePacket, port: 6881, address: HOLDER }, 'the 67-byte challenge KadNode 2.x answered');
    r.bob.handle(replyOf(c), rinfo(HOLDER, c.replyFromPort));
    assert.equal(await result, 'bob');
    assert.equal(r.bob.counters.verified, 1);
    assert.equal(r.bob.pendingCount(), 0);
  }
});

test('resolver: a captured reply altered, for another challenge or for another key is never accepted', async () => {
  const cases: Array<[string, Capture, Buffer]> = [];
  for (const c of ANSWERED) {
    for (const i of [3, 10, 40, replyOf(c).length - 1]) {
      const altered = Buffer.from(replyOf(c));
      altered[i]! ^= 0x04;
      cases.push([`${c.name.slice(0, 6)} byte ${i} altered`, c, altered]);
    }
    cases.push([`${c.name.slice(0, 6)} trailing byte`, c, Buffer.concat([replyOf(c), Buffer.of(0)])]);
  }
  // replays: a key holder's reply to an earlier challenge, and key2's reply offered for key1
  cases.push(['key1 reply to another challenge (replay)', c1a, replyOf(c1b)]);
  cases.push(['key2 reply for key1', c1a, replyOf(c2a)]);
  for (const [label, c, reply] of cases) {
    const r = node([], {}, [c.challenge]);
    const result = r.bob.verify(bobId(c.x), c.x, peer(HOLDER));
    r.bob.handle(reply, rinfo(HOLDER));
    assert.equal(await result, null, label);
    assert.equal(r.bob.counters.rejected + r.bob.counters.invalid, 1, `${label}: checked and rejected (over 75 bytes: not even parsed)`);
    assert.equal(r.sent.length, 3, `${label}: resent to the last send, then given up`);
  }
});

test('resolver: replies are matched by IP and port; the right reply from elsewhere proves nothing', async () => {
  const r = node([], {}, [c1a.challenge]);
  const result = r.bob.verify(bobId(c1a.x), c1a.x, peer(HOLDER));
  r.bob.handle(replyOf(c1a), rinfo(IMPOSTOR)); // another IP
  r.bob.handle(replyOf(c1a), rinfo(HOLDER, 6882)); // another port
  assert.equal(r.bob.counters.unsolicited, 2);
  assert.equal(r.bob.counters.verified, 0);
  r.bob.handle(replyOf(c1a), rinfo(HOLDER));
  assert.equal(await result, 'bob');
});

test('resolver: one address challenged for two keys; the reply settles the key it proves', async () => {
  const r = node([], {}, [c1a.challenge, c2a.challenge]);
  const p1 = r.bob.verify(bobId(c1a.x), c1a.x, peer(HOLDER));
  const p2 = r.bob.verify(bobId(c2a.x), c2a.x, peer(HOLDER));
  r.bob.handle(replyOf(c2a), rinfo(HOLDER));
  assert.equal(await p2, 'bob');
  assert.equal(r.bob.pendingCount(), 1, 'key1 still waits');
  r.bob.handle(replyOf(c1a), rinfo(HOLDER));
  assert.equal(await p1, 'bob');
});

test('resolver: bounded sends, keys per address and pending challenges; stop ends them', async () => {
  const r = node([], { maxSends: 4, maxPerAddress: 2, maxPending: 3, evictAfterSends: 99 });
  const x = (n: number) => Buffer.concat([Buffer.alloc(31, n), Buffer.of(n)]);
  const a = r.bob.verify(bobId(x(1)), x(1), peer(HOLDER));
  const b = r.bob.verify(bobId(x(2)), x(2), peer(HOLDER));
  assert.equal(await r.bob.verify(bobId(x(3)), x(3), peer(HOLDER)), null, 'a third key at one address waits for the next search');
  const c = r.bob.verify(bobId(x(3)), x(3), peer(IMPOSTOR));
  assert.equal(await r.bob.verify(bobId(x(4)), x(4), peer(RESOLVER)), null, 'the table is full');
  assert.equal(r.bob.verify(bobId(x(1)), x(1), peer(HOLDER)), a, 'the same challenge is shared');
  assert.equal(await a, null);
  assert.equal(r.sent.filter((s) => s.packet.subarray(3, 35).equals(x(1))).length, 4, 'four sends, then given up');
  r.bob.stop();
  assert.deepEqual(await Promise.all([b, c]), [null, null]);
  assert.equal(r.bob.pendingCount(), 0);
});

test('resolver: a challenge silent for evictAfterSends gives way to a new one when the table is full', async () => {
  const r = node([], { maxPending: 1, evictAfterSends: 2, maxSends: 10, firstRetryMs: 5, maxRetryMs: 5 });
  const x = Buffer.from(c1a.x);
  const silent = r.bob.verify(bobId(x), x, peer(IMPOSTOR));
  await new Promise((res) => setTimeout(res, 30));
  const fresh = r.bob.verify(bobId(x), x, peer(HOLDER));
  assert.equal(await silent, null);
  assert.equal(r.bob.counters.evicted, 1);
  r.bob.stop();
  assert.equal(await fresh, null);
});

test('resolver: a flood of replies from other sources does not crowd out the challenged address', async () => {
  const r = node([], { maxPerSecond: 2, maxTotalPerSecond: 5 }, [c1a.challenge]);
  const result = r.bob.verify(bobId(c1a.x), c1a.x, peer(HOLDER));
  for (let i = 0; i < 50; i++) r.bob.handle(replyOf(c1b), rinfo(`10.201.1.${i}`));
  assert.ok(r.bob.counters.dropped >= 45);
  r.bob.handle(replyOf(c1a), rinfo(HOLDER));
  assert.equal(await result, 'bob');
});

// ---------------------------------------------------------------- responding side

test('responder: answers challenges for loaded keys as KadNode 2.x did; the replies verify; key3 gets none', () => {
  const h = node([KEY1, KEY2]);
  for (const c of CAPTURES) {
    const before = h.sent.length;
    h.bob.handle(c.challengePacket, rinfo(RESOLVER, 40000));
    if (c.replyPacket === undefined) {
      assert.equal(h.sent.length, before, 'no reply for a key we do not hold (KadNode 2.x timed out too)');
      continue;
    }
    const reply = h.sent.at(-1)!;
    assert.equal(h.sent.length, before + 1);
    assert.deepEqual([reply.address, reply.port], [RESOLVER, 40000]);
    assert.ok(reply.packet.length <= MAX_REPLY_LENGTH && reply.packet.subarray(0, 3).toString() === 'BOB');
    const parsed = parseBobPacket(reply.packet);
    assert.equal(parsed.kind, 'reply');
    assert.ok(parsed.kind === 'reply' && verifyBobSignature(parsed.signature, c.challenge, c.x), 'verifies under the rule the captured replies follow');
  }
  assert.equal(h.bob.counters.answered, 4);
  assert.equal(h.bob.counters.notOurs, 2);
});

test('responder and resolver: our holder proves key1 to our resolver', async () => {
  const r = node();
  const h = node([KEY1]);
  const result = r.bob.verify(KEY1.id, KEY1.x, peer(HOLDER));
  h.bob.handle(r.sent[0]!.packet, rinfo(RESOLVER, 6881));
  r.bob.handle(h.sent[0]!.packet, rinfo(HOLDER, 6881));
  assert.equal(await result, 'bob');
});

test('responder: challenges answered per source and in all per second (67 bytes reflect into at most 75)', () => {
  const h = node([KEY1], { maxPerSecond: 3, maxTotalPerSecond: 10 });
  for (let i = 0; i < 20; i++) h.bob.handle(c1a.challengePacket, rinfo(RESOLVER));
  assert.equal(h.sent.length, 3, 'one source');
  for (let i = 0; i < 40; i++) h.bob.handle(c1a.challengePacket, rinfo(`10.201.2.${i}`));
  assert.equal(h.sent.length, 10, 'all sources');
  h.tick(1000);
  h.bob.handle(c1a.challengePacket, rinfo(RESOLVER));
  assert.equal(h.sent.length, 11, 'the next second');
  assert.ok(h.sent.every((s) => s.packet.length <= MAX_REPLY_LENGTH));
});

// ---------------------------------------------------------------- with the resolver and the socket

test('the resolver answers a bob name only with the address whose reply verifies', async () => {
  const dht = new ScriptedSearcher();
  const r = node([], {}, [c1a.challenge, Buffer.alloc(32, 1)]);
  const authCalls: string[] = [];
  const verifier = { verify: async () => (authCalls.push('auth'), 'bound' as const) };
  const resolver = new Resolver({ dht, own: { portFor: () => undefined }, log: silentLogger, verifier, bobVerifier: r.bob }, { ...DEFAULT_RESOLVER_OPTIONS, tld: '.p2p' });
  const answer = resolver.resolve(`${c1a.name}.p2p`, { timeoutMs: 5000 });
  assert.equal(dht.calls[0]!.id, KEY1.id.toString('hex'), 'searched under the first 20 bytes of X');
  dht.calls[0]!.emit(peer(HOLDER), '10.201.0.9');
  dht.calls[0]!.emit(peer(IMPOSTOR), '10.201.0.9');
  assert.equal(r.sent.length, 2, 'both addresses challenged');
  r.bob.handle(replyOf(c1b), rinfo(IMPOSTOR)); // a replayed proof of key1
  r.bob.handle(replyOf(c1a), rinfo(HOLDER));
  const result = await answer;
  assert.equal(result.status, 'found');
  assert.deepEqual(result.addresses, [{ ...peer(HOLDER), auth: 'bob' }]);
  assert.deepEqual(authCalls, [], 'never the ed25519 verifier');
  r.bob.stop();
  dht.calls[0]!.finish();
  resolver.stop();
});

test('socket: datagrams starting with BOB reach the bob handler, nothing else does', async (t) => {
  const socket = new DhtSocket(silentLogger, 4);
  await socket.bindTo(0, '127.0.0.1');
  const client = dgram.createSocket('udp4');
  t.after(() => {
    socket.close();
    client.close();
  });
  const got: Buffer[] = [];
  socket.setBobHandler((msg) => got.push(msg));
  socket.setAuthHandler(() => got.push(Buffer.from('auth')));
  const port = socket.address().port;
  for (const msg of [c1a.challengePacket, Buffer.from('AUTH'), Buffer.from('BO'), replyOf(c1a)]) {
    await new Promise<void>((resolve) => client.send(msg, port, '127.0.0.1', () => resolve()));
  }
  for (let i = 0; i < 100 && socket.counters.bob + socket.counters.auth + socket.counters.rejected < 4; i++) await new Promise((res) => setTimeout(res, 10));
  assert.deepEqual(got, [c1a.challengePacket, Buffer.from('auth'), replyOf(c1a)]);
  assert.equal(socket.counters.bob, 2);
  assert.equal(socket.counters.rejected, 1, '"BO" is no BOB packet and no KRPC message');
});

test('random datagrams starting with BOB never throw, never verify, and leave the tables bounded', async () => {
  const h = node([KEY1], { maxPerSecond: 1e9, maxTotalPerSecond: 1e9, maxBadReplies: 1e9 });
  const pending = h.bob.verify(KEY2.id, KEY2.x, peer(HOLDER));
  let seed = 7;
  const next = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
  for (let i = 0; i < 3000; i++) {
    const length = 3 + (next() % 80);
    const body = Buffer.from(Array.from({ length }, () => next() & 0xff));
    body.write('BOB');
    // some shaped like a DER signature, to reach the signature check
    if (i % 3 === 0 && length > 10) body.set([0x30, length - 5, 0x02, 0x21, 0x00], 3);
    assert.doesNotThrow(() => h.bob.handle(body, rinfo(i % 2 ? HOLDER : `10.201.3.${i % 200}`)));
  }
  assert.equal(h.bob.counters.verified, 0);
  assert.equal(h.bob.pendingCount(), 1);
  h.bob.stop();
  assert.equal(await pending, null);
});
