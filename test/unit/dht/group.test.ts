// IPv6 DhtNodes on ::1 in one process (no root): they form a DHT, announce and find each other's
// 18-byte peers; the wire shows BEP 32 (`nodes6`, `want`, 18-byte `values`) on IPv6 and plain BEP 5 on
// IPv4; a dual pair answers `want` from its sibling and takes the nodes its sibling learns of.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import bencode from 'bencode';
import { AuthModule } from '../../../src/dht/auth.js';
import { DhtGroup } from '../../../src/dht/group.js';
import { generateKeyPair } from '../../../src/identity/keys.js';
import { DhtNode, type DhtNodeOptions } from '../../../src/dht/node.js';
import { silentLogger } from '../../../src/log.js';
import type { PeerAddress } from '../../../src/types.js';

type Dict = Record<string, unknown>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const text = (x: unknown) => Buffer.from(x as Uint8Array).toString('latin1');

function node(family: 4 | 6, extra: Partial<DhtNodeOptions> = {}): DhtNode {
  return new DhtNode(silentLogger, {
    family,
    port: 0,
    address: family === 6 ? '::1' : '127.0.0.1',
    storage: { maxAgeMs: 60_000, maxTotal: 100, maxPerId: 10 },
    maxSearches: 8,
    ...extra,
  });
}

async function startAll(t: TestContext, nodes: DhtNode[]): Promise<void> {
  t.after(async () => {
    for (const n of nodes) await n.stop();
  });
  for (const n of nodes) await n.start();
}

/** Bounded wait for a condition. */
async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** A raw KRPC client: sends a query, returns the decoded reply (resent a few times: loopback UDP may drop). */
class RawClient {
  readonly socket: dgram.Socket;
  readonly queries: Dict[] = [];
  private readonly waiting = new Map<string, (reply: Dict) => void>();
  private tid = 0;
  constructor(readonly family: 4 | 6) {
    this.socket = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', ipv6Only: family === 6 });
    this.socket.on('message', (msg, rinfo) => {
      const m = bencode.decode(msg) as Dict;
      if (text(m.y) === 'q') {
        this.queries.push(m);
        // answer like a node with nothing to tell
        this.socket.send(bencode.encode({ t: m.t, y: 'r', r: { id: Buffer.alloc(20, 7) } }), rinfo.port, rinfo.address);
        return;
      }
      this.waiting.get(text(m.t))?.(m);
    });
  }
  bind(): Promise<number> {
    return new Promise((resolve) => this.socket.bind(0, this.family === 6 ? '::1' : '127.0.0.1', () => resolve(this.socket.address().port)));
  }
  async query(port: number, q: string, a: Dict): Promise<Dict> {
    const t = `t${++this.tid}`;
    const reply = new Promise<Dict>((resolve) => this.waiting.set(t, resolve));
    const packet = bencode.encode({ t, y: 'q', q, a: { id: Buffer.alloc(20, 7), ...a } });
    for (let attempt = 0; attempt < 10; attempt++) {
      this.socket.send(packet, port, this.family === 6 ? '::1' : '127.0.0.1');
      const r = await Promise.race([reply, sleep(300).then(() => undefined)]);
      if (r) return (r.r ?? r) as Dict;
    }
    throw new Error(`no reply to ${q}`);
  }
  close(): void {
    this.socket.close();
  }
}

test('three IPv6 DHT nodes on ::1 announce and find each other\'s 18-byte peers', { timeout: 30_000 }, async (t) => {
  const nodes = [node(6, { want: [6] }), node(6, { want: [6] }), node(6, { want: [6] })];
  await startAll(t, nodes);
  const [a, b, c] = nodes as [DhtNode, DhtNode, DhtNode];
  b.bootstrap([{ host: '::1', port: a.boundPort() }]);
  c.bootstrap([{ host: '0:0::1', port: a.boundPort() }]); // written as anyone may, matched as ::1
  await until('a table of two nodes everywhere', () => nodes.every((n) => n.nodeCount() >= 2));

  const id = randomBytes(20);
  assert.ok((await b.announce(id, 4711)) >= 1);
  const stored = [a, c].flatMap((n) => [...n.store.entries()]).flatMap((e) => e.peers);
  assert.ok(stored.length >= 1);
  assert.ok(stored.every((p) => p.length === 18), 'stored peers are 18 bytes');

  const found: PeerAddress[] = [];
  await c.search(id, (p) => found.push(p), new AbortController().signal);
  assert.ok(found.length >= 1);
  for (const p of found) assert.deepEqual(p, { address: '::1', port: 4711, family: 6 });

  // the wire: values of 18 bytes, nodes6 of 38-byte entries, no IPv4 `nodes`
  const client = new RawClient(6);
  t.after(() => client.close());
  await client.bind();
  const holder = [a, c].find((n) => n.store.size > 0)!;
  const withValues = await client.query(holder.boundPort(), 'get_peers', { info_hash: id });
  assert.ok(Array.isArray(withValues.values));
  assert.ok((withValues.values as Uint8Array[]).every((v) => v.length === 18));
  const withNodes = await client.query(a.boundPort(), 'find_node', { target: randomBytes(20) });
  assert.equal(withNodes.nodes, undefined);
  const nodes6 = withNodes.nodes6 as Uint8Array;
  assert.ok(nodes6.length >= 38 && nodes6.length % 38 === 0, `nodes6 of ${nodes6.length} bytes`);
  assert.deepEqual(Buffer.from(nodes6.subarray(20, 36)), Buffer.from('00000000000000000000000000000001', 'hex'));
});

test('the IPv4 node sends plain BEP 5; the IPv6 node asks with want', { timeout: 20_000 }, async (t) => {
  const v4 = node(4);
  const v6 = node(6, { want: [6] });
  await startAll(t, [v4, v6]);
  const c4 = new RawClient(4);
  const c6 = new RawClient(6);
  t.after(() => {
    c4.close();
    c6.close();
  });
  v4.bootstrap([{ host: '127.0.0.1', port: await c4.bind() }]);
  v6.bootstrap([{ host: '::1', port: await c6.bind() }]);
  await until('a find_node from each', () => c4.queries.length > 0 && c6.queries.length > 0);
  const q4 = c4.queries.find((q) => text(q.q) === 'find_node')!;
  const q6 = c6.queries.find((q) => text(q.q) === 'find_node')!;
  assert.deepEqual(Object.keys(q4.a as Dict).sort(), ['id', 'target']);
  assert.deepEqual(((q6.a as Dict).want as Uint8Array[]).map(text), ['n6']);

  // IPv4 replies keep 26-byte `nodes`
  await until('the client in the IPv4 table', () => v4.nodeCount() > 0);
  const reply = await c4.query(v4.boundPort(), 'find_node', { target: randomBytes(20) });
  assert.equal(reply.nodes6, undefined);
  assert.equal((reply.nodes as Uint8Array).length, 26);
  assert.deepEqual(Buffer.from((reply.nodes as Uint8Array).subarray(20, 26)), Buffer.from([127, 0, 0, 1, c4.socket.address().port >> 8, c4.socket.address().port & 255]));
});

test('dual: want is answered from the sibling, and the sibling takes the nodes it hears of', { timeout: 30_000 }, async (t) => {
  const dual = (): [DhtNode, DhtNode] => [node(4, { want: [4, 6] }), node(6, { want: [4, 6] })];
  const [a4, a6] = dual();
  const [b4, b6] = dual();
  const c6 = node(6, { want: [6] });
  await startAll(t, [a4, a6, b4, b6, c6]);
  const groupA = new DhtGroup([a4, a6]);
  new DhtGroup([b4, b6]);
  assert.equal(groupA.nodeId.length, 20);

  // C joins A's IPv6 DHT; B knows only A's IPv4 address
  c6.bootstrap([{ host: '::1', port: a6.boundPort() }]);
  await until('C in A\'s IPv6 table', () => a6.nodeCount() > 0);
  const client = new RawClient(4);
  t.after(() => client.close());
  await client.bind();
  const target = randomBytes(20);
  const both = await client.query(a4.boundPort(), 'find_node', { target, want: ['n4', 'n6'] });
  assert.equal((both.nodes6 as Uint8Array).length % 38, 0);
  assert.ok((both.nodes6 as Uint8Array).length >= 38, 'nodes6 from the IPv6 sibling');
  assert.ok(both.nodes instanceof Uint8Array);
  const only6 = await client.query(a4.boundPort(), 'find_node', { target, want: ['n6'] });
  assert.equal(only6.nodes, undefined);
  assert.ok((only6.nodes6 as Uint8Array).length >= 38);
  const plain = await client.query(a4.boundPort(), 'find_node', { target });
  assert.equal(plain.nodes6, undefined);

  b4.bootstrap([{ host: '127.0.0.1', port: a4.boundPort() }]);
  await until('B\'s IPv6 DHT finds C through the IPv4 DHT', () => b6.routingNodes().some((n) => n.port === c6.boundPort()));
  assert.equal(b6.routingNodes().every((n) => n.address === '::1'), true);
});

test('AUTH over IPv6: the challenge leaves on the IPv6 socket, the reply comes back to the one AuthModule', { timeout: 20_000 }, async (t) => {
  const [a4, a6, b4, b6] = [node(4), node(6), node(4), node(6)];
  await startAll(t, [a4, a6, b4, b6]);
  const groupA = new DhtGroup([a4, a6]);
  const groupB = new DhtGroup([b4, b6]);
  const keys = generateKeyPair();
  const id = randomBytes(20);
  const verifier = new AuthModule({ send: (p, port, addr) => groupA.sendRaw(p, port, addr), secretKeyFor: () => undefined, isOwnAddress: () => false, log: silentLogger });
  const holder = new AuthModule({ send: (p, port, addr) => groupB.sendRaw(p, port, addr), secretKeyFor: (x) => (x.equals(id) ? keys.secretKey : undefined), isOwnAddress: (a) => a === '::1', log: silentLogger });
  t.after(() => {
    verifier.stop();
    holder.stop();
  });
  for (const n of [a4, a6]) n.socket.setAuthHandler((msg, rinfo) => verifier.handle(msg, rinfo));
  for (const n of [b4, b6]) n.socket.setAuthHandler((msg, rinfo) => holder.handle(msg, rinfo));
  assert.equal(await verifier.verify(id, keys.publicKey, { address: '::1', port: b6.boundPort(), family: 6 }), 'bound');
  assert.equal(b6.socket.counters.auth >= 1 && a6.socket.counters.auth >= 1, true, 'both AUTH packets went over IPv6');
  assert.equal(b4.socket.counters.auth + a4.socket.counters.auth, 0);
});

test('sizeEstimate: the largest estimate of the group\'s DHTs (the big one is where junk hides); null while none has one', () => {
  const [a4, a6] = [node(4), node(6)];
  const group = new DhtGroup([a4, a6]);
  const estimates: Record<4 | 6, number | null> = { 4: null, 6: null };
  a4.sizeEstimate = () => estimates[4];
  a6.sizeEstimate = () => estimates[6];
  assert.equal(group.sizeEstimate(), null);
  estimates[6] = 300;
  assert.equal(group.sizeEstimate(), 300);
  estimates[4] = 20_000;
  assert.equal(group.sizeEstimate(), 20_000);
});
