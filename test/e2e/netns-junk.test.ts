// Plain names against junk get_peers replies, with real daemons in network namespaces (needs root).
//
//   10.201.0.1      bootstrap
//   10.201.0.2      A: announces web1.p2p and web2.p2p
//   10.201.0.3      Q: up before A announces, so A's announcements are in its own store
//   10.201.0.4      R: joins after A announced: it takes A's address once the bootstrap and Q agree
//   10.201.0.5 - 7  three junk nodes (test/e2e/junk-node.ts): every get_peers they get is answered with
//                   the same 16 fake addresses, so each fake is backed by three nodes
// A plain name has no owner, but kadnode answers only addresses that the nodes storing the name agree on
// (src/chain/plain-candidates.ts). Before that rule the first addresses any node reported were answered,
// and the cached answer after the walk held the fakes too.
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { createNetwork, inNetns, type Network } from './netns.js';
import { Daemon, dig, emptyPeerFile, repoRoot, skipUnlessNetns, sleep, startDaemon, tempDir } from './harness.js';

const DHT_PORT = 6881;
const DNS_PORT = 3535;
const [BOOT, A, Q, R] = [1, 2, 3, 4];
const JUNK = [5, 6, 7];
const NAMES = ['web1.p2p', 'web2.p2p'];

test('plain names: junk get_peers replies, even from several nodes agreeing, never reach an answer', { timeout: 120_000 }, async (t: TestContext) => {
  const skip = skipUnlessNetns();
  if (skip) return t.skip(skip);
  const processes: Daemon[] = [];
  const tmp = tempDir('kadnode-junk');
  let net: Network | undefined;
  t.after(async () => {
    await Promise.all(processes.map((d) => d.stop(5000)));
    net?.destroy();
    tmp.remove();
  });
  net = createNetwork(7, { prefix: `kn-${process.pid}-junk` });
  const ns = (n: number) => net!.host(n).name;
  const ip = (n: number) => net!.host(n).ip;
  const common = ['--port', String(DHT_PORT), '--dns-port', String(DNS_PORT), '--dns-addr', '127.0.0.1', '--cmd-port', '0', '--cmd-disable-stdin', '--verbosity', 'debug'];
  const start = async (n: number, label: string, args: string[]): Promise<Daemon> => {
    const d = await startDaemon({ args: [...common, ...args], netns: ns(n), stdin: 'ignore', label, readyTimeoutMs: 30_000 });
    processes.push(d);
    return d;
  };
  const peer = ['--peer', `${ip(BOOT)}:${DHT_PORT}`];

  await start(BOOT, 'bootstrap', ['--peerfile', emptyPeerFile(tmp.path)]);
  const junk: Daemon[] = [];
  for (const n of JUNK) {
    const [file, argv] = inNetns(ns(n), process.execPath, [join(repoRoot, 'dist', 'test', 'e2e', 'junk-node.js'), '--bind', ip(n), '--peer', `${ip(BOOT)}:${DHT_PORT}`, '--fakes', '16', '--serve-ms', '100000']);
    const d = new Daemon(spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] }), `junk ${n}`, ns(n));
    processes.push(d);
    junk.push(d);
    await d.waitForLine(/\(I\) Ready\./, 10_000);
  }
  await start(Q, 'querier Q', peer);
  const announcer = await start(A, 'announcer', [...peer, ...NAMES.flatMap((name) => ['--value-id', name])]);
  // bounded: every name stored by the bootstrap, Q and the junk nodes before anyone asks
  for (const name of NAMES) await announcer.waitForLine(new RegExp(`Announced ${name.replace(/\.p2p$/, '')} .* to ([5-9]|[1-9]\\d+) nodes`), 30_000);
  await start(R, 'querier R', peer);

  const digAt = async (n: number, name: string): Promise<string[]> => {
    const r = await dig(['@127.0.0.1', '-p', String(DNS_PORT), name, 'A', '+tries=1', '+timeout=5'], { netns: ns(n), timeoutMs: 15_000 });
    return r.answers.filter((a) => a.type === 'A').map((a) => a.data);
  };
  const served = () => junk.reduce((n, d) => n + d.stdoutLines.length, 0);
  for (const [n, label] of [[R, 'R (two storers agree)'], [Q, 'Q (its own store)']] as const) {
    for (const name of NAMES) {
      const before = served();
      assert.deepEqual(await digAt(n, name), [ip(A)], `${label}, ${name}: the first answer`);
      await sleep(1500); // the walk goes on 1 s after the answer, then ends: its result is cached
      assert.deepEqual(await digAt(n, name), [ip(A)], `${label}, ${name}: the cached answer after the walk`);
      assert.ok(served() > before, `${label}, ${name}: the junk nodes were asked (the attack ran)`);
    }
  }
});
