// Fault: half of the network cut off and reconnected (needs root). Ten daemons in network namespaces on
// one bridge; the bridge ports of hosts 6..10 go down (`ip link set vN down` in the bridge's namespace),
// so each of hosts 6..10 (side B) is alone and hosts 1..5 (side A) remain. While cut, side A still
// resolves its names, old and newly announced, and every host of side B still answers its own name; a
// name announced on side B during the cut is not found on side A. Then the ports come up again, and the
// test measures how long until every host resolves the name announced on the other side during the cut.
// The nodes dropped while cut are pinged again every 30 s while the routing table is small, and an empty
// table bootstraps again (src/dht/node.ts); announcements follow as soon as the table grows.
// Then a split: side B's ports move to a second bridge, so both halves keep working on their own; each
// resolves the name it announced while split, and after the halves are joined again (neither table is
// empty, so nothing bootstraps) the test measures how long until the names cross.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createNetwork, run, type Network } from './netns.js';
import { dig, emptyPeerFile, kadnodeCtl, parseStatus, skipUnlessNetns, sleep, startDaemon, tempDir, type Daemon } from './harness.js';

const HOSTS = 10;
const SIDE = 5;
const DHT_PORT = 6881;
const DNS_PORT = 3535;
const CMD_PORT = 1700;
/** the reconnect round is 30 s; a walk and a dig on top */
const RECOVERY_BOUND_MS = 75_000;

test('fault: half of 10 namespaces cut off (then split in two halves), lookups on each side, reconnect, cross lookups recover', { timeout: 420_000 }, async (t: TestContext) => {
  const skip = skipUnlessNetns();
  if (skip) {
    t.skip(skip);
    return;
  }
  const daemons: Daemon[] = [];
  const tmp = tempDir('kadnode-partition');
  let net: Network | undefined;
  t.after(async () => {
    await Promise.all(daemons.map((d) => d.stop(5000)));
    net?.destroy();
    tmp.remove();
  });
  net = createNetwork(HOSTS, { prefix: `kn-${process.pid}-pt` });
  const hosts = net.hosts;
  const sideA = hosts.slice(0, SIDE);
  const sideB = hosts.slice(SIDE);
  const link = async (state: 'up' | 'down') => {
    for (const h of sideB) {
      const r = await run(undefined, 'ip', ['-n', net!.bridgeNs, 'link', 'set', `v${h.index}`, state]);
      assert.equal(r.code, 0, r.stderr);
    }
  };
  /** A records of `name` asked on host i (1-based), or the status when there are none */
  const resolve = async (i: number, name: string): Promise<string> => {
    const r = await dig(['@127.0.0.1', '-p', String(DNS_PORT), name, 'A', '+tries=1', '+timeout=4'], { netns: hosts[i - 1]!.name, timeoutMs: 15_000 });
    const a = r.answers.filter((x) => x.type === 'A').map((x) => x.data);
    return a.length ? a.join(',') : r.status;
  };
  /** Polls every host of `on` until each resolves `name` to `ip`; returns ms per host (undefined: never within bound) */
  const until = async (on: typeof hosts, name: string, ip: string, boundMs: number): Promise<Map<number, number | undefined>> => {
    const t0 = performance.now();
    const done = new Map<number, number | undefined>(on.map((h) => [h.index, undefined]));
    while (performance.now() - t0 < boundMs && [...done.values()].some((v) => v === undefined)) {
      await Promise.all(on.filter((h) => done.get(h.index) === undefined).map(async (h) => {
        if ((await resolve(h.index, name)) === ip) done.set(h.index, performance.now() - t0);
      }));
      if ([...done.values()].some((v) => v === undefined)) await sleep(1000);
    }
    return done;
  };
  const show = (m: Map<number, number | undefined>) => [...m].map(([i, ms]) => `host ${i}: ${ms === undefined ? 'never' : `${(ms / 1000).toFixed(1)} s`}`).join(', ');

  // ---- start: host 1 announces a.p2p, host 6 b.p2p; everyone bootstraps from host 1
  const peerfile = emptyPeerFile(tmp.path);
  const common = ['--port', String(DHT_PORT), '--dns-port', String(DNS_PORT), '--cmd-port', String(CMD_PORT), '--cmd-disable-stdin'];
  daemons.push(await startDaemon({ args: [...common, '--peerfile', peerfile, '--value-id', 'a.p2p'], netns: hosts[0]!.name, stdin: 'ignore', label: 'host 1' }));
  daemons.push(...(await Promise.all(hosts.slice(1).map((h) => startDaemon({
    args: [...common, '--peer', `${hosts[0]!.ip}:${DHT_PORT}`, ...(h.index === 6 ? ['--value-id', 'b.p2p'] : [])],
    netns: h.name,
    stdin: 'ignore',
    label: `host ${h.index}`,
  })))));
  const formed = await (async () => {
    for (let i = 0; i < 60; i++) {
      const counts = await Promise.all(hosts.map(async (h) => parseStatus((await kadnodeCtl(['-p', String(CMD_PORT), 'status'], { netns: h.name })).stdout).dhtNodes ?? 0));
      if (counts.every((c) => c >= HOSTS - 2)) return counts;
      await sleep(1000);
    }
    return undefined;
  })();
  assert.ok(formed, 'the DHT formed (every host knows 8 others)');
  // both names spread before the cut (K = 20 > 10: every node stores them)
  const before = await until(hosts.filter((h) => h.index !== 1 && h.index !== 6), 'a.p2p', hosts[0]!.ip, 30_000);
  assert.ok([...before.values()].every((v) => v !== undefined), `a.p2p before the cut: ${show(before)}`);

  // ---- cut side B off
  await link('down');
  const cutAt = performance.now();
  // names announced while cut: on side A by host 2, on side B by host 7 (for the whole run)
  for (const [i, name] of [[2, 'a2.p2p'], [7, 'b2.p2p']] as const) {
    const r = await kadnodeCtl(['-p', String(CMD_PORT), 'announce', name, '-1'], { netns: hosts[i - 1]!.name });
    assert.equal(r.code, 0, r.stderr);
  }
  const oldA = await until(sideA.slice(1), 'a.p2p', hosts[0]!.ip, 30_000);
  const newA = await until(sideA.filter((h) => h.index !== 2), 'a2.p2p', hosts[1]!.ip, 45_000);
  const ownB = await Promise.all([[6, 'b.p2p'], [7, 'b2.p2p']].map(async ([i, name]) => `${name} on host ${i}: ${await resolve(i as number, name as string)}`));
  t.diagnostic(`while cut: a.p2p on side A ${show(oldA)}; a2.p2p (announced after the cut) on side A ${show(newA)}; side B answers its own names: ${ownB.join(', ')}`);
  assert.ok(ownB.every((l) => l.endsWith('127.0.0.1')), ownB.join(', '));
  if ([...newA.values()].some((v) => v === undefined)) {
    for (const h of hosts) {
      const st = await kadnodeCtl(['-p', String(CMD_PORT), 'list', 'storage'], { netns: h.name });
      const vals = await kadnodeCtl(['-p', String(CMD_PORT), 'list', 'values'], { netns: h.name });
      const status = await kadnodeCtl(['-p', String(CMD_PORT), 'status'], { netns: h.name });
      t.diagnostic(`host ${h.index}: storage ${st.stdout.trim().replace(/\n/g, ' | ')}; values ${vals.stdout.trim()}; ${status.stdout.split('\n').filter((l) => /nodes|searches/.test(l)).join('; ')}`);
    }
  }
  for (const m of [oldA, newA]) assert.ok([...m.values()].every((v) => v !== undefined), `a side stopped resolving its own names: ${show(m)}`);
  const crossWhileCut = await resolve(3, 'b2.p2p');
  // side B looks for side A's new name: each walk times out on the nodes it cannot reach and drops them
  const fromB = await Promise.all(sideB.map((h) => resolve(h.index, 'a2.p2p')));
  await sleep(Math.max(0, 25_000 - (performance.now() - cutAt)));
  const tablesB = await Promise.all(sideB.map(async (h) => parseStatus((await kadnodeCtl(['-p', String(CMD_PORT), 'status'], { netns: h.name })).stdout).dhtNodes));
  t.diagnostic(`while cut: b2.p2p from host 3 (side A): ${crossWhileCut}; a2.p2p from side B: ${fromB.join(' ')}; DHT nodes on side B: ${tablesB.join(' ')}; cut for ${Math.round((performance.now() - cutAt) / 1000)} s`);
  assert.notEqual(crossWhileCut, hosts[6]!.ip, 'side A cannot know a name announced on side B after the cut');
  assert.ok(fromB.every((r) => r !== hosts[1]!.ip), 'side B cannot know a name announced on side A after the cut');

  // ---- reconnect: every host of one side resolves the name announced on the other side during the cut
  await link('up');
  const upAt = performance.now();
  const [crossA, crossB] = await Promise.all([
    until(sideA, 'b2.p2p', hosts[6]!.ip, RECOVERY_BOUND_MS),
    until(sideB, 'a2.p2p', hosts[1]!.ip, RECOVERY_BOUND_MS),
  ]);
  const all = [...crossA.values(), ...crossB.values()];
  const worst = Math.max(...all.map((v) => v ?? Infinity));
  t.diagnostic(`after reconnect: b2.p2p on side A ${show(crossA)}`);
  t.diagnostic(`after reconnect: a2.p2p on side B ${show(crossB)}`);
  t.diagnostic(`recovery: every cross lookup answered ${(worst / 1000).toFixed(1)} s after the links came up (bound ${RECOVERY_BOUND_MS / 1000} s; ${Math.round((performance.now() - upAt) / 1000)} s measured in all)`);
  assert.ok(all.every((v) => v !== undefined), 'every host resolves the other side\'s new name after the reconnect');
  assert.ok(worst < RECOVERY_BOUND_MS);

  // ---- split: side B's ports move to a bridge of their own, so both halves keep working, apart
  const ipBr = async (args: string[]) => {
    const r = await run(undefined, 'ip', ['-n', net!.bridgeNs, ...args]);
    assert.equal(r.code, 0, `ip ${args.join(' ')}: ${r.stderr}`);
  };
  await ipBr(['link', 'add', 'br1', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
  await ipBr(['link', 'set', 'br1', 'up']);
  for (const h of sideB) await ipBr(['link', 'set', `v${h.index}`, 'master', 'br1']);
  const splitAt = performance.now();
  for (const [i, name] of [[3, 'a3.p2p'], [8, 'b3.p2p']] as const) {
    const r = await kadnodeCtl(['-p', String(CMD_PORT), 'announce', name, '-1'], { netns: hosts[i - 1]!.name });
    assert.equal(r.code, 0, r.stderr);
  }
  const inA = await until(sideA.filter((h) => h.index !== 3), 'a3.p2p', hosts[2]!.ip, 45_000);
  const inB = await until(sideB.filter((h) => h.index !== 8), 'b3.p2p', hosts[7]!.ip, 45_000);
  t.diagnostic(`split in two halves: a3.p2p on side A ${show(inA)}; b3.p2p on side B ${show(inB)}`);
  assert.ok([...inA.values(), ...inB.values()].every((v) => v !== undefined), 'each half resolves its own new name');
  // cross lookups while split: each half's walks time out on the other half's nodes and drop them
  const crossSplit = await Promise.all([...sideA.map((h) => resolve(h.index, 'b3.p2p')), ...sideB.map((h) => resolve(h.index, 'a3.p2p'))]);
  await sleep(Math.max(0, 30_000 - (performance.now() - splitAt)));
  const tables = await Promise.all(hosts.map(async (h) => parseStatus((await kadnodeCtl(['-p', String(CMD_PORT), 'status'], { netns: h.name })).stdout).dhtNodes));
  t.diagnostic(`while split: cross lookups ${crossSplit.join(' ')}; DHT nodes per host: ${tables.join(' ')}; split for ${Math.round((performance.now() - splitAt) / 1000)} s`);
  assert.ok(!crossSplit.includes(hosts[2]!.ip) && !crossSplit.includes(hosts[7]!.ip), 'a half cannot know the other half\'s new name');

  // ---- rejoin: both halves still have nodes, so nothing bootstraps; the dropped nodes are pinged again
  for (const h of sideB) await ipBr(['link', 'set', `v${h.index}`, 'master', 'br0']);
  const joinedAt = performance.now();
  const [joinA, joinB] = await Promise.all([
    until(sideA, 'b3.p2p', hosts[7]!.ip, RECOVERY_BOUND_MS),
    until(sideB, 'a3.p2p', hosts[2]!.ip, RECOVERY_BOUND_MS),
  ]);
  const joined = [...joinA.values(), ...joinB.values()];
  const worstJoin = Math.max(...joined.map((v) => v ?? Infinity));
  t.diagnostic(`after the halves rejoin: b3.p2p on side A ${show(joinA)}`);
  t.diagnostic(`after the halves rejoin: a3.p2p on side B ${show(joinB)}`);
  t.diagnostic(`recovery after the split: every cross lookup answered ${(worstJoin / 1000).toFixed(1)} s after the halves were joined (bound ${RECOVERY_BOUND_MS / 1000} s; ${Math.round((performance.now() - joinedAt) / 1000)} s measured in all)`);
  assert.ok(joined.every((v) => v !== undefined), 'every host resolves the other half\'s new name after the rejoin');

  const dead = daemons.filter((d) => !d.alive);
  assert.equal(dead.length, 0, dead.map((d) => `${d.label}: ${d.tail()}`).join('\n'));
});
