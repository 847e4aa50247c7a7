// node:child_process on first use: loading it costs ~1.5 MB of resident memory for the life of the
// process, and only --user (getent), --daemon (the detached child) and syslog (logger) run anything.
import { createRequire } from 'node:module';

let loaded: typeof import('node:child_process') | null = null;

export function childProcess(): typeof import('node:child_process') {
  loaded ??= createRequire(import.meta.url)('node:child_process') as typeof import('node:child_process');
  return loaded;
}
