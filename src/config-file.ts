// The --config file (KADNODE-1.x §1.1, without its defects): the options of the command line, one a line.
//
//   --option value      one option per line, written as on the command line (also --option=value);
//   --flag              an option without a value;
//   # comment           a '#' starts a comment anywhere in a line, blank lines are ignored;
//   --opt "a b # c"     a value may be wrapped in '...' or "..." (no escapes): it may then hold spaces
//                       and '#'. A quote inside an unquoted word is an error, never silently dropped
//                       (KadNode 1.x replaced every quote by a space).
//
// Every line is checked as the command line is: known option, value or no value, one value, not a
// command-line-only option (--config, --auth-gen-keys), not given twice unless repeatable, and its value
// through its option's parse in the option table (options.ts). Every error names the file and the line.
import { ConfigError, ConfigFileError } from './errors.js';
import { OPTION_BY_NAME, type RawOptions } from './options.js';
import { readRegularFileSync } from './util/read-file.js';

/** A config file larger than this is refused (a typo like --config /var/log/syslog should not hang us). */
export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;
/** Characters per line, comment included. */
export const MAX_CONFIG_LINE_LENGTH = 1000;

// every failure here is a ConfigFileError (src/errors.ts) naming the file and the line
export { ConfigFileError };

export interface ConfigFile {
  /** as given to --config */
  path: string;
  /** repeatable options as lists, the others as strings, flags as true */
  options: RawOptions;
  /** the line each option was (first) set in */
  lines: Map<string, number>;
}

/** "ENOENT: no such file or directory, open 'x'" → "no such file or directory". */
export function describeFsError(err: unknown): string {
  const message = (err as Error)?.message ?? String(err);
  const m = /^[A-Z0-9_]+: ([^,]+)/.exec(message);
  return m ? m[1]! : message;
}

/** Splits one line into words; quotes wrap a whole word; '#' outside quotes ends the line. */
export function splitConfigLine(line: string): string[] {
  const words: string[] = [];
  let i = 0;
  const isSpace = (c: string | undefined) => c === ' ' || c === '\t';
  while (i < line.length) {
    const c = line[i]!;
    if (isSpace(c)) {
      i++;
    } else if (c === '#') {
      break;
    } else if (c === '"' || c === "'") {
      const end = line.indexOf(c, i + 1);
      if (end < 0) throw new Error(`Unterminated quote (${c})`);
      const after = line[end + 1];
      if (after !== undefined && !isSpace(after) && after !== '#') throw new Error('A closing quote must end the value');
      words.push(line.slice(i + 1, end));
      i = end + 1;
    } else {
      let j = i;
      while (j < line.length && !isSpace(line[j]) && line[j] !== '#') {
        if (line[j] === '"' || line[j] === "'") throw new Error('A quote inside a word (quote the whole value)');
        j++;
      }
      words.push(line.slice(i, j));
      i = j;
    }
  }
  return words;
}


const asList = (v: string | string[] | boolean): string[] => (Array.isArray(v) ? v : [String(v)]);

/** Parses the text of a config file; `file` is only used in error messages. */
export function parseConfigText(text: string, file: string): ConfigFile {
  const options: RawOptions = {};
  const lines = new Map<string, number>();
  const source = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const all = source.split('\n');
  // a final newline does not start another line
  if (all.length > 1 && all[all.length - 1] === '') all.pop();
  all.forEach((rawLine, index) => {
    const lineNo = index + 1;
    const fail = (reason: string): never => {
      throw new ConfigFileError(file, lineNo, reason);
    };
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line.length > MAX_CONFIG_LINE_LENGTH) fail(`Line too long (more than ${MAX_CONFIG_LINE_LENGTH} characters)`);
    // eslint-disable-next-line no-control-regex
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(line)) fail('Control character in line (not a text file?)');
    let words: string[];
    try {
      words = splitConfigLine(line);
    } catch (err) {
      return fail((err as Error).message);
    }
    if (words.length === 0) return;

    let [first, ...values] = words as [string, ...string[]];
    if (!first.startsWith('--')) {
      const known = OPTION_BY_NAME.has(first.replace(/=.*$/, ''));
      fail(known ? `Options are written as on the command line: '--${first}', not '${first}'` : `Option expected (like --port 6881), not '${first}'`);
    }
    const eq = first.indexOf('=');
    if (eq > 2) {
      values = [first.slice(eq + 1), ...values];
      first = first.slice(0, eq);
    }
    const name = first.slice(2);
    const spec = OPTION_BY_NAME.get(name);
    if (!spec) return fail(`Unknown option: '${first}'`);
    if (spec.commandLineOnly) fail(`--${name} is not allowed inside a configuration file (command line only)`);
    if (!spec.value && values.length > 0) fail(`No value expected for --${name}: '${values[0]}'`);
    if (spec.value && values.length === 0) fail(`Missing value for --${name}`);
    if (values.length > 1) fail(`Too many values for --${name}: one expected (quote a value that contains spaces)`);
    const value: string | true = spec.value ? values[0]! : true;
    if (value === '') fail(`Empty value for --${name}`);
    const previous = lines.get(name);
    if (previous !== undefined && !spec.repeatable) fail(`Option was already set in line ${previous}: --${name}`);
    // The value through its option's own parse; rules between options (--pkarr-key with --pkarr-zone,
    // conflicting key patterns, value ids against keys) wait for the whole set (config.ts).
    try {
      if (value !== true) spec.parse?.(value);
    } catch (err) {
      if (err instanceof ConfigError) fail(err.message);
      throw err;
    }
    if (previous === undefined) lines.set(name, lineNo);
    options[name] = spec.repeatable ? [...asList(options[name] ?? []), value as string] : value;
  });
  return { path: file, options, lines };
}

/** Reads and parses a config file; every failure is a ConfigFileError naming the file. */
export function readConfigFile(path: string): ConfigFile {
  const fail = (reason: string): never => {
    throw new ConfigFileError(path, undefined, reason);
  };
  // Only a regular file: /dev/zero would be read to the bound, a FIFO (also --config <(...)) could block.
  const read = readRegularFileSync(path, MAX_CONFIG_FILE_BYTES);
  if (!read.ok) {
    if (read.problem === 'not-regular') return fail(`A file expected, this is ${read.kind}`);
    if (read.problem === 'too-large') return fail(`Configuration file too large (more than ${MAX_CONFIG_FILE_BYTES} bytes)`);
    return fail(`Cannot open the configuration file: ${describeFsError(read.error)}`);
  }
  const bytes = read.bytes;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return fail('Not a text file (invalid UTF-8)');
  }
  return parseConfigText(text, path);
}

/**
 * Combines the command line with a config file: a non-repeatable option in both is an error (in the
 * file's line); repeatable options are combined, command line first.
 */
export function mergeOptions(commandLine: RawOptions, file: ConfigFile): RawOptions {
  const merged: RawOptions = { ...commandLine };
  for (const [name, value] of Object.entries(file.options)) {
    if (value === undefined) continue;
    const existing = merged[name];
    if (existing === undefined) {
      merged[name] = value;
      continue;
    }
    const spec = OPTION_BY_NAME.get(name);
    if (!spec?.repeatable) throw new ConfigFileError(file.path, file.lines.get(name), `Option was already set on the command line: --${name}`);
    merged[name] = [...asList(existing), ...asList(value)];
  }
  return merged;
}
