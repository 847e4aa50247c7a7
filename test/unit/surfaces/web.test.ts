// The web interface refuses the routes that change the daemon (/announce, /blacklist, relay PUT) to
// requests a web page made a browser send, and serves them to command-line clients and typed URLs; it
// serves no route to a Host that is not its own (DNS rebinding). The rules: surfaces/web-origin.test.ts.
// Its bounds (connections, idle and slow clients) are at the end.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import type { CommandTable } from '../../../src/commands.js';
import { silentLogger } from '../../../src/log.js';
import { WebSurface } from '../../../src/surfaces/web.js';
import { echoCommands, rawClient } from '../../helpers/line-surface.js';
import type { PkarrRelay } from '../../../src/pkarr/relay.js';

function get(port: number, path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path, headers: { Connection: 'close', ...headers }, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    }).on('error', reject);
  });
}

test('web: /announce and /blacklist refuse requests from web pages (403, command not run); others and CLI clients are served', async (t) => {
  const ran: string[] = [];
  const commands = { run: async (line: string) => (ran.push(line), { ok: true, kind: 'ok' as const, text: 'done' }) } as unknown as CommandTable;
  const web = new WebSurface(commands, silentLogger, { port: 0, addresses: ['127.0.0.1'] });
  await web.start();
  t.after(() => web.stop());
  const port = web.ports()[0]!;
  const cases: [string, Record<string, string>, number][] = [
    ['/announce?foo.p2p', {}, 200], // curl, kadnode-ctl, scripts
    ['/announce?foo.p2p', { 'Sec-Fetch-Site': 'none', 'Sec-Fetch-Mode': 'navigate' }, 200], // typed into the address bar
    ['/announce?evil.p2p', { 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'no-cors' }, 403], // <img src=...> on a page
    ['/blacklist?10.201.0.9', { 'Sec-Fetch-Site': 'same-site' }, 403],
    ['/blacklist?10.201.0.9', { 'Sec-Fetch-Site': 'same-origin' }, 403], // a page on a name rebound to 127.0.0.1
    ['/announce?evil.p2p', { Origin: 'http://example.com' }, 403], // a browser older than Sec-Fetch-*
    ['/lookup?foo.p2p', { 'Sec-Fetch-Site': 'cross-site' }, 200], // changes nothing
    ['/status', { Origin: 'http://example.com' }, 200],
  ];
  for (const [path, headers, status] of cases) assert.equal(await get(port, path, headers), status, `${path} ${JSON.stringify(headers)}`);
  assert.deepEqual(ran, ['announce foo.p2p', 'announce foo.p2p', 'lookup foo.p2p', 'status']);
});

function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.end(request));
    let text = '';
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer in 5 s')));
    socket.on('data', (chunk) => (text += chunk.toString('latin1')));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
}

test('web: a Host that is not ours gets 421 on every route (DoH and relay too) and nothing runs; Referer marks a page', async (t) => {
  const ran: string[] = [];
  const commands = { run: async (line: string) => (ran.push(line), { ok: true, kind: 'ok' as const, text: 'done' }) } as unknown as CommandTable;
  const doh = { answer: async () => (ran.push('doh'), null) };
  const relay = {
    maxPayload: 1072,
    allowPut: () => (ran.push('allowPut'), true),
    get: async () => (ran.push('get'), { status: 404, message: 'none' }),
    put: async () => (ran.push('put'), { status: 204, stored: 1 }),
  } as unknown as PkarrRelay;
  const web = new WebSurface(commands, silentLogger, { port: 0, addresses: ['127.0.0.1'], hosts: new Set(['kadnode.lan']) }, { doh, relay });
  await web.start();
  t.after(() => web.stop());
  const port = web.ports()[0]!;
  const z32 = 'o'.repeat(52);
  const request = (line: string, host: string | null, extra = ''): string =>
    `${line} HTTP/1.1\r\n${host === null ? '' : `Host: ${host}\r\n`}${extra}Connection: close\r\n\r\n`;
  for (const host of ['rebound.test', `rebound.test:${port}`, `127.0.0.2:${port}`, '127.0.0.1.nip.io']) {
    for (const line of ['GET /status', 'GET /lookup?foo.p2p', 'GET /announce?evil.p2p', 'GET /blacklist?10.201.0.9', 'GET /dns-query?dns=AAAA', `GET /${z32}`, `OPTIONS /${z32}`, `PUT /${z32}`]) {
      const answer = await raw(port, request(line, host, line.startsWith('PUT') ? 'Content-Length: 0\r\n' : ''));
      assert.match(answer, /^HTTP\/1\.1 421 /, `${line} with Host ${host}`);
      assert.doesNotMatch(answer, /Access-Control/i, 'no CORS: a page may not even read the refusal');
    }
  }
  // HTTP/1.0 needs no Host (node refuses an HTTP/1.1 request without one itself, with 400)
  assert.match(await raw(port, 'GET /status HTTP/1.0\r\n\r\n'), /^HTTP\/1\.1 421 /);
  assert.deepEqual(ran, [], 'no route ran');

  assert.match(await raw(port, request('GET /status', `localhost:${port}`)), /^HTTP\/1\.1 200 /);
  assert.match(await raw(port, request('GET /status', 'KadNode.lan')), /^HTTP\/1\.1 200 /, 'a name given with --web-host');
  assert.match(await raw(port, request(`GET /${z32}`, `127.0.0.1:${port}`, 'Origin: http://app.example\r\n')), /^HTTP\/1\.1 404 [^]*Access-Control-Allow-Origin: \*/i, 'relay GET keeps CORS');
  const referer = 'Referer: http://evil.example/\r\n';
  assert.match(await raw(port, request('GET /announce?evil.p2p', `127.0.0.1:${port}`, referer)), /^HTTP\/1\.1 403 /);
  assert.match(await raw(port, request(`PUT /${z32}`, `127.0.0.1:${port}`, `${referer}Content-Length: 0\r\n`)), /^HTTP\/1\.1 403 /);
  assert.match(await raw(port, request(`PUT /${z32}`, `127.0.0.1:${port}`, 'Sec-Fetch-Site: cross-site\r\nContent-Length: 0\r\n')), /^HTTP\/1\.1 403 /);
  assert.match(await raw(port, request(`PUT /${z32}`, `127.0.0.1:${port}`, 'Origin: http://app.example\r\nContent-Length: 0\r\n')), /^HTTP\/1\.1 403 /);
  assert.deepEqual(ran, ['status', 'status', 'get'], 'neither the announce nor any PUT ran, not even the PUT rate limit');
});

// ---------------------------------------------------------------- bounds: connections, idle and slow clients

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('web interface: 64 connections; when full a newcomer evicts the one idle the longest; idle ones are closed within about 12 s', { timeout: 40_000 }, async (t) => {
  const web = new WebSurface(echoCommands, silentLogger, { port: 0, addresses: ['127.0.0.1'] });
  await web.start();
  t.after(() => web.stop());
  const port = web.ports()[0]!;
  const idle = Array.from({ length: 64 }, () => rawClient(port));
  await sleep(300);
  const get = async (): Promise<string> => {
    const c = rawClient(port, 'GET /status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
    await Promise.race([c.closed, sleep(1500)]);
    c.socket.destroy();
    return c.reply();
  };
  assert.match(await get(), /^HTTP\/1\.1 200 OK/, 'the 65th connection is served');
  assert.equal(await Promise.race([idle[0]!.closed.then(() => 'closed'), sleep(1000).then(() => 'open')]), 'closed', 'the one idle the longest made room');
  const t0 = performance.now();
  await Promise.all(idle.map((c) => Promise.race([c.closed, sleep(20_000)])));
  const ms = performance.now() - t0;
  for (const c of idle) c.socket.destroy();
  assert.ok(ms < 15_000, `idle connections closed after ${Math.round(ms)} ms`);
  await sleep(100);
  assert.match(await get(), /^HTTP\/1\.1 200 OK/);
});

test('web interface: a kept-alive connection is closed 5 s after its answer; headers sent a byte a second, at 10 s', { timeout: 40_000 }, async (t) => {
  const web = new WebSurface(echoCommands, silentLogger, { port: 0, addresses: ['127.0.0.1'] });
  await web.start();
  t.after(() => web.stop());
  const port = web.ports()[0]!;
  const t0 = performance.now();
  const kept = rawClient(port, 'GET /status HTTP/1.1\r\nHost: localhost\r\n\r\n');
  // never idle, never done: one byte of a header every second
  const trickle = rawClient(port, 'GET /status HTTP/1.1\r\nX-Slow: ');
  const drip = setInterval(() => trickle.socket.write('a'), 1000);
  t.after(() => {
    clearInterval(drip);
    kept.socket.destroy();
    trickle.socket.destroy();
  });
  const keptMs = await Promise.race([kept.closed.then(() => performance.now() - t0), sleep(15_000).then(() => Infinity)]);
  assert.match(kept.reply(), /^HTTP\/1\.1 200 OK/);
  assert.ok(keptMs >= 4_500 && keptMs < 9_000, `kept-alive connection closed after ${Math.round(keptMs)} ms`);
  const trickleMs = await Promise.race([trickle.closed.then(() => performance.now() - t0), sleep(20_000).then(() => Infinity)]);
  clearInterval(drip);
  assert.ok(trickleMs >= 9_500 && trickleMs < 15_000, `trickling headers cut off after ${Math.round(trickleMs)} ms`);
});
