import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePlainArgs, parseWithYargs } from '../../src/cli/args.js';

// The daemon reads a plain command line without yargs; it must come out exactly as yargs reads it.
const plain: string[][] = [
  [],
  ['--port', '6881'],
  ['--port=6881', '--dns-port', '0', '--web-port=0'],
  ['--value-id', 'a.p2p', '--value-id=b.p2p:80', '--peer', '1.2.3.4:6881', '--peer', '[::1]:7000'],
  ['--daemon', '--lpd-disable', '--fwd-disable', '--cmd-disable-stdin', '--pidfile', '/run/k.pid', '--user', 'nobody'],
  ['--config', '/etc/kadnode/kadnode.conf', '--verbosity', 'debug', '--mode', 'dual', '--dns-addr', '127.0.0.1', '--dns-addr', '::1'],
  ['--auth-add-pkey', '*.a:' + 'ab'.repeat(32), '--query-tld', '.p2p', '--dns-server', '8.8.8.8:53', '--user', ' x y '],
  ['--port=0x10', '--peerfile=a=b', '--auth-gen-keys'],
];
const notPlain: string[][] = [
  ['--help'], ['-h'], ['--version'], ['-v'], ['--nope'], ['--port'], ['--port', '--dns-port', '1'], ['--port', '-1'], ['--port='],
  ['--query-tld', ''], ['--port', '1', '--port', '2'], ['--daemon', '--daemon'], ['--peer', 'a', 'b'], ['positional'], ['--', '--port', '1'],
  ['--no-daemon'], ['--dht_addr', 'x'], ['--daemon=yes'],
];

test('a plain command line gives what yargs gives', async () => {
  for (const argv of plain) assert.deepEqual(parsePlainArgs(argv), await parseWithYargs(argv), argv.join(' '));
});

test('anything else is left to yargs', () => {
  for (const argv of notPlain) assert.equal(parsePlainArgs(argv), null, argv.join(' '));
});
