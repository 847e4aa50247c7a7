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

test('a coordinated minority of liars cannot move it; honest voters who change their report move their one vote', () => {
  const ext = new ExternalAddress();
  const changes: string[] = [];
  ext.onChange((a) => changes.push(a));
  for (let i = 0; i < 10; i++) ext.report(`10.0.0.${i}:1`, '203.0.113.5');
  // eight liars, all telling the same address, each of them again and again
  for (let round = 0; round < 3; round++) for (let i = 0; i < 8; i++) ext.report(`10.9.0.${i}:1`, '198.51.100.66');
  assert.equal(ext.address, '203.0.113.5', '8 liars against 10 honest voters');
  // liars scattered over many addresses are no plurality either
  for (let i = 0; i < 30; i++) ext.report(`10.8.0.${i}:1`, `192.0.2.${i + 1}`);
  assert.equal(ext.address, '203.0.113.5');
  // our address really changed: honest voters see the new one, and their old vote goes with it
  ext.report('10.0.0.0:1', '198.51.100.66');
  assert.equal(ext.address, '203.0.113.5', '9 against 9: a tie keeps the current address');
  ext.report('10.0.0.1:1', '198.51.100.66');
  assert.equal(ext.address, '198.51.100.66', '10 against 8');
  // and back again: a tie now keeps the new address, a majority moves it
  ext.report('10.0.0.0:1', '203.0.113.5');
  assert.equal(ext.address, '198.51.100.66', '9 against 9');
  ext.report('10.0.0.1:1', '203.0.113.5');
  assert.equal(ext.address, '203.0.113.5', '10 against 8');
  assert.deepEqual(changes, ['203.0.113.5', '198.51.100.66', '203.0.113.5'], 'one change event per change, none for votes that change nothing');
});

test('a first liar is outvoted as soon as honest voters report', () => {
  const ext = new ExternalAddress();
  ext.report('10.9.0.1:1', '198.51.100.66');
  assert.equal(ext.address, '198.51.100.66', 'alone, the first report decides');
  ext.report('10.0.0.1:1', '203.0.113.5');
  assert.equal(ext.address, '198.51.100.66', 'one against one: a tie keeps it');
  ext.report('10.0.0.2:1', '203.0.113.5');
  assert.equal(ext.address, '203.0.113.5', 'two against one');
});

test('a voter heard again is remembered as recent: the 64-voter bound forgets the silent ones first', () => {
  const ext = new ExternalAddress();
  for (let i = 0; i < 32; i++) ext.report(`10.0.0.${i}:1`, '203.0.113.5');
  for (let i = 0; i < 31; i++) ext.report(`10.9.0.${i}:1`, '198.51.100.66');
  assert.equal(ext.address, '203.0.113.5', '32 against 31');
  // the honest voters keep reporting; the liars do not (63 voters remembered)
  for (let i = 0; i < 32; i++) ext.report(`10.0.0.${i}:1`, '203.0.113.5');
  ext.report('10.8.0.1:1', '198.51.100.66'); // 64 voters: 32 against 32, a tie keeps it
  ext.report('10.8.0.2:1', '198.51.100.66'); // 65: the voter heard from longest ago goes, a liar
  assert.equal(ext.address, '203.0.113.5', 'the voters that keep reporting are the last to be forgotten');
});
