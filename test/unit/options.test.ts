import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../src/errors.js';
import { helpText, OPTION_BY_NAME, OPTIONS, parseOptions } from '../../src/options.js';

test('one row per option: names unique, value options parse, flags do not', () => {
  assert.equal(OPTION_BY_NAME.size, OPTIONS.length);
  for (const spec of OPTIONS) {
    assert.match(spec.name, /^[a-z][a-z0-9-]*$/);
    assert.equal(spec.parse !== undefined, spec.value, spec.name);
    if (spec.repeatable) assert.ok(spec.value, `${spec.name}: a repeatable flag`);
    if (spec.defaultByRule) assert.ok(spec.default, `${spec.name}: a default by rule says what it is`);
  }
  assert.deepEqual(OPTIONS.filter((o) => o.commandLineOnly).map((o) => o.name).sort(), ['auth-gen-keys', 'bob-create-key', 'config']);
});

test('defaults are the stated text, parsed like a given value (KadNode defaults)', () => {
  const d = parseOptions({});
  assert.equal(d.port, 6881);
  assert.equal(d['dns-port'], 3535);
  assert.equal(d['cmd-port'], 1700);
  assert.equal(d['web-port'], 8053);
  assert.equal(d['nss-port'], 4053);
  assert.equal(d['query-tld'], '.p2p');
  assert.equal(d['dht-addr'], '0.0.0.0');
  assert.equal(d.mode, 'ipv4');
  assert.equal(d.verbosity, 'verbose');
  assert.equal(d['peerfile-save-interval'], 86_400_000);
  assert.equal(d['peerfile-min-uptime'], 300_000);
  // supplied after merging (host, other options): left undefined here
  assert.equal(d['dns-addr'], undefined);
  assert.equal(d['lpd-addr'], undefined);
  assert.equal(d.peerfile, undefined);
  assert.equal(d.daemon, false);
  for (const spec of OPTIONS) {
    if (spec.default !== undefined && !spec.defaultByRule) assert.doesNotThrow(() => spec.parse!(spec.default!), spec.name);
  }
});

test('given values: repeatable ones as lists in order, every failure a ConfigError naming the option', () => {
  const o = parseOptions({ port: '7000', peer: ['10.201.0.1', '10.201.0.2:7'], 'value-id': 'a.p2p', daemon: true });
  assert.equal(o.port, 7000);
  assert.deepEqual(o.peer, [{ host: '10.201.0.1', port: 6881 }, { host: '10.201.0.2', port: 7 }]);
  assert.deepEqual(o['value-id'], [{ query: 'a.p2p' }]);
  assert.equal(o.daemon, true);
  for (const [name, bad] of [['port', '0'], ['dns-addr', 'localhost'], ['mode', 'ipv5'], ['lpd-addr', '10.0.0.1'], ['peerfile-min-uptime', '1.5'], ['pkarr-key', '12'], ['auth-add-pkey', 'x:12']] as const) {
    assert.throws(() => parseOptions({ [name]: bad }), (e: Error) => e instanceof ConfigError && e.message.includes(`--${name}`), name);
  }
});

test('--help states each default once, from the table', () => {
  assert.equal(helpText(OPTION_BY_NAME.get('port')!), 'DHT UDP port (default 6881)');
  assert.equal(helpText(OPTION_BY_NAME.get('daemon')!), 'Run in the background and log to syslog');
});
