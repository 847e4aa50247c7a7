// Files are files: the real bin/kadnode given /dev/zero, a FIFO, a socket or a directory where a zone,
// key, config or peer file belongs refuses at once with one line naming the file and what it is. Before,
// `--pkarr-zone /dev/zero` grew to 1.5 GB in 15 s and a FIFO as --config hung the start silently.
// Every run is bounded (killed after 10 s) and gets its own ports, so a daemon that did start harms nothing.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair } from '../../src/identity/keys.js';
import { emptyPeerFile, haveCommand, pickPorts, runKadnode, tempDir } from './harness.js';

/** Exit 1 with exactly one stderr line, `expected`, within a few seconds (a hang is killed at 10 s). */
async function refused(args: string[], expected: string): Promise<void> {
  const [dht, dns, cmd] = await pickPorts(3);
  const r = await runKadnode([...args, '--port', String(dht), '--dns-port', String(dns), '--cmd-port', String(cmd), '--cmd-disable-stdin', '--dns-addr', '127.0.0.1'], { timeoutMs: 10_000 });
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.equal(r.signal, null, `still running after ${Math.round(r.ms)} ms (killed); stderr:\n${r.stderr.slice(0, 2000)}`);
  assert.equal(r.code, 1, `exit code ${r.code}; stderr:\n${r.stderr.slice(0, 2000)}`);
  assert.deepEqual(lines, [expected]);
  assert.ok(r.ms < 5000, `took ${Math.round(r.ms)} ms`);
}

describe('operator files must be regular files', { timeout: 180_000, skip: haveCommand('mkfifo') ? false : 'needs mkfifo' }, () => {
  let tmp: ReturnType<typeof tempDir>;
  let fifo: string;
  let socketPath: string;
  let server: net.Server;
  let key: string;
  let zone: string;
  let peers: string;

  before(async () => {
    tmp = tempDir('kadnode-files');
    fifo = join(tmp.path, 'fifo');
    execFileSync('mkfifo', ['-m', '600', fifo]);
    socketPath = join(tmp.path, 'sock');
    server = net.createServer();
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    key = join(tmp.path, 'pkarr.key');
    writeFileSync(key, generateKeyPair().secretKey.toString('hex') + '\n', { mode: 0o600 });
    zone = join(tmp.path, 'zone.txt');
    writeFileSync(zone, '@ 300 IN TXT "hello"\n');
    peers = emptyPeerFile(tmp.path);
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    tmp.remove();
  });

  it('--config: /dev/zero, a FIFO, a socket', async () => {
    await refused(['--config', '/dev/zero'], 'kadnode: /dev/zero: A file expected, this is a character device');
    await refused(['--config', fifo], `kadnode: ${fifo}: A file expected, this is a FIFO (named pipe)`);
    await refused(['--config', socketPath], `kadnode: ${socketPath}: A file expected, this is a socket`);
  });

  it('--pkarr-zone: /dev/zero, a FIFO', async () => {
    const base = ['--peerfile', peers, '--pkarr-key', `@${key}`];
    await refused([...base, '--pkarr-zone', '/dev/zero'], "kadnode: Invalid --pkarr-zone: zone file '/dev/zero' is a character device, not a regular file");
    await refused([...base, '--pkarr-zone', fifo], `kadnode: Invalid --pkarr-zone: zone file '${fifo}' is a FIFO (named pipe), not a regular file`);
  });

  it('@FILE keys (--pkarr-key, --auth-add-skey): /dev/zero, a FIFO', async () => {
    await refused(['--peerfile', peers, '--pkarr-key', '@/dev/zero', '--pkarr-zone', zone], "kadnode: Invalid --pkarr-key: key file '/dev/zero' is a character device, not a regular file");
    await refused(['--peerfile', peers, '--auth-add-skey', `*.example:@${fifo}`], `kadnode: --auth-add-skey: key file '${fifo}' is a FIFO (named pipe), not a regular file`);
  });

  it('--peerfile: /dev/zero, a FIFO (a missing file is fine: it is written on exit)', async () => {
    await refused(['--peerfile', '/dev/zero'], "kadnode: Invalid --peerfile: peer file '/dev/zero' is a character device, not a regular file");
    await refused(['--peerfile', fifo], `kadnode: Invalid --peerfile: peer file '${fifo}' is a FIFO (named pipe), not a regular file`);
  });

  it('--pidfile: a FIFO (read to find a running instance)', async () => {
    await refused(['--peerfile', peers, '--pidfile', fifo], `kadnode: Pid file ${fifo}: a file expected, this is a FIFO (named pipe)`);
  });
});
