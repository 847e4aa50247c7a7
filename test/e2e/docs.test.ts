import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { haveCommand, repoRoot } from './harness.js';

const helpText = execFileSync(process.execPath, [join(repoRoot, 'bin/kadnode'), '--help'], { encoding: 'utf8' });
const options = [...new Set([...helpText.matchAll(/^\s+(?:-\w, )?(--[a-z][a-z0-9-]+)/gm)].map((m) => m[1]!))];

test('kadnode --help lists the options', () => {
  assert.ok(options.length >= 15, `found ${options.join(' ')}`);
  assert.ok(options.includes('--value-id') && options.includes('--auth-add-skey'));
});

test('every option of --help is in the man page and the README', () => {
  // roff writes '-' as '\-'
  const man = readFileSync(join(repoRoot, 'man/kadnode.1'), 'utf8').replaceAll('\\-', '-');
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  for (const option of options) {
    assert.ok(man.includes(option), `${option} missing from man/kadnode.1`);
    assert.ok(readme.includes(option), `${option} missing from README.md`);
  }
});

test('the man pages render without warnings', (t) => {
  if (!haveCommand('man')) return t.skip('man is not installed');
  for (const page of ['man/kadnode.1', 'man/kadnode-ctl.1']) {
    const run = spawnSync('man', ['--warnings', '-l', join(repoRoot, page)], { encoding: 'utf8', env: { ...process.env, MANWIDTH: '80', MANPAGER: 'cat', PAGER: 'cat' } });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr.trim(), '', `${page}: ${run.stderr}`);
    assert.match(run.stdout, /NAME/);
  }
});
