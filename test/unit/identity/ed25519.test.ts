// Both ed25519 backends give the same bytes and the same verdicts: node's crypto stands in for
// sodium-native where its addon cannot load (musl: OpenWrt, Alpine).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { loadEd25519, signDetached, verifyDetached } from '../../../src/identity/ed25519.js';

const sodium = loadEd25519({});
const node = loadEd25519({ KADNODE_ED25519: 'node' });

test('both backends are there: sodium-native on this machine, node crypto when asked', () => {
  assert.equal(sodium.name, 'sodium-native');
  assert.equal(node.name, 'node');
});

test('RFC 8032 test 1 in libsodium\'s key layout, on both backends', () => {
  const seed = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
  const pk = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
  const sig = 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b';
  for (const backend of [sodium, node]) {
    assert.equal(backend.publicKeyOfSeed(seed).toString('hex'), pk, backend.name);
    const secretKey = Buffer.concat([seed, Buffer.from(pk, 'hex')]);
    assert.equal(signDetached(Buffer.alloc(0), secretKey, backend).toString('hex'), sig, backend.name);
    assert.ok(verifyDetached(Buffer.from(sig, 'hex'), Buffer.alloc(0), Buffer.from(pk, 'hex'), backend));
  }
});

test('random keys and messages: identical keys and signatures, and each verifies the other\'s', () => {
  for (let i = 0; i < 100; i++) {
    const secretKey = (i % 2 ? sodium : node).generate();
    assert.equal(secretKey.length, 64);
    const seed = secretKey.subarray(0, 32);
    assert.deepEqual(sodium.publicKeyOfSeed(seed), secretKey.subarray(32));
    assert.deepEqual(node.publicKeyOfSeed(seed), secretKey.subarray(32));
    const message = randomBytes(i * 7);
    const a = signDetached(message, secretKey, sodium);
    const b = signDetached(message, secretKey, node);
    assert.deepEqual(a, b, 'deterministic signatures (RFC 8032)');
    const publicKey = secretKey.subarray(32);
    for (const backend of [sodium, node]) assert.ok(verifyDetached(a, message, publicKey, backend));
  }
});

test('the same verdict on wrong signatures, messages, keys and lengths', () => {
  const secretKey = sodium.generate();
  const publicKey = secretKey.subarray(32);
  const message = Buffer.from('3:seqi1e1:v3:abc');
  const good = signDetached(message, secretKey);
  const cases: Array<[string, Uint8Array, Uint8Array, Uint8Array]> = [];
  for (let bit = 0; bit < 512; bit += 37) {
    const s = Buffer.from(good);
    s[bit >> 3]! ^= 1 << (bit & 7);
    cases.push([`signature bit ${bit}`, s, message, publicKey]);
  }
  cases.push(['message', good, Buffer.from('3:seqi2e1:v3:abc'), publicKey]);
  cases.push(['other key', good, message, sodium.generate().subarray(32)]);
  cases.push(['short signature', good.subarray(1), message, publicKey]);
  cases.push(['long key', good, message, Buffer.concat([publicKey, Buffer.alloc(1)])]);
  for (let i = 0; i < 20; i++) cases.push([`random key ${i}`, good, message, randomBytes(32)]);
  cases.push(['all-ones key', good, message, Buffer.alloc(32, 0xff)]);
  for (const [what, s, m, k] of cases) {
    const verdicts = [sodium, node].map((backend) => verifyDetached(s, m, k, backend));
    assert.deepEqual(verdicts, [false, false], what);
  }
});
