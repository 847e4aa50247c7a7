// The peer file: imported while the routing table is empty, exported atomically (a kill -9 at any
// moment leaves the old or the new file), and a restart from it alone answers within seconds.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { dig, parseStatus, pickPorts, retry, skipUnlessDig, startDaemon, tempDir, type Daemon } from './harness.js';

const PEER_LINE = /^127\.0\.0\.1:(\d+)$/;

/** The file holds a whole export: at least one line, every line a peer we started, a final newline. */
function checkWhole(path: string, ports: Set<number>): number {
  const text = readFileSync(path, 'utf8');
  assert.ok(text.endsWith('\n'), `truncated file: ${JSON.stringify(text)}`);
  const lines = text.slice(0, -1).split('\n');
  for (const line of lines) {
    const m = PEER_LINE.exec(line);
    assert.ok(m && ports.has(Number(m[1])), `unexpected line ${JSON.stringify(line)} in ${JSON.stringify(text)}`);
  }
  return lines.length;
}

test('peer file: import while empty, atomic export under kill -9, warm restart', { timeout: 180_000 }, async (t) => {
  const skip = skipUnlessDig();
  if (skip) return t.skip(skip);
  const dir = tempDir('kadnode-peerfile');
  const daemons: Daemon[] = [];
  t.after(async () => {
    await Promise.all(daemons.map((d) => d.stop()));
    dir.remove();
  });
  const [s1, s2, s3, x, xDns, xCmd, lateSeed] = await pickPorts(7);
  const seedPorts = new Set([s1!, s2!, s3!, lateSeed!]);
  const common = ['--cmd-disable-stdin', '--dns-port', '0', '--cmd-port', '0'];
  const start = async (args: string[]) => {
    const d = await startDaemon({ args, stdin: 'ignore' });
    daemons.push(d);
    return d;
  };

  // Phase 1: the only listed peer is not up yet; the node joins once it comes up.
  const file = join(dir.path, 'peers.txt');
  writeFileSync(file, `# one peer, not started yet\n127.0.0.1:${lateSeed}\n`);
  const xArgs = ['--port', String(x), '--peerfile', file, '--peerfile-save-interval', '1', '--peerfile-min-uptime', '0', '--dns-port', String(xDns), '--cmd-port', String(xCmd), '--cmd-disable-stdin'];
  let node = await start(xArgs);
  await new Promise((r) => setTimeout(r, 1500));
  await start(['--port', String(lateSeed), '--peer', `127.0.0.1:${s1}`, ...common]);
  const joined = await retry(async () => {
    const r = await node.ctl(xCmd!, ['status']);
    return (parseStatus(r.stdout).dhtNodes ?? 0) >= 1 ? true : undefined;
  }, { tries: 40, timeoutMs: 30_000, intervalMs: 500 });
  assert.equal(joined.value, true, 'the node joined the peer that came up after it');
  t.diagnostic(`joined a late peer ${Math.round(joined.ms)} ms after asking`);

  // The other seeds; one announces a name for the warm restart.
  await start(['--port', String(s1), '--peer', `127.0.0.1:${lateSeed}`, '--value-id', 'warm.p2p:4711', ...common]);
  await start(['--port', String(s2), '--peer', `127.0.0.1:${s1}`, ...common]);
  await start(['--port', String(s3), '--peer', `127.0.0.1:${s1}`, ...common]);

  const exported = await retry(async () => {
    if (!existsSync(file)) return undefined;
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    return lines.length >= 3 && lines.every((l) => PEER_LINE.test(l)) ? lines.length : undefined;
  }, { tries: 60, timeoutMs: 45_000, intervalMs: 500 });
  assert.ok(exported.value, `the peer file was exported: ${readFileSync(file, 'utf8')}`);
  checkWhole(file, seedPorts);
  await node.stop();
  daemons.splice(daemons.indexOf(node), 1);

  // Phase 2: kill -9 at random moments while the node exports every second.
  let writes = 0;
  let lastWrite = statSync(file).mtimeMs;
  for (let round = 0; round < 12; round++) {
    node = await start(xArgs.filter((a, i, all) => a !== '--peer' && all[i - 1] !== '--peer'));
    await new Promise((r) => setTimeout(r, 700 + Math.floor(Math.random() * 1500)));
    node.signal('SIGKILL');
    await node.exited;
    daemons.splice(daemons.indexOf(node), 1);
    checkWhole(file, seedPorts);
    const mtime = statSync(file).mtimeMs;
    if (mtime !== lastWrite) writes++;
    lastWrite = mtime;
  }
  assert.ok(writes >= 6, `the file was rewritten during the kill rounds (${writes} of 12)`);
  t.diagnostic(`kill -9 rounds: 12, rounds with a rewrite: ${writes}, file always whole`);

  // Phase 3: a restart from the peer file alone answers a lookup within 5 s of starting.
  const t0 = performance.now();
  node = await start(xArgs);
  const answer = await retry(async () => {
    const r = await dig(['@127.0.0.1', '-p', String(xDns), 'warm.p2p', 'SRV', '+tries=1', '+timeout=2']);
    return r.status === 'NOERROR' && r.answers.some((a) => a.type === "SRV" && a.data.includes(" 4711 ")) ? r : undefined;
  }, { tries: 10, timeoutMs: 10_000, intervalMs: 200 });
  const ms = performance.now() - t0;
  assert.ok(answer.value, 'the restarted node answers from the peers it saved');
  assert.ok(ms < 5000, `answered ${Math.round(ms)} ms after start`);
  t.diagnostic(`warm restart: start to first answer ${Math.round(ms)} ms`);
  assert.deepEqual(readdirSync(dir.path).filter((n) => n.endsWith('.tmp')), [], 'stale temporary files are cleaned up');
});
