// KadNode 2.x key names ("bob", P-256) across real bin/kadnode daemons in network namespaces (needs root).
// KadNode 2.x drops datagrams from loopback, so the exchange is tested between distinct addresses.
//
//   10.201.0.1  bootstrap
//   10.201.0.2  H: holder, --bob-load-key with KadNode 2.4.2's key1 and a key made by --bob-create-key
//   10.201.0.3  I: impostor, a daemon announcing key1's raw id (--value-id <40 hex>.p2p) without the key
//   10.201.0.4  F: forger, a daemon announcing key1's raw id at port 7000, where test/helpers/bob-peer
//               answers every challenge with KadNode 2.4.2's captured key1 reply to another challenge
//               (replay) and with a signature of the right challenge by another key (key3)
//   10.201.0.5  R: resolver without any key option
// R must answer the names with H alone (dig A and SRV, kadnode-ctl lookup), after challenging I and F.
// A second test: LPD in both formats between a daemon and a raw KadNode 2.x-style `DHT <port>` sender.
import { spawn } from 'node:child_process';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { createNetwork, inNetns, run, type Network } from './netns.js';
import { Daemon, dig, emptyPeerFile, kadnodeCtl, parseStatus, repoRoot, runKadnode, skipUnlessNetns, sleep, startDaemon, tempDir } from './harness.js';
import { parseBobKeyPem } from '../../src/identity/bob.js';
import { ANSWERED, FIXTURE_NAMES, privateKeyCopy } from '../helpers/kadnode2-fixtures.js';

const DHT_PORT = 6881;
const DNS_PORT = 3535;
const CMD_PORT = 1700;
const FORGER_PORT = 7000;
const [BOOT, HOLDER, IMPOSTOR, FORGER, RESOLVER] = [1, 2, 3, 4, 5];

const NAME1 = `${FIXTURE_NAMES.key1}.p2p`;
const key1Capture = ANSWERED.find((c) => c.name === FIXTURE_NAMES.key1)!;
const ID1 = key1Capture.x.subarray(0, 20).toString('hex');

/** The A records of a dig answer, its ANSWER and ADDITIONAL sections together. */
function aRecords(raw: string): string[] {
  const out: string[] = [];
  let inSection = false;
  for (const line of raw.split('\n')) {
    if (/^;; (ANSWER|ADDITIONAL) SECTION:/.test(line)) inSection = true;
    else if (line.trim() === '' || line.startsWith(';')) inSection = false;
    else if (inSection) {
      const m = /^\S+\s+\d+\s+IN\s+A\s+(\S+)$/.exec(line.trim());
      if (m) out.push(m[1]!);
    }
  }
  return out;
}

test('bob names: announced by one daemon, resolved on another; impostor and forger never answered', { timeout: 180_000 }, async (t: TestContext) => {
  const skip = skipUnlessNetns();
  if (skip) return t.skip(skip);
  const processes: Daemon[] = [];
  const tmp = tempDir('kadnode-bob');
  let net: Network | undefined;
  t.after(async () => {
    await Promise.all(processes.map((d) => d.stop(5000)));
    net?.destroy();
    tmp.remove();
  });

  // key files: KadNode 2.4.2's (world-readable in git: copied to mode 600) and one made by us
  const key1 = privateKeyCopy('key1', tmp.path);
  const key3 = privateKeyCopy('key3', tmp.path);
  const created = join(tmp.path, 'created.pem');
  const made = await runKadnode(['--bob-create-key', created]);
  assert.equal(made.code, 0, made.stderr);
  const name2 = /^Public key: ([0-9a-z]{51}[0g]\.p2p)$/m.exec(made.stdout)?.[1];
  assert.ok(name2 && made.stdout.includes(`Wrote secret key to ${created}`), made.stdout);
  const again = await runKadnode(['--bob-create-key', created]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^kadnode: --bob-create-key: '.*' exists; not overwritten/m);

  net = createNetwork(5, { prefix: `kn-${process.pid}-bob` });
  const ns = (n: number) => net!.host(n).name;
  const ip = (n: number) => net!.host(n).ip;
  const readable = join(tmp.path, 'readable.pem');
  writeFileSync(readable, readFileSync(key1), { mode: 0o644 });
  const refused = await runKadnode(['--bob-load-key', readable, '--peerfile', emptyPeerFile(tmp.path)], { netns: ns(RESOLVER) });
  assert.equal(refused.code, 1);
  assert.equal(refused.stderr.trim(), `kadnode: Invalid --bob-load-key: key file '${readable}' is readable by group or others (chmod 600 it)`);
  const common = ['--port', String(DHT_PORT), '--dns-port', String(DNS_PORT), '--cmd-port', String(CMD_PORT), '--cmd-disable-stdin', '--verbosity', 'debug'];
  const start = async (n: number, label: string, args: string[]): Promise<Daemon> => {
    const d = await startDaemon({ args: [...common, ...args], netns: ns(n), stdin: 'ignore', label, readyTimeoutMs: 30_000 });
    processes.push(d);
    return d;
  };
  const lookup = (n: number, name: string) => kadnodeCtl(['-p', String(CMD_PORT), 'lookup', name], { netns: ns(n), timeoutMs: 30_000 });
  const digAt = (n: number, name: string, type: string) => dig(['@127.0.0.1', '-p', String(DNS_PORT), name, type, '+tries=1', '+timeout=5'], { netns: ns(n), timeoutMs: 15_000 });

  const [file, argv] = inNetns(ns(FORGER), process.execPath, [join(repoRoot, 'dist', 'test', 'helpers', 'bob-peer.js'), 'forger', String(FORGER_PORT), ANSWERED[1]!.replyPacket.toString('hex'), key3]);
  const forger = new Daemon(spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] }), 'forger', ns(FORGER));
  processes.push(forger);
  await forger.waitForLine(/\(I\) Ready\./, 10_000);

  await start(BOOT, 'bootstrap', ['--peerfile', emptyPeerFile(tmp.path)]);
  const peer = ['--peer', `${ip(BOOT)}:${DHT_PORT}`];
  // impostor and forger announce first, so their addresses are in every search
  const impostor = await start(IMPOSTOR, 'impostor', [...peer, '--value-id', `${ID1}.p2p`]);
  const forgerDaemon = await start(FORGER, 'forger daemon', [...peer, '--value-id', `${ID1}.p2p:${FORGER_PORT}`]);
  const holder = await start(HOLDER, 'holder', [...peer, '--bob-load-key', key1, '--bob-load-key', created]);
  const resolver = await start(RESOLVER, 'resolver', peer);

  await t.test('the impostor and the forger really are in the DHT under key1\'s id', async () => {
    const want = [`${ip(IMPOSTOR)}:${DHT_PORT}`, `${ip(FORGER)}:${FORGER_PORT}`, `${ip(HOLDER)}:${DHT_PORT}`];
    // a plain lookup answers an address once two nodes storing it agree (or it is in the resolver's own
    // store): the first announcers reached only the bootstrap node, so wait for their follow-ups
    for (const d of [impostor, forgerDaemon]) await d.waitForLine(new RegExp(`Announced ${ID1}\\S* .* to ([2-9]|[1-9]\\d+) nodes`, 'i'), 30_000);
    let seen = '';
    for (let i = 0; i < 20 && !want.every((w) => seen.includes(w)); i++) {
      seen += (await kadnodeCtl(['-p', String(CMD_PORT), 'lookup', `${ID1}.p2p`], { netns: ns(RESOLVER) })).stdout;
      if (!want.every((w) => seen.includes(w))) await sleep(1000);
    }
    for (const w of want) assert.ok(seen.includes(w), `raw lookup of ${ID1} never listed ${w}: ${seen}`);
  });

  await t.test('kadnode-ctl lookup and dig answer the holder alone, marked as a KadNode 2.x proof', async () => {
    const r = await lookup(RESOLVER, NAME1);
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.equal(r.stdout.trim(), `${ip(HOLDER)}:${DHT_PORT} (KadNode 2.x proof, relayable)`);
    const a = await digAt(RESOLVER, NAME1, 'A');
    assert.equal(a.status, 'NOERROR', a.raw);
    assert.deepEqual(aRecords(a.raw), [ip(HOLDER)]);
    const srv = await digAt(RESOLVER, NAME1, 'SRV');
    assert.equal(srv.status, 'NOERROR', srv.raw);
    const srvs = srv.answers.filter((x) => x.type === 'SRV');
    assert.ok(srvs.length > 0 && srvs.every((s) => s.data.split(/\s+/)[2] === String(DHT_PORT)), srv.raw);
    assert.deepEqual([...new Set(aRecords(srv.raw))], [ip(HOLDER)], srv.raw);
    // the key made by --bob-create-key, on the same holder, in upper case and without the TLD
    const b = await lookup(RESOLVER, name2!.slice(0, 52).toUpperCase());
    assert.equal(b.stdout.trim(), `${ip(HOLDER)}:${DHT_PORT} (KadNode 2.x proof, relayable)`, b.stderr);
  });

  await t.test('the impostor stayed silent, the forger\'s replies were checked and refused; only the holder is cached', async () => {
    const imp = ip(IMPOSTOR).replace(/\./g, '\\.');
    const frg = ip(FORGER).replace(/\./g, '\\.');
    await resolver.waitForLine(new RegExp(`BOB: No valid reply from ${imp}:${DHT_PORT} `), 20_000);
    await resolver.waitForLine(new RegExp(`BOB: No valid reply from ${frg}:${FORGER_PORT} `), 20_000);
    assert.ok(forger.stdoutLines.some((l) => l === `answered ${ip(RESOLVER)}`), 'the forger was challenged and answered');
    assert.ok(resolver.stderrLines.some((l) => new RegExp(`BOB: Challenge response is invalid: ${frg}:${FORGER_PORT}`).test(l)), 'forged replies were checked');
    assert.ok(!resolver.stderrLines.some((l) => /Challenge response is valid/.test(l) && (l.includes(ip(IMPOSTOR)) || l.includes(ip(FORGER)))));
    assert.ok(impostor.stderrLines.every((l) => !/BOB: Received challenge/.test(l)), 'no key, no answer');
    assert.ok(holder.stderrLines.some((l) => l.includes(`BOB: Received challenge for ${FIXTURE_NAMES.key1} from ${ip(RESOLVER)}:${DHT_PORT}`)));
    const results = (await kadnodeCtl(['-p', String(CMD_PORT), 'list', 'results'], { netns: ns(RESOLVER) })).stdout;
    const line = results.split('\n').find((l) => l.startsWith(ID1) && l.includes('KadNode 2.x'));
    assert.ok(line && line.includes(`${ip(HOLDER)}:${DHT_PORT}`) && !line.includes(ip(IMPOSTOR)) && !line.includes(ip(FORGER)), results);
    for (let i = 0; i < 3; i++) assert.deepEqual(aRecords((await digAt(RESOLVER, NAME1, 'A')).raw), [ip(HOLDER)]);
  });

  await t.test('no secret key in any output; every daemon exits 0', async () => {
    // the secret scalars in hex, and the start of each PEM's base64 body (which holds the scalar)
    const secrets = [key1, created].flatMap((f) => [parseBobKeyPem(readFileSync(f)).secret.toString('hex'), readFileSync(f, 'utf8').split('\n')[1]!.slice(0, 32)]);
    const leaks = processes.flatMap((d) => [...d.stderrLines, ...d.stdoutLines].filter((l) => secrets.some((s) => l.includes(s))));
    assert.deepEqual(leaks, []);
    const results = await Promise.all(processes.filter((d) => d !== forger).map((d) => d.stop(10_000)));
    assert.ok(results.every((r) => r.code === 0 && !r.killed), JSON.stringify(results));
  });
});

// A listener on the group (the other host) prints every datagram it hears as JSON, then exits.
const LISTEN = `
const dgram = await import('node:dgram');
const [group, address, ms] = process.argv.slice(1);
const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
const heard = [];
s.on('message', (m, r) => heard.push({ from: r.address, text: m.toString('latin1') }));
s.bind(6771, () => { s.addMembership(group, address); console.error('(I) Ready.'); });
setTimeout(() => { console.log(JSON.stringify(heard)); s.close(); }, Number(ms));
`;
const SEND = `
const dgram = await import('node:dgram');
const [group, address, text] = process.argv.slice(1);
const s = dgram.createSocket('udp4');
s.bind(0, address, () => { s.setMulticastInterface(address); s.send(text, 6771, group, () => s.close()); });
`;

test('LPD in both formats: our daemon sends BT-SEARCH and `DHT <port>`, and pings a `DHT <port>` sender', { timeout: 90_000 }, async (t: TestContext) => {
  const skip = skipUnlessNetns();
  if (skip) return t.skip(skip);
  const processes: Daemon[] = [];
  const tmp = tempDir('kadnode-bob-lpd');
  const net = createNetwork(2, { prefix: `kn-${process.pid}-boblpd` });
  t.after(async () => {
    await Promise.all(processes.map((d) => d.stop(5000)));
    net.destroy();
    tmp.remove();
  });
  const [a, b] = [net.host(1), net.host(2)];
  const group = '239.192.152.143';
  const common = ['--port', String(DHT_PORT), '--dns-port', '0', '--cmd-port', String(CMD_PORT), '--cmd-disable-stdin', '--peerfile', emptyPeerFile(tmp.path), '--verbosity', 'debug'];
  // B: a DHT node that answers pings and knows nobody; it hears the group with the raw listener only
  const nodeB = await startDaemon({ args: common, netns: b.name, stdin: 'ignore', label: 'B (no LPD)' });
  processes.push(nodeB);
  const [lf, la] = inNetns(b.name, process.execPath, ['--input-type=module', '-e', LISTEN, group, b.ip, '8000']);
  const listener = new Daemon(spawn(lf, la, { stdio: ['ignore', 'pipe', 'pipe'] }), 'listener', b.name);
  processes.push(listener);
  await listener.waitForLine(/\(I\) Ready\./, 10_000);

  const nodeA = await startDaemon({ args: common, netns: a.name, lpd: true, stdin: 'ignore', label: 'A (LPD)' });
  processes.push(nodeA);
  await nodeA.waitForLine(/LPD: Joined multicast group 239\.192\.152\.143 on eth0 /, 10_000);

  // what A sent, as B's raw listener heard it
  await listener.exited;
  const heard = JSON.parse(listener.stdoutLines.filter(Boolean).pop() ?? '[]') as { from: string; text: string }[];
  const fromA = heard.filter((h) => h.from === a.ip).map((h) => h.text);
  assert.ok(fromA.includes(`DHT ${DHT_PORT}`), `KadNode 2.x's packet from A: ${JSON.stringify(heard)}`);
  assert.ok(fromA.some((x) => x.startsWith('BT-SEARCH * HTTP/1.0\r\n') && x.includes(`Port: ${DHT_PORT}\r\n`)), `KadNode 1.x's packet from A: ${JSON.stringify(heard)}`);
  const status = async (h: typeof a) => parseStatus((await kadnodeCtl(['-p', String(CMD_PORT), 'status'], { netns: h.name })).stdout);
  assert.equal((await status(a)).dhtNodes, 0, 'A knows nobody before the 2.x packet');

  // B says `DHT 6881` on the group, as KadNode 2.x does: A pings B and both learn each other
  const sent = await run(b.name, process.execPath, ['--input-type=module', '-e', SEND, group, b.ip, `DHT ${DHT_PORT}`], { timeoutMs: 10_000 });
  assert.equal(sent.code, 0, sent.stderr);
  await nodeA.waitForLine(new RegExp(`LPD: Ping ${b.ip.replace(/\./g, '\\.')}:${DHT_PORT} \\(heard on the LAN, KadNode 2\\.x\\)`), 10_000);
  let nodes = { a: 0, b: 0 };
  for (let i = 0; i < 20 && !(nodes.a >= 1 && nodes.b >= 1); i++) {
    nodes = { a: (await status(a)).dhtNodes ?? 0, b: (await status(b)).dhtNodes ?? 0 };
    if (!(nodes.a >= 1 && nodes.b >= 1)) await sleep(500);
  }
  assert.deepEqual(nodes, { a: 1, b: 1 }, `routing tables after the ping:\n${nodeA.tail(20)}`);
});
