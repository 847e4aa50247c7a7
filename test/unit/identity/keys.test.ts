// Keys (src/identity/keys.ts): the libsodium layout, z-base32, key files and what they may not be.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import sodium from 'sodium-native';
import { decodeZ32Key, encodeZ32Key, generateKeyPair, KeyError, publicKeyOf, readSecretKeyText } from '../../../src/identity/keys.js';
import { KeyRing } from '../../../src/identity/patterns.js';
import { PK, PK_Z32, SK } from '../../helpers/key-vectors.js';

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

test('key files: a directory, a FIFO, /dev/zero or a huge file is refused at once with a key error naming it', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kadnode-keys-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const sub = join(dir, 'sub');
  mkdirSync(sub, { mode: 0o700 });
  chmodSync(sub, 0o700);
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', ['-m', '600', fifo]);
  const big = join(dir, 'big');
  writeFileSync(big, 'a'.repeat(1024 * 1024), { mode: 0o600 });
  for (const [path, why] of [[sub, /is a directory, not a regular file/], [fifo, /is a FIFO \(named pipe\), not a regular file/], ['/dev/zero', /is a character device, not a regular file/], [big, /too large/]] as const) {
    assert.throws(() => readSecretKeyText('@' + path), (err: unknown) => err instanceof KeyError && why.test((err as Error).message), path);
  }
});
