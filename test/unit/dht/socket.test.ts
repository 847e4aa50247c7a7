// The DHT socket's answer to malformed queries (src/dht/socket.ts): BEP 5 error 203 "Protocol Error" for
// a query with a transaction id that the guard refuses, silence for replies, errors and packets without
// `t`, and a bound on how many such answers go out a second (forged-source floods get a trickle).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { test } from 'node:test';
import bencode from 'bencode';
import { DhtNode } from '../../../src/dht/node.js';
import { silentLogger } from '../../../src/log.js';

type Dict = Record<string, unknown>;

async function setup(t: import('node:test').TestContext) {
  const node = new DhtNode(silentLogger, { port: 0, address: '127.0.0.1', storage: { maxAgeMs: 60_000, maxTotal: 100, maxPerId: 10 }, maxSearches: 4 });
  await node.start();
  t.after(() => node.stop());
  const client = dgram.createSocket('udp4');
  await new Promise<void>((r) => client.bind(0, '127.0.0.1', () => r()));
  t.after(() => client.close());
  const received: Dict[] = [];
  client.on('message', (msg) => received.push(bencode.decode(msg) as Dict));
  const send = (m: unknown) => client.send(Buffer.from(typeof m === 'string' ? m : bencode.encode(m)), node.boundPort(), '127.0.0.1');
  return { node, received, send };
}

const settle = () => new Promise((r) => setTimeout(r, 150));

test('a malformed query with a transaction id gets error 203; replies, errors and packets without t get nothing', async (t) => {
  const { received, send } = await setup(t);
  send({ t: 'aa', y: 'q', q: 'get_peers', a: { id: randomBytes(20), info_hash: Buffer.from('short') } });
  await settle();
  assert.equal(received.length, 1);
  assert.equal(Buffer.from(received[0]!.t as Uint8Array).toString(), 'aa');
  assert.equal(Buffer.from(received[0]!.y as Uint8Array).toString(), 'e');
  assert.equal((received[0]!.e as unknown[])[0], 203);
  send({ y: 'q', q: 'ping', a: { id: Buffer.from('short') } }); // no t
  send({ t: 'bb', y: 'r', r: { id: Buffer.from('short') } }); // a bad reply
  send({ t: 'cc', y: 'e', e: 'not a list' }); // a bad error
  send('not bencode at all');
  await settle();
  assert.equal(received.length, 1, 'nothing more');
});

test('error 203 answers are bounded per second', async (t) => {
  const { node, received, send } = await setup(t);
  for (let i = 0; i < 100; i++) send({ t: 'dd', y: 'q', q: 'find_node', a: { id: randomBytes(20), target: Buffer.from('x') } });
  await settle();
  assert.ok(received.length > 0 && received.length <= 40, `${received.length} answers to 100 bad queries (at most 20 a second)`);
  assert.equal(node.socket.counters.protocolErrors, received.length);
});
