import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyRing } from '../../../src/identity/patterns.js';
import { hasTld, identify, QueryError, sanitizeQuery } from '../../../src/identity/query.js';
import { NODE1_ID, PK, PK_ID, PK_Z32, SEED, SK } from '../../helpers/key-vectors.js';

test('sanitize strips the TLD and lowercases', () => {
  assert.equal(sanitizeQuery('Foo.P2P', '.p2p'), 'foo');
  assert.equal(sanitizeQuery('foo.p2p.', '.p2p'), 'foo');
  assert.equal(sanitizeQuery('sub.Foo', '.p2p'), 'sub.foo');
  assert.equal(sanitizeQuery('x.example', '.example'), 'x');
});

test('TLD check is case-insensitive and needs a label before the TLD', () => {
  assert.equal(hasTld('FOO.P2P', '.p2p'), true);
  assert.equal(hasTld('foo.p2p.', '.p2p'), true);
  assert.equal(hasTld('.p2p', '.p2p'), false);
  assert.equal(hasTld('example.com', '.p2p'), false);
  assert.equal(hasTld('foop2p', '.p2p'), false);
});

test('plain names hash the sanitized name with SHA-1 (KadNode 1.x vector)', () => {
  const ident = identify('foo.p2p', '.p2p');
  assert.equal(ident.kind, 'plain');
  assert.equal(ident.id.toString('hex'), '0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33');
  assert.deepEqual(identify('FOO.P2P', '.p2p').id, ident.id);
  assert.deepEqual(identify('foo', '.p2p').id, ident.id);
});

test('40 hex characters are a raw id, in any case', () => {
  const hex = '0123456789abcdef0123456789abcdef01234567';
  const ident = identify(hex.toUpperCase() + '.p2p', '.p2p');
  assert.equal(ident.kind, 'raw');
  assert.equal(ident.id.toString('hex'), hex);
  assert.equal(identify(hex.slice(1), '.p2p').kind, 'plain');
});

test('empty and overlong names are refused', () => {
  assert.throws(() => identify('.p2p', '.p2p'), QueryError);
  assert.throws(() => identify('', '.p2p'), QueryError);
  assert.throws(() => identify('a'.repeat(600), '.p2p'), QueryError);
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
