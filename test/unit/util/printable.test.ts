import assert from 'node:assert/strict';
import { test } from 'node:test';
import { oneLine, printable, printableShort } from '../../../src/util/printable.js';

test('printable: a forged log line stays on one line, nothing lost', () => {
  const forged = 'a.p2p\n(W) DNS: fake warning\x1b[2J ü';
  const out = printable(forged);
  assert.equal(out, 'a.p2p\\x0a(W)\\x20DNS:\\x20fake\\x20warning\\x1b[2J\\x20\\xfc');
  assert.match(out, /^[\x21-\x7e]*$/);
  assert.equal(printable('foo.p2p'), 'foo.p2p');
});

test('printableShort: spaces kept, other unprintables as ?, at most 64 characters by default', () => {
  assert.equal(printableShort('lookup foo\r\nbar\x00'), 'lookup foo??bar?');
  assert.equal(printableShort('x'.repeat(100)).length, 64);
  assert.equal(printableShort('abcdef', 3), 'abc');
});

test('oneLine: an error message with line breaks becomes one line', () => {
  assert.equal(oneLine(new Error('first\n  second\tthird')), 'first second third');
  assert.equal(oneLine('plain'), 'plain');
});
