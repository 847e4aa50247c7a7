// Command line of the daemon: yargs definitions → Config → Daemon. Nothing else lives here.
import yargs from 'yargs';
import { buildConfig, ConfigError, DEFAULTS, type RawOptions } from '../config.js';
import { Daemon } from '../daemon.js';
import { encodeZ32Key, generateKeyPair } from '../identity/keys.js';
import { createLogger } from '../log.js';
import { VERSION_LINE } from '../version.js';

const REPEATABLE = new Set(['peer', 'value-id', 'dns-addr', 'auth-add-skey', 'auth-add-pkey']);

function fail(message: string): never {
  process.stderr.write(`kadnode: ${message}\n`);
  process.exit(1);
}

function parseArgs(argv: string[]): RawOptions {
  const parsed = yargs(argv)
    .scriptName('kadnode')
    .usage('Usage: kadnode [options]\n\nA P2P DNS resolver on the BitTorrent Mainline DHT: answers <name>.p2p from the DHT.')
    .parserConfiguration({ 'camel-case-expansion': false, 'duplicate-arguments-array': true, 'strip-aliased': true, 'boolean-negation': false })
    .option('value-id', { type: 'string', array: true, requiresArg: true, describe: 'Announce <name>[:<port>] (repeatable); port defaults to the DHT port' })
    .option('auth-gen-keys', { type: 'boolean', describe: 'Print a new ed25519 key pair (hex, and the public key in z-base32) and exit' })
    .option('auth-add-skey', { type: 'string', array: true, requiresArg: true, describe: 'Secret key for announcing [<pattern>:]<128 hex> or [<pattern>:]@<file> (repeatable)' })
    .option('auth-add-pkey', { type: 'string', array: true, requiresArg: true, describe: 'Public key for verifying lookups [<pattern>:]<64 hex> (repeatable)' })
    .option('peer', { type: 'string', array: true, requiresArg: true, describe: 'Bootstrap peer <addr>[:<port>] (repeatable)' })
    .option('peerfile', { type: 'string', requiresArg: true, describe: 'File with bootstrap peers, one per line (default: the bundled peers.txt unless --peer is given)' })
    .option('port', { type: 'string', requiresArg: true, describe: `DHT UDP port (default ${DEFAULTS.port})` })
    .option('dht-addr', { type: 'string', requiresArg: true, describe: `Address the DHT socket binds to (default ${DEFAULTS.dhtAddress})` })
    .option('query-tld', { type: 'string', requiresArg: true, describe: `Top-level domain of DHT names (default ${DEFAULTS.queryTld})` })
    .option('dns-port', { type: 'string', requiresArg: true, describe: `DNS port, UDP and TCP; 0 disables (default ${DEFAULTS.dnsPort})` })
    .option('dns-addr', { type: 'string', array: true, requiresArg: true, describe: 'Address the DNS server binds to (repeatable; default 127.0.0.1 and ::1)' })
    .option('cmd-port', { type: 'string', requiresArg: true, describe: `Control port for kadnode-ctl, TCP on loopback; 0 disables (default ${DEFAULTS.cmdPort})` })
    .option('cmd-disable-stdin', { type: 'boolean', describe: 'Do not read console commands from standard input' })
    .option('verbosity', { type: 'string', requiresArg: true, describe: 'quiet, verbose or debug (default verbose)' })
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
  for (const [key, value] of Object.entries(parsed)) {
    if (key === '_' || key === '$0') continue;
    if (!REPEATABLE.has(key) && Array.isArray(value)) fail(`Option was already set: --${key}`);
  }
  return parsed as unknown as RawOptions;
}

function printNewKeys(): void {
  const { publicKey, secretKey } = generateKeyPair();
  process.stdout.write(`public key: ${publicKey.toString('hex')}\nsecret key: ${secretKey.toString('hex')}\npublic key (z-base32): ${encodeZ32Key(publicKey)}\n`);
}

async function main(): Promise<void> {
  const raw = parseArgs(process.argv.slice(2));
  if ((raw as { 'auth-gen-keys'?: boolean })['auth-gen-keys']) return printNewKeys();
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
