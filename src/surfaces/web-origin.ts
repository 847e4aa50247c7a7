// Which requests the web port serves, judged by the headers a browser adds (pure, no I/O):
//
//  - DNS rebinding: a page on http://evil.example:8053/ whose name the attacker re-points to 127.0.0.1
//    is, to the browser, the same origin as our answers, so it can read /status, /lookup and /dns-query.
//    Its requests still carry `Host: evil.example:8053`. Only our own names are served: the address the
//    connection arrived at (IPv4, [IPv6]), `localhost`, or a name the operator lists (--web-host).
//  - CSRF: a page can make the browser send a request (link, image, form, fetch) but a command-line
//    client, kadnode-ctl or a URL typed into the address bar sends none of Origin, Referer and a
//    Sec-Fetch-Site other than `none`. Requests that change the daemon need all three absent; Referer
//    covers browsers without Fetch Metadata (before 2023, e.g. Safari < 16.4) on links, images and GET
//    forms, which carry no Origin.
import { isIPv4, isIPv6 } from 'node:net';

export type HostVerdict = { ok: true } | { ok: false; reason: string };

// host, or [IPv6], then an optional port; nothing else (no userinfo, path or spaces).
const HOST_HEADER = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/;

/**
 * Lower case without a final dot (`Localhost.` is `localhost`); IPv6 in its canonical compressed form
 * without brackets, and `::ffff:a.b.c.d` (IPv4 on a dual-stack socket) as `a.b.c.d`.
 */
export function canonicalHost(host: string): string {
  let name = host.toLowerCase();
  if (name.startsWith('[') && name.endsWith(']')) name = name.slice(1, -1);
  if (!isIPv6(name)) return name.endsWith('.') ? name.slice(0, -1) : name;
  name = new URL(`http://[${name}]/`).hostname.slice(1, -1);
  // URL writes ::ffff:127.0.0.1 as ::ffff:7f00:1
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(name);
  if (!mapped) return name;
  const [high, low] = [parseInt(mapped[1]!, 16), parseInt(mapped[2]!, 16)];
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

/**
 * Whether the Host header names this server: `localAddress` (the address the connection arrived at,
 * so the right one also when bound to 0.0.0.0 or ::), `localhost`, or one of `names` (canonicalHost
 * form). The port is not compared: a rebinding page is stopped by its name, and a proxy or port forward
 * in front may use another port.
 */
export function checkHost(hostHeader: string | undefined, localAddress: string | undefined, names: ReadonlySet<string>): HostVerdict {
  if (hostHeader === undefined || hostHeader === '') return { ok: false, reason: 'no Host header' };
  const match = HOST_HEADER.exec(hostHeader);
  if (!match || (match[2] !== undefined && Number(match[2]) > 65535)) return { ok: false, reason: 'a malformed Host header' };
  const raw = match[1]!;
  if (raw.startsWith('[') && !isIPv6(raw.slice(1, -1))) return { ok: false, reason: 'a malformed Host header' };
  const host = canonicalHost(raw);
  if (host === 'localhost' || names.has(host)) return { ok: true };
  if ((isIPv4(host) || isIPv6(host)) && localAddress !== undefined && host === canonicalHost(localAddress)) return { ok: true };
  return { ok: false, reason: `Host '${raw.slice(0, 100)}' is not a name of this server` };
}

/** The headers a browser adds to requests a page makes (lower-case names, as node gives them). */
export interface BrowserHeaders {
  origin?: string | string[];
  referer?: string | string[];
  'sec-fetch-site'?: string | string[];
}

/** The header that shows a web page made the browser send this request, or null for none. */
export function pageHeader(headers: BrowserHeaders): string | null {
  if (headers.origin !== undefined) return 'Origin';
  if (headers.referer !== undefined) return 'Referer';
  const site = headers['sec-fetch-site'];
  if (site !== undefined && site !== 'none') return 'Sec-Fetch-Site';
  return null;
}

/** --web-host: a name (letters, digits, dots, hyphens) or an IP address, [IPv6] too; null when invalid. */
export function parseWebHost(value: string): string | null {
  const bare = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
  if (isIPv6(bare) || isIPv4(bare)) return canonicalHost(bare);
  if (bare !== value || !/^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.?$/.test(value) || value.length > 253) return null;
  return canonicalHost(value);
}
