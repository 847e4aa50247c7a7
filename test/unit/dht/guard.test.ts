import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import bencode from 'bencode';
import fc from 'fast-check';
import { pingReply } from '../../helpers/krpc-ping.js';
import { checkKrpc, isBencode } from '../../../src/dht/guard.js';
import { DhtNode } from '../../../src/dht/node.js';
import { silentLogger } from '../../../src/log.js';
import { bencodeValue } from '../../fuzz/inputs.js';

const id = () => randomBytes(20);
const enc = (m: unknown) => Buffer.from(bencode.encode(m));
const t = Buffer.from('aa');

// The packets that throw inside bittorrent-dht 11 when they reach it unchecked.
export const CRASHERS: Record<string, Buffer> = {
  'find_node with integer target': enc({ t, y: 'q', q: 'find_node', a: { id: id(), target: 42 } }),
  'get_peers with integer info_hash': enc({ t, y: 'q', q: 'get_peers', a: { id: id(), info_hash: 42 } }),
  'announce_peer with integer token': enc({ t, y: 'q', q: 'announce_peer', a: { id: id(), info_hash: id(), port: 80, token: 7 } }),
  'put with sig but no k': enc({ t, y: 'q', q: 'put', a: { id: id(), token: Buffer.alloc(20), v: 'x', sig: Buffer.alloc(64), seq: 1 } }),
  'get reply with short sig': enc({ t, y: 'r', r: { id: id(), v: 'x', k: Buffer.alloc(32), sig: Buffer.alloc(3), seq: 1 } }),
  'get reply with integer k': enc({ t, y: 'r', r: { id: id(), v: 'x', k: 5, sig: Buffer.alloc(64), seq: 1 } }),
};

test('the guard rejects every known crasher packet', () => {
  for (const [name, packet] of Object.entries(CRASHERS)) assert.notEqual(checkKrpc(packet), null, name);
});

test('the guard passes well-formed BEP 5 and BEP 44 messages', () => {
  const good = [
    { t, y: 'q', q: 'ping', a: { id: id() } },
    { t, y: 'q', q: 'find_node', a: { id: id(), target: id() } },
    { t, y: 'q', q: 'get_peers', a: { id: id(), info_hash: id() } },
    { t, y: 'q', q: 'announce_peer', a: { id: id(), info_hash: id(), port: 6881, token: Buffer.alloc(8), implied_port: 0 } },
    { t, y: 'q', q: 'get', a: { id: id(), target: id() } },
    { t, y: 'q', q: 'put', a: { id: id(), token: Buffer.alloc(8), v: 'hello' } },
    { t, y: 'q', q: 'put', a: { id: id(), token: Buffer.alloc(8), v: 'hello', k: Buffer.alloc(32), sig: Buffer.alloc(64), seq: 3 } },
    { t, y: 'r', r: { id: id(), nodes: Buffer.alloc(26), token: Buffer.alloc(8), values: [Buffer.alloc(6)] } },
    { t, y: 'e', e: [201, 'error'] },
  ];
  for (const message of good) assert.equal(checkKrpc(enc(message)), null, JSON.stringify(message));
});

test('the guard rejects structural junk', () => {
  assert.equal(checkKrpc(Buffer.from('not bencode')), 'not bencode');
  assert.equal(checkKrpc(enc([1, 2])), 'not a dictionary');
  assert.notEqual(checkKrpc(enc({ y: 'q', q: 'ping', a: { id: id() } })), null);
  assert.notEqual(checkKrpc(enc({ t, y: 'q', q: 'ping', a: { id: Buffer.alloc(3) } })), null);
  assert.notEqual(checkKrpc(enc({ t, y: 'r', r: { id: id(), values: [1] } })), null);
  assert.notEqual(checkKrpc(enc({ t, y: 'z' })), null);
});

/** A node on loopback and a client socket to attack it from, both closed when the test ends. */
async function liveNode(t: TestContext, maxTotal: number, maxSearches: number) {
  const node = new DhtNode(silentLogger, { port: 0, address: '127.0.0.1', storage: { maxAgeMs: 60_000, maxTotal, maxPerId: 10 }, maxSearches });
  await node.start();
  const client = dgram.createSocket('udp4');
  t.after(async () => {
    client.close();
    await node.stop();
  });
  await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
  return { node, client, port: node.boundPort() };
}

test('a live node survives crashers and random junk, and still answers', { timeout: 15_000 }, async (t) => {
  const { node, client, port } = await liveNode(t, 100, 8);
  const send = (b: Buffer) => new Promise<void>((resolve) => client.send(b, port, '127.0.0.1', () => resolve()));
  for (const packet of Object.values(CRASHERS)) await send(packet);
  for (let i = 0; i < 300; i++) {
    await send(randomBytes(i % 120));
    // Same process on both ends: let the node drain its socket so the kernel does not drop datagrams.
    if (i % 20 === 0) await new Promise((r) => setTimeout(r, 5));
  }
  // A reply comes back only for a valid ping after all of that (resent: loopback UDP may still drop).
  assert.ok(await pingReply(client, port, id()), 'the node answers a ping');
  assert.ok(node.socket.counters.rejected >= Object.keys(CRASHERS).length);
  assert.equal(node.socket.counters.libraryErrors, 0);
});

// ---------------------------------------------------------------- bencode

// The guard's bencode check: the bencode package loops on a negative string length until the process
// runs out of memory (a 16-byte datagram found by the fuzzer, test/fuzz); the guard refuses such input
// before any decoder sees it, and accepts exactly what encodes as one bencode value.

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
  const { node, client, port } = await liveNode(t, 10, 1);
  for (let i = 0; i < 20; i++) client.send(LOOPS, port, '127.0.0.1');
  assert.ok(await pingReply(client, port, Buffer.alloc(20, 3)), 'the node answers a ping');
  assert.ok(node.socket.counters.rejected >= 20);
});
