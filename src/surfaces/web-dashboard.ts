// The dashboard and metrics routes of the web port (GET and HEAD only; web.ts runs its Host check first):
//   /              the page (HTML); it polls /api/state every 2 s
//   /assets/<file> its script (compiled from dashboard/*.ts), style, and uPlot (the charts) from npm
//   /api/state     the daemon's figures as JSON (telemetry.ts Snapshot plus the queries)
//   /metrics       the Prometheus text format (metrics.ts)
// Read-only: the page changes nothing (its lookup box uses GET /lookup, which changes nothing either).
// Everything is served from this process (no CDN): assets are read once at start() and kept in memory,
// gzipped when the browser takes it, with an ETag so a reload costs a 304. A strict Content-Security-Policy
// lets the page run only its own scripts: a name someone queried (shown in recent queries) is text, and
// even markup that slipped through could not run.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { gzipSync } from 'node:zlib';
import type http from 'node:http';
import type { Snapshot } from '../telemetry.js';
import type { DaemonMetrics } from './metrics.js';
import type { QueryStats } from './query-stats.js';
import { STYLE } from './dashboard/style.js';

export interface DashboardDeps {
  snapshot(): Snapshot;
  queries: QueryStats;
  metrics: DaemonMetrics;
}

interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

/** Most asked names and histogram rows sent to the page. */
const TOP_NAMES = 20;

// Buckets of a routing table, in the page's colours (and without it the browser asks for /favicon.ico).
const ICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#2d62d6"/><rect x="3" y="9" width="2" height="4" fill="#fff"/><rect x="7" y="6" width="2" height="7" fill="#fff"/><rect x="11" y="3" width="2" height="10" fill="#fff"/></svg>';

const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>kadnode</title>
<link rel="icon" href="/assets/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/uPlot.min.css">
<link rel="stylesheet" href="/assets/dashboard.css">
<script src="/assets/uPlot.min.js" defer></script>
<script type="module" src="/assets/client.js"></script>
</head>
<body>
<header><h1>kadnode</h1><span id="version"></span><span id="live" class="live">connecting…</span></header>
<ul id="warnings" class="warnings"></ul>
<main>
<section class="card wide" id="dht"><h2>DHT health</h2><dl id="dht-facts" class="facts"></dl><div id="chart-nodes" class="chart"></div></section>
<section class="card" id="names"><h2>Own names</h2><div class="scroll"><table id="values"></table></div><h3>Port forwarding</h3><div class="scroll"><table id="forwardings"></table></div></section>
<section class="card" id="keys"><h2>Key names (AUTH)</h2><dl id="auth-facts" class="facts"></dl></section>
<section class="card" id="pkarr"><h2>PKARR zone and stored items</h2><dl id="pkarr-facts" class="facts"></dl></section>
<section class="card wide" id="lookups"><h2>Lookups</h2>
<form id="lookup-form" class="lookup"><input id="lookup-name" name="name" placeholder="name.p2p" autocomplete="off" spellcheck="false" maxlength="300"><button type="submit">Look up</button></form>
<pre id="lookup-result" class="lookup-result"></pre>
<div class="charts"><div><h3>Answers per minute</h3><div id="chart-outcomes" class="chart"></div></div><div><h3>Answer time</h3><div id="histogram"></div></div></div>
<div class="charts"><div><h3>Most asked</h3><div class="scroll"><table id="top-names"></table></div></div><div><h3>Recent queries</h3><div class="scroll tall"><table id="recent"></table></div></div></div>
</section>
<section class="card wide" id="routing"><h2>Routing table</h2><div id="buckets"></div></section>
</main>
<footer><a href="/metrics">/metrics</a> · <a href="/status">/status</a></footer>
</body>
</html>
`;

function asset(type: string, body: Buffer): Asset {
  return { type, body, gzip: gzipSync(body), etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` };
}

export class WebDashboard {
  private readonly assets = new Map<string, Asset>();

  constructor(private readonly deps: DashboardDeps) {}

  /** Reads the page's files; a missing one (a broken install) fails here, not on the first visit. */
  async start(): Promise<void> {
    const require = createRequire(import.meta.url);
    const uplot = (file: string) => readFile(require.resolve(`uplot/dist/${file}`));
    const client = (file: string) => readFile(new URL(`./dashboard/${file}`, import.meta.url));
    const js = 'text/javascript; charset=utf-8';
    const css = 'text/css; charset=utf-8';
    const files: [string, string, Promise<Buffer>][] = [
      ['/', 'text/html; charset=utf-8', Promise.resolve(Buffer.from(PAGE))],
      ['/assets/dashboard.css', css, Promise.resolve(Buffer.from(STYLE))],
      ['/assets/icon.svg', 'image/svg+xml', Promise.resolve(Buffer.from(ICON))],
      ['/assets/client.js', js, client('client.js')],
      ['/assets/charts.js', js, client('charts.js')],
      ['/assets/uPlot.min.js', js, uplot('uPlot.iife.min.js')],
      ['/assets/uPlot.min.css', css, uplot('uPlot.min.css')],
    ];
    for (const [path, type, body] of files) this.assets.set(path, asset(type, await body));
  }

  stop(): void {}

  /** Answers GET/HEAD of its paths and returns true; false for any other path. */
  async handle(path: string, req: http.IncomingMessage, res: http.ServerResponse): Promise<boolean> {
    const file = this.assets.get(path);
    if (file) {
      this.sendAsset(req, res, file);
      return true;
    }
    if (path === '/api/state') {
      send(res, 200, 'application/json; charset=utf-8', Buffer.from(JSON.stringify(this.state())));
      return true;
    }
    if (path === '/metrics') {
      send(res, 200, 'text/plain; version=0.0.4; charset=utf-8', Buffer.from(await this.deps.metrics.text()));
      return true;
    }
    return false;
  }

  /** What the page shows: the daemon's snapshot and the queries. */
  state(): Snapshot & { queries: object } {
    const { queries } = this.deps;
    return {
      ...this.deps.snapshot(),
      queries: {
        recent: queries.recent(),
        top: queries.topNames(TOP_NAMES),
        perMinute: queries.perMinute(),
        histogram: queries.histogram(),
      },
    };
  }

  private sendAsset(req: http.IncomingMessage, res: http.ServerResponse, file: Asset): void {
    const headers = { ETag: file.etag, 'Cache-Control': 'no-cache', Vary: 'Accept-Encoding' };
    if (req.headers['if-none-match'] === file.etag) {
      res.writeHead(304, { ...SECURITY_HEADERS, ...headers });
      return void res.end();
    }
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    send(res, 200, file.type, gzip ? file.gzip : file.body, { ...headers, ...(gzip ? { 'Content-Encoding': 'gzip' } : {}) });
  }
}

function send(res: http.ServerResponse, status: number, type: string, body: Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': body.length, 'Cache-Control': 'no-store', ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
