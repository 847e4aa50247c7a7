// Interop with libtorrent-rasterbar (Debian's python3-libtorrent, 2.0.x) at its DEFAULT settings, each node
// in its own network namespace (needs root; issue 15 §3). Every host sits in a /24 of its own (10.201.N.1/16):
// libtorrent keeps one node per /24 in its routing table.
//
// Hosts 1-4 run bin/kadnode: 1 bootstraps everyone, 2 announces `name` (--value-id), 3 publishes a PKARR zone,
// 4 resolves. Host 5 runs libtorrent (test/helpers/libtorrent-node.py), bootstrapping from host 1 only.
// Proves: (1) libtorrent's get_peers finds our announcement and our dig finds libtorrent's; (2) BEP 44 both
// ways: libtorrent's mutable put is held by our nodes and resolved as PKARR, our published zone is read by
// libtorrent's get; (3) libtorrent keeps at least 2 of our daemons in its routing table; (4) libtorrent's
// BEP 51 sample_infohashes to our node is answered with samples (a timeout fails the test).
// LIBTORRENT_LOG=1 keeps libtorrent's DHT log in test-output/netns-libtorrent.log.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import sodium from 'sodium-native';
import { encodeZ32Key } from '../../src/identity/keys.js';
import { encodeDnsPacket } from '../../src/pkarr/packet.js';
import { LibtorrentNode, skipUnlessLibtorrent } from '../helpers/libtorrent-node.js';
import { createNetwork, type Network } from './netns.js';
import { dig, emptyPeerFile, repoRoot, retry, skipUnlessNetns, sleep, startDaemon, tempDir, type Daemon, type DigResult } from './harness.js';

const DHT_PORT = 6881;
const DNS_PORT = 3535;
const BOOT = 1;
const ANNOUNCER = 2;
const PUBLISHER = 3;
const RESOLVER = 4;
const LIBTORRENT = 5;
const OURS = [BOOT, ANNOUNCER, PUBLISHER, RESOLVER];
/** how long after it joined libtorrent must still list our daemons */
const KEPT_AFTER_MS = 20_000;
const probeTool = join(repoRoot, 'dist', 'test', 'helpers', 'bep44-probe.js');

const sha1hex = (s: string | Buffer) => createHash('sha1').update(s).digest('hex');

/** An ed25519 key pair: libsodium's 64-byte secret key (seed | public) and libtorrent's (SHA-512 of the seed, clamped). */
function keyPair(): { pk: Buffer; sk: Buffer; ltSecret: Buffer; z32: string } {
  const pk = Buffer.alloc(32);
  const sk = Buffer.alloc(64);
  sodium.crypto_sign_keypair(pk, sk);
  const ltSecret = createHash('sha512').update(sk.subarray(0, 32)).digest();
  ltSecret[0]! &= 248;
  ltSecret[31]! &= 63;
  ltSecret[31]! |= 64;
  return { pk, sk, ltSecret, z32: encodeZ32Key(pk) };
}

test('interop with libtorrent at its default settings, in network namespaces', { timeout: 120_000 }, async (t: TestContext) => {
  const skip = skipUnlessNetns() || skipUnlessLibtorrent();
  if (skip) {
    t.skip(skip);
    return;
  }
  const daemons: Daemon[] = [];
  const tmp = tempDir('kadnode-libtorrent');
  let net: Network | undefined;
  let lt: LibtorrentNode | undefined;
  let ltStartedAt = 0;
  t.after(async () => {
    await lt?.stop();
    await Promise.all(daemons.map((d) => d.stop(5000)));
    net?.destroy();
    tmp.remove();
    // LIBTORRENT_LOG=1: libtorrent's every alert (its DHT log and packets included) kept for reading
    if (process.env.LIBTORRENT_LOG === '1') {
      mkdirSync(join(repoRoot, 'test-output'), { recursive: true });
      writeFileSync(join(repoRoot, 'test-output', 'netns-libtorrent.log'), lt?.stderr.join('\n') ?? '');
    }
  });
  net = createNetwork(5, { prefix: `kn-${process.pid}-lt`, subnetPerHost: true });
  const network = net;
  const ip = (n: number) => network.host(n).ip;

  const published = keyPair();
  const keyFile = join(tmp.path, 'pkarr.key');
  writeFileSync(keyFile, published.sk.toString('hex') + '\n');
  chmodSync(keyFile, 0o600);
  const zoneFile = join(tmp.path, 'zone.txt');
  writeFileSync(zoneFile, '@ 300 TXT "ours for libtorrent"\n@ 300 A auto\n');

  const common = ['--port', String(DHT_PORT), '--dns-port', String(DNS_PORT), '--dns-addr', '127.0.0.1', '--cmd-port', '0', '--verbosity', 'debug'];
  const start = async (n: number, args: string[]): Promise<Daemon> => {
    const d = await startDaemon({ args: [...common, ...args], netns: network.host(n).name, label: `host ${n}`, readyTimeoutMs: 30_000 });
    daemons.push(d);
    return d;
  };
  const digAt = (n: number, name: string, type: string): Promise<DigResult> =>
    dig(['@127.0.0.1', '-p', String(DNS_PORT), name, type, '+tries=1', '+timeout=5'], { netns: network.host(n).name, timeoutMs: 15_000 });

  let failed: string | undefined;
  const phase = async (name: string, fn: (st: TestContext) => Promise<void>): Promise<void> => {
    await t.test(name, { skip: failed ? `skipped: phase "${failed}" failed` : false }, async (st) => {
      const t0 = performance.now();
      try {
        await fn(st);
      } catch (err) {
        failed ??= name;
        throw err;
      } finally {
        st.diagnostic(`${Math.round(performance.now() - t0)} ms`);
      }
    });
  };

  await phase('four daemons and a libtorrent node join one DHT', async (st) => {
    await start(BOOT, ['--peerfile', emptyPeerFile(tmp.path)]);
    const peer = ['--peer', `${ip(BOOT)}:${DHT_PORT}`];
    await Promise.all([
      start(ANNOUNCER, [...peer, '--value-id', 'name.p2p']),
      start(PUBLISHER, [...peer, '--pkarr-key', `@${keyFile}`, '--pkarr-zone', zoneFile]),
      start(RESOLVER, peer),
    ]);
    ltStartedAt = performance.now();
    lt = await LibtorrentNode.start(network, network.host(LIBTORRENT), DHT_PORT, [`${ip(BOOT)}:${DHT_PORT}`], { log: process.env.LIBTORRENT_LOG === '1' });
    const info = await lt.request('info');
    st.diagnostic(`libtorrent node id ${String(info.node_id)}`);
  });

  await phase('(1a) libtorrent get_peers finds our announcement of `name`', async (st) => {
    const found = await retry(
      async () => {
        const r = await lt!.request('get_peers', { info_hash: sha1hex('name'), timeout_ms: 5000, settle_ms: 500 });
        const peers = r.peers as string[];
        return peers.includes(`${ip(ANNOUNCER)}:${DHT_PORT}`) ? peers : undefined;
      },
      { tries: 6, timeoutMs: 25_000, intervalMs: 500 },
    );
    assert.ok(found.value, `libtorrent never found ${ip(ANNOUNCER)}:${DHT_PORT} for SHA-1("name")`);
    st.diagnostic(`peers ${found.value.join(' ')} after ${found.attempts} get_peers (${Math.round(found.ms)} ms)`);
  });

  await phase('(1b) libtorrent announces `lt`; our dig lt.p2p on host 4 answers its address', async (st) => {
    await lt!.request('announce', { info_hash: sha1hex('lt') });
    const answered = await retry(
      async () => {
        const r = await digAt(RESOLVER, 'lt.p2p', 'A');
        return r.answers.some((a) => a.type === 'A' && a.data === ip(LIBTORRENT)) ? r : undefined;
      },
      { tries: 10, timeoutMs: 20_000, intervalMs: 1000 },
    );
    assert.ok(answered.value, `dig lt.p2p on host 4 never answered ${ip(LIBTORRENT)}`);
    st.diagnostic(`dig lt.p2p -> ${answered.value.answers.map((a) => a.data).join(' ')} after ${answered.attempts} dig(s) (${Math.round(answered.ms)} ms)`);
  });

  const theirs = keyPair();
  const theirValue = encodeDnsPacket([{ type: 'TXT', name: theirs.z32, ttl: 300, class: 'IN', data: ['put by libtorrent'] }]);
  let put: Record<string, unknown> = {};
  await phase('(2a) libtorrent puts a mutable item; host 4 resolves it as PKARR', async (st) => {
    put = await lt!.request('put_mutable', { secret_key: theirs.ltSecret.toString('hex'), public_key: theirs.pk.toString('hex'), value: theirValue.toString('hex'), timeout_ms: 15_000 });
    assert.equal(put.done, true, `no dht_put_alert: ${JSON.stringify(put)}`);
    assert.ok((put.num_success as number) >= 1, `libtorrent stored its item on no node: ${JSON.stringify(put)}`);
    const answered = await retry(
      async () => {
        const r = await digAt(RESOLVER, `${theirs.z32}.p2p`, 'TXT');
        return r.answers.some((a) => a.data === '"put by libtorrent"') ? r : undefined;
      },
      { tries: 5, timeoutMs: 15_000, intervalMs: 1000 },
    );
    assert.ok(answered.value, `dig ${theirs.z32}.p2p TXT never answered libtorrent's item`);
    st.diagnostic(`put: seq ${String(put.seq)}, stored on ${String(put.num_success)} node(s) (libtorrent counts itself); dig TXT after ${answered.attempts} dig(s)`);
  });

  await phase('(2b) libtorrent get_item reads the zone host 3 published (key = our z32 key, salt empty)', async (st) => {
    const publisher = daemons.find((d) => d.label === `host ${PUBLISHER}`)!;
    await publisher.waitForLine(new RegExp(`Published ${published.z32}: seq \\d+`), 20_000);
    let last: unknown;
    const got = await retry(
      async () => {
        const r = await lt!.request('get_mutable', { public_key: published.pk.toString('hex'), timeout_ms: 5000 });
        last = r;
        return r.found ? r : undefined;
      },
      { tries: 3, timeoutMs: 30_000, intervalMs: 500 },
    );
    assert.ok(got.value, `libtorrent never got our zone: ${JSON.stringify(last)}`);
    const packet = dnsPacket.decode(Buffer.from(got.value.value as string, 'hex'));
    const records = (packet.answers ?? []).map((a) => `${a.type} ${a.type === 'TXT' ? String((a as { data: Buffer[] }).data[0]) : String((a as { data: unknown }).data)}`);
    assert.ok(records.includes('TXT ours for libtorrent'), records.join(', '));
    assert.ok(records.includes(`A ${ip(PUBLISHER)}`), records.join(', '));
    st.diagnostic(`libtorrent got seq ${String(got.value.seq)} after ${got.attempts} get(s) (authoritative ${String(got.value.authoritative)}): ${records.join(', ')}`);
  });

  await phase('(3) libtorrent keeps our daemons in its routing table, still after 20 s', async (st) => {
    const ours = new Set(OURS.map((n) => `${ip(n)}:${DHT_PORT}`));
    const listed = async () => ((await lt!.request('nodes')).nodes as { endpoint: string }[]).map((x) => x.endpoint).filter((e) => ours.has(e));
    const early = await listed();
    // the while: libtorrent's own upkeep (bucket refreshes, pings) and our daemons' queries run meanwhile
    await sleep(Math.max(0, ltStartedAt + KEPT_AFTER_MS - performance.now()));
    const late = await listed();
    st.diagnostic(`ours in libtorrent's routing table: ${early.join(' ')} early; ${late.join(' ')} ${Math.round((performance.now() - ltStartedAt) / 1000)} s after it joined`);
    assert.ok(late.length >= 2, `libtorrent lists fewer than 2 of our daemons after ${KEPT_AFTER_MS} ms: ${late.join(' ')}`);
    assert.deepEqual(early.filter((e) => !late.includes(e)), [], 'libtorrent dropped some of our daemons');
  });

  await phase('(4) libtorrent sample_infohashes to our node is answered with samples', async (st) => {
    const r = await lt!.request('sample', { host: ip(BOOT), port: DHT_PORT, target: sha1hex('anything'), timeout_ms: 5000 });
    assert.equal(r.answered, true, `host 1 did not answer libtorrent's sample_infohashes within 5 s: ${JSON.stringify(r)}`);
    const samples = r.samples as string[];
    assert.ok(samples.includes(sha1hex('name')), `samples ${samples.join(' ')} lack SHA-1("name")`);
    st.diagnostic(`answered: ${samples.length} sample(s) of ${String(r.num)}, interval ${String(r.interval)} s, ${String(r.nodes)} node(s)`);
  });

  // Last: the probe's client socket queries our daemons, which (like bittorrent-dht) then list it as a DHT
  // node; libtorrent would meet that dead node in later lookups.
  await phase('(2c) our daemons hold libtorrent\'s item (a raw BEP 44 get to each)', async (st) => {
    // a raw BEP 44 get from host 4 to each of our daemons: which of them hold libtorrent's item
    const probe = await network.exec(network.host(RESOLVER), process.execPath, [probeTool, ip(RESOLVER), theirs.pk.toString('hex'), ...OURS.map((n) => `${ip(n)}:${DHT_PORT}`)], { timeoutMs: 20_000 });
    assert.equal(probe.code, 0, probe.stderr);
    const held = probe.stdout.trim().split('\n').map((l) => JSON.parse(l) as { node: string; seq: number | null; v: string | null });
    const holders = held.filter((h) => h.v === theirValue.toString('hex') && h.seq === put.seq).map((h) => h.node);
    assert.ok(holders.length >= 1, `none of our daemons holds libtorrent's item: ${probe.stdout}`);
    st.diagnostic(`held with seq ${String(put.seq)} by ${holders.join(' ')}`);
  });

  await phase('every daemon alive until SIGTERM', async () => {
    const dead = daemons.filter((d) => !d.alive).map((d) => `${d.label}: ${d.tail(20)}`);
    assert.deepEqual(dead, []);
    const results = await Promise.all(daemons.map((d) => d.stop(10_000)));
    assert.ok(results.every((x) => x.code === 0 && !x.killed), JSON.stringify(results));
  });
});
