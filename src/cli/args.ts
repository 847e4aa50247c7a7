// The daemon's command line → RawOptions. A plain command line (what init scripts and services pass:
// known long options and their values) is read here directly; anything else goes to yargs, which
// also prints --help and --version and words every error. yargs is loaded only then: it costs a
// running daemon ~3.5 MB of resident memory.
import { OPTION_BY_NAME, OPTIONS, type RawOptions } from '../options.js';
import { VERSION_LINE } from '../version.js';

/** An error the operator caused: printed as one line, exit code 1. */
export class UsageError extends Error {}

export async function parseArgs(argv: string[]): Promise<RawOptions> {
  // yargs reads `--daemon=yes` as false without a word; a value given to a flag is an error.
  for (const arg of argv) {
    if (arg === '--') break;
    const m = /^--([^=]+)=(.*)$/s.exec(arg);
    if (m && OPTION_BY_NAME.get(m[1]!)?.value === false) throw new UsageError(`No value expected for --${m[1]}: '${m[2]}'`);
  }
  return parsePlainArgs(argv) ?? parseWithYargs(argv);
}

/**
 * The options of a plain command line, exactly as yargs would give them, or null when it is not plain:
 * every argument is a known `--option` (a value option followed by its value or written `--option=value`),
 * no option twice unless repeatable, no value that is empty or starts with `-`, no positional argument,
 * no --help / --version / short option.
 */
export function parsePlainArgs(argv: readonly string[]): RawOptions | null {
  const raw: RawOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) return null;
    const eq = arg.indexOf('=');
    const spec = OPTION_BY_NAME.get(eq < 0 ? arg.slice(2) : arg.slice(2, eq));
    if (!spec) return null;
    let value: string | boolean;
    if (!spec.value) {
      if (eq >= 0) return null;
      value = true;
    } else {
      const v = eq >= 0 ? arg.slice(eq + 1) : argv[++i];
      if (v === undefined || v === '' || v.startsWith('-')) return null;
      value = v;
    }
    const before = raw[spec.name];
    if (spec.repeatable) raw[spec.name] = [...((before as string[] | undefined) ?? []), value as string];
    else if (before !== undefined) return null;
    else raw[spec.name] = value;
  }
  return raw;
}

export async function parseWithYargs(argv: string[]): Promise<RawOptions> {
  const { default: yargs } = await import('yargs');
  let parser = yargs(argv)
    .scriptName('kadnode')
    .usage('Usage: kadnode [options]\n\nA P2P DNS resolver on the BitTorrent Mainline DHT: answers <name>.p2p from the DHT.')
    .parserConfiguration({ 'camel-case-expansion': false, 'duplicate-arguments-array': true, 'strip-aliased': true, 'boolean-negation': false });
  for (const spec of OPTIONS) {
    parser = parser.option(spec.name, spec.value ? { type: 'string', array: spec.repeatable ?? false, requiresArg: true, describe: spec.describe } : { type: 'boolean', describe: spec.describe });
  }
  const parsed = parser
    .version('version', 'Print the version and exit', VERSION_LINE)
    .alias('version', 'v')
    .help('help', 'Print this help and exit')
    .alias('help', 'h')
    .strict()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .exitProcess(true)
    .fail((message) => {
      throw new UsageError(message?.split('\n')[0] || 'invalid arguments');
    })
    .parseSync();

  const positional = parsed._;
  if (positional.length > 0) throw new UsageError(`Unknown argument: '${String(positional[0])}'`);
  const raw: RawOptions = {};
  for (const [key, value] of Object.entries(parsed)) {
    const spec = OPTION_BY_NAME.get(key);
    if (!spec || value === undefined) continue;
    if (!spec.repeatable && Array.isArray(value)) throw new UsageError(`Option was already set: --${key}`);
    raw[key] = value as string | string[] | boolean;
  }
  return raw;
}
