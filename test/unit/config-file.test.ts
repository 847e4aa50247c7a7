import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { buildConfig, ConfigError } from '../../src/config.js';
import {
  ConfigFileError,
  MAX_CONFIG_FILE_BYTES,
  MAX_CONFIG_LINE_LENGTH,
  mergeOptions,
  parseConfigText,
  readConfigFile,
  splitConfigLine,
} from '../../src/config-file.js';
import { PACKAGE_ROOT } from '../../src/version.js';

const F = '/etc/kadnode.conf';
const parse = (text: string) => parseConfigText(text, F);

/** Asserts that parsing fails with exactly `message` (which includes file and line). */
function fails(text: string, message: string | RegExp): void {
  assert.throws(
    () => parse(text),
    (err: Error) => {
      assert.ok(err instanceof ConfigFileError, `not a ConfigFileError: ${err}`);
      assert.ok(err instanceof ConfigError, 'a ConfigError like every option error');
      if (typeof message === 'string') assert.equal(err.message, message);
      else assert.match(err.message, message);
      return true;
    },
    JSON.stringify(text),
  );
}

const SKEY = 'a'.repeat(128);

describe('config file lines', () => {
  test('one option per line, flags, comments, blank lines, CRLF', () => {
    const c = parse('# a comment\n\n--port 6882\r\n  --dns-port\t0   # trailing comment\n--daemon\n   \t\n--verbosity debug#no space needed\n');
    assert.deepEqual(c.options, { port: '6882', 'dns-port': '0', daemon: true, verbosity: 'debug' });
    assert.equal(c.lines.get('port'), 3);
    assert.equal(c.lines.get('verbosity'), 7);
    assert.equal(c.path, F);
  });

  test('--option=value is the same as --option value', () => {
    assert.deepEqual(parse('--port=6882\n--query-tld=p2p\n').options, { port: '6882', 'query-tld': 'p2p' });
  });

  test('repeatable options collect every line in order', () => {
    const c = parse('--peer 127.0.0.1:1\n--value-id a.p2p\n--peer 127.0.0.1:2\n');
    assert.deepEqual(c.options.peer, ['127.0.0.1:1', '127.0.0.1:2']);
    assert.deepEqual(c.options['value-id'], ['a.p2p']);
    assert.equal(c.lines.get('peer'), 1, 'the first line of a repeatable option');
  });

  test('quotes wrap a whole value, which may hold spaces and #', () => {
    assert.deepEqual(splitConfigLine(`--peerfile "/a b/#peers.txt" # c`), ['--peerfile', '/a b/#peers.txt']);
    assert.deepEqual(splitConfigLine(`--peerfile '/x y'`), ['--peerfile', '/x y']);
    assert.deepEqual(splitConfigLine(`'--port' "1"#c`), ['--port', '1']);
    assert.deepEqual(splitConfigLine(`--value-id "it's.p2p"`), ['--value-id', "it's.p2p"]);
    assert.deepEqual(parse(`--peerfile "/var/lib/kadnode/my peers.txt"\n--port '6881'\n`).options, { peerfile: '/var/lib/kadnode/my peers.txt', port: '6881' });
  });

  test('a UTF-8 byte order mark and a missing final newline are fine', () => {
    assert.deepEqual(parse('\uFEFF--port 1\n--dns-port 2').options, { port: '1', 'dns-port': '2' });
    assert.deepEqual(parse('').options, {});
    assert.deepEqual(parse('\n\n# only comments\n').options, {});
  });
});

describe('config file errors name the file and the line', () => {
  test('a bad value, with the message of the command line', () => {
    fails('# comment\n\n--peer 127.0.0.1:9\n\n--dns-port 0\n--cmd-port 0\n--port 70000\n', `${F}:7: Invalid port for --port: '70000' (1..65535 expected)`);
    fails('--verbosity loud\n', `${F}:1: Invalid --verbosity: 'loud' (quiet, verbose or debug expected)`);
    fails('--dns-addr 127.0.0.1\n--dns-addr localhost\n', `${F}:2: Invalid address for --dns-addr: 'localhost' (an IPv4 or IPv6 address expected)`);
    fails('--peer 1.2.3.4:99999\n', /^\/etc\/kadnode\.conf:1: Invalid --peer /);
    fails('--value-id foo.p2p:70000\n', /^\/etc\/kadnode\.conf:1: Invalid port for --value-id/);
    fails(`\n--auth-add-skey x.p2p:${SKEY.slice(2)}\n`, /^\/etc\/kadnode\.conf:2: .*128/);
  });

  test('unknown options and words that are not options', () => {
    fails('--port 1\n--bogus 1\n', `${F}:2: Unknown option: '--bogus'`);
    fails('-p 1\n', `${F}:1: Option expected (like --port 6881), not '-p'`);
    fails('\n\nport 6881\n', `${F}:3: Options are written as on the command line: '--port', not 'port'`);
    fails('hello world\n', `${F}:1: Option expected (like --port 6881), not 'hello'`);
    fails('--help\n', `${F}:1: Unknown option: '--help'`);
  });

  test('missing value, value for a flag, more than one value, empty value', () => {
    fails('--port\n', `${F}:1: Missing value for --port`);
    fails('--port # 6881\n', `${F}:1: Missing value for --port`);
    fails('--daemon yes\n', `${F}:1: No value expected for --daemon: 'yes'`);
    fails('--lpd-disable=1\n', `${F}:1: No value expected for --lpd-disable: '1'`);
    fails('--port 1 2\n', `${F}:1: Too many values for --port: one expected (quote a value that contains spaces)`);
    fails('--peerfile /a b\n', /:1: Too many values for --peerfile/);
    fails('--port ""\n', `${F}:1: Empty value for --port`);
    fails('--port=\n', `${F}:1: Empty value for --port`);
  });

  test('command-line-only options', () => {
    fails('--port 1\n--config /etc/other.conf\n', `${F}:2: --config is not allowed inside a configuration file (command line only)`);
    fails('--auth-gen-keys\n', `${F}:1: --auth-gen-keys is not allowed inside a configuration file (command line only)`);
  });

  test('an option twice in the file', () => {
    fails('--port 1\n# x\n--port 2\n', `${F}:3: Option was already set in line 1: --port`);
    fails('--daemon\n--daemon\n', `${F}:2: Option was already set in line 1: --daemon`);
  });

  test('quotes that do not wrap a whole value', () => {
    fails('--peerfile "/a b\n', `${F}:1: Unterminated quote (")`);
    fails(`--peerfile /a'b\n`, `${F}:1: A quote inside a word (quote the whole value)`);
    fails(`--peerfile "/a"b\n`, `${F}:1: A closing quote must end the value`);
  });

  test('line length and control characters', () => {
    parse(`--peerfile /${'x'.repeat(MAX_CONFIG_LINE_LENGTH - 12)}\n`);
    fails(`--port 1\n--peerfile /${'x'.repeat(MAX_CONFIG_LINE_LENGTH)}\n`, `${F}:2: Line too long (more than ${MAX_CONFIG_LINE_LENGTH} characters)`);
    fails('--port 1\0\n', `${F}:1: Control character in line (not a text file?)`);
  });
});

describe('config file and command line together', () => {
  const file = parseConfigText('--port 6882\n--peer 127.0.0.1:2\n--daemon\n--value-id b.p2p\n', F);

  test('options from both are combined; repeatable ones command line first', () => {
    const merged = mergeOptions({ config: F, 'dns-port': '0', peer: ['127.0.0.1:1'], 'value-id': 'a.p2p' }, file);
    assert.deepEqual(merged, { config: F, 'dns-port': '0', port: '6882', peer: ['127.0.0.1:1', '127.0.0.1:2'], daemon: true, 'value-id': ['a.p2p', 'b.p2p'] });
    const config = buildConfig(merged);
    assert.equal(config.port, 6882);
    assert.equal(config.dnsPort, 0);
    assert.equal(config.daemon, true);
    assert.deepEqual(config.valueIds.map((v) => v.query), ['a.p2p', 'b.p2p']);
  });

  test('a non-repeatable option in both is an error in the file line', () => {
    assert.throws(() => mergeOptions({ port: '7000' }, file), { message: `${F}:1: Option was already set on the command line: --port` });
    assert.throws(() => mergeOptions({ daemon: true }, file), { message: `${F}:3: Option was already set on the command line: --daemon` });
  });
});

describe('reading the file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kadnode-config-file-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a readable file', () => {
    const p = join(dir, 'ok.conf');
    writeFileSync(p, '--port 6882\n');
    assert.deepEqual(readConfigFile(p).options, { port: '6882' });
  });

  test('a missing file, a directory', () => {
    assert.throws(() => readConfigFile(join(dir, 'missing.conf')), { message: `${join(dir, 'missing.conf')}: Cannot open the configuration file: no such file or directory` });
    assert.throws(() => readConfigFile(dir), { message: `${dir}: A file expected, this is a directory` });
  });

  test('a device, a FIFO: refused at once, naming what they are (never read, never waited on)', () => {
    const fifo = join(dir, 'fifo.conf');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    assert.throws(() => readConfigFile('/dev/zero'), { message: '/dev/zero: A file expected, this is a character device' });
    // an open() of a FIFO without a writer would block here for good (the test runner's time-out ends it)
    assert.throws(() => readConfigFile(fifo), { message: `${fifo}: A file expected, this is a FIFO (named pipe)` });
  });

  test('an unreadable file', () => {
    const p = join(dir, 'secret.conf');
    writeFileSync(p, '--port 1\n');
    chmodSync(p, 0);
    const expected = `${p}: Cannot open the configuration file: permission denied`;
    if (process.getuid?.() !== 0) {
      assert.throws(() => readConfigFile(p), { message: expected });
      return;
    }
    // Root reads any file: read it as nobody instead.
    const moduleUrl = new URL('../../src/config-file.js', import.meta.url).href;
    const script = `import { readConfigFile } from ${JSON.stringify(moduleUrl)}; try { readConfigFile(${JSON.stringify(p)}); console.log('read'); } catch (e) { console.log(e.message); }`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { uid: 65534, gid: 65534, encoding: 'utf8' });
    assert.equal(out.trim(), expected);
  });

  test('size bound and binary content', () => {
    const big = join(dir, 'big.conf');
    writeFileSync(big, '#'.repeat(MAX_CONFIG_FILE_BYTES + 1));
    assert.throws(() => readConfigFile(big), { message: `${big}: Configuration file too large (more than ${MAX_CONFIG_FILE_BYTES} bytes)` });
    const bin = join(dir, 'bin.conf');
    writeFileSync(bin, Buffer.from([0x2d, 0x2d, 0xff, 0xfe, 0x0a]));
    assert.throws(() => readConfigFile(bin), { message: `${bin}: Not a text file (invalid UTF-8)` });
  });

  test('errors from the file carry its line through readConfigFile', () => {
    const p = join(dir, 'bad.conf');
    writeFileSync(p, '--port 6881\n--port 6882\n');
    assert.throws(() => readConfigFile(p), { message: `${p}:2: Option was already set in line 1: --port` });
  });
});

test('packaging/kadnode.conf is accepted and gives the defaults', () => {
  const path = fileURLToPath(new URL('packaging/kadnode.conf', PACKAGE_ROOT));
  const file = readConfigFile(path);
  assert.ok(Object.keys(file.options).length >= 4, JSON.stringify(file.options));
  const config = buildConfig(mergeOptions({ config: path }, file));
  const defaults = buildConfig({});
  assert.equal(config.port, defaults.port);
  assert.equal(config.dnsPort, defaults.dnsPort);
  assert.equal(config.cmdPort, defaults.cmdPort);
  assert.equal(config.queryTld, defaults.queryTld);
  assert.equal(config.daemon, false);
});

test('--pkarr-key and --pkarr-zone both in a config file: the pair rule runs once, on the whole set', async () => {
  const { generateKeyPair } = await import('../../src/identity/keys.js');
  const dir = mkdtempSync(join(tmpdir(), 'kadnode-pkarr-conf-'));
  try {
    const zone = join(dir, 'zone.txt');
    writeFileSync(zone, '@ 300 A 10.201.0.2\n');
    const key = generateKeyPair().secretKey.toString('hex');
    const conf = join(dir, 'kadnode.conf');
    writeFileSync(conf, `--pkarr-key ${key}\n--pkarr-zone ${zone}\n`);
    chmodSync(conf, 0o600);
    const config = buildConfig(readConfigFile(conf).options);
    assert.equal(config.pkarr?.records.length, 1);
    // alone, each still needs the other, and a bad value still names its line
    writeFileSync(conf, `--pkarr-zone ${zone}\n`);
    assert.throws(() => buildConfig(readConfigFile(conf).options), { message: '--pkarr-zone needs --pkarr-key' });
    writeFileSync(conf, `--port 6882\n--pkarr-key 1234\n`);
    assert.throws(() => readConfigFile(conf), (err: Error) => err.message.startsWith(`${conf}:2: Invalid --pkarr-key`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a line is checked on its own, never against the defaults of other options (--query-tld here)', async () => {
  const { generateKeyPair } = await import('../../src/identity/keys.js');
  const pk = generateKeyPair().publicKey.toString('hex');
  // '.p2p' is an empty pattern under the default TLD, a name under --query-tld foo
  const file = parse(`--query-tld foo\n--auth-add-pkey .p2p:${pk}\n`);
  assert.equal(buildConfig(file.options).keys.publicKeys[0]!.pattern, '.p2p');
  assert.throws(() => buildConfig(parse(`--auth-add-pkey .p2p:${pk}\n`).options), (err: Error) => err instanceof ConfigError && err.message === '--auth-add-pkey: empty pattern');
  // what a line alone can tell is still told with its line
  fails(`--port 1\n--auth-add-pkey :${pk}\n`, `${F}:2: --auth-add-pkey: empty pattern`);
  fails(`--auth-add-pkey a*b:${pk}\n`, `${F}:1: --auth-add-pkey: the '*' is only allowed at the front of a pattern: 'a*b'`);
});
