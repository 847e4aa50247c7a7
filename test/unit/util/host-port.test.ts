import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostPort, isLoopback } from '../../../src/util/host-port.js';

test('hostPort writes IPv6 in brackets, IPv4 and names as they are', () => {
  assert.equal(hostPort('10.201.0.1', 6881), '10.201.0.1:6881');
  assert.equal(hostPort('fd20::1', 53), '[fd20::1]:53');
  assert.equal(hostPort('fe80::1%eth0', 1), '[fe80::1%eth0]:1');
  assert.equal(hostPort('::ffff:127.0.0.1', 3535), '[::ffff:127.0.0.1]:3535');
  assert.equal(hostPort('localhost', 8053), 'localhost:8053');
});

test('isLoopback: 127.0.0.0/8, IPv4-mapped loopback and ::1; nothing else', () => {
  for (const a of ['127.0.0.1', '127.0.0.53', '127.255.255.254', '::1', '::ffff:127.0.0.1', '::FFFF:127.1.2.3']) assert.equal(isLoopback(a), true, a);
  for (const a of ['10.201.0.1', '0.0.0.0', '::', 'fd20::1', '::ffff:10.0.0.1', '128.0.0.1', '1.127.0.0', '::2']) assert.equal(isLoopback(a), false, a);
});
