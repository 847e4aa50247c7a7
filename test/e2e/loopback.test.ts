import bencode from 'bencode';
import dgram from 'node:dgram';
// Four real bin/kadnode daemons on 127.0.0.1 (no root needed): they form a DHT through daemon 1, daemon 2
// announces foo.p2p:4711, and the others resolve it through their DNS port (queried with the real dig),
// their console (stdin) and bin/kadnode-ctl.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  dig,
  emptyPeerFile,
  kadnodeCtl,
  parseStatus,
  pickPorts,
  retry,
  runKadnode,
  skipUnlessDig,
  sleep,
  startDaemon,
  tempDir,
  type Daemon,
  type DigResult,
} from './harness.js';

interface Node {
  d: Daemon;
  dht: number;
  dns: number;
  cmd: number;
}

const SRV_PORT = 4711;

describe('an invalid option', () => {
  it('exits 1 with one stderr line naming the option', async () => {
    const [port] = await pickPorts(1);
    // --peer / disabled surfaces: should the option be accepted by mistake, nothing leaves the machine
    const r = await runKadnode(['--bogus-option', '--port', String(port), '--peer', '127.0.0.1:9', '--dns-port', '0', '--cmd-port', '0'], {
      timeoutMs: 15_000,
    });
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
    assert.equal(r.code, 1, `exit code ${r.code} (signal ${r.signal}); stderr:\n${r.stderr}`);
    assert.equal(lines.length, 1, `want exactly one stderr line, got ${lines.length}:\n${r.stderr}`);
    assert.match(lines[0]!, /bogus-option/);
  });
});

describe('four daemons on loopback', { timeout: 150_000 }, () => {
  const nodes: Node[] = [];
  let tmp: ReturnType<typeof tempDir> | undefined;
  let srvOk = false;

  before(async () => {
    tmp = tempDir('kadnode-loopback');
    const ports = await pickPorts(12);
    const peerfile = emptyPeerFile(tmp.path);
    for (let i = 0; i < 4; i++) {
      const [dht, dns, cmd] = [ports[i * 3]!, ports[i * 3 + 1]!, ports[i * 3 + 2]!];
      const args = ['--port', String(dht), '--dns-port', String(dns), '--cmd-port', String(cmd)];
      // every daemon gets a bootstrap source, so none falls back to the public peers.txt
      if (i === 0) args.push('--peerfile', peerfile);
      else args.push('--peer', `127.0.0.1:${nodes[0]!.dht}`);
      if (i === 1) args.push('--value-id', `foo.p2p:${SRV_PORT}`);
      const d = await startDaemon({
        args,
        label: `daemon ${i + 1}`,
        // daemon 3 runs with stdin at /dev/null; the others have a console pipe
        stdin: i === 2 ? 'ignore' : 'pipe',
      });
      nodes.push({ d, dht, dns, cmd });
    }
  });

  after(async () => {
    await Promise.all(nodes.map((n) => n.d.stop(5000)));
    tmp?.remove();
  });

  it('logs its binds and Ready', async () => {
    const n = nodes[0]!;
    await n.d.waitForLine(new RegExp(`^\\(I\\) DHT: Bind to 0\\.0\\.0\\.0:${n.dht}$`), 1000);
    await n.d.waitForLine(new RegExp(`^\\(I\\) DNS: Bind to 127\\.0\\.0\\.1:${n.dns}$`), 1000);
    await n.d.waitForLine(/^\(I\) Ready\.$/, 1000);
  });

  it('answers an SRV query for an announced name with its port', { skip: skipUnlessDig() }, async (t) => {
    const n = nodes[3]!;
    let last: DigResult | undefined;
    const r = await retry(
      async () => {
        last = await dig(['@127.0.0.1', '-p', String(n.dns), 'foo.p2p', 'SRV', '+tries=1', '+timeout=5']);
        const srv = last.answers.find((a) => a.type === 'SRV');
        // SRV data: priority weight port target
        return last.status === 'NOERROR' && srv && Number(srv.data.split(/\s+/)[2]) === SRV_PORT ? srv : undefined;
      },
      { tries: 20, timeoutMs: 30_000, intervalMs: 1000 },
    );
    t.diagnostic(`SRV foo.p2p: ${r.value ? 'answered' : 'not answered'} after ${r.attempts} queries, ${Math.round(r.ms)} ms`);
    assert.ok(r.value, `no SRV answer with port ${SRV_PORT} after ${r.attempts} queries; last dig:\n${last?.raw}\ndaemon 4 stderr:\n${n.d.tail()}`);
    assert.match(r.value.data, /^\d+ \d+ 4711 \S+$/);
    srvOk = true;
  });

  it('answers an A query with the announcer address', { skip: skipUnlessDig() }, async (t) => {
    const n = nodes[2]!;
    let last: DigResult | undefined;
    const r = await retry(
      async () => {
        last = await dig(['@127.0.0.1', '-p', String(n.dns), 'foo.p2p', 'A', '+tries=1', '+timeout=5']);
        return last.status === 'NOERROR' && last.answers.length > 0 ? last : undefined;
      },
      { tries: srvOk ? 3 : 10, timeoutMs: 20_000, intervalMs: 1000 },
    );
    t.diagnostic(`A foo.p2p on daemon 3: ${r.attempts} queries, dig query time ${last?.queryTimeMs} ms`);
    assert.ok(r.value, `no A answer; last dig:\n${last?.raw}`);
    assert.deepEqual(
      r.value.answers.map((a) => [a.type, a.data]),
      [['A', '127.0.0.1']],
    );
  });

  it('a first AAAA query on the IPv4 DHT answers NOERROR without records, not at the deadline', { skip: skipUnlessDig() }, async (t) => {
    // A node that sends one query and then never answers joins daemon 4's routing table, so a search
    // there lasts over 2 s (the query time-out): only an answer on the first address is fast.
    const silent = dgram.createSocket('udp4');
    t.after(() => silent.close());
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    const ping = Buffer.from(bencode.encode({ t: Buffer.from('zz'), y: 'q', q: 'ping', a: { id: randomBytes(20) } }));
    silent.send(ping, nodes[3]!.dht, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 300));
    // A name no daemon looked up yet, held by the others: daemon 4's first query searches the DHT,
    // which can only hold IPv4 addresses.
    const announced = await nodes[1]!.d.ctl(nodes[1]!.cmd, ['announce', 'fresh.p2p:4712', '-1']);
    assert.equal(announced.code, 0, announced.stderr);
    const held = await retry(async () => {
      const res = await kadnodeCtl(['-p', String(nodes[0]!.cmd), 'lookup', 'fresh.p2p'], { timeoutMs: 15_000 });
      return res.code === 0 ? res : undefined;
    }, { tries: 10, timeoutMs: 30_000, intervalMs: 500 });
    assert.ok(held.value, 'daemon 1 finds the new name');
    const r = await dig(['@127.0.0.1', '-p', String(nodes[3]!.dns), 'fresh.p2p', 'AAAA', '+tries=1', '+timeout=5']);
    t.diagnostic(`first AAAA took ${r.queryTimeMs} ms`);
    assert.equal(r.status, 'NOERROR', r.raw);
    assert.deepEqual(r.answers, []);
    assert.ok((r.queryTimeMs ?? Infinity) < 1500, `answered after ${r.queryTimeMs} ms (a search with a silent node takes over 2000 ms)`);
  });

  it('answers NXDOMAIN for an unknown name', { skip: skipUnlessDig() }, async (t) => {
    const name = `nosuch-${randomBytes(6).toString('hex')}.p2p`;
    const r = await dig(['@127.0.0.1', '-p', String(nodes[3]!.dns), name, 'A', '+tries=1', '+timeout=10']);
    t.diagnostic(`NXDOMAIN took ${r.queryTimeMs} ms`);
    assert.equal(r.status, 'NXDOMAIN', r.raw);
    assert.equal(r.answers.length, 0);
  });

  it('refuses a name outside the query TLD', { skip: skipUnlessDig() }, async () => {
    const r = await dig(['@127.0.0.1', '-p', String(nodes[3]!.dns), 'example.com', 'A', '+tries=1', '+timeout=5']);
    assert.equal(r.status, 'REFUSED', r.raw);
    assert.equal(r.answers.length, 0);
  });

  it('kadnode-ctl lookup prints the announced address', async (t) => {
    const n = nodes[2]!;
    let out = '';
    const r = await retry(
      async () => {
        const res = await kadnodeCtl(['-p', String(n.cmd), 'lookup', 'foo.p2p'], { timeoutMs: 15_000 });
        out = `exit ${res.code}\nstdout:\n${res.stdout}\nstderr:\n${res.stderr}`;
        return res.code === 0 && res.stdout.split('\n').map((l) => l.trim()).includes(`127.0.0.1:${SRV_PORT}`) ? res : undefined;
      },
      { tries: srvOk ? 3 : 10, timeoutMs: 30_000, intervalMs: 1000 },
    );
    t.diagnostic(`kadnode-ctl lookup: ${r.attempts} attempts`);
    assert.ok(r.value, out);
  });

  it('kadnode-ctl fails (non-zero) without a daemon on the port and for an unknown command', async () => {
    const [unused] = await pickPorts(1);
    const closed = await kadnodeCtl(['-p', String(unused), 'status'], { timeoutMs: 15_000 });
    assert.notEqual(closed.code, 0, `status on a closed port: exit ${closed.code}\n${closed.stdout}${closed.stderr}`);
    assert.notEqual(closed.code, null, 'kadnode-ctl hung on a closed port');
    const unknown = await kadnodeCtl(['-p', String(nodes[0]!.cmd), 'no-such-command'], { timeoutMs: 15_000 });
    assert.notEqual(unknown.code, 0, `unknown command: exit ${unknown.code}\n${unknown.stdout}${unknown.stderr}`);
    assert.notEqual(unknown.code, null, 'kadnode-ctl hung on an unknown command');
  });

  it('console: status and lookup on stdin', async (t) => {
    const d = nodes[3]!.d;
    const status = (await d.command('status')).join('\n');
    const s = parseStatus(status);
    t.diagnostic(`daemon 4 status: DHT nodes ${s.dhtNodes}, storage ${s.announcements} announcements for ${s.ids} ids`);
    assert.ok(s.dhtNodes !== undefined && s.dhtNodes >= 1, `want "DHT nodes: n" with n >= 1 in:\n${status}`);
    assert.ok(s.announcements !== undefined, `want "DHT storage: a announcements for i ids" in:\n${status}`);
    const lookup = await d.command('lookup foo.p2p', { timeoutMs: 15_000, settleMs: 500 });
    assert.ok(lookup.map((l) => l.trim()).includes(`127.0.0.1:${SRV_PORT}`), `lookup printed:\n${lookup.join('\n')}`);
  });

  it('a daemon with stdin at /dev/null keeps running', async () => {
    const n = nodes[2]!;
    await sleep(500);
    assert.ok(n.d.alive, `daemon 3 exited: ${JSON.stringify(n.d.exitInfo)}\n${n.d.tail()}`);
    const st = await kadnodeCtl(['-p', String(n.cmd), 'status']);
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, /DHT nodes: \d+/);
  });

  it('a daemon whose stdin is closed keeps running', async () => {
    const n = nodes[3]!;
    n.d.closeStdin();
    await sleep(1500);
    assert.ok(n.d.alive, `daemon 4 exited after stdin closed: ${JSON.stringify(n.d.exitInfo)}\n${n.d.tail()}`);
    const st = await kadnodeCtl(['-p', String(n.cmd), 'status']);
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, /DHT nodes: \d+/);
  });

  it('SIGTERM: every daemon exits 0, without an uncaught exception', async () => {
    const results = await Promise.all(nodes.map((n) => n.d.stop(10_000)));
    results.forEach((r, i) => {
      const d = nodes[i]!.d;
      assert.equal(r.killed, false, `daemon ${i + 1} ignored SIGTERM for 10 s\n${d.tail()}`);
      assert.equal(r.code, 0, `daemon ${i + 1}: ${JSON.stringify(r)}\n${d.tail()}`);
      const trace = d.stderrLines.find((l) => /^\s+at .+:\d+:\d+\)?$/.test(l));
      assert.equal(trace, undefined, `daemon ${i + 1} printed a stack trace:\n${d.stderrLines.join('\n')}`);
    });
  });
});
