// The real bin/kadnode as an operator runs it: --config files (errors with line numbers, settings that
// take effect), --daemon (detaching, readiness, errors reported by the command, syslog through logger),
// --pidfile (written when ready, removed on SIGTERM, a running instance refuses a second) and, as root,
// --user (root dropped after binding a port below 1024). Every daemon gets --peer 127.0.0.1:<port> or an
// empty --peerfile, --lpd-disable and --fwd-disable, so nothing leaves the machine. Detached daemons are
// killed by the pid from their pid file (after checking it is one of ours) should a test fail.
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createSocket, type Socket } from 'node:dgram';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  dig,
  emptyPeerFile,
  haveCommand,
  kadnodeBin,
  kadnodeCtl,
  pickPorts,
  registerCleanup,
  runKadnode,
  skipUnlessDig,
  sleep,
  startDaemon,
  tempDir,
} from './harness.js';
import { run, type ExecResult } from './netns.js';

const isRoot = process.getuid?.() === 0;
const skipUnlessRoot = isRoot ? false : 'needs root: --user switches users (run the tests as root to cover it)';
/** nothing leaves the machine, no web interface (given on the command line: the harness adds them otherwise) */
const QUIET = ['--lpd-disable', '--fwd-disable', '--web-port', '0', '--nss-port', '0'];

let tmp: ReturnType<typeof tempDir>;
let peerfile: string;

before(() => {
  tmp = tempDir('kadnode-process');
  // --user tests: nobody must reach files below it (the pid file directory)
  chmodSync(tmp.path, 0o711);
  peerfile = emptyPeerFile(tmp.path);
});
after(() => tmp.remove());

let fileCounter = 0;
function configFile(text: string): string {
  const p = join(tmp.path, `kadnode-${++fileCounter}.conf`);
  writeFileSync(p, text);
  return p;
}

/** exit code 1 and exactly one stderr line matching `expected`; returns that line. */
function oneErrorLine(r: ExecResult, expected: string | RegExp): string {
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(r.code, 1, `exit code ${r.code} (signal ${r.signal}); stderr:\n${r.stderr}`);
  assert.equal(lines.length, 1, `want exactly one stderr line, got ${lines.length}:\n${r.stderr}`);
  if (typeof expected === 'string') assert.equal(lines[0], expected);
  else assert.match(lines[0]!, expected);
  return lines[0]!;
}

function cmdline(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return undefined;
  }
}

/** Pids of running (not zombie) processes whose command line contains `marker`. */
function processesWith(marker: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    const cl = cmdline(Number(entry));
    if (cl?.includes(marker) && !gone(Number(entry))) found.push(Number(entry));
  }
  return found;
}

/** True when the process does not exist any more (or is a zombie nobody reaped yet). */
function gone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (gone(pid)) return true;
    await sleep(50);
  }
  return gone(pid);
}

/** The daemon named by a pid file, checked to be ours (bin/kadnode with `marker`); killed on exit. */
function adoptDaemon(pidfile: string, marker: string): number {
  const text = readFileSync(pidfile, 'utf8');
  assert.match(text, /^\d+\n$/, `pid file content ${JSON.stringify(text)}`);
  const pid = Number(text.trim());
  const cl = cmdline(pid);
  assert.ok(cl?.includes(kadnodeBin) && cl.includes(marker), `pid ${pid} is not our daemon: ${cl}`);
  registerCleanup(() => {
    if (!gone(pid) && cmdline(pid)?.includes(marker)) process.kill(pid, 'SIGKILL');
  });
  return pid;
}

function kadnode(args: string[], env?: NodeJS.ProcessEnv): Promise<ExecResult> {
  return run(undefined, process.execPath, [kadnodeBin, ...args], { timeoutMs: 30_000, env: env ? { ...process.env, ...env } : undefined });
}

/** A fake logger(1) on PATH that records its arguments and its stdin. */
function fakeLogger(): { env: NodeJS.ProcessEnv; args: string; lines: string } {
  const bin = join(tmp.path, `fakebin-${++fileCounter}`);
  mkdirSync(bin);
  const args = join(bin, 'args.txt');
  const lines = join(bin, 'syslog.txt');
  writeFileSync(join(bin, 'logger'), `#!/bin/sh\necho "$@" > '${args}'\nexec cat >> '${lines}'\n`, { mode: 0o755 });
  return { env: { PATH: `${bin}:${process.env.PATH ?? ''}` }, args, lines };
}

function udpFree(port: number, host: string): Promise<boolean> {
  return new Promise((res) => {
    const s = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    s.once('error', () => {
      s.close();
      res(false);
    });
    s.bind(port, host, () => s.close(() => res(true)));
  });
}

function tcpFree(port: number, host: string): Promise<boolean> {
  return new Promise((res) => {
    const srv = createServer();
    srv.once('error', () => res(false));
    srv.listen(port, host, () => srv.close(() => res(true)));
  });
}

describe('--config errors: one line naming the file and the line, exit 1', () => {
  it('reports bad lines with their line number', async () => {
    const [port] = await pickPorts(1);
    const base = ['--port', String(port), '--peerfile', peerfile, '--dns-port', '0', '--cmd-port', '0', ...QUIET];
    const cases: [string, (f: string) => string][] = [
      ['# kadnode\n\n--dns-addr 127.0.0.1\n\n# DHT\n--peer 127.0.0.1:9\n--value-id foo.p2p:70000\n', (f) => `kadnode: ${f}:7: Invalid port for --value-id: '70000' (0..65535 expected)`],
      ['--verbosity debug\n--no-such-option 1\n', (f) => `kadnode: ${f}:2: Unknown option: '--no-such-option'`],
      ['--verbosity quiet\n--config /etc/kadnode.conf\n', (f) => `kadnode: ${f}:2: --config is not allowed inside a configuration file (command line only)`],
      ['--lpd-addr\n', (f) => `kadnode: ${f}:1: Missing value for --lpd-addr`],
      ['--cmd-disable-stdin yes\n', (f) => `kadnode: ${f}:1: No value expected for --cmd-disable-stdin: 'yes'`],
      ['--peerfile /a b\n', (f) => `kadnode: ${f}:1: Too many values for --peerfile: one expected (quote a value that contains spaces)`],
      ['--verbosity quiet\n--verbosity debug\n', (f) => `kadnode: ${f}:2: Option was already set in line 1: --verbosity`],
      ['--query-tld "p2p\n', (f) => `kadnode: ${f}:1: Unterminated quote (")`],
    ];
    for (const [text, expected] of cases) {
      const f = configFile(text);
      const r = await runKadnode(['--config', f, ...base]);
      oneErrorLine(r, expected(f));
    }
  });

  it('reports a missing file and a directory', async () => {
    const missing = join(tmp.path, 'no-such.conf');
    oneErrorLine(await runKadnode(['--config', missing]), `kadnode: ${missing}: Cannot open the configuration file: no such file or directory`);
    oneErrorLine(await runKadnode(['--config', tmp.path]), `kadnode: ${tmp.path}: A file expected, this is a directory`);
  });

  it('refuses an option given in the file and on the command line', async () => {
    const [a, b] = await pickPorts(2);
    const f = configFile(`# DHT\n--port ${a}\n`);
    oneErrorLine(await runKadnode(['--config', f, '--port', String(b), '--peerfile', peerfile, ...QUIET]), `kadnode: ${f}:2: Option was already set on the command line: --port`);
  });

  it('refuses a value given to a flag on the command line', async () => {
    oneErrorLine(await runKadnode(['--daemon=yes']), "kadnode: No value expected for --daemon: 'yes'");
  });
});

describe('a --config file takes effect', { timeout: 60_000 }, () => {
  it('sets the ports and a value id (combined with the command line)', { skip: skipUnlessDig() }, async () => {
    const [dht, dns, cmd] = await pickPorts(3);
    const f = configFile(
      [
        '# ports',
        `--port ${dht}`,
        `--dns-port "${dns}"   # quoted`,
        `--cmd-port=${cmd}`,
        '--dns-addr 127.0.0.1',
        '--value-id fromfile.p2p:4711',
        `--peerfile '${peerfile}'`,
        '',
      ].join('\n'),
    );
    const d = await startDaemon({ args: ['--config', f, '--value-id', 'fromcli.p2p', '--cmd-disable-stdin', ...QUIET], stdin: 'ignore', label: 'config-file daemon' });
    try {
      const status = await kadnodeCtl(['-p', String(cmd), 'status']);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, new RegExp(`DHT 0\\.0\\.0\\.0:${dht}\\b`));
      assert.match(status.stdout, new RegExp(`DNS 127\\.0\\.0\\.1:${dns}\\b`));
      assert.match(status.stdout, /Values to announce: 2/);
      for (const name of ['fromfile.p2p', 'fromcli.p2p']) {
        const r = await dig(['@127.0.0.1', '-p', String(dns), '+time=3', '+tries=1', name, 'A']);
        assert.equal(r.status, 'NOERROR', r.raw);
        assert.deepEqual(r.answers.map((a) => a.data), ['127.0.0.1'], r.raw);
      }
      const srv = await dig(['@127.0.0.1', '-p', String(dns), '+time=3', '+tries=1', 'fromfile.p2p', 'SRV']);
      assert.ok(srv.answers.some((a) => a.type === 'SRV' && a.data.split(/\s+/)[2] === '4711'), srv.raw);
    } finally {
      await d.stop(10_000);
    }
  });
});

describe('--daemon and --pidfile', { timeout: 120_000 }, () => {
  it('detaches once ready; the pid file names the daemon; SIGTERM removes it', { skip: skipUnlessDig() }, async () => {
    const [dht, dns, cmd] = await pickPorts(3);
    const pidfile = join(tmp.path, 'daemon-a.pid');
    const logger = fakeLogger();
    const args = ['--daemon', '--pidfile', pidfile, '--port', String(dht), '--dns-port', String(dns), '--cmd-port', String(cmd), '--dns-addr', '127.0.0.1', '--peerfile', peerfile, '--value-id', 'detached.p2p', ...QUIET];
    const r = await kadnode(args, logger.env);
    assert.equal(r.code, 0, `exit ${r.code}; stderr:\n${r.stderr}`);
    assert.equal(r.stderr, '', 'the command prints nothing when the daemon started');
    assert.ok(r.ms < 10_000, `took ${Math.round(r.ms)} ms`);
    const pid = adoptDaemon(pidfile, pidfile);
    assert.ok(!gone(pid), 'the daemon runs');

    // a session of its own, stdio on /dev/null
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    assert.equal(Number(fields[3]), pid, `session id ${fields[3]} (setsid)`);
    assert.equal(Number(fields[1]) === process.pid, false, 'not our child any more');

    const status = await kadnodeCtl(['-p', String(cmd), 'status']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`DHT 0\\.0\\.0\\.0:${dht}\\b`));
    const answer = await dig(['@127.0.0.1', '-p', String(dns), '+time=3', '+tries=1', 'detached.p2p', 'A']);
    assert.deepEqual(answer.answers.map((a) => a.data), ['127.0.0.1'], answer.raw);

    // a second instance with the same pid file is refused, and leaves the file alone
    const again = await kadnode(args);
    oneErrorLine(again, `kadnode: Pid file ${pidfile} names a running process (${pid}): is kadnode already running?`);
    assert.equal(readFileSync(pidfile, 'utf8'), `${pid}\n`);

    process.kill(pid, 'SIGTERM');
    assert.ok(await waitGone(pid, 15_000), 'the daemon exits on SIGTERM');
    assert.equal(existsSync(pidfile), false, 'the pid file is removed');

    // it logged to syslog: logger -t kadnode --id=<pid> --prio-prefix, facility daemon
    assert.equal(readFileSync(logger.args, 'utf8').trim(), `-t kadnode --id=${pid} --prio-prefix`);
    const syslog = readFileSync(logger.lines, 'utf8').split('\n');
    assert.ok(syslog.includes('<30>Ready.'), syslog.join('\n'));
    assert.ok(syslog.includes('<30>Shutting down (SIGTERM)...'), syslog.join('\n'));
    assert.ok(syslog.some((l) => l.startsWith(`<30>DNS: Bind to 127.0.0.1:${dns}`)), syslog.join('\n'));
  });

  it('takes --daemon from the config file too, and replaces a stale pid file', async () => {
    const [dht] = await pickPorts(1);
    const pidfile = join(tmp.path, 'daemon-b.pid');
    writeFileSync(pidfile, '999999999\n'); // no such process
    const f = configFile(
      ['--daemon', `--pidfile ${pidfile}`, `--port ${dht}`, '--dns-port 0', '--cmd-port 0', `--peer 127.0.0.1:${dht}`, ''].join('\n'),
    );
    const r = await runKadnode(['--config', f, ...QUIET]);
    assert.equal(r.code, 0, r.stderr);
    const pid = adoptDaemon(pidfile, f);
    process.kill(pid, 'SIGTERM');
    assert.ok(await waitGone(pid, 15_000));
    assert.equal(existsSync(pidfile), false);
  });

  it('reports a port in use as one line, exit 1, and leaves nothing running', async () => {
    const [dht, dns, cmd] = await pickPorts(3);
    const pidfile = join(tmp.path, 'daemon-c.pid');
    const blocker: Socket = createSocket('udp4');
    await new Promise<void>((res) => blocker.bind(dht, '0.0.0.0', () => res()));
    try {
      const args = ['--pidfile', pidfile, '--port', String(dht), '--dns-port', String(dns), '--cmd-port', String(cmd), '--peerfile', peerfile, ...QUIET];
      const t0 = performance.now();
      const r = await runKadnode(['--daemon', ...args]);
      oneErrorLine(r, new RegExp(`^kadnode: .*${dht}.*(EADDRINUSE|in use)`));
      assert.ok(performance.now() - t0 < 15_000);
      assert.equal(existsSync(pidfile), false, 'no pid file');
      assert.deepEqual(processesWith(pidfile), [], 'no daemon left');
      // the same error in the foreground (quiet: no log lines around it)
      const fg = await runKadnode(['--verbosity', 'quiet', '--cmd-disable-stdin', ...args]);
      oneErrorLine(fg, r.stderr.trim());
      assert.equal(existsSync(pidfile), false);
      // the other ports were freed again
      assert.ok(await udpFree(dns, '127.0.0.1'));
      assert.ok(await tcpFree(cmd, '127.0.0.1'));
    } finally {
      blocker.close();
    }
  });

  it('reports a bad option as one line before detaching', async () => {
    const r = await runKadnode(['--daemon', '--port', '70000', '--peerfile', peerfile]);
    oneErrorLine(r, "kadnode: Invalid port for --port: '70000' (1..65535 expected)");
    const dir = join(tmp.path, 'no-such-dir', 'x.pid');
    oneErrorLine(await runKadnode(['--daemon', '--pidfile', dir, '--peerfile', peerfile, ...QUIET]), `kadnode: Cannot write pid file ${dir}: no such file or directory`);
  });
});

describe('--user (root)', { skip: skipUnlessRoot, timeout: 120_000 }, () => {
  it('drops root after binding a DNS port below 1024', { skip: skipUnlessDig() || (haveCommand('ps') ? false : 'needs ps') }, async () => {
    let low: number | undefined;
    for (const candidate of [153, 853, 553, 753, 953]) {
      if ((await udpFree(candidate, '127.0.0.1')) && (await tcpFree(candidate, '127.0.0.1'))) {
        low = candidate;
        break;
      }
    }
    assert.ok(low, 'no free port below 1024 among 153, 853, 553, 753, 953');
    const [dht, cmd] = await pickPorts(2);
    // a sticky world-writable directory like /tmp: the pid file, handed to nobody, can be removed by it
    const piddir = join(tmp.path, 'run');
    mkdirSync(piddir);
    chmodSync(piddir, 0o1777);
    const pidfile = join(piddir, 'kadnode.pid');
    const r = await runKadnode([
      '--daemon', '--user', 'nobody', '--pidfile', pidfile,
      '--port', String(dht), '--dns-port', String(low), '--dns-addr', '127.0.0.1', '--cmd-port', String(cmd),
      '--peer', `127.0.0.1:${dht}`, '--value-id', 'lowport.p2p', ...QUIET,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const pid = adoptDaemon(pidfile, pidfile);
    assert.equal(statSync(pidfile).uid, 65534, 'the pid file belongs to nobody');
    const ps = await run(undefined, 'ps', ['-o', 'user=', '-p', String(pid)]);
    assert.equal(ps.stdout.trim(), 'nobody');
    const answer = await dig(['@127.0.0.1', '-p', String(low), '+time=3', '+tries=1', 'lowport.p2p', 'A']);
    assert.deepEqual(answer.answers.map((a) => a.data), ['127.0.0.1'], answer.raw);
    const status = await kadnodeCtl(['-p', String(cmd), 'status']);
    assert.equal(status.code, 0, status.stderr);
    process.kill(pid, 'SIGTERM');
    assert.ok(await waitGone(pid, 15_000));
    assert.equal(existsSync(pidfile), false, 'removed by the unprivileged daemon');
  });

  it('refuses an unknown user before starting anything', async () => {
    const [dht] = await pickPorts(1);
    const pidfile = join(tmp.path, 'nosuchuser.pid');
    const args = ['--user', 'nosuchuser', '--pidfile', pidfile, '--port', String(dht), '--dns-port', '0', '--cmd-port', '0', '--peerfile', peerfile, ...QUIET];
    oneErrorLine(await runKadnode(args), "kadnode: Unknown user for --user: 'nosuchuser'");
    oneErrorLine(await runKadnode(['--daemon', ...args]), "kadnode: Unknown user for --user: 'nosuchuser'");
    assert.equal(existsSync(pidfile), false);
    assert.deepEqual(processesWith(pidfile), []);
    assert.ok(await udpFree(dht, '0.0.0.0'));
  });

  it('reads no config file its user cannot read (as nobody)', { skip: haveCommand('runuser') ? false : 'needs runuser' }, async () => {
    const f = join(tmp.path, 'root-only.conf');
    writeFileSync(f, '--port 6881\n', { mode: 0o600 });
    const r = await run(undefined, 'runuser', ['-u', 'nobody', '--', process.execPath, kadnodeBin, '--config', f]);
    oneErrorLine(r, `kadnode: ${f}: Cannot open the configuration file: permission denied`);
    // and --user needs root
    const r2 = await run(undefined, 'runuser', ['-u', 'nobody', '--', process.execPath, kadnodeBin, '--user', 'root', '--peerfile', peerfile]);
    oneErrorLine(r2, 'kadnode: --user root needs root (running as uid 65534)');
  });
});
