// Name patterns and the key ring (src/identity/patterns.ts): which name a key signs or checks, matching
// and conflicts as in KadNode 1.x, errors that never show a secret.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyRing, patternMatches, patternsConflict } from '../../../src/identity/patterns.js';
import { identify } from '../../../src/identity/query.js';
import { A_EXAMPLE_ID, PK, SEED, SK } from '../../helpers/key-vectors.js';

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
