// src/features.ts: a feature that is off loads none of its modules (item 9 of issue 14), and the features
// that are on still start in table order. Runs the real bin/kadnode on loopback with every module URL it
// resolves written to a file (test/helpers/record-imports.ts).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FEATURES } from '../../src/features.js';
import { pickPorts } from '../e2e/harness.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const recorder = fileURLToPath(new URL('../helpers/record-imports.js', import.meta.url));

/** Starts bin/kadnode with `args` until Ready., stops it; returns the module URLs it resolved. */
async function importsOf(args: string[]): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'kadnode-features-'));
  try {
    const log = join(dir, 'imports.txt');
    writeFileSync(join(dir, 'peers.txt'), '');
    writeFileSync(log, '');
    const child = spawn(process.execPath, ['--import', recorder, join(repoRoot, 'bin/kadnode'), '--peerfile', join(dir, 'peers.txt'), '--dht-addr', '127.0.0.1', '--cmd-disable-stdin', ...args], {
      env: { ...process.env, KADNODE_IMPORT_LOG: log },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no Ready. within 20 s:\n${stderr}`)), 20_000);
        child.stderr!.on('data', (chunk: Buffer) => {
          stderr += chunk.toString();
          if (stderr.includes('(I) Ready.')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`exited with ${code}:\n${stderr}`));
        });
      });
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
    return readFileSync(log, 'utf8').split('\n').filter(Boolean);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const loaded = (urls: string[], part: string) => urls.some((u) => u.includes(part));

test('the feature table is in KadNode main.c order', () => {
  assert.deepEqual(
    FEATURES.map((f) => f.name),
    ['dht', 'peer file', 'lpd', 'announcer', 'resolver', 'publisher', 'port mapping', 'dns', 'control', 'web', 'nss', 'console'],
  );
});

test('features that are off load none of their modules; the web port loads the dashboard only on request', async () => {
  const [dht, dns, web] = await pickPorts(3);
  const urls = await importsOf(['--port', String(dht), '--dns-port', String(dns), '--dns-addr', '127.0.0.1', '--web-port', String(web), '--web-addr', '127.0.0.1', '--cmd-port', '0', '--nss-port', '0', '--lpd-disable', '--fwd-disable']);
  // the recorder works: the daemon's own modules and the surfaces that are on are in the list
  for (const part of ['/dist/src/daemon.js', '/dist/src/features.js', '/dist/src/surfaces/dns.js', '/dist/src/surfaces/web.js']) assert.ok(loaded(urls, part), `${part} not recorded`);
  for (const part of ['/dist/src/net/lpd.js', '/dist/src/net/portmap.js', '/node_modules/fast-xml-parser/', '/dist/src/pkarr/publisher.js', '/dist/src/surfaces/control.js', '/dist/src/surfaces/nss.js', '/node_modules/prom-client/', '/dist/src/surfaces/web-dashboard.js']) {
    assert.ok(!loaded(urls, part), `${part} was loaded although its feature is off (or, for the dashboard, never asked for)`);
  }
});
