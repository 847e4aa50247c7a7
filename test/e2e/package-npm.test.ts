// npm: the `npm pack` tarball installs globally into a temporary prefix (npm install -g --prefix) and
// provides kadnode and kadnode-ctl that run: --version, and the daemon on loopback answering the
// installed kadnode-ctl. Nothing is patched at install (no install script): the DHT libraries stay as
// published and kadnode adapts them at run time, so the IPv6 DHT works from the global install and from
// an install as a dependency of another project, where npm hoists the DHT libraries out of kadnode's
// directory (two installed daemons on ::1 find each other's name). Dependencies come from the npm cache
// when they are there (--prefer-offline); without the registry and without a warm cache the install
// cannot work, and the test skips with the reason.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LIBRARY_VERSIONS } from '../../src/dht/library-adapter.js';
import { emptyPeerFile, haveCommand, pickPorts, registerCleanup, repoRoot, retry, sleep, tempDir } from './harness.js';
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
    for (const f of ['bin/kadnode', 'bin/kadnode-ctl', 'dist/src/cli/kadnode.js', 'dist/src/surfaces/nss.js', 'man/kadnode.1', 'peers.txt', 'packaging/nss/nss_kadnode.c', 'packaging/systemd/kadnode.service', 'README.md', 'docs/options.md', 'docs/wire-formats.md', 'package.json']) {
      assert.ok(files.includes(f), `${f} is not in the tarball`);
    }
    assert.ok(!files.some((f) => /^(src|test|dist\/test|node_modules|patches)\//.test(f)), files.filter((f) => /^(src|test|dist\/test|node_modules|patches)\//.test(f)).join(' '));
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

  await t.test('no install script; the DHT libraries at the versions the adapter is pinned to', { skip: gate() }, async () => {
    const pkg = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8')) as { scripts?: Record<string, string> };
    for (const hook of ['preinstall', 'install', 'postinstall']) assert.equal(pkg.scripts?.[hook], undefined, hook);
    for (const [name, pinned] of Object.entries(LIBRARY_VERSIONS)) assert.equal(installedVersion(join(installed, 'node_modules'), name), pinned, name);
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
    const daemon = await spawnInstalled(join(prefix, 'bin', 'kadnode'), ['--port', String(dht), '--dht-addr', '127.0.0.1', '--dns-port', '0', '--nss-port', '0', '--web-port', String(web), '--web-addr', '127.0.0.1', '--cmd-port', String(cmd), '--peerfile', peerfile, '--value-id', 'installed.p2p', '--lpd-disable', '--fwd-disable', '--cmd-disable-stdin']);
    try {
      const r = await run(undefined, join(prefix, 'bin', 'kadnode-ctl'), ['-p', String(cmd), 'lookup', 'installed.p2p']);
      assert.equal(r.code, 0, r.stdout + r.stderr);
      assert.match(r.stdout, /127\.0\.0\.1:/);
      // the dashboard's script (compiled into dist/) and uPlot (resolved from the installed dependencies)
      for (const [path, text] of [['/assets/client.js', '/api/state'], ['/assets/uPlot.min.js', 'uPlot']]) {
        const asset = await fetch(`http://127.0.0.1:${web}${path}`, { signal: AbortSignal.timeout(10_000) });
        assert.equal(asset.status, 200, path);
        assert.ok((await asset.text()).includes(text!), path);
      }
    } catch (err) {
      await daemon.stop();
      throw err;
    }
    assert.equal(await daemon.stop(), 0, `a clean exit on SIGTERM\n${daemon.stderr()}`);
  });

  await t.test('the installed IPv6 DHT: a name one installed daemon announces is found by another over ::1', { skip: gate() }, async () => {
    await ipv6Pair(join(prefix, 'bin', 'kadnode'), join(prefix, 'bin', 'kadnode-ctl'), tmp.path);
  });

  await t.test('as a dependency of another project (DHT libraries hoisted out of kadnode): the IPv6 DHT works', { skip: gate() }, async (st) => {
    const project = join(tmp.path, 'project');
    mkdirSync(project);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-kadnode', version: '1.0.0', private: true }));
    const r = await run(undefined, 'npm', ['install', '--prefix', project, '--prefer-offline', '--no-audit', '--no-fund', tarball], { timeoutMs: 240_000 });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const modules = join(project, 'node_modules');
    for (const [name, pinned] of Object.entries(LIBRARY_VERSIONS)) {
      assert.equal(installedVersion(modules, name), pinned, `${name} hoisted into the project`);
      assert.ok(!existsSync(join(modules, 'kadnode', 'node_modules', name)), `${name} is not under kadnode/`);
    }
    st.diagnostic(`installed as a dependency in ${Math.round(r.ms)} ms`);
    await ipv6Pair(join(modules, '.bin', 'kadnode'), join(modules, '.bin', 'kadnode-ctl'), tmp.path);
  });
});

function installedVersion(modules: string, name: string): string | undefined {
  const file = join(modules, name, 'package.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version : undefined;
}

/** Runs an installed kadnode until `(I) Ready.`; stopped (SIGKILL) at the end of the test. */
async function spawnInstalled(bin: string, args: string[]): Promise<{ stderr: () => string; stop: () => Promise<number | null> }> {
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
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
  for (let i = 0; i < 100 && !stderr.includes('(I) Ready.') && child.exitCode === null; i++) await sleep(100);
  const stop = async () => {
    child.kill('SIGTERM');
    const code = await Promise.race([exited, sleep(5000).then(() => null)]);
    child.kill('SIGKILL');
    unregister();
    return code;
  };
  if (!stderr.includes('(I) Ready.')) {
    await stop();
    assert.fail(`${bin} did not start:\n${stderr}`);
  }
  return { stderr: () => stderr, stop };
}

/** Two installed daemons, IPv6 DHT only, on ::1: B bootstraps from A, A announces a name, B finds it. */
async function ipv6Pair(kadnode: string, kadnodeCtl: string, dir: string): Promise<void> {
  const [dhtA, cmdA, dhtB, cmdB] = (await pickPorts(4)).map(String) as [string, string, string, string];
  const common = ['--mode', 'ipv6', '--dht-addr', '::1', '--dns-port', '0', '--nss-port', '0', '--web-port', '0', '--peerfile', emptyPeerFile(dir, 'peers-ipv6.txt'), '--lpd-disable', '--fwd-disable', '--cmd-disable-stdin'];
  const a = await spawnInstalled(kadnode, [...common, '--port', dhtA, '--cmd-port', cmdA, '--value-id', 'installed6.p2p']);
  try {
    const b = await spawnInstalled(kadnode, [...common, '--port', dhtB, '--cmd-port', cmdB, '--peer', `[::1]:${dhtA}`]);
    try {
      assert.match(a.stderr(), new RegExp(`DHT6: Bind to \\[::1\\]:${dhtA}`));
      const found = await retry(
        async () => {
          const r = await run(undefined, kadnodeCtl, ['-p', cmdB, 'lookup', 'installed6.p2p']);
          return r.code === 0 && r.stdout.includes(`[::1]:${dhtA}`) ? r : undefined;
        },
        { tries: 30, timeoutMs: 40_000, intervalMs: 1000 },
      );
      assert.ok(found.value, `daemon B never found installed6.p2p over the IPv6 DHT:\n${a.stderr()}\n${b.stderr()}`);
      assert.equal(await b.stop(), 0, b.stderr());
    } finally {
      await b.stop();
    }
    assert.equal(await a.stop(), 0, a.stderr());
  } finally {
    await a.stop();
  }
}
