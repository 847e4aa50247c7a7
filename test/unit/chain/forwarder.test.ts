// Proxy mode on loopback: the real DnsServer and a query chain with the real upstream step, a tiny upstream made of node sockets and
// dns-packet (real UDP and TCP sockets), and clients that are plain sockets too.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, RecordType } from 'dns-packet';
import { DnsServer, FrameReader, type DnsServerOptions } from '../../../src/surfaces/dns.js';
import { createLogger } from '../../../src/log.js';
import type { QueryChain } from '../../../src/chain/chain.js';
import type { Upstream } from '../../../src/chain/forwarder.js';
import type { UpstreamStep } from '../../../src/chain/upstream-step.js';
import { chainOver } from '../../helpers/chain.js';
import type { NameResolver, Resolution } from '../../../src/types.js';

const HOST = '127.0.0.1';
/** a second loopback address (all of 127/8 is local on Linux): a spoofer on the upstream's own port */
const OTHER_HOST = '127.0.0.2';
const SPOOFED_IP = '198.51.100.66';
const TIMEOUT_MS = 600;

type Transport = 'udp' | 'tcp';

interface Seen {
  transport: Transport;
  id: number;
  name: string;
  type: string;
  raw: Buffer;
}

function frame(msg: Buffer): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(msg.length);
  return Buffer.concat([len, msg]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The upstream test double, UDP and TCP on one loopback port. What it does depends on the first label:
 * silent.* never answers; mismatch.* first sends replies with the wrong question and the wrong ID;
 * spoof.* has other sockets send well-formed forged replies first; tc.* answers UDP with TC and TCP with
 * a small answer, big.* the same with an answer of about 4 KB; notcp.* answers UDP with TC and closes TCP
 * connections; everything else answers A, AAAA, MX, TXT and PTR from a fixed zone.
 */
class FakeUpstream {
  readonly seen: Seen[] = [];
  udp!: dgram.Socket;
  tcp!: net.Server;
  port = 0;
  private spoofSamePort: dgram.Socket | null = null;
  private spoofOtherPort!: dgram.Socket;
  private readonly conns = new Set<net.Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();

  async start(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      this.udp = dgram.createSocket('udp4');
      await new Promise<void>((resolve) => this.udp.bind(0, HOST, resolve));
      this.port = this.udp.address().port;
      this.tcp = net.createServer((s) => this.onTcp(s));
      try {
        await new Promise<void>((resolve, reject) => {
          this.tcp.once('error', reject);
          this.tcp.listen(this.port, HOST, resolve);
        });
        break;
      } catch (err) {
        this.udp.close();
        if (attempt >= 5) throw err;
      }
    }
    this.udp.on('message', (msg, rinfo) => this.onUdp(msg, rinfo));
    this.spoofOtherPort = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => this.spoofOtherPort.bind(0, HOST, resolve));
    const same = dgram.createSocket('udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        same.once('error', reject);
        same.bind(this.port, OTHER_HOST, resolve);
      });
      this.spoofSamePort = same;
    } catch {
      same.close(); // no 127.0.0.2 here: that half of the spoof test is skipped
    }
  }

  get canSpoofSamePort(): boolean {
    return this.spoofSamePort !== null;
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const c of this.conns) c.destroy();
    this.udp.close();
    this.spoofOtherPort.close();
    this.spoofSamePort?.close();
    await new Promise((resolve) => this.tcp.close(resolve));
  }

  since(n: number): Seen[] {
    return this.seen.slice(n);
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private onUdp(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const q = dnsPacket.decode(msg);
    const question = q.questions![0];
    this.seen.push({ transport: 'udp', id: q.id!, name: question.name, type: question.type, raw: msg });
    const reply = (p: Buffer, from = this.udp) => from.send(p, rinfo.port, rinfo.address);
    const label = question.name.split('.')[0].toLowerCase();
    switch (label) {
      case 'silent':
        return;
      case 'mismatch':
        reply(answer(q, { name: 'other.test' }));
        reply(answer(q, { type: 'AAAA' }));
        reply(answer(q, { id: (q.id! + 1) & 0xffff }));
        reply(answer(q, { spoofed: true, question: false }));
        this.later(30, () => reply(answer(q)));
        return;
      case 'spoof':
        reply(answer(q, { spoofed: true }), this.spoofOtherPort);
        if (this.spoofSamePort) reply(answer(q, { spoofed: true }), this.spoofSamePort);
        this.later(50, () => reply(answer(q)));
        return;
      case 'tc':
      case 'big':
      case 'notcp':
        reply(answer(q, { truncated: true }));
        return;
      default:
        reply(answer(q));
    }
  }

  private onTcp(socket: net.Socket): void {
    this.conns.add(socket);
    socket.on('close', () => this.conns.delete(socket));
    socket.on('error', () => {});
    const reader = new FrameReader();
    socket.on('data', (chunk) => {
      reader.push(chunk, (f) => {
        const q = dnsPacket.decode(f);
        const question = q.questions![0];
        this.seen.push({ transport: 'tcp', id: q.id!, name: question.name, type: question.type, raw: Buffer.from(f) });
        const label = question.name.split('.')[0].toLowerCase();
        if (label === 'silent') return;
        if (label === 'notcp') return void socket.destroy();
        if (label === 'mismatch') socket.write(frame(answer(q, { name: 'other.test' })));
        socket.write(frame(answer(q, { big: label === 'big' })));
      });
    });
  }
}

/** The zone of the fake upstream; `spoofed` answers carry SPOOFED_IP. */
function answer(
  q: DecodedPacket,
  o: { id?: number; name?: string; type?: RecordType; truncated?: boolean; spoofed?: boolean; big?: boolean; question?: boolean } = {},
): Buffer {
  const question = q.questions![0];
  const name = o.name ?? question.name;
  const type = o.type ?? question.type;
  let answers: Answer[] = [];
  if (!o.truncated) {
    switch (type) {
      case 'A': answers = [{ type: 'A', name, ttl: 60, data: o.spoofed ? SPOOFED_IP : '192.0.2.53' }]; break;
      case 'AAAA': answers = [{ type: 'AAAA', name, ttl: 60, data: '2001:db8::53' }]; break;
      case 'MX': answers = [{ type: 'MX', name, ttl: 60, data: { preference: 10, exchange: 'mail.example.test' } }]; break;
      case 'TXT':
        answers = o.big
          ? Array.from({ length: 30 }, (_, i) => ({ type: 'TXT' as const, name, ttl: 60, data: `${i}`.padEnd(120, 'x') }))
          : [{ type: 'TXT', name, ttl: 60, data: 'hello from upstream' }];
        break;
      case 'PTR': answers = [{ type: 'PTR', name, ttl: 60, data: 'host.example.test' }]; break;
    }
  }
  const flags = dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | (o.truncated ? dnsPacket.TRUNCATED_RESPONSE : 0);
  return dnsPacket.encode({
    type: 'response',
    id: o.id ?? q.id,
    flags,
    questions: o.question === false ? [] : [{ name, type, class: question.class }],
    answers,
  });
}

class OnlyFoo implements NameResolver {
  calls = 0;
  resolve(): Promise<Resolution> {
    this.calls++;
    return Promise.resolve({ status: 'found', ttl: 5, addresses: [{ address: '192.0.2.7', port: 1, family: 4 }] });
  }
}

interface Running {
  server: DnsServer;
  resolver: OnlyFoo;
  chain: QueryChain;
  lines: string[];
  port: number;
}

const servers: Running[] = [];

/** `upstream` replaces the one at upstreamPort; `maxForwarded` bounds the forwarder */
async function startServer(upstreamPort: number | null, { upstream, maxForwarded, ...options }: Partial<DnsServerOptions> & { upstream?: Upstream; maxForwarded?: number } = {}): Promise<Running> {
  const lines: string[] = [];
  const resolver = new OnlyFoo();
  const log = createLogger('debug', (line) => lines.push(line));
  // the forwarder's deadline is the DNS surface's, as in the daemon (--dns-timeout)
  const chain = chainOver(resolver, { upstream: upstream ?? (upstreamPort === null ? null : { host: HOST, port: upstreamPort }), timeoutMs: options.timeoutMs ?? TIMEOUT_MS, maxForwarded, log });
  const server = new DnsServer({
    chain,
    log,
    options: {
      port: 0,
      addresses: [HOST],
      timeoutMs: TIMEOUT_MS,
      ...options,
    },
  });
  await server.start();
  const r = { server, resolver, chain, lines, port: server.addresses()[0].port };
  servers.push(r);
  return r;
}

let nextId = 1000;

function query(name: string, type: RecordType = 'A', id = nextId++, edns = false): Buffer {
  return dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name, type }],
    additionals: edns ? [{ type: 'OPT', name: '.', udpPayloadSize: 1232 } as dnsPacket.OptAnswer] : [],
  });
}

/** One datagram; the decoded answer (with its size) or null after `wait` ms. */
async function udp(port: number, msg: Buffer, wait = 3000): Promise<(DecodedPacket & { size: number }) | null> {
  const socket = dgram.createSocket('udp4');
  try {
    const reply = new Promise<(DecodedPacket & { size: number }) | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), wait);
      socket.once('message', (m) => {
        clearTimeout(timer);
        resolve({ ...dnsPacket.decode(m), size: m.length });
      });
    });
    socket.send(msg, port, HOST);
    return await reply;
  } finally {
    socket.close();
  }
}

/** One query over a fresh TCP connection; the decoded answer or null after `wait` ms. */
async function tcp(port: number, msg: Buffer, wait = 3000): Promise<DecodedPacket | null> {
  const socket = net.connect(port, HOST);
  socket.on('error', () => {});
  try {
    await once(socket, 'connect');
    const reader = new FrameReader();
    const reply = new Promise<DecodedPacket | null>((resolve) => {
      const timer = setTimeout(() => resolve(null), wait);
      socket.on('data', (chunk) => reader.push(chunk, (f) => {
        clearTimeout(timer);
        resolve(dnsPacket.decode(f));
      }));
      socket.on('close', () => { clearTimeout(timer); resolve(null); });
    });
    socket.write(frame(msg));
    return await reply;
  } finally {
    socket.destroy();
  }
}

function rcode(p: DecodedPacket | null | undefined): string {
  assert.ok(p, 'no answer');
  return (p as DecodedPacket & { rcode: string }).rcode;
}

function data(p: DecodedPacket | null): unknown[] {
  assert.ok(p, 'no answer');
  return (p.answers ?? []).map((a) => (a as { data: unknown }).data);
}

let upstream: FakeUpstream;
let main: Running;

before(async () => {
  upstream = new FakeUpstream();
  await upstream.start();
  main = await startServer(upstream.port);
});

after(async () => {
  for (const r of servers) {
    await r.server.stop();
    r.chain.stop();
  }
  await upstream.stop();
});

test('A outside the TLD: the upstream answers, with the client ID restored and a fresh ID upstream', async () => {
  const n = upstream.seen.length;
  const msg = query('Example.Test', 'A', 4242);
  const p = await udp(main.port, msg);
  assert.equal(rcode(p), 'NOERROR');
  assert.equal(p!.id, 4242);
  assert.equal(p!.flag_ra, true, 'the upstream flags pass through');
  assert.equal(p!.flag_aa, false);
  assert.deepEqual(p!.questions, [{ name: 'Example.Test', type: 'A', class: 'IN' }]);
  assert.deepEqual(data(p), ['192.0.2.53']);
  const seen = upstream.since(n);
  assert.equal(seen.length, 1);
  assert.equal(seen[0].transport, 'udp');
  // byte for byte the client's query, but for the ID
  assert.deepEqual(seen[0].raw.subarray(2), msg.subarray(2));
  assert.equal(main.resolver.calls, 0);
});

test('MX, TXT, PTR and AAAA are forwarded too', async () => {
  const mx = await udp(main.port, query('example.test', 'MX'));
  assert.equal(rcode(mx), 'NOERROR');
  assert.deepEqual(data(mx), [{ preference: 10, exchange: 'mail.example.test' }]);
  const txt = await udp(main.port, query('example.test', 'TXT'));
  assert.deepEqual(data(txt), [[Buffer.from('hello from upstream')]]);
  const ptr = await udp(main.port, query('53.2.0.192.in-addr.arpa', 'PTR'));
  assert.deepEqual(data(ptr), ['host.example.test']);
  const aaaa = await udp(main.port, query('example.test', 'AAAA'));
  assert.deepEqual(data(aaaa), ['2001:db8::53']);
});

test('every forwarded query gets its own random ID, whatever ID the client used', async () => {
  const n = upstream.seen.length;
  const answers = await Promise.all(Array.from({ length: 20 }, () => udp(main.port, query('example.test', 'A', 7))));
  assert.ok(answers.every((a) => a && a.id === 7 && rcode(a) === 'NOERROR'));
  const ids = new Set(upstream.since(n).map((s) => s.id));
  assert.ok(ids.size >= 15, `only ${ids.size} distinct upstream IDs for 20 queries`);
});

test('names under the TLD still go to the resolver, not upstream', async () => {
  const n = upstream.seen.length;
  const p = await udp(main.port, query('foo.p2p'));
  assert.deepEqual(data(p), ['192.0.2.7']);
  assert.equal(p!.flag_aa, true);
  assert.equal(upstream.seen.length, n);
});

test('replies with another question, another ID or no question are ignored', async () => {
  const p = await udp(main.port, query('mismatch.example.test'));
  assert.equal(rcode(p), 'NOERROR');
  assert.deepEqual(data(p), ['192.0.2.53']);
  assert.deepEqual(p!.questions!.map((q) => [q.name, q.type]), [['mismatch.example.test', 'A']]);
  // and over TCP: a frame with another question before the real one
  const t = await tcp(main.port, query('mismatch.example.test'));
  assert.deepEqual(data(t), ['192.0.2.53']);
});

test('replies from another port or another address than the upstream are ignored', async (t) => {
  if (!upstream.canSpoofSamePort) t.diagnostic(`cannot bind ${OTHER_HOST}: only the other-port spoof is sent`);
  const p = await udp(main.port, query('spoof.example.test'));
  assert.equal(rcode(p), 'NOERROR');
  assert.deepEqual(data(p), ['192.0.2.53']);
});

test('TC over UDP: asked again over TCP with the same ID, and the TCP answer goes back', async () => {
  const n = upstream.seen.length;
  const p = await udp(main.port, query('tc.example.test', 'A', 555, true));
  assert.equal(rcode(p), 'NOERROR');
  assert.equal(p!.id, 555);
  assert.equal(p!.flag_tc, false);
  assert.deepEqual(data(p), ['192.0.2.53']);
  const seen = upstream.since(n);
  assert.deepEqual(seen.map((s) => s.transport), ['udp', 'tcp']);
  assert.equal(seen[0].id, seen[1].id);
});

test('TC: a TCP answer too big for the UDP client becomes TC; over TCP the client gets all of it', async () => {
  const p = await udp(main.port, query('big.example.test', 'TXT', 556, true));
  assert.equal(rcode(p), 'NOERROR');
  assert.equal(p!.id, 556);
  assert.equal(p!.flag_tc, true);
  assert.equal(p!.answers!.length, 0);
  assert.ok(p!.size <= 1232, `${p!.size} bytes over UDP`);
  assert.ok(p!.additionals!.some((a) => a.type === 'OPT'));
  const t = await tcp(main.port, query('big.example.test', 'TXT', 557));
  assert.equal(t!.id, 557);
  assert.equal(t!.answers!.length, 30);
});

test('TC and no TCP at the upstream: the truncated answer is passed on', async () => {
  const p = await udp(main.port, query('notcp.example.test', 'A', 558));
  assert.equal(rcode(p), 'NOERROR');
  assert.equal(p!.id, 558);
  assert.equal(p!.flag_tc, true);
});

test('a TCP client is forwarded over TCP', async () => {
  const n = upstream.seen.length;
  const p = await tcp(main.port, query('example.test', 'MX', 4343));
  assert.equal(p!.id, 4343);
  assert.deepEqual(data(p), [{ preference: 10, exchange: 'mail.example.test' }]);
  const seen = upstream.since(n);
  assert.deepEqual(seen.map((s) => s.transport), ['tcp']);
});

test('a silent upstream: SERVFAIL within the deadline, UDP and TCP', async (t) => {
  for (const ask of [udp, tcp]) {
    const started = performance.now();
    const p = await ask(main.port, query('silent.example.test', 'A', 777));
    const ms = performance.now() - started;
    t.diagnostic(`${ask.name}: SERVFAIL after ${Math.round(ms)} ms (deadline ${TIMEOUT_MS} ms)`);
    assert.equal(rcode(p), 'SERVFAIL');
    assert.equal(p!.id, 777);
    assert.equal(p!.flag_aa, false);
    assert.equal(p!.flag_ra, true);
    assert.deepEqual(p!.questions!.map((q) => q.name), ['silent.example.test']);
    assert.ok(ms >= TIMEOUT_MS - 20 && ms < TIMEOUT_MS + 400, `${ms} ms`);
  }
  assert.ok(main.lines.some((l) => /^\(W\) DNS\/FWD: Upstream 127\.0\.0\.1:\d+ gives no answer/.test(l)), main.lines.join('\n'));
});

test('a silent upstream gets the UDP query again every second until the deadline', async () => {
  const r = await startServer(upstream.port, { timeoutMs: 2300 });
  const n = upstream.seen.length;
  const p = await udp(r.port, query('silent.example.test'));
  assert.equal(rcode(p), 'SERVFAIL');
  const seen = upstream.since(n);
  assert.equal(seen.length, 3);
  assert.equal(new Set(seen.map((s) => s.id)).size, 1);
});

test('nothing listens at the upstream: SERVFAIL at once (port unreachable)', async (t) => {
  const dead = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => dead.bind(0, HOST, resolve));
  const port = dead.address().port;
  await new Promise<void>((resolve) => dead.close(resolve));
  const r = await startServer(port);
  const started = performance.now();
  const p = await udp(r.port, query('example.test'));
  const ms = performance.now() - started;
  t.diagnostic(`SERVFAIL after ${Math.round(ms)} ms`);
  assert.equal(rcode(p), 'SERVFAIL');
  assert.ok(ms < 300, `${ms} ms`);
  assert.equal(rcode(await tcp(r.port, query('example.test'))), 'SERVFAIL');
});

test('forwarded queries in flight are bounded: beyond the bound SERVFAIL at once', async () => {
  const r = await startServer(upstream.port, { maxForwarded: 2 });
  const n = upstream.seen.length;
  const started = performance.now();
  const first = [udp(r.port, query('silent.example.test')), udp(r.port, query('silent.example.test'))];
  await sleep(50);
  const extra = await udp(r.port, query('example.test'));
  const extraMs = performance.now() - started;
  assert.equal(rcode(extra), 'SERVFAIL');
  assert.ok(extraMs < TIMEOUT_MS - 200, `the extra query took ${extraMs} ms`);
  assert.deepEqual((await Promise.all(first)).map(rcode), ['SERVFAIL', 'SERVFAIL']);
  assert.equal(upstream.since(n).length, 2);
  // the budget is given back
  assert.deepEqual(data(await udp(r.port, query('example.test'))), ['192.0.2.53']);
});

test('without an upstream: names outside the TLD are REFUSED and nothing is forwarded', async () => {
  const r = await startServer(null);
  const n = upstream.seen.length;
  assert.equal(rcode(await udp(r.port, query('example.test', 'MX'))), 'REFUSED');
  assert.equal(rcode(await tcp(r.port, query('example.test'))), 'REFUSED');
  assert.equal(upstream.seen.length, n);
});

test('stop(): forwarded queries still out are dropped and their sockets closed (the surface, then the chain, as the daemon stops them)', async () => {
  const r = await startServer(upstream.port);
  const pending = udp(r.port, query('silent.example.test'), 1000);
  await sleep(100);
  const forwarder = (r.chain.steps.find((s) => s.name === 'upstream') as UpstreamStep).forwarder;
  assert.equal(forwarder.inFlight, 1);
  const started = performance.now();
  await r.server.stop();
  r.chain.stop();
  assert.ok(performance.now() - started < 300);
  await sleep(20);
  assert.equal(forwarder.inFlight, 0, 'the forwarded query ended with its socket');
  assert.equal(await pending, null);
});

test('start(): an upstream that is this server itself is refused', async () => {
  const server = new DnsServer({
    chain: chainOver(new OnlyFoo(), { upstream: { host: HOST, port: 3535 } }),
    log: createLogger('quiet', () => {}),
    options: { port: 3535, addresses: [HOST], timeoutMs: 100 },
  });
  await assert.rejects(server.start(), { message: 'DNS: --dns-server 127.0.0.1:3535 is this DNS server itself' });
  assert.deepEqual(server.addresses(), []);
});

test('an IPv6 upstream ([::1]) works the same', async (t) => {
  const v6 = dgram.createSocket({ type: 'udp6', ipv6Only: true });
  try {
    await new Promise<void>((resolve, reject) => {
      v6.once('error', reject);
      v6.bind(0, '::1', resolve);
    });
  } catch {
    v6.close();
    return t.skip('no ::1 here');
  }
  v6.on('message', (msg, rinfo) => v6.send(answer(dnsPacket.decode(msg)), rinfo.port, rinfo.address));
  try {
    const r = await startServer(null, { upstream: { host: '::1', port: v6.address().port } });
    const p = await udp(r.port, query('example.test', 'A', 4646));
    assert.equal(p!.id, 4646);
    assert.deepEqual(data(p), ['192.0.2.53']);
  } finally {
    v6.close();
  }
});
