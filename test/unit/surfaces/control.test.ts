// The control port (src/surfaces/control.ts): its bounds. At most 16 connections, the one idle the
// longest makes room for a newcomer, and clients that never close are let go after the time-out. The
// commands it runs: commands.test.ts; end to end over the real daemon: test/e2e/commands.test.ts.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { silentLogger } from '../../../src/log.js';
import { ControlSurface } from '../../../src/surfaces/control.js';
import { echoCommands, rawClient } from '../../helpers/line-surface.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function ask(port: number, line: string): Promise<string> {
  const c = rawClient(port, line + '\n');
  await Promise.race([once(c.socket, 'close'), sleep(3000)]);
  c.socket.destroy();
  return c.reply();
}

test('control port: 16 connections; when full a newcomer evicts the one idle the longest; clients that never close are let go after the time-out', { timeout: 30_000 }, async (t) => {
  const control = new ControlSurface(echoCommands, silentLogger, { port: 0, addresses: ['127.0.0.1'] });
  await control.start();
  t.after(() => control.stop());
  const port = control.ports()[0]!;
  // 8 send nothing, 8 send a command and keep their side open without reading to the end
  const idle = Array.from({ length: 8 }, () => rawClient(port));
  const lingering = Array.from({ length: 8 }, () => rawClient(port, 'status\n'));
  await sleep(300);
  const sockets = (control as unknown as { sockets: { size: number } }).sockets;
  assert.equal(sockets.size, 16);
  const extra = rawClient(port, 'status\n');
  await Promise.race([extra.closed, sleep(2000)]);
  assert.equal(extra.reply(), '0ran status\n', 'the 17th connection is served');
  assert.equal(await Promise.race([idle[0]!.closed.then(() => 'closed'), sleep(1000).then(() => 'open')]), 'closed', 'the one idle the longest made room');
  extra.socket.destroy();
  const t0 = performance.now();
  await Promise.all([...idle, ...lingering].map((c) => Promise.race([c.closed, sleep(9000)])));
  const ms = performance.now() - t0;
  await sleep(100);
  assert.equal(sockets.size, 0, `every connection let go (after ${Math.round(ms)} ms)`);
  for (const c of [...idle, ...lingering]) c.socket.destroy();
  assert.equal(await ask(port, 'status'), '0ran status\n');
});
