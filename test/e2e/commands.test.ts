// The command table through its three surfaces, against real bin/kadnode daemons on 127.0.0.1 (no root):
// the stdin console (success on stdout, failure on stderr), bin/kadnode-ctl (exit 0 ok, 1 command failed,
// 2 no daemon / bad kadnode-ctl usage) and the web interface (HTTP/1.1 status codes as in web.ts).
//
// Daemons: A (bootstrap, empty peer file), B (--value-id foo.p2p:4711), C (stdin console) form one DHT.
// The console suite runs on C, the kadnode-ctl suite on A, the HTTP suite on C; B is the independent node
// that looks up what the others announce. A fourth daemon F is bootstrapped from a fake, deliberately slow
// DHT (sockets of this process on 127.0.0.20+) so that lookups time out (504) and searches pile up (503).
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import bencode from 'bencode';
import dnsPacket from 'dns-packet';
import {
  emptyPeerFile,
  kadnodeCtl,
  pickPorts,
  retry,
  runKadnode,
  sleep,
  startDaemon,
  tempDir,
  type Daemon,
} from './harness.js';
import type { ExecResult } from './netns.js';

// ---------------------------------------------------------------- constants and small helpers

const FOO_PORT = 4711;
const FOO_ID = '0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33';
const sha1 = (s: string): string => createHash('sha1').update(s).digest('hex');
const HAVE_V6_LOOPBACK = Object.values(networkInterfaces()).some((l) => l?.some((i) => i.address === '::1'));
const COMMANDS = ['status', 'lookup', 'announce', 'import', 'export', 'blacklist', 'list', 'help'];
const LISTS = ['blacklist', 'buckets', 'constants', 'forwardings', 'results', 'searches', 'storage', 'values'];
const LOG_LINE = /^\([IWDE]\) /;
const lines = (text: string): string[] => text.split('\n').map((l) => l.trimEnd()).filter((l) => l !== '');
const unknownName = (): string => `nosuch-${randomBytes(6).toString('hex')}.p2p`;

let quietCache: Promise<string[]> | undefined;
/**
 * --lpd-disable / --fwd-disable where this kadnode has them (asked once through --help): no multicast or
 * gateway traffic leaves the machine, and no test daemon hears the daemons of another test on this host.
 */
function quietArgs(): Promise<string[]> {
  quietCache ??= runKadnode(['--help'], { timeoutMs: 15_000 }).then((r) => ['--lpd-disable', '--fwd-disable'].filter((o) => r.stdout.includes(o)));
  return quietCache;
}

interface Node {
  label: string;
  d: Daemon;
  dht: number;
  dns: number;
  cmd: number;
  web: number;
}

/** One reply of a command, whatever the surface. */
interface Reply {
  ok: boolean;
  out: string[];
  err: string[];
  /** kadnode-ctl exit code (null for the console) */
  code: number | null;
  /** for failure messages */
  raw: string;
}

interface Surface {
  name: string;
  node: () => Node;
  run(line: string, timeoutMs?: number): Promise<Reply>;
}

// ---------------------------------------------------------------- console driver

let sentinelSeq = 0;

/**
 * Writes one line to the daemon's stdin, followed by a unique unknown command (the sentinel). The console
 * answers in order, so the command's failure text is everything on stderr before the sentinel's
 * "Unknown command" line (log lines removed). Its success text went to stdout before the sentinel's
 * stderr write (pipes are written synchronously by Node on Linux); a short settle covers the reading side.
 */
async function consoleRun(d: Daemon, input: string | Buffer, timeoutMs = 15_000): Promise<Reply> {
  const stdin = d.child.stdin;
  if (!stdin || stdin.destroyed || stdin.writableEnded) throw new Error(`${d.label}: stdin not writable`);
  const sentinel = `kn-sentinel-${process.pid}-${++sentinelSeq}`;
  const mark = `Unknown command '${sentinel}'.`;
  const outStart = d.stdoutLines.length;
  const errStart = d.stderrLines.length;
  stdin.write(input);
  stdin.write(`\n${sentinel}\n`);
  const deadline = Date.now() + timeoutMs;
  let at = -1;
  while (at < 0) {
    at = d.stderrLines.indexOf(mark, errStart);
    if (at >= 0) break;
    if (!d.alive) throw new Error(`${d.label} exited ${JSON.stringify(d.exitInfo)} while answering ${JSON.stringify(String(input).slice(0, 80))}\n${d.tail()}`);
    if (Date.now() > deadline) throw new Error(`${d.label}: no console answer within ${timeoutMs} ms for ${JSON.stringify(String(input).slice(0, 80))}\n${d.tail()}`);
    await sleep(20);
  }
  await sleep(100);
  const out = d.stdoutLines.slice(outStart);
  const err = d.stderrLines.slice(errStart, at).filter((l) => !LOG_LINE.test(l));
  const raw = `stdout:\n${out.join('\n')}\nstderr:\n${err.join('\n')}`;
  return { ok: err.length === 0 && out.length > 0, out: out.filter((l) => l !== ''), err: err.filter((l) => l !== ''), code: null, raw };
}

function ctlReply(r: ExecResult): Reply {
  return {
    ok: r.code === 0,
    out: lines(r.stdout),
    err: lines(r.stderr),
    code: r.code,
    raw: `exit ${r.code} (signal ${r.signal})\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`,
  };
}

async function ctl(node: Node, words: string[], timeoutMs = 20_000): Promise<Reply> {
  return ctlReply(await kadnodeCtl(['-p', String(node.cmd), ...words], { timeoutMs }));
}

/** A success: text on stdout only (console), exit 0 with stdout only (kadnode-ctl). */
function assertOk(r: Reply, what: string): void {
  assert.ok(r.ok, `${what}: expected success\n${r.raw}`);
  assert.ok(r.out.length > 0, `${what}: success without text\n${r.raw}`);
  assert.equal(r.err.length, 0, `${what}: success with text on stderr\n${r.raw}`);
  if (r.code !== null) assert.equal(r.code, 0, `${what}: exit code\n${r.raw}`);
}

/** A failure: text on stderr only; kadnode-ctl exits 1 (the command failed, not kadnode-ctl). */
function assertFail(r: Reply, what: string, message?: RegExp): void {
  assert.ok(!r.ok, `${what}: expected a failure\n${r.raw}`);
  assert.equal(r.out.length, 0, `${what}: failure with text on stdout\n${r.raw}`);
  assert.ok(r.err.length > 0, `${what}: failure without a message\n${r.raw}`);
  if (r.code !== null) assert.equal(r.code, 1, `${what}: kadnode-ctl exit code\n${r.raw}`);
  if (message) assert.match(r.err.join('\n'), message, `${what}: message\n${r.raw}`);
}

const USAGE = /Usage:/;

// ---------------------------------------------------------------- raw HTTP

interface HttpReply {
  /** false when the connection closed without a single byte */
  answered: boolean;
  version: string;
  status: number;
  headers: Record<string, string>;
  body: string;
  bodyBytes: number;
  raw: string;
}

/** Sends a raw request and reads until the server closes; bounded. */
function rawHttp(port: number, request: string | Buffer, host = '127.0.0.1', timeoutMs = 20_000): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`HTTP ${host}:${port}: no close within ${timeoutMs} ms; got ${JSON.stringify(Buffer.concat(chunks).toString().slice(0, 300))}`));
    }, timeoutMs);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (c) => chunks.push(c));
    // a reset is an answer too ("closed without reply"), not a test error
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      const all = Buffer.concat(chunks);
      const text = all.toString('latin1');
      const split = text.indexOf('\r\n\r\n');
      const head = split < 0 ? text : text.slice(0, split);
      const [statusLine = '', ...headerLines] = head.split('\r\n');
      const m = /^(HTTP\/\d\.\d) (\d{3})/.exec(statusLine);
      const headers: Record<string, string> = {};
      for (const h of headerLines) {
        const i = h.indexOf(':');
        if (i > 0) headers[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
      }
      const bodyBuf = split < 0 ? Buffer.alloc(0) : all.subarray(Buffer.byteLength(text.slice(0, split + 4), 'latin1'));
      resolve({
        answered: all.length > 0,
        version: m ? m[1]! : '',
        status: m ? Number(m[2]) : 0,
        headers,
        body: bodyBuf.toString('utf8'),
        bodyBytes: bodyBuf.length,
        raw: text.slice(0, 2000),
      });
    });
  });
}

function http(port: number, target: string, opts: { method?: string; host?: string } = {}): Promise<HttpReply> {
  const host = opts.host ?? '127.0.0.1';
  const hostHeader = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return rawHttp(port, `${opts.method ?? 'GET'} ${target} HTTP/1.1\r\nHost: ${hostHeader}\r\nConnection: close\r\n\r\n`, host);
}

/** Every answer: HTTP/1.1, a Content-Type and a Content-Length that matches the body (none for HEAD). */
function assertHttp(r: HttpReply, status: number, what: string, opts: { head?: boolean } = {}): void {
  assert.ok(r.answered, `${what}: connection closed without a reply (want ${status})`);
  assert.equal(r.status, status, `${what}: status\n${r.raw}`);
  assert.equal(r.version, 'HTTP/1.1', `${what}: version\n${r.raw}`);
  assert.match(r.headers['content-type'] ?? '', /^text\/plain/, `${what}: Content-Type\n${r.raw}`);
  assert.match(r.headers['content-length'] ?? '', /^\d+$/, `${what}: Content-Length\n${r.raw}`);
  if (opts.head) assert.equal(r.bodyBytes, 0, `${what}: HEAD answered with a body\n${r.raw}`);
  else assert.equal(Number(r.headers['content-length']), r.bodyBytes, `${what}: Content-Length vs body\n${r.raw}`);
}

// ---------------------------------------------------------------- a fake, slow DHT (for 503 / 504)

/**
 * A chain of KRPC responders on 127.0.0.20, .21, ... (one UDP socket each, ephemeral ports). Responder 0
 * has a fixed id and answers ping / find_node at once, so it becomes the daemon's only routing-table node.
 * A get_peers for target T is answered after `delayMs` (below k-rpc's 2 s timeout) with no values and one
 * node: the next responder, with an id closer to T than the previous one. The daemon's walk therefore
 * takes about chain length × delayMs and never finds anything.
 */
class SlowDht {
  readonly sockets: UdpSocket[] = [];
  readonly ports: number[] = [];
  readonly id0 = randomBytes(20);
  private readonly timers = new Set<NodeJS.Timeout>();
  queries = 0;

  constructor(private readonly length: number, private readonly delayMs: number) {}

  host(i: number): string {
    return `127.0.0.${20 + i}`;
  }

  async start(): Promise<void> {
    for (let i = 0; i < this.length; i++) {
      const s = createSocket('udp4');
      await new Promise<void>((res, rej) => {
        s.once('error', rej);
        s.bind(0, this.host(i), () => res());
      });
      s.on('message', (msg, rinfo) => this.onMessage(i, msg, rinfo));
      s.on('error', () => undefined);
      this.sockets.push(s);
      this.ports.push(s.address().port);
    }
  }

  /** id of responder i (i >= 1) for target T: T with one bit flipped, nearer to T as i grows. */
  private idFor(i: number, target: Buffer): Buffer {
    if (i === 0) return this.id0;
    const id = Buffer.from(target);
    const bit = 8 + i;
    id[bit >> 3] ^= 0x80 >> (bit & 7);
    return id;
  }

  private onMessage(i: number, msg: Buffer, rinfo: { address: string; port: number }): void {
    let m: Record<string, unknown>;
    try {
      m = bencode.decode(msg) as Record<string, unknown>;
    } catch {
      return;
    }
    const str = (v: unknown): string => (v instanceof Uint8Array ? Buffer.from(v).toString() : '');
    if (str(m.y) !== 'q') return;
    this.queries++;
    const q = str(m.q);
    const a = (m.a ?? {}) as Record<string, unknown>;
    const send = (r: Record<string, unknown>): void => {
      this.sockets[i]?.send(Buffer.from(bencode.encode({ t: m.t, y: 'r', r })), rinfo.port, rinfo.address);
    };
    if (q === 'get_peers' && a.info_hash instanceof Uint8Array && a.info_hash.length === 20) {
      const target = Buffer.from(a.info_hash);
      const next = i + 1 < this.length ? this.compactNode(i + 1, target) : Buffer.alloc(0);
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        send({ id: this.idFor(i, target), token: Buffer.from('tok1'), nodes: next });
      }, this.delayMs);
      this.timers.add(timer);
      return;
    }
    const target = a.target instanceof Uint8Array && a.target.length === 20 ? Buffer.from(a.target) : this.id0;
    if (q === 'find_node') send({ id: this.idFor(i, target), nodes: Buffer.alloc(0) });
    else send({ id: this.idFor(i, target) });
  }

  private compactNode(i: number, target: Buffer): Buffer {
    const b = Buffer.alloc(26);
    this.idFor(i, target).copy(b, 0);
    this.host(i)
      .split('.')
      .forEach((octet, k) => (b[20 + k] = Number(octet)));
    b.writeUInt16BE(this.ports[i]!, 24);
    return b;
  }

  stop(): void {
    for (const t of this.timers) clearTimeout(t);
    for (const s of this.sockets) {
      try {
        s.close();
      } catch {
        // closed
      }
    }
  }
}

// ---------------------------------------------------------------- status checks

function assertStatus(r: Reply, n: Node, what: string): void {
  assertOk(r, what);
  const out = r.out;
  const text = out.join('\n');
  assert.match(out[0] ?? '', /^Version: kadnode v\d+\.\d+\.\d+\S* \( .+ \)$/, `${what}: first line\n${text}`);
  const id = /^DHT id: ([0-9a-f]{40})$/.exec(out[1] ?? '');
  assert.ok(id, `${what}: second line should be "DHT id: <40 hex>"\n${text}`);
  const logged = n.d.stderrLines.find((l) => l.startsWith('(I) Node ID: '));
  assert.equal(id[1], logged?.slice('(I) Node ID: '.length), `${what}: DHT id differs from the logged Node ID`);
  const bound = out.filter((l) => l.startsWith('Bound: '));
  const want = [
    `Bound: DHT 0.0.0.0:${n.dht} (udp)`,
    `Bound: DNS 127.0.0.1:${n.dns} (udp, tcp)`,
    `Bound: control 127.0.0.1:${n.cmd} (tcp)`,
    `Bound: web 127.0.0.1:${n.web} (http)`,
  ];
  if (HAVE_V6_LOOPBACK) want.push(`Bound: DNS [::1]:${n.dns} (udp, tcp)`, `Bound: control [::1]:${n.cmd} (tcp)`, `Bound: web [::1]:${n.web} (http)`);
  for (const w of want) assert.ok(bound.includes(w), `${what}: missing "${w}"\n${text}`);
  const nodes = /^DHT nodes: (\d+) \((\d+) good\)$/m.exec(text);
  assert.ok(nodes, `${what}: "DHT nodes: N (M good)"\n${text}`);
  assert.ok(Number(nodes[1]) >= 2 && Number(nodes[2]) <= Number(nodes[1]) && Number(nodes[2]) >= 2, `${what}: the other two daemons should be good nodes\n${text}`);
  assert.match(text, /^DHT storage: \d+ announcements for \d+ ids \(max \d+\)$/m, `${what}: storage line\n${text}`);
  assert.match(text, /^DHT searches: \d+ active$/m, `${what}: searches line\n${text}`);
  assert.match(text, /^Values to announce: \d+$/m, `${what}: values line\n${text}`);
  assert.match(text, /^Uptime: \d+ s$/m, `${what}: uptime line\n${text}`);
  // nothing the C daemon printed for a lookup in progress, no stray lines
  for (const l of out) assert.match(l, /^[A-Z][A-Za-z0-9 ]*: \S/, `${what}: unexpected line "${l}"`);
}

// ---------------------------------------------------------------- the suite

describe('command table: console, kadnode-ctl and HTTP on loopback', { timeout: 120_000 }, () => {
  let A: Node, B: Node, C: Node, F: Node;
  const all: Node[] = [];
  let slow: SlowDht | undefined;
  let tmp: ReturnType<typeof tempDir> | undefined;
  /** started as soon as F is up, awaited by the HTTP suite (each takes the 10 s lookup time-out) */
  let slowWeb: Promise<HttpReply & { ms: number }> | undefined;
  let slowCtl: Promise<Reply & { ms: number }> | undefined;
  const setupNotes: string[] = [];

  const start = async (label: string, ports: number[], args: string[], stdin: 'pipe' | 'ignore'): Promise<Node> => {
    const [dht, dns, cmd, web] = ports as [number, number, number, number];
    const d = await startDaemon({
      label,
      stdin,
      args: ['--port', String(dht), '--dns-port', String(dns), '--cmd-port', String(cmd), '--web-port', String(web), ...(await quietArgs()), ...args],
    });
    const n = { label, d, dht, dns, cmd, web };
    all.push(n);
    return n;
  };

  before(async () => {
    const t0 = performance.now();
    tmp = tempDir('kadnode-commands');
    const peerfile = emptyPeerFile(tmp.path);
    const ports = await pickPorts(16);
    const p = (i: number): number[] => ports.slice(i * 4, i * 4 + 4);
    A = await start('daemon A', p(0), ['--peerfile', peerfile], 'ignore');
    slow = new SlowDht(16, 1000);
    await slow.start();
    [B, C, F] = await Promise.all([
      start('daemon B', p(1), ['--peer', `127.0.0.1:${A.dht}`, '--value-id', `foo.p2p:${FOO_PORT}`], 'ignore'),
      start('daemon C', p(2), ['--peer', `127.0.0.1:${A.dht}`], 'pipe'),
      start('daemon F', p(3), ['--peer', `${slow.host(0)}:${slow.ports[0]}`], 'ignore'),
    ]);
    // F knows the fake (and only the fake): then the slow lookups start and run in the background
    const fReady = await retry(
      async () => {
        const r = await ctl(F, ['status']);
        return /^DHT nodes: [1-9]/m.test(r.out.join('\n')) ? r : undefined;
      },
      { tries: 40, timeoutMs: 10_000, intervalMs: 250 },
    );
    assert.ok(fReady.value, `daemon F never put the fake DHT node into its routing table\n${F.d.tail()}`);
    const timed = async <T>(p: Promise<T>): Promise<T & { ms: number }> => {
      const s = performance.now();
      const v = await p;
      return { ...v, ms: performance.now() - s };
    };
    slowWeb = timed(http(F.web, `/lookup?${unknownName()}`));
    slowCtl = timed(ctl(F, ['lookup', unknownName()], 30_000));
    // awaited later; should setup fail first, a rejection must not go unhandled
    slowWeb.catch(() => undefined);
    slowCtl.catch(() => undefined);
    // the DHT of A, B, C: everybody knows the two others, foo is stored on A and on C
    const formed = await retry(
      async () => {
        const rs = await Promise.all([A, B, C].map((n) => ctl(n, ['status'])));
        return rs.every((r) => /^DHT nodes: ([2-9]|\d\d+) \(([2-9]|\d\d+) good\)$/m.test(r.out.join('\n'))) ? rs : undefined;
      },
      { tries: 60, timeoutMs: 30_000, intervalMs: 250 },
    );
    assert.ok(formed.value, `A, B, C did not form a DHT within 30 s\n${A.d.tail()}\n${C.d.tail()}`);
    const stored = await retry(
      async () => {
        const rs = await Promise.all([A, C].map((n) => ctl(n, ['list', 'storage'])));
        return rs.every((r) => r.out.includes(`${FOO_ID} 127.0.0.1:${FOO_PORT}`)) ? rs : undefined;
      },
      { tries: 80, timeoutMs: 20_000, intervalMs: 250 },
    );
    assert.ok(stored.value, `foo.p2p never reached the storage of A and C\n${B.d.tail()}`);
    setupNotes.push(`setup: 4 daemons ready, DHT formed and foo stored in ${Math.round(performance.now() - t0)} ms`);
  });

  after(async () => {
    await Promise.all(all.map((n) => n.d.stop(5000)));
    slow?.stop();
    tmp?.remove();
  });

  it('sha1("foo") is the id the tables show', (t) => {
    assert.equal(sha1('foo'), FOO_ID);
    for (const n of setupNotes) t.diagnostic(n);
  });

  // ------------------------------------------------------------ the full table, on the console and on kadnode-ctl

  const surfaces: Array<{ surface: Surface; bar: string; blacklistIp: string; blacklistIp6: string; others: () => Node[] }> = [
    {
      surface: { name: 'console (stdin of daemon C)', node: () => C, run: (line, timeoutMs) => consoleRun(C.d, line, timeoutMs) },
      bar: 'bar',
      blacklistIp: '192.0.2.1',
      blacklistIp6: '2001:db8::1',
      others: () => [A, B],
    },
    {
      surface: { name: 'kadnode-ctl (daemon A)', node: () => A, run: (line, timeoutMs) => ctl(A, line.split(/\s+/).filter(Boolean), timeoutMs) },
      bar: 'bar-ctl',
      blacklistIp: '192.0.2.2',
      blacklistIp6: '2001:db8::2',
      others: () => [B, C],
    },
  ];

  for (const { surface: s, bar, blacklistIp, blacklistIp6, others } of surfaces) {
    describe(s.name, () => {
      const barId = sha1(bar);

      it('status: every line', async () => {
        assertStatus(await s.run('status'), s.node(), 'status');
        assertFail(await s.run('status now'), 'status with an argument', /Wrong number of arguments for 'status'.*Usage: status/);
      });

      it('lookup foo.p2p waits for the first result and prints 127.0.0.1:4711 only', async (t) => {
        const t0 = performance.now();
        const r = await s.run('lookup foo.p2p');
        t.diagnostic(`lookup foo.p2p answered in ${Math.round(performance.now() - t0)} ms`);
        assertOk(r, 'lookup foo.p2p');
        assert.deepEqual(r.out, [`127.0.0.1:${FOO_PORT}`], r.raw);
        assertOk(await s.run('lookup FOO.P2P'), 'lookup FOO.P2P');
        assert.deepEqual((await s.run('lookup FOO.P2P')).out, [`127.0.0.1:${FOO_PORT}`]);
        // the raw 40-hex id names the same thing
        assert.deepEqual((await s.run(`lookup ${FOO_ID}`)).out, [`127.0.0.1:${FOO_PORT}`]);
      });

      it('lookup: unknown name is not found, wrong arguments are usage errors', async (t) => {
        const t0 = performance.now();
        const r = await s.run(`lookup ${unknownName()}`);
        t.diagnostic(`lookup of an unknown name failed after ${Math.round(performance.now() - t0)} ms`);
        assertFail(r, 'lookup of an unknown name', /^Not found\.$/m);
        assertFail(await s.run('lookup'), 'lookup without argument', /Wrong number of arguments for 'lookup'\. Usage: lookup <name>/);
        assertFail(await s.run('lookup foo.p2p bar.p2p'), 'lookup with two arguments', /Wrong number of arguments for 'lookup'/);
        assertFail(await s.run('lookup .p2p'), 'lookup of an empty name', /Invalid name/);
        assertFail(await s.run(`lookup ${'x'.repeat(600)}.p2p`), 'lookup of a 600-character name', /Invalid name/);
      });

      it(`announce: no arguments, ${bar}.p2p once, :80 for 5 minutes, -1; list values; B resolves it`, async (t) => {
        const me = s.node();
        const valueLine = async (): Promise<string | undefined> => (await s.run('list values')).out.find((l) => l.startsWith(barId + ' '));
        const before = await s.run('list values');
        assertOk(before, 'list values');
        const count = before.out.filter((l) => /^[0-9a-f]{40} /.test(l)).length;
        assertOk(await s.run('announce'), 'announce');
        assert.deepEqual((await s.run('announce')).out, [`${count} announcements started.`]);

        const once = await s.run(`announce ${bar}.p2p`);
        assertOk(once, 'announce once');
        assert.deepEqual(once.out, [`Start single announcement now (port ${me.dht}).`]);

        const t5 = Date.now();
        const five = await s.run(`announce ${bar}.p2p:80 5`);
        assertOk(five, 'announce :80 5');
        assert.deepEqual(five.out, ['Start regular announcements for 5 minutes (port 80).']);
        const l5 = await valueLine();
        assert.ok(l5, `list values lacks ${barId} after "announce ${bar}.p2p:80 5"`);
        const m5 = new RegExp(`^${barId} ${bar} port 80 until (\\S+), next in \\d+ s, last reached \\d+ nodes$`).exec(l5);
        assert.ok(m5, `list values line: ${l5}`);
        const until = Date.parse(m5[1]!);
        assert.ok(Math.abs(until - (t5 + 5 * 60_000)) < 30_000, `"until ${m5[1]}" is not about 5 minutes from now: ${l5}`);

        // stored on another daemon with port 80, then resolvable from B
        const holders = others();
        const stored = await retry(
          async () => {
            for (const h of holders) {
              const r = await ctl(h, ['list', 'storage']);
              const line = r.out.find((l) => l.startsWith(barId + ' '));
              if (line?.split(' ').includes('127.0.0.1:80')) return `${h.label}: ${line}`;
            }
            return undefined;
          },
          { tries: 40, timeoutMs: 15_000, intervalMs: 250 },
        );
        assert.ok(stored.value, `${bar}.p2p:80 never reached the storage of ${holders.map((h) => h.label).join(' or ')}`);
        t.diagnostic(`stored: ${stored.value}`);
        let lastB: Reply | undefined;
        const resolved = await retry(
          async () => {
            lastB = await ctl(B, ['lookup', `${bar}.p2p`]);
            return lastB.ok && lastB.out.includes('127.0.0.1:80') ? lastB : undefined;
          },
          { tries: 10, timeoutMs: 15_000, intervalMs: 500 },
        );
        assert.ok(resolved.value, `daemon B never resolved ${bar}.p2p to 127.0.0.1:80; last:\n${lastB?.raw}`);
        for (const l of resolved.value.out) assert.ok(l === '127.0.0.1:80' || l === `127.0.0.1:${me.dht}`, `B: unexpected address ${l}`);
        t.diagnostic(`B: lookup ${bar}.p2p -> ${resolved.value.out.join(', ')} after ${resolved.attempts} attempts`);

        const forever = await s.run(`announce ${bar}.p2p -1`);
        assertOk(forever, 'announce -1');
        assert.deepEqual(forever.out, [`Start regular announcements for the entire run time (port ${me.dht}).`]);
        const lf = await valueLine();
        assert.match(lf ?? '', new RegExp(`^${barId} ${bar} port ${me.dht} whole run, next in \\d+ s, last reached \\d+ nodes$`), `list values after -1:\n${lf}`);
        // the value is now announced for the whole run, and is counted by status and by announce
        const values = (await s.run('list values')).out.filter((l) => /^[0-9a-f]{40} /.test(l));
        assert.equal(values.filter((l) => l.startsWith(barId)).length, 1, values.join('\n'));
        assert.deepEqual((await s.run('announce')).out, [`${values.length} announcements started.`]);
        assert.match((await s.run('status')).out.join('\n'), new RegExp(`^Values to announce: ${values.length}$`, 'm'));
      });

      it('announce: bad port, bad minutes, invalid names, too many arguments are usage errors', async () => {
        assertFail(await s.run('announce x.p2p:99999'), 'announce x.p2p:99999', /Invalid name or port 'x\.p2p:99999'.*Usage: announce/);
        assertFail(await s.run('announce x.p2p:0'), 'announce x.p2p:0', /Invalid name or port/);
        assertFail(await s.run('announce x.p2p abc'), 'announce x.p2p abc', /Invalid minutes 'abc'/);
        assertFail(await s.run('announce x.p2p 1.5'), 'announce x.p2p 1.5', /Invalid minutes/);
        assertFail(await s.run('announce .p2p'), 'announce .p2p', /Invalid value id: empty name/);
        assertFail(await s.run(`announce ${'a'.repeat(64)}`), 'announce <64 hex: a public key>', /public key cannot be announced/);
        assertFail(await s.run('announce :80'), 'announce :80', /Invalid name or port/);
        assertFail(await s.run('announce x.p2p 5 extra'), 'announce with three arguments', /Wrong number of arguments for 'announce'/);
        const values = (await s.run('list values')).out;
        assert.ok(!values.some((l) => / x port /.test(l) || l.startsWith(sha1('x'))), `a refused announcement was added:\n${values.join('\n')}`);
      });

      it('import: ping an address; garbage is a usage error', async () => {
        const other = others()[0]!;
        const r = await s.run(`import 127.0.0.1:${other.dht}`);
        assertOk(r, 'import');
        assert.deepEqual(r.out, [`Send ping to: 127.0.0.1:${other.dht}`]);
        // a host name from /etc/hosts, resolved to the DHT's family
        assert.deepEqual((await s.run(`import localhost:${other.dht}`)).out, [`Send ping to: 127.0.0.1:${other.dht}`]);
        assertFail(await s.run('import 1.2.3.4:abc'), 'import 1.2.3.4:abc', /bad port/);
        assertFail(await s.run('import 1.2.3.4:0'), 'import 1.2.3.4:0', /bad port/);
        assertFail(await s.run('import a:b:c'), 'import a:b:c', /IPv6 addresses as \[addr\]:port/);
        assertFail(await s.run('import not/a/host'), 'import not/a/host', /bad host/);
        assertFail(await s.run('import'), 'import without argument', /Wrong number of arguments for 'import'/);
        // IPv6 on an IPv4 DHT cannot be pinged: a failure, not a crash
        assertFail(await s.run('import [::1]:6881'), 'import [::1]:6881');
      });

      it('export: the good nodes as ip:port lines', async () => {
        const r = await s.run('export');
        assertOk(r, 'export');
        for (const l of r.out) assert.match(l, /^127\.0\.0\.1:\d+$/, r.raw);
        for (const o of others()) assert.ok(r.out.includes(`127.0.0.1:${o.dht}`), `export lacks ${o.label} (127.0.0.1:${o.dht})\n${r.raw}`);
        assert.ok(!r.out.includes(`127.0.0.1:${s.node().dht}`), `export lists the node itself\n${r.raw}`);
        assertFail(await s.run('export 5'), 'export with an argument', /Wrong number of arguments for 'export'/);
      });

      it('blacklist: IPv4 and IPv6 are added and listed; garbage is a usage error', async () => {
        const r = await s.run(`blacklist ${blacklistIp}`);
        assertOk(r, 'blacklist');
        assert.deepEqual(r.out, [`Added to blacklist: ${blacklistIp}`]);
        assert.deepEqual((await s.run(`blacklist [${blacklistIp6}]`)).out, [`Added to blacklist: ${blacklistIp6}`]);
        const list = await s.run('list blacklist');
        assertOk(list, 'list blacklist');
        assert.ok(list.out.includes(blacklistIp) && list.out.includes(blacklistIp6), list.raw);
        assertFail(await s.run('blacklist garbage'), 'blacklist garbage', /'garbage' is not an IP address/);
        assertFail(await s.run('blacklist 192.0.2.9:80'), 'blacklist ip:port', /not an IP address/);
        assertFail(await s.run('blacklist 999.1.1.1'), 'blacklist 999.1.1.1', /not an IP address/);
        assertFail(await s.run('blacklist'), 'blacklist without argument', /Wrong number of arguments for 'blacklist'/);
        assert.ok(!(await s.run('list blacklist')).out.some((l) => /garbage|999|:80/.test(l)), 'a refused address was listed');
        // the blacklist did not hurt the real DHT
        assert.deepEqual((await s.run('lookup foo.p2p')).out, [`127.0.0.1:${FOO_PORT}`]);
      });

      it('list: every table', async (t) => {
        const me = s.node();
        const get = async (what: string): Promise<string[]> => {
          const r = await s.run(`list ${what}`);
          assertOk(r, `list ${what}`);
          return r.out;
        };
        const buckets = await get('buckets');
        for (const l of buckets) assert.match(l, /^[0-9a-f]{40} 127\.0\.0\.1:\d+ heard \d+ s ago$/, buckets.join('\n'));
        const ports = buckets.map((l) => Number(/:(\d+) /.exec(l)![1]));
        for (const o of others()) assert.ok(ports.includes(o.dht), `buckets lack ${o.label} (port ${o.dht}):\n${buckets.join('\n')}`);
        assert.ok(!ports.includes(me.dht), 'buckets list the node itself');

        const constants = await get('constants');
        for (const l of constants) assert.match(l, /^[A-Z][A-Z0-9_]*: \S+$/, constants.join('\n'));
        assert.ok(constants.includes('LOOKUP_TIMEOUT_MS: 10000'), constants.join('\n'));
        assert.ok(constants.includes('RESOLVER_MAX_SEARCHES: 256'), constants.join('\n'));
        assert.ok(constants.includes('ANNOUNCE_INTERVAL_MIN: 28'), constants.join('\n'));

        const forwardings = await get('forwardings');
        assert.equal(forwardings.length, 1, forwardings.join('\n'));

        // results: foo's id after a lookup (the search that answered is cached once it ends)
        await s.run('lookup foo.p2p');
        const results = await retry(
          async () => {
            const out = await get('results');
            return out.some((l) => new RegExp(`^${FOO_ID} 127\\.0\\.0\\.1:${FOO_PORT} \\(\\d+ s old\\)$`).test(l)) ? out : undefined;
          },
          { tries: 20, timeoutMs: 5000, intervalMs: 250 },
        );
        assert.ok(results.value, `list results lacks ${FOO_ID} 127.0.0.1:${FOO_PORT}:\n${(await get('results')).join('\n')}`);
        for (const l of results.value) assert.match(l, /^[0-9a-f]{40}( \S+)* \(\d+ s old\)$/, results.value.join('\n'));

        const searches = await get('searches');
        for (const l of searches) assert.match(l, /^\(searches: none\)$|^[0-9a-f]{40} \d+ addresses, \d+ candidates, running \d+ s$/, searches.join('\n'));

        const storage = await get('storage');
        assert.ok(storage.includes(`${FOO_ID} 127.0.0.1:${FOO_PORT}`), `storage lacks foo:\n${storage.join('\n')}`);
        for (const l of storage) assert.match(l, /^[0-9a-f]{40}( \d+\.\d+\.\d+\.\d+:\d+)+$/, storage.join('\n'));

        const values = await get('values');
        for (const l of values) assert.match(l, /^[0-9a-f]{40} \S+ port \d+( keyed)? (once|whole run|until \S+), next in \d+ s, last reached \d+ nodes$/, values.join('\n'));
        assert.ok(values.some((l) => l.startsWith(sha1(bar))), `values lack ${bar}:\n${values.join('\n')}`);

        const bl = await get('blacklist');
        assert.ok(bl.includes(blacklistIp), bl.join('\n'));

        assertFail(await s.run('list'), 'list without argument', /Wrong number of arguments for 'list'.*Usage: list blacklist\|buckets/);
        assertFail(await s.run('list nosuch'), 'list nosuch', /Unknown list 'nosuch'/);
        assertFail(await s.run('list values buckets'), 'list with two arguments', /Wrong number of arguments/);
        t.diagnostic(`buckets: ${buckets.length}, storage ids: ${storage.length}, results: ${results.value.length}, values: ${values.length}`);
      });

      it('help, unknown command, empty line, long line, junk: usage, never a crash', async (t) => {
        const help = await s.run('help');
        assertOk(help, 'help');
        assert.equal(help.out[0], 'Usage:', help.raw);
        for (const c of COMMANDS) assert.ok(help.out.some((l) => l.startsWith(`\t${c}`)), `help lacks ${c}\n${help.raw}`);
        assert.ok(help.out.some((l) => LISTS.every((x) => l.includes(x))), `help lacks the list names\n${help.raw}`);
        assertFail(await s.run('help me'), 'help with an argument', /Wrong number of arguments/);

        assertFail(await s.run('frobnicate'), 'unknown command', /Unknown command 'frobnicate'\.[\s\S]*Usage:/);
        assertFail(await s.run('STATUS'), 'upper-case command', /Unknown command 'STATUS'/);
        assertFail(await s.run('__proto__'), '__proto__', /Unknown command/);
        assertFail(await s.run('constructor'), 'constructor', /Unknown command/);
        assertFail(await s.run(`lookup ${'a'.repeat(3000)}`), 'a 3000-byte line', /longer than 1500 bytes/);
        assertFail(await s.run('\x01\x02\x7f\u00e9\u20ac\ufffd junk'), 'control characters and non-ASCII', /Unknown command[\s\S]*Usage:/);

        if (s.name.startsWith('console')) {
          // the console takes raw bytes: NUL, invalid UTF-8, a lone CR
          const junk = Buffer.from([0x00, 0x01, 0x80, 0xfe, 0xff, 0x20, 0x6a, 0x75, 0x6e, 0x6b, 0x0d]);
          assertFail(await consoleRun(C.d, junk), 'binary junk', /Unknown command[\s\S]*Usage:/);
          // an empty line and a blank line: the usage (KadNode printed it for Enter)
          for (const line of ['', '   \t ']) {
            const r = await s.run(line);
            const text = [...r.out, ...r.err].join('\n');
            assert.match(text, USAGE, `empty line: ${r.raw}`);
            t.diagnostic(`console ${JSON.stringify(line)}: usage on ${r.ok ? 'stdout (success)' : 'stderr (failure)'}`);
          }
          // CRLF line endings are accepted
          assertStatus(await consoleRun(C.d, 'status\r'), C, 'status with CRLF');
        } else {
          // kadnode-ctl with an empty word sends an empty line
          const r = await s.run('');
          t.diagnostic(`kadnode-ctl "" (no words after -p): exit ${r.code}`);
        }
        assertStatus(await s.run('status'), s.node(), 'status after the junk');
        assert.ok(s.node().d.alive, `${s.node().label} died`);
      });
    });
  }

  // ------------------------------------------------------------ kadnode-ctl itself

  describe('kadnode-ctl itself', () => {
    it('no daemon on the port: exit 2 with a clear message', async () => {
      const [unused] = await pickPorts(1);
      const r = await kadnodeCtl(['-p', String(unused), 'status'], { timeoutMs: 15_000 });
      assert.equal(r.code, 2, `exit ${r.code}\n${r.stderr}`);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, new RegExp(`no daemon listening on 127\\.0\\.0\\.1:${unused}`), r.stderr);
    });

    it('usage errors of kadnode-ctl itself: exit 2', async () => {
      const cases: Array<[string[], RegExp]> = [
        [['-p', String(A.cmd)], /no command given/],
        [[], /no command given/],
        [['-p', 'abc', 'status'], /Invalid port/],
        [['-p', '0', 'status'], /Invalid port/],
        [['-p', '70000', 'status'], /Invalid port/],
        [['-p', '-5', 'status'], /./],
        [['-p'], /./],
        [['--bogus', '-p', String(A.cmd), 'status'], /bogus/],
      ];
      for (const [args, message] of cases) {
        const r = await kadnodeCtl(args, { timeoutMs: 15_000 });
        assert.equal(r.code, 2, `kadnode-ctl ${args.join(' ')}: exit ${r.code}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`);
        assert.equal(r.stdout, '', `kadnode-ctl ${args.join(' ')}: stdout`);
        assert.match(r.stderr, message, `kadnode-ctl ${args.join(' ')}: message`);
        assert.equal(r.stderr.trim().split('\n').length, 1, `kadnode-ctl ${args.join(' ')}: one line expected\n${r.stderr}`);
      }
    });

    it('--help: exit 0, usage on stdout', async () => {
      const r = await kadnodeCtl(['--help'], { timeoutMs: 15_000 });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /kadnode-ctl \[-p <port>\]/);
    });

    it('the daemon closes without a reply, or replies garbage: exit 2', async () => {
      for (const reply of ['', 'X garbage\n']) {
        const server = net.createServer((sock) => {
          sock.on('error', () => undefined);
          sock.once('data', () => sock.end(reply));
        });
        await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
        try {
          const port = (server.address() as net.AddressInfo).port;
          const r = await kadnodeCtl(['-p', String(port), 'status'], { timeoutMs: 15_000 });
          assert.equal(r.code, 2, `reply ${JSON.stringify(reply)}: exit ${r.code}\n${r.stderr}`);
          assert.match(r.stderr, /invalid reply/);
        } finally {
          server.close();
        }
      }
    });

    it('sends the words exactly as typed (no number conversion)', async () => {
      const received: string[] = [];
      const server = net.createServer((sock) => {
        sock.on('error', () => undefined);
        let buf = '';
        sock.on('data', (c) => {
          buf += c.toString();
          if (buf.includes('\n')) {
            received.push(buf.slice(0, buf.indexOf('\n')));
            sock.end('0ok\n');
          }
        });
      });
      await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
      try {
        const port = (server.address() as net.AddressInfo).port;
        const words = [
          ['lookup', '1.50'],
          ['announce', 'x.p2p', '1e1'],
          ['announce', 'x.p2p', '0x10'],
          ['blacklist', '0x7f000001'],
          ['lookup', '-1'],
          ['lookup', '--verbose'],
        ];
        const problems: string[] = [];
        for (const w of words) {
          const before = received.length;
          const r = await kadnodeCtl(['-p', String(port), ...w], { timeoutMs: 15_000 });
          const got = received.length > before ? received[received.length - 1] : `(nothing sent; exit ${r.code}: ${r.stderr.trim()})`;
          if (got !== w.join(' ')) problems.push(`kadnode-ctl ${w.join(' ')} sent ${JSON.stringify(got)}`);
        }
        assert.deepEqual(problems, [], problems.join('\n'));
      } finally {
        server.close();
      }
    });
  });

  // ------------------------------------------------------------ the control port, raw

  describe('control port (raw TCP)', () => {
    const talk = (port: number, data: Buffer | string, host = '127.0.0.1'): Promise<string> =>
      new Promise((resolve, reject) => {
        const sock = net.connect({ port, host });
        const chunks: Buffer[] = [];
        const timer = setTimeout(() => {
          sock.destroy();
          reject(new Error('no close within 10 s'));
        }, 10_000);
        sock.on('connect', () => sock.write(data));
        sock.on('data', (c) => chunks.push(c));
        sock.on('error', () => undefined);
        sock.on('close', () => {
          clearTimeout(timer);
          resolve(Buffer.concat(chunks).toString('utf8'));
        });
      });

    it('binary junk, a request without newline over 1500 bytes, two commands: answered or refused, never a crash', async () => {
      const junk = await talk(A.cmd, Buffer.from([0x00, 0xff, 0xfe, 0x01, 0x20, 0x80, 0x0a]));
      assert.match(junk, /^1Unknown command [\s\S]*Usage:/, JSON.stringify(junk));
      const long = await talk(A.cmd, 'x'.repeat(2000));
      assert.equal(long, '1Request longer than 1500 bytes.\n');
      const longLine = await talk(A.cmd, `lookup ${'y'.repeat(1600)}\n`);
      assert.match(longLine, /^1.*longer than 1500 bytes/, longLine);
      const two = await talk(A.cmd, 'help\nstatus\n');
      assert.match(two, /^0Usage:/, two);
      assert.doesNotMatch(two, /DHT id/, 'the second command of one connection was answered too');
      if (HAVE_V6_LOOPBACK) assert.match(await talk(A.cmd, 'status\n', '::1'), /^0Version: /);
      assertStatus(await ctl(A, ['status']), A, 'status after raw junk');
    });
  });

  // ------------------------------------------------------------ HTTP

  describe('HTTP (web port of daemon C)', () => {
    it('GET /status: 200, HTTP/1.1, the status lines; HEAD: no body; ::1 too', async () => {
      const r = await http(C.web, '/status');
      assertHttp(r, 200, 'GET /status');
      assert.equal(r.headers['cache-control'], 'no-store');
      assertStatus({ ok: true, out: lines(r.body), err: [], code: null, raw: r.raw }, C, 'GET /status');
      const head = await http(C.web, '/status', { method: 'HEAD' });
      assertHttp(head, 200, 'HEAD /status', { head: true });
      assert.ok(Number(head.headers['content-length']) > 100, `HEAD Content-Length ${head.headers['content-length']}`);
      assertHttp(await http(C.web, '/status?x'), 400, 'GET /status?x');
      if (HAVE_V6_LOOPBACK) assertHttp(await http(C.web, '/status', { host: '::1' }), 200, 'GET [::1]/status');
    });

    it('GET /lookup: 200 with the address, 404 unknown, 400 usage', async () => {
      const r = await http(C.web, '/lookup?foo.p2p');
      assertHttp(r, 200, '/lookup?foo.p2p');
      assert.equal(r.body, `127.0.0.1:${FOO_PORT}\n`);
      assert.equal((await http(C.web, '/lookup?FOO.P2P')).body, `127.0.0.1:${FOO_PORT}\n`);
      assert.equal((await http(C.web, '/lookup?foo%2Ep2p')).body, `127.0.0.1:${FOO_PORT}\n`);
      const nf = await http(C.web, `/lookup?${unknownName()}`);
      assertHttp(nf, 404, '/lookup?<unknown>');
      assert.equal(nf.body, 'Not found.\n');
      assertHttp(await http(C.web, '/lookup'), 400, '/lookup');
      assertHttp(await http(C.web, '/lookup?'), 400, '/lookup?');
      assertHttp(await http(C.web, '/lookup?foo.p2p%20bar.p2p'), 400, '/lookup?two words');
      assertHttp(await http(C.web, '/lookup?foo.p2p+bar.p2p'), 400, '/lookup?two+words');
      assertHttp(await http(C.web, '/lookup?.p2p'), 400, '/lookup?.p2p');
    });

    it('GET /announce: 200 once; B resolves it; 400 for a bad port, name or extra words', async (t) => {
      const r = await http(C.web, '/announce?bar-web.p2p:8080');
      assertHttp(r, 200, '/announce?bar-web.p2p:8080');
      assert.equal(r.body, 'Start single announcement now (port 8080).\n');
      assertHttp(await http(C.web, '/announce?x.p2p:99999'), 400, '/announce?x.p2p:99999');
      assertHttp(await http(C.web, '/announce?.p2p'), 400, '/announce?.p2p');
      assertHttp(await http(C.web, '/announce'), 400, '/announce');
      assertHttp(await http(C.web, '/announce?x.p2p%205'), 400, '/announce?x.p2p 5');
      let last: Reply | undefined;
      const resolved = await retry(
        async () => {
          last = await ctl(B, ['lookup', 'bar-web.p2p']);
          return last.ok && last.out.includes('127.0.0.1:8080') ? last : undefined;
        },
        { tries: 15, timeoutMs: 20_000, intervalMs: 1000 },
      );
      t.diagnostic(`B resolved bar-web.p2p after ${resolved.attempts} attempts`);
      assert.ok(resolved.value, `B never resolved bar-web.p2p to 127.0.0.1:8080; last:\n${last?.raw}`);
    });

    it('GET /blacklist: 200 and listed, 400 for garbage', async () => {
      const r = await http(C.web, '/blacklist?192.0.2.3');
      assertHttp(r, 200, '/blacklist?192.0.2.3');
      assert.equal(r.body, 'Added to blacklist: 192.0.2.3\n');
      assert.equal((await http(C.web, '/blacklist?%5B2001%3Adb8%3A%3A3%5D')).body, 'Added to blacklist: 2001:db8::3\n');
      const list = await ctl(C, ['list', 'blacklist']);
      assert.ok(list.out.includes('192.0.2.3') && list.out.includes('2001:db8::3'), list.raw);
      assertHttp(await http(C.web, '/blacklist?garbage'), 400, '/blacklist?garbage');
      assertHttp(await http(C.web, '/blacklist'), 400, '/blacklist');
    });

    it('405 with Allow for other methods, 404 for other paths', async () => {
      for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
        const r = await http(C.web, '/status', { method });
        assertHttp(r, 405, `${method} /status`);
        assert.equal(r.headers['allow'], 'GET, HEAD', `${method}: Allow`);
      }
      for (const path of ['/nosuch', '/status/', '/STATUS', '/list?values', '/import?127.0.0.1:1', '/export']) {
        assertHttp(await http(C.web, path), 404, `GET ${path}`);
      }
    });

    it('414 for a URL longer than 2048 bytes', async () => {
      assertHttp(await http(C.web, `/lookup?${'a'.repeat(2041)}`), 414, 'a 2049-byte URL');
      assertHttp(await http(C.web, `/lookup?${'a'.repeat(5000)}`), 414, 'a 5008-byte URL');
      assertHttp(await http(C.web, `/nosuch/${'a'.repeat(3000)}`), 414, 'a 3008-byte URL to an unknown path');
    });

    it('414 also for a URL beyond the header size limit (9000 bytes), not a dropped connection', async () => {
      assertHttp(await http(C.web, `/lookup?${'a'.repeat(9000)}`), 414, 'a 9008-byte URL');
    });

    it('an absolute-form target is served; unparsable requests and huge headers get a status line', async () => {
      const absolute = await rawHttp(C.web, `GET http://localhost:${C.web}/status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
      assert.equal(absolute.status, 200, absolute.raw);
      assert.match(absolute.body, /^DHT id: /m);
      const garbage = await rawHttp(C.web, 'GARBAGE\r\n\r\n');
      assert.equal(garbage.status, 400, garbage.raw);
      const huge = await rawHttp(C.web, `GET /status HTTP/1.1\r\nHost: x\r\nX-Big: ${'b'.repeat(20_000)}\r\n\r\n`);
      assert.equal(huge.status, 431, huge.raw);
    });

    it('400 for bad percent-encoding', async () => {
      for (const q of ['%zz', '%E0%A4%A', '%', 'foo%2']) {
        const r = await http(C.web, `/lookup?${q}`);
        assertHttp(r, 400, `/lookup?${q}`);
        assert.equal(r.body, 'Bad percent-encoding.\n');
      }
    });

    it('junk on the web port does not hurt the daemon', async () => {
      for (const junk of ['GARBAGE\r\n\r\n', Buffer.from([0, 1, 2, 255, 13, 10, 13, 10]), 'GET /status HTTP/9.9\r\n\r\n']) {
        await rawHttp(C.web, junk);
      }
      assertHttp(await http(C.web, '/status'), 200, 'GET /status after junk');
    });

    it('504 when no result comes within the lookup time, also through kadnode-ctl (daemon F, slow fake DHT)', async (t) => {
      assert.ok(slowWeb && slowCtl);
      const [web, c] = await Promise.all([slowWeb, slowCtl]);
      t.diagnostic(`slow lookups: HTTP ${web.status} after ${Math.round(web.ms)} ms, kadnode-ctl exit ${c.code} after ${Math.round(c.ms)} ms; fake DHT answered ${slow?.queries} queries`);
      assertHttp(web, 504, 'slow /lookup');
      assert.equal(web.body, 'No result within 10 s.\n');
      assert.ok(web.ms >= 9_000, `504 after ${web.ms} ms`);
      assertFail(c, 'kadnode-ctl lookup on the slow DHT', /^No result within 10 s\.$/m);
    });

    it('503 when too many searches run (daemon F, 256 DNS queries in flight)', async (t) => {
      const sock = createSocket('udp4');
      await new Promise<void>((res) => sock.bind(0, '127.0.0.1', () => res()));
      try {
        for (let i = 0; i < 256; i++) {
          const q = dnsPacket.encode({ type: 'query', id: i, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name: `busy-${i}-${randomBytes(3).toString('hex')}.p2p` }] });
          sock.send(q, F.dns, '127.0.0.1');
          if (i % 32 === 31) await sleep(5);
        }
        const full = await retry(
          async () => {
            const r = await ctl(F, ['status']);
            const m = /^Resolver: \d+ cached names, (\d+) searches$/m.exec(r.out.join('\n'));
            return m && Number(m[1]) >= 256 ? r : undefined;
          },
          { tries: 40, timeoutMs: 10_000, intervalMs: 250 },
        );
        assert.ok(full.value, `daemon F never ran 256 searches:\n${(await ctl(F, ['status'])).raw}`);
        const r = await http(F.web, `/lookup?${unknownName()}`);
        assertHttp(r, 503, '/lookup while 256 searches run');
        assert.equal(r.body, 'Too many searches running, try again.\n');
        assertFail(await ctl(F, ['lookup', unknownName()]), 'kadnode-ctl lookup while busy', /Too many searches running/);
        t.diagnostic(`503 after ${full.attempts} status polls`);
        // still answers everything else
        assertHttp(await http(F.web, '/status'), 200, 'status while busy');
      } finally {
        sock.close();
      }
    });
  });

  it('every daemon is alive and exits 0 on SIGTERM', async () => {
    for (const n of all) assert.ok(n.d.alive, `${n.label} died: ${JSON.stringify(n.d.exitInfo)}\n${n.d.tail(30)}`);
    const results = await Promise.all(all.map((n) => n.d.stop(10_000)));
    results.forEach((r, i) => {
      const n = all[i]!;
      assert.equal(r.killed, false, `${n.label} ignored SIGTERM`);
      assert.equal(r.code, 0, `${n.label}: ${JSON.stringify(r)}\n${n.d.tail()}`);
      assert.equal(n.d.stderrLines.find((l) => /^\s+at .+:\d+:\d+\)?$/.test(l)), undefined, `${n.label} printed a stack trace`);
    });
  });
});
