// The dashboard's routes on a real web surface over loopback: the page, its assets (gzip, ETag/304,
// HEAD), /api/state and /metrics; a strict Content-Security-Policy on every answer; and the attacks:
// a page on a name rebound to 127.0.0.1 gets 421 from every dashboard route, a page on another origin
// cannot read /api/state (no CORS header), paths outside the fixed asset list are 404, and nothing
// but GET and HEAD is served.
import assert from 'node:assert/strict';
import http from 'node:http';
import { test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import type { CommandTable } from '../../../src/commands.js';
import { silentLogger } from '../../../src/log.js';
import { DaemonMetrics } from '../../../src/surfaces/metrics.js';
import { QueryStats } from '../../../src/surfaces/query-stats.js';
import { WebDashboard } from '../../../src/surfaces/web-dashboard.js';
import { WebSurface } from '../../../src/surfaces/web.js';
import { NODE_ID, sampleSnapshot } from '../../helpers/snapshot.js';

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

function request(port: number, path: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: { Connection: 'close', ...options.headers }, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer in 5 s')));
    req.on('error', reject);
    req.end();
  });
}

async function startWeb(t: test.TestContext): Promise<{ port: number; queries: QueryStats; ran: string[] }> {
  const ran: string[] = [];
  const commands = { run: async (line: string) => (ran.push(line), { ok: true, kind: 'ok' as const, text: 'done' }) } as unknown as CommandTable;
  const queries = new QueryStats();
  const snapshot = () => sampleSnapshot();
  const dashboard = new WebDashboard({ snapshot, queries, metrics: new DaemonMetrics({ snapshot, queries, version: '0.1.0' }) });
  await dashboard.start();
  const web = new WebSurface(commands, silentLogger, { port: 0, addresses: ['127.0.0.1'] }, { dashboard });
  await web.start();
  t.after(() => web.stop());
  return { port: web.ports()[0]!, queries, ran };
}

const ASSETS: [string, RegExp][] = [
  ['/', /^text\/html/],
  ['/assets/client.js', /^text\/javascript/],
  ['/assets/charts.js', /^text\/javascript/],
  ['/assets/dashboard.css', /^text\/css/],
  ['/assets/uPlot.min.js', /^text\/javascript/],
  ['/assets/uPlot.min.css', /^text\/css/],
  ['/assets/icon.svg', /^image\/svg\+xml/],
];

test('dashboard: the page and every asset it names are served, with CSP, gzip and ETag', async (t) => {
  const { port } = await startWeb(t);
  const page = await request(port, '/');
  const html = page.body.toString();
  for (const [, src] of html.matchAll(/(?:src|href)="(\/[^"]*)"/g)) if (!['/metrics', '/status'].includes(src!)) assert.ok(ASSETS.some(([path]) => path === src), `the page names ${src}, not served`);
  assert.doesNotMatch(html, /<script>|\son\w+=|https?:\/\//, 'inline script, handler or an outside URL in the page');
  for (const [path, type] of ASSETS) {
    const plain = await request(port, path);
    assert.equal(plain.status, 200, path);
    assert.match(String(plain.headers['content-type']), type, path);
    assert.match(String(plain.headers['content-security-policy']), /default-src 'none'; script-src 'self'/, path);
    assert.equal(plain.headers['x-content-type-options'], 'nosniff');
    assert.equal(plain.headers['access-control-allow-origin'], undefined);
    const zipped = await request(port, path, { headers: { 'Accept-Encoding': 'gzip, br' } });
    assert.equal(zipped.headers['content-encoding'], 'gzip', path);
    assert.deepEqual(gunzipSync(zipped.body), plain.body, path);
    const again = await request(port, path, { headers: { 'If-None-Match': String(plain.headers.etag) } });
    assert.equal(again.status, 304, path);
    assert.equal(again.body.length, 0);
    const head = await request(port, path, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    assert.equal(head.headers['content-length'], String(plain.body.length));
  }
  // the client was compiled from TypeScript and the charting library came from npm
  assert.match((await request(port, '/assets/client.js')).body.toString(), /\/api\/state/);
  assert.match((await request(port, '/assets/uPlot.min.js')).body.toString(), /uPlot/);
});

test('dashboard: /api/state holds the snapshot and the queries; /metrics the text format', async (t) => {
  const { port, queries } = await startWeb(t);
  queries.record('udp', '<b>bold</b>.p2p', 'A', 'NXDOMAIN', 0, 1.5);
  const state = await request(port, '/api/state');
  assert.equal(state.status, 200);
  assert.match(String(state.headers['content-type']), /^application\/json/);
  assert.equal(state.headers['cache-control'], 'no-store');
  const json = JSON.parse(state.body.toString()) as { nodeId: string; families: unknown[]; queries: { recent: { name: string }[]; top: unknown[]; perMinute: unknown[]; histogram: { counts: number[] } } };
  assert.equal(json.nodeId, NODE_ID);
  assert.equal(json.families.length, 2);
  assert.equal(json.queries.recent[0]!.name, '<b>bold</b>.p2p');
  assert.equal(json.queries.perMinute.length, 60);
  assert.equal(json.queries.histogram.counts.reduce((a, b) => a + b, 0), 1);
  const metrics = await request(port, '/metrics');
  assert.equal(metrics.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  assert.match(metrics.body.toString(), /^kadnode_dns_queries_total\{transport="udp",type="A",rcode="NXDOMAIN"\} 1$/m);
});

test('dashboard: a rebound Host gets 421 from every route; a foreign page cannot read; odd paths and methods refused', async (t) => {
  const { port, ran } = await startWeb(t);
  for (const path of ['/', '/api/state', '/metrics', '/assets/client.js']) {
    const rebound = await request(port, path, { headers: { Host: `evil.example:${port}`, 'Sec-Fetch-Site': 'same-origin' } });
    assert.equal(rebound.status, 421, path);
    assert.doesNotMatch(rebound.body.toString(), new RegExp(NODE_ID), path);
  }
  // a page elsewhere may send the request, but without Access-Control-Allow-Origin its browser hides the answer
  const crossSite = await request(port, '/api/state', { headers: { Origin: 'http://evil.example', 'Sec-Fetch-Site': 'cross-site', 'Sec-Fetch-Mode': 'cors' } });
  assert.equal(crossSite.headers['access-control-allow-origin'], undefined);
  for (const path of ['/assets/', '/assets/../package.json', '/assets/%2e%2e/%2e%2e/package.json', '/assets/client.ts', '/assets/style.js', '/api/state/x', '/index.html']) {
    assert.equal((await request(port, path)).status, 404, path);
  }
  for (const method of ['POST', 'PUT', 'DELETE']) {
    const r = await request(port, '/', { method });
    assert.equal(r.status, 405, method);
  }
  const unknown = await request(port, '/nope');
  assert.match(unknown.body.toString(), /Try \/, \/metrics, \/lookup/);
  assert.deepEqual(ran, []);
});
