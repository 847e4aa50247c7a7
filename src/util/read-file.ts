// Reading an operator's file (zone, key, config, peer file) with a bound that holds on the bytes read.
//
// A path may name anything: /dev/zero never ends (readFile grew to 1.5 GB), a FIFO blocks open() until a
// writer comes (the start hung silently), and opening some devices acts (a watchdog starts its timer).
// So the kind is checked with stat() (links followed) before anything is opened, checked again on the
// open descriptor (the path may have been swapped in between), and at most maxBytes + 1 bytes are read,
// whatever size stat() claimed (files in /proc say 0, a file may grow while we read).
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';

export type ReadFileResult =
  | { ok: true; bytes: Buffer; stats: Stats }
  /** stat, open or read failed (ENOENT, EACCES, EIO, ...) */
  | { ok: false; problem: 'unreadable'; error: NodeJS.ErrnoException }
  /** not a regular file: `kind` says what it is ("a directory", "a character device", ...) */
  | { ok: false; problem: 'not-regular'; kind: string }
  | { ok: false; problem: 'too-large'; maxBytes: number };

/** What a stat() result is, for messages: "a directory", "a FIFO (named pipe)", ... */
export function fileKind(stats: Stats): string {
  if (stats.isFile()) return 'a regular file';
  if (stats.isDirectory()) return 'a directory';
  if (stats.isCharacterDevice()) return 'a character device';
  if (stats.isBlockDevice()) return 'a block device';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isSocket()) return 'a socket';
  return 'not a file';
}

// Non-blocking: should a FIFO slip in between stat and open, open returns at once instead of waiting for
// a writer. No effect on regular files. No controlling terminal from a tty either.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

const notRegular = (stats: Stats): ReadFileResult => ({ ok: false, problem: 'not-regular', kind: fileKind(stats) });
const unreadable = (err: unknown): ReadFileResult => ({ ok: false, problem: 'unreadable', error: err as NodeJS.ErrnoException });

/** Reads a regular file of at most `maxBytes` bytes; never blocks on, nor reads from, anything else. */
export function readRegularFileSync(path: string, maxBytes: number): ReadFileResult {
  let fd: number;
  try {
    const before = statSync(path);
    if (!before.isFile()) return notRegular(before);
    if (before.size > maxBytes) return { ok: false, problem: 'too-large', maxBytes };
    fd = openSync(path, OPEN_FLAGS);
  } catch (err) {
    return unreadable(err);
  }
  try {
    const stats = fstatSync(fd);
    if (!stats.isFile()) return notRegular(stats);
    const buf = Buffer.alloc(maxBytes + 1);
    let size = 0;
    for (;;) {
      const n = readSync(fd, buf, size, buf.length - size, null);
      if (n === 0) break;
      size += n;
      if (size > maxBytes) return { ok: false, problem: 'too-large', maxBytes };
    }
    return { ok: true, bytes: buf.subarray(0, size), stats };
  } catch (err) {
    return unreadable(err);
  } finally {
    closeSync(fd);
  }
}

/** readRegularFileSync without blocking the event loop (for files read again while the daemon runs). */
export async function readRegularFile(path: string, maxBytes: number): Promise<ReadFileResult> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    const before = await stat(path);
    if (!before.isFile()) return notRegular(before);
    if (before.size > maxBytes) return { ok: false, problem: 'too-large', maxBytes };
    handle = await open(path, OPEN_FLAGS);
  } catch (err) {
    return unreadable(err);
  }
  try {
    const stats = await handle.stat();
    if (!stats.isFile()) return notRegular(stats);
    const buf = Buffer.alloc(maxBytes + 1);
    let size = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, size, buf.length - size, null);
      if (bytesRead === 0) break;
      size += bytesRead;
      if (size > maxBytes) return { ok: false, problem: 'too-large', maxBytes };
    }
    return { ok: true, bytes: buf.subarray(0, size), stats };
  } catch (err) {
    return unreadable(err);
  } finally {
    await handle.close();
  }
}

/** For a path checked before use (the peer file, which may not exist yet): its kind when it exists and is not a regular file. */
export function nonRegularKind(path: string): string | null {
  try {
    const stats = statSync(path);
    return stats.isFile() ? null : fileKind(stats);
  } catch {
    return null;
  }
}
