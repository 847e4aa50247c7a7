// writeFileAtomic under kill -9: a child rewrites a large file in a loop and dies at random moments;
// the file must always hold one whole version. (A plain fs.writeFile in the same loop leaves torn files.)
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';

const SIZE = 4 * 1024 * 1024;
const moduleUrl = new URL('../../../src/net/peerfile.js', import.meta.url).href;

function writerScript(path: string, plain: boolean): string {
  return `
    import { writeFileSync } from 'node:fs';
    import { writeFileAtomic } from ${JSON.stringify(moduleUrl)};
    const versions = ['a', 'b', 'c'].map((c) => c.repeat(${SIZE}));
    for (let i = 0; ; i++) {
      const content = versions[i % 3];
      if (${plain}) writeFileSync(${JSON.stringify(path)}, content);
      else await writeFileAtomic(${JSON.stringify(path)}, content);
      if (i === 0) process.stdout.write('go\\n');
    }`;
}

async function tornFiles(path: string, plain: boolean, rounds: number): Promise<number> {
  let torn = 0;
  for (let round = 0; round < rounds; round++) {
    const child = spawn(process.execPath, ['--input-type=module', '-e', writerScript(path, plain)], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`writer exited ${code}`)));
    });
    await new Promise((r) => setTimeout(r, 5 + Math.floor(Math.random() * 60)));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const content = readFileSync(path, 'latin1');
    const whole = content.length === SIZE && /^(a+|b+|c+)$/.test(content);
    if (!whole) torn++;
  }
  return torn;
}

test('kill -9 during writeFileAtomic never leaves a torn file', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kadnode-atomic-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'peers.txt');
  writeFileSync(path, 'a'.repeat(SIZE));
  assert.equal(await tornFiles(path, false, 20), 0);
});

// Shows the test has teeth: the same loop with a plain write tears the file.
test('control: a plain write in the same loop does tear the file', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kadnode-atomic-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'peers.txt');
  writeFileSync(path, 'a'.repeat(SIZE));
  const torn = await tornFiles(path, true, 20);
  t.diagnostic(`plain writes: ${torn} of 20 kills left a torn file`);
  assert.ok(torn > 0, 'expected at least one torn file from plain writes');
});

