// packaging/debian: `npm run package:deb` (packaging/debian/build.sh) builds the .deb, lintian finds no
// error in it, and the package unpacked into a throw-away root (dpkg -x, no maintainer scripts run on
// this host) holds every file it promises and runs from there: `kadnode --version`, and (as root, in a
// network namespace) the daemon with the unit's command line and both DHTs (IPv4 and IPv6), answered by
// the packaged kadnode-ctl and, through the packaged NSS module, by getent. The packaged DHT libraries are
// the published ones at the versions the run-time adapter is pinned to (nothing patched). The maintainer scripts are run on their own against a
// scratch /etc/nsswitch.conf (DPKG_ROOT) with stand-ins for deb-systemd-helper, deb-systemd-invoke and
// systemctl first on PATH.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { haveCommand, repoRoot, sleep, tempDir } from './harness.js';
import { netnsEtc } from './netns-etc.js';
import { LIBRARY_VERSIONS } from '../../src/dht/library-adapter.js';
import { addIPv6, createNetwork, netnsSkipReason, registerCleanup, run, type Network } from './netns.js';

const version = (JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;

test('Debian package: build, lintian, unpacked root, maintainer scripts', { timeout: 600_000 }, async (t: TestContext) => {
  const skip = !haveCommand('dpkg-deb') ? 'needs dpkg-deb (Debian package dpkg)' : false;
  if (skip) {
    t.skip(skip);
    return;
  }
  const tmp = tempDir('kadnode-deb');
  t.after(() => tmp.remove());
  let deb = '';
  const root = join(tmp.path, 'root');

  await t.test('npm run package:deb builds it and prints its path on the last line', async (st) => {
    const r = await run(undefined, 'npm', ['run', '--silent', 'package:deb'], { timeoutMs: 300_000 });
    assert.equal(r.code, 0, `build failed:\n${r.stdout}\n${r.stderr}`);
    deb = r.stdout.trim().split('\n').pop()!;
    assert.match(deb, new RegExp(`/kadnode_${version.replaceAll('.', '\\.')}_[a-z0-9]+\\.deb$`));
    assert.ok(existsSync(deb), deb);
    const size = (await run(undefined, 'du', ['-k', deb])).stdout.split('\t')[0];
    st.diagnostic(`${deb} (${size} KiB), built in ${Math.round(r.ms)} ms`);
  });

  await t.test('control: depends on nodejs, conffiles, maintainer scripts', async () => {
    const info = await run(undefined, 'dpkg-deb', ['-f', deb]);
    assert.match(info.stdout, /^Package: kadnode$/m);
    assert.match(info.stdout, new RegExp(`^Version: ${version.replaceAll('.', '\\.')}$`, 'm'));
    assert.match(info.stdout, /^Depends: .*\bnodejs \(>= 20\.19\)/m);
    assert.match(info.stdout, /^Depends: .*\blibc6 \(>= 2\.\d+\)/m);
    const control = join(tmp.path, 'control');
    const x = await run(undefined, 'dpkg-deb', ['-e', deb, control]);
    assert.equal(x.code, 0, x.stderr);
    assert.equal(readFileSync(join(control, 'conffiles'), 'utf8'), '/etc/kadnode/kadnode.conf\n/etc/kadnode/peers.txt\n');
    for (const script of ['postinst', 'prerm', 'postrm']) assert.ok(existsSync(join(control, script)), script);
  });

  await t.test('lintian: no errors, no warnings', async (st) => {
    if (!haveCommand('lintian')) return st.skip('needs lintian (scripts/install-test-deps.sh installs it as root)');
    const r = await run(undefined, 'lintian', ['--tag-display-limit', '0', deb], { timeoutMs: 300_000 });
    const tags = r.stdout.split('\n').filter((l) => /^[EW]: /.test(l));
    assert.deepEqual(tags, [], r.stdout);
    const info = await run(undefined, 'lintian', ['-I', '--tag-display-limit', '0', deb], { timeoutMs: 300_000 });
    const counts = new Map<string, number>();
    for (const l of info.stdout.split('\n')) {
      const m = /^I: \S+ (\S+)/.exec(l);
      if (m) counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + 1);
    }
    st.diagnostic(`lintian: 0 errors, 0 warnings; info tags: ${[...counts].map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}`);
  });

  await t.test('dpkg -x into a throw-away root: every promised file, relative links, the pinned DHT libraries', async () => {
    const x = await run(undefined, 'dpkg', ['-x', deb, root]);
    assert.equal(x.code, 0, x.stderr);
    for (const f of ['etc/kadnode/kadnode.conf', 'etc/kadnode/peers.txt', 'lib/systemd/system/kadnode.service', 'usr/share/man/man1/kadnode.1.gz', 'usr/share/man/man1/kadnode-ctl.1.gz', 'usr/share/doc/kadnode/copyright', 'usr/share/doc/kadnode/changelog.gz', 'usr/share/doc/kadnode/README.md.gz', 'usr/share/doc/kadnode/docs/options.md.gz', 'usr/share/doc/kadnode/docs/wire-formats.md.gz', 'usr/lib/kadnode/package.json', 'usr/lib/kadnode/dist/src/cli/kadnode.js']) {
      assert.ok(existsSync(join(root, f)), `${f} missing`);
    }
    assert.equal(readFileSync(join(root, 'etc/kadnode/kadnode.conf'), 'utf8'), readFileSync(join(repoRoot, 'packaging/kadnode.conf'), 'utf8'));
    assert.equal(readFileSync(join(root, 'etc/kadnode/peers.txt'), 'utf8'), readFileSync(join(repoRoot, 'peers.txt'), 'utf8'));
    assert.equal(readFileSync(join(root, 'lib/systemd/system/kadnode.service'), 'utf8'), readFileSync(join(repoRoot, 'packaging/systemd/kadnode.service'), 'utf8'));
    assert.equal(readlinkSync(join(root, 'usr/bin/kadnode')), '../lib/kadnode/bin/kadnode');
    assert.equal(readlinkSync(join(root, 'usr/bin/kadnode-ctl')), '../lib/kadnode/bin/kadnode-ctl');
    assert.equal(readlinkSync(join(root, 'usr/lib/kadnode/peers.txt')), '/etc/kadnode/peers.txt');
    // no development dependency, no patch-package, no addon for another system
    for (const gone of ['typescript', '@types', 'patch-package']) assert.ok(!existsSync(join(root, 'usr/lib/kadnode/node_modules', gone)), `${gone} is in the package`);
    const prebuilds = join(root, 'usr/lib/kadnode/node_modules/sodium-native/prebuilds');
    const left = (await run(undefined, 'ls', [prebuilds])).stdout.trim().split('\n');
    assert.equal(left.length, 1, `sodium-native prebuilds: ${left.join(' ')}`);
    assert.match(left[0]!, /^linux-(x64|arm64)$/);
    // the DHT libraries as the adapter expects them, byte for byte the published files of node_modules
    for (const [name, pinned] of Object.entries(LIBRARY_VERSIONS)) {
      const packaged = join(root, 'usr/lib/kadnode/node_modules', name);
      assert.equal((JSON.parse(readFileSync(join(packaged, 'package.json'), 'utf8')) as { version: string }).version, pinned, name);
      const main = name === 'bittorrent-dht' ? 'client.js' : 'index.js';
      assert.equal(readFileSync(join(packaged, main), 'utf8'), readFileSync(join(repoRoot, 'node_modules', name, main), 'utf8'), `${name}/${main}`);
    }
    assert.ok(!existsSync(join(root, 'usr/lib/kadnode/patches')), 'no patches/');
    assert.ok(lstatSync(join(root, 'usr/lib/kadnode/bin/kadnode')).mode & 0o111, 'bin/kadnode is executable');
  });

  await t.test('kadnode --version and kadnode-ctl --help run from the unpacked root', async (st) => {
    const v = await run(undefined, join(root, 'usr/bin/kadnode'), ['--version']);
    assert.equal(v.code, 0, v.stderr);
    assert.match(v.stdout, new RegExp(`^kadnode v${version.replaceAll('.', '\\.')} \\(`));
    const h = await run(undefined, join(root, 'usr/bin/kadnode-ctl'), ['--help']);
    assert.equal(h.code, 0, h.stderr);
    assert.match(h.stdout, /Usage: kadnode-ctl/);
    st.diagnostic(`${join(root, 'usr/bin/kadnode')} --version: ${v.stdout.trim()}`);
  });

  await t.test('the packaged daemon runs with the unit\'s command line in a namespace; kadnode-ctl and getent (packaged NSS module) answer', async (st) => {
    const why = netnsSkipReason();
    if (why) return st.skip(why);
    let net: Network | undefined;
    let pid: number | undefined;
    const unregisterKill = registerCleanup(() => {
      if (pid !== undefined) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
    });
    try {
      net = createNetwork(1, { prefix: `kn-${process.pid}-deb` });
      addIPv6(net);
      const ns = net.host(1).name;
      const state = join(tmp.path, 'state');
      mkdirSync(state);
      // the unit: ExecStartPre seeds the peer file, ExecStart runs the daemon (paths into the root)
      const peers = join(state, 'peers.txt');
      writeFileSync(peers, '');
      const conf = readFileSync(join(root, 'etc/kadnode/kadnode.conf'), 'utf8') + '\n--value-id packaged.p2p\n--lpd-disable\n--fwd-disable\n--nss-port 4053\n--mode dual\n';
      const confPath = join(state, 'kadnode.conf');
      writeFileSync(confPath, conf);
      const child = net.spawn(ns, join(root, 'usr/bin/kadnode'), ['--config', confPath, '--peerfile', peers, '--cmd-disable-stdin'], { stdio: ['ignore', 'ignore', 'pipe'] });
      pid = child.pid;
      let stderr = '';
      child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      for (let i = 0; i < 100 && !stderr.includes('(I) Ready.'); i++) await sleep(100);
      assert.match(stderr, /\(I\) Ready\./, stderr);
      const status = await run(ns, join(root, 'usr/bin/kadnode-ctl'), ['status']);
      assert.equal(status.code, 0, status.stderr);
      assert.match(status.stdout, /kadnode v/);
      // both DHTs run: the IPv6 one through the adapter's BEP 32 overrides
      assert.match(stderr, /\(I\) DHT6: Bind to \[/, stderr);
      assert.match(status.stdout, /^DHT nodes: .* IPv4, .* IPv6$/m, status.stdout);
      const lib = (await run(undefined, 'find', [join(root, 'usr/lib'), '-name', 'libnss_kadnode.so.2'])).stdout.trim();
      if (lib) {
        const removeEtc = netnsEtc(ns, { 'nsswitch.conf': 'hosts: files kadnode [NOTFOUND=return] dns\n' });
        try {
          const g = await run(ns, 'env', [`LD_LIBRARY_PATH=${join(lib, '..')}`, 'getent', 'hosts', 'packaged.p2p']);
          assert.equal(g.code, 0, g.stdout + g.stderr);
          assert.match(g.stdout, /^(127\.0\.0\.1|::1)\s+packaged\.p2p/);
        } finally {
          removeEtc();
        }
      }
      process.kill(pid!, 'SIGTERM');
      const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
      pid = undefined;
      assert.equal(code, 0, stderr);
    } finally {
      unregisterKill();
      if (pid !== undefined) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
        await sleep(200);
      }
      net?.destroy();
    }
  });

  await t.test('maintainer scripts: kadnode goes onto the hosts line before resolve/dns once, and comes off again', async () => {
    const scratch = join(tmp.path, 'dpkg-root');
    mkdirSync(join(scratch, 'etc'), { recursive: true });
    const stubs = join(tmp.path, 'stubs');
    mkdirSync(stubs);
    const log = join(tmp.path, 'stub.log');
    for (const cmd of ['deb-systemd-helper', 'deb-systemd-invoke', 'systemctl']) {
      writeFileSync(join(stubs, cmd), `#!/bin/sh\necho "${cmd} $*" >> "${log}"\nexit 0\n`);
      chmodSync(join(stubs, cmd), 0o755);
    }
    const env = { PATH: `${stubs}:${process.env.PATH}`, DPKG_ROOT: scratch };
    const script = (name: string) => join(repoRoot, 'packaging', 'debian', name);
    const nsswitch = join(scratch, 'etc', 'nsswitch.conf');
    const cases: Array<[string, string]> = [
      ['hosts:          files dns', 'hosts:          files kadnode [NOTFOUND=return] dns'],
      ['hosts: files mdns4_minimal [NOTFOUND=return] dns myhostname', 'hosts: files mdns4_minimal [NOTFOUND=return] kadnode [NOTFOUND=return] dns myhostname'],
      ['hosts: files myhostname resolve [!UNAVAIL=return] dns', 'hosts: files myhostname kadnode [NOTFOUND=return] resolve [!UNAVAIL=return] dns'],
      ['hosts: files', 'hosts: files kadnode'],
      ['hosts: files kadnode dns', 'hosts: files kadnode dns'],
      ['hosts: files dnsx dns', 'hosts: files dnsx kadnode [NOTFOUND=return] dns'],
    ];
    for (const [before, after] of cases) {
      writeFileSync(nsswitch, `passwd: files\n${before}\nnetworks: files dns\n`);
      for (let i = 0; i < 2; i++) {
        const r = await run(undefined, 'sh', [script('postinst'), 'configure', ''], { env });
        assert.equal(r.code, 0, r.stderr);
      }
      assert.equal(readFileSync(nsswitch, 'utf8'), `passwd: files\n${after}\nnetworks: files dns\n`, `postinst on '${before}'`);
      const rm = await run(undefined, 'sh', [script('postrm'), 'remove'], { env });
      assert.equal(rm.code, 0, rm.stderr);
      const expected = before === 'hosts: files kadnode dns' ? 'hosts: files dns' : before;
      assert.equal(readFileSync(nsswitch, 'utf8'), `passwd: files\n${expected}\nnetworks: files dns\n`, `postrm after '${after}'`);
    }
    const purge = await run(undefined, 'sh', [script('postrm'), 'purge'], { env });
    assert.equal(purge.code, 0, purge.stderr);
    const pre = await run(undefined, 'sh', [script('prerm'), 'remove'], { env });
    assert.equal(pre.code, 0, pre.stderr);
    const calls = readFileSync(log, 'utf8');
    assert.match(calls, /^deb-systemd-helper enable kadnode\.service$/m);
    assert.match(calls, /^deb-systemd-helper mask kadnode\.service$/m);
    assert.match(calls, /^deb-systemd-helper purge kadnode\.service$/m);
  });
});

