import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildConfig, ConfigError, DEFAULT_PEERFILE, parseValueId } from '../../src/config.js';
import { silentLogger } from '../../src/log.js';
import type { RawOptions } from '../../src/options.js';
import { parseHostPort, parsePeerLines } from '../../src/net/peerfile.js';

test('defaults follow KadNode', () => {
  const c = buildConfig({});
  assert.equal(c.port, 6881);
  assert.equal(c.dnsPort, 3535);
  assert.equal(c.cmdPort, 1700);
  assert.equal(c.queryTld, '.p2p');
  assert.equal(c.peerfile, DEFAULT_PEERFILE);
  assert.ok(c.dnsAddresses.includes('127.0.0.1'));
  assert.ok(c.dnsAddresses.every((a) => a === '127.0.0.1' || a === '::1'), 'loopback only by default');
});

test('explicit peers replace the bundled peer file', () => {
  const c = buildConfig({ peer: ['10.201.0.1:6881', '[fd20::1]:7000'] });
  assert.equal(c.peerfile, null);
  assert.deepEqual(c.peers, [{ host: '10.201.0.1', port: 6881 }, { host: 'fd20::1', port: 7000 }]);
});

test('invalid values name the option', () => {
  const cases: [RawOptions, RegExp][] = [
    [{ port: '0' }, /--port/],
    [{ port: '70000' }, /--port/],
    [{ port: '12ab' }, /--port/],
    [{ 'dns-port': '-1' }, /--dns-port/],
    [{ verbosity: 'loud' }, /--verbosity/],
    [{ peer: ['1.2.3.4:99999'] }, /--peer/],
    [{ 'dns-addr': ['localhost'] }, /--dns-addr/],
    [{ 'value-id': ['foo.p2p:70000'] }, /--value-id/],
    [{ 'query-tld': 'a b' }, /--query-tld/],
  ];
  for (const [raw, message] of cases) assert.throws(() => buildConfig(raw), (e: Error) => e instanceof ConfigError && message.test(e.message), JSON.stringify(raw));
});

test('value ids with and without port', () => {
  assert.deepEqual(parseValueId('node1.p2p'), { query: 'node1.p2p' });
  assert.deepEqual(parseValueId('node1.p2p:4711'), { query: 'node1.p2p', port: 4711 });
  assert.deepEqual(parseValueId('node1.p2p:0'), { query: 'node1.p2p' });
  assert.equal(buildConfig({ 'query-tld': 'P2P' }).queryTld, '.p2p');
});

test('peer addresses and peer file lines', () => {
  assert.deepEqual(parseHostPort('router.bittorrent.com'), { host: 'router.bittorrent.com', port: 6881 });
  assert.deepEqual(parseHostPort('1.2.3.4:25401'), { host: '1.2.3.4', port: 25401 });
  assert.deepEqual(parseHostPort('[::1]'), { host: '::1', port: 6881 });
  assert.deepEqual(parseHostPort('fd20::2'), { host: 'fd20::2', port: 6881 });
  assert.throws(() => parseHostPort('1.2.3.4:0'));
  assert.throws(() => parseHostPort('a b:1'));
  const warnings: string[] = [];
  const log = { ...silentLogger, warn: (m: string) => warnings.push(m) };
  const peers = parsePeerLines('# comment\n\n10.201.0.1:6881\r\nbad host:1\nhost.example # trailing\n', 'peers.txt', log);
  assert.deepEqual(peers, [{ host: '10.201.0.1', port: 6881 }, { host: 'host.example', port: 6881 }]);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /^peers\.txt:4: /);
});

test('--web-host: names and addresses in one spelling; anything else is a one-line error', () => {
  assert.deepEqual(buildConfig({}).webHosts, []);
  assert.deepEqual(buildConfig({ 'web-host': ['KadNode.LAN', '[FD20::1]', '192.0.2.1'] }).webHosts, ['kadnode.lan', 'fd20::1', '192.0.2.1']);
  for (const bad of ['kadnode.lan:8053', 'http://kadnode.lan', '*.lan', '']) {
    assert.throws(() => buildConfig({ 'web-host': [bad] }), (err: Error) => err instanceof ConfigError && /^Invalid --web-host: '.*' \(a host name or an IP address expected\)$/.test(err.message), bad);
  }
});

test('rules between options run once, on the merged set (ConfigError, the words of the old start-up checks)', async () => {
  const { generateKeyPair } = await import('../../src/identity/keys.js');
  const sk = generateKeyPair().secretKey.toString('hex');
  // a value id read against the keys: a secret key's name is announced with the DHT port
  assert.throws(() => buildConfig({ 'auth-add-skey': [`x.p2p:${sk}`], 'value-id': ['x.p2p:7'] }), (e: Error) => e instanceof ConfigError && e.message === 'Invalid port for value id x.p2p: values with a secret key are announced with the DHT port');
  assert.throws(() => buildConfig({ 'value-id': [`${sk}:7`] }), { message: 'Invalid port for value id <secret key>: values with a secret key are announced with the DHT port' });
  assert.throws(() => buildConfig({ 'value-id': ['.p2p'] }), (e: Error) => e instanceof ConfigError && e.message === 'Invalid value id: empty name');
  assert.equal(buildConfig({ 'auth-add-skey': [`x.p2p:${sk}`], 'value-id': ['x.p2p'] }).valueIds.length, 1);
  // --dht-addr against --mode
  assert.throws(() => buildConfig({ mode: 'ipv6', 'dht-addr': '127.0.0.1' }), (e: Error) => e instanceof ConfigError && e.message === "Invalid --dht-addr '127.0.0.1' for --mode ipv6");
  assert.throws(() => buildConfig({ 'dht-addr': '::1' }), { message: "Invalid --dht-addr '::1' for --mode ipv4" });
  assert.equal(buildConfig({ mode: 'dual', 'dht-addr': '::1' }).dhtAddress, '::1');
  // key patterns against each other and against --query-tld
  assert.throws(() => buildConfig({ 'auth-add-skey': [`*.a.p2p:${sk}`], 'auth-add-pkey': [`x.a.p2p:${sk.slice(64)}`] }), (e: Error) => e instanceof ConfigError && /^conflicting patterns: /.test(e.message));
  assert.equal(buildConfig({ 'query-tld': 'foo', 'auth-add-pkey': [`x.foo:${sk.slice(64)}`] }).keys.publicKeys[0]!.pattern, 'x');
  // daemon mode never reads the console from stdin
  assert.equal(buildConfig({ daemon: true }).cmdDisableStdin, true);
  assert.equal(buildConfig({}).cmdDisableStdin, false);
});
