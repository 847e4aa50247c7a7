import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BOUND_CHALLENGE_LENGTH,
  BOUND_REPLY_LENGTH,
  boundReplyProves,
  CHALLENGE_PACKET_LENGTH,
  encodeBoundChallenge,
  encodeBoundReply,
  encodeChallenge,
  encodeReply,
  isMarked,
  markedChallenge,
  parseAuthPacket,
  REPLY_PACKET_LENGTH,
  replyProves,
} from '../../../src/dht/auth-wire.js';
import { generateKeyPair, openSigned, randomBytes } from '../../../src/identity/keys.js';

const id = Buffer.alloc(20, 7);
const challenge = Buffer.alloc(16, 0x5a);
const nonce = Buffer.alloc(16, 0x3c);
const owner = generateKeyPair();
const other = generateKeyPair();
const holderAddress = { address: '10.201.0.2', port: 6881 };

test('1.x packets are KadNode 1.x byte for byte', () => {
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
  assert.equal(parseAuthPacket(r).kind, 'reply');
});

test('1.x replies prove the key only for the exact challenge', () => {
  const signed = encodeReply(id, challenge, owner.secretKey).subarray(24);
  assert.ok(replyProves(signed, owner.publicKey, challenge));
  assert.ok(!replyProves(signed, other.publicKey, challenge), 'wrong key');
  assert.ok(!replyProves(signed, owner.publicKey, Buffer.alloc(16, 1)), 'wrong challenge');
  const tampered = Buffer.from(signed);
  tampered[70]! ^= 1;
  assert.ok(!replyProves(tampered, owner.publicKey, challenge), 'tampered message');
  assert.ok(!replyProves(signed.subarray(0, 40), owner.publicKey, challenge), 'truncated');
});

test('bound packets: the layout drawn in auth-wire.ts, for IPv4 and IPv6', () => {
  const c4 = encodeBoundChallenge(id, nonce, holderAddress)!;
  assert.equal(c4.length, BOUND_CHALLENGE_LENGTH[4]);
  assert.equal(c4.length, 47);
  assert.equal(c4.subarray(0, 4).toString(), 'AUTH');
  assert.deepEqual(c4.subarray(4, 24), id);
  assert.equal(c4[24], 2, 'version byte');
  assert.deepEqual(c4.subarray(25, 41), nonce);
  assert.equal(c4.readUInt16BE(41), 6881);
  assert.deepEqual([...c4.subarray(43)], [10, 201, 0, 2]);
  assert.deepEqual(parseAuthPacket(c4), { kind: 'bound-challenge', id, nonce, to: holderAddress });
  const c6 = encodeBoundChallenge(id, nonce, { address: 'fd20::1:2', port: 443 })!;
  assert.equal(c6.length, 59);
  assert.deepEqual(parseAuthPacket(c6), { kind: 'bound-challenge', id, nonce, to: { address: 'fd20::1:2', port: 443 } });
  const r = encodeBoundReply(id, nonce, holderAddress, owner.secretKey)!;
  assert.equal(r.length, BOUND_REPLY_LENGTH);
  assert.equal(r.length, 105);
  const parsed = parseAuthPacket(r);
  assert.equal(parsed.kind, 'bound-reply');
  assert.ok(parsed.kind === 'bound-reply' && parsed.nonce.equals(nonce) && parsed.signature.length === 64);
  assert.equal(encodeBoundChallenge(id, nonce, { address: 'example.com', port: 1 }), null, 'only IP literals');
});

test('a bound reply proves the key only for the id, nonce and address the challenge went to', () => {
  const signature = encodeBoundReply(id, nonce, holderAddress, owner.secretKey)!.subarray(41);
  assert.ok(boundReplyProves(signature, owner.publicKey, id, nonce, holderAddress));
  assert.ok(!boundReplyProves(signature, other.publicKey, id, nonce, holderAddress), 'another key');
  assert.ok(!boundReplyProves(signature, owner.publicKey, Buffer.alloc(20, 8), nonce, holderAddress), 'another id');
  assert.ok(!boundReplyProves(signature, owner.publicKey, id, Buffer.alloc(16), holderAddress), 'another nonce');
  // the relay attack: the resolver challenged the impostor's address, the holder signed its own
  assert.ok(!boundReplyProves(signature, owner.publicKey, id, nonce, { address: '10.201.0.3', port: 6881 }), 'another IP');
  assert.ok(!boundReplyProves(signature, owner.publicKey, id, nonce, { address: '10.201.0.2', port: 6882 }), 'another port');
  assert.ok(!boundReplyProves(signature.subarray(1), owner.publicKey, id, nonce, holderAddress), 'truncated');
});

test('the two exchanges cannot stand in for each other', () => {
  // a bound signature read as a 1.x reply of the nonce, and a 1.x reply's signature read as a bound one
  const bound = encodeBoundReply(id, nonce, holderAddress, owner.secretKey)!.subarray(41);
  assert.equal(openSigned(Buffer.concat([bound, nonce]), owner.publicKey), null);
  const legacy = encodeReply(id, nonce, owner.secretKey).subarray(24, 88);
  assert.ok(!boundReplyProves(legacy, owner.publicKey, id, nonce, holderAddress));
});

test('marked 1.x challenges: recognisable for their id only, random ones are not marked', () => {
  for (let i = 0; i < 100; i++) {
    const marked = markedChallenge(id);
    assert.equal(marked.length, 16);
    assert.ok(isMarked(id, marked));
    assert.ok(!isMarked(Buffer.alloc(20, 9), marked), 'the mark covers the id');
  }
  let marked = 0;
  for (let i = 0; i < 10_000; i++) if (isMarked(id, randomBytes(16))) marked++;
  assert.equal(marked, 0, 'a 1.x resolver hits the mark once in 2^32');
});

test('every other length, a short packet and an unknown version are invalid', () => {
  const reply = encodeReply(id, challenge, owner.secretKey);
  for (const bad of [Buffer.from('AUTH'), reply.subarray(0, 60), Buffer.concat([reply, Buffer.alloc(2)]), Buffer.concat([reply, Buffer.alloc(1000)]), encodeChallenge(id, challenge).subarray(0, 39), Buffer.from('XUTH' + 'a'.repeat(36))]) {
    assert.equal(parseAuthPacket(bad).kind, 'invalid', `length ${bad.length}`);
  }
  const c = encodeBoundChallenge(id, nonce, holderAddress)!;
  c[24] = 3;
  assert.deepEqual(parseAuthPacket(c), { kind: 'invalid', reason: 'unknown exchange version 3' });
});
