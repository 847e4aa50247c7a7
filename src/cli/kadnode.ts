// Command line of the daemon: yargs definitions → Config → Daemon. Nothing else lives here.
import yargs from 'yargs';
import { buildConfig, ConfigError } from '../config.js';
import { Daemon } from '../daemon.js';
import { encodeZ32Key, generateKeyPair } from '../identity/keys.js';
import { createLogger } from '../log.js';
import { OPTION_BY_NAME, OPTIONS, type RawOptions } from '../options.js';
import { VERSION_LINE } from '../version.js';

function fail(message: string): never {
  process.stderr.write(`kadnode: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv: string[]): RawOptions {
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
    .fail((message) => fail(message.split('\n')[0] ?? 'invalid arguments'))
    .parseSync();

  const positional = parsed._;
  if (positional.length > 0) fail(`Unknown argument: '${String(positional[0])}'`);
  const raw: RawOptions = {};
  for (const [key, value] of Object.entries(parsed)) {
    const spec = OPTION_BY_NAME.get(key);
    if (!spec || value === undefined) continue;
    if (!spec.repeatable && Array.isArray(value)) fail(`Option was already set: --${key}`);
    raw[key] = value as string | string[] | boolean;
  }
  return raw;
}

function printNewKeys(): void {
  const { publicKey, secretKey } = generateKeyPair();
  process.stdout.write(`public key: ${publicKey.toString('hex')}\nsecret key: ${secretKey.toString('hex')}\npublic key (z-base32): ${encodeZ32Key(publicKey)}\n`);
}

async function main(): Promise<void> {
  const raw = parseArgs(process.argv.slice(2));
  if (raw['auth-gen-keys'] === true) return printNewKeys();
  let config;
  try {
    config = buildConfig(raw);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  const log = createLogger(config.verbosity);
  log.info(`Starting ${VERSION_LINE}`);
  const daemon = new Daemon(config, log);
  let exiting = false;
  const shutdown = (signal: string) => {
    if (exiting) return;
    exiting = true;
    log.info(`Shutting down (${signal})...`);
    void daemon.stop().then(() => process.exit(0));
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  try {
    await daemon.start();
  } catch (err) {
    fail((err as Error).message);
  }
}

void main();
