// The DNS surface's query → answer path (src/surfaces/dns-answer.ts) without sockets: which route gets
// which rcode, when the chain is asked at all, and which answers the packet cache may keep.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import dnsPacket from 'dns-packet';
import type { RecordType } from 'dns-packet';
import { DnsAnswerer } from '../../../src/surfaces/dns-answer.js';
import { NEGATIVE_TTL } from '../../../src/surfaces/dns-message.js';
import { encodeZ32Key } from '../../../src/identity/keys.js';
import { createLogger } from '../../../src/log.js';
import type { Resolution } from '../../../src/types.js';
import { chainOver } from '../../helpers/chain.js';

const Z32 = encodeZ32Key(Buffer.alloc(32, 7));
const V4: Resolution = { status: 'found', addresses: [{ address: '192.0.2.7', port: 1, family: 4 }], ttl: 42 };

function setup() {
  const asked: string[] = [];
  const lines: string[] = [];
  const chain = chainOver({
    resolve: async (name) => {
      asked.push(name);
      if (name.startsWith('boom')) throw new Error('exploded');
      if (name.startsWith('gone')) return { status: 'notfound', addresses: [], ttl: 0 };
      if (name.startsWith('bad')) return { status: 'invalid', addresses: [], ttl: 0 };
      return V4;
    },
  });
  const answerer = new DnsAnswerer({ chain, log: createLogger('debug', (l) => lines.push(l)) }, { timeoutMs: 100 });
  const ask = async (name: string, type: RecordType = 'A', klass = 'IN', over = false) => {
    const msg = dnsPacket.encode({ type: 'query', id: 9, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: klass as 'IN' }] });
    const built = await answerer.build(msg, 'test', over ? { waiting: 0, source: '192.0.2.1' } : null, () => over);
    const decoded = built.response && dnsPacket.decode(built.response);
    return { rcode: (decoded as { rcode?: string } | null)?.rcode, answers: decoded?.answers?.length ?? 0, keep: built.keepTtl };
  };
  return { ask, asked, lines };
}

test('names outside the TLD without an upstream: REFUSED, the chain is not asked', async () => {
  const { ask, asked } = setup();
  assert.deepEqual(await ask('www.example.com'), { rcode: 'REFUSED', answers: 0, keep: null });
  assert.deepEqual(asked, []);
});

test('under the TLD: another class is REFUSED, another type NOERROR empty, neither asks the chain', async () => {
  const { ask, asked } = setup();
  assert.equal((await ask('foo.p2p', 'A', 'CH')).rcode, 'REFUSED');
  assert.deepEqual(await ask('foo.p2p', 'MX'), { rcode: 'NOERROR', answers: 0, keep: null });
  assert.deepEqual(asked, []);
  // a public-key name is its own zone: any type goes to the chain
  await ask(`${Z32}.p2p`, 'TXT');
  assert.deepEqual(asked, [`${Z32}.p2p`]);
});

test('what the packet cache may keep: answers with records and invalid names, never NODATA, NXDOMAIN or public-key names', async () => {
  const { ask } = setup();
  assert.deepEqual(await ask('foo.p2p'), { rcode: 'NOERROR', answers: 1, keep: 42 });
  assert.deepEqual(await ask('foo.p2p', 'AAAA'), { rcode: 'NOERROR', answers: 0, keep: null }, 'NODATA');
  assert.deepEqual(await ask('gone.p2p'), { rcode: 'NXDOMAIN', answers: 0, keep: null });
  assert.deepEqual(await ask('bad.p2p'), { rcode: 'NXDOMAIN', answers: 0, keep: NEGATIVE_TTL });
  assert.equal((await ask(Z32)).keep, null);
});

test('over the rate limit (TCP, DoH): REFUSED without asking the chain; a failing chain: SERVFAIL and one warning', async () => {
  const { ask, asked, lines } = setup();
  assert.equal((await ask('foo.p2p', 'A', 'IN', true)).rcode, 'REFUSED');
  assert.deepEqual(asked, []);
  assert.equal((await ask('boom.p2p')).rcode, 'SERVFAIL');
  assert.ok(lines.some((l) => l.startsWith('(W)') && l.includes('Cannot answer A boom.p2p from test: exploded')), lines.join('\n'));
});
