// The web interface: HTTP/1.1 on loopback. GET /lookup?<name>, /announce?<name>[:<port>],
// /blacklist?<addr>, /status — the same commands as the console, with real status codes
// (KadNode 1.x answered bare bodies without a status line). With `extras`, also DNS over HTTPS on
// /dns-query, the PKARR relay API on /{z32} (web-pkarr.ts), and the dashboard on / with /metrics
// (web-dashboard.ts). Every route serves only this server's own Host names, and nothing that changes
// the daemon runs for a web page (web-origin.ts).
import type http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import type { CommandTable, ResultKind } from '../commands.js';
import type { Logger } from '../log.js';
import { listenAll } from '../util/bind.js';
import { hostPort } from '../util/host-port.js';
import { ConnectionSlots } from '../util/connection-slots.js';
import { handleExtraRoute, type WebExtras } from './web-pkarr.js';
import { checkHost, pageHeader } from './web-origin.js';

export interface WebOptions {
  port: number;
  addresses: string[];
  /** --web-host: names besides the bound address and localhost that Host may carry (canonicalHost form) */
  hosts?: ReadonlySet<string>;
}

const NO_NAMES: ReadonlySet<string> = new Set();

/** `changesState`: a web page must not be able to make a visitor's browser run it (see web-origin.ts). */
const ROUTES: Record<string, { command: string; takesArgument: boolean; changesState: boolean }> = {
  '/lookup': { command: 'lookup', takesArgument: true, changesState: false },
  '/announce': { command: 'announce', takesArgument: true, changesState: true },
  '/blacklist': { command: 'blacklist', takesArgument: true, changesState: true },
  '/status': { command: 'status', takesArgument: false, changesState: false },
};

const STATUS_OF: Record<ResultKind, number> = { ok: 200, usage: 400, notfound: 404, timeout: 504, busy: 503, failed: 500 };

const MAX_CONNECTIONS = 64;
const MAX_URL = 2048;
// Room for an over-long URL to reach our own 414; beyond this Node answers 431.
const MAX_HEADERS = 16 * 1024;
// How often Node looks for connections past headersTimeout/requestTimeout (its default, 30 s, would let
// an idle connection that never sends a request hold one of the 64 slots for up to 40 s).
const CHECK_INTERVAL_MS = 2_000;

// node:http costs ~1 MB of resident memory for the life of the process, and most daemons (a router's)
// never see a web request: the ports listen with node:net, and the first connection loads node:http and
// makes the one HTTP server every port hands its connections to.
let httpModule: typeof http | null = null;
const loadHttp = (): typeof http => (httpModule ??= createRequire(import.meta.url)('node:http') as typeof http);

export class WebSurface {
  private servers: net.Server[] = [];
  private http: http.Server | null = null;

  constructor(private readonly commands: CommandTable, private readonly log: Logger, private readonly options: WebOptions, private readonly extras: WebExtras = {}) {}

  async start(): Promise<void> {
    // Not server.maxConnections, which refuses newcomers once full: a newcomer evicts the connection idle
    // the longest (no request in progress; slow headers are not a request yet), shared by all addresses.
    const slots = new ConnectionSlots<net.Socket>(MAX_CONNECTIONS);
    const onError = (err: Error, address: string) => this.log.warn(`TCP server ${hostPort(address, this.options.port)}: ${err.message}`);
    this.servers = await listenAll(this.options.addresses, this.options.port, () =>
      // what http.createServer would give its own listening socket: a client may end its side once the
      // request is sent and still read the answer, and small answers leave at once
      net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => {
        if (!slots.admit(socket).admitted) return void socket.destroy();
        socket.once('close', () => slots.release(socket));
        // documented: a connection emitted into an HTTP server is served as one it accepted itself
        this.httpServer(slots).emit('connection', socket);
      }),
    onError);
    for (const server of this.servers) {
      const a = server.address() as net.AddressInfo;
      this.log.info(`Bind to ${hostPort(a.address, a.port)}`);
    }
  }

  private httpServer(slots: ConnectionSlots<net.Socket>): http.Server {
    if (this.http) return this.http;
    const server = loadHttp().createServer({ requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000, maxHeaderSize: MAX_HEADERS, connectionsCheckingInterval: CHECK_INTERVAL_MS }, (req, res) => {
      this.handle(req, res).catch((err: Error) => {
        this.log.warn(`request ${req.method} failed: ${err.message}`);
        if (!res.headersSent) this.send(res, 500, 'Internal error.\n');
      });
    });
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      slots.begin(req.socket);
      res.once('close', () => slots.end(req.socket));
    });
    // Requests Node cannot parse still get a status line (as Node's default handler does).
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (!socket.writable || err.code === 'ECONNRESET') return socket.destroy();
      const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    });
    // A server that listens itself starts checking headersTimeout and requestTimeout on 'listening';
    // this one never listens (the net servers do), so it is told.
    server.emit('listening');
    this.http = server;
    return server;
  }

  ports(): number[] {
    return this.servers.map((s) => (s.address() as net.AddressInfo).port);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // Before any route (DoH and the relay too): a page on a name rebound to 127.0.0.1 gets nothing.
    const host = checkHost(req.headers.host, req.socket.localAddress, this.options.hosts ?? NO_NAMES);
    if (!host.ok) {
      this.log.debug(`Refused ${req.method} with ${host.reason}`);
      return this.send(res, 421, `Refused: ${host.reason}. Use the address, localhost, or a name given with --web-host.\n`);
    }
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
    // The dashboard (/, /assets/*, /api/state) and /metrics: read-only, web-dashboard.ts.
    if (this.extras.dashboard && (await this.extras.dashboard.handle(path, req, res))) return;
    const route = Object.hasOwn(ROUTES, path) ? ROUTES[path] : undefined;
    if (!route) return this.send(res, 404, `Unknown path. Try ${[...(this.extras.dashboard ? ['/', '/metrics'] : []), ...Object.keys(ROUTES)].join(', ')}.\n`);
    let argument = '';
    try {
      argument = decodeURIComponent(url.search.slice(1).replace(/\+/g, ' ')).trim();
    } catch {
      return this.send(res, 400, 'Bad percent-encoding.\n');
    }
    if (route.takesArgument && (!argument || /\s/.test(argument))) return this.send(res, 400, `Usage: ${path}?<argument>\n`);
    if (!route.takesArgument && argument) return this.send(res, 400, `Usage: ${path}\n`);
    const fromPage = route.changesState ? pageHeader(req.headers) : null;
    if (fromPage) {
      this.log.debug(`Refused ${path} requested by a web page (it sent ${fromPage})`);
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
    const closed = Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    if (this.http) {
      this.http.closeAllConnections();
      // stops its timeout checks; it never listened, so close() reports that and nothing else
      this.http.close(() => undefined);
      this.http = null;
    }
    await closed;
    this.servers = [];
  }
}
