// The NSS surface (src/surfaces/nss.ts) with a canned resolver: the wire format, every resolver
// outcome, names it refuses without asking, datagrams it drops, the rate limit, the pending bound,
// and a flood of random datagrams after which it still answers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { addressBytes, buildNssReply, NssSurface, parseNssRequest, type NssOptions } from '../../../src/surfaces/nss.js';
import { buildConfig, ConfigError } from '../../../src/config.js';
import { createLogger } from '../../../src/log.js';
import { chainOver } from '../../helpers/chain.js';
import type { NameResolver, Resolution, ResolveOptions } from '../../../src/types.js';

const FOUND: Resolution = {
  status: 'found',
  ttl: 42,
  addresses: [
    { address: '192.0.2.7', port: 4007, family: 4 },
    { address: '2001:db8::7', port: 6007, family: 6 },
    { address: '192.0.2.8', port: 4008, family: 4 },
  ],
};

class FakeResolver implements NameResolver {
  calls: { name: string; options: ResolveOptions }[] = [];
  private readonly held = new Set<() => void>();

  resolve(name: string, options: ResolveOptions): Promise<Resolution> {
    this.calls.push({ name, options });
    switch (name.split('.')[0]!.toLowerCase()) {
      case 'foo': return Promise.resolve(FOUND);
      case 'gone': return Promise.resolve({ status: 'notfound', addresses: [], ttl: 0 });
      case 'late': return Promise.resolve({ status: 'timeout', addresses: [], ttl: 0 });
      case 'busy': return Promise.resolve({ status: 'busy', addresses: [], ttl: 0 });
      case 'bad': return Promise.resolve({ status: 'invalid', addresses: [], ttl: 0, reason: 'test' });
      case 'boom': return Promise.reject(new Error('resolver exploded'));
      case 'hold':
        return new Promise((resolve) => {
          const release = () => resolve(FOUND);
          this.held.add(release);
        });
      default: return Promise.resolve({ status: 'notfound', addresses: [], ttl: 0 });
    }
  }

  release(): void {
    for (const r of this.held) r();
    this.held.clear();
  }
}

interface Running {
  surface: NssSurface;
  resolver: FakeResolver;
  lines: string[];
  port: number;
}

async function startSurface(options: Partial<NssOptions> = {}): Promise<Running> {
  const resolver = new FakeResolver();
  const lines: string[] = [];
  const log = createLogger('debug', (line) => lines.push(line), 'NSS');
  const surface = new NssSurface({ chain: chainOver(resolver), log, options: { port: 0, addresses: ['127.0.0.1'], families: [4], ...options } });
  await surface.start();
  return { surface, resolver, lines, port: surface.ports()[0]! };
}

const client = dgram.createSocket('udp4');
before(() => new Promise<void>((resolve) => client.bind(0, '127.0.0.1', () => resolve())));
after(() => client.close());

function request(id: number, family: number, name: string | Buffer): Buffer {
  return Buffer.concat([Buffer.from([id >> 8, id & 0xff, family]), typeof name === 'string' ? Buffer.from(name, 'latin1') : name]);
}

/** Sends datagrams and collects every reply until none came for quietMs. */
async function exchange(port: number, datagrams: Buffer[], quietMs = 150): Promise<Buffer[]> {
  const replies: Buffer[] = [];
  const onMessage = (msg: Buffer) => replies.push(msg);
  client.on('message', onMessage);
  try {
    for (const d of datagrams) client.send(d, port, '127.0.0.1');
    let seen = -1;
    while (seen !== replies.length) {
      seen = replies.length;
      await new Promise((r) => setTimeout(r, quietMs));
    }
  } finally {
    client.off('message', onMessage);
  }
  return replies;
}

interface Reply {
  id: number;
  status: number;
  ttl: number;
  records: string[];
}

function decode(msg: Buffer): Reply {
  assert.ok(msg.length >= 8, `reply of ${msg.length} bytes`);
  const records: string[] = [];
  let off = 8;
  for (let i = 0; i < msg[3]!; i++) {
    const family = msg[off]!;
    const len = family === 4 ? 4 : 16;
    assert.ok(family === 4 || family === 6, `family ${family}`);
    const bytes = msg.subarray(off + 1, off + 1 + len);
    records.push(family === 4 ? [...bytes].join('.') : bytes.toString('hex'));
    off += 1 + len;
  }
  assert.equal(off, msg.length, 'no trailing bytes');
  return { id: msg.readUInt16BE(0), status: msg[2]!, ttl: msg.readUInt32BE(4), records };
}

test('parseNssRequest: bounds and family byte', () => {
  assert.deepEqual(parseNssRequest(request(0x1234, 4, 'foo.p2p')), { id: 0x1234, family: 4, name: 'foo.p2p' });
  assert.deepEqual(parseNssRequest(request(1, 0, 'a')), { id: 1, family: 0, name: 'a' });
  assert.ok('drop' in parseNssRequest(Buffer.alloc(0)));
  assert.ok('drop' in parseNssRequest(Buffer.from([0, 1, 4])));
  assert.ok('drop' in parseNssRequest(request(1, 5, 'foo.p2p')));
  assert.ok('drop' in parseNssRequest(request(1, 4, 'x'.repeat(256))));
  assert.ok(!('drop' in parseNssRequest(request(1, 4, 'x'.repeat(255)))));
});

test('addressBytes: IPv4 and every IPv6 spelling', () => {
  assert.equal(addressBytes('192.0.2.7', 4)?.toString('hex'), 'c0000207');
  assert.equal(addressBytes('::1', 6)?.toString('hex'), '00000000000000000000000000000001');
  assert.equal(addressBytes('::', 6)?.toString('hex'), '0'.repeat(32));
  assert.equal(addressBytes('2001:db8::7', 6)?.toString('hex'), '20010db8000000000000000000000007');
  assert.equal(addressBytes('fd20::1:2', 6)?.toString('hex'), 'fd200000000000000000000000010002');
  assert.equal(addressBytes('1:2:3:4:5:6:7:8', 6)?.toString('hex'), '00010002000300040005000600070008');
  assert.equal(addressBytes('1::', 6)?.toString('hex'), '0001' + '0'.repeat(28));
  assert.equal(addressBytes('::ffff:10.0.0.1', 6)?.toString('hex'), '00000000000000000000ffff0a000001');
  assert.equal(addressBytes('1:2:3:4:5:6:1.2.3.4', 6)?.toString('hex'), '00010002000300040005000601020304');
  assert.equal(addressBytes('fe80::1%eth0', 6), null);
  assert.equal(addressBytes('192.0.2.7', 6), null);
  assert.equal(addressBytes('::1', 4), null);
  assert.equal(addressBytes('nonsense', 6), null);
});

test('buildNssReply: header, family filter, duplicates, at most 32 records', () => {
  const r = decode(buildNssReply(0xbeef, 0, 0, FOUND.addresses, 42));
  assert.deepEqual(r, { id: 0xbeef, status: 0, ttl: 42, records: ['192.0.2.7', '20010db8000000000000000000000007', '192.0.2.8'] });
  assert.deepEqual(decode(buildNssReply(1, 0, 4, FOUND.addresses, 1)).records, ['192.0.2.7', '192.0.2.8']);
  assert.deepEqual(decode(buildNssReply(1, 0, 6, FOUND.addresses, 1)).records, ['20010db8000000000000000000000007']);
  const many = Array.from({ length: 40 }, (_, i) => ({ address: `10.0.0.${i}`, port: 1, family: 4 as const }));
  const big = buildNssReply(1, 0, 4, [...many, ...many], 60);
  assert.equal(decode(big).records.length, 32);
  assert.equal(big.length, 8 + 32 * 5);
  const six = Array.from({ length: 40 }, (_, i) => ({ address: `2001:db8::${i + 1}`, port: 1, family: 6 as const }));
  assert.equal(buildNssReply(1, 0, 0, six, 60).length, 8 + 32 * 17, 'the largest reply the library accepts (REPLY_MAX)');
  assert.equal(decode(buildNssReply(7, 1, 4)).status, 1);
});

test('the surface answers every resolver outcome', async () => {
  const s = await startSurface();
  try {
    const replies = await exchange(s.port, [
      request(1, 0, 'foo.p2p'),
      request(2, 4, 'FOO.P2P.'),
      request(3, 6, 'foo.p2p'),
      request(4, 4, 'gone.p2p'),
      request(5, 4, 'late.p2p'),
      request(6, 4, 'busy.p2p'),
      request(7, 4, 'bad.p2p'),
      request(8, 4, 'boom.p2p'),
    ]);
    const byId = new Map(replies.map((m) => [decode(m).id, decode(m)]));
    assert.equal(byId.size, 8, `one reply per request, got ${replies.length}`);
    assert.deepEqual(byId.get(1), { id: 1, status: 0, ttl: 42, records: ['192.0.2.7', '20010db8000000000000000000000007', '192.0.2.8'] });
    assert.deepEqual(byId.get(2)?.records, ['192.0.2.7', '192.0.2.8']);
    assert.deepEqual(byId.get(3)?.records, ['20010db8000000000000000000000007']);
    assert.equal(byId.get(4)?.status, 1);
    assert.equal(byId.get(5)?.status, 2);
    assert.equal(byId.get(6)?.status, 2);
    assert.equal(byId.get(7)?.status, 3);
    assert.equal(byId.get(8)?.status, 2);
    assert.ok(s.lines.some((l) => l.startsWith('(W) NSS: Cannot answer boom.p2p')), s.lines.join('\n'));
    // the trailing dot goes, case stays (the resolver sanitizes)
    assert.deepEqual(s.resolver.calls.map((c) => c.name).sort(), ['FOO.P2P', 'bad.p2p', 'boom.p2p', 'busy.p2p', 'foo.p2p', 'foo.p2p', 'gone.p2p', 'late.p2p']);
  } finally {
    await s.surface.stop();
  }
});

test('waits for the asked family only where a DHT of that family runs', async () => {
  const v4 = await startSurface({ families: [4] });
  const dual = await startSurface({ families: [4, 6] });
  try {
    await exchange(v4.port, [request(1, 4, 'foo.p2p'), request(2, 6, 'foo.p2p'), request(3, 0, 'foo.p2p')]);
    await exchange(dual.port, [request(2, 6, 'foo.p2p')]);
    const families = (r: Running) => r.resolver.calls.map((c) => c.options.family ?? 'any').sort();
    assert.deepEqual(families(v4), [4, 'any', 'any']);
    assert.deepEqual(families(dual), [6]);
    assert.ok(v4.resolver.calls.every((c) => c.options.timeoutMs === 2500));
  } finally {
    await v4.surface.stop();
    await dual.surface.stop();
  }
});

test('names outside the TLD or with other characters are refused without a lookup', async () => {
  const s = await startSurface();
  try {
    const names = ['example.com', 'p2p', '.p2p', 'a b.p2p', 'a..p2p', 'a\0.p2p', 'ä.p2p', 'foo.p2p.evil', 'x/y.p2p'];
    const replies = await exchange(s.port, names.map((n, i) => request(i, 4, Buffer.from(n, 'utf8'))));
    assert.equal(replies.length, names.length);
    assert.ok(replies.every((m) => decode(m).status === 3 && decode(m).records.length === 0));
    assert.equal(s.resolver.calls.length, 0);
  } finally {
    await s.surface.stop();
  }
});

test('malformed datagrams get no reply; the next request is answered', async () => {
  const s = await startSurface();
  try {
    const bad = [Buffer.alloc(0), Buffer.from([1]), Buffer.from([1, 2, 4]), request(9, 9, 'foo.p2p'), request(9, 4, 'x'.repeat(300))];
    assert.equal((await exchange(s.port, bad)).length, 0);
    const ok = await exchange(s.port, [request(10, 4, 'foo.p2p')]);
    assert.equal(decode(ok[0]!).status, 0);
    assert.ok(s.lines.some((l) => l.startsWith('(D) NSS: Dropped request')), s.lines.join('\n'));
  } finally {
    await s.surface.stop();
  }
});

test('rate limit: requests beyond the rate are dropped, with one warning', async () => {
  const s = await startSurface({ ratePerSecond: 20 });
  try {
    const replies = await exchange(s.port, Array.from({ length: 100 }, (_, i) => request(i, 4, 'foo.p2p')));
    assert.ok(replies.length >= 20 && replies.length <= 25, `${replies.length} replies`);
    assert.equal(s.lines.filter((l) => l.includes('requests a second: dropping')).length, 1, s.lines.join('\n'));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await exchange(s.port, [request(500, 4, 'foo.p2p')])).length, 1, 'tokens come back');
  } finally {
    await s.surface.stop();
  }
});

test('pending bound: beyond maxPending lookups, "try again" at once', async () => {
  const s = await startSurface({ maxPending: 2 });
  try {
    const first = await exchange(s.port, [request(1, 4, 'hold.p2p'), request(2, 4, 'hold.p2p'), request(3, 4, 'hold.p2p')]);
    assert.deepEqual(first.map((m) => [decode(m).id, decode(m).status]), [[3, 2]]);
    s.resolver.release();
    const rest = await exchange(s.port, []);
    assert.deepEqual(rest.map((m) => decode(m).id).sort(), [1, 2]);
  } finally {
    s.resolver.release();
    await s.surface.stop();
  }
});

test('fuzz: 5000 random and mutated datagrams, then it still answers', async () => {
  const s = await startSurface({ ratePerSecond: 1_000_000 });
  try {
    const datagrams: Buffer[] = [];
    for (let i = 0; i < 5000; i++) {
      if (i % 2 === 0) {
        datagrams.push(randomBytes(Math.floor(Math.random() * 300)));
      } else {
        const m = Buffer.from(request(i & 0xffff, [0, 4, 6][i % 3]!, 'foo.p2p'));
        m[Math.floor(Math.random() * m.length)] = Math.floor(Math.random() * 256);
        datagrams.push(m);
      }
    }
    await exchange(s.port, datagrams, 300);
    const ok = await exchange(s.port, [request(4242, 4, 'foo.p2p')]);
    assert.equal(decode(ok[0]!).id, 4242);
    assert.ok(!s.lines.some((l) => l.startsWith('(E)')), s.lines.filter((l) => l.startsWith('(E)')).join('\n'));
  } finally {
    await s.surface.stop();
  }
});

test('a port in use fails start() with the address in the message', async () => {
  const s = await startSurface();
  try {
    const other = new NssSurface({ chain: chainOver(new FakeResolver()), log: createLogger('quiet'), options: { port: s.port, addresses: ['127.0.0.1'], families: [4] } });
    await assert.rejects(other.start(), new RegExp(`cannot bind 127\\.0\\.0\\.1:${s.port}/udp: EADDRINUSE`));
  } finally {
    await s.surface.stop();
  }
});

test('--nss-port: default 4053 on loopback, 0 disables, checked like the other ports', () => {
  const config = buildConfig({});
  assert.equal(config.nssPort, 4053);
  assert.ok(config.nssAddresses.includes('127.0.0.1'));
  assert.ok(config.nssAddresses.every((a) => a === '127.0.0.1' || a === '::1'));
  assert.equal(buildConfig({ 'nss-port': '0' }).nssPort, 0);
  assert.equal(buildConfig({ 'nss-port': '65535' }).nssPort, 65535);
  for (const bad of ['70000', '-1', 'abc', '', '4053x']) {
    assert.throws(() => buildConfig({ 'nss-port': bad }), (err: Error) => err instanceof ConfigError && err.message === `Invalid port for --nss-port: '${bad}' (0..65535 expected)`);
  }
});
