// KadNode 2.x bob keys and names against what the real KadNode 2.4.2 produced (test/helpers/kadnode2-fixtures.ts).
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, randomBytes, sign as hashingSign } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, test, type TestContext } from 'node:test';
import {
  bobId,
  BobKeyError,
  decodeBobName,
  encodeBobName,
  isBobKey,
  loadBobCurve,
  parseBobKeyPem,
  readBobKeyFile,
  signBobChallenge,
  verifyBobSignature,
  writeNewBobKeyFile,
} from '../../../src/identity/bob.js';
import { encodeZ32Key, generateKeyPair } from '../../../src/identity/keys.js';
import { identify, QueryError } from '../../../src/identity/query.js';
import { ANSWERED, CAPTURES, FIXTURE_NAMES, fixturePem, privateKeyCopy, type FixtureKey } from '../../helpers/kadnode2-fixtures.js';

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'kadnode-bob-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

// signing and verifying need the lazily loaded curve code; names and key files never do
before(() => loadBobCurve());

const signatureOf = (replyPacket: Buffer): Buffer => replyPacket.subarray(3);

/** An exported P-256 key whose public Y is odd (about every second key). */
function oddYPem(): string {
  for (;;) {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const y = Buffer.from(privateKey.export({ format: 'jwk' }).y!, 'base64url');
    if (y[31]! & 1) return privateKey.export({ type: 'sec1', format: 'pem' }).toString();
  }
}

// ---------------------------------------------------------------- names

test('point checks (node crypto) agree with @noble/curves on random X, valid or not', async () => {
  const { p256 } = await import('@noble/curves/nist.js');
  let valid = 0;
  for (let i = 0; i < 200; i++) {
    const x = randomBytes(32);
    const noble = p256.utils.isValidPublicKey(Buffer.concat([Buffer.of(2), x]), true);
    assert.equal(isBobKey(x), noble, x.toString('hex'));
    if (noble) valid++;
  }
  assert.ok(valid > 50 && valid < 150, `about half of all X are on the curve (${valid} of 200)`);
  for (const x of [Buffer.alloc(32), Buffer.alloc(32, 0xff), Buffer.from('ffffffff00000001000000000000000000000000ffffffffffffffffffffffff', 'hex')]) {
    assert.equal(isBobKey(x), p256.utils.isValidPublicKey(Buffer.concat([Buffer.of(2), x]), true), `edge ${x.toString('hex')}`);
  }
  assert.equal(isBobKey(Buffer.alloc(32, 0xff)), false, 'X above the field prime');
});

test('key files of KadNode 2.4.2 load and give exactly the names it printed', (t) => {
  const dir = tempDir(t);
  for (const key of Object.keys(FIXTURE_NAMES) as FixtureKey[]) {
    const loaded = readBobKeyFile(privateKeyCopy(key, dir));
    assert.equal(loaded.name, FIXTURE_NAMES[key], key);
    assert.equal(encodeBobName(loaded.x), FIXTURE_NAMES[key]);
    assert.deepEqual(loaded.id, loaded.x.subarray(0, 20));
    assert.equal(loaded.secret.length, 32);
  }
});

test('the same key as PKCS#8 PEM gives the same name', () => {
  const pkcs8 = createPrivateKey(fixturePem('key2')).export({ type: 'pkcs8', format: 'pem' });
  assert.match(pkcs8.toString(), /BEGIN PRIVATE KEY/);
  assert.equal(parseBobKeyPem(Buffer.from(pkcs8)).name, FIXTURE_NAMES.key2);
});

test('captured challenges carry the X that the name spells', () => {
  for (const c of CAPTURES) {
    assert.deepEqual(decodeBobName(c.name), c.x, c.name);
    assert.ok(isBobKey(c.x), `${c.name} is on P-256`);
  }
});

test('names: canonical lower-case Crockford of 52 characters ending in 0 or g only', () => {
  const name = FIXTURE_NAMES.key1;
  assert.equal(decodeBobName(name.toUpperCase()), null, 'identify() lowercases; the decoder takes the canonical spelling only');
  assert.equal(decodeBobName(name.slice(0, 51)), null);
  assert.equal(decodeBobName(name + '0'), null);
  // the last character holds one bit of X and four zero bits
  assert.equal(decodeBobName(name.slice(0, 51) + '1'), null);
  // Crockford's aliases (o for 0, i and l for 1) and u are no spelling of a key
  for (const alias of ['o', 'i', 'l', 'u']) assert.equal(decodeBobName(alias + name.slice(1)), null, alias);
  // a z-base32 PKARR key ends in y or o: never a bob name
  for (let i = 0; i < 50; i++) {
    const z32 = encodeZ32Key(generateKeyPair().publicKey);
    assert.match(z32, /[yo]$/);
    assert.equal(decodeBobName(z32), null);
  }
});

test('identify: bob names with or without the TLD, any case; other key spellings unchanged', () => {
  const { name, x } = { name: FIXTURE_NAMES.key1, x: decodeBobName(FIXTURE_NAMES.key1)! };
  for (const query of [name, `${name}.p2p`, `${name.toUpperCase()}.P2P`, `${name}.p2p.`]) {
    const ident = identify(query, '.p2p');
    assert.equal(ident.kind, 'bob', query);
    assert.deepEqual(ident.id, bobId(x));
    assert.deepEqual(ident.publicKey, x);
  }
  // 64 hex stays an ed25519 key (1.x), even where the bytes are a P-256 X
  assert.equal(identify(`${x.toString('hex')}.p2p`, '.p2p').kind, 'pkey');
  // a z-base32 ed25519 key stays a key
  const pk = generateKeyPair().publicKey;
  const z = identify(`${encodeZ32Key(pk)}.p2p`, '.p2p');
  assert.equal(z.kind, 'pkey');
  assert.deepEqual(z.publicKey, pk);
  // 40 hex stays a raw id; a plain name stays plain (also 52 characters outside the alphabet)
  assert.equal(identify(`${bobId(x).toString('hex')}.p2p`, '.p2p').kind, 'raw');
  assert.equal(identify('myhost.p2p', '.p2p').kind, 'plain');
  assert.equal(identify(`${'u'.repeat(51)}g.p2p`, '.p2p').kind, 'plain');
});

test('identify: a bob name whose X is not on P-256 is invalid, never a plain name', () => {
  let offCurve: string | undefined;
  for (let i = 0; i < 256 && !offCurve; i++) {
    const x = Buffer.alloc(32, i);
    if (!isBobKey(x)) offCurve = encodeBobName(x);
  }
  assert.ok(offCurve);
  assert.throws(() => identify(`${offCurve}.p2p`, '.p2p'), (err: unknown) => err instanceof QueryError && /not a point of P-256/.test(err.message));
});

test('identify: a bob name cannot be announced as a --value-id', () => {
  assert.throws(() => identify(FIXTURE_NAMES.key1, '.p2p', undefined, 'announce'), (err: unknown) => err instanceof QueryError && /--bob-load-key/.test(err.message));
});

// ---------------------------------------------------------------- signatures

test('the captured replies verify for their challenges and keys', () => {
  assert.equal(ANSWERED.length, 4);
  for (const c of ANSWERED) assert.ok(verifyBobSignature(signatureOf(c.replyPacket), c.challenge, c.x), c.name);
});

test('a captured reply altered, or for another challenge or another key, does not verify', () => {
  for (const c of ANSWERED) {
    const sig = signatureOf(c.replyPacket);
    for (let i = 0; i < sig.length; i++) {
      const altered = Buffer.from(sig);
      altered[i]! ^= 0x01;
      assert.equal(verifyBobSignature(altered, c.challenge, c.x), false, `byte ${i} of ${c.name}'s reply flipped`);
    }
    assert.equal(verifyBobSignature(Buffer.concat([sig, Buffer.of(0)]), c.challenge, c.x), false, 'trailing byte');
    assert.equal(verifyBobSignature(sig.subarray(0, sig.length - 1), c.challenge, c.x), false, 'truncated');
    for (const other of ANSWERED) {
      if (other === c) continue;
      assert.equal(verifyBobSignature(sig, other.challenge, c.x), false, 'another challenge');
      if (!other.x.equals(c.x)) assert.equal(verifyBobSignature(sig, c.challenge, other.x), false, 'another key');
    }
    const flipped = Buffer.from(c.challenge);
    flipped[31]! ^= 0x80;
    assert.equal(verifyBobSignature(sig, flipped, c.x), false, 'one bit of the challenge');
  }
});

test('the digest is the challenge itself: a signature over SHA-256 of it does not verify', (t) => {
  const key = readBobKeyFile(privateKeyCopy('key1', tempDir(t)));
  const c = ANSWERED[0]!;
  // node's crypto.sign hashes first: this is what a hashing implementation would send
  const wrong = hashingSign('sha256', c.challenge, { key: createPrivateKey(fixturePem('key1')), dsaEncoding: 'der' });
  assert.equal(verifyBobSignature(wrong, c.challenge, key.x), false);
  assert.ok(verifyBobSignature(signBobChallenge(c.challenge, key.secret), c.challenge, key.x));
});

test('our signatures verify under the same rule, for every fixture key', (t) => {
  const dir = tempDir(t);
  for (const key of Object.keys(FIXTURE_NAMES) as FixtureKey[]) {
    const loaded = readBobKeyFile(privateKeyCopy(key, dir));
    for (const c of CAPTURES) {
      const sig = signBobChallenge(c.challenge, loaded.secret);
      assert.ok(sig.length <= 72 && sig[0] === 0x30, 'DER');
      assert.ok(verifyBobSignature(sig, c.challenge, loaded.x));
    }
  }
});

// ---------------------------------------------------------------- key files

test('a key with an odd Y is refused, saying why', (t) => {
  const path = join(tempDir(t), 'odd.pem');
  writeFileSync(path, oddYPem(), { mode: 0o600 });
  assert.throws(() => readBobKeyFile(path), (err: unknown) => err instanceof BobKeyError && /odd Y coordinate/.test(err.message) && err.message.includes(path));
});

test('--bob-create-key: a new SEC1 key with even Y, mode 600, that loads back with the same name; never overwrites', (t) => {
  const dir = tempDir(t);
  for (let i = 0; i < 8; i++) {
    const path = join(dir, `new${i}.pem`);
    const created = writeNewBobKeyFile(path);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const text = readFileSync(path, 'utf8');
    assert.match(text, /^-----BEGIN EC PRIVATE KEY-----\n/, 'SEC1 PEM, as KadNode 2.x writes and loads');
    // the ASN.1 of mbedtls' keys: version, 32-byte d, the curve OID, the public point (121 bytes)
    assert.equal(createPrivateKey(text).export({ type: 'sec1', format: 'der' }).length, fixtureDerLength());
    const loaded = readBobKeyFile(path);
    assert.equal(loaded.name, created.name);
    assert.deepEqual(decodeBobName(created.name), loaded.x);
    assert.equal(identify(`${created.name}.p2p`, '.p2p').kind, 'bob');
  }
  const path = join(dir, 'new0.pem');
  const before = readFileSync(path);
  assert.throws(() => writeNewBobKeyFile(path), (err: unknown) => err instanceof BobKeyError && /exists; not overwritten/.test(err.message));
  assert.deepEqual(readFileSync(path), before);
});

const fixtureDerLength = (): number => createPrivateKey(fixturePem('key1')).export({ type: 'sec1', format: 'der' }).length;

test('key files: mode, kind and size are checked like @FILE keys; no key material in messages', (t) => {
  const dir = tempDir(t);
  const path = privateKeyCopy('key1', dir);
  chmodSync(path, 0o644);
  assert.throws(() => readBobKeyFile(path), /readable by group or others \(chmod 600 it\)/);
  chmodSync(path, 0o640);
  assert.throws(() => readBobKeyFile(path), /readable by group or others/);
  mkdirSync(join(dir, 'sub'));
  assert.throws(() => readBobKeyFile(join(dir, 'sub')), /is a directory, not a regular file/);
  assert.throws(() => readBobKeyFile('/dev/zero'), /is a character device, not a regular file/);
  assert.throws(() => readBobKeyFile(join(dir, 'missing.pem')), /cannot read key file .*ENOENT/);
  const big = join(dir, 'big.pem');
  writeFileSync(big, 'x'.repeat(100_000), { mode: 0o600 });
  assert.throws(() => readBobKeyFile(big), /too large/);

  const secretLine = readFileSync(join(dir, 'key1.pem'), 'utf8').split('\n')[1]!;
  const garbage = join(dir, 'garbage.pem');
  writeFileSync(garbage, `-----BEGIN EC PRIVATE KEY-----\n${secretLine.slice(0, 40)}\n-----END EC PRIVATE KEY-----\n`, { mode: 0o600 });
  assert.throws(
    () => readBobKeyFile(garbage),
    (err: unknown) => err instanceof BobKeyError && /not an unencrypted PEM private key/.test(err.message) && !err.message.includes(secretLine.slice(0, 20)),
  );
  for (const [label, pem] of [
    ['P-384', generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey.export({ type: 'sec1', format: 'pem' })],
    ['RSA', generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' })],
    ['ed25519', generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' })],
  ] as const) {
    const file = join(dir, `${label}.pem`);
    writeFileSync(file, pem, { mode: 0o600 });
    assert.throws(() => readBobKeyFile(file), (err: unknown) => err instanceof BobKeyError && /P-256/.test(err.message), label);
  }
});
