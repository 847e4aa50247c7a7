import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Lifetime } from '../../src/dht/announcer.js';
import { CommandTable, UsageError, type NodeControl } from '../../src/commands.js';
import type { NameResolver, Resolution } from '../../src/types.js';

const answers: Record<string, Resolution> = {
  'foo.p2p': { status: 'found', addresses: [{ address: '10.201.0.1', port: 6881, family: 4 }, { address: 'fd20::1', port: 6881, family: 6 }], ttl: 60 },
  'gone.p2p': { status: 'notfound', addresses: [], ttl: 0 },
  'busy.p2p': { status: 'busy', addresses: [], ttl: 0 },
  '.p2p': { status: 'invalid', addresses: [], ttl: 0, reason: 'empty name' },
};
const resolver: NameResolver = { resolve: async (name) => answers[name] ?? { status: 'timeout', addresses: [], ttl: 0 } };

function setup() {
  const calls: unknown[][] = [];
  const blocked: string[] = [];
  const node: NodeControl = {
    status: () => ({
      versionLine: 'kadnode v0.0.0 ( dht )',
      nodeId: 'ab'.repeat(20),
      bound: ['DHT 0.0.0.0:6881 (udp)', 'DNS 127.0.0.1:3535 (udp, tcp)'],
      nodes: { all: 9, good: 7 },
      storage: { announcements: 3, ids: 2, max: 16384 },
      searches: 1,
      resolver: { searches: 1, cached: 4 },
      values: 2,
      uptimeMs: 60_000,
    }),
    announce: (query: string, port: number | undefined, lifetime: Lifetime) => {
      if (query === 'bad') throw new UsageError('Invalid value id: nope');
      calls.push(['announce', query, port, lifetime]);
      return { port: port ?? 6881 };
    },
    announceAll: () => 3,
    importPeer: async (address) => {
      if (address === 'nowhere') throw new Error("cannot resolve 'nowhere'");
      return address.includes(':') ? address : `${address}:6881`;
    },
    goodPeers: () => ['10.201.0.2:6881', '10.201.0.3:6881'],
    blacklist: (address) => {
      blocked.push(address);
      return address;
    },
    lists: {
      blacklist: () => blocked,
      buckets: () => [{ id: 'cd'.repeat(20), address: '10.201.0.2', port: 6881, ageMs: 3000 }],
      constants: () => ({ STORAGE_MAX_TOTAL: 16384 }),
      forwardings: () => [],
      results: () => [{ id: 'ef'.repeat(20), addresses: [{ address: '10.201.0.1', port: 80, family: 4 }], ageMs: 1000 }],
      searches: () => [],
      storage: () => [{ id: '01'.repeat(20), peers: ['10.201.0.5:4711'] }],
      values: () => [{ name: 'node1', id: '02'.repeat(20), port: 6881, keyed: true, lifetime: { kind: 'forever' }, nextInMs: 120_000, lastAcks: 8 }],
    },
  };
  return { table: new CommandTable({ resolver, node, lookupTimeoutMs: 5000 }), calls, blocked };
}

test('status reports the node', async () => {
  const r = await setup().table.run('status');
  assert.equal(r.kind, 'ok');
  assert.match(r.text, /^DHT id: (ab){20}$/m);
  assert.match(r.text, /^Bound: DNS 127\.0\.0\.1:3535 \(udp, tcp\)$/m);
  assert.match(r.text, /^DHT nodes: 9 \(7 good\)$/m);
  assert.match(r.text, /^DHT storage: 3 announcements for 2 ids \(max 16384\)$/m);
  assert.match(r.text, /^Values to announce: 2$/m);
  assert.match(r.text, /^Uptime: 60 s$/m);
});

test('lookup prints one address a line, failures have a kind', async () => {
  const { table } = setup();
  assert.deepEqual(await table.run('lookup foo.p2p'), { ok: true, kind: 'ok', text: '10.201.0.1:6881\n[fd20::1]:6881' });
  assert.deepEqual(await table.run('lookup gone.p2p'), { ok: false, kind: 'notfound', text: 'Not found.' });
  assert.equal((await table.run('lookup slow.p2p')).kind, 'timeout');
  assert.equal((await table.run('lookup busy.p2p')).kind, 'busy');
  assert.equal((await table.run('lookup .p2p')).kind, 'usage');
});

test('announce: once, for minutes, for the whole run, all', async () => {
  const { table, calls } = setup();
  assert.equal((await table.run('announce')).text, '3 announcements started.');
  assert.equal((await table.run('announce foo.p2p')).text, 'Start single announcement now (port 6881).');
  assert.equal((await table.run('announce foo.p2p:99 60')).text, 'Start regular announcements for 60 minutes (port 99).');
  assert.equal((await table.run('announce foo.p2p -1')).text, 'Start regular announcements for the entire run time (port 6881).');
  assert.deepEqual(calls.map((c) => [c[1], c[2], (c[3] as Lifetime).kind]), [
    ['foo.p2p', undefined, 'once'],
    ['foo.p2p', 99, 'until'],
    ['foo.p2p', undefined, 'forever'],
  ]);
  const until = calls[1]![3] as { at: number };
  assert.ok(Math.abs(until.at - (Date.now() + 3_600_000)) < 5000);
  for (const bad of ['announce foo.p2p:70000', 'announce foo.p2p x', 'announce foo.p2p 1.5', 'announce :80']) assert.equal((await table.run(bad)).kind, 'usage', bad);
  const invalid = await table.run('announce bad');
  assert.equal(invalid.kind, 'usage');
  assert.match(invalid.text, /^announce: Invalid value id: nope$/);
});

test('import, export, blacklist', async () => {
  const { table, blocked } = setup();
  assert.equal((await table.run('import 10.201.0.9')).text, 'Send ping to: 10.201.0.9:6881');
  assert.equal((await table.run('import nowhere')).kind, 'failed');
  assert.equal((await table.run('export')).text, '10.201.0.2:6881\n10.201.0.3:6881');
  assert.equal((await table.run('blacklist 10.201.0.3')).text, 'Added to blacklist: 10.201.0.3');
  assert.deepEqual(blocked, ['10.201.0.3']);
  assert.equal((await table.run('list blacklist')).text, '10.201.0.3');
});

test('lists', async () => {
  const { table } = setup();
  assert.match((await table.run('list buckets')).text, /^(cd){20} 10\.201\.0\.2:6881 heard 3 s ago$/);
  assert.equal((await table.run('list constants')).text, 'STORAGE_MAX_TOTAL: 16384');
  assert.equal((await table.run('list forwardings')).text, '(forwardings: none)');
  assert.match((await table.run('list results')).text, /10\.201\.0\.1:80 \(1 s old\)/);
  assert.equal((await table.run('list storage')).text, `${'01'.repeat(20)} 10.201.0.5:4711`);
  assert.match((await table.run('list values')).text, /node1 port 6881 keyed whole run, next in 120 s, last reached 8 nodes/);
  assert.equal((await table.run('list nothing')).kind, 'usage');
});

test('wrong commands and arguments get usage, never a throw', async () => {
  const { table } = setup();
  const unknown = await table.run('frobnicate now');
  assert.equal(unknown.kind, 'usage');
  assert.match(unknown.text, /Unknown command 'frobnicate'/);
  assert.match(unknown.text, /lookup <name>/);
  for (const line of ['lookup', 'lookup a b', 'status extra', '__proto__', 'constructor', 'x'.repeat(5000), 'list', 'blacklist', 'import']) {
    assert.equal((await table.run(line)).kind, 'usage', line.slice(0, 20));
  }
  assert.equal((await table.run('')).ok, true);
  assert.match((await table.run('help')).text, /list blacklist\|buckets\|constants\|forwardings\|results\|searches\|storage\|values/);
  assert.match((await table.run('\u0000\u0001')).text, /Unknown command '\?\?'/);
});
