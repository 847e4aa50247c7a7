import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { test } from 'node:test';
import { BindError, bindUdp, listenAll, listenTcp } from '../../../src/util/bind.js';

const HOST = '127.0.0.1';

test('bindUdp: a taken port fails with one line naming the address and the code; the socket is closed', async (t) => {
  const holder = await bindUdp(dgram.createSocket('udp4'), { port: 0, address: HOST });
  t.after(() => holder.close());
  const port = holder.address().port;
  const second = dgram.createSocket('udp4');
  const err = await bindUdp(second, { port, address: HOST, exclusive: true }).then(() => null, (e: unknown) => e);
  assert.ok(err instanceof BindError);
  assert.equal(err.message, `cannot bind ${HOST}:${port}/udp: EADDRINUSE`);
  assert.equal(err.code, 'EADDRINUSE');
  assert.equal(err.words, 'address already in use');
  assert.throws(() => second.close(), /Not running/, 'already closed by the helper');
});

test('bindUdp with keepOnFailure leaves the socket to its owner; onError gets errors after the bind', async (t) => {
  const holder = await bindUdp(dgram.createSocket('udp6'), { port: 0, address: '::1' });
  t.after(() => holder.close());
  const port = holder.address().port;
  const owned = dgram.createSocket('udp6');
  await assert.rejects(bindUdp(owned, { port, address: '::1', keepOnFailure: true }), { message: `cannot bind [::1]:${port}/udp: EADDRINUSE` });
  owned.close();
  const seen: Error[] = [];
  const socket = await bindUdp(dgram.createSocket('udp4'), { port: 0, address: HOST, onError: (e) => seen.push(e) });
  socket.emit('error', new Error('later'));
  socket.close();
  assert.deepEqual(seen.map((e) => e.message), ['later'], 'handled, not thrown');
});

test('listenAll: one server per address; a failure closes what was opened and names the address', async (t) => {
  const holder = await listenTcp(net.createServer(), { host: HOST, port: 0, onError: () => {} });
  t.after(() => holder.close());
  const port = (holder.address() as net.AddressInfo).port;
  const created: net.Server[] = [];
  const create = () => {
    const s = net.createServer();
    created.push(s);
    return s;
  };
  await assert.rejects(listenAll(['::1', HOST], port, create, () => {}), { message: `cannot bind ${HOST}:${port}/tcp: EADDRINUSE` });
  assert.equal(created.length, 2);
  assert.equal(created[0]!.listening, false, 'the [::1] server was closed again');
  const errors: string[] = [];
  const servers = await listenAll([HOST], 0, create, (err, address) => errors.push(`${address}: ${err.message}`));
  servers[0]!.emit('error', new Error('EMFILE'));
  servers[0]!.emit('error', new Error('EMFILE'));
  assert.deepEqual(errors, [`${HOST}: EMFILE`, `${HOST}: EMFILE`], 'every later error is reported, none takes the process down');
  await new Promise((r) => servers[0]!.close(r));
});
