import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bep42NodeId, isBep42Valid, isExemptAddress } from '../../../src/dht/bep42.js';

// BEP 42's own table: IP, rand, and the id prefix / last byte it gives
const VECTORS = [
  ['124.31.75.21', 1, '5fbfbf', '01'],
  ['21.75.31.124', 86, '5a3ce9', '56'],
  ['65.23.51.170', 22, 'a5d432', '16'],
  ['84.124.73.14', 65, '1b0321', '41'],
  ['43.213.53.83', 90, 'e56f6c', '5a'],
] as const;

test('BEP 42 test vectors', () => {
  for (const [ip, rand, head, last] of VECTORS) {
    const id = bep42NodeId(ip, rand, Buffer.alloc(20));
    assert.equal(id.subarray(0, 3).toString('hex').slice(0, 5), head.slice(0, 5), ip);
    assert.equal(id[2]! & 0xf8, parseInt(head.slice(4), 16) & 0xf8, ip);
    assert.equal(id.subarray(19).toString('hex'), last);
    assert.ok(isBep42Valid(id, ip), `${ip} valid`);
  }
});

test('an id is valid only for its address; local addresses are exempt', () => {
  const id = bep42NodeId('124.31.75.21');
  assert.ok(isBep42Valid(id, '124.31.75.21'));
  assert.ok(!isBep42Valid(id, '21.75.31.124'), 'another address');
  assert.ok(!isBep42Valid(Buffer.alloc(20), '21.75.31.124'));
  const v6 = bep42NodeId('2001:db8::1');
  assert.ok(isBep42Valid(v6, '2001:db8::1'));
  assert.ok(!isBep42Valid(v6, '2001:db9::1'));
  for (const local of ['10.201.0.1', '127.0.0.1', '172.16.3.4', '192.168.1.1', '169.254.0.1', '::1', 'fe80::1', 'fd20::1']) {
    assert.ok(isExemptAddress(local), local);
    assert.ok(isBep42Valid(Buffer.alloc(20), local), local);
  }
  for (const global of ['124.31.75.21', '172.32.0.1', '2001:db8::1']) assert.ok(!isExemptAddress(global), global);
});
