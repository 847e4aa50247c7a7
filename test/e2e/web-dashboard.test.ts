// The dashboard (GET / on the web port) in a real headless Chromium against a real bin/kadnode: the page
// shows the daemon's live data without a reload (its node id; lookups just made with dig and kadnode-ctl
// in the recent queries; the routing table, the announcement of its name and the publication of its
// PKARR zone changing when a second daemon joins), logs no console error, keeps a query name that is markup as text, fits a phone's width
// (390 px, no horizontal scroll) and a desktop's, and follows dark mode. Screenshots go to
// test-output/web-dashboard/ (gitignored); the bytes one load transfers are printed as a diagnostic.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { dig, emptyPeerFile, haveCommand, kadnodeCtl, pickPorts, repoRoot, startDaemon, tempDir, type Daemon } from './harness.js';
import { encodeZ32Key, generateKeyPair } from '../../src/identity/keys.js';
import { skipUnlessChromium, startChromium, type RunningChromium } from '../helpers/chromium.js';

const SHOTS = join(repoRoot, 'test-output', 'web-dashboard');
// Would run if the page put query names in as markup (CSP blocks the handler; the <img> would still be there).
const MARKUP_NAME = '<img/src=x/onerror=document.title="pwned">.p2p';

interface Watched {
  page: Page;
  errors: string[];
  navigations: number;
}

/** A page of `context` that records console errors, page errors, failed requests and navigations. */
async function watchedPage(context: BrowserContext): Promise<Watched> {
  const page = await context.newPage();
  const watched: Watched = { page, errors: [], navigations: 0 };
  page.on('console', (msg) => msg.type() === 'error' && watched.errors.push(`console: ${msg.text()}`));
  page.on('pageerror', (err) => watched.errors.push(`page error: ${err.message}`));
  page.on('requestfailed', (req) => watched.errors.push(`request failed: ${req.url()} ${req.failure()?.errorText ?? ''}`));
  page.on('framenavigated', (frame) => frame === page.mainFrame() && watched.navigations++);
  return watched;
}

/** Waits (bounded) until the text of `selector` matches. */
async function waitForText(page: Page, selector: string, pattern: RegExp, timeoutMs: number): Promise<void> {
  try {
    await page.waitForFunction(([sel, source, flags]) => new RegExp(source!, flags).test(document.querySelector(sel!)?.textContent ?? ''), [selector, pattern.source, pattern.flags], { timeout: timeoutMs, polling: 250 });
  } catch {
    const text = await page.evaluate((sel) => document.querySelector(sel)?.textContent ?? '(no element)', selector);
    assert.fail(`${selector} did not show ${pattern} within ${timeoutMs} ms; it shows: ${text.slice(0, 2000)}`);
  }
}

/** A fact of a <dl class="facts"> by its label. */
function fact(page: Page, label: string): Promise<string | null> {
  return page.evaluate((wanted) => {
    for (const item of document.querySelectorAll('.facts div')) if (item.querySelector('dt')?.textContent === wanted) return item.querySelector('dd')?.textContent ?? null;
    return null;
  }, label);
}

const horizontalOverflow = (page: Page): Promise<number> => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);

describe('web dashboard in a real Chromium', { skip: skipUnlessChromium(), timeout: 180_000 }, () => {
  let dir: ReturnType<typeof tempDir> | undefined;
  let daemon: Daemon | undefined;
  let peer: Daemon | undefined;
  let browserRun: RunningChromium | undefined;
  let ports: { dht: number; dns: number; cmd: number; web: number; peerDht: number };
  let nodeId = '';
  let zone = '';

  before(async () => {
    dir = tempDir('kadnode-web-dashboard');
    const [dht, dns, cmd, web, peerDht] = (await pickPorts(5)) as [number, number, number, number, number];
    ports = { dht, dns, cmd, web, peerDht };
    const key = generateKeyPair();
    zone = encodeZ32Key(key.publicKey);
    const keyFile = join(dir.path, 'zone.key');
    writeFileSync(keyFile, key.secretKey.toString('hex') + '\n');
    chmodSync(keyFile, 0o600);
    const zoneFile = join(dir.path, 'zone.txt');
    writeFileSync(zoneFile, '@ 300 TXT "dashboard test"\nwww 300 A 10.201.0.80\n');
    daemon = await startDaemon({
      label: 'dashboard',
      args: ['--port', String(dht), '--peerfile', emptyPeerFile(dir.path), '--dns-port', String(dns), '--dns-addr', '127.0.0.1', '--cmd-port', String(cmd), '--web-port', String(web), '--web-addr', '127.0.0.1', '--value-id', 'own.p2p', '--pkarr-key', `@${keyFile}`, '--pkarr-zone', zoneFile, '--cmd-disable-stdin'],
      stdin: 'ignore',
    });
    const status = await kadnodeCtl(['-p', String(cmd), 'status']);
    nodeId = /DHT id: ([0-9a-f]{40})/.exec(status.stdout)![1]!;
    browserRun = await startChromium([]);
    mkdirSync(SHOTS, { recursive: true });
  });

  after(async () => {
    await browserRun?.close();
    await peer?.stop();
    await daemon?.stop();
    dir?.remove();
  });

  it('shows live data on a phone: node id, lookups just made, nodes and announcements that changed', async (t) => {
    const context = await browserRun!.browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, colorScheme: 'light' });
    try {
      const w = await watchedPage(context);
      const { page } = w;
      await page.goto(`http://127.0.0.1:${ports.web}/`, { timeout: 15_000 });
      await waitForText(page, '#dht-facts', new RegExp(nodeId), 15_000);
      assert.equal(await fact(page, 'IPv4 nodes good / all'), '0 / 0');
      await waitForText(page, '#values', /own\.p2p|own/, 10_000);

      // lookups made now, outside the page, show up in its recent queries without a reload
      const ctl = await kadnodeCtl(['-p', String(ports.cmd), 'lookup', 'probe-ctl.p2p']);
      assert.match(ctl.stdout + ctl.stderr, /Not found/);
      await kadnodeCtl(['-p', String(ports.cmd), 'lookup', MARKUP_NAME]);
      if (haveCommand('dig')) {
        const answer = await dig(['-p', String(ports.dns), '@127.0.0.1', 'probe-dig.p2p', 'A', '+tries=1', '+time=5']);
        assert.equal(answer.status, 'NXDOMAIN', answer.raw);
        await waitForText(page, '#recent', /probe-dig\.p2p/, 15_000);
      } else {
        t.diagnostic('dig missing: only the kadnode-ctl lookup is checked');
      }
      await waitForText(page, '#recent', /probe-ctl\.p2p/, 15_000);
      await waitForText(page, '#recent', /<img\/src=x\/onerror=document\.title="pwned">\.p2p/, 15_000);
      assert.equal(await page.locator('#recent img, #top-names img').count(), 0, 'a query name became markup');
      assert.equal(await page.title(), 'kadnode');

      // a second daemon joins: the routing table and the announcement of own.p2p change on the page
      peer = await startDaemon({
        label: 'peer',
        args: ['--port', String(ports.peerDht), '--peerfile', emptyPeerFile(dir!.path, 'peers-peer.txt'), '--peer', `127.0.0.1:${ports.dht}`, '--dns-port', '0', '--cmd-port', '0', '--cmd-disable-stdin'],
        stdin: 'ignore',
      });
      await waitForText(page, '#dht-facts', /IPv4 nodes good \/ all1 \/ 1/, 30_000);
      await waitForText(page, '#values', /stored on 1/, 40_000);
      assert.equal(await fact(page, 'Our zone'), zone);
      await waitForText(page, '#pkarr-facts', /Nodes that stored it1/, 40_000);
      assert.ok((await page.locator('#buckets .cell.good').count()) >= 1, 'the routing table shows no good node');
      assert.equal(w.navigations, 1, 'the page reloaded');

      assert.ok((await horizontalOverflow(page)) <= 0, `the page is ${await horizontalOverflow(page)} px wider than a 390 px phone`);
      await page.screenshot({ path: join(SHOTS, 'phone-390.png'), fullPage: true });
      assert.deepEqual(w.errors, []);
    } finally {
      await context.close().catch(() => undefined);
    }
  });

  it('fits a desktop width and dark mode; one load transfers a few tens of kB', async (t) => {
    for (const colorScheme of ['light', 'dark'] as const) {
      const context = await browserRun!.browser.newContext({ viewport: { width: 1280, height: 900 }, colorScheme });
      try {
        const w = await watchedPage(context);
        const { page } = w;
        await page.goto(`http://127.0.0.1:${ports.web}/`, { timeout: 15_000, waitUntil: 'load' });
        await waitForText(page, '#dht-facts', new RegExp(nodeId), 15_000);
        await waitForText(page, '#recent', /probe-ctl\.p2p/, 10_000);
        // uPlot drew both time charts
        await page.waitForFunction(() => document.querySelectorAll('.uplot canvas').length >= 2, undefined, { timeout: 10_000 });
        assert.ok((await horizontalOverflow(page)) <= 0, 'horizontal scroll at 1280 px');
        const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
        const [r, g, b] = (/\d+/g.exec(background) ? background.match(/\d+/g)!.map(Number) : [255, 255, 255]) as [number, number, number];
        const dark = (r + g + b) / 3 < 80;
        assert.equal(dark, colorScheme === 'dark', `body background ${background} in ${colorScheme} mode`);
        await page.screenshot({ path: join(SHOTS, `desktop-1280-${colorScheme}.png`), fullPage: true });
        if (colorScheme === 'light') {
          const bytes = await page.evaluate(() =>
            (performance.getEntriesByType('navigation') as PerformanceResourceTiming[])
              .concat(performance.getEntriesByType('resource') as PerformanceResourceTiming[])
              .map((e) => ({ url: e.name.replace(location.origin, ''), transfer: e.transferSize, body: e.decodedBodySize })),
          );
          const first = new Map<string, { transfer: number; body: number }>();
          for (const e of bytes) if (!first.has(e.url)) first.set(e.url, e);
          const total = [...first.values()].reduce((n, e) => n + e.transfer, 0);
          t.diagnostic(`one load: ${total} bytes transferred (${[...first].map(([url, e]) => `${url} ${e.transfer}`).join(', ')})`);
          assert.ok(total > 0 && total < 200_000, `page weight ${total} bytes`);
        }
        assert.deepEqual(w.errors, []);
      } finally {
        await context.close().catch(() => undefined);
      }
    }
  });
});
