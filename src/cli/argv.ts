// The daemon's command line → RawOptions, from the option table (src/options.ts).
//
// yargs builds `--help`, `--version` and every usage error. The plain case, a daemon started with valid
// options (every boot of a router), is parsed by yargs-parser, the parser yargs itself runs, given the
// same option types and configuration: yargs loads cliui and string-width (with an ICU word segmenter),
// ~8 MB of resident memory kept for the life of the process; yargs-parser costs ~1.5 MB. Whenever
// yargs-parser's result is anything but known options with their values, yargs parses the same argv and
// says what is wrong. test/unit/cli/argv.test.ts holds the two to the same result.
import yargsParser from 'yargs-parser';
import { UsageError } from '../errors.js';
import { helpText, OPTION_BY_NAME, OPTIONS, type RawOptions } from '../options.js';
import { VERSION_LINE } from '../version.js';

const PARSER_CONFIGURATION = { 'camel-case-expansion': false, 'duplicate-arguments-array': true, 'strip-aliased': true, 'boolean-negation': false } as const;

type Parsed = Record<string, unknown> & { _: Array<string | number> };

/** The options yargs is given and what it hands to yargs-parser for them (requiresArg is nargs 1). */
function parserOptions(): yargsParser.Options {
  const values = OPTIONS.filter((o) => o.value);
  return {
    configuration: PARSER_CONFIGURATION,
    string: values.map((o) => o.name),
    array: values.filter((o) => o.repeatable).map((o) => o.name),
    boolean: [...OPTIONS.filter((o) => !o.value).map((o) => o.name), 'help', 'version'],
    narg: Object.fromEntries(values.map((o) => [o.name, 1])),
    alias: { help: ['h'], version: ['v'] },
  };
}

/** yargs-parser alone: the options, or null when yargs has to speak (help, version, any error or unknown). */
export function quickParse(argv: readonly string[]): Parsed | null {
  const { argv: parsed, error } = yargsParser.detailed([...argv], parserOptions());
  if (error || parsed._.length > 0) return null;
  for (const key of Object.keys(parsed)) {
    if (key !== '_' && !OPTION_BY_NAME.has(key)) return null;
  }
  return parsed as Parsed;
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
