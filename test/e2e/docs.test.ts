import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { OPTIONS } from '../../src/options.js';
import { haveCommand, repoRoot } from './harness.js';

const helpText = execFileSync(process.execPath, [join(repoRoot, 'bin/kadnode'), '--help'], { encoding: 'utf8' });
const options = [...new Set([...helpText.matchAll(/^\s+(?:-\w, )?(--[a-z][a-z0-9-]+)/gm)].map((m) => m[1]!))];

test('kadnode --help lists the options', () => {
  assert.ok(options.length >= 15, `found ${options.join(' ')}`);
  assert.ok(options.includes('--value-id') && options.includes('--auth-add-skey'));
});

/** The full option table lives in docs/options.md; the README has a summary of the most used ones. */
const OPTIONS_DOC = 'docs/options.md';

test('every option of --help is in the man page and docs/options.md', () => {
  // roff writes '-' as '\-'
  const man = readFileSync(join(repoRoot, 'man/kadnode.1'), 'utf8').replaceAll('\\-', '-');
  const doc = readFileSync(join(repoRoot, OPTIONS_DOC), 'utf8');
  for (const option of options) {
    assert.ok(man.includes(option), `${option} missing from man/kadnode.1`);
    assert.ok(doc.includes(option), `${option} missing from ${OPTIONS_DOC}`);
  }
});

/** A markdown option table (rows starting with `--option`): option name → its default cell, backticks dropped. */
function tableDefaults(markdown: string): Map<string, string> {
  const cells = new Map<string, string>();
  for (const line of markdown.split('\n')) {
    const row = line.split(/(?<!\\)\|/).map((c) => c.trim());
    const name = /^`(--[a-z0-9-]+)[ `]/.exec(row[1] ?? '')?.[1];
    if (row[0] === '' && name && row.length >= 4) cells.set(name, row[2]!.replaceAll('`', ''));
  }
  return cells;
}

/** The man page's paragraph of an option (from its .TP tag to the next .TP or section) as plain text. */
function manParagraph(man: string, option: string): string | undefined {
  const lines = man.split('\n');
  const tag = new RegExp(`^\\.(B|BI|BR) ${option}( |"|$)`);
  const start = lines.findIndex((l, i) => lines[i - 1] === '.TP' && tag.test(l));
  if (start < 0) return undefined;
  const end = lines.findIndex((l, i) => i > start && /^\.(TP|SH|SS|PP)\b/.test(l));
  return lines
    .slice(start, end < 0 ? undefined : end)
    .map((l) => l.replace(/^\.[A-Z]+ ?/, '').replaceAll('"', '').replace(/\\f[BIRP]/g, ''))
    .join(' ')
    .replace(/\s+/g, ' ');
}

test('docs/options.md, man page and --help state the defaults of the option table', () => {
  const man = readFileSync(join(repoRoot, 'man/kadnode.1'), 'utf8').replaceAll('\\-', '-');
  const table = tableDefaults(readFileSync(join(repoRoot, OPTIONS_DOC), 'utf8'));
  const help = helpText.replace(/\s+/g, ' ');
  let checked = 0;
  for (const spec of OPTIONS) {
    const option = `--${spec.name}`;
    const cell = table.get(option);
    assert.ok(cell !== undefined, `${option} has no row in the option table of ${OPTIONS_DOC}`);
    if (spec.default === undefined) {
      assert.ok(['–', 'off', ''].includes(cell), `${OPTIONS_DOC}: ${option} has no default, the table says '${cell}'`);
      continue;
    }
    assert.equal(cell, spec.default, `${OPTIONS_DOC}: the default of ${option}`);
    const paragraph = manParagraph(man, option);
    assert.ok(paragraph, `${option} has no paragraph in man/kadnode.1`);
    // the values of the default (addresses, numbers, names), whatever words the man page puts around them
    const values = spec.default.includes(' ') ? spec.default.split(' ').map((w) => w.replace(/[,;]$/, '')).filter((w) => /[\d.:-]/.test(w)) : [spec.default];
    for (const value of values) assert.ok(paragraph.includes(value), `man/kadnode.1: ${option} does not state '${value}' (default ${spec.default}): ${paragraph}`);
    assert.ok(help.includes(`(default ${spec.default})`), `--help: the default of ${option}`);
    checked++;
  }
  assert.ok(checked >= 12, `only ${checked} defaults compared`);
});

test("the README's option summary states the option table's defaults and points to the full table", () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const rows = tableDefaults(readme);
  assert.ok(rows.size >= 8 && rows.size <= 16, `the README's option summary has ${rows.size} rows (8..16: the most used options)`);
  for (const [option, cell] of rows) {
    const spec = OPTIONS.find((s) => `--${s.name}` === option);
    assert.ok(spec, `README: ${option} is not an option`);
    if (spec.default === undefined) assert.ok(['–', 'off', ''].includes(cell), `README: ${option} has no default, the table says '${cell}'`);
    else assert.equal(cell, spec.default, `README: the default of ${option}`);
  }
  assert.ok(readme.includes(`](${OPTIONS_DOC})`) && readme.includes('man kadnode'), `README: no link to ${OPTIONS_DOC} or mention of man kadnode`);
});

/** README.md and every docs/*.md, as paths relative to the repository. */
function documents(): string[] {
  const docs = readdirSync(join(repoRoot, 'docs')).filter((f) => f.endsWith('.md')).sort();
  return ['README.md', ...docs.map((f) => `docs/${f}`)];
}

/** The link targets of a markdown text, outside fenced code blocks and code spans. */
function linkTargets(markdown: string): string[] {
  const prose = markdown.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => m[1]!);
}

test('README.md stays under 20 KB', () => {
  const size = statSync(join(repoRoot, 'README.md')).size;
  assert.ok(size < 20_000, `README.md is ${size} bytes: move detail into docs/ (one topic a file)`);
});

test('every docs file starts with a title and a line of what it covers, and the README links each', () => {
  const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
  const docs = documents().slice(1);
  assert.ok(docs.length >= 10, `only ${docs.length} files in docs/`);
  for (const doc of docs) {
    const lines = readFileSync(join(repoRoot, doc), 'utf8').split('\n');
    assert.match(lines[0]!, /^# \S/, `${doc}: the first line is not a '# Title'`);
    assert.equal(lines[1], '', `${doc}: no blank line after the title`);
    assert.match(lines[2] ?? '', /^[A-Za-z`*[]/, `${doc}: the title is not followed by a line of what the file covers`);
    assert.ok(readme.includes(`](${doc})`), `README.md does not link ${doc}`);
  }
});

test('every relative link in README.md and docs/*.md names an existing file, without an anchor', () => {
  let checked = 0;
  for (const doc of documents()) {
    for (const target of linkTargets(readFileSync(join(repoRoot, doc), 'utf8'))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // https:, mailto:
      assert.ok(!target.includes('#'), `${doc}: link '${target}' has an anchor (headings move; link the file)`);
      const path = join(repoRoot, dirname(doc), decodeURIComponent(target));
      assert.ok(!relative(repoRoot, path).startsWith('..'), `${doc}: link '${target}' leaves the repository`);
      assert.ok(existsSync(path), `${doc}: link '${target}' names no file (${relative(repoRoot, path)})`);
      checked++;
    }
  }
  assert.ok(checked >= 30, `only ${checked} relative links found`);
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
