// The route decision (src/chain/route.ts), made once per query: every kind of name against every scope,
// with and without an upstream.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeZ32Key } from '../../../src/identity/keys.js';
import { routeOf, type Scope } from '../../../src/chain/route.js';

const Z32 = encodeZ32Key(Buffer.alloc(32, 7));
const TLD = '.p2p';
const kind = (name: string, scope: Scope, upstream = false) => routeOf(name, scope, { tld: TLD, upstream }).kind;

test('dns scope: public-key zones, then the TLD, then the upstream or REFUSED', () => {
  for (const name of [Z32, `${Z32}.p2p`, `www.${Z32}`, `Www.${Z32.toUpperCase()}.P2P.`]) assert.equal(kind(name, 'dns'), 'pkarr', name);
  for (const name of ['foo.p2p', 'FOO.P2P', 'foo.p2p.', 'a.b.p2p', '0123456789abcdef0123456789abcdef01234567.p2p']) assert.equal(kind(name, 'dns'), 'tld', name);
  for (const name of ['example.com', 'p2p', '.p2p', 'foo.p2p.example', `${Z32}.example.com`]) {
    assert.equal(kind(name, 'dns'), 'refuse', `${name} without an upstream`);
    assert.equal(kind(name, 'dns', true), 'upstream', `${name} with an upstream`);
  }
});

test('tld-only scope (NSS): nothing outside the TLD, not even a bare key, and never upstream', () => {
  assert.equal(kind(Z32, 'tld-only', true), 'refuse');
  assert.equal(kind('example.com', 'tld-only', true), 'refuse');
  assert.equal(kind(`${Z32}.p2p`, 'tld-only'), 'pkarr');
  assert.equal(kind('foo.p2p', 'tld-only', true), 'tld');
});

test('any scope (commands): every name is looked up, bare names and ids too; keys are still pkarr', () => {
  for (const name of ['foo', 'example.com', '0123456789abcdef0123456789abcdef01234567', 'foo.p2p']) assert.equal(kind(name, 'any', true), 'tld', name);
  assert.equal(kind(Z32, 'any'), 'pkarr');
});

test('the zone an answer speaks for: the key origin as asked, else the TLD; the name as given', () => {
  const apex = routeOf(`${Z32}.P2P`, 'dns', { tld: TLD, upstream: false });
  assert.equal(apex.zone, `${Z32}.p2p`);
  assert.equal(apex.name, `${Z32}.P2P`);
  assert.ok(apex.kind === 'pkarr' && apex.pkarr.sub === '' && apex.pkarr.z32 === Z32);
  const sub = routeOf(`a.b.${Z32}`, 'dns', { tld: TLD, upstream: false });
  assert.ok(sub.kind === 'pkarr' && sub.pkarr.sub === 'a.b');
  assert.equal(sub.zone, Z32);
  assert.equal(routeOf('foo.p2p', 'dns', { tld: TLD, upstream: false }).zone, TLD);
  assert.equal(routeOf('example.com', 'dns', { tld: TLD, upstream: true }).zone, TLD);
});

test('another TLD (--query-tld) moves every decision with it', () => {
  const route = (name: string) => routeOf(name, 'dns', { tld: '.kad', upstream: true }).kind;
  assert.equal(route('foo.kad'), 'tld');
  assert.equal(route('foo.p2p'), 'upstream');
  assert.equal(route(`${Z32}.kad`), 'pkarr');
});
