// Public-key names (src/pkarr/names.ts): which names are a z-base32 key, with or without the TLD.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import sodium from 'sodium-native';
import { encodeZ32Key } from '../../../src/identity/keys.js';
import { pkarrName } from '../../../src/pkarr/names.js';

const pk = Buffer.alloc(32);
const sk = Buffer.alloc(64);
sodium.crypto_sign_seed_keypair(pk, sk, Buffer.alloc(32, 7));
const Z32 = encodeZ32Key(pk);

test('names: <z32>, foo.<z32>, and both under the TLD; others are not public-key names', () => {
  assert.deepEqual(pkarrName(`${Z32}.p2p`, '.p2p'), { publicKey: pk, z32: Z32, sub: '', origin: `${Z32}.p2p`, name: `${Z32}.p2p` });
  assert.equal(pkarrName(`Foo.${Z32}.P2P.`, '.p2p')?.sub, 'foo');
  assert.equal(pkarrName(`foo.${Z32}`, '.p2p')?.origin, Z32);
  assert.equal(pkarrName(`a.b.${Z32}`, '.p2p')?.sub, 'a.b');
  assert.equal(pkarrName(`${Z32}.example.com`, '.p2p'), null);
  assert.equal(pkarrName('foo.p2p', '.p2p'), null);
  assert.equal(pkarrName(`${Z32.slice(0, 51)}.p2p`, '.p2p'), null, '51 characters are not a key');
  assert.equal(pkarrName(`..${Z32}`, '.p2p'), null);
});
