// packaging/openwrt: the procd init script's mapping of /etc/config/kadnode onto kadnode options, and
// the dnsmasq hook (uci-defaults), run by the system's /bin/sh against stand-ins for OpenWrt's shell
// library (config_load and friends, re-implemented here after /lib/functions.sh: the UCI file format
// is shell syntax for the `config`, `option` and `list` functions; test/unit/fixtures/openwrt-functions.sh)
// and procd (which prints the instances it is given). Every mapped command line is then parsed by kadnode's own option parser.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildConfig } from '../../src/config.js';
import { OPTION_BY_NAME, type RawOptions } from '../../src/options.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const pkgDir = join(repoRoot, 'packaging', 'openwrt', 'kadnode');
const initScript = join(pkgDir, 'files', 'kadnode.init');

/** OpenWrt's /lib/functions.sh (config part) and procd's shell API, as far as the init script uses them. */
const STUBS = join(repoRoot, 'test', 'unit', 'fixtures', 'openwrt-functions.sh');

interface Instance {
  name: string;
  argv: string[];
  params: string[];
}

function runInit(config: string): { instances: Instance[]; logs: string[]; triggers: string[]; raw: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kadnode-openwrt-'));
  try {
    writeFileSync(join(dir, 'kadnode'), config);
    const script = `. "$STUBS"; . "$INIT"; start_service; service_triggers`;
    const r = spawnSync('sh', ['-c', script], { encoding: 'utf8', env: { PATH: process.env.PATH, UCI_DIR: dir, STUBS, INIT: initScript }, timeout: 10_000 });
    assert.equal(r.status, 0, `sh failed: ${r.stderr}`);
    assert.equal(r.stderr, '', r.stderr);
    const instances: Instance[] = [];
    const logs: string[] = [];
    const triggers: string[] = [];
    let current: Instance | undefined;
    for (const line of r.stdout.split('\n')) {
      if (line.startsWith('BEGIN ')) current = { name: line.slice(6), argv: [], params: [] };
      else if (line.startsWith('ARG ')) current!.argv.push(line.slice(4));
      else if (line.startsWith('PARAM ')) current!.params.push(line.slice(6));
      else if (line === 'END') instances.push(current!);
      else if (line.startsWith('LOG ')) logs.push(line.slice(4));
      else if (line.startsWith('TRIGGER ')) triggers.push(line.slice(8));
    }
    return { instances, logs, triggers, raw: r.stdout };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** argv as kadnode's parsers hand it to buildConfig (value options, repeatable lists, flags). */
function rawOptions(argv: string[]): RawOptions {
  const raw: RawOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i]!.replace(/^--/, '');
    const spec = OPTION_BY_NAME.get(name);
    assert.ok(spec, `unknown option ${argv[i]}`);
    if (!spec.value) {
      raw[name] = true;
      continue;
    }
    const value = argv[++i]!;
    if (spec.repeatable) raw[name] = [...((raw[name] as string[] | undefined) ?? []), value];
    else {
      assert.equal(raw[name], undefined, `${argv[i - 1]} given twice`);
      raw[name] = value;
    }
  }
  return raw;
}

test('the shipped /etc/config/kadnode: disabled, so no instance; reload trigger set', () => {
  const shipped = readFileSync(join(pkgDir, 'files', 'kadnode.config'), 'utf8');
  const r = runInit(shipped);
  assert.deepEqual(r.instances, []);
  assert.deepEqual(r.logs, []);
  assert.deepEqual(r.triggers, ['kadnode']);
});

test('the shipped config enabled: its options become kadnode options', () => {
  const shipped = readFileSync(join(pkgDir, 'files', 'kadnode.config'), 'utf8').replace("option enabled '0'", "option enabled '1'");
  const r = runInit(shipped);
  assert.equal(r.instances.length, 1, r.raw);
  const [main] = r.instances;
  assert.equal(main!.name, 'main');
  assert.deepEqual(main!.argv, [
    '/usr/bin/kadnode',
    '--port', '6881',
    '--peerfile', '/etc/kadnode/peers.txt',
    '--dns-port', '3535',
    '--cmd-port', '1700',
    '--web-port', '0',
    '--nss-port', '0',
    '--verbosity', 'verbose',
    '--cmd-disable-stdin',
  ]);
  assert.deepEqual(main!.params, ['respawn ', 'stdout 1', 'stderr 1']);
});

test('every option kind: values, lists (repeated, with spaces kept), flags, two instances', () => {
  const config = `
config kadnode 'home'
	option enabled '1'
	list value_id 'myrouter.p2p'
	list value_id 'web.p2p:8080'
	list peer 'router.bittorrent.com:6881'
	list peer '[2001:db8::1]:6881'
	option port '6882'
	option dht_addr '0.0.0.0'
	option mode 'dual'
	option query_tld '.kad'
	option dns_port '5353'
	list dns_addr '127.0.0.1'
	list dns_addr '192.168.1.1'
	option dns_server '192.168.1.254:53'
	option cmd_port '0'
	option web_port '8053'
	list web_addr '127.0.0.1'
	option nss_port '0'
	option lpd_addr '239.192.152.143'
	option lpd_disable '1'
	option fwd_disable 'yes'
	list auth_add_pkey '*.friends.kad:${'ab'.repeat(32)}'
	option verbosity 'debug'
	option peerfile_save_interval '3600'
	option peerfile_min_uptime '60'
	option peerfile '/tmp/peers file.txt'

config kadnode 'off'
	option enabled '0'
	option port '7000'

config kadnode 'second'
	option enabled 'on'
	option port '6890'
	option lpd_disable '0'
	option fwd_disable 'off'

config other 'ignored'
	option enabled '1'
	option port '1'
`;
  const r = runInit(config);
  assert.deepEqual(r.instances.map((i) => i.name), ['home', 'second']);
  assert.deepEqual(r.instances[0]!.argv, [
    '/usr/bin/kadnode',
    '--port', '6882',
    '--dht-addr', '0.0.0.0',
    '--mode', 'dual',
    '--query-tld', '.kad',
    '--peerfile', '/tmp/peers file.txt',
    '--dns-port', '5353',
    '--dns-server', '192.168.1.254:53',
    '--cmd-port', '0',
    '--web-port', '8053',
    '--nss-port', '0',
    '--lpd-addr', '239.192.152.143',
    '--verbosity', 'debug',
    '--peerfile-save-interval', '3600',
    '--peerfile-min-uptime', '60',
    '--value-id', 'myrouter.p2p',
    '--value-id', 'web.p2p:8080',
    '--peer', 'router.bittorrent.com:6881',
    '--peer', '[2001:db8::1]:6881',
    '--dns-addr', '127.0.0.1',
    '--dns-addr', '192.168.1.1',
    '--web-addr', '127.0.0.1',
    '--auth-add-pkey', `*.friends.kad:${'ab'.repeat(32)}`,
    '--lpd-disable',
    '--fwd-disable',
    '--cmd-disable-stdin',
  ]);
  assert.deepEqual(r.instances[1]!.argv, ['/usr/bin/kadnode', '--port', '6890', '--cmd-disable-stdin']);
  assert.deepEqual(r.logs, []);
});

test('an unknown UCI option is logged once and left out; the instance still starts', () => {
  const r = runInit(`
config kadnode 'main'
	option enabled '1'
	option ifname 'br-lan'
	list ifname 'eth0'
	option port '6881'
`);
  assert.equal(r.instances.length, 1);
  assert.deepEqual(r.instances[0]!.argv, ['/usr/bin/kadnode', '--port', '6881', '--cmd-disable-stdin']);
  assert.deepEqual(r.logs, ["-t kadnode /etc/config/kadnode: unknown option 'ifname' in section 'main' ignored"]);
});

test('every option the init script maps is a kadnode option (the option table and the script agree)', () => {
  const init = readFileSync(initScript, 'utf8');
  const table = (name: string) => /^(\S+)='([^']*)'$/m.exec(init.split('\n').find((l) => l.startsWith(`${name}=`)) ?? '')?.[2]?.split(' ') ?? [];
  const mapped = [...table('KADNODE_VALUES'), ...table('KADNODE_LISTS'), ...table('KADNODE_FLAGS')].map((n) => `--${n.replaceAll('_', '-')}`);
  assert.ok(mapped.length >= 20, mapped.join(' '));
  const help = execFileSync(process.execPath, [join(repoRoot, 'bin', 'kadnode'), '--help'], { encoding: 'utf8' });
  for (const option of mapped) assert.match(help, new RegExp(`\\s${option}\\s`), `${option} is not a kadnode option`);
});

test('the mapped command lines pass kadnode\'s own option checks', () => {
  const shipped = readFileSync(join(pkgDir, 'files', 'kadnode.config'), 'utf8').replace("option enabled '0'", "option enabled '1'");
  const config = buildConfig(rawOptions(runInit(shipped).instances[0]!.argv.slice(1)));
  assert.deepEqual([config.port, config.dnsPort, config.cmdPort, config.webPort, config.nssPort, config.peerfile, config.cmdDisableStdin], [6881, 3535, 1700, 0, 0, '/etc/kadnode/peers.txt', true]);
  const full = runInit(`
config kadnode 'x'
	option enabled '1'
	list value_id 'myrouter.p2p'
	option mode 'dual'
	option dns_server '192.168.1.254'
	option lpd_disable '1'
	list auth_add_pkey '*.friends.p2p:${'ab'.repeat(32)}'
`).instances[0]!.argv.slice(1);
  const c = buildConfig(rawOptions(full));
  assert.deepEqual([c.mode, c.dnsServer, c.lpd, c.valueIds], ['dual', { host: '192.168.1.254', port: 53 }, null, [{ query: 'myrouter.p2p' }]]);
});

test('uci-defaults: the dnsmasq hook adds server and rebind_domain once', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kadnode-uci-'));
  try {
    mkdirSync(join(dir, 'bin'));
    const state = join(dir, 'state');
    // a uci that keeps dhcp.@dnsmasq[0] lists in files and logs every call
    writeFileSync(join(dir, 'bin', 'uci'), `#!/bin/sh
echo "uci $*" >> "${state}.log"
[ "$1" = -q ] && shift
case "$1" in
  get)
    case "$2" in
      'dhcp.@dnsmasq[0]') echo dnsmasq ;;
      'dhcp.@dnsmasq[0].server') [ -s "${state}.server" ] && tr '\\n' ' ' < "${state}.server" | sed 's/ $//'; [ -s "${state}.server" ] || exit 1 ;;
      'dhcp.@dnsmasq[0].rebind_domain') [ -s "${state}.rebind" ] && tr '\\n' ' ' < "${state}.rebind" | sed 's/ $//'; [ -s "${state}.rebind" ] || exit 1 ;;
    esac ;;
  add_list)
    case "$2" in
      'dhcp.@dnsmasq[0].server='*) echo "\${2#*=}" >> "${state}.server" ;;
      'dhcp.@dnsmasq[0].rebind_domain='*) echo "\${2#*=}" >> "${state}.rebind" ;;
    esac ;;
  commit) ;;
esac
exit 0
`);
    chmodSync(join(dir, 'bin', 'uci'), 0o755);
    writeFileSync(`${state}.server`, '/lan/192.168.1.1\n');
    const hook = join(pkgDir, 'files', 'kadnode.uci-defaults');
    const env = { PATH: `${join(dir, 'bin')}:${process.env.PATH}` };
    for (let i = 0; i < 2; i++) {
      const r = spawnSync('sh', [hook], { encoding: 'utf8', env, timeout: 10_000 });
      assert.equal(r.status, 0, r.stderr);
    }
    assert.equal(readFileSync(`${state}.server`, 'utf8'), '/lan/192.168.1.1\n/p2p/127.0.0.1#3535\n');
    assert.equal(readFileSync(`${state}.rebind`, 'utf8'), 'p2p\n');
    assert.equal(readFileSync(`${state}.log`, 'utf8').split('\n').filter((l) => l.startsWith('uci commit dhcp')).length, 2);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
