// The stdin console: lines in order, whatever the chunks; readline loads with the first bytes, and a
// console stopped before any input leaves stdin as it found it.
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { ConsoleSurface } from '../../../src/surfaces/console.js';
import { echoCommands } from '../../helpers/line-surface.js';

function consoleOver() {
  const input = new PassThrough();
  const output = new PassThrough();
  let out = '';
  output.on('data', (b: Buffer) => (out += b.toString()));
  const surface = new ConsoleSurface({ commands: echoCommands, input, output, errors: new PassThrough() });
  surface.start();
  return { input, surface, out: () => out };
}

const settle = () => new Promise((r) => setTimeout(r, 50));

test('lines split anywhere, the first chunk included, run in the order typed', async (t) => {
  const c = consoleOver();
  t.after(() => c.surface.stop());
  c.input.write('sta');
  await settle();
  c.input.write('tus\nlookup a.p2p\r\nlook');
  await settle();
  c.input.write('up b.p2p\n');
  await settle();
  assert.equal(c.out(), 'ran status\nran lookup a.p2p\nran lookup b.p2p\n');
});

test('stopped before any input: no listener left on stdin, which is paused again', () => {
  const c = consoleOver();
  assert.equal(c.input.listenerCount('data'), 1, 'waits for the first bytes');
  c.surface.stop();
  assert.equal(c.input.listenerCount('data'), 0);
  assert.equal(c.input.isPaused(), true);
});
