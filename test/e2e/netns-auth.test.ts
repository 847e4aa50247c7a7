// Key-authenticated names across real bin/kadnode daemons in network namespaces (needs root).
//
// Host 1 (10.201.0.1) bootstraps everyone. The impostor C (10.201.0.3) announces the raw ids of two
// keyed names without holding their keys, and starts before the owner A (10.201.0.2), which announces
// the same ids with the secret keys: `<K1 secret>.p2p` (id SHA-1(hex K1.pk)) and `node1.p2p` under
// `--auth-add-skey node1.p2p:@file` (id SHA-1(hex K2.pk + "node1")). Resolvers with
// `--auth-add-pkey node1.p2p:<K2.pk>` must answer only A's address, for the 64-hex key, the z-base32 key
// and node1.p2p, over the control port and DNS (A and SRV), while a plain resolver looking up the raw
// 40-hex ids sees that C really is in the DHT. Also: time from the first query on a fresh resolver to
// the verified answer, a keyed lookup on a daemon without any peer (KadNode 1.x crashed there), and no
// secret key in any log.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNetwork, type Host, type Network } from './netns.js';
import {
  dig,
  emptyPeerFile,
  kadnodeCtl,
  parseStatus,
  percentile,
  runKadnode,
  skipUnlessNetns,
  sleep,
  startDaemon,
  tempDir,
  type Daemon,
  type DaemonStatus,
  type DigResult,
} from './harness.js';

const DHT_PORT = 6881;
const DNS_PORT = 3535;
const CMD_PORT = 1700;
const NAME = 'node1.p2p';

// host numbers (10.201.0.N)
const BOOT = 1;
const OWNER = 2; // A
const IMPOSTOR = 3; // C
const B1 = 4; // keyed resolver, checked first and then in rounds
const B2 = 5; // keyed resolver whose first lookups happen in the rounds
const FRESH = [6, 7, 8, 9]; // keyed resolvers whose first queries are timed
const PLAIN = 10; // resolver without keys
const HOSTS = 10;

const ROUNDS = 10;
const ROUND_GAP_MS = 1000;

interface KeyPair {
  pk: string;
  sk: string;
  z32: string;
}

const sha1hex = (s: string): string => createHash('sha1').update(s).digest('hex');

async function genKeys(): Promise<KeyPair> {
  const r = await runKadnode(['--auth-gen-keys'], { timeoutMs: 15_000 });
  assert.equal(r.code, 0, `kadnode --auth-gen-keys exited ${r.code}\n${r.stdout}\n${r.stderr}`);
  const pk = /^public key: ([0-9a-f]{64})$/m.exec(r.stdout)?.[1];
  const sk = /^secret key: ([0-9a-f]{128})$/m.exec(r.stdout)?.[1];
  const z32 = /^public key \(z-base32\): ([a-z0-9]{52})$/m.exec(r.stdout)?.[1];
  assert.ok(pk && sk && z32, `unexpected --auth-gen-keys output:\n${r.stdout}`);
  assert.equal(sk.slice(64), pk, 'the secret key ends with the public key (libsodium layout)');
  return { pk, sk, z32 };
}

/** The records of one dig section (ANSWER, ADDITIONAL, AUTHORITY). */
function digSection(raw: string, section: string): Array<{ name: string; type: string; data: string }> {
  const lines = raw.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`;; ${section} SECTION:`));
  const out: Array<{ name: string; type: string; data: string }> = [];
  if (at < 0) return out;
  for (const line of lines.slice(at + 1)) {
    if (line.trim() === '' || line.startsWith(';')) break;
    const m = /^(\S+)\s+\d+\s+\S+\s+(\S+)\s+(.*)$/.exec(line.trim());
    if (m) out.push({ name: m[1]!, type: m[2]!, data: m[3]!.trim() });
  }
  return out;
}

/** `ip:port` lines of kadnode-ctl lookup. */
function ctlAddresses(stdout: string): Array<{ ip: string; port: number }> {
  return stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(l);
      return m ? { ip: m[1]!, port: Number(m[2]) } : { ip: `?${l}`, port: -1 };
    });
}

test('key-authenticated names in network namespaces: only verified addresses, impostor rejected', { timeout: 150_000 }, async (t: TestContext) => {
  const skip = skipUnlessNetns();
  if (skip) {
    t.skip(skip);
    return;
  }

  const daemons: Daemon[] = [];
  const byHost = new Map<number, Daemon>();
  const tmp = tempDir('kadnode-netns-auth');
  let net: Network | undefined;
  let solo: Network | undefined;
  t.after(async () => {
    // daemons first (a namespace with a process in it outlives `ip netns del`), then namespaces
    await Promise.all(daemons.map((d) => d.stop(5000)));
    net?.destroy();
    solo?.destroy();
    tmp.remove();
  });

  // Distinct from netns-dns.test.ts (`kn-<pid>`), so both tests can run at the same time.
  net = createNetwork(HOSTS, { prefix: `kn-${process.pid}-auth` });
  const host = (n: number): Host => net!.host(n);
  const ipOf = (n: number): string => host(n).ip;
  const ownerIp = ipOf(OWNER);
  const impostorIp = ipOf(IMPOSTOR);

  let failedPhase: string | undefined;
  const phase = async (name: string, fn: (t: TestContext) => Promise<void>, always = false): Promise<void> => {
    const skipped = failedPhase && !always ? `skipped: phase "${failedPhase}" failed` : false;
    await t.test(name, { skip: skipped }, async (st: TestContext) => {
      try {
        await fn(st);
      } catch (err) {
        failedPhase ??= name;
        throw err;
      }
    });
  };

  const common = ['--port', String(DHT_PORT), '--dns-port', String(DNS_PORT), '--cmd-port', String(CMD_PORT), '--cmd-disable-stdin'];
  const start = async (n: number, label: string, args: string[], netns = host(n).name): Promise<Daemon> => {
    const d = await startDaemon({ args: [...common, ...args], netns, stdin: 'ignore', label, readyTimeoutMs: 30_000 });
    daemons.push(d);
    byHost.set(n, d);
    return d;
  };
  const status = async (n: number): Promise<DaemonStatus & { code: number | null }> => {
    const r = await kadnodeCtl(['-p', String(CMD_PORT), 'status'], { netns: host(n).name, timeoutMs: 10_000 });
    return { ...parseStatus(r.stdout), code: r.code };
  };
  const ctlLookup = (n: number, name: string, netns = host(n).name) =>
    kadnodeCtl(['-p', String(CMD_PORT), 'lookup', name], { netns, timeoutMs: 40_000 });
  const digAt = (n: number, name: string, type: string, netns = host(n).name): Promise<DigResult> =>
    dig(['@127.0.0.1', '-p', String(DNS_PORT), name, type, '+tries=1', '+timeout=5'], { netns, timeoutMs: 15_000 });

  // Every answer given for a keyed name, whatever the surface: checked for the impostor at the end too.
  const keyedAnswers: Array<{ where: string; addrs: string[] }> = [];
  const note = (where: string, addrs: string[]): void => {
    keyedAnswers.push({ where, addrs });
  };

  let K1!: KeyPair;
  let K2!: KeyPair;
  let id1 = '';
  let id2 = '';
  let keyNames: { hex: string; z32: string } = { hex: '', z32: '' };

  await phase('generate two key pairs with kadnode --auth-gen-keys', async (st) => {
    K1 = await genKeys();
    K2 = await genKeys();
    assert.notEqual(K1.pk, K2.pk);
    id1 = sha1hex(K1.pk);
    id2 = sha1hex(K2.pk + 'node1');
    keyNames = { hex: `${K1.pk}.p2p`, z32: `${K1.z32}.p2p` };
    st.diagnostic(`K1.pk ${K1.pk} (z32 ${K1.z32}) -> id1 ${id1}; K2.pk ${K2.pk} + "node1" -> id2 ${id2}`);
  });

  await phase('start host 1, the impostor C and the resolvers; C announces first', async (st) => {
    const peerfile = emptyPeerFile(tmp.path);
    const t0 = performance.now();
    await start(BOOT, 'host 1 (bootstrap)', ['--peerfile', peerfile]);
    const peer = ['--peer', `${ipOf(BOOT)}:${DHT_PORT}`];
    const keyed = ['--auth-add-pkey', `${NAME}:${K2.pk}`, '--verbosity', 'debug'];
    const started = await Promise.allSettled([
      start(IMPOSTOR, 'impostor C', [...peer, '--value-id', `${id1}.p2p`, '--value-id', `${id2}.p2p`, '--verbosity', 'debug']),
      ...[B1, B2, ...FRESH].map((n) => start(n, `resolver ${n}`, [...peer, ...keyed])),
      start(PLAIN, 'plain resolver', [...peer]),
    ]);
    const failures = started.filter((s): s is PromiseRejectedResult => s.status === 'rejected');
    assert.equal(failures.length, 0, failures.map((f) => String(f.reason)).join('\n\n'));

    // C's two announcements stored on most of the other running hosts
    const others = [BOOT, B1, B2, ...FRESH, PLAIN];
    let last: Array<DaemonStatus & { code: number | null }> = [];
    let polls = 0;
    const deadline = performance.now() + 30_000;
    while (polls < 30 && performance.now() < deadline) {
      polls++;
      last = await Promise.all(others.map(status));
      if (last.filter((s) => (s.ids ?? 0) >= 2).length >= others.length - 2) break;
      await sleep(1000);
    }
    const holders = last.filter((s) => (s.ids ?? 0) >= 2).length;
    st.diagnostic(
      `C's ids stored on ${holders}/${others.length} hosts ${Math.round(performance.now() - t0)} ms after the first start (${polls} polls); ` +
        `DHT nodes per host: ${last.map((s) => s.dhtNodes ?? '?').join(' ')}`,
    );
    assert.ok(holders >= 1, `C's announcements reached no host within 30 s:\n${last.map((s) => s.raw).join('\n')}\nC:\n${byHost.get(IMPOSTOR)!.tail(30)}`);
  });

  await phase('start the owner A with both secret keys', async (st) => {
    const skeyFile = join(tmp.path, 'node1.skey');
    writeFileSync(skeyFile, K2.sk + '\n', { mode: 0o600 });
    chmodSync(skeyFile, 0o600);
    const t0 = performance.now();
    await start(OWNER, 'owner A', [
      '--peer',
      `${ipOf(BOOT)}:${DHT_PORT}`,
      '--value-id',
      `${K1.sk}.p2p`,
      '--value-id',
      NAME,
      '--auth-add-skey',
      `${NAME}:@${skeyFile}`,
      '--verbosity',
      'debug',
    ]);
    // both announcers' entries (2 ids x 2 addresses) on most hosts
    const others = [BOOT, B1, B2, ...FRESH, PLAIN];
    let last: Array<DaemonStatus & { code: number | null }> = [];
    let polls = 0;
    const deadline = performance.now() + 30_000;
    while (polls < 30 && performance.now() < deadline) {
      polls++;
      last = await Promise.all(others.map(status));
      if (last.filter((s) => (s.announcements ?? 0) >= 4).length >= others.length - 2) break;
      await sleep(1000);
    }
    const holders = last.filter((s) => (s.announcements ?? 0) >= 4).length;
    st.diagnostic(
      `A's and C's entries stored on ${holders}/${others.length} hosts ${Math.round(performance.now() - t0)} ms after A started (${polls} polls); ` +
        `announcements per host: ${last.map((s) => s.announcements ?? '?').join(' ')}`,
    );
    assert.ok(holders >= 1, `A's announcements reached no host within 30 s; A:\n${byHost.get(OWNER)!.tail(30)}`);
  });

  // 4. first queries on resolvers that never looked anything up
  await phase('fresh resolvers: first dig of the z-base32 name and of node1.p2p (time to verified answer)', async (st) => {
    const times: number[] = [];
    const rows: string[] = [];
    const problems: string[] = [];
    for (const n of FRESH) {
      for (const name of [keyNames.z32, NAME]) {
        const label = name === NAME ? NAME : 'z32';
        const r = await digAt(n, name, 'A');
        const addrs = r.answers.filter((a) => a.type === 'A').map((a) => a.data);
        note(`host ${n} first dig ${label}`, addrs);
        rows.push(`host ${n} ${label}: ${r.status} ${r.queryTimeMs ?? '-'} ms [${addrs.join(' ')}]`);
        if (r.status === 'NOERROR' && addrs.length > 0 && addrs.every((a) => a === ownerIp)) {
          times.push(r.queryTimeMs ?? r.elapsedMs);
        } else {
          problems.push(`host ${n} first dig ${name} A: status ${r.status}, A ${JSON.stringify(addrs)}\n${r.raw}`);
          // still get the answer for the rest of the test, bounded
          for (let i = 0; i < 3; i++) {
            const again = await digAt(n, name, 'A');
            const a2 = again.answers.filter((a) => a.type === 'A').map((a) => a.data);
            note(`host ${n} dig ${label} retry`, a2);
            rows.push(`host ${n} ${label} retry ${i + 1}: ${again.status} ${again.queryTimeMs ?? '-'} ms [${a2.join(' ')}]`);
            if (again.status === 'NOERROR' && a2.length > 0) break;
          }
        }
      }
    }
    st.diagnostic(`first queries: ${rows.join('; ')}`);
    st.diagnostic(
      `query -> verified answer (dig query time, ${times.length} first queries): p50 ${percentile(times, 50)} ms, max ${times.length ? Math.max(...times) : NaN} ms (${times.join(' ')})`,
    );
    assert.equal(problems.length, 0, problems.join('\n'));
  });

  // 2. the impostor's address must really be in the DHT, or rejecting it proves nothing
  await phase('plain resolver: raw 40-hex lookups list the impostor C (it is in the DHT)', async (st) => {
    const seen = new Map<string, Set<string>>([
      [id1, new Set()],
      [id2, new Set()],
    ]);
    let attempts = 0;
    const deadline = performance.now() + 25_000;
    while (attempts < 12 && performance.now() < deadline) {
      attempts++;
      for (const id of [id1, id2]) {
        const r = await ctlLookup(PLAIN, `${id}.p2p`);
        if (r.code === 0) for (const a of ctlAddresses(r.stdout)) seen.get(id)!.add(`${a.ip}:${a.port}`);
      }
      const ips = (id: string) => [...seen.get(id)!].map((s) => s.split(':')[0]);
      if (ips(id1).includes(impostorIp) && ips(id2).includes(impostorIp) && ips(id1).includes(ownerIp) && ips(id2).includes(ownerIp)) break;
      await sleep(2000);
    }
    st.diagnostic(`raw lookups on the plain resolver (${attempts} rounds): id1 -> ${[...seen.get(id1)!].join(' ')}; id2 -> ${[...seen.get(id2)!].join(' ')}`);
    for (const id of [id1, id2]) {
      const ips = [...seen.get(id)!].map((s) => s.split(':')[0]);
      assert.ok(ips.includes(impostorIp), `the impostor ${impostorIp} never showed up for ${id} on the plain resolver: the test would be meaningless`);
      if (!ips.includes(ownerIp)) st.diagnostic(`note: the owner ${ownerIp} did not show up for raw ${id}`);
    }
  });

  // 1. the keyed names from B1 over both surfaces
  await phase(`resolver B (host ${B1}): 64-hex key, z-base32 key and ${NAME} give only A`, async (st) => {
    const pkLookup = await ctlLookup(B1, keyNames.hex);
    const pkAddrs = ctlAddresses(pkLookup.stdout);
    note(`host ${B1} ctl lookup <K1.pk>`, pkAddrs.map((a) => a.ip));
    assert.equal(pkLookup.code, 0, `kadnode-ctl lookup <K1.pk>.p2p exited ${pkLookup.code}: ${pkLookup.stdout}${pkLookup.stderr}`);
    assert.ok(pkAddrs.length > 0, `no address: ${pkLookup.stdout}`);
    assert.deepEqual(
      pkAddrs.filter((a) => !(a.ip === ownerIp && a.port === DHT_PORT)),
      [],
      `lookup <K1.pk>.p2p must list only ${ownerIp}:${DHT_PORT}:\n${pkLookup.stdout}`,
    );

    const z = await digAt(B1, keyNames.z32, 'A');
    const zAddrs = z.answers.filter((a) => a.type === 'A').map((a) => a.data);
    note(`host ${B1} dig z32 A`, zAddrs);
    assert.equal(z.status, 'NOERROR', z.raw);
    assert.ok(zAddrs.length > 0 && zAddrs.every((a) => a === ownerIp), `dig <K1.z32>.p2p A must give only ${ownerIp}:\n${z.raw}`);

    const a = await digAt(B1, NAME, 'A');
    const aAddrs = a.answers.filter((x) => x.type === 'A').map((x) => x.data);
    note(`host ${B1} dig ${NAME} A`, aAddrs);
    assert.equal(a.status, 'NOERROR', a.raw);
    assert.ok(aAddrs.length > 0 && aAddrs.every((x) => x === ownerIp), `dig ${NAME} A must give only ${ownerIp}:\n${a.raw}`);

    const srv = await digAt(B1, NAME, 'SRV');
    const srvs = srv.answers.filter((x) => x.type === 'SRV');
    const glue = [...digSection(srv.raw, 'ANSWER'), ...digSection(srv.raw, 'ADDITIONAL')].filter((x) => x.type === 'A');
    note(`host ${B1} dig ${NAME} SRV`, glue.map((g) => g.data));
    assert.equal(srv.status, 'NOERROR', srv.raw);
    assert.ok(srvs.length > 0, `no SRV record:\n${srv.raw}`);
    for (const s of srvs) {
      const [prio, weight, port, target] = s.data.split(/\s+/);
      assert.ok(prio !== undefined && weight !== undefined && target, `bad SRV rdata ${s.data}`);
      assert.equal(Number(port), DHT_PORT, `SRV port must be A's DHT port:\n${srv.raw}`);
      const targetA = glue.filter((g) => g.name.toLowerCase() === target.toLowerCase()).map((g) => g.data);
      assert.deepEqual(targetA, [ownerIp], `SRV target ${target} must have the A record ${ownerIp}:\n${srv.raw}`);
    }
    assert.ok(glue.every((g) => g.data === ownerIp), `only ${ownerIp} in the SRV answer:\n${srv.raw}`);
    st.diagnostic(
      `B: lookup <K1.pk> -> ${pkLookup.stdout.trim().split('\n').join(' ')}; dig z32 A -> ${zAddrs.join(' ')} (${z.queryTimeMs} ms); ` +
        `dig ${NAME} A -> ${aAddrs.join(' ')} (${a.queryTimeMs} ms); SRV -> ${srvs.map((s) => s.data).join(', ')} + ${glue.map((g) => `${g.name} A ${g.data}`).join(', ')}`,
    );
  });

  // 3. repeated lookups on B1 and on B2 (whose first lookups happen here): never the impostor
  await phase(`${ROUNDS} rounds of keyed lookups on hosts ${B1} and ${B2}: never the impostor`, async (st) => {
    const problems: string[] = [];
    let answered = 0;
    let empty = 0;
    const t0 = performance.now();
    for (let round = 1; round <= ROUNDS; round++) {
      const roundStart = performance.now();
      for (const n of [B1, B2]) {
        const [pk, z, a, srv] = await Promise.all([
          ctlLookup(n, keyNames.hex),
          digAt(n, keyNames.z32, 'A'),
          digAt(n, NAME, 'A'),
          digAt(n, NAME, 'SRV'),
        ]);
        const sets: Array<[string, string[], boolean]> = [
          ['ctl lookup <K1.pk>', ctlAddresses(pk.stdout).map((x) => x.ip), pk.code === 0],
          ['dig z32 A', z.answers.filter((x) => x.type === 'A').map((x) => x.data), z.status === 'NOERROR'],
          [`dig ${NAME} A`, a.answers.filter((x) => x.type === 'A').map((x) => x.data), a.status === 'NOERROR'],
          [`dig ${NAME} SRV`, [...digSection(srv.raw, 'ANSWER'), ...digSection(srv.raw, 'ADDITIONAL')].filter((x) => x.type === 'A').map((x) => x.data), srv.status === 'NOERROR'],
        ];
        for (const [what, addrs, ok] of sets) {
          note(`host ${n} round ${round} ${what}`, addrs);
          if (ok && addrs.length > 0) answered++;
          else empty++;
          if (addrs.some((x) => x !== ownerIp)) problems.push(`host ${n} round ${round} ${what}: ${addrs.join(' ')}`);
        }
        // B2's first round may still be verifying (a DNS timeout gives SERVFAIL); later rounds must answer
        if (round > 2) {
          if (pk.code !== 0) problems.push(`host ${n} round ${round}: kadnode-ctl lookup failed: ${pk.stdout}${pk.stderr}`);
          if (z.status !== 'NOERROR' || a.status !== 'NOERROR' || srv.status !== 'NOERROR') {
            problems.push(`host ${n} round ${round}: dig statuses z32 ${z.status}, A ${a.status}, SRV ${srv.status}`);
          }
        }
      }
      const left = ROUND_GAP_MS - (performance.now() - roundStart);
      if (round < ROUNDS && left > 0) await sleep(left);
    }
    st.diagnostic(`${ROUNDS} rounds in ${Math.round(performance.now() - t0)} ms: ${answered} answers, ${empty} empty/failed, all addresses checked`);
    assert.equal(problems.length, 0, problems.join('\n'));
  });

  await phase('debug logs: challenges went to the impostor and never got a valid response', async (st) => {
    const resolvers = [B1, B2, ...FRESH];
    const imp = impostorIp.replace(/\./g, '\\.');
    const own = ownerIp.replace(/\./g, '\\.');
    // the resolvers give up on C after 10 sends (~8 s); wait for that on B1, bounded
    const b1 = byHost.get(B1)!;
    const gaveUp = await b1.waitForLine(new RegExp(`No valid reply from ${imp}:`), 20_000).catch(() => undefined);
    const rows: string[] = [];
    const problems: string[] = [];
    let hostsChallengingC = 0;
    for (const n of resolvers) {
      const lines = byHost.get(n)!.stderrLines;
      const toC = lines.filter((l) => new RegExp(`AUTH: Send challenge to ${imp}:`).test(l));
      const validC = lines.filter((l) => new RegExp(`Challenge response is valid: ${imp}:`).test(l));
      const validA = lines.filter((l) => new RegExp(`Challenge response is valid: ${own}:`).test(l));
      const giveUpC = lines.filter((l) => new RegExp(`No valid reply from ${imp}:`).test(l));
      if (toC.length > 0) hostsChallengingC++;
      rows.push(`host ${n}: ${toC.length} challenges to C, ${giveUpC.length} gave up, ${validC.length} valid from C, ${validA.length} valid from A`);
      if (validC.length > 0) problems.push(`host ${n} accepted a response from the impostor:\n${validC.join('\n')}`);
      if (validA.length === 0) problems.push(`host ${n}: no valid response from the owner logged`);
    }
    st.diagnostic(rows.join('; '));
    const b1Lines = b1.stderrLines;
    const sample = b1Lines.filter((l) => /AUTH:/.test(l)).slice(0, 6);
    st.diagnostic(`B1 AUTH log sample: ${sample.join(' | ')}`);
    assert.ok(
      b1Lines.some((l) => new RegExp(`AUTH: Send challenge to ${imp}:`).test(l)),
      `B (host ${B1}) never challenged the impostor ${impostorIp}; AUTH lines:\n${b1Lines.filter((l) => /AUTH/.test(l)).join('\n')}`,
    );
    assert.ok(gaveUp, `B (host ${B1}) did not give up on ${impostorIp} within 20 s`);
    st.diagnostic(`${hostsChallengingC}/${resolvers.length} keyed resolvers challenged C; B1: ${gaveUp}`);
    assert.equal(problems.length, 0, problems.join('\n'));
  });

  // 5. KadNode 1.x segfaulted on a keyed lookup with an empty routing table
  await phase('a keyed lookup on a daemon without any peer: not found, daemon alive', async (st) => {
    // one namespace on a bridge of its own: nobody to talk to
    solo = createNetwork(1, { prefix: `kn-${process.pid}-auth-solo` });
    const ns = solo.host(1).name;
    const peerfile = emptyPeerFile(tmp.path, 'peers-solo.txt');
    const d = await startDaemon({
      args: [...common, '--peerfile', peerfile, '--auth-add-pkey', `${NAME}:${K2.pk}`, '--verbosity', 'debug'],
      netns: ns,
      stdin: 'ignore',
      label: 'lonely daemon',
      readyTimeoutMs: 30_000,
    });
    daemons.push(d);
    const rows: string[] = [];
    for (const name of [NAME, keyNames.hex, keyNames.z32]) {
      const r = await ctlLookup(0, name, ns);
      rows.push(`ctl lookup ${name === NAME ? NAME : name === keyNames.hex ? '<K1.pk>' : '<K1.z32>'}: exit ${r.code} ${(r.stdout + r.stderr).trim()} (${Math.round(r.ms)} ms)`);
      assert.equal(r.code, 1, `kadnode-ctl lookup ${name} on a daemon without peers must fail:\n${r.stdout}${r.stderr}`);
      assert.ok(d.alive, `the daemon died after lookup ${name}:\n${d.tail(30)}`);
    }
    for (const name of [NAME, keyNames.z32]) {
      const r = await digAt(0, name, 'A', ns);
      rows.push(`dig ${name === NAME ? NAME : '<K1.z32>'} A: ${r.status} (${r.queryTimeMs ?? '-'} ms)`);
      assert.equal(r.status, 'NXDOMAIN', `dig ${name} A on a daemon without peers:\n${r.raw}`);
      assert.equal(r.answers.length, 0, r.raw);
    }
    await sleep(1000);
    assert.ok(d.alive, `the daemon died:\n${d.tail(30)}`);
    const s = await kadnodeCtl(['-p', String(CMD_PORT), 'status'], { netns: ns, timeoutMs: 10_000 });
    assert.equal(s.code, 0, `status after the lookups: ${s.stdout}${s.stderr}`);
    st.diagnostic(`${rows.join('; ')}; DHT nodes: ${parseStatus(s.stdout).dhtNodes}`);
  });

  // These two look at everything that happened, whichever phase failed.
  await phase(
    'no keyed answer ever contained the impostor',
    async (st) => {
      const bad = keyedAnswers.filter((x) => x.addrs.includes(impostorIp));
      st.diagnostic(`${keyedAnswers.length} keyed answers checked, ${keyedAnswers.reduce((s, x) => s + x.addrs.length, 0)} addresses`);
      assert.deepEqual(bad, [], 'answers with the impostor');
    },
    true,
  );

  await phase(
    'every daemon alive until SIGTERM; no secret key in any output',
    async (st) => {
      const dead = daemons.filter((d) => !d.alive);
      const results = await Promise.all(daemons.map((d) => d.stop(10_000)));
      const secrets = [K1?.sk, K2?.sk].filter((s): s is string => !!s);
      assert.ok(secrets.length === 2, 'keys were not generated');
      const leaks: string[] = [];
      let lines = 0;
      for (const d of daemons) {
        const all = [...d.stderrLines, ...d.stdoutLines];
        lines += all.length;
        for (const l of all) {
          const low = l.toLowerCase();
          // the whole key, and its secret half (the seed) alone
          if (secrets.some((s) => low.includes(s) || low.includes(s.slice(0, 64)))) leaks.push(`${d.label}: ${l}`);
        }
      }
      st.diagnostic(`${lines} output lines of ${daemons.length} daemons searched for the two secret keys`);
      assert.deepEqual(leaks, [], 'secret key in daemon output');
      assert.deepEqual(
        dead.map((d) => `${d.label} exited ${JSON.stringify(d.exitInfo)}:\n${d.tail(30)}`),
        [],
        'daemons that died during the test',
      );
      const bad = results.map((r, i) => ({ r, d: daemons[i]! })).filter(({ r }) => r.code !== 0 || r.killed);
      assert.equal(bad.length, 0, bad.map(({ r, d }) => `${d.label}: ${JSON.stringify(r)}\n${d.tail()}`).join('\n\n'));
    },
    true,
  );
});
