// Signed zones never go back, attacked on three real bin/kadnode daemons on loopback (no root needed).
// Daemon 1 bootstraps; daemon 2 is under attack (relay on its web port, DNS on its DNS port); daemon 3 is
// "another node" (its own relay). What each daemon holds is read with a raw BEP 44 `get` sent to that one
// daemon, what it answers with the real dig.
//   1. an older packet PUT through daemon 2's relay, for a key daemon 3 published: 409, and daemon 2's
//      store, cache and DNS answer stay at the newest;
//   2. an older packet put straight onto daemon 2 (a raw BEP 44 put), for a key daemon 2 only saw in a
//      get reply while resolving it: refused (302), not stored;
//   3. 10,000 relay PUTs for fresh keys from 500 loopback addresses (127.x.y.1, each in its own /24), then
//      the older packets again, through the relay and straight: still refused, for a key daemon 2 stores
//      for the DHT and for one it relayed (whose item the flood pushed out of every store);
//   4. a stale If-Match: 412, when daemon 2 holds the newer seq (published through daemon 3's relay) and
//      when only the DHT does (put on daemon 1 alone).
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import sodium from 'sodium-native';
import { encodeZ32Key } from '../../src/identity/keys.js';
import { encodeDnsPacket, signPacket, toRelayPayload } from '../../src/pkarr/packet.js';
import { Bep44Client } from '../helpers/bep44-client.js';
import { dig, emptyPeerFile, pickPorts, retry, skipUnlessDig, startDaemon, tempDir, type Daemon, type DigResult } from './harness.js';

const FLOOD_PUTS = 10_000;
const FLOOD_SOURCES = 500;
const FLOOD_WORKERS = 16;

interface Key {
  pk: Buffer;
  sk: Buffer;
  z32: string;
}

function keyPair(): Key {
  const pk = Buffer.alloc(32);
  const sk = Buffer.alloc(64);
  sodium.crypto_sign_keypair(pk, sk);
  return { pk, sk, z32: encodeZ32Key(pk) };
}

/** A signed packet with one TXT record naming its seq: as a relay payload and as a BEP 44 item. */
function packet(key: Key, seq: number) {
  const s = signPacket(key.sk, encodeDnsPacket([{ type: 'TXT', name: key.z32, ttl: 300, class: 'IN', data: [`seq ${seq}`] }]), seq);
  return { payload: toRelayPayload(s), item: { k: s.publicKey, seq, sig: s.signature, v: s.v } };
}

let ownPuts = 0;

/**
 * One relay PUT from `localAddress` (a fresh connection each time); status and body. The test's own PUTs
 * come from 127.0.z.1, a /24 each, so the relay's rate limit never answers them (the flood is 127.1-2.*).
 */
function put(port: number, z32: string, body: Buffer, opts: { localAddress?: string; ifMatch?: string } = {}): Promise<{ status: number; body: string }> {
  const localAddress = opts.localAddress ?? `127.0.${ownPuts++ % 250}.1`;
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { 'content-length': body.length };
    if (opts.ifMatch) headers['if-match'] = opts.ifMatch;
    const req = http.request({ host: '127.0.0.1', port, method: 'PUT', path: `/${z32}`, localAddress, agent: false, headers, timeout: 60_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString().trim() }));
    });
    req.on('timeout', () => req.destroy(new Error('PUT timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

describe('signed zones never go back: rollback attacks on real daemons', { timeout: 900_000 }, () => {
  const daemons: Daemon[] = [];
  let tmp: ReturnType<typeof tempDir> | undefined;
  let raw: Bep44Client | undefined;
  const skip = skipUnlessDig();
  // [dht, dns, web] of daemons 1..3
  let ports: number[][] = [];
  const dht = (n: number) => ports[n - 1]![0]!;
  const web = (n: number) => ports[n - 1]![2]!;
  const digTxt = (n: number, key: Key): Promise<DigResult> =>
    dig(['@127.0.0.1', '-p', String(ports[n - 1]![1]), `${key.z32}.p2p`, 'TXT', '+tries=1', '+timeout=5'], { timeoutMs: 15_000 });
  const txt = (r: DigResult) => r.answers.filter((a) => a.type === 'TXT').map((a) => a.data);
  /** The seq daemon n holds for the key (raw BEP 44 get to it alone); null when it holds none. */
  const held = async (n: number, key: Key): Promise<number | null> => {
    const got = await raw!.get('127.0.0.1', dht(n), key.pk);
    assert.ok(got, `daemon ${n} did not answer a get`);
    return got.item?.seq ?? null;
  };

  before(async () => {
    if (skip) return;
    tmp = tempDir('kadnode-rollback');
    const flat = await pickPorts(9);
    ports = [0, 1, 2].map((i) => flat.slice(i * 3, i * 3 + 3));
    for (let n = 1; n <= 3; n++) {
      const [d, dns, w] = ports[n - 1]!;
      const boot = n === 1 ? ['--peerfile', emptyPeerFile(tmp.path)] : ['--peer', `127.0.0.1:${dht(1)}`];
      daemons.push(await startDaemon({ args: ['--port', String(d), '--dns-port', String(dns), '--cmd-port', '0', '--web-port', String(w), ...boot], label: `daemon ${n}`, stdin: 'ignore' }));
    }
    raw = await Bep44Client.open('127.0.0.1');
  });

  after(async () => {
    raw?.close();
    await Promise.all(daemons.map((d) => d.stop(10_000)));
    tmp?.remove();
  });

  /** A relay PUT through daemon n until the DHT stored it on both other daemons. */
  const publish = async (n: number, key: Key, seq: number): Promise<void> => {
    const r = await retry(async () => {
      const res = await put(web(n), key.z32, packet(key, seq).payload);
      return res.status === 204 && (await held(n === 1 ? 2 : 1, key)) === seq && (await held(n === 3 ? 2 : 3, key)) === seq ? res : undefined;
    }, { tries: 30, timeoutMs: 60_000, intervalMs: 1000 });
    assert.ok(r.value, `seq ${seq} of ${key.z32} never reached the other daemons through daemon ${n}`);
  };

  const K1 = keyPair(); // published through daemon 3
  const K2 = keyPair(); // on daemon 1 only, resolved by daemon 2
  const K3 = keyPair(); // published through daemon 2
  const NEW = 2_000_000_000_000_000;
  const OLD = 1_000_000_000_000_000;

  it('1. an older packet through the relay: 409, and store, cache and DNS answer stay at the newest', { skip }, async () => {
    await publish(3, K1, NEW);
    assert.equal(await held(2, K1), NEW, 'daemon 2 stores it for the DHT');
    const older = await put(web(2), K1.z32, packet(K1, OLD).payload);
    assert.equal(older.status, 409, older.body);
    assert.equal(await held(2, K1), NEW, 'a raw BEP 44 get to daemon 2');
    const answer = await digTxt(2, K1);
    assert.deepEqual(txt(answer), [`"seq ${NEW}"`], answer.raw);
    assert.deepEqual([await held(1, K1), await held(3, K1)], [NEW, NEW]);
  });

  it('2. an older packet put straight onto the DHT node (raw BEP 44 put): refused, for a key seen only in a get reply', { skip }, async () => {
    assert.deepEqual(await raw!.put('127.0.0.1', dht(1), packet(K2, NEW).item), { ok: true });
    const seen = await retry(async () => {
      const r = await digTxt(2, K2);
      return txt(r).length > 0 ? r : undefined;
    }, { tries: 10, timeoutMs: 30_000, intervalMs: 500 });
    assert.deepEqual(seen.value && txt(seen.value), [`"seq ${NEW}"`], 'daemon 2 resolves K2 from daemon 1');
    assert.equal(await held(2, K2), null, 'daemon 2 stores nothing for K2 (it was put on daemon 1 only)');

    const refused = await raw!.put('127.0.0.1', dht(2), packet(K2, OLD).item);
    assert.deepEqual(refused && !refused.ok && refused.code, 302, JSON.stringify(refused));
    assert.equal(await held(2, K2), null, 'the older packet was not stored');
    const k1 = await raw!.put('127.0.0.1', dht(2), packet(K1, OLD).item);
    assert.deepEqual(k1 && !k1.ok && k1.code, 302, 'nor for the key daemon 2 stores');
    assert.deepEqual(txt(await digTxt(2, K2)), [`"seq ${NEW}"`]);
  });

  it(`3. after ${FLOOD_PUTS} relay PUTs for fresh keys from ${FLOOD_SOURCES} addresses, older packets are still refused`, { skip }, async (t) => {
    await publish(2, K3, NEW);
    const statuses = new Map<number, number>();
    const t0 = performance.now();
    let next = 0;
    const worker = async () => {
      while (next < FLOOD_PUTS && performance.now() - t0 < 600_000) {
        const i = next++;
        // 127.1.0.1 .. 127.2.249.1: every source in a /24 of its own, so no rate limit per network merges them
        const source = i % FLOOD_SOURCES;
        const localAddress = `127.${1 + Math.floor(source / 250)}.${source % 250}.1`;
        const key = keyPair();
        const res = await put(web(2), key.z32, packet(key, 1 + (i % 7)).payload, { localAddress });
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: FLOOD_WORKERS }, worker));
    const seconds = Math.round((performance.now() - t0) / 1000);
    const summary = [...statuses].sort().map(([s, n]) => `${s}: ${n}`).join(', ');
    t.diagnostic(`flood: ${next} PUTs in ${seconds} s (${summary})`);
    assert.equal(next, FLOOD_PUTS, `the flood did not finish in 600 s (${summary})`);
    // More fresh keys than the old 4096-key memory and 4096-item store held: the flood that rolled back before.
    assert.ok((statuses.get(204) ?? 0) > 4096, `only ${statuses.get(204) ?? 0} PUTs were taken: not a flood (${summary})`);

    for (const key of [K1, K3]) {
      const older = await put(web(2), key.z32, packet(key, OLD).payload);
      assert.equal(older.status, 409, `${key === K1 ? 'K1 (put by the DHT)' : 'K3 (relayed)'}: ${older.body}`);
      const straight = await raw!.put('127.0.0.1', dht(2), packet(key, OLD).item);
      assert.deepEqual(straight && !straight.ok && straight.code, 302, JSON.stringify(straight));
      assert.notEqual(await held(2, key), OLD);
      const answer = await digTxt(2, key);
      t.diagnostic(`${key === K1 ? 'K1' : 'K3'}: held by daemons 1-3: ${[await held(1, key), await held(2, key), await held(3, key)].join(' / ')}; dig ${answer.status} ${txt(answer)}`);
      // K1 is an item daemon 2 stores for the DHT: relayed items never push it out. K3 was a relayed
      // item; on a DHT of three nodes the flood's items push it out of every store (BEP 44 storage is
      // bounded), so it may be gone; but never answered older.
      if (key === K1) assert.deepEqual(txt(answer), [`"seq ${NEW}"`], answer.raw);
      else assert.ok(txt(answer).every((x) => x === `"seq ${NEW}"`), answer.raw);
    }
  });

  it('4. a stale If-Match is answered 412, whether daemon 2 or only the DHT holds the newer seq', { skip }, async () => {
    // newer seq published through another node's relay (daemon 3): it reaches daemon 2's store
    const K4 = keyPair();
    await publish(2, K4, OLD);
    await publish(3, K4, NEW);
    const stale = await put(web(2), K4.z32, packet(K4, NEW + 1).payload, { ifMatch: String(OLD) });
    assert.equal(stale.status, 412, stale.body);
    assert.deepEqual([await held(1, K4), await held(2, K4), await held(3, K4)], [NEW, NEW, NEW]);

    // newer seq on daemon 1 only: daemon 2 has never seen it, the DHT compare-and-swap refuses
    const K5 = keyPair();
    await publish(2, K5, OLD);
    assert.deepEqual(await raw!.put('127.0.0.1', dht(1), packet(K5, NEW).item), { ok: true });
    const dhtStale = await put(web(2), K5.z32, packet(K5, NEW + 1).payload, { ifMatch: String(OLD) });
    assert.equal(dhtStale.status, 412, dhtStale.body);
    assert.deepEqual([await held(1, K5), await held(3, K5)], [NEW, OLD], 'nothing was overwritten');
    const current = await put(web(2), K5.z32, packet(K5, NEW + 1).payload, { ifMatch: String(NEW) });
    assert.equal(current.status, 204, current.body);
    assert.equal(await held(1, K5), NEW + 1);
  });

  it('every daemon is still running', { skip }, () => {
    for (const d of daemons) assert.ok(d.alive, `${d.label} died: ${d.tail(20)}`);
  });
});
