// A real headless Chromium (Debian's `chromium`, installed by scripts/install-test-deps.sh) driven through
// playwright-core over the DevTools protocol. We start the browser ourselves, so we know its pid and its
// fresh profile directory, and remove both even when a test fails half way.
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { registerCleanup } from '../e2e/netns.js';

export const CHROMIUM = '/usr/bin/chromium';

/** Reason to skip a browser test, else false (use as a node:test `skip` option). */
export function skipUnlessChromium(): string | false {
  return existsSync(CHROMIUM) ? false : 'needs chromium (Debian package chromium; scripts/install-test-deps.sh installs it as root)';
}

// Quiet and offline: no first-run UI, no update checks, no sync or background fetches.
const BASE_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  // containers often have a small /dev/shm; renderers then crash without this
  '--disable-dev-shm-usage',
];

export interface RunningChromium {
  browser: Browser;
  pid: number;
  /** closes the browser (bounded), then kills its process group by pid and removes the profile */
  close(): Promise<void>;
}

function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** Starts Chromium with BASE_ARGS plus `args` and a fresh profile, and connects playwright to it. */
export async function startChromium(args: string[], timeoutMs = 30_000): Promise<RunningChromium> {
  const profile = mkdtempSync(join(tmpdir(), 'kadnode-chromium-'));
  // detached: its own process group (renderers, zygote, GPU process), killed together by the group id
  const child = spawn(CHROMIUM, [...BASE_ARGS, ...args, `--user-data-dir=${profile}`, '--remote-debugging-port=0', 'about:blank'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    detached: true,
  });
  const pid = child.pid;
  let exited = false;
  const gone = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const kill = (): void => {
    if (pid === undefined || exited) return;
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  };
  const unregister = registerCleanup(() => {
    kill();
    rmSync(profile, { recursive: true, force: true });
  });
  let browser: Browser | undefined;
  const close = async (): Promise<void> => {
    await within(5000, 'browser.close', browser?.close() ?? Promise.resolve()).catch(() => undefined);
    kill();
    await within(5000, 'chromium exit', gone).catch(() => undefined);
    rmSync(profile, { recursive: true, force: true });
    unregister();
  };
  try {
    if (pid === undefined) throw new Error(`cannot start ${CHROMIUM}`);
    let stderr = '';
    const endpoint = await within(
      timeoutMs,
      'chromium DevTools endpoint',
      new Promise<string>((resolve, reject) => {
        child.stderr!.setEncoding('utf8');
        child.stderr!.on('data', (chunk: string) => {
          if (stderr.length < 64 * 1024) stderr += chunk;
          const match = /DevTools listening on (ws:\/\/\S+)/.exec(stderr);
          if (match) resolve(match[1]!);
        });
        child.once('exit', (code) => reject(new Error(`chromium exited (${code}) before listening: ${stderr.slice(-2000)}`)));
        child.once('error', reject);
      }),
    );
    browser = await chromium.connectOverCDP(endpoint, { timeout: timeoutMs });
    return { browser, pid, close };
  } catch (err) {
    await close();
    throw err;
  }
}
