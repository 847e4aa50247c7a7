// One logger per component, prefixed like KadNode's "(I) DNS: ..." lines so operators can grep them;
// a part of a component logs under both names (`DNS/FWD`, `PKARR/PUB`).
// In daemon mode the lines go to syslog through util-linux logger(1) instead of stderr.
import { childProcess } from './util/child-process.js';
import type { Writable } from 'node:stream';

export type Verbosity = 'quiet' | 'verbose' | 'debug';
export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface Logger {
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
  child(component: string): Logger;
}

/** line: `(I) DNS: message` as printed on stderr; text: the same without the level mark. */
export type Sink = (line: string, level: LogLevel, text: string) => void;

const LEVELS = { error: 0, warn: 1, info: 2, debug: 3 } as const;
const THRESHOLD: Record<Verbosity, number> = { quiet: LEVELS.warn, verbose: LEVELS.info, debug: LEVELS.debug };
const MARK = { error: 'E', warn: 'W', info: 'I', debug: 'D' } as const;

export const stderrSink: Sink = (line) => {
  process.stderr.write(line + '\n');
};

export function createLogger(verbosity: Verbosity, sink: Sink = stderrSink, component = ''): Logger {
  const threshold = THRESHOLD[verbosity];
  const emit = (level: LogLevel, message: string) => {
    if (LEVELS[level] > threshold) return;
    const text = `${component ? component + ': ' : ''}${message}`;
    sink(`(${MARK[level]}) ${text}`, level, text);
  };
  return {
    error: (m) => emit('error', m),
    warn: (m) => emit('warn', m),
    info: (m) => emit('info', m),
    debug: (m) => emit('debug', m),
    // nested: log.child('DNS').child('FWD') prints `DNS/FWD: ...`
    child: (name) => createLogger(verbosity, sink, component ? `${component}/${name}` : name),
  };
}

export const silentLogger: Logger = {
  error() {}, warn() {}, info() {}, debug() {},
  child() { return silentLogger; },
};

// ---------------------------------------------------------------- syslog

/** syslog facility LOG_DAEMON */
export const SYSLOG_FACILITY_DAEMON = 3;
const SEVERITY: Record<LogLevel, number> = { error: 3, warn: 4, info: 6, debug: 7 };
/** messages queued for a logger that does not keep up are dropped beyond this */
const MAX_SYSLOG_BACKLOG_BYTES = 1024 * 1024;

/** `<PRI>text`: facility daemon and the level's severity, one line (newlines become spaces). */
export function syslogLine(level: LogLevel, text: string): string {
  return `<${SYSLOG_FACILITY_DAEMON * 8 + SEVERITY[level]}>${text.replace(/[\r\n]+/g, ' ')}\n`;
}

export interface SyslogOptions {
  /** syslog tag (ident), default kadnode */
  tag?: string;
  /** the pid logged with each message, default this process */
  pid?: number;
  /** default logger (util-linux), found on PATH */
  command?: string;
  /** default: -t <tag> --id=<pid> --prio-prefix */
  args?: string[];
}

export interface SyslogSink {
  sink: Sink;
  /** ends logger's input (it exits once it has written everything) */
  close(): void;
}

/**
 * Spawns logger(1) once and writes `<PRI>message` lines to its standard input. When logger is missing
 * or dies, messages are dropped silently: logging never stops the daemon.
 */
export function createSyslogSink(opts: SyslogOptions = {}): SyslogSink {
  const tag = opts.tag ?? 'kadnode';
  const pid = opts.pid ?? process.pid;
  const args = opts.args ?? ['-t', tag, `--id=${pid}`, '--prio-prefix'];
  let input: Writable | null = null;
  try {
    const child = childProcess().spawn(opts.command ?? 'logger', args, { stdio: ['pipe', 'ignore', 'ignore'] });
    const dead = () => {
      input = null;
    };
    child.once('error', dead);
    child.once('exit', dead);
    child.stdin.on('error', dead);
    // logger must not keep the daemon's event loop alive
    child.unref();
    (child.stdin as Writable & { unref?: () => void }).unref?.();
    input = child.stdin;
  } catch {
    input = null;
  }
  return {
    sink: (_line, level, text) => {
      if (!input || !input.writable || input.writableLength > MAX_SYSLOG_BACKLOG_BYTES) return;
      try {
        input.write(syslogLine(level, text));
      } catch {
        input = null;
      }
    },
    close: () => {
      try {
        input?.end();
      } catch {
        // already gone
      }
      input = null;
    },
  };
}
