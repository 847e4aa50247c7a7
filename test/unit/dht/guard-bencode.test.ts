// The guard's bencode check: the bencode package loops on a negative string length until the process
// runs out of memory (a 16-byte datagram found by the fuzzer, test/fuzz); the guard refuses such input
// before any decoder sees it, and accepts exactly what encodes as one bencode value.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { test } from 'node:test';
import bencode from 'bencode';
import { pingReply } from '../../helpers/krpc-ping.js';
import fc from 'fast-check';
import { checkKrpc, isBencode } from '../../../src/dht/guard.js';
import { DhtNode } from '../../../src/dht/node.js';
import { silentLogger } from '../../../src/log.js';
import { bencodeValue } from '../../fuzz/inputs.js';

const LOOPS = Buffer.from('d1:Sli201e-3:Gen');

test('a negative string length is not bencode (the bencode package would loop until out of memory)', () => {
  assert.equal(isBencode(LOOPS), false);
  assert.equal(checkKrpc(LOOPS), 'not bencode');
  for (const text of ['-3:abc', 'l-1:ae', 'd1:a-0:e', '3:ab', 'i12', 'ie', 'i-e', 'le1', 'd1:ae', 'di1ei2ee', 'dl1:aeee', '', 'e', 'x', '1:', '4294967296:abc', 'l'.repeat(40) + 'e'.repeat(40)]) {
    assert.equal(isBencode(Buffer.from(text, 'latin1')), false, JSON.stringify(text));
  }
  for (const text of ['0:', 'i-12e', 'i0e', 'le', 'de', 'd1:al1:bi3ee1:cdee', 'l'.repeat(32) + 'e'.repeat(32)]) {
    assert.equal(isBencode(Buffer.from(text, 'latin1')), true, JSON.stringify(text));
  }
});

test('isBencode accepts every encoded value, and whatever it accepts decodes', () => {
  fc.assert(fc.property(bencodeValue, (value) => isBencode(Buffer.from(bencode.encode(value)))), { seed: 44, numRuns: 3000 });
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.concat([Buffer.from('d1:t2:aa1:y1:q'), b])), fc.boolean(), (bytes, cut) => {
      const buf = cut ? bytes.subarray(0, bytes.length - 1) : bytes;
      if (isBencode(buf)) bencode.decode(buf);
    }),
    { seed: 45, numRuns: 5000 },
  );
});

test('a live node survives the 16-byte packet and still answers', { timeout: 15_000 }, async (t) => {
  const node = new DhtNode(silentLogger, { port: 0, address: '127.0.0.1', storage: { maxAgeMs: 60_000, maxTotal: 10, maxPerId: 10 }, maxSearches: 1 });
  await node.start();
  const client = dgram.createSocket('udp4');
  t.after(async () => {
    client.close();
    await node.stop();
  });
  await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
  const port = node.boundPort();
  for (let i = 0; i < 20; i++) client.send(LOOPS, port, '127.0.0.1');
  assert.ok(await pingReply(client, port, Buffer.alloc(20, 3)), 'the node answers a ping');
  assert.ok(node.socket.counters.rejected >= 20);
});
