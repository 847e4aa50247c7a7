import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasTld, identify, QueryError, sanitizeQuery } from '../../../src/identity/query.js';

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
