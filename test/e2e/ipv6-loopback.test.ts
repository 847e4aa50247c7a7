// The IPv6 DHT with real bin/kadnode daemons on ::1 (no root): three daemons `--mode ipv6 --dht-addr ::1`
// bootstrap through `--peer [::1]:port`, daemon 2 announces foo6.p2p, the others answer AAAA ::1 from the
// IPv6 announcement. Also: --mode dual without a usable IPv6 socket runs IPv4 only after one warning,
// while --mode ipv6 without one does not start.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import {
  dig,
  emptyPeerFile,
  kadnodeCtl,
  parseStatus,
  pickPorts,
  retry,
  runKadnode,
  skipUnlessDig,
  startDaemon,
  tempDir,
  type Daemon,
} from './harness.js';

interface Node {
  d: Daemon;
  dht: number;
  dns: number;
  cmd: number;
}

const NAME = 'foo6.p2p';

/** Holds [::]:port/udp (IPv6 only) so a daemon cannot bind its IPv6 DHT there. */
function occupyUdp6(port: number): Promise<dgram.Socket> {
  const s = dgram.createSocket({ type: 'udp6', ipv6Only: true });
  return new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind(port, '::', () => resolve(s));
  });
}

describe('three --mode ipv6 daemons on ::1', { timeout: 120_000 }, () => {
  const nodes: Node[] = [];
  let tmp: ReturnType<typeof tempDir> | undefined;

  before(async () => {
    tmp = tempDir('kadnode-ipv6');
    const ports = await pickPorts(9);
    const peerfile = emptyPeerFile(tmp.path);
    for (let i = 0; i < 3; i++) {
      const [dht, dns, cmd] = [ports[i * 3]!, ports[i * 3 + 1]!, ports[i * 3 + 2]!];
      const args = ['--mode', 'ipv6', '--dht-addr', '::1', '--port', String(dht), '--dns-port', String(dns), '--cmd-port', String(cmd), '--web-port', '0', '--cmd-disable-stdin'];
      if (i === 0) args.push('--peerfile', peerfile);
      else args.push('--peer', `[::1]:${nodes[0]!.dht}`);
      if (i === 1) args.push('--value-id', NAME);
      nodes.push({ d: await startDaemon({ args, label: `ipv6 daemon ${i + 1}`, stdin: 'ignore' }), dht, dns, cmd });
    }
  });

  after(async () => {
    await Promise.all(nodes.map((n) => n.d.stop(5000)));
    tmp?.remove();
  });

  it('binds the IPv6 DHT and forms a DHT', async () => {
    const n = nodes[0]!;
    await n.d.waitForLine(new RegExp(`^\\(I\\) DHT6: Bind to \\[::1\\]:${n.dht}$`), 1000);
    const formed = await retry(
      async () => {
        const all = await Promise.all(nodes.map((m) => kadnodeCtl(['-p', String(m.cmd), 'status'])));
        return all.every((r) => (parseStatus(r.stdout).dhtNodes ?? 0) >= 2) ? all : undefined;
      },
      { tries: 40, timeoutMs: 30_000, intervalMs: 500 },
    );
    assert.ok(formed.value, 'every daemon knows the two others');
    const text = formed.value[0]!.stdout;
    assert.match(text, /^DHT nodes: 2 \(2 good\) IPv6$/m);
    assert.match(text, new RegExp(`^Bound: DHT \\[::1\\]:${n.dht} \\(udp\\)$`, 'm'));
  });

  it('answers AAAA from the IPv6 announcement', { skip: skipUnlessDig() }, async () => {
    for (const i of [0, 2]) {
      const n = nodes[i]!;
      const r = await retry(
        async () => {
          const res = await dig(['@::1', '-p', String(n.dns), NAME, 'AAAA', '+tries=1', '+timeout=5']);
          return res.status === 'NOERROR' && res.answers.some((a) => a.type === 'AAAA') ? res : undefined;
        },
        { tries: 10, timeoutMs: 40_000, intervalMs: 1000 },
      );
      assert.ok(r.value, `daemon ${i + 1}: no AAAA for ${NAME}`);
      assert.deepEqual(
        r.value.answers.filter((a) => a.type === 'AAAA').map((a) => a.data),
        ['::1'],
      );
    }
  });

  it('lists the stored 18-byte peer as [addr]:port', async () => {
    const storage = await Promise.all([0, 2].map((i) => kadnodeCtl(['-p', String(nodes[i]!.cmd), 'list', 'storage'])));
    const lines = storage.flatMap((r) => r.stdout.split('\n')).filter((l) => /^[0-9a-f]{40} /.test(l));
    assert.ok(lines.length >= 1, storage.map((r) => r.stdout).join('\n'));
    for (const line of lines) assert.match(line, new RegExp(`^[0-9a-f]{40} \\[::1\\]:${nodes[1]!.dht}$`));
  });
});

describe('--mode dual without a usable IPv6 DHT socket', { timeout: 60_000 }, () => {
  it('runs IPv4 only after one warning line', async (t) => {
    const tmp = tempDir('kadnode-dual');
    const [dht, cmd] = await pickPorts(2);
    const blocker = await occupyUdp6(dht!);
    const d = await startDaemon({
      args: ['--mode', 'dual', '--port', String(dht), '--dns-port', '0', '--cmd-port', String(cmd), '--web-port', '0', '--cmd-disable-stdin', '--peerfile', emptyPeerFile(tmp.path)],
      label: 'dual daemon',
      stdin: 'ignore',
    });
    t.after(async () => {
      await d.stop(5000);
      blocker.close();
      tmp.remove();
    });
    const warnings = d.stderrLines.filter((l) => l.startsWith('(W)'));
    assert.equal(warnings.length, 1, d.stderrLines.join('\n'));
    assert.match(warnings[0]!, /^\(W\) No IPv6 DHT, running IPv4 only: cannot bind \[::\]:\d+\/udp: EADDRINUSE$/);
    await d.waitForLine(new RegExp(`^\\(I\\) DHT: Bind to 0\\.0\\.0\\.0:${dht}$`), 1000);
    const status = await kadnodeCtl(['-p', String(cmd), 'status']);
    assert.match(status.stdout, /^DHT nodes: 0 \(0 good\)$/m);
    assert.doesNotMatch(status.stdout, /IPv6|\[::\]/);
  });

  it('--mode ipv6 does not start then', async (t) => {
    const [dht] = await pickPorts(1);
    const blocker = await occupyUdp6(dht!);
    t.after(() => blocker.close());
    const r = await runKadnode(['--mode', 'ipv6', '--port', String(dht), '--dns-port', '0', '--cmd-port', '0', '--web-port', '0', '--peer', '[::1]:9']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /cannot bind \[::\]:\d+\/udp: EADDRINUSE/);
  });

  it('--dht-addr of the other family is refused', async () => {
    const [dht] = await pickPorts(1);
    const r = await runKadnode(['--mode', 'ipv6', '--dht-addr', '127.0.0.1', '--port', String(dht), '--dns-port', '0', '--cmd-port', '0', '--web-port', '0', '--peer', '[::1]:9']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /Invalid --dht-addr '127\.0\.0\.1' for --mode ipv6/);
  });
});
