// The web interface: HTTP/1.1 on loopback. GET /lookup?<name>, /announce?<name>[:<port>],
// /blacklist?<addr>, /status — the same commands as the console, with real status codes
// (KadNode 1.x answered bare bodies without a status line). With `extras`, also DNS over HTTPS on
// /dns-query and the PKARR relay API on /{z32} (web-pkarr.ts).
import http from 'node:http';
import type net from 'node:net';
import type { CommandTable, ResultKind } from '../commands.js';
import type { Logger } from '../log.js';
import { listenAll } from './listen.js';
import { handleExtraRoute, type WebExtras } from './web-pkarr.js';

export interface WebOptions {
  port: number;
  addresses: string[];
}

/** `changesState`: a web page must not be able to make a visitor's browser run it (see fromWebPage). */
const ROUTES: Record<string, { command: string; takesArgument: boolean; changesState: boolean }> = {
  '/lookup': { command: 'lookup', takesArgument: true, changesState: false },
  '/announce': { command: 'announce', takesArgument: true, changesState: true },
  '/blacklist': { command: 'blacklist', takesArgument: true, changesState: true },
  '/status': { command: 'status', takesArgument: false, changesState: false },
};

/**
 * A request a web page made the browser send (a link, an image, fetch(), a form; also a page on a name
 * rebound to 127.0.0.1), as opposed to curl, kadnode-ctl, scripts or a URL typed into the address bar.
 * Browsers since 2020 send Sec-Fetch-Site on every request ('none' when the user typed the URL); older
 * ones at least send Origin with fetch() and forms. Command-line clients send neither.
 */
function fromWebPage(req: http.IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  return (site !== undefined && site !== 'none') || req.headers.origin !== undefined;
}

const STATUS_OF: Record<ResultKind, number> = { ok: 200, usage: 400, notfound: 404, timeout: 504, busy: 503, failed: 500 };

const MAX_CONNECTIONS = 64;
const MAX_URL = 2048;
// Room for an over-long URL to reach our own 414; beyond this Node answers 431.
const MAX_HEADERS = 16 * 1024;
// How often Node looks for connections past headersTimeout/requestTimeout (its default, 30 s, would let
// an idle connection that never sends a request hold one of the 64 slots for up to 40 s).
const CHECK_INTERVAL_MS = 2_000;

export class WebSurface {
  private servers: net.Server[] = [];

  constructor(private readonly commands: CommandTable, private readonly log: Logger, private readonly options: WebOptions, private readonly extras: WebExtras = {}) {}

  async start(): Promise<void> {
    this.servers = await listenAll(this.options.addresses, this.options.port, 'tcp', () => {
      const server = http.createServer({ requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000, maxHeaderSize: MAX_HEADERS, connectionsCheckingInterval: CHECK_INTERVAL_MS }, (req, res) => {
        this.handle(req, res).catch((err: Error) => {
          this.log.warn(`request ${req.method} failed: ${err.message}`);
          if (!res.headersSent) this.send(res, 500, 'Internal error.\n');
        });
      });
      server.maxConnections = MAX_CONNECTIONS;
      // Requests Node cannot parse still get a status line (as Node's default handler does).
      server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
        if (!socket.writable || err.code === 'ECONNRESET') return socket.destroy();
        const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
        socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      });
      return server;
    });
    for (const server of this.servers) {
      const a = server.address() as net.AddressInfo;
      this.log.info(`Bind to ${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`);
    }
  }

  ports(): number[] {
    return this.servers.map((s) => (s.address() as net.AddressInfo).port);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if ((req.url ?? '/').length <= MAX_URL && (await handleExtraRoute(req, res, this.extras))) return;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return this.send(res, 405, 'Method not allowed.\n');
    }
    const target = req.url ?? '/';
    if (target.length > MAX_URL) return this.send(res, 414, 'URI too long.\n');
    let url: URL;
    try {
      // Accepts the origin form (/status) and the absolute form (http://host/status) alike.
      url = new URL(target, 'http://localhost');
    } catch {
      return this.send(res, 400, 'Bad request target.\n');
    }
    const path = url.pathname;
    const route = Object.hasOwn(ROUTES, path) ? ROUTES[path] : undefined;
    if (!route) return this.send(res, 404, `Unknown path. Try ${Object.keys(ROUTES).join(', ')}.\n`);
    let argument = '';
    try {
      argument = decodeURIComponent(url.search.slice(1).replace(/\+/g, ' ')).trim();
    } catch {
      return this.send(res, 400, 'Bad percent-encoding.\n');
    }
    if (route.takesArgument && (!argument || /\s/.test(argument))) return this.send(res, 400, `Usage: ${path}?<argument>\n`);
    if (!route.takesArgument && argument) return this.send(res, 400, `Usage: ${path}\n`);
    if (route.changesState && fromWebPage(req)) {
      this.log.debug(`Refused ${path} requested by a web page (Sec-Fetch-Site: ${String(req.headers['sec-fetch-site'] ?? '-')}, Origin: ${String(req.headers.origin ?? '-').slice(0, 100)})`);
      return this.send(res, 403, `${path} changes the daemon: not for web pages. Use kadnode-ctl, curl, or type the URL.\n`);
    }
    const result = await this.commands.run(route.takesArgument ? `${route.command} ${argument}` : route.command);
    this.send(res, STATUS_OF[result.kind], result.text + '\n');
  }

  private send(res: http.ServerResponse, status: number, body: string): void {
    const bytes = Buffer.from(body);
    res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': bytes.length, 'Cache-Control': 'no-store' });
    res.end(res.req.method === 'HEAD' ? undefined : bytes);
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            (s as http.Server).closeAllConnections();
          }),
      ),
    );
    this.servers = [];
  }
}
