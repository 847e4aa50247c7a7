// The DNS packet cache (src/surfaces/dns-packet-cache.ts) on its own, then inside the DNS surface with a
// resolver that counts its changes: hits carry the query's ID, a change is never served stale, the bound
// holds, uncachable answers and malformed messages behave as without the cache.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import dnsPacket from 'dns-packet';
import type { DecodedPacket, RecordType } from 'dns-packet';
import { answerFor, DnsPacketCache, MAX_ANSWER_BYTES, MAX_LIFETIME_MS } from '../../../src/surfaces/dns-packet-cache.js';
import { DnsServer, FrameReader, type DnsServerOptions } from '../../../src/surfaces/dns.js';
import { silentLogger } from '../../../src/log.js';
import type { QueryChain } from '../../../src/chain/chain.js';
import type { Upstream } from '../../../src/chain/forwarder.js';
import { chainOver } from '../../helpers/chain.js';
import { ScriptedSearcher } from '../../helpers/scripted-searcher.js';
import { DEFAULT_RESOLVER_OPTIONS, Resolver } from '../../../src/resolver.js';
import type { NameResolver, PeerAddress, Resolution, ResolveOptions } from '../../../src/types.js';

const HOST = '127.0.0.1';
let nextId = 100;

function query(name: string, type: RecordType = 'A', id = nextId++, extra: Partial<dnsPacket.Packet> = {}): Buffer {
  return dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type }], ...extra });
}

const v4 = (n: number): PeerAddress => ({ address: `192.0.2.${n}`, port: 4000 + n, family: 4 });

// ------------------------------------------------------------------ the cache alone

test('key: plain queries only, the ID left out, the transport in', () => {
  const a = query('foo.p2p', 'A', 1);
  const b = query('foo.p2p', 'A', 2);
  assert.equal(DnsPacketCache.key(a, 'udp'), DnsPacketCache.key(b, 'udp'));
  assert.notEqual(DnsPacketCache.key(a, 'udp'), DnsPacketCache.key(a, 'tcp'));
  assert.notEqual(DnsPacketCache.key(a, 'udp'), DnsPacketCache.key(query('FOO.p2p', 'A', 1), 'udp'), 'case is part of the key');
  assert.notEqual(DnsPacketCache.key(a, 'udp'), DnsPacketCache.key(query('foo.p2p', 'AAAA', 1), 'udp'));
  const noRd = dnsPacket.encode({ type: 'query', id: 1, flags: 0, questions: [{ name: 'foo.p2p', type: 'A' }] });
  assert.notEqual(DnsPacketCache.key(a, 'udp'), DnsPacketCache.key(noRd, 'udp'), 'flags are part of the key');
  const edns = query('foo.p2p', 'A', 1, { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0 } as dnsPacket.Answer] });
  assert.notEqual(DnsPacketCache.key(a, 'udp'), DnsPacketCache.key(edns, 'udp'), 'EDNS is part of the key');

  const response = Buffer.from(a);
  response.writeUInt16BE(0x8000 | 0x0100, 2);
  assert.equal(DnsPacketCache.key(response, 'udp'), null, 'QR set');
  const notify = Buffer.from(a);
  notify.writeUInt16BE(4 << 11, 2);
  assert.equal(DnsPacketCache.key(notify, 'udp'), null, 'opcode NOTIFY');
  const two = Buffer.from(a);
  two.writeUInt16BE(2, 4);
  assert.equal(DnsPacketCache.key(two, 'udp'), null, 'two questions');
  assert.equal(DnsPacketCache.key(a.subarray(0, 12), 'udp'), null, 'header only');
  assert.equal(DnsPacketCache.key(Buffer.alloc(5), 'udp'), null, 'short');
  assert.equal(DnsPacketCache.key(Buffer.concat([a, Buffer.alloc(400)]), 'udp'), null, 'long');
});

function answer(id: number, extraFlags = 0, size = 40): Buffer {
  const b = Buffer.alloc(size, 7);
  b.writeUInt16BE(id, 0);
  b.writeUInt16BE(0x8400 | extraFlags, 2);
  return b;
}

test('get: the same generation within the lifetime, capped at 1 s and at the TTL', () => {
  let clock = 0;
  const cache = new DnsPacketCache({ now: () => clock });
  const stored = answer(1);
  cache.set('k', stored, 5, 60);
  assert.equal(cache.get('k', 5), stored);
  assert.equal(cache.get('k', 6), null, 'another generation');
  assert.equal(cache.size, 0, 'a stale entry is dropped');

  cache.set('k', stored, 5, 60);
  clock += MAX_LIFETIME_MS - 1;
  assert.equal(cache.get('k', 5), stored);
  clock += 1;
  assert.equal(cache.get('k', 5), null, 'at most a second, whatever the TTL');

  const short = new DnsPacketCache({ now: () => clock });
  short.set('k', stored, 0, 0.5);
  clock += 499;
  assert.equal(short.get('k', 0), stored);
  clock += 1;
  assert.equal(short.get('k', 0), null, 'never beyond the TTL');
});

test('set: zero TTL, truncated, oversized or shorter than a header are not kept', () => {
  const cache = new DnsPacketCache();
  cache.set('ttl0', answer(1), 0, 0);
  cache.set('tc', answer(1, 0x0200), 0, 60);
  cache.set('big', answer(1, 0, MAX_ANSWER_BYTES + 1), 0, 60);
  cache.set('short', Buffer.alloc(11), 0, 60);
  assert.equal(cache.size, 0);
  cache.set('ok', answer(1, 0, MAX_ANSWER_BYTES), 0, 60);
  assert.equal(cache.size, 1);
});

test('bounded: the oldest entry goes first', () => {
  const cache = new DnsPacketCache({ maxEntries: 3 });
  for (const k of ['a', 'b', 'c', 'd', 'e']) cache.set(k, answer(1), 0, 60);
  assert.equal(cache.size, 3);
  assert.equal(cache.get('a', 0), null);
  assert.equal(cache.get('b', 0), null);
  assert.ok(cache.get('e', 0));
  cache.set('c', answer(2), 0, 60); // replacing does not grow it
  assert.equal(cache.size, 3);
});

test('answerFor: a copy with the query ID, the stored answer untouched', () => {
  const stored = answer(0x1111);
  const out = answerFor(query('foo.p2p', 'A', 0xbeef), stored);
  assert.equal(out.readUInt16BE(0), 0xbeef);
  assert.equal(stored.readUInt16BE(0), 0x1111);
  assert.ok(out.subarray(2).equals(stored.subarray(2)));
});

// ------------------------------------------------------------------ inside the DNS surface

/** Answers by the first label; `generation()` as the real resolver has it, bumped by the test. */
class CountingResolver implements NameResolver {
  calls = 0;
  gen = 0;
  addresses: PeerAddress[] = [v4(1)];
  ttl = 60;

  generation(): number {
    return this.gen;
  }

  resolve(name: string, _options: ResolveOptions): Promise<Resolution> {
    this.calls++;
    const label = name.toLowerCase().split('.').find((l) => !l.startsWith('_'));
    switch (label) {
      case 'gone': return Promise.resolve({ status: 'notfound', addresses: [], ttl: 0 });
      case 'late': return Promise.resolve({ status: 'timeout', addresses: [], ttl: 0 });
      case 'bad': return Promise.resolve({ status: 'invalid', addresses: [], ttl: 0 });
      case 'many': return Promise.resolve({ status: 'found', ttl: 60, addresses: Array.from({ length: 40 }, (_, i) => v4(i + 1)) });
      default: return Promise.resolve({ status: 'found', addresses: this.addresses, ttl: this.ttl });
    }
  }
}

const servers: DnsServer[] = [];
const chains: QueryChain[] = [];
after(async () => {
  for (const s of servers) await s.stop();
  for (const c of chains) c.stop();
});

/** `upstream`: proxy mode, the chain's upstream step forwards there */
async function start({ upstream, ...options }: Partial<DnsServerOptions> & { upstream?: Upstream } = {}, resolver: NameResolver = new CountingResolver()) {
  const chain = chainOver(resolver, { upstream, timeoutMs: 500 });
  const server = new DnsServer({ chain, log: silentLogger, options: { port: 0, addresses: [HOST], timeoutMs: 500, ...options } });
  await server.start();
  servers.push(server);
  chains.push(chain);
  const port = server.addresses()[0]!.port;
  return { server, port, resolver: resolver as CountingResolver };
}

async function udpRaw(port: number, msg: Buffer, wait = 1500): Promise<Buffer | null> {
  const socket = dgram.createSocket('udp4');
  try {
    const reply = new Promise<Buffer | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), wait);
      socket.once('message', (m) => { clearTimeout(timer); resolve(m); });
    });
    socket.send(msg, port, HOST);
    return await reply;
  } finally {
    socket.close();
  }
}

async function udp(port: number, msg: Buffer, wait?: number): Promise<DecodedPacket | null> {
  const raw = await udpRaw(port, msg, wait);
  return raw && dnsPacket.decode(raw);
}

async function tcp(port: number, msgs: Buffer[]): Promise<DecodedPacket[]> {
  const socket = net.connect(port, HOST);
  await once(socket, 'connect');
  const answers: DecodedPacket[] = [];
  const reader = new FrameReader();
  const done = new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk) => reader.push(chunk, (f) => {
      answers.push(dnsPacket.decode(f));
      if (answers.length === msgs.length) resolve();
    }));
    socket.on('error', reject);
    setTimeout(() => reject(new Error('TCP answers timed out')), 2000);
  });
  for (const m of msgs) {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(m.length);
    socket.write(Buffer.concat([len, m]));
    await new Promise((r) => setTimeout(r, 20)); // in order: each query sees the previous one's entry
  }
  try {
    await done;
  } finally {
    socket.destroy();
  }
  return answers;
}

const rcodeOf = (p: DecodedPacket | null) => (p as (DecodedPacket & { rcode: string }) | null)?.rcode;
const ips = (p: DecodedPacket | null) => (p?.answers ?? []).map((a) => String((a as { data: unknown }).data));

test('a hit: the same answer byte for byte but the ID, without asking the resolver', async () => {
  const { server, port, resolver } = await start();
  const first = await udpRaw(port, query('Hit.p2p', 'A', 0x0101));
  const second = await udpRaw(port, query('Hit.p2p', 'A', 0x0202));
  assert.ok(first && second);
  assert.equal(first.readUInt16BE(0), 0x0101);
  assert.equal(second.readUInt16BE(0), 0x0202);
  assert.ok(first.subarray(2).equals(second.subarray(2)));
  assert.equal(resolver.calls, 1);
  assert.equal(server.packets!.hits, 1);
  assert.deepEqual(ips(dnsPacket.decode(second)), ['192.0.2.1']);
  assert.equal(dnsPacket.decode(second).questions![0]!.name, 'Hit.p2p');
});

test('a changed answer shows at once when the generation moves', async () => {
  const { port, resolver } = await start();
  assert.deepEqual(ips(await udp(port, query('change.p2p'))), ['192.0.2.1']);
  resolver.addresses = [v4(2)];
  resolver.gen++;
  assert.deepEqual(ips(await udp(port, query('change.p2p'))), ['192.0.2.2']);
  assert.equal(resolver.calls, 2);
});

test('an answer built while the generation moved is not served afterwards', async () => {
  const resolver = new CountingResolver();
  const inner = resolver.resolve.bind(resolver);
  let moveDuring = true;
  resolver.resolve = (name, options) => {
    const r = inner(name, options);
    if (moveDuring) resolver.gen++; // e.g. a search finishing while the answer is built
    return r;
  };
  const { port } = await start({}, resolver);
  await udp(port, query('race.p2p'));
  moveDuring = false;
  await udp(port, query('race.p2p'));
  assert.equal(resolver.calls, 2, 'the first answer was stored under the old generation');
  await udp(port, query('race.p2p'));
  assert.equal(resolver.calls, 2);
});

test('without a generation change an entry still lives at most a second', async () => {
  const { port, resolver } = await start();
  assert.deepEqual(ips(await udp(port, query('own.p2p'))), ['192.0.2.1']);
  resolver.addresses = [v4(3)]; // e.g. an own value added through the control port: not counted
  assert.deepEqual(ips(await udp(port, query('own.p2p'))), ['192.0.2.1']);
  await new Promise((r) => setTimeout(r, MAX_LIFETIME_MS + 50));
  assert.deepEqual(ips(await udp(port, query('own.p2p'))), ['192.0.2.3']);
});

test('the bound holds inside the server', async () => {
  const { server, port, resolver } = await start({ packetCacheSize: 2 });
  for (const n of ['a1', 'a2', 'a3']) await udp(port, query(`${n}.p2p`));
  assert.equal(server.packets!.size, 2);
  await udp(port, query('a1.p2p'));
  assert.equal(resolver.calls, 4, 'the oldest was evicted');
  await udp(port, query('a3.p2p'));
  assert.equal(resolver.calls, 4);
});

test('not kept: NXDOMAIN of a search, SERVFAIL, REFUSED, NODATA, truncated, zero TTL', async () => {
  const { server, port, resolver } = await start();
  const twice = async (msg: () => Buffer, expect: string, calls: number) => {
    const before = resolver.calls;
    assert.equal(rcodeOf(await udp(port, msg())), expect);
    assert.equal(rcodeOf(await udp(port, msg())), expect);
    assert.equal(resolver.calls - before, calls, expect);
  };
  await twice(() => query('gone.p2p'), 'NXDOMAIN', 2);
  await twice(() => query('late.p2p'), 'SERVFAIL', 2);
  await twice(() => query('elsewhere.example'), 'REFUSED', 0);
  await twice(() => query('nodata.p2p', 'AAAA'), 'NOERROR', 2); // the resolver has IPv4 only
  const many = await udp(port, query('many.p2p'));
  assert.ok(many && (many.flags! & dnsPacket.TRUNCATED_RESPONSE), 'truncated over UDP');
  await udp(port, query('many.p2p'));
  assert.equal(server.packets!.size, 0);
  resolver.ttl = 0;
  await twice(() => query('zero.p2p'), 'NOERROR', 2);
  assert.equal(server.packets!.size, 0);
});

test('an invalid name (NXDOMAIN that cannot change) is kept', async () => {
  const { port, resolver } = await start();
  assert.equal(rcodeOf(await udp(port, query('bad.p2p'))), 'NXDOMAIN');
  assert.equal(rcodeOf(await udp(port, query('bad.p2p'))), 'NXDOMAIN');
  assert.equal(resolver.calls, 1);
});

test('proxy mode: forwarded answers are never kept', async () => {
  const upstream = dgram.createSocket('udp4');
  let asked = 0;
  upstream.on('message', (m, peer) => {
    asked++;
    const q = dnsPacket.decode(m);
    upstream.send(dnsPacket.encode({ type: 'response', id: q.id, flags: dnsPacket.RECURSION_AVAILABLE, questions: q.questions, answers: [{ type: 'A', name: q.questions![0]!.name, ttl: 300, data: '198.51.100.1' }] }), peer.port, peer.address);
  });
  await new Promise<void>((r) => upstream.bind(0, HOST, r));
  try {
    const { server, port } = await start({ upstream: { host: HOST, port: upstream.address().port } });
    for (let i = 0; i < 2; i++) assert.deepEqual(ips(await udp(port, query('www.example.com'))), ['198.51.100.1']);
    assert.equal(asked, 2);
    assert.equal(server.packets!.size, 0);
  } finally {
    upstream.close();
  }
});

test('malformed messages: FORMERR or silence, every time', async () => {
  const { port, resolver } = await start();
  const two = dnsPacket.encode({ type: 'query', id: 7, flags: 0, questions: [{ name: 'a.p2p', type: 'A' }, { name: 'b.p2p', type: 'A' }] });
  const garbage = Buffer.from(query('x.p2p'));
  garbage.writeUInt16BE(0xffff, 10); // more additional records than the message holds
  for (let i = 0; i < 2; i++) {
    assert.equal(rcodeOf(await udp(port, two)), 'FORMERR');
    assert.equal(rcodeOf(await udp(port, garbage)), 'FORMERR');
    const response = Buffer.from(query('r.p2p'));
    response.writeUInt16BE(0x8100, 2);
    assert.equal(await udp(port, response, 300), null, 'a response is dropped');
  }
  assert.equal(resolver.calls, 0);
});

test('TCP uses the cache; UDP never gets a TCP-sized answer', async () => {
  const { port, resolver } = await start();
  const answers = await tcp(port, [query('t.p2p', 'A', 11), query('t.p2p', 'A', 12)]);
  assert.deepEqual(answers.map((a) => a.id), [11, 12]);
  assert.deepEqual(answers.map(ips), [['192.0.2.1'], ['192.0.2.1']]);
  assert.equal(resolver.calls, 1);
  // 40 addresses: complete over TCP (kept), truncated over UDP
  const [full] = await tcp(port, [query('many.p2p')]);
  assert.equal(full!.answers!.length, 40);
  const udpMany = await udp(port, query('many.p2p'));
  assert.ok(udpMany!.flags! & dnsPacket.TRUNCATED_RESPONSE);
  assert.equal(udpMany!.answers!.length, 0);
});

test('the rate limit applies before the cache: UDP dropped, TCP REFUSED', async () => {
  const { port, resolver } = await start({ rateLimit: { perSecond: 0.001, burst: 2, maxSources: 16, exemptLoopback: false } });
  assert.equal(rcodeOf(await udp(port, query('rl.p2p'))), 'NOERROR');
  assert.equal(rcodeOf(await udp(port, query('rl.p2p'))), 'NOERROR'); // a hit, second token
  assert.equal(await udp(port, query('rl.p2p'), 300), null, 'over the limit: dropped even though cached');
  const [refused] = await tcp(port, [query('rl.p2p', 'A', 99)]);
  assert.equal(rcodeOf(refused!), 'REFUSED');
  assert.equal(refused!.id, 99);
  assert.equal(resolver.calls, 1);
});

test('no cache for a resolver without generation(), or with packetCacheSize 0', async () => {
  const plain = new CountingResolver();
  const { server, port } = await start({}, { resolve: (n, o) => plain.resolve(n, o) });
  await udp(port, query('p.p2p'));
  await udp(port, query('p.p2p'));
  assert.equal(plain.calls, 2);
  assert.equal(server.packets, null);
  const off = await start({ packetCacheSize: 0 });
  await udp(off.port, query('p.p2p'));
  await udp(off.port, query('p.p2p'));
  assert.equal(off.resolver.calls, 2);
});

test('Resolver.generation moves when addresses are found, a search finishes, an address is dropped', async () => {
  const dht = new ScriptedSearcher();
  const resolver = new Resolver({ dht, own: { portFor: () => undefined }, log: silentLogger }, { ...DEFAULT_RESOLVER_OPTIONS, tld: '.p2p' });
  const g0 = resolver.generation();
  const pending = resolver.resolve('gen.p2p', { timeoutMs: 1000 });
  dht.calls[0]!.agree(v4(1));
  assert.ok((await pending).status === 'found');
  const g1 = resolver.generation();
  assert.notEqual(g1, g0, 'an address found');
  dht.calls[0]!.finish(8);
  await new Promise((r) => setImmediate(r));
  const g2 = resolver.generation();
  assert.notEqual(g2, g1, 'the search finished (now cached)');
  await resolver.resolve('gen.p2p', { timeoutMs: 1000 });
  assert.equal(resolver.generation(), g2, 'a cache hit changes nothing');
  resolver.dropAddress('192.0.2.1');
  assert.notEqual(resolver.generation(), g2, 'an address dropped');
  resolver.stop();
});
