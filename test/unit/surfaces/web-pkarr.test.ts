// The HTTP side of public-key domains: DNS over HTTPS on /dns-query (the DNS surface's own answers) and
// the PKARR relay API on /{z32} with its status codes; plus the --pkarr-key/--pkarr-zone options.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import dnsPacket from 'dns-packet';
import sodium from 'sodium-native';
import type { CommandTable } from '../../../src/commands.js';
import { buildConfig, ConfigError } from '../../../src/config.js';
import type { MutableItem } from '../../../src/dht/item-store.js';
import { encodeZ32Key } from '../../../src/identity/keys.js';
import { silentLogger } from '../../../src/log.js';
import { PkarrHook } from '../../../src/pkarr/hook.js';
import { encodeDnsPacket, signPacket, toRelayPayload } from '../../../src/pkarr/packet.js';
import { PkarrRelay, RELAY_CONTENT_TYPE } from '../../../src/pkarr/relay.js';
import { DnsServer } from '../../../src/surfaces/dns.js';
import { chainOver } from '../../helpers/chain.js';
import { WebSurface } from '../../../src/surfaces/web.js';
import type { NameResolver, Resolution } from '../../../src/types.js';

const pk = Buffer.alloc(32);
const sk = Buffer.alloc(64);
sodium.crypto_sign_seed_keypair(pk, sk, Buffer.alloc(32, 9));
const Z32 = encodeZ32Key(pk);
const commands = { run: async () => ({ ok: true, kind: 'ok' as const, text: 'ok' }) } as unknown as CommandTable;

function payload(seq: number, text = 'hello'): Buffer {
  return toRelayPayload(signPacket(sk, encodeDnsPacket([{ type: 'TXT', name: Z32, ttl: 120, class: 'IN', data: [text] }]), seq));
}

async function setup(t: { after(fn: () => Promise<void>): void }, putResult: () => Promise<number> = async () => 3, putBurst = 3) {
  const puts: MutableItem[] = [];
  const stored: MutableItem[] = [];
  const hook = new PkarrHook({ dht: { getMutable: async () => undefined }, log: silentLogger });
  const relay = new PkarrRelay(
    {
      hook,
      dht: {
        // as DhtNode.putMutable: the relay's own check after the walk may stop the put
        putMutable: async (item, _target, options) => {
          const refusal = options?.refuse?.();
          if (refusal) throw Object.assign(new Error(refusal.message), { code: refusal.code });
          puts.push(item);
          return putResult();
        },
        storeItem: (item) => void stored.push(item),
      },
      log: silentLogger,
    },
    { getTimeoutMs: 200, putBurst, putRefillMs: 60_000, maxSources: 16, maxPuts: 4 },
  );
  const resolver: NameResolver = {
    resolve: async (name): Promise<Resolution> =>
      name.startsWith('known') ? { status: 'found', addresses: [{ address: '192.0.2.9', port: 1, family: 4 }], ttl: 42 } : { status: 'notfound', addresses: [], ttl: 0 },
  };
  const dns = new DnsServer({ chain: chainOver(resolver), log: silentLogger, options: { port: 0, addresses: [], timeoutMs: 500 } });
  const web = new WebSurface(commands, silentLogger, { port: 0, addresses: ['127.0.0.1'] }, { doh: dns, relay });
  await web.start();
  t.after(async () => {
    await web.stop();
    await dns.stop();
    hook.stop();
  });
  return { base: `http://127.0.0.1:${web.ports()[0]}`, puts, stored, hook };
}

const query = (name: string, type = 'A') => dnsPacket.encode({ type: 'query', id: 0, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: type as 'A' }] });

test('DoH: GET ?dns= and POST application/dns-message give the DNS answers; bad requests get 4xx', async (t) => {
  const { base } = await setup(t);
  const get = await fetch(`${base}/dns-query?dns=${query('known.p2p').toString('base64url')}`);
  assert.equal(get.status, 200);
  assert.equal(get.headers.get('content-type'), 'application/dns-message');
  assert.equal(get.headers.get('cache-control'), 'max-age=42');
  const answer = dnsPacket.decode(Buffer.from(await get.arrayBuffer()));
  assert.deepEqual(answer.answers?.map((a) => [a.name, a.type, (a as { data: string }).data]), [['known.p2p', 'A', '192.0.2.9']]);

  const post = await fetch(`${base}/dns-query`, { method: 'POST', headers: { 'content-type': 'application/dns-message' }, body: new Uint8Array(query('other.p2p')) });
  assert.equal(post.status, 200);
  const nx = dnsPacket.decode(Buffer.from(await post.arrayBuffer()));
  assert.equal((nx as { rcode?: string }).rcode, 'NXDOMAIN');
  assert.equal(post.headers.get('cache-control'), 'max-age=5', 'a negative answer may be kept as long as its SOA says');

  const refused = dnsPacket.decode(Buffer.from(await (await fetch(`${base}/dns-query?dns=${query('example.com').toString('base64url')}`)).arrayBuffer()));
  assert.equal((refused as { rcode?: string }).rcode, 'REFUSED', 'names outside the TLD as on the DNS port (no --dns-server)');

  assert.equal((await fetch(`${base}/dns-query`)).status, 400);
  assert.equal((await fetch(`${base}/dns-query?dns=***`)).status, 400);
  assert.equal((await fetch(`${base}/dns-query?dns=AAAA`)).status, 400, 'not a DNS message');
  assert.equal((await fetch(`${base}/dns-query`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' })).status, 415);
  assert.equal((await fetch(`${base}/dns-query`, { method: 'DELETE' })).status, 405);
  // the command routes are still there
  assert.equal((await fetch(`${base}/status`)).status, 200);
});

test('relay: PUT 204 / 400 / 409 / 412 / 413 / 429, GET 200 / 400 / 404', async (t) => {
  const { base, puts, stored } = await setup(t);
  const url = `${base}/${Z32}`;
  assert.equal((await fetch(url)).status, 404, 'nothing known yet');
  assert.equal((await fetch(`${base}/${'y'.repeat(51)}9`)).status, 400, 'z-base32 but not a canonical key spelling');

  const put = await fetch(url, { method: 'PUT', body: new Uint8Array(payload(2_000_000)) });
  assert.equal(put.status, 204);
  assert.equal(put.headers.get('pkarr-dht-stored-nodes'), '3');
  assert.equal(put.headers.get('access-control-allow-origin'), '*');
  assert.equal(puts.length, 1);
  assert.equal(stored.length, 1, 'kept on this node too');

  const get = await fetch(url);
  assert.equal(get.status, 200);
  assert.equal(get.headers.get('content-type'), RELAY_CONTENT_TYPE);
  assert.match(get.headers.get('cache-control') ?? '', /^public, max-age=1[12]\d$/);
  assert.ok(Buffer.from(await get.arrayBuffer()).equals(payload(2_000_000)));

  assert.equal((await fetch(url, { method: 'PUT', body: new Uint8Array(payload(1_000_000)) })).status, 409, 'older seq');
  assert.equal((await fetch(url, { method: 'PUT', body: new Uint8Array(payload(3_000_000)) })).status, 204, 'newer seq');
  // three PUTs per address in this setup: the next one is rate limited
  assert.equal((await fetch(url, { method: 'PUT', body: new Uint8Array(payload(4_000_000)) })).status, 429);
  assert.equal(puts.length, 2);
});

test('relay: bad payloads and If-Match', async (t) => {
  const { base } = await setup(t, undefined, 10);
  const url = `${base}/${Z32}`;
  const bad = payload(5);
  bad[3]! ^= 1;
  assert.equal((await fetch(url, { method: 'PUT', body: new Uint8Array(bad) })).status, 400, 'bad signature');
  assert.equal((await fetch(url, { method: 'PUT', body: new Uint8Array(1073) })).status, 413);
  // If-Match is BEP 44 `cas`: a key this node never saw goes to the DHT (here: it takes it)
  assert.equal((await fetch(url, { method: 'PUT', body: new Uint8Array(payload(7)), headers: { 'if-match': '6' } })).status, 204, 'CAS for an unknown key: the DHT decides');
  assert.equal((await fetch(url, { method: 'PUT', body: new Uint8Array(payload(9)), headers: { 'if-match': '6' } })).status, 412, 'CAS: 7 is the current seq');
  assert.equal((await fetch(url, { method: 'PUT', body: new Uint8Array(payload(9)), headers: { 'if-match': 'abc' } })).status, 400, 'If-Match is a seq');
});

test('--pkarr-key / --pkarr-zone: both or neither, key file mode, zone errors with file:line, size limit', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kadnode-pkarr-'));
  try {
    const key = join(dir, 'key');
    writeFileSync(key, sk.toString('hex') + '\n');
    chmodSync(key, 0o600);
    const zone = join(dir, 'zone');
    writeFileSync(zone, '@ 300 A auto\nfoo 60 TXT "x"\n');
    const c = buildConfig({ 'pkarr-key': `@${key}`, 'pkarr-zone': zone, peer: ['10.0.0.1'] });
    assert.equal(c.pkarr?.records.length, 2);
    assert.ok(c.pkarr?.secretKey.equals(sk));

    const fails = (raw: Record<string, string>, re: RegExp) =>
      assert.throws(() => buildConfig(raw), (e: Error) => e instanceof ConfigError && re.test(e.message) && !e.message.includes(sk.toString('hex').slice(0, 64)), JSON.stringify(raw));
    fails({ 'pkarr-key': `@${key}` }, /--pkarr-key needs --pkarr-zone/);
    fails({ 'pkarr-zone': zone }, /--pkarr-zone needs --pkarr-key/);
    fails({ 'pkarr-key': sk.toString('hex').slice(0, 100), 'pkarr-zone': zone }, /Invalid --pkarr-key: invalid key length/);
    chmodSync(key, 0o644);
    fails({ 'pkarr-key': `@${key}`, 'pkarr-zone': zone }, /readable by group or others/);
    chmodSync(key, 0o600);
    writeFileSync(zone, '@ 300 A auto\n\nfoo 60 TXT "x\n');
    fails({ 'pkarr-key': `@${key}`, 'pkarr-zone': zone }, new RegExp(`Invalid --pkarr-zone: ${zone}:3: unterminated quoted string`));
    writeFileSync(zone, Array.from({ length: 12 }, (_, i) => `n${i} 60 TXT "${'x'.repeat(80)}"`).join('\n'));
    fails({ 'pkarr-key': `@${key}`, 'pkarr-zone': zone }, /the packet of 12 records is 1\d{3} bytes, over the 1000-byte limit/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
