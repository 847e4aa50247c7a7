// LPD: the packet format and its strict parser, interface selection, and two services talking over
// multicast on `lo` (IPv4; skipped where the loopback interface cannot carry multicast).
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import type { NetworkInterfaceInfo } from 'node:os';
import { silentLogger } from '../../../src/log.js';
import {
  formatLpdPacket,
  LpdPacketError,
  LpdService,
  MAX_PACKET_SIZE,
  parseLpdPacket,
  selectInterfaces,
  type LpdOptions,
} from '../../../src/net/lpd.js';

const GROUP4 = '239.192.152.143';
const GROUP6 = 'ff15::efc0:988f';
const HASH = 'aB'.repeat(20);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const packet = (text: string): Buffer => Buffer.from(text, 'latin1');
const kadnode1 = (port: number | string, infohash = '0'.repeat(40)): string =>
  `BT-SEARCH * HTTP/1.0\r\nHost: ${GROUP4}:6771\r\nPort: ${port}\r\nInfohash: ${infohash}\r\n\r\n\r\n`;
const rejects = (text: string | Buffer, why: RegExp): void => {
  assert.throws(() => parseLpdPacket(typeof text === 'string' ? packet(text) : text), (err: unknown) => err instanceof LpdPacketError && why.test(err.message), JSON.stringify(text.toString()));
};

// ---------------------------------------------------------------- format

test('format: the KadNode 1.x packet plus a cookie, IPv4 and IPv6 Host', () => {
  assert.equal(
    formatLpdPacket({ group: GROUP4, lpdPort: 6771, port: 6881, cookie: 'c00c1e' }).toString('latin1'),
    `BT-SEARCH * HTTP/1.0\r\nHost: ${GROUP4}:6771\r\nPort: 6881\r\nInfohash: ${'0'.repeat(40)}\r\ncookie: c00c1e\r\n\r\n\r\n`,
  );
  assert.equal(
    formatLpdPacket({ group: GROUP6, lpdPort: 6771, port: 1 }).toString('latin1'),
    `BT-SEARCH * HTTP/1.0\r\nHost: [${GROUP6}]:6771\r\nPort: 1\r\nInfohash: ${'0'.repeat(40)}\r\n\r\n\r\n`,
  );
});

test('format → parse round trip', () => {
  const buf = formatLpdPacket({ group: GROUP6, lpdPort: 7000, port: 65535, cookie: 'abc', infohash: HASH });
  assert.deepEqual(parseLpdPacket(buf), { port: 65535, infohashes: [HASH.toLowerCase()], cookie: 'abc', host: `[${GROUP6}]:7000` });
});

// ---------------------------------------------------------------- parse: good packets

test('parse: KadNode 1.x packets (no cookie)', () => {
  assert.deepEqual(parseLpdPacket(packet(kadnode1(6881))), { port: 6881, infohashes: ['0'.repeat(40)], host: `${GROUP4}:6771` });
});

test('parse: variants that are still fine', () => {
  // HTTP/1.1 as in BEP 14, LF only, no trailing extra empty lines, header names in any case, spaces/tabs around values
  assert.equal(parseLpdPacket(packet('BT-SEARCH * HTTP/1.1\nport:6881\n\n')).port, 6881);
  assert.equal(parseLpdPacket(packet('BT-SEARCH * HTTP/1.0\r\nPORT: \t 80 \t\r\n\r\n')).port, 80);
  assert.equal(parseLpdPacket(packet('BT-SEARCH * HTTP/1.0\r\nPort: 1\r\n\r\n')).port, 1);
  assert.equal(parseLpdPacket(packet('BT-SEARCH * HTTP/1.0\r\nPort: 65535\r\n\r\n')).port, 65535);
  assert.equal(parseLpdPacket(packet('BT-SEARCH * HTTP/1.0\r\nPort: 06881\r\n\r\n')).port, 6881);
  // no Infohash; unknown headers ignored; several Infohash headers (BEP 14 allows that)
  assert.deepEqual(parseLpdPacket(packet('BT-SEARCH * HTTP/1.0\r\nX-Other: whatever: really\r\nPort: 9\r\n\r\n')), { port: 9, infohashes: [] });
  assert.deepEqual(parseLpdPacket(packet(`BT-SEARCH * HTTP/1.0\r\nInfohash: ${HASH}\r\nPort: 9\r\nInfohash: ${'f'.repeat(40)}\r\n\r\n`)).infohashes, [
    HASH.toLowerCase(),
    'f'.repeat(40),
  ]);
  // exactly the size limit
  const base = 'BT-SEARCH * HTTP/1.0\r\nPort: 9\r\nX-Pad: \r\n\r\n';
  const fill = 'BT-SEARCH * HTTP/1.0\r\nPort: 9\r\nX-Pad: ' + 'x'.repeat(MAX_PACKET_SIZE - base.length) + '\r\n\r\n';
  assert.equal(fill.length, MAX_PACKET_SIZE);
  assert.equal(parseLpdPacket(packet(fill)).port, 9);
});

// ---------------------------------------------------------------- parse: every malformed variant

test('parse: oversize and empty', () => {
  const big = 'BT-SEARCH * HTTP/1.0\r\nPort: 9\r\nX-Pad: ' + 'x'.repeat(MAX_PACKET_SIZE) + '\r\n\r\n';
  rejects(big, /bytes/);
  rejects(Buffer.alloc(64 * 1024, 0x41), /bytes/);
  rejects(Buffer.alloc(0), /empty/);
});

test('parse: missing Port, bad numbers', () => {
  rejects(`BT-SEARCH * HTTP/1.0\r\nHost: ${GROUP4}:6771\r\nInfohash: ${HASH}\r\n\r\n\r\n`, /no Port/);
  for (const bad of ['0', '00000', '65536', '99999', '123456', '-1', '+80', '0x1A', '80a', '1e3', '6881.0', ' ', '', '٣', '6 881', '4294967297']) {
    rejects(kadnode1(bad), /bad Port/);
  }
  rejects('BT-SEARCH * HTTP/1.0\r\nPort: 1\r\nPort: 2\r\n\r\n', /twice/);
  rejects('BT-SEARCH * HTTP/1.0\r\nPort: 1\r\nport: 1\r\n\r\n', /twice/);
});

test('parse: bad Infohash', () => {
  for (const bad of ['', '0'.repeat(39), '0'.repeat(41), 'g'.repeat(40), `${'0'.repeat(38)} 0`, 'zz']) rejects(kadnode1(6881, bad), /bad Infohash/);
});

test('parse: bad request line', () => {
  for (const first of ['', 'BT-SEARCH * HTTP/2.0', 'bt-search * HTTP/1.0', 'BT-SEARCH / HTTP/1.0', 'BT-SEARCH  * HTTP/1.0', ' BT-SEARCH * HTTP/1.0', 'NOTIFY * HTTP/1.1', 'M-SEARCH * HTTP/1.1', 'BT-SEARCH * HTTP/1.0 ']) {
    rejects(`${first}\r\nPort: 6881\r\n\r\n`, /request line/);
  }
  rejects('d1:ad2:id20:aaaaaaaaaaaaaaaaaaaae1:q4:pinge', /request line/); // a KRPC message
  rejects('Port: 6881\r\n\r\n', /request line/);
});

test('parse: bad header lines, termination, trailing content', () => {
  rejects('BT-SEARCH * HTTP/1.0\r\nPort 6881\r\n\r\n', /bad header/);
  rejects('BT-SEARCH * HTTP/1.0\r\n: 6881\r\n\r\n', /bad header/);
  rejects('BT-SEARCH * HTTP/1.0\r\n Port: 6881\r\n\r\n', /bad header/); // folded continuation
  rejects('BT-SEARCH * HTTP/1.0\r\nPo rt: 6881\r\n\r\n', /bad header/);
  rejects('BT-SEARCH * HTTP/1.0\r\n1Port: 6881\r\nPort: 1\r\n\r\n', /bad header/);
  rejects('BT-SEARCH * HTTP/1.0\r\nPort: 6881', /not terminated/);
  rejects('BT-SEARCH * HTTP/1.0\r\nPort: 6881\r\n', /not terminated/);
  rejects('BT-SEARCH * HTTP/1.0', /not terminated/);
  rejects('BT-SEARCH * HTTP/1.0\r\nPort: 6881\r\n\r\nbody', /after the headers/);
  rejects('BT-SEARCH * HTTP/1.0\r\nPort: 6881\r\n\r\n\r\nPort: 1\r\n', /after the headers/);
  rejects('BT-SEARCH * HTTP/1.0\r\nPort: 6881\r\r\n\r\n', /carriage return/);
  rejects('BT-SEARCH * HTTP/1.0\rPort: 6881\r\n\r\n', /carriage return/);
  const many = Array.from({ length: 17 }, (_, i) => `X-${i}: y`).join('\r\n');
  rejects(`BT-SEARCH * HTTP/1.0\r\nPort: 1\r\n${many}\r\n\r\n`, /headers/);
});

test('parse: non-printable bytes anywhere', () => {
  for (const bad of ['\0', '\x7f', '\x1b', '\xff', '\xe9', '\x0b']) {
    rejects(`BT-SEARCH * HTTP/1.0\r\nPort: 6881\r\nX: a${bad}b\r\n\r\n`, /non-printable/);
  }
  rejects(Buffer.concat([packet(kadnode1(6881)), Buffer.from([0])]), /non-printable/);
  rejects(Buffer.from('BT-SEARCH * HTTP/1.0\r\nPort: ６８８１\r\n\r\n', 'utf8'), /non-printable/);
});

test('parse: cookie header', () => {
  assert.equal(parseLpdPacket(packet('BT-SEARCH * HTTP/1.0\r\nPort: 1\r\ncookie: 0123abcd\r\n\r\n')).cookie, '0123abcd');
  assert.equal(parseLpdPacket(packet('BT-SEARCH * HTTP/1.0\r\nPort: 1\r\nCookie: x\r\n\r\n')).cookie, 'x');
  rejects('BT-SEARCH * HTTP/1.0\r\nPort: 1\r\ncookie: a\r\ncookie: b\r\n\r\n', /twice/);
  rejects('BT-SEARCH * HTTP/1.0\r\nPort: 1\r\ncookie: \r\n\r\n', /bad cookie/);
  rejects('BT-SEARCH * HTTP/1.0\r\nPort: 1\r\ncookie: a b\r\n\r\n', /bad cookie/);
  rejects(`BT-SEARCH * HTTP/1.0\r\nPort: 1\r\ncookie: ${'c'.repeat(65)}\r\n\r\n`, /bad cookie/);
  rejects('BT-SEARCH * HTTP/1.0\r\nPort: 1\r\nHost: a\r\nHost: b\r\n\r\n', /twice/);
});

test('parse: random bytes never throw anything but LpdPacketError', () => {
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const good = packet(kadnode1(6881, HASH));
  for (let i = 0; i < 5000; i++) {
    const buf = Buffer.from(good);
    // flip a few bytes of a good packet, or make a random one
    if (i % 2 === 0) for (let k = 0; k < 1 + rnd(4); k++) buf[rnd(buf.length)] = rnd(256);
    const msg = i % 2 === 0 ? buf : Buffer.from(Array.from({ length: rnd(1500) }, () => rnd(256)));
    try {
      const p = parseLpdPacket(msg);
      assert.ok(p.port >= 1 && p.port <= 65535);
    } catch (err) {
      assert.ok(err instanceof LpdPacketError, String(err));
    }
  }
});

// ---------------------------------------------------------------- interfaces

const info = (address: string, internal = false): NetworkInterfaceInfo =>
  (address.includes(':')
    ? { address, family: 'IPv6', internal, netmask: 'ffff:ffff:ffff:ffff::', mac: '00:00:00:00:00:00', cidr: null, scopeid: 0 }
    : { address, family: 'IPv4', internal, netmask: '255.255.255.0', mac: '00:00:00:00:00:00', cidr: null }) as NetworkInterfaceInfo;

test('interfaces: up, multicast, not loopback, not point-to-point, with an address of the family', () => {
  const list = {
    lo: [info('127.0.0.1', true), info('::1', true)],
    eth0: [info('10.0.0.2'), info('fe80::1')],
    eth1: [info('fd00::5')], // IPv6 only
    wg0: [info('10.9.0.1')], // point-to-point
    down0: [info('10.1.0.1')],
    nomc0: [info('10.2.0.1'), info('fe80::2')], // no multicast flag
    eth2: [info('192.0.2.1'), info('192.0.2.99')],
  };
  const flags: Record<string, number> = { lo: 0x49, eth0: 0x1043, eth1: 0x1003, wg0: 0x91 | 0x1000, down0: 0x1002, nomc0: 0x1043 & ~0x1000, eth2: 0x1003 };
  const byName = (name: string): number | undefined => flags[name];
  assert.deepEqual(selectInterfaces(4, list, byName), [
    { name: 'eth0', spec: '10.0.0.2', address: '10.0.0.2' },
    { name: 'eth2', spec: '192.0.2.1', address: '192.0.2.1' },
  ]);
  assert.deepEqual(selectInterfaces(6, list, byName), [
    { name: 'eth0', spec: '::%eth0', address: 'fe80::1' },
    { name: 'eth1', spec: '::%eth1', address: 'fd00::5' },
  ]);
  // named explicitly: loopback and interfaces without the multicast flag are allowed, down ones still not
  assert.deepEqual(selectInterfaces(4, list, byName, ['lo', 'nomc0', 'down0']).map((i) => i.name), ['lo', 'nomc0']);
  assert.deepEqual(selectInterfaces(6, list, byName, ['lo']), [{ name: 'lo', spec: '::%lo', address: '::1' }]);
  // no sysfs: `internal` stands for loopback
  assert.deepEqual(selectInterfaces(4, list, () => undefined).map((i) => i.name), ['eth0', 'wg0', 'down0', 'nomc0', 'eth2']);
});

// ---------------------------------------------------------------- services on loopback

class FakeDht {
  pings: { host: string; port: number }[] = [];
  constructor(private readonly port: number, public nodes = 0) {}
  nodeCount(): number {
    return this.nodes;
  }
  ping(peer: { host: string; port: number }): void {
    this.pings.push(peer);
  }
  boundPort(): number {
    return this.port;
  }
}

/** A free UDP port for the group (bounded tries). */
async function freeGroupPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 40000 + Math.floor(Math.random() * 20000);
    const ok = await new Promise<boolean>((resolve) => {
      const s = dgram.createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, '0.0.0.0', () => s.close(() => resolve(true)));
    });
    if (ok) return port;
  }
  throw new Error('no free port');
}

/** null when a multicast datagram sent on `lo` comes back to a member there, else why not. */
async function loopbackMulticast(port: number): Promise<string | null> {
  const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, '0.0.0.0', () => resolve());
    });
    s.addMembership(GROUP4, '127.0.0.1');
    s.setMulticastInterface('127.0.0.1');
    s.setMulticastLoopback(true);
    const got = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 1000);
      s.once('message', () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    s.send('probe', port, GROUP4);
    return (await got) ? null : 'a multicast datagram on lo did not come back';
  } catch (err) {
    return `multicast on lo: ${(err as Error).message}`;
  } finally {
    s.close();
  }
}

/** Waits (bounded) until cond() holds. */
async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!cond() && Date.now() < deadline) await sleep(20);
  return cond();
}

interface Harness {
  port: number;
  services: LpdService[];
  service(dht: FakeDht, extra?: Partial<LpdOptions>): Promise<LpdService>;
  /** a foreign sender on lo */
  send(text: string | Buffer): Promise<void>;
}

async function loopback(t: TestContext): Promise<Harness | undefined> {
  const port = await freeGroupPort();
  const why = await loopbackMulticast(port);
  if (why) {
    t.skip(why);
    return undefined;
  }
  const services: LpdService[] = [];
  const sender = dgram.createSocket({ type: 'udp4' });
  await new Promise<void>((resolve) => sender.bind(0, '127.0.0.1', () => resolve()));
  sender.setMulticastInterface('127.0.0.1');
  sender.setMulticastLoopback(true);
  t.after(async () => {
    await Promise.all(services.map((s) => s.stop()));
    sender.close();
  });
  return {
    port,
    services,
    async service(dht, extra = {}) {
      const s = new LpdService({ dht, log: silentLogger, options: { group: GROUP4, family: 4, port, interfaces: ['lo'], quickDelaysMs: [], ...extra } });
      services.push(s);
      await s.start();
      assert.ok(s.active, 'service started');
      return s;
    },
    send: (text) =>
      new Promise<void>((resolve, reject) => sender.send(typeof text === 'string' ? packet(text) : text, port, GROUP4, (err) => (err ? reject(err) : resolve()))),
  };
}

test('loopback: two services find each other; own packets are ignored', { timeout: 20_000 }, async (t) => {
  const h = await loopback(t);
  if (!h) return;
  const a = new FakeDht(31001);
  const b = new FakeDht(31002);
  // A announces at start (before B listens) and again after 300 ms; B announces at start, A hears it
  const sa = await h.service(a, { quickDelaysMs: [300] });
  const sb = await h.service(b);
  assert.deepEqual(sa.interfaces().map((i) => i.name), ['lo']);
  assert.ok(await until(() => a.pings.length > 0 && b.pings.length > 0, 5000), `pings: a ${JSON.stringify(a.pings)}, b ${JSON.stringify(b.pings)}`);
  assert.deepEqual(a.pings, [{ host: '127.0.0.1', port: 31002 }]);
  assert.deepEqual(b.pings, [{ host: '127.0.0.1', port: 31001 }]);
  assert.ok(sa.counters.own >= 1 && sb.counters.own >= 1, 'each heard (and ignored) its own packets');
  assert.ok(sa.counters.sent >= 2 && sb.counters.sent >= 1);
  assert.equal(sa.counters.malformed + sb.counters.malformed, 0);
});

test('loopback: a KadNode 1.x packet (no cookie) is pinged, but ours by address and port is not', { timeout: 20_000 }, async (t) => {
  const h = await loopback(t);
  if (!h) return;
  const dht = new FakeDht(31010, 100); // big table: this one does not announce
  const s = await h.service(dht);
  await h.send(kadnode1(31011));
  await h.send(kadnode1(31010)); // from 127.0.0.1 (ours) with our DHT port: looks like our own
  await h.send(`BT-SEARCH * HTTP/1.0\r\nPort: 31012\r\ncookie: ${s.cookie}\r\n\r\n`); // our cookie
  await h.send('garbage');
  await h.send(kadnode1(0));
  assert.ok(await until(() => s.counters.received >= 5, 3000));
  assert.deepEqual(dht.pings, [{ host: '127.0.0.1', port: 31011 }]);
  assert.equal(s.counters.own, 2);
  assert.equal(s.counters.malformed, 2);
  assert.equal(s.counters.sent, 0, 'no announcement with a routing table this big');
});

test('loopback: one ping per sender per hold time; pings and packets per window are bounded', { timeout: 20_000 }, async (t) => {
  const h = await loopback(t);
  if (!h) return;
  const dht = new FakeDht(31020, 100);
  const s = await h.service(dht, { maxPingsPerWindow: 3, maxPacketsPerWindow: 20, senderHoldMs: 60_000, windowMs: 60_000 });
  await h.send(kadnode1(32000));
  await h.send(kadnode1(32000)); // same sender within the hold time
  for (let p = 32001; p <= 32010; p++) await h.send(kadnode1(p));
  assert.ok(await until(() => s.counters.received >= 12, 3000));
  assert.deepEqual(dht.pings.map((p) => p.port), [32000, 32001, 32002]);
  assert.equal(s.counters.dropped, 9);
  for (let i = 0; i < 30; i++) await h.send('garbage');
  assert.ok(await until(() => s.counters.received >= 42, 3000));
  assert.equal(s.counters.malformed, 8, 'only the packets within the budget of 20 are even parsed');
});

test('loopback: announces every interval while the table is small, not once it is big; rescans interfaces', { timeout: 20_000 }, async (t) => {
  const h = await loopback(t);
  if (!h) return;
  const dht = new FakeDht(31040);
  let visible = false; // lo "comes up" after start
  const real = (await import('node:os')).networkInterfaces;
  const s = await h.service(dht, { intervalMs: 150, listInterfaces: () => (visible ? real() : {}) });
  await sleep(400);
  assert.equal(s.interfaces().length, 0);
  assert.equal(s.counters.sent, 0, 'nothing to send on');
  visible = true;
  assert.ok(await until(() => s.counters.sent >= 3, 3000), `sent ${s.counters.sent}`);
  assert.deepEqual(s.interfaces().map((i) => i.name), ['lo']);
  dht.nodes = 8;
  await sleep(200);
  const sent = s.counters.sent;
  await sleep(600);
  assert.equal(s.counters.sent, sent, 'no announcements with 8 nodes');
  const other = new FakeDht(31041);
  await h.service(other); // its start announcement is still heard
  assert.ok(await until(() => dht.pings.some((p) => p.port === 31041), 3000));
});

test('loopback: a stopped service hears nothing, a second start is a no-op, stop twice is fine, stop during start', { timeout: 20_000 }, async (t) => {
  const h = await loopback(t);
  if (!h) return;
  const dht = new FakeDht(31030);
  const s = await h.service(dht);
  await s.start();
  await s.stop();
  await s.stop();
  assert.equal(s.active, false);
  const before = dht.pings.length;
  await h.send(kadnode1(33000));
  await sleep(200);
  assert.equal(dht.pings.length, before);
  // stop() while start() is still binding: nothing stays open
  const racing = new LpdService({ dht, log: silentLogger, options: { group: GROUP4, family: 4, port: h.port, interfaces: ['lo'] } });
  const starting = racing.start();
  await racing.stop();
  await starting;
  assert.equal(racing.active, false);
  assert.equal(racing.interfaces().length, 0);
});

test('a port held exclusively by someone else: a warning, and the service stays off', { timeout: 10_000 }, async () => {
  const port = await freeGroupPort();
  const holder = dgram.createSocket({ type: 'udp4' }); // no reuseAddr
  await new Promise<void>((resolve) => holder.bind(port, '0.0.0.0', () => resolve()));
  const warnings: string[] = [];
  const log = { ...silentLogger, warn: (m: string) => warnings.push(m), child: () => log };
  const s = new LpdService({ dht: new FakeDht(1), log, options: { group: GROUP4, family: 4, port } });
  try {
    await s.start();
    assert.equal(s.active, false);
    assert.match(warnings.join('\n'), /Cannot bind port \d+\/udp .*local peer discovery is off/);
  } finally {
    await s.stop();
    holder.close();
  }
});

test('constructor: the group must match the family', () => {
  assert.throws(() => new LpdService({ dht: new FakeDht(1), log: silentLogger, options: { group: GROUP6, family: 4 } }), /not an IPv4/);
  assert.throws(() => new LpdService({ dht: new FakeDht(1), log: silentLogger, options: { group: GROUP4, family: 6 } }), /not an IPv6/);
});

test('loopback: at most 1024 senders are remembered; beyond that new senders are not pinged until old ones expire', { timeout: 30_000 }, async (t) => {
  const h = await loopback(t);
  if (!h) return;
  const dht = new FakeDht(31030, 100);
  const s = await h.service(dht, { maxPingsPerWindow: 5000, maxPacketsPerWindow: 5000, senderHoldMs: 60_000, windowMs: 60_000 });
  const senders = 1100;
  for (let i = 0; i < senders; i++) {
    await h.send(kadnode1(33000 + i));
    // a breath now and then, so the receive buffer on lo never overflows
    if (i % 50 === 49) await until(() => s.counters.received >= i + 1, 2000);
  }
  assert.ok(await until(() => s.counters.received >= senders, 5000), `received ${s.counters.received}`);
  assert.equal(dht.pings.length, 1024);
  assert.deepEqual(dht.pings.at(-1), { host: '127.0.0.1', port: 33000 + 1023 });
  assert.equal(s.counters.dropped, senders - 1024);
});

test('loopback: KadNode 2.x\'s `DHT <port>` is sent beside BT-SEARCH and pinged; ours by address and port is not', { timeout: 20_000 }, async (t) => {
  const h = await loopback(t);
  if (!h) return;
  const dht = new FakeDht(31050, 100); // big table: this one does not announce
  const s = await h.service(dht);
  for (const text of ['DHT 31051', 'DHT 31050', 'DHT 0']) await h.send(text); // 31050: ours (our address and port)
  assert.ok(await until(() => s.counters.received >= 3, 3000));
  assert.deepEqual([dht.pings, s.counters.own, s.counters.malformed], [[{ host: '127.0.0.1', port: 31051 }], 1, 1]);
  // a node that announces sends both forms per interface: a raw listener on the group hears them
  const heard: string[] = [];
  const listener = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  t.after(() => listener.close());
  await new Promise<void>((resolve) => listener.bind(h.port, '0.0.0.0', () => resolve()));
  listener.addMembership(GROUP4, '127.0.0.1');
  listener.on('message', (msg) => heard.push(msg.toString('latin1')));
  const announcing = await h.service(new FakeDht(31052));
  assert.ok(await until(() => heard.includes('DHT 31052') && heard.some((m) => m.startsWith('BT-SEARCH')), 3000), JSON.stringify(heard));
  assert.equal(announcing.counters.sent, 2, 'one packet of each form on lo');
});
