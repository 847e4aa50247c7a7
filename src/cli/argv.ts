// The daemon's command line → RawOptions, from the option table (src/options.ts).
//
// yargs builds `--help`, `--version` and every usage error. The plain case, a daemon started with valid
// options (every boot of a router), is read by node's own util.parseArgs: yargs loads cliui and
// string-width (with an ICU word segmenter), ~8 MB of resident memory kept for the life of the process,
// and even its parser alone is ~0.5 MB. Whenever parseArgs finds anything but known options with their
// values, yargs parses the same argv and says what is wrong. test/unit/cli/argv.test.ts holds the two to
// the same result.
import { parseArgs as nodeParseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import { helpText, OPTION_BY_NAME, OPTIONS, type RawOptions } from '../options.js';
import { VERSION_LINE } from '../version.js';

const PARSER_CONFIGURATION = { 'camel-case-expansion': false, 'duplicate-arguments-array': true, 'strip-aliased': true, 'boolean-negation': false } as const;

type Parsed = Record<string, unknown> & { _: Array<string | number> };

// every option may be given twice here: parseArgs() below refuses it, as for yargs' result
const NODE_OPTIONS = Object.fromEntries(OPTIONS.map((o) => [o.name, { type: o.value ? ('string' as const) : ('boolean' as const), multiple: true }]));

/** node's parseArgs alone, in yargs' shape: the options, or null when yargs has to speak (help, version, any error or unknown). */
export function quickParse(argv: readonly string[]): Parsed | null {
  // a lone `-` is a value to parseArgs and a missing one to yargs
  if (argv.includes('-')) return null;
  let values: Record<string, Array<string | boolean> | undefined>;
  try {
    values = nodeParseArgs({ args: [...argv], options: NODE_OPTIONS, strict: true, allowPositionals: false }).values as typeof values;
  } catch {
    return null;
  }
  const parsed: Parsed = { _: [] };
  for (const [name, given] of Object.entries(values)) {
    const spec = OPTION_BY_NAME.get(name);
    if (!spec || !given) continue;
    // yargs reads a flag given twice as given once, and a value given twice as an array (refused below)
    parsed[name] = !spec.value ? true : spec.repeatable || given.length > 1 ? given : given[0];
  }
  return parsed;
}

/** yargs: prints help or the version and exits, or throws the UsageError it reports. */
export async function yargsParse(argv: readonly string[]): Promise<Parsed> {
  const { default: yargs } = await import('yargs');
  let parser = yargs([...argv])
    .scriptName('kadnode')
    .usage('Usage: kadnode [options]\n\nA P2P DNS resolver on the BitTorrent Mainline DHT: answers <name>.p2p from the DHT.')
    .parserConfiguration(PARSER_CONFIGURATION);
  for (const spec of OPTIONS) {
    parser = parser.option(spec.name, spec.value ? { type: 'string', array: spec.repeatable, requiresArg: true, describe: helpText(spec) } : { type: 'boolean', describe: helpText(spec) });
  }
  return parser
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
    .parseSync() as Parsed;
}

/** The command line's options; every mistake is a UsageError of one line. */
export async function parseArgs(argv: readonly string[]): Promise<RawOptions> {
  // yargs reads `--daemon=yes` as false without a word; a value given to a flag is an error.
  for (const arg of argv) {
    if (arg === '--') break;
    const m = /^--([^=]+)=(.*)$/s.exec(arg);
    if (m && OPTION_BY_NAME.get(m[1]!)?.value === false) throw new UsageError(`No value expected for --${m[1]}: '${m[2]}'`);
  }
  const parsed = quickParse(argv) ?? (await yargsParse(argv));
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
