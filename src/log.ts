// One logger per component, prefixed like KadNode's "(I) DNS: ..." lines so operators can grep them.
export type Verbosity = 'quiet' | 'verbose' | 'debug';

export interface Logger {
  error(message: string): void;
  warn(message: string): void;
  info(message: string): void;
  debug(message: string): void;
  child(component: string): Logger;
}

type Sink = (line: string) => void;

const LEVELS = { error: 0, warn: 1, info: 2, debug: 3 } as const;
const THRESHOLD: Record<Verbosity, number> = { quiet: LEVELS.warn, verbose: LEVELS.info, debug: LEVELS.debug };
const MARK = { error: 'E', warn: 'W', info: 'I', debug: 'D' } as const;

export function createLogger(verbosity: Verbosity, sink: Sink = (line) => process.stderr.write(line + '\n'), component = ''): Logger {
  const threshold = THRESHOLD[verbosity];
  const emit = (level: keyof typeof LEVELS, message: string) => {
    if (LEVELS[level] > threshold) return;
    sink(`(${MARK[level]}) ${component ? component + ': ' : ''}${message}`);
  };
  return {
    error: (m) => emit('error', m),
    warn: (m) => emit('warn', m),
    info: (m) => emit('info', m),
    debug: (m) => emit('debug', m),
    child: (name) => createLogger(verbosity, sink, name),
  };
}

export const silentLogger: Logger = {
  error() {}, warn() {}, info() {}, debug() {},
  child() { return silentLogger; },
};
