import assert from 'node:assert/strict';
import type { RemoteInfo } from 'node:dgram';
import { test } from 'node:test';
import { AuthModule, type AuthOptions } from '../../../src/dht/auth.js';
import { encodeBoundReply, encodeChallenge, encodeReply, markedChallenge, parseAuthPacket, type AuthPacket } from '../../../src/dht/auth-wire.js';
import { generateKeyPair } from '../../../src/identity/keys.js';
import { silentLogger } from '../../../src/log.js';

const id = Buffer.alloc(20, 7);
const owner = generateKeyPair();
const other = generateKeyPair();
const HOLDER = '10.201.0.2';
const IMPOSTOR = '10.201.0.3';
const RESOLVER = '10.201.0.4';
const rinfo = (address: string, port = 6881): RemoteInfo => ({ address, port, family: 'IPv4', size: 0 });
const peer = (address: string, port = 6881) => ({ address, port, family: 4 as const });

interface Sent {
  packet: Buffer;
  port: number;
  address: string;
}

/** One AuthModule with what it sends recorded; `own` are the addresses it answers bound challenges for. */
function node(options: Partial<AuthOptions> = {}, own: string[] = []) {
  const sent: Sent[] = [];
  const secrets = new Map<string, Buffer>();
  const auth = new AuthModule(
    { send: (packet, port, address) => sent.push({ packet, port, address }), secretKeyFor: (i) => secrets.get(i.toString('hex')), isOwnAddress: (a) => own.includes(a), log: silentLogger },
    { maxPerSecond: 100, maxPending: 4, maxSends: 3, firstRetryMs: 10, maxRetryMs: 20, ...options },
  );
  return { auth, sent, secrets, hold: () => secrets.set(id.toString('hex'), owner.secretKey) };
}

const parsed = (s: Sent): AuthPacket => parseAuthPacket(s.packet);
const ofKind = (sent: Sent[], kind: AuthPacket['kind']) => sent.filter((s) => parsed(s).kind === kind);

/** A KadNode 1.x key holder: answers 40-byte challenges, takes every other length for a reply it ignores. */
function legacyHolder(msg: Buffer): Buffer | null {
  if (msg.length !== 40) return null;
  return encodeReply(msg.subarray(4, 24), msg.subarray(24), owner.secretKey);
}

test('holder: answers a 1.x resolver (unmarked challenge) with the 1.x reply, refuses a marked one', () => {
  const { auth, sent, hold } = node();
  const challenge = Buffer.alloc(16, 0x5a);
  auth.handle(encodeChallenge(id, challenge), rinfo(RESOLVER, 7000));
  assert.equal(sent.length, 0, 'no key, no answer');
  hold();
  auth.handle(encodeChallenge(id, challenge), rinfo(RESOLVER, 7000));
  assert.equal(sent.length, 1);
  assert.deepEqual({ address: sent[0]!.address, port: sent[0]!.port, length: sent[0]!.packet.length }, { address: RESOLVER, port: 7000, length: 104 });
  auth.handle(encodeChallenge(id, markedChallenge(id)), rinfo(RESOLVER, 7000));
  assert.equal(sent.length, 1, 'a kadnode resolver is answered in the bound exchange only');
  assert.equal(auth.counters.refusedMarked, 1);
});

test('resolver and holder: the bound exchange verifies the address the challenge went to', async () => {
  const r = node();
  const h = node({}, [HOLDER]);
  h.hold();
  const result = r.auth.verify(id, owner.publicKey, peer(HOLDER));
  assert.equal(r.sent.length, 2, 'the bound and the marked 1.x challenge go out at once');
  for (const s of r.sent) h.auth.handle(s.packet, rinfo(RESOLVER, 6881));
  assert.equal(h.sent.length, 1, 'the holder answers the bound challenge only');
  assert.equal(h.sent[0]!.packet.length, 105);
  r.auth.handle(h.sent[0]!.packet, rinfo(HOLDER, 40000));
  assert.equal(await result, 'bound');
});

test('the relay attack: an impostor forwarding the challenges to the key holder is never verified', async () => {
  const r = node({ maxSends: 3 });
  const h = node({}, [HOLDER]);
  h.hold();
  const result = r.auth.verify(id, owner.publicKey, peer(IMPOSTOR, 7000));
  // the impostor forwards each send to the holder from its own address, and every answer back
  const relay = async () => {
    for (let round = 0; round < 10 && r.auth.pendingCount() > 0; round++) {
      for (const s of r.sent.splice(0)) {
        h.auth.handle(s.packet, rinfo(IMPOSTOR, 7000));
        // also with the address field rewritten to the holder's own: the signature then names the holder
        const p = parseAuthPacket(s.packet);
        if (p.kind === 'bound-challenge') {
          const rewritten = Buffer.from(s.packet);
          rewritten.set([10, 201, 0, 2], 43);
          h.auth.handle(rewritten, rinfo(IMPOSTOR, 7000));
        }
      }
      for (const answer of h.sent.splice(0)) r.auth.handle(answer.packet, rinfo(IMPOSTOR, 7000));
      await new Promise((done) => setTimeout(done, 15));
    }
  };
  await relay();
  assert.equal(await result, null);
  assert.ok(h.auth.counters.refusedForeign >= 1, 'the holder saw a challenge for an address not its own');
  assert.ok(h.auth.counters.refusedMarked >= 1, 'and the marked 1.x challenge');
  assert.ok(r.auth.counters.rejected >= 1, 'the rewritten challenge was signed for the holder: rejected');
  assert.equal(r.auth.counters.verified, 0);
});

test('a KadNode 1.x key holder is verified through the 1.x exchange, and the proof says so', async () => {
  const r = node();
  const result = r.auth.verify(id, owner.publicKey, peer(HOLDER));
  for (const s of r.sent) {
    const answer = legacyHolder(s.packet);
    if (answer) r.auth.handle(answer, rinfo(HOLDER, 6881));
  }
  assert.equal(await result, '1.x');
  assert.equal(r.auth.counters.verified1x, 1);
});

test('--auth-refuse-1x: no 1.x challenge is sent and a 1.x holder is never verified', async () => {
  const r = node({ accept1x: false, maxSends: 2 });
  const result = r.auth.verify(id, owner.publicKey, peer(HOLDER));
  assert.equal(r.sent.length, 1);
  assert.equal(parsed(r.sent[0]!).kind, 'bound-challenge');
  // even a correct 1.x reply for a challenge we never sent proves nothing
  r.auth.handle(encodeReply(id, Buffer.alloc(16, 1), owner.secretKey), rinfo(HOLDER));
  assert.equal(await result, null);
});

test('junk replies from the holder\'s IP never end a challenge the right reply can still answer', async () => {
  const r = node({ maxSends: 10, firstRetryMs: 300, maxRetryMs: 300, maxBadReplies: 4, maxPerSecond: 2 });
  const h = node({}, [HOLDER]);
  h.hold();
  const result = r.auth.verify(id, owner.publicKey, peer(HOLDER));
  const bound = parsed(ofKind(r.sent, 'bound-challenge')[0]!);
  const legacy = parsed(ofKind(r.sent, 'challenge')[0]!);
  assert.ok(bound.kind === 'bound-challenge' && legacy.kind === 'challenge');
  // wrong keys, wrong nonce, wrong challenge, garbage: from the holder's own IP, many times
  for (let i = 0; i < 50; i++) {
    r.auth.handle(encodeBoundReply(id, bound.nonce, bound.to, other.secretKey)!, rinfo(HOLDER));
    r.auth.handle(encodeReply(id, legacy.challenge, other.secretKey), rinfo(HOLDER));
    r.auth.handle(encodeReply(id, Buffer.alloc(16, i), owner.secretKey), rinfo(HOLDER));
    r.auth.handle(Buffer.from('AUTHjunk'), rinfo(HOLDER));
  }
  assert.equal(r.auth.pendingCount(), 1, 'still waiting for the right reply');
  await new Promise((done) => setTimeout(done, 1100)); // a new second of the rate limit
  for (const s of ofKind(r.sent, 'bound-challenge').slice(-1)) h.auth.handle(s.packet, rinfo(RESOLVER));
  r.auth.handle(h.sent.at(-1)!.packet, rinfo(HOLDER));
  assert.equal(await result, 'bound');
  assert.ok(r.auth.counters.rejected >= 4);
});

test('decoy ports: every announced port of an IP gets its own challenge; a silent one absorbs nothing', async () => {
  const r = node({ maxSends: 3 });
  const h = node({}, [HOLDER]);
  h.hold();
  const decoy = r.auth.verify(id, owner.publicKey, peer(HOLDER, 9999));
  const real = r.auth.verify(id, owner.publicKey, peer(HOLDER, 6881));
  assert.notEqual(decoy, real);
  const toReal = r.sent.filter((s) => s.port === 6881);
  assert.equal(toReal.length, 2, 'the real port is challenged too');
  for (const s of toReal) h.auth.handle(s.packet, rinfo(RESOLVER));
  r.auth.handle(h.sent[0]!.packet, rinfo(HOLDER, 6881));
  assert.equal(await real, 'bound');
  assert.equal(await decoy, null);
});

test('decoy ports are bounded per IP; silent ones give way to the real port', async () => {
  const r = node({ maxPortsPerAddress: 2, maxPending: 64, maxSends: 10, evictAfterSends: 2, firstRetryMs: 5, maxRetryMs: 5 });
  const decoys = [r.auth.verify(id, owner.publicKey, peer(HOLDER, 1)), r.auth.verify(id, owner.publicKey, peer(HOLDER, 2))];
  assert.equal(await r.auth.verify(id, owner.publicKey, peer(HOLDER, 3)), null, 'full, and no decoy sent twice yet');
  await new Promise((done) => setTimeout(done, 30));
  const real = r.auth.verify(id, owner.publicKey, peer(HOLDER, 6881));
  assert.equal(await decoys[0], null, 'the oldest silent port gave way');
  assert.equal(r.auth.pendingCount(), 2);
  assert.ok(r.sent.some((s) => s.port === 6881));
  r.auth.stop();
  assert.equal(await real, null);
});

test('the addresses of one id are bounded', async () => {
  const r = node({ maxPerId: 2, maxPending: 64, maxSends: 10, firstRetryMs: 60_000, maxRetryMs: 60_000 });
  r.auth.verify(id, owner.publicKey, peer('10.201.1.1'));
  r.auth.verify(id, owner.publicKey, peer('10.201.1.2'));
  assert.equal(await r.auth.verify(id, owner.publicKey, peer('10.201.1.3')), null);
  const otherId = r.auth.verify(Buffer.alloc(20, 1), owner.publicKey, peer('10.201.1.3'));
  assert.equal(r.auth.pendingCount(), 3, 'another id still gets a slot');
  r.auth.stop();
  assert.equal(await otherId, null);
});

test('an address that never answers is resent with back-off, then refused', async () => {
  const { auth, sent } = node({ maxSends: 3 });
  const started = Date.now();
  assert.equal(await auth.verify(id, owner.publicKey, peer('10.201.0.3')), null);
  assert.equal(sent.length, 6, 'three sends of both challenges');
  assert.ok(Date.now() - started >= 25, 'waited between sends');
  assert.equal(auth.pendingCount(), 0);
});

test('pending challenges and handled packets are bounded', async () => {
  const { auth } = node({ maxPending: 2, maxPerSecond: 5 });
  const a = auth.verify(id, owner.publicKey, peer('10.201.0.4', 1));
  const b = auth.verify(id, owner.publicKey, peer('10.201.0.5', 1));
  assert.equal(await auth.verify(id, owner.publicKey, peer('10.201.0.6', 1)), null);
  assert.equal(auth.verify(id, owner.publicKey, peer('10.201.0.4', 1)), a, 'one challenge per IP, port and id');
  for (let i = 0; i < 50; i++) auth.handle(Buffer.from('AUTHjunk'), rinfo('10.201.0.7'));
  assert.ok(auth.counters.handled <= 5 + 1);
  assert.ok(auth.counters.dropped >= 44);
  auth.stop();
  assert.deepEqual(await Promise.all([a, b]), [null, null]);
});

test('the budget is per source IP: a flood from one IP does not crowd out another IP', () => {
  const { auth, sent, hold } = node({ maxPerSecond: 5 });
  hold();
  const challenge = Buffer.alloc(16, 0x5a);
  for (let i = 0; i < 200; i++) auth.handle(encodeChallenge(id, challenge), rinfo('10.201.0.66'));
  assert.equal(sent.length, 5, 'the flooding IP gets its share only');
  auth.handle(encodeChallenge(id, challenge), rinfo('10.201.0.2', 7000));
  assert.equal(sent.length, 6, 'another IP is still answered in the same second');
  assert.equal(sent[5]!.address, '10.201.0.2');
});

test('a genuine reply gets through while other IPs flood forged replies', async () => {
  const r = node({ maxPerSecond: 2, maxTotalPerSecond: 10, maxSends: 10, firstRetryMs: 60_000, maxRetryMs: 60_000 });
  const h = node({}, [HOLDER]);
  h.hold();
  const result = r.auth.verify(id, owner.publicKey, peer(HOLDER));
  for (let ip = 1; ip <= 200; ip++) {
    for (let i = 0; i < 5; i++) r.auth.handle(encodeReply(id, Buffer.alloc(16, i), other.secretKey), rinfo(`10.202.${ip >> 8}.${ip & 255}`));
  }
  assert.ok(r.auth.counters.dropped > 900, 'the flood is mostly dropped');
  for (const s of r.sent) h.auth.handle(s.packet, rinfo(RESOLVER));
  r.auth.handle(h.sent[0]!.packet, rinfo(HOLDER));
  assert.equal(await result, 'bound');
});

test('source IPs counted per second are bounded', () => {
  const { auth } = node({ maxSources: 3 });
  for (let ip = 1; ip <= 10; ip++) auth.handle(Buffer.from('AUTHjunk'), rinfo(`10.203.0.${ip}`));
  assert.equal(auth.counters.handled, 3);
  assert.equal(auth.counters.dropped, 7);
});
