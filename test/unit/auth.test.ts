import assert from 'node:assert/strict';
import type { RemoteInfo } from 'node:dgram';
import { test } from 'node:test';
import { AuthModule, CHALLENGE_PACKET_LENGTH, encodeChallenge, encodeReply, parseAuthPacket, REPLY_PACKET_LENGTH, replyProves } from '../../src/dht/auth.js';
import { generateKeyPair } from '../../src/identity/keys.js';
import { silentLogger } from '../../src/log.js';

const id = Buffer.alloc(20, 7);
const challenge = Buffer.alloc(16, 0x5a);
const owner = generateKeyPair();
const other = generateKeyPair();
const rinfo = (address: string, port = 6881): RemoteInfo => ({ address, port, family: 'IPv4', size: 0 });

test('packet layout is KadNode 1.x byte for byte', () => {
  const c = encodeChallenge(id, challenge);
  assert.equal(c.length, CHALLENGE_PACKET_LENGTH);
  assert.equal(c.subarray(0, 4).toString(), 'AUTH');
  assert.deepEqual(c.subarray(4, 24), id);
  assert.deepEqual(c.subarray(24), challenge);
  const r = encodeReply(id, challenge, owner.secretKey);
  assert.equal(r.length, REPLY_PACKET_LENGTH);
  assert.deepEqual(r.subarray(4, 24), id);
  assert.deepEqual(r.subarray(88), challenge, 'the signed message trails the 64-byte signature');
  assert.deepEqual(parseAuthPacket(c), { kind: 'challenge', id, challenge });
  const parsed = parseAuthPacket(r);
  assert.equal(parsed.kind, 'reply');
});

test('replies prove the key only for the exact challenge', () => {
  const signed = encodeReply(id, challenge, owner.secretKey).subarray(24);
  assert.ok(replyProves(signed, owner.publicKey, challenge));
  assert.ok(!replyProves(signed, other.publicKey, challenge), 'wrong key');
  assert.ok(!replyProves(signed, owner.publicKey, Buffer.alloc(16, 1)), 'wrong challenge');
  const tampered = Buffer.from(signed);
  tampered[70]! ^= 1;
  assert.ok(!replyProves(tampered, owner.publicKey, challenge), 'tampered message');
  assert.ok(!replyProves(signed.subarray(0, 40), owner.publicKey, challenge), 'truncated');
});

test('truncated and oversized packets are invalid', () => {
  const reply = encodeReply(id, challenge, owner.secretKey);
  for (const bad of [Buffer.from('AUTH'), reply.subarray(0, 60), Buffer.concat([reply, Buffer.alloc(1)]), Buffer.concat([reply, Buffer.alloc(1000)]), encodeChallenge(id, challenge).subarray(0, 39)]) {
    assert.equal(parseAuthPacket(bad).kind, 'invalid', `length ${bad.length}`);
  }
});

function pair(options = {}) {
  const sent: { packet: Buffer; port: number; address: string }[] = [];
  const secrets = new Map<string, Buffer>();
  const auth = new AuthModule({ send: (packet, port, address) => sent.push({ packet, port, address }), secretKeyFor: (i) => secrets.get(i.toString('hex')), log: silentLogger }, { maxPerSecond: 100, maxPending: 4, maxSends: 3, firstRetryMs: 10, maxRetryMs: 20, ...options });
  return { auth, sent, secrets };
}

test('the announcing side answers only for ids whose secret key it holds', () => {
  const { auth, sent, secrets } = pair();
  auth.handle(encodeChallenge(id, challenge), rinfo('10.201.0.2', 7000));
  assert.equal(sent.length, 0);
  secrets.set(id.toString('hex'), owner.secretKey);
  auth.handle(encodeChallenge(id, challenge), rinfo('10.201.0.2', 7000));
  assert.equal(sent.length, 1);
  assert.equal(sent[0]!.address, '10.201.0.2');
  assert.equal(sent[0]!.port, 7000);
  assert.ok(replyProves(sent[0]!.packet.subarray(24), owner.publicKey, challenge));
});

test('the resolving side verifies an address only from its IP, with its challenge and key', async () => {
  const { auth, sent } = pair();
  const result = auth.verify(id, owner.publicKey, { address: '10.201.0.1', port: 6881, family: 4 });
  assert.equal(sent.length, 1, 'the challenge goes out at once');
  assert.equal(sent[0]!.address, '10.201.0.1');
  const sentChallenge = sent[0]!.packet.subarray(24);
  auth.handle(encodeReply(id, sentChallenge, owner.secretKey), rinfo('10.201.0.9'));
  auth.handle(encodeReply(Buffer.alloc(20), sentChallenge, owner.secretKey), rinfo('10.201.0.1'));
  assert.equal(auth.pendingCount(), 1, 'wrong IP or id do not verify (nor end the challenge)');
  auth.handle(encodeReply(id, sentChallenge, owner.secretKey), rinfo('10.201.0.1', 50000));
  assert.equal(await result, true);
  // a wrong key or a wrong challenge from the challenged IP: refused, and the challenge ends
  for (const [address, reply] of [
    ['10.201.0.2', (c: Buffer) => encodeReply(id, c, other.secretKey)],
    ['10.201.0.3', () => encodeReply(id, Buffer.alloc(16), owner.secretKey)],
  ] as const) {
    const pending = auth.verify(id, owner.publicKey, { address, port: 6881, family: 4 });
    auth.handle(reply(sent.at(-1)!.packet.subarray(24)), rinfo(address));
    assert.equal(await pending, false, address);
  }
  assert.equal(auth.counters.rejected, 2);
});

test('an address that never answers is resent with back-off, then refused', async () => {
  const { auth, sent } = pair({ maxSends: 3 });
  const started = Date.now();
  assert.equal(await auth.verify(id, owner.publicKey, { address: '10.201.0.3', port: 6881, family: 4 }), false);
  assert.equal(sent.length, 3);
  assert.ok(Date.now() - started >= 25, 'waited between sends');
  assert.equal(auth.pendingCount(), 0);
});

test('pending challenges and handled packets are bounded', async () => {
  const { auth, sent } = pair({ maxPending: 2, maxPerSecond: 5 });
  const a = auth.verify(id, owner.publicKey, { address: '10.201.0.4', port: 1, family: 4 });
  const b = auth.verify(id, owner.publicKey, { address: '10.201.0.5', port: 1, family: 4 });
  assert.equal(await auth.verify(id, owner.publicKey, { address: '10.201.0.6', port: 1, family: 4 }), false);
  assert.equal(auth.verify(id, owner.publicKey, { address: '10.201.0.4', port: 2, family: 4 }), a, 'one challenge per IP and id');
  for (let i = 0; i < 50; i++) auth.handle(Buffer.from('AUTHjunk'), rinfo('10.201.0.7'));
  assert.ok(auth.counters.handled <= 5 + 1);
  assert.ok(auth.counters.dropped >= 44);
  auth.stop();
  assert.deepEqual(await Promise.all([a, b]), [false, false]);
  assert.ok(sent.length >= 2);
});

test('the budget is per source IP: a flood from one IP does not crowd out another IP', () => {
  const { auth, sent, secrets } = pair({ maxPerSecond: 5 });
  secrets.set(id.toString('hex'), owner.secretKey);
  for (let i = 0; i < 200; i++) auth.handle(encodeChallenge(id, challenge), rinfo('10.201.0.66'));
  assert.equal(sent.length, 5, 'the flooding IP gets its share only');
  auth.handle(encodeChallenge(id, challenge), rinfo('10.201.0.2', 7000));
  assert.equal(sent.length, 6, 'another IP is still answered in the same second');
  assert.equal(sent[5]!.address, '10.201.0.2');
});

test('a genuine reply gets through while other IPs flood forged replies', async () => {
  // a global budget of 100 a second used to drop it among the forged ones
  const { auth, sent } = pair({ maxPerSecond: 2, maxTotalPerSecond: 10, maxSends: 10, firstRetryMs: 60_000, maxRetryMs: 60_000 });
  const result = auth.verify(id, owner.publicKey, { address: '10.201.0.1', port: 6881, family: 4 });
  const sentChallenge = sent[0]!.packet.subarray(24);
  for (let ip = 1; ip <= 200; ip++) {
    for (let i = 0; i < 5; i++) auth.handle(encodeReply(id, Buffer.alloc(16, i), other.secretKey), rinfo(`10.202.${ip >> 8}.${ip & 255}`));
  }
  assert.ok(auth.counters.dropped > 900, 'the flood is mostly dropped');
  auth.handle(encodeReply(id, sentChallenge, owner.secretKey), rinfo('10.201.0.1'));
  assert.equal(await result, true);
});

test('source IPs counted per second are bounded', () => {
  const { auth } = pair({ maxSources: 3 });
  for (let ip = 1; ip <= 10; ip++) auth.handle(Buffer.from('AUTHjunk'), rinfo(`10.203.0.${ip}`));
  assert.equal(auth.counters.handled, 3);
  assert.equal(auth.counters.dropped, 7);
});

test('an invalid reply ends the challenge: no more resends to that address', async () => {
  const { auth, sent } = pair({ maxSends: 10, firstRetryMs: 20, maxRetryMs: 20 });
  const result = auth.verify(id, owner.publicKey, { address: '10.201.0.8', port: 6881, family: 4 });
  assert.equal(sent.length, 1);
  const sentChallenge = sent[0]!.packet.subarray(24);
  auth.handle(encodeReply(id, sentChallenge, other.secretKey), rinfo('10.201.0.8'));
  assert.equal(await result, false, 'settled false at once');
  assert.equal(auth.pendingCount(), 0);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(sent.length, 1, 'not challenged again');
  assert.equal(auth.counters.rejected, 1);
});

test('with every pending slot taken, a challenge unanswered several times gives way to a new address', async () => {
  const { auth, sent } = pair({ maxPending: 2, maxSends: 10, evictAfterSends: 3, firstRetryMs: 5, maxRetryMs: 10_000 });
  const silent = auth.verify(id, owner.publicKey, { address: '10.201.1.1', port: 1, family: 4 });
  const young = auth.verify(id, owner.publicKey, { address: '10.201.1.2', port: 1, family: 4 });
  // both just sent once: nothing gives way yet
  assert.equal(await auth.verify(id, owner.publicKey, { address: '10.201.1.3', port: 1, family: 4 }), false);
  await new Promise((r) => setTimeout(r, 60));
  const real = auth.verify(id, owner.publicKey, { address: '10.201.1.4', port: 1, family: 4 });
  assert.equal(await silent, false, 'the oldest silent one ended');
  assert.equal(auth.pendingCount(), 2);
  const toReal = sent.filter((s) => s.address === '10.201.1.4');
  assert.equal(toReal.length, 1);
  auth.handle(encodeReply(id, toReal[0]!.packet.subarray(24), owner.secretKey), rinfo('10.201.1.4'));
  assert.equal(await real, true);
  assert.equal(auth.counters.evicted, 1);
  auth.stop();
  await young;
});
