// Signed packets (src/pkarr/packet.ts) against fixed vectors, and the malformed items they refuse.
//
// The vector: the key of RFC 8032 §7.1 test 1 (seed 9d61b19d…7f60, public key d75a9801…511a), a fixed
// seq (1700000000000000 µs = 2023-11-14T22:13:20Z) and a fixed DNS packet (`_foo.<z32> 30 TXT "hello"`
// and `<z32> 300 A 1.2.3.4`, owner names compressed). The expected signature was computed outside this
// code base, with OpenSSL's ed25519 through python3's `cryptography` package:
//
//   from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
//   k = Ed25519PrivateKey.from_private_bytes(bytes.fromhex('9d61b19d…7f60'))
//   k.sign(b'3:seqi1700000000000000e1:v103:' + bytes.fromhex(V_HEX)).hex()
//
// and the same script reproduces RFC 8032's own signature of the empty message (checked below too).
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import sodium from 'sodium-native';
import {
  checkItem,
  decodeDnsPacket,
  encodeDnsPacket,
  formatRecord,
  fromRelayPayload,
  PacketError,
  signable,
  signPacket,
  targetOf,
  toRelayPayload,
} from '../../../src/pkarr/packet.js';
import { encodeZ32Key } from '../../../src/identity/keys.js';

const SEED = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
const PUBLIC = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
const Z32 = '47pjoycnsrfmxikm95jh13y88e8qnhzu5kungjpxyepgt7a8krpy';
const SEQ = 1_700_000_000_000_000;
const V_HEX =
  '000084000000000200000000045f666f6f343437706a6f79636e7372666d78696b6d39356a6831337938386538716e687a75356b756e676a707879657067743761386b72707900001000010000001e00060568656c6c6fc011000100010000012c000401020304';
const SIG_HEX =
  '328f21f74166fff8db81161e1dc4b7d13efdd350b283febbedef817af00bedb61ac4312029659127bf793bf70384abdb79ed70ccead1fa4ccdabaeb2a3a23c06';
const RFC8032_EMPTY_SIG =
  'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';

function keyPair(): { publicKey: Buffer; secretKey: Buffer } {
  const publicKey = Buffer.alloc(32);
  const secretKey = Buffer.alloc(64);
  sodium.crypto_sign_seed_keypair(publicKey, secretKey, SEED);
  return { publicKey, secretKey };
}

const V = Buffer.from(V_HEX, 'hex');

test('the RFC 8032 test 1 key: public key, z-base32 name, and the RFC signature of the empty message', () => {
  const { publicKey, secretKey } = keyPair();
  assert.equal(publicKey.toString('hex'), PUBLIC);
  assert.equal(encodeZ32Key(publicKey), Z32);
  const sig = Buffer.alloc(64);
  sodium.crypto_sign_detached(sig, Buffer.alloc(0), secretKey);
  assert.equal(sig.toString('hex'), RFC8032_EMPTY_SIG);
});

test('the DNS packet of the vector is encoded byte for byte (owner names compressed)', () => {
  const v = encodeDnsPacket([
    { type: 'TXT', name: `_foo.${Z32}`, ttl: 30, class: 'IN', data: ['hello'] },
    { type: 'A', name: Z32, ttl: 300, class: 'IN', data: '1.2.3.4' },
  ]);
  assert.equal(v.toString('hex'), V_HEX);
  // the second owner name is a pointer to the key label of the first (offset 17)
  assert.equal(v.subarray(v.length - 16, v.length - 14).toString('hex'), 'c011');
});

test('the signable bytes are exactly 3:seqi<seq>e1:v<len>:<v>', () => {
  const s = signable(SEQ, V);
  assert.equal(s.subarray(0, 30).toString('latin1'), '3:seqi1700000000000000e1:v103:');
  assert.ok(s.subarray(30).equals(V));
  assert.equal(s.length, 30 + 103);
});

test('signing the vector gives the independently computed signature; checking it gives the records', () => {
  const { publicKey, secretKey } = keyPair();
  const item = signPacket(secretKey, V, SEQ);
  assert.equal(item.signature.toString('hex'), SIG_HEX);
  assert.ok(item.publicKey.equals(publicKey));
  const checked = checkItem({ k: publicKey, sig: Buffer.from(SIG_HEX, 'hex'), seq: SEQ, v: V });
  assert.equal(checked.seq, SEQ);
  assert.deepEqual(
    checked.answers.map((a) => formatRecord(a)),
    [`_foo.${Z32} 30 IN TXT "hello"`, `${Z32} 300 IN A 1.2.3.4`],
  );
  assert.equal(targetOf(publicKey).toString('hex'), sha1Hex(publicKey));
});

test('relay payload: signature | 8-byte big-endian seq | packet, and back', () => {
  const { publicKey, secretKey } = keyPair();
  const payload = toRelayPayload(signPacket(secretKey, V, SEQ));
  assert.equal(payload.length, 64 + 8 + V.length);
  assert.equal(payload.subarray(0, 64).toString('hex'), SIG_HEX);
  assert.equal(payload.subarray(64, 72).toString('hex'), '00060a24181e4000');
  const back = fromRelayPayload(publicKey, payload);
  assert.equal(back.seq, SEQ);
  assert.ok(back.v.equals(V));
});

function rejects(fn: () => unknown, code: string, re?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof PacketError, `PacketError expected, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (re) assert.match(err.message, re);
    return true;
  });
}

test('malformed items are refused: bad signature, short key, oversized packet, older seq, undecodable DNS', () => {
  const { publicKey, secretKey } = keyPair();
  const good = { k: publicKey, sig: Buffer.from(SIG_HEX, 'hex'), seq: SEQ, v: V };
  // bad signature: one bit flipped; the right signature for another seq; a signature of other data
  const flipped = Buffer.from(good.sig);
  flipped[10]! ^= 1;
  rejects(() => checkItem({ ...good, sig: flipped }), 'signature', /bad signature/);
  rejects(() => checkItem({ ...good, seq: SEQ + 1 }), 'signature');
  rejects(() => checkItem({ ...good, v: Buffer.concat([V, Buffer.from([0])]) }), 'signature');
  rejects(() => checkItem({ ...good, sig: good.sig.subarray(0, 63) }), 'signature', /63 bytes/);
  // short key
  rejects(() => checkItem({ ...good, k: publicKey.subarray(0, 31) }), 'key', /31 bytes/);
  // over 1000 bytes: refused before anything else, on signing too
  const big = Buffer.alloc(1001);
  rejects(() => checkItem({ ...good, v: big }), 'size', /1001 bytes/);
  rejects(() => signPacket(secretKey, big, SEQ), 'size', /1001 bytes/);
  // older seq than the newest known
  rejects(() => checkItem(good, SEQ + 1), 'seq', /older/);
  assert.equal(checkItem(good, SEQ).seq, SEQ);
  // undecodable DNS, correctly signed
  const junk = Buffer.from('000084000000000100000000ff', 'hex');
  const signedJunk = signPacket(secretKey, junk, SEQ);
  rejects(() => checkItem({ k: publicKey, sig: signedJunk.signature, seq: SEQ, v: junk }), 'dns', /undecodable/);
  // a compression pointer to itself (a loop) is undecodable too
  const loop = Buffer.from('000084000000000100000000c00c', 'hex');
  rejects(() => decodeDnsPacket(loop), 'dns');
  // relay payload: too short, too long, seq beyond 2^53
  rejects(() => fromRelayPayload(publicKey, Buffer.alloc(71)), 'format');
  rejects(() => fromRelayPayload(publicKey, Buffer.alloc(1073)), 'size', /1073/);
  const huge = toRelayPayload(signPacket(secretKey, V, SEQ));
  huge.writeBigUInt64BE(2n ** 60n, 64);
  rejects(() => fromRelayPayload(publicKey, huge), 'format', /too large/);
});

test('packets are decoded compressed or not', () => {
  const answers = [
    { type: 'TXT' as const, name: `_foo.${Z32}`, ttl: 30, class: 'IN' as const, data: ['hello'] },
    { type: 'A' as const, name: Z32, ttl: 300, class: 'IN' as const, data: '1.2.3.4' },
  ];
  // the same packet with the pointer replaced by the key label written out
  const plain = Buffer.from(V_HEX.replace('c011', `34${Buffer.from(Z32).toString('hex')}00`), 'hex');
  assert.ok(plain.length > V.length);
  for (const v of [V, plain]) {
    const decoded = decodeDnsPacket(v);
    assert.deepEqual(decoded.map((a) => [a.name, a.type]), answers.map((a) => [a.name, a.type]));
  }
});

function sha1Hex(b: Buffer): string {
  return createHash('sha1').update(b).digest('hex');
}
