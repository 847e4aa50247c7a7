// Process duties of the daemon: detaching (--daemon), the pid file (--pidfile), dropping root (--user).
//
// --daemon: the command re-runs itself detached (a new session, stdio on /dev/null) with the same
// arguments and an IPC channel, and waits until the child says it is ready (every socket bound, pid file
// written, privileges dropped) or failed (its one-line error), then exits 0 or 1. The child knows it is
// the detached one by DAEMON_CHILD_ENV plus the IPC channel, so --daemon may also come from --config.
//
// --pidfile: refused while it names a running process; an empty file or the pid of a dead process
// (stale) is replaced. Written atomically (temp file in the same directory, then rename) once the daemon
// is ready, removed on a clean exit only while it still holds our pid.
//
// --user: resolved before anything starts (an unknown user starts nothing); root is dropped after every
// socket is bound, so ports below 1024 work (KadNode 1.x dropped before binding).
import { childProcess } from './util/child-process.js';
import { accessSync, chownSync, constants as fsConstants, closeSync, openSync, readFileSync, readSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { describeFsError } from './config-file.js';
import { nonRegularKind } from './util/read-file.js';
import { ProcessError } from './errors.js';

export { ProcessError };

// ---------------------------------------------------------------- --user

export interface UserInfo {
  name: string;
  uid: number;
  gid: number;
}

const USER_NAME = /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,63}\$?$/;

/** name:passwd:uid:gid:... → UserInfo for the line naming `name` (or with that numeric uid). */
export function findPasswdEntry(passwd: string, name: string): UserInfo | undefined {
  for (const line of passwd.split('\n')) {
    const f = line.split(':');
    if (f.length < 4 || !/^\d+$/.test(f[2]!) || !/^\d+$/.test(f[3]!)) continue;
    if (f[0] === name || (/^\d+$/.test(name) && f[2] === name)) return { name: f[0]!, uid: Number(f[2]), gid: Number(f[3]) };
  }
  return undefined;
}

/**
 * Looks the user up through the system's name service (getent, so LDAP and friends work), falling back
 * to /etc/passwd when getent is missing. Unknown user → ProcessError.
 */
export function lookupUser(name: string): UserInfo {
  if (!USER_NAME.test(name)) throw new ProcessError(`Invalid user name for --user: '${name}'`);
  let entry: UserInfo | undefined;
  try {
    const out = childProcess().execFileSync('getent', ['passwd', name], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
    entry = findPasswdEntry(out, name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      try {
        entry = findPasswdEntry(readFileSync('/etc/passwd', 'utf8'), name);
      } catch {
        entry = undefined;
      }
    }
    // else getent exited non-zero: not found
  }
  if (!entry) throw new ProcessError(`Unknown user for --user: '${name}'`);
  return entry;
}

/** Before starting: switching users needs root, unless we already are that user (then nothing to do). */
export function checkUserSwitch(user: UserInfo): void {
  const uid = process.getuid?.();
  if (uid === undefined) throw new ProcessError('--user is not supported on this platform');
  if (uid !== 0 && uid !== user.uid) throw new ProcessError(`--user ${user.name} needs root (running as uid ${uid})`);
}

/** initgroups, setgid, setuid; checked afterwards. */
export function dropPrivileges(user: UserInfo): void {
  if (process.getuid?.() === user.uid && process.geteuid?.() === user.uid) return;
  try {
    // initgroups is missing from @types/node here
    const proc = process as NodeJS.Process & { initgroups?: (user: string, extraGroup: number) => void };
    proc.initgroups!(user.name, user.gid);
    process.setgid!(user.gid);
    process.setuid!(user.uid);
  } catch (err) {
    throw new ProcessError(`Cannot switch to user '${user.name}': ${(err as Error).message}`);
  }
  if (process.getuid!() !== user.uid || process.geteuid!() !== user.uid || process.getgid!() !== user.gid) {
    throw new ProcessError(`Cannot switch to user '${user.name}': still uid ${process.geteuid!()}`);
  }
}

// ---------------------------------------------------------------- --pidfile

/** At most this much of an existing pid file is read. */
const PIDFILE_READ_BYTES = 64;

function readHead(path: string): string {
  // Only a regular file (or none) is a pid file: open() of a FIFO would wait for a writer for good.
  const kind = nonRegularKind(path);
  if (kind !== null) throw new ProcessError(`Pid file ${path}: a file expected, this is ${kind}`);
  const fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  try {
    const buf = Buffer.alloc(PIDFILE_READ_BYTES);
    const n = readSync(fd, buf, 0, buf.length, 0);
    return buf.subarray(0, n).toString('latin1');
  } finally {
    closeSync(fd);
  }
}

/** True when a process with this pid exists (EPERM: it exists but belongs to someone else). */
export function processAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Before starting: a pid file naming a running process (not us or our parent: after a reboot a pid may be
 * reused) is an error; a missing or empty file, or a dead process's pid, is fine (replaced later). A file
 * that does not hold a pid is never overwritten.
 */
export function checkPidFile(path: string): { stalePid?: number } {
  // its directory must exist (and be writable) now, not only once every socket is bound
  try {
    accessSync(dirname(path), fsConstants.W_OK);
  } catch (err) {
    throw new ProcessError(`Cannot write pid file ${path}: ${describeFsError(err)}`);
  }
  let text: string;
  try {
    text = readHead(path);
  } catch (err) {
    if (err instanceof ProcessError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return {};
    if (code === 'EISDIR') throw new ProcessError(`Pid file ${path}: a file expected, this is a directory`);
    throw new ProcessError(`Cannot read pid file ${path}: ${describeFsError(err)}`);
  }
  const trimmed = text.trim();
  if (trimmed === '') return {};
  if (!/^\d{1,10}$/.test(trimmed)) throw new ProcessError(`Pid file ${path} exists and does not hold a process id; not replacing it`);
  const pid = Number(trimmed);
  if (pid !== process.pid && pid !== process.ppid && processAlive(pid)) {
    throw new ProcessError(`Pid file ${path} names a running process (${pid}): is kadnode already running?`);
  }
  return { stalePid: pid };
}

/**
 * Writes our pid: a temp file next to it (O_EXCL, so no symlink is followed), chowned to `owner` when
 * given (so the daemon can still remove it from a sticky directory such as /tmp after dropping root),
 * then renamed over the path.
 */
export function writePidFile(path: string, owner?: UserInfo | null): void {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    try {
      writeFileSync(tmp, `${process.pid}\n`, { mode: 0o644, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      unlinkSync(tmp);
      writeFileSync(tmp, `${process.pid}\n`, { mode: 0o644, flag: 'wx' });
    }
    if (owner) chownSync(tmp, owner.uid, owner.gid);
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // never created
    }
    throw new ProcessError(`Cannot write pid file ${path}: ${describeFsError(err)}`);
  }
}

export type PidFileRemoval = 'removed' | 'emptied' | 'absent' | 'not ours' | 'failed';

/**
 * On exit: removes the pid file while it still holds our pid. When the directory does not let us
 * (privileges dropped), the file is emptied instead; an empty pid file never blocks a start.
 */
export function removePidFile(path: string): PidFileRemoval {
  let text: string;
  try {
    text = readHead(path);
  } catch {
    return 'absent';
  }
  if (text.trim() !== String(process.pid)) return 'not ours';
  try {
    unlinkSync(path);
    return 'removed';
  } catch {
    try {
      writeFileSync(path, '');
      return 'emptied';
    } catch {
      return 'failed';
    }
  }
}

// ---------------------------------------------------------------- --daemon

/** Set (with an IPC channel) in the environment of the detached child. */
export const DAEMON_CHILD_ENV = 'KADNODE_DAEMON_CHILD';
/** The parent gives up (and kills the child) when it is not ready within this. */
export const DAEMON_READY_TIMEOUT_MS = 60_000;

type ChildMessage = { kind: 'ready' } | { kind: 'error'; message: string };

let daemonChild: boolean | undefined;

/** True in the detached child started by startDetached(); the marker is taken out of the environment. */
export function isDaemonChild(): boolean {
  if (daemonChild === undefined) {
    daemonChild = process.env[DAEMON_CHILD_ENV] === '1' && typeof process.send === 'function';
    delete process.env[DAEMON_CHILD_ENV];
  }
  return daemonChild;
}

function sendToParent(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (typeof process.send !== 'function' || !process.connected) return resolve();
    try {
      process.send(message, undefined, {}, () => resolve());
    } catch {
      resolve();
    }
  });
}

/** Child: tells the waiting parent that the daemon runs, then closes the channel. */
export async function reportReady(): Promise<void> {
  await sendToParent({ kind: 'ready' });
  if (process.connected) process.disconnect();
}

/** Child: hands the parent the one-line error it prints. */
export async function reportFailure(message: string): Promise<void> {
  await sendToParent({ kind: 'error', message });
}

export interface DetachOptions {
  /** node arguments: [script, ...args] */
  args: string[];
  readyTimeoutMs?: number;
}

/**
 * Parent: starts the detached child and resolves its pid once it is ready. Rejects with the child's own
 * error line when it failed, after it has exited (killed by pid if it lingers), so nothing is left.
 */
export function startDetached(opts: DetachOptions): Promise<number> {
  const timeoutMs = opts.readyTimeoutMs ?? DAEMON_READY_TIMEOUT_MS;
  const child = childProcess().spawn(process.execPath, [...process.execArgv, ...opts.args], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    env: { ...process.env, [DAEMON_CHILD_ENV]: '1' },
  });
  return new Promise((resolve, reject) => {
    let failure: string | undefined;
    let settled = false;
    let killTimer: NodeJS.Timeout | undefined;
    const kill = (signal: NodeJS.Signals) => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(child.pid, signal);
      } catch {
        // gone
      }
    };
    // the child is told to stop; it gets 5 s to do so cleanly
    const stopChild = (reason: string) => {
      failure ??= reason;
      kill('SIGTERM');
      killTimer ??= setTimeout(() => kill('SIGKILL'), 5000);
    };
    const readyTimer = setTimeout(() => stopChild(`The daemon was not ready within ${timeoutMs / 1000} s`), timeoutMs);
    const onSignal = (signal: NodeJS.Signals) => stopChild(`Interrupted (${signal}) before the daemon was ready`);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('SIGHUP', onSignal);
    const settle = () => {
      settled = true;
      clearTimeout(readyTimer);
      clearTimeout(killTimer);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('SIGHUP', onSignal);
    };
    child.once('error', (err) => {
      if (settled) return;
      settle();
      reject(new ProcessError(`Cannot start the daemon: ${err.message}`));
    });
    child.on('message', (msg: ChildMessage) => {
      if (settled) return;
      if (msg?.kind === 'ready' && failure === undefined) {
        settle();
        if (child.connected) child.disconnect();
        child.unref();
        resolve(child.pid!);
      } else if (msg?.kind === 'error') {
        // wait for its exit, so nothing is left running when we report
        failure = String(msg.message).split('\n')[0];
        killTimer ??= setTimeout(() => kill('SIGKILL'), 5000);
      }
    });
    // 'close' (not 'exit'): by then the IPC channel is drained, so an error message is never missed
    child.once('close', (code, signal) => {
      if (settled) return;
      settle();
      reject(new ProcessError(failure ?? `The daemon exited (${signal ?? `code ${code}`}) before it was ready`));
    });
  });
}
