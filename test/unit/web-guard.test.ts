// The web interface refuses the routes that change the daemon (/announce, /blacklist) to requests a
// web page made a browser send, and serves them to command-line clients and typed URLs.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import type { CommandTable } from '../../src/commands.js';
import { silentLogger } from '../../src/log.js';
import { WebSurface } from '../../src/surfaces/web.js';

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
