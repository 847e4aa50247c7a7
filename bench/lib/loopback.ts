// Daemons on 127.0.0.1 (no root needed), for the dns and cost benchmarks.
import { spawn } from 'node:child_process';
import { Daemon, kadnodeBin, repoRoot, safeDaemonArgs, startDaemon } from '../../test/e2e/harness.js';
import { inNetns } from '../../test/e2e/netns.js';
import { dnsQuery } from './dnsclient.js';
import { sleep } from './stats.js';

export interface LoopbackDaemonOptions {
  label: string;
  dhtPort: number;
  /** 0: no DNS */
  dnsPort: number;
  /** 0: no web interface */
  webPort?: number;
  /** control port for kadnode-ctl; 0 or absent: none */
  cmdPort?: number;
  /** NSS port; 0 or absent: none */
  nssPort?: number;
  /** keep the stdin console (stdin is /dev/null, so it reads nothing) */
  console?: boolean;
  peers?: number[];
  values?: string[];
  peerfile: string;
  env?: NodeJS.ProcessEnv;
}

export function loopbackArgs(o: LoopbackDaemonOptions): string[] {
  return [
    '--port', String(o.dhtPort), '--dht-addr', '127.0.0.1',
    '--dns-port', String(o.dnsPort), ...(o.dnsPort ? ['--dns-addr', '127.0.0.1'] : []),
    '--web-port', String(o.webPort ?? 0), ...(o.webPort ? ['--web-addr', '127.0.0.1'] : []),
    '--cmd-port', String(o.cmdPort ?? 0), ...(o.console ? [] : ['--cmd-disable-stdin']),
    '--nss-port', String(o.nssPort ?? 0),
    '--peerfile', o.peerfile,
    ...(o.peers ?? []).flatMap((p) => ['--peer', `127.0.0.1:${p}`]),
    ...(o.values ?? []).flatMap((v) => ['--value-id', v]),
  ];
}

/** A daemon on loopback; with nodeArgs (e.g. --cpu-prof) node itself gets those flags. */
export function startLoopbackDaemon(o: LoopbackDaemonOptions & { nodeArgs?: string[] }): Promise<Daemon> {
  const args = loopbackArgs(o);
  if (o.nodeArgs?.length) return startDaemonWithNodeArgs(o.nodeArgs, { args, label: o.label });
  return startDaemon({ args, label: o.label, stdin: 'ignore', env: o.env, readyTimeoutMs: 30_000 });
}

/** Asks until the name answers with `expect` (the cache is then warm); false after timeoutMs. */
export async function warmName(port: number, name: string, expect: string, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const r = await dnsQuery('127.0.0.1', port, name, 'A', 4000);
    if (r.rcode === 'NOERROR' && r.addresses.includes(expect)) return true;
    await sleep(250);
  }
  return false;
}

/**
 * startDaemon with flags for node itself (e.g. --cpu-prof, which NODE_OPTIONS refuses): the same
 * safe arguments, the same Daemon handle (killed on exit), optionally inside a namespace.
 */
export async function startDaemonWithNodeArgs(nodeArgs: string[], opts: { args: string[]; label: string; netns?: string; readyTimeoutMs?: number }): Promise<Daemon> {
  const argv = [...nodeArgs, kadnodeBin, ...safeDaemonArgs({ args: opts.args, netns: opts.netns })];
  const [file, fileArgs] = inNetns(opts.netns, process.execPath, argv);
  const child = spawn(file, fileArgs, { stdio: ['ignore', 'pipe', 'pipe'], cwd: repoRoot });
  await new Promise<void>((res, rej) => {
    child.once('spawn', () => res());
    child.once('error', (err) => rej(new Error(`${opts.label}: cannot start: ${err.message}`)));
  });
  const d = new Daemon(child, opts.label, opts.netns);
  try {
    await d.waitForLine(/\(I\) Ready\./, opts.readyTimeoutMs ?? 30_000);
  } catch (err) {
    await d.stop(2000);
    throw err;
  }
  return d;
}
