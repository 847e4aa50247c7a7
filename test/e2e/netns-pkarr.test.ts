// Public-key domains (PKARR) across real bin/kadnode daemons in network namespaces (needs root).
//
// Host 1 (10.201.0.1) bootstraps everyone. Host 2 publishes a zone under key K1 (--pkarr-key,
// --pkarr-zone, with `auto` addresses). Host 3 resolves it through DNS (dig: TXT, A, CNAME, without the
// TLD, a name the zone lacks) and through DNS over HTTPS on its web port. Host 4 takes a relay PUT of a
// packet under key K2 (built by this test), which host 3 then resolves over DNS. Host 5 runs no daemon:
// a script there sends a forged item (right format, wrong signature) for key K3 as a raw BEP 44 put to
// host 1, then poses as a DHT node that hands the forgery to anyone who asks; host 3 walks through it
// and must never answer with it. Also: the time from publication to the first answer, and no secret key
// in any output.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import dnsPacket from 'dns-packet';
import sodium from 'sodium-native';
import { encodeZ32Key } from '../../src/identity/keys.js';
import { encodeDnsPacket, signPacket, toRelayPayload } from '../../src/pkarr/packet.js';
import { createNetwork, run, type Network } from './netns.js';
import { dig, emptyPeerFile, repoRoot, retry, skipUnlessNetns, sleep, startDaemon, tempDir, type Daemon, type DigResult } from './harness.js';

const DHT_PORT = 6881;
const DNS_PORT = 3535;
const WEB_PORT = 8053;
const BOOT = 1;
const PUBLISHER = 2;
const RESOLVER = 3;
const RELAY = 4;
const FORGER = 5;
const tool = join(repoRoot, 'dist', 'test', 'e2e', 'pkarr-tool.js');

function keyPair(): { pk: Buffer; sk: Buffer; z32: string } {
  const pk = Buffer.alloc(32);
  const sk = Buffer.alloc(64);
  sodium.crypto_sign_keypair(pk, sk);
  return { pk, sk, z32: encodeZ32Key(pk) };
}

const txtOf = (r: DigResult) => r.answers.filter((a) => a.type === 'TXT').map((a) => a.data);
const dataOf = (r: DigResult, type: string) => r.answers.filter((a) => a.type === type).map((a) => a.data);

interface HttpResult {
  status: number;
  headers: Record<string, string>;
  body: string;
}

test('public-key domains in network namespaces: publish, DNS, DoH, relay PUT, forged item', { timeout: 240_000 }, async (t: TestContext) => {
  const skip = skipUnlessNetns();
  if (skip) {
    t.skip(skip);
    return;
  }
  const daemons: Daemon[] = [];
  const tmp = tempDir('kadnode-pkarr');
  let net: Network | undefined;
  t.after(async () => {
    await Promise.all(daemons.map((d) => d.stop(5000)));
    net?.destroy();
    tmp.remove();
  });
  net = createNetwork(5, { prefix: `kn-${process.pid}-pk` });
  const network = net;
  const host = (n: number) => network.host(n);
  const ip = (n: number) => host(n).ip;

  const K1 = keyPair();
  const K2 = keyPair();
  const K3 = keyPair();
  const keyFile = join(tmp.path, 'k1.key');
  writeFileSync(keyFile, K1.sk.toString('hex') + '\n');
  chmodSync(keyFile, 0o600);
  const zoneFile = join(tmp.path, 'zone.txt');
  writeFileSync(
    zoneFile,
    [
      '; the zone of host 2',
      '@    300 TXT   "kadnode pkarr e2e"',
      '@    300 A     auto',
      'foo  120 A     auto',
      'foo  120 TXT   "foo record"',
      'www  300 CNAME foo',
      '_web._tcp 300 SRV 0 0 8080 foo',
    ].join('\n') + '\n',
  );

  const byHost = new Map<number, Daemon>();
  const common = ['--port', String(DHT_PORT), '--dns-port', String(DNS_PORT), '--dns-addr', '127.0.0.1', '--cmd-port', '0', '--verbosity', 'debug'];
  const start = async (n: number, args: string[]): Promise<Daemon> => {
    const d = await startDaemon({ args: [...common, ...args], netns: host(n).name, label: `host ${n}`, readyTimeoutMs: 30_000 });
    daemons.push(d);
    byHost.set(n, d);
    return d;
  };
  const digAt = (n: number, name: string, type: string): Promise<DigResult> =>
    dig(['@127.0.0.1', '-p', String(DNS_PORT), name, type, '+tries=1', '+timeout=5'], { netns: host(n).name, timeoutMs: 15_000 });
  const httpAt = async (n: number, method: string, url: string, body?: Buffer, contentType?: string): Promise<HttpResult> => {
    const extra = body ? [body.toString('hex'), ...(contentType ? [contentType] : [])] : [];
    const r = await run(host(n).name, process.execPath, [tool, 'http', method, url, ...extra], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, `pkarr-tool http ${method} ${url}: ${r.stderr}`);
    return JSON.parse(r.stdout.trim()) as HttpResult;
  };

  let failed: string | undefined;
  const phase = async (name: string, fn: (st: TestContext) => Promise<void>, always = false): Promise<void> => {
    await t.test(name, { skip: !always && failed ? `skipped: phase "${failed}" failed` : false }, async (st) => {
      try {
        await fn(st);
      } catch (err) {
        failed ??= name;
        throw err;
      }
    });
  };

  let publishedAt = 0;
  await phase('host 2 publishes its zone; auto is its address as the DHT sees it', async (st) => {
    await start(BOOT, ['--peerfile', emptyPeerFile(tmp.path)]);
    const t0 = performance.now();
    const publisher = await start(PUBLISHER, ['--peer', `${ip(BOOT)}:${DHT_PORT}`, '--pkarr-key', `@${keyFile}`, '--pkarr-zone', zoneFile]);
    await start(RESOLVER, ['--peer', `${ip(BOOT)}:${DHT_PORT}`, '--web-port', String(WEB_PORT)]);
    await start(RELAY, ['--peer', `${ip(BOOT)}:${DHT_PORT}`, '--web-port', String(WEB_PORT)]);
    // the packet with every record (6 of 6), stored on at least one node
    const line = await publisher.waitForLine(new RegExp(`Published ${K1.z32}: seq \\d+, 6 records, \\d+ bytes, stored on [1-9]\\d* nodes`), 30_000);
    publishedAt = performance.now();
    const learnt = publisher.stderrLines.find((l) => /as the DHT sees it/.test(l));
    st.diagnostic(`${Math.round(publishedAt - t0)} ms after start: ${line}; ${learnt}`);
    assert.match(learnt ?? '', new RegExp(`IPv4 address as the DHT sees it: ${ip(PUBLISHER).replace(/\./g, '\\.')}`));
  });

  await phase('host 3 resolves the zone over DNS: TXT, A (auto), CNAME, SRV, without the TLD, a missing name', async (st) => {
    // first query: the DHT get; time from the publication line to the answer
    const first = await retry(
      async () => {
        const r = await digAt(RESOLVER, `${K1.z32}.p2p`, 'TXT');
        return r.status === 'NOERROR' && txtOf(r).length > 0 ? r : undefined;
      },
      { tries: 10, timeoutMs: 30_000, intervalMs: 500 },
    );
    assert.ok(first.value, 'no TXT answer for <K1>.p2p');
    const sincePublished = Math.round(performance.now() - publishedAt);
    assert.deepEqual(txtOf(first.value), ['"kadnode pkarr e2e"']);
    st.diagnostic(`publish -> first answer on host 3: ${sincePublished} ms after the publication line, ${first.attempts} dig(s), first successful dig ${first.value.queryTimeMs} ms`);

    const a = await digAt(RESOLVER, `${K1.z32}.p2p`, 'A');
    assert.deepEqual(dataOf(a, 'A'), [ip(PUBLISHER)], a.raw);
    const foo = await digAt(RESOLVER, `foo.${K1.z32}.p2p`, 'A');
    assert.deepEqual(dataOf(foo, 'A'), [ip(PUBLISHER)], foo.raw);
    assert.ok(foo.answers[0]!.ttl <= 120 && foo.answers[0]!.ttl >= 30, `TTL from the packet (120, counted down): ${foo.raw}`);
    assert.ok(foo.flags.includes('aa'), foo.raw);
    const fooTxt = await digAt(RESOLVER, `foo.${K1.z32}.p2p`, 'TXT');
    assert.deepEqual(txtOf(fooTxt), ['"foo record"']);
    const www = await digAt(RESOLVER, `www.${K1.z32}.p2p`, 'A');
    assert.deepEqual(www.answers.map((x) => x.type), ['CNAME', 'A'], www.raw);
    assert.equal(www.answers[0]!.data, `foo.${K1.z32}.p2p.`);
    const srv = await digAt(RESOLVER, `_web._tcp.${K1.z32}.p2p`, 'SRV');
    assert.deepEqual(dataOf(srv, 'SRV'), [`0 0 8080 foo.${K1.z32}.p2p.`], srv.raw);
    const bare = await digAt(RESOLVER, `foo.${K1.z32}`, 'A');
    assert.equal(bare.status, 'NOERROR', `a key name without the TLD is ours, not REFUSED: ${bare.raw}`);
    assert.deepEqual(dataOf(bare, 'A'), [ip(PUBLISHER)]);
    const missing = await digAt(RESOLVER, `nothing.${K1.z32}.p2p`, 'A');
    assert.equal(missing.status, 'NXDOMAIN', missing.raw);
    const nodata = await digAt(RESOLVER, `foo.${K1.z32}.p2p`, 'AAAA');
    assert.equal(nodata.status, 'NOERROR');
    assert.equal(nodata.answers.length, 0);
    st.diagnostic(`A ${dataOf(a, 'A')}, foo A ${dataOf(foo, 'A')} (ttl ${foo.answers[0]!.ttl}), www -> ${www.answers.map((x) => `${x.type} ${x.data}`).join(', ')}, SRV ${dataOf(srv, 'SRV')}`);
  });

  await phase('host 3 answers the same over DNS over HTTPS (GET and POST /dns-query)', async (st) => {
    const q = (name: string, type: string) => dnsPacket.encode({ type: 'query', id: 0, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: type as 'A' }] });
    const get = await httpAt(RESOLVER, 'GET', `http://127.0.0.1:${WEB_PORT}/dns-query?dns=${q(`foo.${K1.z32}.p2p`, 'TXT').toString('base64url')}`);
    assert.equal(get.status, 200);
    assert.equal(get.headers['content-type'], 'application/dns-message');
    const gotTxt = dnsPacket.decode(Buffer.from(get.body, 'hex'));
    assert.deepEqual(gotTxt.answers?.map((x) => String((x as { data: Buffer[] }).data[0])), ['foo record']);
    const post = await httpAt(RESOLVER, 'POST', `http://127.0.0.1:${WEB_PORT}/dns-query`, q(`www.${K1.z32}.p2p`, 'A'), 'application/dns-message');
    assert.equal(post.status, 200);
    const a = dnsPacket.decode(Buffer.from(post.body, 'hex'));
    assert.deepEqual(a.answers?.map((x) => [x.type, (x as { data: string }).data]), [['CNAME', `foo.${K1.z32}.p2p`], ['A', ip(PUBLISHER)]]);
    const wrongType = await httpAt(RESOLVER, 'POST', `http://127.0.0.1:${WEB_PORT}/dns-query`, q(`${K1.z32}.p2p`, 'A'));
    assert.equal(wrongType.status, 415);
    st.diagnostic(`DoH GET foo TXT -> ${gotTxt.answers?.length} record(s), cache-control ${get.headers['cache-control']}; POST www A -> CNAME + ${ip(PUBLISHER)}`);
  });

  await phase('a relay PUT on host 4 is answered over DNS on host 3', async (st) => {
    const seq = Date.now() * 1000;
    const v = encodeDnsPacket([
      { type: 'TXT', name: K2.z32, ttl: 300, class: 'IN', data: ['relayed'] },
      { type: 'A', name: `app.${K2.z32}`, ttl: 300, class: 'IN', data: '192.0.2.44' },
    ]);
    const payload = toRelayPayload(signPacket(K2.sk, v, seq));
    const t0 = performance.now();
    const put = await httpAt(RELAY, 'PUT', `http://127.0.0.1:${WEB_PORT}/${K2.z32}`, payload);
    assert.equal(put.status, 204, JSON.stringify(put));
    const stored = Number(put.headers['pkarr-dht-stored-nodes']);
    assert.ok(stored >= 1, `stored on ${stored} nodes`);
    const answered = await retry(
      async () => {
        const r = await digAt(RESOLVER, `${K2.z32}.p2p`, 'TXT');
        return r.status === 'NOERROR' && txtOf(r).length > 0 ? r : undefined;
      },
      { tries: 10, timeoutMs: 30_000, intervalMs: 500 },
    );
    assert.ok(answered.value, 'host 3 never answered the relayed packet');
    const ms = Math.round(performance.now() - t0);
    assert.deepEqual(txtOf(answered.value), ['"relayed"']);
    const app = await digAt(RESOLVER, `app.${K2.z32}.p2p`, 'A');
    assert.deepEqual(dataOf(app, 'A'), ['192.0.2.44']);
    // the relay serves it back, and refuses an older one
    const back = await httpAt(RELAY, 'GET', `http://127.0.0.1:${WEB_PORT}/${K2.z32}`);
    assert.equal(back.status, 200);
    assert.equal(back.body, payload.toString('hex'));
    const older = await httpAt(RELAY, 'PUT', `http://127.0.0.1:${WEB_PORT}/${K2.z32}`, toRelayPayload(signPacket(K2.sk, v, seq - 1)));
    assert.equal(older.status, 409);
    st.diagnostic(`PUT -> 204 stored on ${stored} nodes; relay PUT -> answer on host 3: ${ms} ms (${answered.attempts} dig(s)); older seq -> 409`);
  });

  await phase('a forged item (right format, wrong signature) is never stored and never answered', async (st) => {
    const v = encodeDnsPacket([{ type: 'TXT', name: K3.z32, ttl: 300, class: 'IN', data: ['forged'] }]);
    const forger = network.spawn(host(FORGER), process.execPath, [
      tool, 'forge', '--bind', ip(FORGER), '--peer', `${ip(BOOT)}:${DHT_PORT}`, '--key', K3.pk.toString('hex'), '--v', v.toString('hex'), '--seq', String(Date.now() * 1000), '--serve-ms', '20000',
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines: string[] = [];
    let stderr = '';
    forger.stdout!.on('data', (c: Buffer) => lines.push(...c.toString().split('\n').filter(Boolean)));
    forger.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => forger.on('exit', (code) => resolve(code)));
    t.after(() => {
      if (forger.exitCode === null) forger.kill('SIGKILL');
    });
    for (let i = 0; i < 50 && !lines.some((l) => l.includes('"kept"')); i++) await sleep(100);
    const put = lines.find((l) => l.includes('"put"'));
    const kept = lines.find((l) => l.includes('"kept"'));
    assert.ok(put && kept, `forger output: ${lines.join(' | ')} ${stderr}`);
    assert.equal(JSON.parse(put).reply, null, `host 1 must not acknowledge the forged put: ${put}`);
    assert.equal(JSON.parse(kept).kept, false, 'host 1 must not store the forged item');

    // host 3 meets the forger as a DHT node, which hands the forgery to its get
    const resolver = byHost.get(RESOLVER)!;
    await resolver.command(`import ${ip(FORGER)}:${DHT_PORT}`);
    await sleep(500);
    const answers: DigResult[] = [];
    for (const [n, type] of [[RESOLVER, 'TXT'], [RESOLVER, 'A'], [BOOT, 'TXT']] as const) answers.push(await digAt(n, `${K3.z32}.p2p`, type));
    const refused = await resolver.waitForLine(new RegExp(`Item for ${K3.z32} refused: bad signature`), 10_000).catch(() => undefined);
    const served = lines.filter((l) => l.includes('"served"'));
    st.diagnostic(`forger: ${put}; ${kept}; served ${served.length} get(s) (${[...new Set(served.map((l) => JSON.parse(l).to))].join(' ')}); host 3: ${refused ?? 'no refusal logged'}; digs: ${answers.map((r) => r.status).join(' ')}`);
    for (const r of answers) {
      assert.equal(r.answers.length, 0, `a forged item was answered:\n${r.raw}`);
      assert.ok(r.status === 'NXDOMAIN' || r.status === 'SERVFAIL', r.raw);
    }
    assert.ok(served.some((l) => JSON.parse(l).to === ip(RESOLVER)), 'host 3 never asked the forger (the test would prove nothing)');
    assert.ok(refused, 'host 3 did not log the refusal of the forged item');
    forger.kill('SIGTERM');
    await exited;
  });

  await phase(
    'every daemon alive until SIGTERM; no secret key in any output',
    async (st) => {
      const dead = daemons.filter((d) => !d.alive).map((d) => `${d.label}: ${d.tail(20)}`);
      const results = await Promise.all(daemons.map((d) => d.stop(10_000)));
      const secrets = [K1.sk.toString('hex'), K1.sk.toString('hex').slice(0, 64)];
      const leaks = daemons.flatMap((d) => [...d.stderrLines, ...d.stdoutLines].filter((l) => secrets.some((s) => l.toLowerCase().includes(s))));
      st.diagnostic(`${daemons.reduce((n, d) => n + d.stderrLines.length, 0)} log lines searched`);
      assert.deepEqual(leaks, []);
      assert.deepEqual(dead, []);
      assert.ok(results.every((r) => r.code === 0 && !r.killed), JSON.stringify(results));
    },
    true,
  );
});
