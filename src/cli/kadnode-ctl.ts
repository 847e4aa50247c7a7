// kadnode-ctl: send one command to the daemon's control port and print the reply.
import net from 'node:net';
import yargs from 'yargs';
import type { ConfigError } from '../errors.js';
import { parsePort } from '../option-values.js';
import { parseOptions } from '../options.js';

const REPLY_TIMEOUT_MS = 30_000;
/** the daemon's --cmd-port default, from its option table */
const DEFAULT_CMD_PORT = parseOptions({})['cmd-port'];

function fail(message: string, code = 2): never {
  process.stderr.write(`kadnode-ctl: ${message}\n`);
  process.exit(code);
}

const args = yargs(process.argv.slice(2))
  .scriptName('kadnode-ctl')
  .usage('Usage: kadnode-ctl [-p <port>] <command> [<args>...]\n\nCommands: status, lookup <name>, announce [<name>[:<port>] [<minutes>]], import <addr>, export, blacklist <addr>,\nlist blacklist|buckets|constants|forwardings|results|searches|storage|values, help')
  .parserConfiguration({ 'camel-case-expansion': false, 'halt-at-non-option': true, 'parse-positional-numbers': false, 'parse-numbers': false })
  .option('p', { alias: 'port', type: 'string', requiresArg: true, describe: `Control port of the daemon (default ${DEFAULT_CMD_PORT})` })
  .help('help', 'Print this help and exit')
  .alias('help', 'h')
  .version(false)
  .strict()
  .fail((message) => fail(message.split('\n')[0] ?? 'invalid arguments'))
  .parseSync();

let port: number;
try {
  port = args.p !== undefined ? parsePort('port', String(args.p), false) : DEFAULT_CMD_PORT;
} catch (err) {
  fail((err as ConfigError).message);
}
const words = args._.map(String);
if (words.length === 0) fail('no command given (try: kadnode-ctl help)');

const socket = net.connect({ port, host: '127.0.0.1' });
const chunks: Buffer[] = [];
socket.setTimeout(REPLY_TIMEOUT_MS, () => fail(`no reply from the daemon on 127.0.0.1:${port} within ${REPLY_TIMEOUT_MS / 1000} s`));
socket.on('connect', () => socket.write(words.join(' ') + '\n'));
socket.on('data', (chunk) => chunks.push(chunk));
socket.on('error', (err: NodeJS.ErrnoException) => {
  const why = err.code === 'ECONNREFUSED' ? 'no daemon listening' : err.code ?? err.message;
  fail(`${why} on 127.0.0.1:${port}`);
});
socket.on('end', () => {
  const reply = Buffer.concat(chunks).toString('utf8');
  const status = reply[0];
  if (status !== '0' && status !== '1') fail('invalid reply from the daemon');
  const text = reply.slice(1);
  if (status === '0') process.stdout.write(text);
  else process.stderr.write(text);
  process.exit(status === '0' ? 0 : 1);
});
