import assert from 'node:assert/strict';
import { test } from 'node:test';
import { OwnAddresses } from '../../../src/net/own-addresses.js';

test('own addresses: interfaces, loopback and the external addresses, nothing else', () => {
  let external: (string | null)[] = [null];
  let clock = 0;
  let interfaces = ['10.201.0.2', 'fd20::2', 'fe80::1%eth0'];
  const own = new OwnAddresses({ external: () => external, interfaces: () => interfaces, now: () => clock }, { refreshMs: 1000 });
  for (const a of ['10.201.0.2', 'fd20:0:0::2', '::ffff:10.201.0.2', '127.0.0.1', '127.0.0.9', '::1', 'fe80::1']) assert.ok(own.has(a), a);
  for (const a of ['10.201.0.3', '203.0.113.5', 'fd20::3', 'example.com', '']) assert.ok(!own.has(a), a);
  external = ['203.0.113.5'];
  assert.ok(own.has('203.0.113.5'), 'the public address the DHT voted for');
  interfaces = ['10.201.0.7'];
  assert.ok(own.has('10.201.0.2'), 'interfaces are listed again only after refreshMs');
  clock = 1000;
  assert.ok(!own.has('10.201.0.2') && own.has('10.201.0.7'), 'an address gone from the interfaces is no longer ours');
});
