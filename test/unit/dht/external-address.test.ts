import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExternalAddress } from '../../../src/dht/external-address.js';

test('the address most voters report wins; one liar among honest voters changes nothing', () => {
  const ext = new ExternalAddress();
  const changes: string[] = [];
  ext.onChange((a) => changes.push(a));
  assert.equal(ext.address, null);
  ext.report('10.0.0.1:1', '203.0.113.5');
  assert.equal(ext.address, '203.0.113.5', 'the first vote decides while alone');
  ext.report('10.0.0.2:1', '203.0.113.5');
  ext.report('10.0.0.3:1', '198.51.100.66');
  assert.equal(ext.address, '203.0.113.5', 'a lone liar is outvoted');
  ext.report('10.0.0.4:1', '198.51.100.66');
  assert.equal(ext.address, '203.0.113.5', 'a tie keeps the current address');
  ext.report('10.0.0.5:1', '198.51.100.66');
  assert.equal(ext.address, '198.51.100.66', 'a real majority moves it (the address changed)');
  assert.deepEqual(changes, ['203.0.113.5', '198.51.100.66']);
});

test('each voter has one vote, its latest; junk is no vote; at most 64 voters are remembered', () => {
  const ext = new ExternalAddress();
  for (let i = 0; i < 10; i++) ext.report('10.0.0.9:1', '198.51.100.66');
  ext.report('10.0.0.1:1', '203.0.113.5');
  ext.report('10.0.0.2:1', '203.0.113.5');
  assert.equal(ext.address, '203.0.113.5', 'ten reports from one voter are one vote');
  for (const junk of ['', 'nonsense', '0.0.0.0', '::', '999.1.1.1']) ext.report('10.0.0.3:1', junk);
  assert.equal(ext.address, '203.0.113.5');
  // 64 new voters push the old ones out: the address follows the voters that are left
  for (let i = 0; i < 64; i++) ext.report(`10.1.0.${i}:1`, '192.0.2.7');
  assert.equal(ext.address, '192.0.2.7');
  ext.report('10.0.0.1:1', '203.0.113.5');
  assert.equal(ext.address, '192.0.2.7', 'forgotten voters count no more');
});
