import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { HostPort } from '../../../src/dht/node.js';
import { silentLogger } from '../../../src/log.js';
import { MAX_PEER_FILE_BYTES, parsePeerLines, PeerFileService, readPeerFile, writeFileAtomic, type PeerFileDht } from '../../../src/net/peerfile.js';
import { buildConfig, ConfigError } from '../../../src/config.js';
import { createLogger } from '../../../src/log.js';

class FakeDht implements PeerFileDht {
  bootstraps: HostPort[][] = [];
  constructor(public family: 4 | 6, public nodes = 0, private good: { address: string; port: number }[] = []) {}
  nodeCount() { return this.nodes; }
  bootstrap(peers: HostPort[]) { this.bootstraps.push(peers); }
  goodNodes(max: number) { return this.good.slice(0, max); }
}

function tempDir(t: { after(fn: () => void): void }) {
  const dir = mkdtempSync(join(tmpdir(), 'kadnode-peerfile-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const base = { staticPeers: [], saveIntervalMs: 3_600_000, minUptimeMs: 0, retryMs: 3_600_000, maxExport: 150, writable: true };
const settle = () => new Promise((r) => setTimeout(r, 30));

test('imports the file and static peers, each family to its DHT', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'peers.txt');
  writeFileSync(path, '# peers\n10.201.0.1:6881\n[fd20::1]:7000\n10.201.0.2\n');
  const v4 = new FakeDht(4);
  const v6 = new FakeDht(6);
  const service = new PeerFileService([v4, v6], silentLogger, { ...base, path, staticPeers: [{ host: '10.201.0.9', port: 1 }] });
  service.start();
  await settle();
  assert.deepEqual(v4.bootstraps, [[{ host: '10.201.0.9', port: 1 }, { host: '10.201.0.1', port: 6881 }, { host: '10.201.0.2', port: 6881 }]]);
  assert.deepEqual(v6.bootstraps, [[{ host: 'fd20::1', port: 7000 }]]);
  await service.stop();
});

test('re-imports while the routing table stays empty, not after', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'peers.txt');
  writeFileSync(path, '10.201.0.1:6881\n');
  const dht = new FakeDht(4);
  const service = new PeerFileService([dht], silentLogger, { ...base, path, retryMs: 40, writable: false });
  service.start();
  await new Promise((r) => setTimeout(r, 150));
  const whileEmpty = dht.bootstraps.length;
  assert.ok(whileEmpty >= 2, `imported ${whileEmpty} times`);
  dht.nodes = 5;
  await new Promise((r) => setTimeout(r, 150));
  assert.equal(dht.bootstraps.length, whileEmpty);
  await service.stop();
});

test('exports good peers atomically, IPv6 in brackets, at most the bound', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'peers.txt');
  writeFileSync(path, 'old content\n');
  const good = Array.from({ length: 200 }, (_, i) => ({ address: `10.201.${i >> 8}.${i & 255}`, port: 6881 }));
  const service = new PeerFileService([new FakeDht(4, 200, good), new FakeDht(6, 1, [{ address: 'fd20::5', port: 6881 }])], silentLogger, { ...base, path, maxExport: 150 });
  assert.equal(await service.exportPeers(), 150);
  const lines = readFileSync(path, 'utf8').trimEnd().split('\n');
  assert.equal(lines.length, 150);
  assert.equal(lines[0], '10.201.0.0:6881');
  const both = new PeerFileService([new FakeDht(4, 1, [good[0]!]), new FakeDht(6, 1, [{ address: 'fd20::5', port: 6881 }])], silentLogger, { ...base, path });
  await both.exportPeers();
  assert.equal(readFileSync(path, 'utf8'), '10.201.0.0:6881\n[fd20::5]:6881\n');
  assert.deepEqual(readdirSync(dir), ['peers.txt'], 'no temporary file left');
});

test('never exports before the minimum uptime, nor to the bundled list, nor an empty list', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'peers.txt');
  writeFileSync(path, 'keep\n');
  const dht = new FakeDht(4, 1, [{ address: '10.201.0.1', port: 6881 }]);
  assert.equal(await new PeerFileService([dht], silentLogger, { ...base, path, minUptimeMs: 60_000 }).exportPeers(), null);
  assert.equal(await new PeerFileService([dht], silentLogger, { ...base, path, writable: false }).exportPeers(), null);
  assert.equal(await new PeerFileService([new FakeDht(4)], silentLogger, { ...base, path }).exportPeers(), null);
  assert.equal(readFileSync(path, 'utf8'), 'keep\n');
});

test('exports on stop; a write error is reported, not thrown', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'peers.txt');
  const dht = new FakeDht(4, 1, [{ address: '10.201.0.1', port: 6881 }]);
  const service = new PeerFileService([dht], silentLogger, { ...base, path });
  service.start();
  await service.stop();
  assert.equal(readFileSync(path, 'utf8'), '10.201.0.1:6881\n');
  const warnings: string[] = [];
  const missingDir = new PeerFileService([dht], { ...silentLogger, warn: (m) => warnings.push(m) }, { ...base, path: join(dir, 'no/such/dir/peers.txt') });
  assert.equal(await missingDir.exportPeers(), null);
  assert.match(warnings[0]!, /Cannot write peer file .*ENOENT/);
});

test('writeFileAtomic replaces the file whole', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'f');
  writeFileSync(path, 'a'.repeat(10_000));
  chmodSync(path, 0o600);
  await writeFileAtomic(path, 'new\n');
  assert.equal(readFileSync(path, 'utf8'), 'new\n');
  assert.deepEqual(readdirSync(dir), ['f']);
});

test('a peer file that is a device, a FIFO or a directory is refused at start; missing is fine', (t) => {
  const dir = tempDir(t);
  const fifo = join(dir, 'fifo');
  execFileSync('mkfifo', ['-m', '600', fifo]);
  const refused = (path: string, kind: string) =>
    assert.throws(() => buildConfig({ peerfile: path }), (err: unknown) => err instanceof ConfigError && err.message === `Invalid --peerfile: peer file '${path}' is ${kind}, not a regular file`);
  refused('/dev/zero', 'a character device');
  refused(fifo, 'a FIFO (named pipe)');
  refused(dir, 'a directory');
  assert.equal(buildConfig({ peerfile: join(dir, 'written-on-exit.txt') }).peerfile, join(dir, 'written-on-exit.txt'));
});

test('reading: a file swapped for a device later is not read (a warning); the size bound holds', async (t) => {
  // (a FIFO: see test/unit/util/read-file.test.ts, run in a child process there since a blocked open would hang this one)
  const dir = tempDir(t);
  const big = join(dir, 'big.txt');
  writeFileSync(big, '#'.repeat(MAX_PEER_FILE_BYTES + 1));
  const lines: string[] = [];
  const log = createLogger('debug', (l) => lines.push(l));
  const t0 = performance.now();
  assert.deepEqual(await readPeerFile('/dev/zero', log), []);
  assert.deepEqual(await readPeerFile(big, log), []);
  assert.ok(performance.now() - t0 < 3000);
  assert.equal(lines.length, 2, lines.join('\n'));
  assert.match(lines[0]!, /Cannot read peer file '\/dev\/zero': it is a character device, not a regular file/);
  assert.match(lines[1]!, /Cannot read peer file '.*big.txt': larger than 1024 KiB/);
});

test('peer file: at most 1000 peers are read, lines over 255 characters are refused with a warning', () => {
  const lines: string[] = [];
  const log = createLogger('debug', (l) => lines.push(l));
  const hosts = Array.from({ length: 1100 }, (_, i) => `10.201.${i >> 8}.${i & 255}:6881`);
  const peers = parsePeerLines(hosts.join('\n'), 'peers.txt', log);
  assert.equal(peers.length, 1000);
  assert.deepEqual(peers.at(-1), { host: '10.201.3.231', port: 6881 });
  const longest = `${'a'.repeat(250)}:6881`; // 255 characters
  assert.deepEqual(parsePeerLines(`${longest}\na${longest}\n`, 'peers.txt', log), [{ host: 'a'.repeat(250), port: 6881 }]);
  assert.ok(lines.some((l) => /peers\.txt:2: line too long/.test(l)), lines.join('\n'));
});

// ---------------------------------------------------------------- writeFileAtomic under kill -9

// A child rewrites a large file with writeFileAtomic in a loop and dies at random moments;
// the file must always hold one whole version. (A plain fs.writeFile in the same loop leaves torn files.)

const SIZE = 4 * 1024 * 1024;
const moduleUrl = new URL('../../../src/net/peerfile.js', import.meta.url).href;

function writerScript(path: string, plain: boolean): string {
  return `
    import { writeFileSync } from 'node:fs';
    import { writeFileAtomic } from ${JSON.stringify(moduleUrl)};
    const versions = ['a', 'b', 'c'].map((c) => c.repeat(${SIZE}));
    for (let i = 0; ; i++) {
      const content = versions[i % 3];
      if (${plain}) writeFileSync(${JSON.stringify(path)}, content);
      else await writeFileAtomic(${JSON.stringify(path)}, content);
      if (i === 0) process.stdout.write('go\\n');
    }`;
}

async function tornFiles(path: string, plain: boolean, rounds: number): Promise<number> {
  let torn = 0;
  for (let round = 0; round < rounds; round++) {
    const child = spawn(process.execPath, ['--input-type=module', '-e', writerScript(path, plain)], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`writer exited ${code}`)));
    });
    await new Promise((r) => setTimeout(r, 5 + Math.floor(Math.random() * 60)));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const content = readFileSync(path, 'latin1');
    const whole = content.length === SIZE && /^(a+|b+|c+)$/.test(content);
    if (!whole) torn++;
  }
  return torn;
}

test('kill -9 during writeFileAtomic never leaves a torn file', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kadnode-atomic-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'peers.txt');
  writeFileSync(path, 'a'.repeat(SIZE));
  assert.equal(await tornFiles(path, false, 20), 0);
});

// Shows the test has teeth: the same loop with a plain write tears the file.
test('control: a plain write in the same loop does tear the file', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'kadnode-atomic-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'peers.txt');
  writeFileSync(path, 'a'.repeat(SIZE));
  const torn = await tornFiles(path, true, 20);
  t.diagnostic(`plain writes: ${torn} of 20 kills left a torn file`);
  assert.ok(torn > 0, 'expected at least one torn file from plain writes');
});

