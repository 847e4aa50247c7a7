// The command line: node's parseArgs alone (the daemon's usual start) must read exactly what yargs reads, and
// hand every case yargs has to speak about (help, version, errors, unknown options) to yargs.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseArgs, quickParse, yargsParse } from '../../../src/cli/argv.js';
import { UsageError } from '../../../src/errors.js';
import { OPTION_BY_NAME, OPTIONS } from '../../../src/options.js';

/** the options and positionals of a parse, without yargs' `$0` */
function options(parsed: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(parsed).filter(([k]) => k === '_' || OPTION_BY_NAME.has(k)));
}

async function yargsOutcome(argv: string[]): Promise<Record<string, unknown> | string> {
  try {
    return options(await yargsParse(argv));
  } catch (err) {
    if (err instanceof UsageError) return `error: ${err.message}`;
    throw err;
  }
}

const VALID: string[][] = [
  [],
  ['--port', '7000', '--dns-port', '0'],
  ['--port=7000', '--value-id', 'a.p2p', '--value-id', 'b.p2p:80'],
  ['--value-id', 'a.p2p', '--daemon', '--value-id=c.p2p', '--lpd-disable'],
  ['--peer', '::1', '--peer', '10.201.0.1:6881', '--mode', 'dual'],
  ['--port', '1', '--port', '2'],
  ['--query-tld', '.example', '--verbosity', 'debug', '--cmd-disable-stdin'],
  ['--fwd-disable', '--fwd-disable', '--web-addr=v'],
];

test('valid command lines: parseArgs alone reads what yargs reads', async () => {
  for (const argv of VALID) {
    const quick = quickParse(argv);
    assert.ok(quick, `handled without yargs: ${argv.join(' ')}`);
    assert.deepEqual(options(quick), await yargsOutcome(argv), argv.join(' '));
  }
  // valid, but parseArgs takes a value starting with a dash for a missing one: yargs reads it
  assert.equal(quickParse(['--port', '-5']), null);
  assert.deepEqual(await parseArgs(['--port', '-5']), { port: '-5' });
});

test('help, version and every mistake go to yargs, which names the mistake', async () => {
  for (const argv of [['--help'], ['-h'], ['--version'], ['-v'], ['--port', '1', '--help']]) assert.equal(quickParse(argv), null, argv.join(' '));
  const cases: Array<[string[], RegExp]> = [
    [['--bogus'], /^Unknown argument: bogus$/],
    [['stray'], /^Unknown argument: stray$/],
    [['--port'], /^Not enough arguments following: port$/],
    [['--value-id', '--daemon'], /^Not enough arguments following: value-id$/],
    [['--no-daemon'], /^Unknown argument: no-daemon$/],
    [['--', 'x'], /^Unknown argument/],
    [['-x'], /^Unknown argument: x$/],
    [['--value-id', '-', '--cmd-port', '1'], /^Not enough arguments following: value-id$/],
  ];
  for (const [argv, message] of cases) {
    assert.equal(quickParse(argv), null, argv.join(' '));
    await assert.rejects(parseArgs(argv), (err: Error) => err instanceof UsageError && message.test(err.message), argv.join(' '));
  }
  await assert.rejects(parseArgs(['--port', '1', '--port', '2']), (err: Error) => err instanceof UsageError && err.message === 'Option was already set: --port');
  await assert.rejects(parseArgs(['--daemon=yes']), /No value expected for --daemon: 'yes'/);
});

test('random command lines: whatever parseArgs alone accepts, yargs reads the same', async () => {
  const names = OPTIONS.map((o) => o.name);
  const token = fc.oneof(
    fc.constantFrom(...names.map((n) => `--${n}`), '--bogus', '--', '-x', '--no-daemon', '-'),
    fc.constantFrom(...names).map((n) => `--${n}=v`),
    fc.constantFrom('1', '-1', 'a.p2p', '::1', '', 'true', 'false'),
  );
  let quick = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(token, { maxLength: 6 }), async (argv) => {
      const fast = quickParse(argv);
      const full = await yargsOutcome(argv);
      if (fast === null) return;
      quick++;
      assert.deepEqual(options(fast), full, argv.join(' '));
    }),
    { numRuns: 2000, seed: 20261206 },
  );
  assert.ok(quick > 20, `the property saw command lines parseArgs took alone (${quick})`);
});
