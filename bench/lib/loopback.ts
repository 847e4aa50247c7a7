// Daemons on 127.0.0.1 (no root needed), for the dns and cost benchmarks.
import { startDaemon, type Daemon } from '../../test/e2e/harness.js';
import { dnsQuery } from './dnsclient.js';
import { sleep } from './stats.js';

export interface LoopbackDaemonOptions {
  label: string;
  dhtPort: number;
  /** 0: no DNS */
  dnsPort: number;
  /** 0: no web interface */
  webPort?: number;
  peers?: number[];
  values?: string[];
  peerfile: string;
  env?: NodeJS.ProcessEnv;
}

export function startLoopbackDaemon(o: LoopbackDaemonOptions): Promise<Daemon> {
  const args = [
    '--port', String(o.dhtPort), '--dht-addr', '127.0.0.1',
    '--dns-port', String(o.dnsPort), ...(o.dnsPort ? ['--dns-addr', '127.0.0.1'] : []),
    '--web-port', String(o.webPort ?? 0), ...(o.webPort ? ['--web-addr', '127.0.0.1'] : []),
    '--cmd-port', '0', '--cmd-disable-stdin',
    '--peerfile', o.peerfile,
    ...(o.peers ?? []).flatMap((p) => ['--peer', `127.0.0.1:${p}`]),
    ...(o.values ?? []).flatMap((v) => ['--value-id', v]),
  ];
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
