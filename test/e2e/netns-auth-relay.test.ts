// The AUTH relay attack and KadNode 1.x interop, with real daemons in network namespaces (needs root).
//
//   10.201.0.1  bootstrap
//   10.201.0.2  H: key holder of node1.p2p (--auth-add-skey node1.p2p:<K2>, --value-id node1.p2p)
//   10.201.0.3  I: impostor: a daemon announcing node1.p2p's id at port 7000, where test/helpers/auth-peer
//               relays every AUTH packet to H and H's answers back, in real time
//   10.201.0.4  R: resolver with --auth-add-pkey for node1.p2p and legacy.p2p
//   10.201.0.5  L: a KadNode 1.x key holder of legacy.p2p (a daemon announcing its id at port 7000, where
//               auth-peer answers 40-byte challenges the 1.x way)
//   10.201.0.6  S: resolver like R, with --auth-refuse-1x
// Before the address-bound exchange, R verified and answered I's address for node1.p2p.
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { createNetwork, inNetns, type Network } from './netns.js';
import { Daemon, dig, emptyPeerFile, kadnodeCtl, repoRoot, runKadnode, skipUnlessNetns, sleep, startDaemon, tempDir } from './harness.js';

const DHT_PORT = 6881;
const DNS_PORT = 3535;
const CMD_PORT = 1700;
const AUTH_PEER_PORT = 7000;
const [BOOT, HOLDER, IMPOSTOR, RESOLVER, LEGACY, STRICT] = [1, 2, 3, 4, 5, 6];

const sha1hex = (s: string): string => createHash('sha1').update(s).digest('hex');

async function genKeys(): Promise<{ pk: string; sk: string }> {
  const r = await runKadnode(['--auth-gen-keys'], { timeoutMs: 15_000 });
  const pk = /^public key: ([0-9a-f]{64})$/m.exec(r.stdout)?.[1];
  const sk = /^secret key: ([0-9a-f]{128})$/m.exec(r.stdout)?.[1];
  assert.ok(pk && sk, `unexpected --auth-gen-keys output:\n${r.stdout}${r.stderr}`);
  return { pk, sk };
}

test('AUTH: a relayed challenge is never answered; KadNode 1.x key holders verify, marked, and can be refused', { timeout: 180_000 }, async (t: TestContext) => {
  const skip = skipUnlessNetns();
  if (skip) return t.skip(skip);
  const processes: Daemon[] = [];
  const tmp = tempDir('kadnode-auth-relay');
  let net: Network | undefined;
  t.after(async () => {
    await Promise.all(processes.map((d) => d.stop(5000)));
    net?.destroy();
    tmp.remove();
  });
  net = createNetwork(6, { prefix: `kn-${process.pid}-relay` });
  const ns = (n: number) => net!.host(n).name;
  const ip = (n: number) => net!.host(n).ip;

  const [K2, K3] = [await genKeys(), await genKeys()];
  const id2 = sha1hex(K2.pk + 'node1');
  const id3 = sha1hex(K3.pk + 'legacy');

  const common = ['--port', String(DHT_PORT), '--dns-port', String(DNS_PORT), '--cmd-port', String(CMD_PORT), '--cmd-disable-stdin', '--verbosity', 'debug'];
  const start = async (n: number, label: string, args: string[]): Promise<Daemon> => {
    const d = await startDaemon({ args: [...common, ...args], netns: ns(n), stdin: 'ignore', label, readyTimeoutMs: 30_000 });
    processes.push(d);
    return d;
  };
  const authPeer = async (n: number, label: string, args: string[], ready = true): Promise<Daemon> => {
    const [file, argv] = inNetns(ns(n), process.execPath, [join(repoRoot, 'dist', 'test', 'helpers', 'auth-peer.js'), ...args]);
    const d = new Daemon(spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] }), label, ns(n));
    processes.push(d);
    if (ready) await d.waitForLine(/\(I\) Ready\./, 10_000);
    return d;
  };
  const lookup = (n: number, name: string) => kadnodeCtl(['-p', String(CMD_PORT), 'lookup', name], { netns: ns(n), timeoutMs: 30_000 });
  const results = async (n: number) => (await kadnodeCtl(['-p', String(CMD_PORT), 'list', 'results'], { netns: ns(n) })).stdout;

  await start(BOOT, 'bootstrap', ['--peerfile', emptyPeerFile(tmp.path)]);
  const peer = ['--peer', `${ip(BOOT)}:${DHT_PORT}`];
  const keyed = ['--auth-add-pkey', `node1.p2p:${K2.pk}`, '--auth-add-pkey', `legacy.p2p:${K3.pk}`];
  // the impostor and the 1.x holder announce first, so their addresses are in every search
  const relay = await authPeer(IMPOSTOR, 'relay', ['relay', String(AUTH_PEER_PORT), ip(HOLDER), String(DHT_PORT)]);
  const legacy = await authPeer(LEGACY, '1.x holder', ['legacy', String(AUTH_PEER_PORT), K3.sk]);
  const impostor = await start(IMPOSTOR, 'impostor', [...peer, '--value-id', `${id2}.p2p:${AUTH_PEER_PORT}`]);
  await start(LEGACY, '1.x holder daemon', [...peer, '--value-id', `${id3}.p2p:${AUTH_PEER_PORT}`]);
  const holder = await start(HOLDER, 'holder', [...peer, '--auth-add-skey', `node1.p2p:${K2.sk}`, '--value-id', 'node1.p2p']);
  await start(RESOLVER, 'resolver', [...peer, ...keyed]);
  await start(STRICT, 'strict resolver', [...peer, ...keyed, '--auth-refuse-1x']);

  await t.test('the impostor relaying in real time is never answered; the holder is', async () => {
    // bounded: the impostor's announcement must be visible before the check means anything. A plain
    // lookup answers an address once two nodes storing it agree (or it is in the resolver's own store):
    // the impostor, started early, first reached only the bootstrap node, so wait for its follow-ups.
    await impostor.waitForLine(new RegExp(`Announced ${id2}\\S* .* to ([2-9]|[1-9]\\d+) nodes`, 'i'), 30_000);
    let seen = '';
    for (let i = 0; i < 20 && !seen.includes(`${ip(IMPOSTOR)}:${AUTH_PEER_PORT}`); i++) {
      seen = (await kadnodeCtl(['-p', String(CMD_PORT), 'lookup', `${id2}.p2p`], { netns: ns(STRICT) })).stdout;
      if (!seen.includes(`${ip(IMPOSTOR)}:${AUTH_PEER_PORT}`)) await sleep(1000);
    }
    assert.match(seen, new RegExp(`${ip(IMPOSTOR)}:${AUTH_PEER_PORT}`), 'the impostor is in the DHT under the id');
    const first = await lookup(RESOLVER, 'node1.p2p');
    assert.equal(first.code, 0, first.stderr + first.stdout);
    assert.equal(first.stdout.trim(), `${ip(HOLDER)}:${DHT_PORT}`);
    // the search goes on checking the impostor (10 sends with back-off, ~8 s): wait until it is over
    for (let i = 0; i < 30 && !(await results(RESOLVER)).includes(id2); i++) await sleep(1000);
    const cached = await results(RESOLVER);
    assert.match(cached, new RegExp(`${id2} ${ip(HOLDER).replace(/\./g, '\\.')}:${DHT_PORT} \\(`), 'only the holder is cached');
    assert.ok(relay.stdoutLines.some((l) => l.startsWith('to-holder')), 'the relay forwarded challenges to the holder');
    assert.ok(!relay.stdoutLines.some((l) => l.startsWith('to-asker')), `the holder answered nothing that was relayed: ${relay.stdoutLines.join(', ')}`);
    assert.ok(holder.stderrLines.some((l) => /not an address of ours \(relayed\?\)/.test(l)), 'the holder saw the relayed bound challenge');
    const a = await dig(['@127.0.0.1', '-p', String(DNS_PORT), 'node1.p2p', 'A', '+tries=1', '+timeout=5'], { netns: ns(RESOLVER), timeoutMs: 15_000 });
    assert.deepEqual(a.answers.map((x) => x.data), [ip(HOLDER)]);
  });

  await t.test('a KadNode 1.x key holder is verified and marked; --auth-refuse-1x refuses it', async () => {
    const r = await lookup(RESOLVER, 'legacy.p2p');
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(r.stdout.trim(), `${ip(LEGACY)}:${AUTH_PEER_PORT} (KadNode 1.x proof, relayable)`);
    assert.ok(legacy.stdoutLines.some((l) => l === `answered ${ip(RESOLVER)}`));
    const s = await lookup(STRICT, 'legacy.p2p');
    assert.notEqual(s.code, 0, `refused: ${s.stdout}`);
    assert.match(s.stdout + s.stderr, /Not found|No result within/);
    const bound = await lookup(STRICT, 'node1.p2p');
    assert.equal(bound.stdout.trim(), `${ip(HOLDER)}:${DHT_PORT}`, 'the bound exchange still verifies the holder');
  });

  await t.test('a KadNode 1.x resolver still verifies our key holder (unmarked 40-byte challenge)', async () => {
    const r = await authPeer(LEGACY, '1.x resolver', ['challenge', ip(HOLDER), String(DHT_PORT), id2, K2.pk], false);
    await r.exited;
    assert.deepEqual(r.stdoutLines.filter(Boolean), ['verified']);
  });
});
