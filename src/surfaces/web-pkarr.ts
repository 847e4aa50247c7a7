// HTTP routes of the web surface beyond the command table:
//   /dns-query   DNS over HTTPS (RFC 8484), GET ?dns=<base64url> and POST application/dns-message: the
//                DNS surface's own query → response path (DnsServer.answer), so the same answers
//   /{z32}       the PKARR relay API (src/pkarr/relay.ts): GET and PUT of signed packets, CORS open
// Neither talks to the DHT: DoH goes through the DNS surface to the resolver, the relay through pkarr/.
import type http from 'node:http';
import { dnsPacket } from '../util/dns-packet.js';
import { RELAY_CONTENT_TYPE, type PkarrRelay } from '../pkarr/relay.js';
import { pageHeader } from './web-origin.js';
import type { WebDashboard } from './web-dashboard.js';

export interface DnsAnswerer {
  answer(msg: Buffer, source: string): Promise<Buffer | null>;
}

export interface WebExtras {
  doh?: DnsAnswerer | null;
  relay?: PkarrRelay | null;
  /** GET / (the dashboard), its assets, /api/state and /metrics (web-dashboard.ts, loaded on first use) */
  dashboard?: Pick<WebDashboard, 'handle'> | null;
}

const DNS_MESSAGE = 'application/dns-message';
const MAX_DNS_MESSAGE = 65535;
const Z32_PATH = /^\/([ybndrfg8ejkmcpqxot1uwisza345h769]{52})\/?$/;
const CORS = {
  'Access-Control-Allow-Origin': '*',
  'Access-Control-Allow-Methods': 'GET, PUT, OPTIONS',
  'Access-Control-Allow-Headers': 'Content-Type, If-Match, If-Modified-Since',
  'Access-Control-Expose-Headers': 'Pkarr-Dht-Stored-Nodes',
};

type Headers = Record<string, string | number>;

function send(res: http.ServerResponse, status: number, body: Buffer | string, headers: Headers = {}): void {
  const bytes = typeof body === 'string' ? Buffer.from(body) : body;
  const type = typeof body === 'string' ? { 'Content-Type': 'text/plain; charset=utf-8' } : {};
  res.writeHead(status, { ...type, 'Content-Length': bytes.length, ...headers });
  res.end(res.req.method === 'HEAD' || status === 204 || status === 304 ? undefined : bytes);
}

/** The request body, or null once it grows over `limit` (the rest is not read; the connection closes). */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.pause();
        resolve(null);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function tooLarge(req: http.IncomingMessage, limit: number): boolean {
  const length = Number(req.headers['content-length']);
  return Number.isFinite(length) && length > limit;
}

/** Handles /dns-query and /{z32}; false for any other path (web.ts goes on with its own routes). */
export async function handleExtraRoute(req: http.IncomingMessage, res: http.ServerResponse, extras: WebExtras): Promise<boolean> {
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://localhost');
  } catch {
    return false;
  }
  const source = req.socket.remoteAddress ?? '?';
  if (url.pathname === '/dns-query' && extras.doh) {
    await dnsQuery(req, res, url, extras.doh, source);
    return true;
  }
  const key = Z32_PATH.exec(url.pathname)?.[1];
  if (key && extras.relay) {
    await relay(req, res, key, extras.relay, source);
    return true;
  }
  return false;
}

// ---------------------------------------------------------------- DNS over HTTPS

async function dnsQuery(req: http.IncomingMessage, res: http.ServerResponse, url: URL, doh: DnsAnswerer, source: string): Promise<void> {
  let msg: Buffer;
  if (req.method === 'GET' || req.method === 'HEAD') {
    const param = url.searchParams.get('dns');
    if (!param || !/^[A-Za-z0-9_-]+$/.test(param)) return send(res, 400, 'Expected ?dns=<DNS message in base64url>.\n');
    msg = Buffer.from(param, 'base64url');
  } else if (req.method === 'POST') {
    const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    if (type !== DNS_MESSAGE) return send(res, 415, `Expected Content-Type: ${DNS_MESSAGE}.\n`);
    if (tooLarge(req, MAX_DNS_MESSAGE)) return send(res, 413, 'DNS message too large.\n', { Connection: 'close' });
    const body = await readBody(req, MAX_DNS_MESSAGE);
    if (!body) return send(res, 413, 'DNS message too large.\n', { Connection: 'close' });
    msg = body;
  } else {
    return send(res, 405, 'Method not allowed.\n', { Allow: 'GET, HEAD, POST' });
  }
  const answer = await doh.answer(msg, source);
  if (!answer) return send(res, 400, 'Not a DNS query.\n');
  send(res, 200, answer, { 'Content-Type': DNS_MESSAGE, 'Cache-Control': `max-age=${maxAge(answer)}` });
}

/** RFC 8484 §5.1: the smallest TTL of the answer (records, else the SOA of a negative answer). */
function maxAge(answer: Buffer): number {
  try {
    const packet = dnsPacket().decode(answer);
    const ttls = [...(packet.answers ?? []), ...(packet.authorities ?? [])].map((a) => (a as { ttl?: number }).ttl ?? 0);
    return ttls.length > 0 ? Math.min(...ttls) : 0;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------- PKARR relay

async function relay(req: http.IncomingMessage, res: http.ServerResponse, key: string, relay: PkarrRelay, source: string): Promise<void> {
  switch (req.method) {
    case 'OPTIONS':
      return send(res, 204, '', CORS);
    case 'GET':
    case 'HEAD': {
      const result = await relay.get(key);
      if (result.status !== 200) return send(res, result.status, result.message + '\n', CORS);
      const modified = new Date(Math.floor(result.seq / 1000));
      const since = Date.parse(String(req.headers['if-modified-since'] ?? ''));
      const headers = { ...CORS, 'Cache-Control': `public, max-age=${result.maxAge}`, 'Last-Modified': modified.toUTCString() };
      // HTTP dates have whole seconds.
      if (Number.isFinite(since) && Math.floor(modified.getTime() / 1000) <= Math.floor(since / 1000)) return send(res, 304, '', headers);
      return send(res, 200, result.payload, { ...headers, 'Content-Type': RELAY_CONTENT_TYPE });
    }
    case 'PUT': {
      // A page must not publish through the visitor's relay (web-origin.ts); pkarr clients send none of these.
      const fromPage = pageHeader(req.headers);
      if (fromPage) return send(res, 403, `PUT changes the relay: not for web pages (the request carried ${fromPage}).\n`, CORS);
      if (!relay.allowPut(source)) return send(res, 429, 'Too many requests, try again later.\n', { ...CORS, 'Retry-After': 6 });
      if (tooLarge(req, relay.maxPayload)) return send(res, 413, `Payload over ${relay.maxPayload} bytes.\n`, { ...CORS, Connection: 'close' });
      const body = await readBody(req, relay.maxPayload);
      if (!body) return send(res, 413, `Payload over ${relay.maxPayload} bytes.\n`, { ...CORS, Connection: 'close' });
      const ifMatch = req.headers['if-match'];
      const result = await relay.put(key, body, typeof ifMatch === 'string' ? ifMatch : undefined);
      if (result.status === 204) return send(res, 204, '', { ...CORS, 'Pkarr-Dht-Stored-Nodes': result.stored });
      return send(res, result.status, result.message + '\n', result.status === 503 ? { ...CORS, 'Retry-After': 1 } : CORS);
    }
    default:
      return send(res, 405, 'Method not allowed.\n', { ...CORS, Allow: 'GET, HEAD, PUT, OPTIONS' });
  }
}
