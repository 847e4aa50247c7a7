// libnss_kadnode.so.2 (packaging/nss/) against a fake daemon, no root needed: the module is built with
// the system compiler (`make -C packaging/nss`, warnings are errors here) on a random port with a short
// timeout, and called through nss-probe (dlopen, no nsswitch.conf). Checks every NSS function, the
// buffer-size contract (ERANGE), names that never leave the process, no daemon (fast UNAVAIL), a silent
// daemon (UNAVAIL at the deadline), stale replies, and replies that break the format in every way plus
// random ones: the module must never crash, read or write out of bounds (under valgrind when present),
// or accept a malformed reply.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { haveCommand, pickPorts, repoRoot, tempDir } from './harness.js';
import { run } from './netns.js';

const TIMEOUT_MS = 400;
const NSS_DIR = join(repoRoot, 'packaging', 'nss');

// enum nss_status
const SUCCESS = 1;
const NOTFOUND = 0;
const UNAVAIL = -1;
const TRYAGAIN = -2;
// errno / h_errno values (Linux, glibc)
const ENOENT = 2;
const EAGAIN = 11;
const ERANGE = 34;
const ETIMEDOUT = 110;
const ECONNREFUSED = 111;
const EPROTO = 71;
const HOST_NOT_FOUND = 1;
const TRY_AGAIN = 2;
const NO_RECOVERY = 3;
const NO_DATA = 4;
const NETDB_INTERNAL = -1;

type Responder = (request: Buffer) => Buffer | Buffer[] | null;

interface Probe {
  status: number;
  errno: number;
  herrno: number;
  ttl: number;
  name: string;
  addresses: string[];
  ms: number;
  raw: string;
}

function reply(id: Buffer, status: number, ttl: number, records: Array<[4 | 6, string]>): Buffer {
  const header = Buffer.alloc(8);
  id.copy(header, 0, 0, 2);
  header[2] = status;
  header[3] = records.length;
  header.writeUInt32BE(ttl, 4);
  const body = records.map(([family, hex]) => Buffer.concat([Buffer.from([family]), Buffer.from(hex, 'hex')]));
  return Buffer.concat([header, ...body]);
}

const V4A = 'c0000207'; // 192.0.2.7
const V4B = 'c0000208'; // 192.0.2.8
const V6A = '20010db8000000000000000000000007'; // 2001:db8::7

test('libnss_kadnode.so.2 against a fake daemon', { timeout: 180_000 }, async (t: TestContext) => {
  const skip = !haveCommand('make') ? 'needs make' : !haveCommand('cc') ? 'needs a C compiler (cc)' : false;
  if (skip) {
    t.skip(skip);
    return;
  }
  const tmp = tempDir('kadnode-nsslib');
  const [port] = await pickPorts(1);
  const server = dgram.createSocket('udp4');
  let responder: Responder | null = null;
  let requests: Buffer[] = [];
  t.after(() => {
    try {
      server.close();
    } catch {
      // closed by the last phase
    }
    tmp.remove();
  });

  const build = await run(undefined, 'make', ['-C', NSS_DIR, '-B', `BUILD=${tmp.path}`, `PORT=${port}`, `TIMEOUT_MS=${TIMEOUT_MS}`, 'CFLAGS=-O2 -g -Werror', 'all', 'probe'], { timeoutMs: 120_000 });
  assert.equal(build.code, 0, `make failed:\n${build.stdout}\n${build.stderr}`);
  assert.doesNotMatch(build.stderr, /warning/i, build.stderr);
  const lib = join(tmp.path, 'libnss_kadnode.so.2');
  const probeBin = join(tmp.path, 'nss-probe');

  const exported = await run(undefined, 'nm', ['-D', '--defined-only', lib]);
  if (exported.code === 0) {
    const symbols = [...exported.stdout.matchAll(/ T (\S+)/g)].map((m) => m[1]).sort();
    assert.deepEqual(symbols, ['_nss_kadnode_gethostbyname2_r', '_nss_kadnode_gethostbyname3_r', '_nss_kadnode_gethostbyname4_r', '_nss_kadnode_gethostbyname_r']);
  }

  const probe = async (fn: string, name: string, family = 'inet', buflen = 1024, valgrind = false): Promise<Probe> => {
    const args = [lib, fn, name, family, String(buflen)];
    const r = valgrind
      ? await run(undefined, 'valgrind', ['-q', '--error-exitcode=99', '--leak-check=full', '--errors-for-leak-kinds=definite', probeBin, ...args], { timeoutMs: 60_000 })
      : await run(undefined, probeBin, args, { timeoutMs: 20_000 });
    assert.equal(r.signal, null, `nss-probe crashed (${r.signal}) on ${fn} ${name}:\n${r.stderr}`);
    assert.equal(r.code, 0, `nss-probe ${fn} ${name}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    const lines = r.stdout.trim().split('\n');
    const m = /^status=(-?\d+) errno=(-?\d+) h_errno=(-?\d+) ttl=(-?\d+) name=(.*)$/.exec(lines[0] ?? '');
    assert.ok(m, r.stdout);
    return { status: Number(m[1]), errno: Number(m[2]), herrno: Number(m[3]), ttl: Number(m[4]), name: m[5]!, addresses: lines.slice(1), ms: r.ms, raw: r.stdout };
  };

  const serve = async (fn: Responder | null) => {
    responder = fn;
    requests = [];
  };

  await t.test('the fake daemon binds the port the module was built for', async () => {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.bind(port, '127.0.0.1', () => resolve());
    });
    server.on('message', (msg, peer) => {
      requests.push(msg);
      const out = responder?.(msg);
      for (const b of out === null || out === undefined ? [] : Array.isArray(out) ? out : [out]) server.send(b, peer.port, peer.address);
    });
  });

  await t.test('request format: id, family byte, the name without its trailing dot', async () => {
    await serve((req) => reply(req, 0, 60, [[4, V4A]]));
    await probe('gethostbyname4_r', 'Foo.P2P.');
    await probe('gethostbyname2_r', 'foo.p2p', 'inet6');
    await probe('gethostbyname_r', 'foo.p2p');
    assert.equal(requests.length, 3);
    assert.deepEqual(requests.map((r) => [r[2], r.subarray(3).toString()]), [[0, 'Foo.P2P'], [6, 'foo.p2p'], [4, 'foo.p2p']]);
  });

  await t.test('found: every function returns the addresses, the name and the ttl', async () => {
    await serve((req) => reply(req, 0, 42, req[2] === 4 ? [[4, V4A], [4, V4B]] : req[2] === 6 ? [[6, V6A]] : [[4, V4A], [6, V6A], [4, V4B]]));
    const four = await probe('gethostbyname4_r', 'foo.p2p');
    assert.deepEqual([four.status, four.ttl, four.name, four.addresses], [SUCCESS, 42, 'foo.p2p', ['192.0.2.7', '2001:db8::7', '192.0.2.8']], four.raw);
    const three = await probe('gethostbyname3_r', 'foo.p2p', 'inet6');
    assert.deepEqual([three.status, three.ttl, three.name, three.addresses], [SUCCESS, 42, 'foo.p2p', ['2001:db8::7']], three.raw);
    const two = await probe('gethostbyname2_r', 'foo.p2p', 'inet');
    assert.deepEqual([two.status, two.addresses], [SUCCESS, ['192.0.2.7', '192.0.2.8']], two.raw);
    const one = await probe('gethostbyname_r', 'foo.p2p');
    assert.deepEqual([one.status, one.addresses], [SUCCESS, ['192.0.2.7', '192.0.2.8']], one.raw);
  });

  await t.test('a reply of the other family only: NOTFOUND with NO_DATA', async () => {
    await serve((req) => reply(req, 0, 42, [[4, V4A]]));
    const r = await probe('gethostbyname2_r', 'foo.p2p', 'inet6');
    assert.deepEqual([r.status, r.herrno], [NOTFOUND, NO_DATA], r.raw);
    await serve((req) => reply(req, 0, 42, []));
    const empty = await probe('gethostbyname4_r', 'foo.p2p');
    assert.deepEqual([empty.status, empty.herrno], [NOTFOUND, NO_DATA], empty.raw);
  });

  await t.test('daemon statuses: not found, try again, refused', async () => {
    for (const [status, want] of [[1, [NOTFOUND, ENOENT, HOST_NOT_FOUND]], [2, [TRYAGAIN, EAGAIN, TRY_AGAIN]], [3, [UNAVAIL, ENOENT, HOST_NOT_FOUND]]] as const) {
      await serve((req) => reply(req, status, 0, []));
      for (const fn of ['gethostbyname4_r', 'gethostbyname2_r']) {
        const r = await probe(fn, 'foo.p2p');
        assert.deepEqual([r.status, r.errno, r.herrno], want, `${fn} status ${status}: ${r.raw}`);
      }
    }
  });

  await t.test('buffer too small: TRYAGAIN with ERANGE at every size below the need, never a write past it', async () => {
    await serve((req) => reply(req, 0, 42, req[2] === 0 ? [[4, V4A], [6, V6A], [4, V4B]] : [[4, V4A], [4, V4B]]));
    const useValgrind = haveCommand('valgrind');
    for (const fn of ['gethostbyname4_r', 'gethostbyname2_r']) {
      let smallestOk = -1;
      for (let size = 0; size <= 160; size += useValgrind ? 8 : 1) {
        const r = await probe(fn, 'foo.p2p', 'inet', size, useValgrind && size % 24 === 0);
        if (r.status === SUCCESS) {
          smallestOk = smallestOk < 0 ? size : smallestOk;
          continue;
        }
        assert.ok(smallestOk < 0, `${fn}: succeeded with ${smallestOk} bytes but not with ${size}`);
        assert.deepEqual([r.status, r.errno, r.herrno], [TRYAGAIN, ERANGE, NETDB_INTERNAL], `${fn} with ${size} bytes: ${r.raw}`);
      }
      assert.ok(smallestOk > 0, `${fn} never succeeded up to 160 bytes`);
      t.diagnostic(`${fn}: needs ${smallestOk} bytes for 'foo.p2p' and ${fn === 'gethostbyname4_r' ? 3 : 2} addresses${useValgrind ? ' (valgrind-checked)' : ''}`);
    }
  });

  await t.test('names outside the TLD, too long or with other characters never reach the daemon: UNAVAIL', async () => {
    await serve((req) => reply(req, 0, 42, [[4, V4A]]));
    const names = ['example.com', 'p2p', '.p2p', 'localhost', 'foo.p2p.com', 'a b.p2p', 'ä.p2p', `${'a'.repeat(252)}.p2p`, '', 'foo.p2p..'];
    for (const name of names) {
      const r = await probe('gethostbyname4_r', name);
      assert.deepEqual([r.status, r.errno], [UNAVAIL, ENOENT], `${name}: ${r.raw}`);
    }
    const longest = `${'a'.repeat(251)}.p2p`;
    assert.equal((await probe('gethostbyname4_r', longest)).status, SUCCESS, '255 bytes is the longest name');
    assert.equal(requests.length, 1, 'only the valid name was sent');
    const af = await probe('gethostbyname2_r', 'foo.p2p', 'inet', 1024);
    assert.equal(af.status, SUCCESS);
  });

  await t.test('stale replies (another id) are ignored; the right one is taken', async () => {
    await serve((req) => {
      const other = Buffer.from(req);
      other[0] = other[0]! ^ 0xff;
      return [reply(other, 0, 1, [[4, 'deadbeef']]), Buffer.from([req[0]!]), reply(req, 0, 42, [[4, V4A]])];
    });
    const r = await probe('gethostbyname4_r', 'foo.p2p');
    assert.deepEqual([r.status, r.addresses], [SUCCESS, ['192.0.2.7']], r.raw);
  });

  await t.test('malformed replies with our id: UNAVAIL (EPROTO), at once', async () => {
    const cases: Array<[string, (req: Buffer) => Buffer]> = [
      ['header only 7 bytes', (req) => reply(req, 0, 1, []).subarray(0, 7)],
      ['status 4', (req) => reply(req, 4, 1, [])],
      ['status 255', (req) => reply(req, 255, 1, [])],
      ['count 33', (req) => { const b = reply(req, 0, 1, Array.from({ length: 33 }, () => [4, V4A] as [4, string])); return b; }],
      ['count larger than the records', (req) => { const b = reply(req, 0, 1, [[4, V4A]]); b[3] = 2; return b; }],
      ['count smaller than the records (trailing bytes)', (req) => { const b = reply(req, 0, 1, [[4, V4A], [4, V4B]]); b[3] = 1; return b; }],
      ['family 5', (req) => { const b = reply(req, 0, 1, [[4, V4A]]); b[8] = 5; return b; }],
      ['family 0', (req) => { const b = reply(req, 0, 1, [[4, V4A]]); b[8] = 0; return b; }],
      ['truncated IPv6 record', (req) => reply(req, 0, 1, [[6, V6A]]).subarray(0, 8 + 1 + 10)],
      ['IPv4 family with 16 bytes', (req) => { const b = reply(req, 0, 1, [[6, V6A]]); b[8] = 4; return b; }],
      ['longer than the largest reply', (req) => Buffer.concat([reply(req, 0, 1, Array.from({ length: 32 }, () => [6, V6A] as [6, string])), Buffer.alloc(1)])],
      ['64 KiB of zeros', (req) => Buffer.concat([req.subarray(0, 2), Buffer.alloc(65000)])],
    ];
    for (const [label, make] of cases) {
      await serve((req) => make(req));
      for (const fn of ['gethostbyname4_r', 'gethostbyname2_r']) {
        const r = await probe(fn, 'foo.p2p');
        assert.deepEqual([r.status, r.errno, r.herrno], [UNAVAIL, EPROTO, NO_RECOVERY], `${label} (${fn}): ${r.raw}`);
        assert.ok(r.ms < TIMEOUT_MS, `${label}: ${Math.round(r.ms)} ms, not at once`);
      }
    }
    // the largest valid reply: 32 IPv6 records
    await serve((req) => reply(req, 0, 1, Array.from({ length: 32 }, (_, i) => [6, V6A.slice(0, -2) + i.toString(16).padStart(2, '0')] as [6, string])));
    const max = await probe('gethostbyname4_r', 'foo.p2p', 'inet', 4096);
    assert.equal(max.addresses.length, 32, max.raw);
  });

  await t.test('fuzz: 300 random replies (our id, random bytes): never a crash, only SUCCESS for a valid reply', async () => {
    const counts = new Map<number, number>();
    for (let i = 0; i < 300; i++) {
      let sent: Buffer | undefined;
      await serve((req) => {
        const kind = i % 3;
        const body = kind === 0
          ? randomBytes(Math.floor(Math.random() * 600))
          : kind === 1
            ? Buffer.concat([Buffer.from([Math.floor(Math.random() * 5), Math.floor(Math.random() * 4), 0, 0, 0, 60]), randomBytes(Math.floor(Math.random() * 60))])
            : (() => { const b = reply(req, 0, 60, [[4, V4A], [6, V6A]]); b[Math.floor(Math.random() * b.length)] = Math.floor(Math.random() * 256); return b.subarray(2); })();
        sent = Buffer.concat([req.subarray(0, 2), body]);
        return sent;
      });
      const r = await probe(i % 2 ? 'gethostbyname4_r' : 'gethostbyname2_r', 'foo.p2p', 'inet', 2048);
      counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
      if (r.status === SUCCESS) {
        // only a reply that follows the format can succeed
        assert.ok(sent && sent.length >= 8 && sent[2] === 0 && sent[3]! > 0, `accepted ${sent?.toString('hex')}`);
      }
    }
    t.diagnostic(`fuzz outcomes by nss_status: ${JSON.stringify(Object.fromEntries(counts))}`);
  });

  await t.test('a silent daemon: UNAVAIL (ETIMEDOUT) at the deadline, never later', async () => {
    await serve(null);
    const r = await probe('gethostbyname4_r', 'foo.p2p');
    assert.deepEqual([r.status, r.errno, r.herrno], [UNAVAIL, ETIMEDOUT, TRY_AGAIN], r.raw);
    assert.ok(r.ms >= TIMEOUT_MS - 20 && r.ms < TIMEOUT_MS + 500, `${Math.round(r.ms)} ms for a deadline of ${TIMEOUT_MS} ms`);
    t.diagnostic(`silent daemon: ${Math.round(r.ms)} ms (deadline ${TIMEOUT_MS} ms in this build, 3000 ms by default)`);
  });

  await t.test('no daemon: UNAVAIL (ECONNREFUSED) at once', async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await probe('gethostbyname4_r', 'foo.p2p');
      assert.deepEqual([r.status, r.errno, r.herrno], [UNAVAIL, ECONNREFUSED, NO_RECOVERY], r.raw);
      times.push(r.ms);
    }
    assert.ok(Math.min(...times) < 200, `${times.map(Math.round).join(', ')} ms`);
    t.diagnostic(`no daemon: ${times.map((x) => Math.round(x)).join(', ')} ms per nss-probe process (including its start)`);
    const af = await probe('gethostbyname3_r', 'foo.p2p', 'inet');
    assert.equal(af.status, UNAVAIL);
  });
});
