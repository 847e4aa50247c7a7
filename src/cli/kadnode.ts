// Command line of the daemon: argv (src/cli/argv.ts) + --config file → Config → Daemon, and the process
// duties around it (--daemon, --pidfile, --user; see src/process.ts). Nothing else lives here.
//
// Every failure before the daemon runs is one line on stderr (`kadnode: ...`) and exit code 1, with
// nothing left started: no socket, no pid file, no detached child.
import { buildConfig, type Config } from '../config.js';
import { mergeOptions, readConfigFile } from '../config-file.js';
import { Daemon } from '../daemon.js';
import { encodeZ32Key, generateKeyPair } from '../identity/keys.js';
import { BobKeyError, writeNewBobKeyFile } from '../identity/bob.js';
import { OperatorError, UsageError } from '../errors.js';
import { createLogger, createSyslogSink, type Logger } from '../log.js';
import type { RawOptions } from '../options.js';
import { parseArgs } from './argv.js';
import { OptimizerSwitch } from './optimizer.js';
import {
  checkPidFile,
  checkUserSwitch,
  dropPrivileges,
  isDaemonChild,
  lookupUser,
  removePidFile,
  reportFailure,
  reportReady,
  startDetached,
  writePidFile,
  type UserInfo,
} from '../process.js';
import { VERSION_LINE } from '../version.js';

/** Command line, then the --config file on top (same options, same checks). */
async function loadOptions(argv: string[]): Promise<RawOptions> {
  const commandLine = await parseArgs(argv);
  const file = commandLine.config;
  return typeof file === 'string' ? mergeOptions(commandLine, readConfigFile(file)) : commandLine;
}

function printNewKeys(): void {
  const { publicKey, secretKey } = generateKeyPair();
  process.stdout.write(`public key: ${publicKey.toString('hex')}\nsecret key: ${secretKey.toString('hex')}\npublic key (z-base32): ${encodeZ32Key(publicKey)}\n`);
}

/** --bob-create-key: a key KadNode 2.x loads too (SEC1 PEM, even Y); the secret never shows. */
function createBobKeyFile(path: string): void {
  try {
    const key = writeNewBobKeyFile(path);
    // KadNode 2.x's own two lines
    process.stdout.write(`Public key: ${key.name}.p2p\nWrote secret key to ${path}\n`);
  } catch (err) {
    if (err instanceof BobKeyError) throw new UsageError(`--bob-create-key: ${err.message}`);
    throw err;
  }
}

/** The message to print for an error, or undefined for a bug (printed with its stack). */
function operatorMessage(err: unknown): string | undefined {
  return err instanceof OperatorError ? err.message : undefined;
}

/** Runs the daemon in this process (foreground, or the detached child); resolves once it is ready. */
async function runDaemon(config: Config, detached: boolean): Promise<void> {
  const syslog = detached ? createSyslogSink({ tag: 'kadnode', pid: process.pid }) : null;
  const log: Logger = syslog ? createLogger(config.verbosity, syslog.sink) : createLogger(config.verbosity);
  let pidfileWritten = false;
  const cleanupPidFile = () => {
    if (!pidfileWritten || !config.pidfile) return;
    pidfileWritten = false;
    const result = removePidFile(config.pidfile);
    if (result === 'emptied') log.warn(`Could not remove the pid file ${config.pidfile} (emptied it instead)`);
    else if (result === 'failed') log.warn(`Could not remove the pid file ${config.pidfile}`);
  };
  const fatal = async (message: string): Promise<never> => {
    if (detached) {
      log.error(message);
      await reportFailure(message);
    } else {
      process.stderr.write(`kadnode: ${message}\n`);
    }
    syslog?.close();
    process.exit(1);
  };

  if (detached) {
    // stdio is /dev/null: nothing would see a crash otherwise
    process.on('uncaughtException', (err) => {
      log.error(`Crashed: ${err.stack ?? err.message}`);
      cleanupPidFile();
      void fatal(err.message);
    });
  }

  // Checks that need no socket come first, so they start nothing.
  let user: UserInfo | null = null;
  try {
    if (config.user) {
      user = lookupUser(config.user);
      checkUserSwitch(user);
    }
    if (config.pidfile) {
      const { stalePid } = checkPidFile(config.pidfile);
      if (stalePid !== undefined) log.info(`Replacing the stale pid file ${config.pidfile} (process ${stalePid} is gone)`);
    }
  } catch (err) {
    return fatal(operatorMessage(err) ?? String(err));
  }

  log.info(`Starting ${VERSION_LINE}`);
  const daemon = new Daemon(config, log);
  let exiting = false;
  const shutdown = (signal: string) => {
    if (exiting) return;
    exiting = true;
    log.info(`Shutting down (${signal})...`);
    void daemon.stop().then(() => {
      cleanupPidFile();
      syslog?.close();
      process.exit(0);
    });
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));

  try {
    await daemon.start();
  } catch (err) {
    // start() has stopped whatever it had started
    return fatal((err as Error).message);
  }
  if (exiting) return;
  try {
    // The pid file is written while still root (so it may live in a root-only directory such as /run)
    // and handed to the user, then root is dropped: every socket is bound by now.
    if (config.pidfile) {
      writePidFile(config.pidfile, user);
      pidfileWritten = true;
    }
    if (user) {
      dropPrivileges(user);
      log.info(`Running as user ${user.name} (uid ${user.uid}, gid ${user.gid})`);
    }
  } catch (err) {
    await daemon.stop();
    cleanupPidFile();
    return fatal(operatorMessage(err) ?? (err as Error).message);
  }
  new OptimizerSwitch().start();
  if (detached) await reportReady();
}

async function main(): Promise<void> {
  const detached = isDaemonChild();
  let config: Config;
  try {
    const raw = await loadOptions(process.argv.slice(2));
    if (raw['auth-gen-keys'] === true) return printNewKeys();
    if (typeof raw['bob-create-key'] === 'string') return createBobKeyFile(raw['bob-create-key']);
    config = buildConfig(raw);
  } catch (err) {
    const message = operatorMessage(err);
    if (message === undefined) throw err;
    if (detached) await reportFailure(message);
    else process.stderr.write(`kadnode: ${message}\n`);
    process.exit(1);
  }
  if (config.daemon && !detached) {
    // The same arguments: the child reads the same options (and --config file) and knows by its
    // environment and IPC channel that it is the detached one.
    try {
      await startDetached({ args: [process.argv[1]!, ...process.argv.slice(2)] });
    } catch (err) {
      process.stderr.write(`kadnode: ${(err as Error).message}\n`);
      process.exit(1);
    }
    process.exit(0);
  }
  await runDaemon(config, detached);
}

void main();
