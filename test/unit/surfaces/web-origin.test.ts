// The web port's request-origin rules (src/surfaces/web-origin.ts): which Host names it serves (DNS
// rebinding) and which headers mark a request a web page made (CSRF).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalHost, checkHost, pageHeader, parseWebHost } from '../../../src/surfaces/web-origin.js';

const NONE: ReadonlySet<string> = new Set();
const LISTED: ReadonlySet<string> = new Set(['kadnode.lan', '192.0.2.1']);

test('web-origin: Host is served when it is the address the connection came to, localhost or a listed name', () => {
  const served: [string, string, ReadonlySet<string>][] = [
    ['127.0.0.1', '127.0.0.1', NONE],
    ['127.0.0.1:8053', '127.0.0.1', NONE],
    ['127.0.0.1:8053', '::ffff:127.0.0.1', NONE], // IPv4 on a dual-stack socket bound to ::
    ['[::1]', '::1', NONE],
    ['[::1]:8053', '::1', NONE],
    ['[0:0:0::1]:8053', '::1', NONE], // another spelling of ::1
    ['[::ffff:127.0.0.1]:8053', '127.0.0.1', NONE],
    ['10.201.0.5:8053', '10.201.0.5', NONE], // bound to 0.0.0.0, reached on a LAN address
    ['localhost', '127.0.0.1', NONE],
    ['LocalHost:8053', '::1', NONE],
    ['localhost.:8053', '127.0.0.1', NONE],
    ['kadnode.lan', '127.0.0.1', LISTED],
    ['KadNode.LAN:8080', '127.0.0.1', LISTED], // behind a proxy on another port
    ['192.0.2.1:80', '127.0.0.1', LISTED], // a port forward to a listed address
  ];
  for (const [host, local, names] of served) assert.deepEqual(checkHost(host, local, names), { ok: true }, `${host} on ${local}`);
});

test('web-origin: any other Host, a missing one and malformed ones are refused', () => {
  const refused: [string | undefined, RegExp][] = [
    [undefined, /^no Host header$/],
    ['', /^no Host header$/],
    ['rebound.test', /Host 'rebound\.test' is not a name of this server/], // a name rebound to 127.0.0.1
    ['rebound.test:8053', /'rebound\.test'/],
    ['127.0.0.1.nip.io:8053', /not a name/], // wildcard DNS services resolve such names to the IP inside
    ['localhost.evil.example', /not a name/],
    ['kadnode.lan.evil.example', /not a name/],
    ['127.0.0.2:8053', /not a name/], // not the address this connection came to
    ['[::1]:8053', /not a name/], // the connection came over IPv4
    ['2130706433', /not a name/], // 127.0.0.1 as one number is a name here, never an address
    ['evil.example@127.0.0.1', /malformed/],
    ['127.0.0.1:99999', /malformed/],
    ['127.0.0.1:8053/x', /malformed/],
    ['127.0.0.1 evil', /malformed/],
    ['[::1', /malformed/],
    ['[zz::1]', /malformed/],
    ['[rebound.test]', /malformed/],
    ['127.0.0.1, rebound.test', /malformed/],
  ];
  for (const [host, reason] of refused) {
    const verdict = checkHost(host, '127.0.0.1', LISTED);
    assert.equal(verdict.ok, false, String(host));
    if (!verdict.ok) assert.match(verdict.reason, reason, String(host));
  }
  assert.equal(checkHost('127.0.0.1', undefined, NONE).ok, false, 'no local address known: only names');
  const long = checkHost('a'.repeat(500), '127.0.0.1', NONE);
  assert.ok(!long.ok && long.reason.length < 160, 'the reason quotes at most 100 characters');
});

test('web-origin: canonicalHost lower-cases names and writes IPv6 (and v4-mapped) in one spelling', () => {
  assert.equal(canonicalHost('KadNode.LAN.'), 'kadnode.lan');
  assert.equal(canonicalHost('[0:0::1]'), '::1');
  assert.equal(canonicalHost('FD20:0:0::0001'), 'fd20::1');
  assert.equal(canonicalHost('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(canonicalHost('::ffff:10.201.0.255'), '10.201.0.255');
  assert.equal(canonicalHost('127.0.0.1'), '127.0.0.1');
});

test('web-origin: a page sends Origin, Referer or Sec-Fetch-Site other than none; curl and typed URLs send none', () => {
  assert.equal(pageHeader({}), null, 'curl, kadnode-ctl, scripts');
  assert.equal(pageHeader({ 'sec-fetch-site': 'none' }), null, 'typed into the address bar, a bookmark');
  assert.equal(pageHeader({ 'sec-fetch-site': 'cross-site' }), 'Sec-Fetch-Site');
  assert.equal(pageHeader({ 'sec-fetch-site': 'same-origin' }), 'Sec-Fetch-Site');
  assert.equal(pageHeader({ 'sec-fetch-site': 'same-site' }), 'Sec-Fetch-Site');
  assert.equal(pageHeader({ origin: 'http://evil.example' }), 'Origin');
  assert.equal(pageHeader({ origin: 'null' }), 'Origin', 'sandboxed frames and data: URLs');
  assert.equal(pageHeader({ referer: 'http://evil.example/' }), 'Referer', 'a browser without Fetch Metadata: links, images');
  assert.equal(pageHeader({ referer: 'http://evil.example/', 'sec-fetch-site': 'none' }), 'Referer');
});

test('web-origin: --web-host takes a name or an IP address, nothing else', () => {
  assert.equal(parseWebHost('KadNode.lan'), 'kadnode.lan');
  assert.equal(parseWebHost('router'), 'router');
  assert.equal(parseWebHost('192.0.2.1'), '192.0.2.1');
  assert.equal(parseWebHost('[FD20::1]'), 'fd20::1');
  assert.equal(parseWebHost('fd20::1'), 'fd20::1');
  for (const bad of ['', 'evil.example/x', 'a b', '*.lan', 'kadnode.lan:8053', '[kadnode.lan]', 'a..b', '.lan', 'a'.repeat(254)]) {
    assert.equal(parseWebHost(bad), null, bad);
  }
});
