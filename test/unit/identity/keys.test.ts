import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import sodium from 'sodium-native';
import { decodeZ32Key, encodeZ32Key, generateKeyPair, KeyError, publicKeyOf, readSecretKeyText } from '../../../src/identity/keys.js';
import { KeyRing, patternMatches, patternsConflict } from '../../../src/identity/patterns.js';
import { identify, QueryError } from '../../../src/identity/query.js';

// RFC 8032 test 1: seed and public key; the libsodium secret key is seed ‖ public key.
const SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const PK = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a';
const SK = SEED + PK;
// z-base32 of PK and the SHA-1 vectors, computed outside this code base (Python hashlib).
const PK_Z32 = '47pjoycnsrfmxikm95jh13y88e8qnhzu5kungjpxyepgt7a8krpy';
const PK_ID = '95bb02c0947a47c465e593201b5821ab01195256';
const NODE1_ID = 'cc427bcf8822d2e046a2d46f7899de9f5318931c';
const A_EXAMPLE_ID = '005191876859eed6f9297feb53d0e893d5875391';

test('secret keys use the libsodium layout', () => {
  assert.equal(publicKeyOf(Buffer.from(SK, 'hex')).toString('hex'), PK);
  const pair = generateKeyPair();
  assert.deepEqual(pair.secretKey.subarray(32), pair.publicKey);
  const corrupted = Buffer.from(SK, 'hex');
  corrupted[40]! ^= 1;
  assert.throws(() => publicKeyOf(corrupted), KeyError);
});

test('z-base32 spelling of public keys', () => {
  assert.equal(encodeZ32Key(Buffer.from(PK, 'hex')), PK_Z32);
  assert.equal(decodeZ32Key(PK_Z32)!.toString('hex'), PK);
  const pair = generateKeyPair();
  assert.deepEqual(decodeZ32Key(encodeZ32Key(pair.publicKey)), pair.publicKey);
  assert.equal(decodeZ32Key(PK_Z32.slice(1)), null, 'wrong length');
  assert.equal(decodeZ32Key('0' + PK_Z32.slice(1)), null, 'not in the alphabet');
  // The last character carries 4 padding bits: only the canonical spelling names the key.
  const alias = PK_Z32.slice(0, -1) + (PK_Z32.endsWith('y') ? 'b' : 'y');
  assert.equal(decodeZ32Key(alias), null);
});

test('the four identifier types', () => {
  const keys = new KeyRing();
  keys.addPublicKey(`node1.p2p:${PK}`, '.p2p');
  assert.equal(identify(`${'ab'.repeat(20)}.p2p`, '.p2p', keys).kind, 'raw');
  const byHex = identify(`${PK}.p2p`, '.p2p', keys);
  assert.equal(byHex.kind, 'pkey');
  assert.equal(byHex.id.toString('hex'), PK_ID);
  assert.equal(byHex.publicKey!.toString('hex'), PK);
  const byZ32 = identify(`${PK_Z32}.p2p`, '.p2p', keys);
  assert.deepEqual([byZ32.kind, byZ32.id, byZ32.publicKey], [byHex.kind, byHex.id, byHex.publicKey]);
  assert.equal(identify(`${PK.toUpperCase()}.P2P`, '.p2p').id.toString('hex'), PK_ID);
  const pattern = identify('Node1.p2p', '.p2p', keys);
  assert.equal(pattern.kind, 'pattern');
  assert.equal(pattern.id.toString('hex'), NODE1_ID);
  assert.equal(identify('node2.p2p', '.p2p', keys).kind, 'plain');

  const announce = identify(`${SK}.p2p`, '.p2p', keys, 'announce');
  assert.equal(announce.kind, 'skey');
  assert.equal(announce.id.toString('hex'), PK_ID);
  assert.equal(announce.secretKey!.toString('hex'), SK);
  assert.ok(!announce.name.includes(SEED), 'the name of a secret-key value never holds the key');
  assert.throws(() => identify(`${PK}.p2p`, '.p2p', keys, 'announce'), QueryError);
  assert.equal(identify(`${SK}.p2p`, '.p2p', keys, 'lookup').kind, 'plain', 'a secret key is no lookup');
});

test('skey patterns give the announce id, pkey patterns the lookup id', () => {
  const owner = new KeyRing();
  owner.addSecretKey(`*.example:${SK}`, '.p2p');
  const announce = identify('a.example', '.p2p', owner, 'announce');
  assert.equal(announce.id.toString('hex'), A_EXAMPLE_ID);
  assert.equal(announce.secretKey!.toString('hex'), SK);
  assert.equal(identify('a.example', '.p2p', owner).id.toString('hex'), A_EXAMPLE_ID, 'the owner verifies its own names');
  assert.equal(identify('example', '.p2p', owner, 'announce').kind, 'plain');
});

test('pattern matching and conflicts as in KadNode 1.x', () => {
  assert.ok(patternMatches('*', 'anything'));
  assert.ok(patternMatches('*.example', 'a.example'));
  assert.ok(!patternMatches('*.example', 'example'));
  assert.ok(patternMatches('node1', 'node1'));
  assert.ok(!patternMatches('node1', 'node12'));
  assert.ok(patternsConflict('*', 'foo'));
  assert.ok(patternsConflict('*.foo', '*o'));
  assert.ok(!patternsConflict('*.foo', '*.bar'));
  assert.ok(patternsConflict('x', 'x'));
  assert.ok(!patternsConflict('x', 'y'));
  assert.ok(patternsConflict('a.foo', '*.foo'));
});

test('key ring errors name both patterns or the option, never the secret', () => {
  const ring = new KeyRing();
  ring.addPublicKey(`*.p2p:${PK}`, '.p2p');
  assert.throws(() => ring.addPublicKey(`foo.p2p:${PK}`, '.p2p'), /conflicting patterns: 'foo' <=> '\*'/);
  const own = new KeyRing();
  own.addSecretKey(`x.p2p:${SK}`, '.p2p');
  assert.throws(() => own.addPublicKey(`x.p2p:${PK}`, '.p2p'), /conflicting patterns: 'x' <=> 'x'/);
  const errors: Error[] = [];
  for (const bad of [`x:${SK.slice(2)}`, `x:${SK.slice(0, -1)}z`, `a*b:${SK}`]) {
    try {
      new KeyRing().addSecretKey(bad, '.p2p');
    } catch (err) {
      errors.push(err as Error);
    }
  }
  assert.equal(errors.length, 3);
  for (const err of errors) {
    assert.match(err.message, /^--auth-add-skey: /);
    assert.ok(!err.message.includes(SEED.slice(0, 16)), err.message);
  }
  assert.throws(() => new KeyRing().addPublicKey(`x:${PK.slice(4)}`, '.p2p'), /--auth-add-pkey: invalid key length, 64 hex/);
});

test('secret keys from files, refused when others can read them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kadnode-keys-'));
  try {
    const file = join(dir, 'node1.key');
    writeFileSync(file, SK + '\n', { mode: 0o600 });
    assert.equal(readSecretKeyText('@' + file), SK);
    const ring = new KeyRing();
    ring.addSecretKey(`node1.p2p:@${file}`, '.p2p');
    assert.equal(ring.secretKeyFor('node1')!.publicKey.toString('hex'), PK);
    chmodSync(file, 0o644);
    assert.throws(() => readSecretKeyText('@' + file), /readable by group or others/);
    assert.throws(() => readSecretKeyText('@' + join(dir, 'missing')), /cannot read key file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sodium signs as the RFC says (sanity of the binding)', () => {
  const sig = Buffer.alloc(64);
  sodium.crypto_sign_detached(sig, Buffer.alloc(0), Buffer.from(SK, 'hex'));
  assert.equal(sig.toString('hex').slice(0, 16), 'e5564300c360ac72');
});
