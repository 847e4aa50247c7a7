// Port forwarding against a real gateway (needs root, nftables in a network namespace, miniupnpd, upnpc).
//
//   LAN kn-<pid>-fw-lan          router kn-<pid>-fw-rt                 WAN kn-<pid>-fw-wan
//   10.201.1.2 eth0 ──── lan0 10.201.1.1 | miniupnpd | wan0 10.201.2.1 ──── eth0 10.201.2.2 (+ .3)
//   kadnode (maps)           forwards, masquerades (nftables,           kadnode --peer 10.201.2.1:6881,
//                            this namespace only)                       STUN responder for miniupnpd
//
// The router forwards LAN → WAN only; the WAN reaches the LAN only through what miniupnpd maps. miniupnpd
// refuses to map behind a private external address unless STUN says the address is reachable 1:1, so a
// tiny STUN responder (RFC 5780 CHANGE-REQUEST, two addresses) runs on the WAN side. Phases: UPnP only
// (NAT-PMP off), NAT-PMP only (UPnP off), then --fwd-disable. In each mapping phase the LAN daemon maps
// UDP+TCP for its DHT port and its value port (and, in the UPnP phase, a port announced on the console), a WAN kadnode reaches it through the router (it ends up in
// the WAN node's routing table as 10.201.2.1:6881, and the WAN node resolves the LAN node's name to
// 10.201.2.1:<value port>), a TCP service on the value port answers through the router, and the mappings
// are gone after the LAN daemon stops. Every process is killed by pid, every namespace deleted (which
// takes miniupnpd's nftables rules with it), on failure too.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { netnsSkipReason, registerCleanup, removeStaleNamespaces, run } from './netns.js';
import { emptyPeerFile, haveCommand, repoRoot, retry, sleep, startDaemon, tempDir, type Daemon } from './harness.js';

const PREFIX = `kn-${process.pid}-fw`;
const NS = { lan: `${PREFIX}-lan`, rt: `${PREFIX}-rt`, wan: `${PREFIX}-wan` };
const LAN_IP = '10.201.1.2';
const RT_LAN_IP = '10.201.1.1';
const RT_WAN_IP = '10.201.2.1';
const WAN_IP = '10.201.2.2';
const WAN_IP2 = '10.201.2.3';
const DHT_PORT = 6881;
const VALUE_PORT = 7000;
/** announced at run time on the console */
const EXTRA_PORT = 7100;
const HTTP_PORT = 5000;
const NAME = 'lan.p2p';
const ROOT_DESC = `http://${RT_LAN_IP}:${HTTP_PORT}/rootDesc.xml`;

function skipReason(): string | false {
  const netns = netnsSkipReason();
  if (netns) return netns;
  for (const [cmd, pkg] of [
    ['miniupnpd', 'miniupnpd-nftables'],
    ['upnpc', 'miniupnpc'],
    ['nft', 'nftables'],
  ] as const) {
    if (!haveCommand(cmd)) return `needs ${cmd} (Debian package ${pkg}; scripts/install-test-deps.sh installs it as root)`;
  }
  return false;
}

/** A command in the root namespace or inside one (`ip netns exec`), bounded; throws with its stderr. */
function sh(cmd: string, args: string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { stdio: 'pipe', timeout: 10_000, input }).toString();
  } catch (err) {
    const e = err as Error & { stderr?: Buffer };
    throw new Error(`${cmd} ${args.join(' ')} failed: ${e.stderr?.toString().trim() || e.message}`);
  }
}
const nsh = (ns: string, cmd: string, args: string[], input?: string) => sh('ip', ['netns', 'exec', ns, cmd, ...args], input);

// The router's ruleset, as /etc/miniupnpd/nft_init.sh of the Debian package lays it out, plus NAT for the LAN.
const RULESET = `
table inet filter {
  chain forward {
    type filter hook forward priority 0; policy drop;
    ct state established,related accept
    iifname "lan0" oifname "wan0" accept
    jump miniupnpd
  }
  chain miniupnpd {
  }
  chain prerouting {
    type nat hook prerouting priority -100; policy accept;
    jump prerouting_miniupnpd
  }
  chain postrouting {
    type nat hook postrouting priority 100; policy accept;
    jump postrouting_miniupnpd
    oifname "wan0" masquerade
  }
  chain prerouting_miniupnpd {
  }
  chain postrouting_miniupnpd {
  }
}
`;

// STUN responder (RFC 5389 binding, RFC 5780 CHANGE-REQUEST and OTHER-ADDRESS) on two addresses and two
// ports, enough for miniupnpd's "is the external address reachable 1:1" test. Run with node.
const STUN_SCRIPT = `
import { createSocket } from 'node:dgram';
const [ipA, ipB] = process.argv.slice(2);
const PORTS = [3478, 3479];
const sockets = new Map();
const attr = (type, ip, port, xor) => {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(type, 0); b.writeUInt16BE(8, 2); b[5] = 1;
  const o = ip.split('.').map(Number);
  if (xor) { port ^= 0x2112; o[0] ^= 0x21; o[1] ^= 0x12; o[2] ^= 0xa4; o[3] ^= 0x42; }
  b.writeUInt16BE(port, 6); o.forEach((v, i) => (b[8 + i] = v));
  return b;
};
let open = 0;
for (const ip of [ipA, ipB]) for (const port of PORTS) {
  const s = createSocket('udp4');
  sockets.set(ip + ':' + port, s);
  s.on('message', (msg, r) => {
    if (msg.length < 20 || msg.readUInt16BE(0) !== 0x0001) return;
    let flags = 0;
    for (let p = 20; p + 4 <= msg.length; ) {
      const t = msg.readUInt16BE(p), l = msg.readUInt16BE(p + 2);
      if (t === 3 && l >= 4) flags = msg.readUInt32BE(p + 4);
      p += 4 + l + ((4 - (l % 4)) % 4);
    }
    const otherIp = ip === ipA ? ipB : ipA, otherPort = port === PORTS[0] ? PORTS[1] : PORTS[0];
    const fromIp = flags & 4 ? otherIp : ip, fromPort = flags & 2 ? otherPort : port;
    const attrs = Buffer.concat([attr(0x0001, r.address, r.port, false), attr(0x0020, r.address, r.port, true), attr(0x802b, fromIp, fromPort, false), attr(0x802c, otherIp, otherPort, false)]);
    const head = Buffer.alloc(20);
    head.writeUInt16BE(0x0101, 0); head.writeUInt16BE(attrs.length, 2); msg.copy(head, 4, 4, 20);
    sockets.get(fromIp + ':' + fromPort).send(Buffer.concat([head, attrs]), r.port, r.address);
  });
  s.bind(port, ip, () => { if (++open === 4) console.log('stun ready'); });
}
`;

// A TCP service on the value port that says who it is, and a client that prints what it hears (or the error).
const TCP_SERVER = `require('node:net').createServer((s) => s.end('kadnode-fw-ok\\n')).listen(${VALUE_PORT}, '0.0.0.0', () => console.log('tcp ready'));`;
const TCP_CLIENT = `const s = require('node:net').connect(${VALUE_PORT}, '${RT_WAN_IP}');
let out = ''; s.setTimeout(2000, () => { console.log('ERR timeout'); process.exit(0); });
s.on('data', (d) => (out += d)); s.on('end', () => { console.log(out.trim()); process.exit(0); });
s.on('error', (e) => { console.log('ERR ' + e.code); process.exit(0); });`;

interface Helper {
  child: ChildProcess;
  lines: string[];
}

function miniupnpdConfig(dir: string, phase: string, upnp: boolean, natpmp: boolean): string {
  const path = join(dir, `miniupnpd-${phase}.conf`);
  writeFileSync(
    path,
    [
      'ext_ifname=wan0',
      'listening_ip=lan0',
      `http_port=${HTTP_PORT}`,
      `enable_upnp=${upnp ? 'yes' : 'no'}`,
      `enable_natpmp=${natpmp ? 'yes' : 'no'}`,
      'secure_mode=yes',
      'system_uptime=no',
      'uuid=8c2a9ad4-9b0e-4c55-b0b2-6f2b1e8f0a01',
      `lease_file=${join(dir, `upnp-${phase}.leases`)}`,
      // the external address is private (10.201.2.1): miniupnpd maps only when STUN shows it reachable 1:1
      'ext_perform_stun=yes',
      `ext_stun_host=${WAN_IP}`,
      'ext_stun_port=3478',
      `allow 1024-65535 ${LAN_IP}/32 1024-65535`,
      'deny 0-65535 0.0.0.0/0 0-65535',
      '',
    ].join('\n'),
  );
  return path;
}

test('port forwarding through a real miniupnpd: UPnP IGD, NAT-PMP, --fwd-disable', { timeout: 240_000 }, async (t: TestContext) => {
  const skip = skipReason();
  if (skip) {
    t.skip(skip);
    return;
  }
  removeStaleNamespaces();
  const tmp = tempDir('kadnode-portmap');
  const helpers: Helper[] = [];
  const daemons: Daemon[] = [];
  const created: string[] = [];
  const destroy = (): void => {
    for (const h of helpers) if (h.child.exitCode === null && h.child.signalCode === null && h.child.pid) {
      try {
        process.kill(h.child.pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    for (const ns of [...created].reverse()) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'pipe', timeout: 10_000 });
      } catch {
        // gone
      }
    }
    created.length = 0;
  };
  const unregister = registerCleanup(destroy);
  t.after(async () => {
    await Promise.all(daemons.map((d) => d.stop(5000)));
    for (const h of helpers) h.child.kill('SIGTERM');
    await sleep(200);
    destroy();
    unregister();
    tmp.remove();
  });

  /** Starts a helper process in a namespace and waits (bounded) for a line on its output. */
  const startHelper = async (ns: string, label: string, cmd: string, args: string[], ready: RegExp, timeoutMs = 15_000): Promise<Helper> => {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const h: Helper = { child, lines: [] };
    helpers.push(h);
    const onData = (chunk: Buffer) => h.lines.push(...chunk.toString().split('\n').filter(Boolean));
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    const r = await retry(async () => (h.lines.some((l) => ready.test(l)) ? true : child.exitCode !== null ? false : undefined), { tries: 1000, timeoutMs, intervalMs: 50 });
    if (r.value !== true) throw new Error(`${label} not ready (${ready}) within ${timeoutMs} ms${child.exitCode !== null ? `, exited ${child.exitCode}` : ''}:\n${h.lines.slice(-20).join('\n')}`);
    return h;
  };
  const stopHelper = async (h: Helper): Promise<void> => {
    if (h.child.exitCode !== null || h.child.signalCode !== null) return;
    const exited = new Promise((r) => h.child.once('exit', r));
    h.child.kill('SIGTERM');
    if (!(await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]))) h.child.kill('SIGKILL');
  };

  let failedPhase: string | undefined;
  const phase = async (name: string, fn: (st: TestContext) => Promise<void>): Promise<void> => {
    await t.test(name, { skip: failedPhase ? `skipped: phase "${failedPhase}" failed` : false }, async (st: TestContext) => {
      try {
        await fn(st);
      } catch (err) {
        failedPhase ??= name;
        throw err;
      }
    });
  };

  // ------------------------------------------------------------ topology
  await phase('LAN, router (nftables NAT) and WAN namespaces; STUN responder', async (st) => {
    for (const ns of Object.values(NS)) {
      sh('ip', ['netns', 'add', ns]);
      created.push(ns);
      sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    // veth pairs created directly inside the namespaces: nothing appears in the root namespace
    sh('ip', ['link', 'add', 'eth0', 'netns', NS.lan, 'type', 'veth', 'peer', 'name', 'lan0', 'netns', NS.rt]);
    sh('ip', ['link', 'add', 'eth0', 'netns', NS.wan, 'type', 'veth', 'peer', 'name', 'wan0', 'netns', NS.rt]);
    sh('ip', ['-n', NS.lan, 'addr', 'add', `${LAN_IP}/24`, 'dev', 'eth0']);
    sh('ip', ['-n', NS.lan, 'link', 'set', 'eth0', 'up']);
    sh('ip', ['-n', NS.lan, 'route', 'add', 'default', 'via', RT_LAN_IP]);
    sh('ip', ['-n', NS.rt, 'addr', 'add', `${RT_LAN_IP}/24`, 'dev', 'lan0']);
    sh('ip', ['-n', NS.rt, 'addr', 'add', `${RT_WAN_IP}/24`, 'dev', 'wan0']);
    sh('ip', ['-n', NS.rt, 'link', 'set', 'lan0', 'up']);
    sh('ip', ['-n', NS.rt, 'link', 'set', 'wan0', 'up']);
    sh('ip', ['-n', NS.wan, 'addr', 'add', `${WAN_IP}/24`, 'dev', 'eth0']);
    sh('ip', ['-n', NS.wan, 'addr', 'add', `${WAN_IP2}/24`, 'dev', 'eth0']);
    sh('ip', ['-n', NS.wan, 'link', 'set', 'eth0', 'up']);
    // /proc/sys/net is the namespace's own when written from inside it
    nsh(NS.rt, 'sh', ['-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
    try {
      nsh(NS.rt, 'nft', ['-f', '-'], RULESET);
    } catch (err) {
      st.skip(`nftables does not work in a network namespace here: ${(err as Error).message}`);
      failedPhase = 'nftables unavailable';
      return;
    }
    // the LAN reaches the WAN (masqueraded); the WAN has no route into the LAN at all
    if (haveCommand('ping')) {
      const ping = await run(NS.lan, 'ping', ['-c', '1', '-W', '2', WAN_IP], { timeoutMs: 5000 });
      assert.equal(ping.code, 0, `LAN cannot reach the WAN through the router:\n${ping.stdout}${ping.stderr}`);
    }
    const stunFile = join(tmp.path, 'stun.mjs');
    writeFileSync(stunFile, STUN_SCRIPT);
    await startHelper(NS.wan, 'STUN responder', process.execPath, [stunFile, WAN_IP, WAN_IP2], /stun ready/);
    await startHelper(NS.lan, 'TCP service', process.execPath, ['-e', TCP_SERVER], /tcp ready/);
  });

  const tcpThroughRouter = async (): Promise<string> => (await run(NS.wan, process.execPath, ['-e', TCP_CLIENT], { timeoutMs: 10_000 })).stdout.trim();
  const peerfile = emptyPeerFile(tmp.path);
  const lanArgs = ['--port', String(DHT_PORT), '--value-id', `${NAME}:${VALUE_PORT}`, '--peerfile', peerfile, '--dns-port', '0', '--cmd-port', '0', '--web-port', '0', '--lpd-disable'];
  const wanArgs = ['--port', String(DHT_PORT), '--peer', `${RT_WAN_IP}:${DHT_PORT}`, '--dns-port', '0', '--cmd-port', '0', '--web-port', '0', '--lpd-disable', '--fwd-disable'];
  const upnpEntries = async (): Promise<string[]> => {
    const r = await run(NS.lan, 'upnpc', ['-u', ROOT_DESC, '-l'], { timeoutMs: 10_000 });
    return r.stdout.split('\n').filter((l) => /^\s*\d+\s+(UDP|TCP)\s+\d+->/.test(l)).map((l) => l.trim().replace(/\s+/g, ' '));
  };
  const dnatRules = (): string[] => nsh(NS.rt, 'nft', ['list', 'chain', 'inet', 'filter', 'prerouting_miniupnpd']).split('\n').filter((l) => l.includes('dnat'));
  const waitMapped = async (d: Daemon, method: string, st: TestContext): Promise<void> => {
    const t0 = performance.now();
    for (const proto of ['UDP', 'TCP']) {
      for (const port of [DHT_PORT, VALUE_PORT]) {
        await d.waitForLine(new RegExp(`\\(I\\) FWD: Mapped ${proto} ${port} -> ${RT_WAN_IP.replace(/\./g, '\\.')}:${port} via ${method} `), 20_000);
      }
    }
    st.diagnostic(`all 4 mappings ${Math.round(performance.now() - t0)} ms after Ready`);
  };
  const forwardingLines = async (d: Daemon): Promise<string[]> => (await d.command('list forwardings')).filter((l) => /^(UDP|TCP) /.test(l));

  /** The WAN node reaches the LAN node only through the mapping: routing table, and a lookup of its name. */
  const wanReachesLan = async (st: TestContext, label: string): Promise<void> => {
    const wan = await startDaemon({ args: wanArgs, netns: NS.wan, label: `WAN kadnode (${label})` });
    daemons.push(wan);
    try {
      const t0 = performance.now();
      const inTable = await retry(
        async () => ((await wan.command('list buckets')).some((l) => l.includes(` ${RT_WAN_IP}:${DHT_PORT} `)) ? true : undefined),
        { tries: 60, timeoutMs: 30_000, intervalMs: 500 },
      );
      assert.ok(inTable.value, `the WAN node never got ${RT_WAN_IP}:${DHT_PORT} into its routing table:\n${(await wan.command('list buckets')).join('\n')}\n${wan.tail()}`);
      st.diagnostic(`${label}: LAN node in the WAN routing table after ${Math.round(performance.now() - t0)} ms`);
      const found = await retry(
        async () => {
          const out = await wan.command(`lookup ${NAME}`, { timeoutMs: 15_000 });
          return out.includes(`${RT_WAN_IP}:${VALUE_PORT}`) ? out : undefined;
        },
        { tries: 20, timeoutMs: 60_000, intervalMs: 1000 },
      );
      assert.ok(found.value, `the WAN node does not resolve ${NAME} to ${RT_WAN_IP}:${VALUE_PORT}:\n${(await wan.command(`lookup ${NAME}`)).join('\n')}`);
      st.diagnostic(`${label}: WAN resolves ${NAME} -> ${found.value.join(' ')} after ${Math.round(performance.now() - t0)} ms`);
    } finally {
      await wan.stop(5000);
    }
  };

  const checkRemoval = async (lan: Daemon, method: string, gateway: string, count: number, st: TestContext): Promise<void> => {
    const stopped = await lan.stop(10_000);
    assert.equal(stopped.killed, false, 'the daemon needed SIGKILL');
    st.diagnostic(`LAN daemon stopped in ${Math.round(stopped.ms)} ms`);
    assert.ok(lan.stderrLines.includes(`(I) FWD: Removed ${count} port mappings from ${method} gateway ${gateway}`), lan.tail(20));
    assert.deepEqual(dnatRules(), [], 'miniupnpd still forwards after the daemon stopped');
    assert.match(await tcpThroughRouter(), /^ERR /, 'the value port is still reachable from the WAN');
  };

  // ------------------------------------------------------------ UPnP IGD
  await phase('UPnP (miniupnpd, NAT-PMP off): maps, WAN reaches the LAN node, removed on stop', async (st) => {
    assert.match(await tcpThroughRouter(), /^ERR /, 'control: the WAN must not reach the LAN before any mapping');
    const mud = await startHelper(NS.rt, 'miniupnpd (UPnP)', 'miniupnpd', ['-f', miniupnpdConfig(tmp.path, 'upnp', true, false), '-d', '-P', join(tmp.path, 'miniupnpd-upnp.pid')], /HTTP listening on port/);
    assert.ok(!mud.lines.some((l) => /Port forwarding is (impossible|now disabled)/.test(l)), mud.lines.join('\n'));
    const lan = await startDaemon({ args: lanArgs, netns: NS.lan, portForwarding: true, label: 'LAN kadnode (UPnP)' });
    daemons.push(lan);
    await waitMapped(lan, 'UPnP', st);
    const gateway = `${RT_LAN_IP}:${HTTP_PORT}`;
    const listed = await forwardingLines(lan);
    assert.equal(listed.length, 4, listed.join('\n'));
    for (const proto of ['UDP', 'TCP']) {
      for (const [port, what] of [[DHT_PORT, 'kadnode DHT'], [VALUE_PORT, 'kadnode value']] as const) {
        const re = new RegExp(`^${proto} ${port} -> ${RT_WAN_IP}:${port} UPnP ${gateway} lease (\\d+) s left \\(${what}\\)$`);
        const line = listed.find((l) => re.test(l));
        assert.ok(line, `list forwardings lacks ${proto} ${port}:\n${listed.join('\n')}`);
        assert.ok(Number(re.exec(line)![1]) > 1800, line);
      }
    }
    const entries = await upnpEntries();
    st.diagnostic(`upnpc -l: ${entries.join(' | ')}`);
    for (const proto of ['UDP', 'TCP']) {
      for (const port of [DHT_PORT, VALUE_PORT]) {
        assert.ok(entries.some((e) => new RegExp(`^\\d+ ${proto} ${port}->${LAN_IP}:${port} 'kadnode (DHT|value)' '' \\d+$`).test(e)), `upnpc -l lacks ${proto} ${port}:\n${entries.join('\n')}`);
      }
    }
    assert.equal(await tcpThroughRouter(), 'kadnode-fw-ok', 'TCP on the value port through the router');
    await wanReachesLan(st, 'UPnP');
    // a value announced at run time with its own port is forwarded too
    assert.deepEqual(await lan.command(`announce extra.p2p:${EXTRA_PORT} -1`), [`Start regular announcements for the entire run time (port ${EXTRA_PORT}).`]);
    for (const proto of ['UDP', 'TCP']) await lan.waitForLine(new RegExp(`\\(I\\) FWD: Mapped ${proto} ${EXTRA_PORT} -> ${RT_WAN_IP}:${EXTRA_PORT} via UPnP `), 10_000);
    assert.equal((await upnpEntries()).filter((e) => e.includes(`${EXTRA_PORT}->${LAN_IP}:${EXTRA_PORT}`)).length, 2);
    await checkRemoval(lan, 'UPnP', gateway, 6, st);
    assert.deepEqual(await upnpEntries(), []);
    await stopHelper(mud);
  });

  // ------------------------------------------------------------ NAT-PMP
  await phase('NAT-PMP (miniupnpd, UPnP off): maps, WAN reaches the LAN node, removed on stop', async (st) => {
    const mud = await startHelper(NS.rt, 'miniupnpd (NAT-PMP)', 'miniupnpd', ['-f', miniupnpdConfig(tmp.path, 'natpmp', false, true), '-d', '-P', join(tmp.path, 'miniupnpd-natpmp.pid')], /Listening for NAT-PMP\/PCP traffic on port 5351/);
    const lan = await startDaemon({ args: lanArgs, netns: NS.lan, portForwarding: true, label: 'LAN kadnode (NAT-PMP)' });
    daemons.push(lan);
    await waitMapped(lan, 'NAT-PMP', st);
    const listed = await forwardingLines(lan);
    assert.equal(listed.length, 4, listed.join('\n'));
    for (const l of listed) assert.match(l, new RegExp(`^(UDP|TCP) (${DHT_PORT}|${VALUE_PORT}) -> ${RT_WAN_IP}:\\2 NAT-PMP ${RT_LAN_IP} lease \\d+ s left \\(kadnode (DHT|value)\\)$`), listed.join('\n'));
    const rules = dnatRules();
    st.diagnostic(`router dnat rules: ${rules.map((r) => r.trim()).join(' | ')}`);
    for (const port of [DHT_PORT, VALUE_PORT]) assert.equal(rules.filter((r) => r.includes(`dnat ip to ${LAN_IP}:${port}`)).length, 2, rules.join('\n'));
    assert.equal(await tcpThroughRouter(), 'kadnode-fw-ok', 'TCP on the value port through the router');
    await wanReachesLan(st, 'NAT-PMP');
    await checkRemoval(lan, 'NAT-PMP', RT_LAN_IP, 4, st);
    await stopHelper(mud);
  });

  // ------------------------------------------------------------ --fwd-disable
  await phase('--fwd-disable: no mapping at all', async () => {
    const mud = await startHelper(NS.rt, 'miniupnpd (both)', 'miniupnpd', ['-f', miniupnpdConfig(tmp.path, 'both', true, true), '-d', '-P', join(tmp.path, 'miniupnpd-both.pid')], /HTTP listening on port/);
    const lan = await startDaemon({ args: [...lanArgs, '--fwd-disable'], netns: NS.lan, label: 'LAN kadnode (--fwd-disable)' });
    daemons.push(lan);
    await sleep(4000);
    assert.ok(!lan.stderrLines.some((l) => l.includes('FWD:')), lan.tail());
    assert.deepEqual(dnatRules(), []);
    assert.deepEqual(await upnpEntries(), []);
    assert.ok(!mud.lines.some((l) => /NAT-PMP request received|AddPortMapping/.test(l)), 'the gateway was asked');
    const listed = await lan.command('list forwardings');
    assert.ok(listed.some((l) => /disabled/i.test(l)), listed.join('\n'));
    await lan.stop(5000);
    await stopHelper(mud);
  });
});
