// npm: the `npm pack` tarball installs globally into a temporary prefix (npm install -g --prefix) and
// provides kadnode and kadnode-ctl that run: --version, and the daemon on loopback answering the
// installed kadnode-ctl. The postinstall (patch-package) must have applied the IPv6 DHT patches in the
// installed copy. Dependencies come from the npm cache when they are there (--prefer-offline); without
// the registry and without a warm cache the install cannot work, and the test skips with the reason.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { emptyPeerFile, haveCommand, pickPorts, registerCleanup, repoRoot, sleep, tempDir } from './harness.js';
import { run } from './netns.js';

const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
const OFFLINE = /ENOTFOUND|EAI_AGAIN|ETIMEDOUT|ENOTCACHED|ECONNREFUSED|ENETUNREACH|network/i;

test('npm pack tarball: global install into a temporary prefix', { timeout: 300_000 }, async (t: TestContext) => {
  if (!haveCommand('npm')) {
    t.skip('needs npm');
    return;
  }
  if (!existsSync(join(repoRoot, 'dist', 'src', 'cli', 'kadnode.js'))) {
    t.skip('needs the compiled dist/ (npm run build)');
    return;
  }
  const tmp = tempDir('kadnode-npm');
  t.after(() => tmp.remove());
  let tarball = '';
  const prefix = join(tmp.path, 'prefix');
  const installed = join(prefix, 'lib', 'node_modules', 'kadnode');

  await t.test('npm pack: the files a user needs, nothing else', async (st) => {
    // --ignore-scripts: no second tsc run (prepare); dist/ is compiled already
    const r = await run(undefined, 'npm', ['pack', repoRoot, '--ignore-scripts', '--json', '--pack-destination', tmp.path], { timeoutMs: 120_000 });
    assert.equal(r.code, 0, r.stderr);
    const info = (JSON.parse(r.stdout) as Array<{ filename: string; files: Array<{ path: string }>; size: number }>)[0]!;
    tarball = join(tmp.path, info.filename);
    const files = info.files.map((f) => f.path);
    for (const f of ['bin/kadnode', 'bin/kadnode-ctl', 'dist/src/cli/kadnode.js', 'dist/src/surfaces/nss.js', 'man/kadnode.1', 'peers.txt', 'patches/bittorrent-dht+11.0.12.patch', 'packaging/nss/nss_kadnode.c', 'packaging/systemd/kadnode.service', 'README.md', 'package.json']) {
      assert.ok(files.includes(f), `${f} is not in the tarball`);
    }
    assert.ok(!files.some((f) => f.startsWith('src/') || f.startsWith('test/') || f.startsWith('dist/test/') || f.startsWith('node_modules/')), files.filter((f) => /^(src|test|dist\/test|node_modules)\//.test(f)).join(' '));
    st.diagnostic(`${info.filename}: ${files.length} files, ${Math.round(info.size / 1024)} KiB`);
  });

  let installSkip: string | false = false;
  await t.test('npm install -g --prefix <tmp> <tarball>', async (st) => {
    const r = await run(undefined, 'npm', ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball], { timeoutMs: 240_000 });
    if (r.code !== 0 && OFFLINE.test(r.stderr)) {
      installSkip = `npm could not fetch the dependencies (no registry, no cache): ${r.stderr.trim().split('\n').pop()}`;
      return st.skip(installSkip);
    }
    assert.equal(r.code, 0, r.stdout + r.stderr);
    for (const bin of ['kadnode', 'kadnode-ctl']) assert.ok(existsSync(join(prefix, 'bin', bin)), `${bin} not in ${prefix}/bin`);
    st.diagnostic(`installed in ${Math.round(r.ms)} ms; ${readdirSync(join(installed, 'node_modules')).length} entries in its node_modules`);
  });

  const gate = () => installSkip || false;

  await t.test('postinstall applied the IPv6 DHT patches in the installed copy', { skip: gate() }, async () => {
    for (const patch of readdirSync(join(installed, 'patches'))) {
      const r = await run(undefined, 'patch', ['-p1', '-R', '--dry-run', '-s', '-f', '-d', installed, '-i', join(installed, 'patches', patch)]);
      assert.equal(r.code, 0, `${patch} is not applied in ${installed}:\n${r.stdout}${r.stderr}`);
    }
  });

  await t.test('kadnode --version, kadnode-ctl --help', { skip: gate() }, async () => {
    const v = await run(undefined, join(prefix, 'bin', 'kadnode'), ['--version']);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, new RegExp(`^kadnode v${version.replaceAll('.', '\\.')} `));
    const h = await run(undefined, join(prefix, 'bin', 'kadnode-ctl'), ['--help']);
    assert.equal(h.code, 0, h.stderr);
    assert.match(h.stdout, /Usage: kadnode-ctl/);
  });

  await t.test('the installed daemon runs on loopback; the installed kadnode-ctl talks to it', { skip: gate() }, async () => {
    const [dht, cmd, web] = await pickPorts(3);
    const peerfile = emptyPeerFile(tmp.path);
    const child = spawn(join(prefix, 'bin', 'kadnode'), ['--port', String(dht), '--dht-addr', '127.0.0.1', '--dns-port', '0', '--nss-port', '0', '--web-port', String(web), '--web-addr', '127.0.0.1', '--cmd-port', String(cmd), '--peerfile', peerfile, '--value-id', 'installed.p2p', '--lpd-disable', '--fwd-disable', '--cmd-disable-stdin'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const unregister = registerCleanup(() => {
      try {
        process.kill(child.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      for (let i = 0; i < 100 && !stderr.includes('(I) Ready.'); i++) await sleep(100);
      assert.match(stderr, /\(I\) Ready\./, stderr);
      const r = await run(undefined, join(prefix, 'bin', 'kadnode-ctl'), ['-p', String(cmd), 'lookup', 'installed.p2p']);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /127\.0\.0\.1:/);
      // the dashboard's script (compiled into dist/) and uPlot (resolved from the installed dependencies)
      for (const [path, text] of [['/assets/client.js', '/api/state'], ['/assets/uPlot.min.js', 'uPlot']]) {
        const asset = await fetch(`http://127.0.0.1:${web}${path}`, { signal: AbortSignal.timeout(10_000) });
        assert.equal(asset.status, 200, path);
        assert.ok((await asset.text()).includes(text!), path);
      }
      child.kill('SIGTERM');
      assert.equal(await exited, 0, stderr);
    } finally {
      child.kill('SIGKILL');
      unregister();
    }
  });
});
