import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CommandTable } from '../../src/commands.js';
import type { NameResolver, Resolution } from '../../src/types.js';

const answers: Record<string, Resolution> = {
  'foo.p2p': { status: 'found', addresses: [{ address: '10.201.0.1', port: 6881, family: 4 }, { address: 'fd20::1', port: 6881, family: 6 }], ttl: 60 },
  'gone.p2p': { status: 'notfound', addresses: [], ttl: 0 },
};
const resolver: NameResolver = { resolve: async (name) => answers[name] ?? { status: 'timeout', addresses: [], ttl: 0 } };

const table = new CommandTable({
  resolver,
  lookupTimeoutMs: 5000,
  now: () => 65_000,
  status: {
    versionLine: 'kadnode v0.0.0 ( dht )',
    startedAt: 5_000,
    nodeId: () => Buffer.alloc(20, 0xab),
    dhtAddress: () => '0.0.0.0:6881',
    nodeCount: () => 9,
    storage: () => ({ announcements: 3, ids: 2, max: 16384 }),
    dhtSearches: () => 1,
    resolverStats: () => ({ searches: 1, cached: 4 }),
    valueCount: () => 2,
  },
});

test('status reports the node', async () => {
  const r = await table.run('status');
  assert.equal(r.ok, true);
  assert.match(r.text, /^DHT id: a{0}(ab){20}$/m);
  assert.match(r.text, /^DHT nodes: 9$/m);
  assert.match(r.text, /^DHT storage: 3 announcements for 2 ids \(max 16384\)$/m);
  assert.match(r.text, /^Values to announce: 2$/m);
  assert.match(r.text, /^Uptime: 60 s$/m);
});

test('lookup prints one address a line and fails clearly', async () => {
  assert.deepEqual(await table.run('lookup foo.p2p'), { ok: true, text: '10.201.0.1:6881\n[fd20::1]:6881' });
  assert.deepEqual(await table.run('lookup gone.p2p'), { ok: false, text: 'Not found.' });
  assert.equal((await table.run('lookup slow.p2p')).ok, false);
});

test('wrong commands and arguments get usage, never a throw', async () => {
  const unknown = await table.run('frobnicate now');
  assert.equal(unknown.ok, false);
  assert.match(unknown.text, /Unknown command 'frobnicate'/);
  assert.match(unknown.text, /lookup <name>/);
  assert.equal((await table.run('lookup')).ok, false);
  assert.equal((await table.run('lookup a b')).ok, false);
  assert.equal((await table.run('status extra')).ok, false);
  assert.equal((await table.run('__proto__')).ok, false);
  assert.equal((await table.run('x'.repeat(5000))).ok, false);
  assert.equal((await table.run('')).ok, true);
  assert.match((await table.run('\u0000\u0001')).text, /Unknown command '\?\?'/);
});
