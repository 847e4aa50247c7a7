import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { createLogger, createSyslogSink, syslogLine } from '../../src/log.js';
import { checkPidFile, findPasswdEntry, lookupUser, ProcessError, processAlive, removePidFile, writePidFile } from '../../src/process.js';

const dir = mkdtempSync(join(tmpdir(), 'kadnode-process-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A pid that belonged to a process which has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await new Promise((r) => child.once('exit', r));
  return child.pid!;
}

describe('pid file', () => {
  test('missing or empty: fine; stale (dead process): replaced', async () => {
    const p = join(dir, 'a.pid');
    assert.deepEqual(checkPidFile(p), {});
    writeFileSync(p, '');
    assert.deepEqual(checkPidFile(p), {});
    const dead = await deadPid();
    writeFileSync(p, `${dead}\n`);
    assert.deepEqual(checkPidFile(p), { stalePid: dead });
    writePidFile(p);
    assert.equal(readFileSync(p, 'utf8'), `${process.pid}\n`);
    assert.equal(statSync(p).mode & 0o777 & ~0o022, 0o644 & ~0o022);
  });

  test('naming a running process: refused', () => {
    const p = join(dir, 'b.pid');
    writeFileSync(p, '1\n');
    assert.throws(() => checkPidFile(p), (e: Error) => e instanceof ProcessError && e.message === `Pid file ${p} names a running process (1): is kadnode already running?`);
    // our own pid (reused after a reboot) is not another instance
    writeFileSync(p, `${process.pid}`);
    assert.deepEqual(checkPidFile(p), { stalePid: process.pid });
  });

  test('a file that is not a pid file is never replaced', () => {
    const p = join(dir, 'c.pid');
    writeFileSync(p, 'root:x:0:0::/root:/bin/sh\n');
    assert.throws(() => checkPidFile(p), { message: `Pid file ${p} exists and does not hold a process id; not replacing it` });
    assert.throws(() => checkPidFile(dir), { message: `Pid file ${dir}: a file expected, this is a directory` });
    // a link to a device is not followed into it (a FIFO: test/e2e/operator-files.test.ts, bounded there)
    const device = join(dir, 'zero.pid');
    symlinkSync('/dev/zero', device);
    assert.throws(() => checkPidFile(device), { message: `Pid file ${device}: a file expected, this is a character device` });
    assert.throws(() => checkPidFile(join(dir, 'nodir', 'x.pid')), { message: `Cannot write pid file ${join(dir, 'nodir', 'x.pid')}: no such file or directory` });
  });

  test('written atomically, no temp file left; removed only while it holds our pid', () => {
    const p = join(dir, 'd.pid');
    writeFileSync(`${p}.${process.pid}.tmp`, 'leftover');
    writePidFile(p);
    assert.equal(readFileSync(p, 'utf8'), `${process.pid}\n`);
    assert.equal(existsSync(`${p}.${process.pid}.tmp`), false);
    assert.equal(removePidFile(p), 'removed');
    assert.equal(existsSync(p), false);
    assert.equal(removePidFile(p), 'absent');
    writeFileSync(p, '1\n');
    assert.equal(removePidFile(p), 'not ours');
    assert.equal(readFileSync(p, 'utf8'), '1\n');
  });

  test('an unwritable place fails with one line', () => {
    const p = join(dir, 'missing-dir', 'e.pid');
    assert.throws(() => writePidFile(p), (e: Error) => e instanceof ProcessError && e.message === `Cannot write pid file ${p}: no such file or directory`);
  });

  test('chowned to the user it is handed to (root only)', (t) => {
    if (process.getuid?.() !== 0) return t.skip('needs root to chown');
    const sub = join(dir, 'sticky');
    mkdirSync(sub);
    chmodSync(sub, 0o1777);
    const p = join(sub, 'f.pid');
    writePidFile(p, { name: 'nobody', uid: 65534, gid: 65534 });
    assert.equal(statSync(p).uid, 65534);
  });

  test('processAlive', async () => {
    assert.equal(processAlive(process.pid), true);
    assert.equal(processAlive(await deadPid()), false);
    assert.equal(processAlive(0), false);
    assert.equal(processAlive(-1), false);
  });
});

describe('users', () => {
  const passwd = 'root:x:0:0:root:/root:/bin/bash\n# junk\nbad:line\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n';

  test('passwd entries by name or uid', () => {
    assert.deepEqual(findPasswdEntry(passwd, 'nobody'), { name: 'nobody', uid: 65534, gid: 65534 });
    assert.deepEqual(findPasswdEntry(passwd, '0'), { name: 'root', uid: 0, gid: 0 });
    assert.equal(findPasswdEntry(passwd, 'nosuchuser'), undefined);
  });

  test('lookupUser: known, unknown, invalid', () => {
    assert.equal(lookupUser('root').uid, 0);
    assert.throws(() => lookupUser('nosuchuser-kadnode'), { message: "Unknown user for --user: 'nosuchuser-kadnode'" });
    assert.throws(() => lookupUser('-x'), { message: "Invalid user name for --user: '-x'" });
    assert.throws(() => lookupUser('a:b'), ProcessError);
  });
});

describe('syslog', () => {
  test('facility daemon and the level as severity, one line', () => {
    assert.equal(syslogLine('error', 'DNS: x'), '<27>DNS: x\n');
    assert.equal(syslogLine('warn', 'x'), '<28>x\n');
    assert.equal(syslogLine('info', 'a\nb\r\nc'), '<30>a b c\n');
    assert.equal(syslogLine('debug', 'x'), '<31>x\n');
  });

  test('lines reach the logger command on its stdin', async () => {
    const out = join(dir, 'syslog.txt');
    const { sink, close } = createSyslogSink({ command: '/bin/sh', args: ['-c', `cat > '${out}'`] });
    const log = createLogger('verbose', sink).child('DNS');
    log.info('Bind to 127.0.0.1:53');
    log.error('boom');
    log.debug('hidden at verbose');
    close();
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !(existsSync(out) && readFileSync(out, 'utf8').includes('boom'))) await new Promise((r) => setTimeout(r, 20));
    assert.equal(readFileSync(out, 'utf8'), '<30>DNS: Bind to 127.0.0.1:53\n<27>DNS: boom\n');
  });

  test('a missing or dying logger is silence, never a crash', async () => {
    const missing = createSyslogSink({ command: join(dir, 'no-such-logger') });
    const dying = createSyslogSink({ command: '/bin/sh', args: ['-c', 'exit 1'] });
    for (let i = 0; i < 50; i++) {
      missing.sink('', 'info', `line ${i}`);
      dying.sink('', 'info', `line ${i}`);
      await new Promise((r) => setTimeout(r, 2));
    }
    missing.close();
    dying.close();
  });

  test('the default logger command takes our flags', (t) => {
    const help = spawn('logger', ['--help']);
    let text = '';
    help.stdout?.on('data', (c) => (text += c));
    return new Promise<void>((resolve) => {
      help.once('error', () => {
        t.skip('logger (util-linux) is not installed');
        resolve();
      });
      help.once('close', () => {
        for (const flag of ['--tag', '--id', '--prio-prefix']) assert.ok(text.includes(flag), `logger --help lacks ${flag}`);
        resolve();
      });
    });
  });
});
