// The one reader of operator files (zone, key, config, peer file): only regular files (links followed),
// refused at once otherwise, and the size bound holds on the bytes read, not on what stat() says.
import assert from 'node:assert/strict';
import { spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileKind, nonRegularKind, readRegularFile, readRegularFileSync, type ReadFileResult } from '../../../src/util/read-file.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'kadnode-read-file-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const kindOf = (r: ReadFileResult) => (!r.ok && r.problem === 'not-regular' ? r.kind : `not refused as not regular: ${JSON.stringify(r.ok ? 'ok' : r.problem)}`);

test('a regular file, also through a link, is read whole up to the bound', async () => {
  const file = join(dir, 'zone.txt');
  writeFileSync(file, 'x'.repeat(100));
  const link = join(dir, 'link.txt');
  symlinkSync(file, link);
  for (const path of [file, link]) {
    for (const r of [readRegularFileSync(path, 100), await readRegularFile(path, 100)]) {
      assert.ok(r.ok, path);
      assert.equal(r.bytes.toString(), 'x'.repeat(100));
      assert.ok(r.stats.isFile());
    }
  }
  for (const r of [readRegularFileSync(file, 99), await readRegularFile(file, 99)]) assert.deepEqual(r, { ok: false, problem: 'too-large', maxBytes: 99 });
});

test('/dev/zero, a directory and a link to a device are refused, naming what they are', async () => {
  const link = join(dir, 'zero-link');
  symlinkSync('/dev/zero', link);
  const cases: [string, string][] = [
    ['/dev/zero', 'a character device'],
    [link, 'a character device'],
    [dir, 'a directory'],
  ];
  for (const [path, kind] of cases) {
    const t0 = performance.now();
    assert.equal(kindOf(readRegularFileSync(path, 1024 * 1024)), kind, path);
    assert.equal(kindOf(await readRegularFile(path, 1024 * 1024)), kind, path);
    assert.ok(performance.now() - t0 < 1000, `${path} took ${Math.round(performance.now() - t0)} ms`);
  }
});

test('a listening UNIX socket is refused as a socket', async (t) => {
  const path = join(dir, 'sock');
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(path, resolve));
  t.after(() => server.close());
  assert.equal(kindOf(readRegularFileSync(path, 4096)), 'a socket');
  assert.equal(kindOf(await readRegularFile(path, 4096)), 'a socket');
});

test('a FIFO without a writer is refused at once (in a child process: a blocking open would hang it, not fail)', () => {
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', ['-m', '600', fifo]);
  const module = new URL('../../../src/util/read-file.js', import.meta.url).href;
  const script = `
    const { readRegularFileSync, readRegularFile } = await import(${JSON.stringify(module)});
    const kind = (r) => (r.ok ? 'read' : r.kind ?? r.problem);
    console.log(JSON.stringify([kind(readRegularFileSync(process.argv[1], 4096)), kind(await readRegularFile(process.argv[1], 4096))]));`;
  const t0 = performance.now();
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script, fifo], { timeout: 10_000, killSignal: 'SIGKILL', encoding: 'utf8' });
  const ms = performance.now() - t0;
  assert.equal(child.signal, null, `the reader hung on the FIFO (killed after ${Math.round(ms)} ms)`);
  assert.equal(child.status, 0, child.stderr);
  assert.deepEqual(JSON.parse(child.stdout), ['a FIFO (named pipe)', 'a FIFO (named pipe)']);
  assert.ok(ms < 5000, `${Math.round(ms)} ms`);
});

test('the bound holds on the bytes read: /proc files claim size 0 but are longer', async () => {
  const path = '/proc/self/status';
  assert.equal(statSync(path).size, 0);
  for (const r of [readRegularFileSync(path, 16), await readRegularFile(path, 16)]) assert.deepEqual(r, { ok: false, problem: 'too-large', maxBytes: 16 });
  const whole = readRegularFileSync(path, 64 * 1024);
  assert.ok(whole.ok && whole.bytes.toString().startsWith('Name:'));
});

test('a missing or unreadable file is a read error with its code', async () => {
  const missing = join(dir, 'missing');
  for (const r of [readRegularFileSync(missing, 10), await readRegularFile(missing, 10)]) {
    assert.ok(!r.ok && r.problem === 'unreadable');
    assert.equal(r.error.code, 'ENOENT');
  }
});

test('nonRegularKind: null for a missing or regular file, what it is otherwise', () => {
  const file = join(dir, 'peers.txt');
  writeFileSync(file, '');
  assert.equal(nonRegularKind(join(dir, 'not-yet')), null);
  assert.equal(nonRegularKind(file), null);
  assert.equal(nonRegularKind('/dev/null'), 'a character device');
  assert.equal(nonRegularKind(dir), 'a directory');
  assert.equal(fileKind(statSync(file)), 'a regular file');
});
