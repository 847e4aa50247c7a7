// BEP 32 (IPv6 DHT): compact encodings (IPv4 ones as the library's own), the guard, 18-byte peers in the store,
// and the group combinator over one DHT per family.
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import bencode from 'bencode';
import DHT from 'bittorrent-dht';
import KRpc from 'k-rpc';
import { CommandTable, type NodeControl, type StatusInfo } from '../../../src/commands.js';
import {
  bytesToIp,
  canonicalHost,
  decodePeers,
  encodeNodes,
  encodePeer,
  formatCompactPeer,
  ipToBytes,
  parseNodes,
} from '../../../src/dht/compact.js';
import { checkKrpc } from '../../../src/dht/guard.js';
import { DhtGroup, type GroupMember } from '../../../src/dht/group.js';
import { PeerStore } from '../../../src/dht/peer-store.js';
import type { PeerAddress } from '../../../src/types.js';

const id = () => randomBytes(20);
const enc = (m: unknown) => Buffer.from(bencode.encode(m));
const t = Buffer.from('aa');

// ---------------------------------------------------------------- the library's own IPv4 codec

type Contact = { id?: Uint8Array; host: string; port: number };
type Callback = (err: Error | null, res?: unknown, peer?: unknown) => void;
interface PlainRpc {
  bootstrap: Contact[];
  response(peer: Contact, query: unknown, response: Record<string, unknown>, nodes: Contact[]): void;
  closest(target: Buffer, message: unknown, visit: null, cb: () => void): void;
}
interface PlainDht {
  _peers: unknown;
  _addPeer(peer: Contact, infoHash: Buffer, from: null): void;
  lookup(infoHash: Buffer, cb: () => void): void;
  on(event: 'peer', listener: (peer: Contact) => void): void;
  destroy(cb?: () => void): void;
}

/**
 * A plain k-rpc and bittorrent-dht (no adapter) over a stand-in k-rpc-socket that records the replies and
 * queries they send and answers queries with `reply`: how a test reaches the library's module-private
 * IPv4 codec, which the adapter's walk (krpc-scheduler.ts) replaces with ours.
 */
function plainLibrary(t: { after(fn: () => void): void }, reply: (peer: Contact) => Record<string, unknown> | null = () => null) {
  const sent = { responses: [] as Record<string, unknown>[], queried: [] as Contact[] };
  const krpcSocket = Object.assign(new EventEmitter(), {
    inflight: 0,
    destroy: (cb?: () => void) => cb?.(),
    address: () => ({ port: 0 }),
    response: (_peer: unknown, _query: unknown, response: Record<string, unknown>) => void sent.responses.push(response),
    query: (peer: Contact, _message: unknown, cb: Callback) => {
      sent.queried.push(peer);
      const r = reply(peer);
      setImmediate(() => (r ? cb(null, { r }, { address: peer.host, port: peer.port }) : cb(new Error('no answer'), null, peer)));
    },
  });
  const rpc = KRpc({ krpcSocket, bootstrap: [], idLength: 20 }) as unknown as PlainRpc;
  const dht = new DHT({ krpc: rpc, bootstrap: false }) as unknown as PlainDht;
  t.after(() => dht.destroy());
  return { rpc, dht, sent };
}

test('IPv4 compact forms are byte for byte the library ones', async (t) => {
  const nodes = Array.from({ length: 12 }, (_, i) => ({ id: id(), host: `10.${i}.${255 - i}.${i * 7}`, port: 1 + i * 5000 }));
  const ours = encodeNodes(nodes, 20, 4);
  assert.equal(ours.length, 12 * 26);
  // `nodes` as k-rpc writes them into a reply
  const writer = plainLibrary(t);
  writer.rpc.response({ host: '10.0.0.1', port: 1 }, { t }, {}, nodes);
  assert.deepEqual(Buffer.from(writer.sent.responses[0]!.nodes as Uint8Array), ours);
  // `nodes` as k-rpc reads them from a reply: its walk asks every node it read
  const bootstrap = { host: '10.9.9.9', port: 9 };
  const reader = plainLibrary(t, (peer) => (peer.host === bootstrap.host ? { id: id(), nodes: ours } : null));
  reader.rpc.bootstrap = [bootstrap];
  await new Promise<void>((r) => reader.rpc.closest(id(), { q: 'find_node', a: {} }, null, r));
  const key = (n: Contact) => `${Buffer.from(n.id ?? []).toString('hex')} ${n.host}:${n.port}`;
  assert.deepEqual(reader.sent.queried.slice(1).map(key).sort(), parseNodes(ours, 20, 4).map(key).sort());
  // peers as bittorrent-dht stores an announcement, and reports stored values
  const stored: Buffer[] = [];
  const { dht } = plainLibrary(t);
  dht._peers = { add: (_id: string, peer: Buffer) => void stored.push(peer), get: () => stored, destroy: () => undefined };
  const hosts = [['1.2.3.4', 6881], ['255.255.255.255', 65535], ['0.0.0.1', 1], ['192.168.10.200', 443]] as const;
  for (const [host, port] of hosts) dht._addPeer({ host, port }, id(), null);
  assert.deepEqual(stored, hosts.map(([host, port]) => encodePeer(host, port)));
  const reported: Contact[] = [];
  dht.on('peer', (peer) => reported.push(peer));
  await new Promise<void>((r) => dht.lookup(id(), r));
  assert.deepEqual(reported, decodePeers(stored));
  assert.deepEqual(encodePeer('1.2.3.4', 0x1ae1), Buffer.from([1, 2, 3, 4, 0x1a, 0xe1]));
});

test('nodes6: 38-byte entries round-trip, in canonical text', () => {
  const nodes = [
    { id: id(), host: 'fd20::1', port: 6881 },
    { id: id(), host: '2001:db8:0:0:1:0:0:1', port: 1 },
    { id: id(), host: 'fe80::abcd:ef01:2345:6789', port: 65535 },
    { id: id(), host: '::ffff:10.1.2.3', port: 80 },
  ];
  const buf = encodeNodes(nodes, 20, 6);
  assert.equal(buf.length, 4 * 38);
  assert.deepEqual(buf.subarray(20, 36), Buffer.from('fd200000000000000000000000000001', 'hex'));
  assert.equal(buf.readUInt16BE(36), 6881);
  const parsed = parseNodes(buf, 20, 6);
  assert.deepEqual(
    parsed.map((n) => [n.id, n.host, n.port]),
    nodes.map((n) => [n.id, canonicalHost(n.host), n.port]),
  );
  assert.equal(parsed[1]!.host, '2001:db8::1:0:0:1');
  assert.equal(parsed[3]!.host, '::ffff:10.1.2.3');
});

test('nodes6: other families, bad ids, port 0 and partial entries are left out', () => {
  const good = { id: id(), host: 'fd20::2', port: 7 };
  const buf = encodeNodes([{ id: id(), host: '10.0.0.1', port: 1 }, { id: Buffer.alloc(3), host: 'fd20::3', port: 1 }, good], 20, 6);
  assert.equal(buf.length, 38);
  const zeroPort = encodeNodes([{ id: id(), host: 'fd20::4', port: 0 }], 20, 6);
  const partial = Buffer.concat([buf, zeroPort, buf.subarray(0, 20)]);
  assert.deepEqual(
    parseNodes(partial, 20, 6).map((n) => n.host),
    ['fd20::2'],
  );
  assert.equal(encodeNodes([good], 20, 4).length, 0);
});

test('18-byte peers round-trip; 6-byte ones still decode; junk is skipped', () => {
  const p = encodePeer('fd20::1', 6881);
  assert.equal(p.length, 18);
  assert.deepEqual(p, Buffer.concat([Buffer.from('fd200000000000000000000000000001', 'hex'), Buffer.from([0x1a, 0xe1])]));
  assert.deepEqual(decodePeers([p, encodePeer('10.201.0.1', 80), Buffer.alloc(7), encodePeer('fd20::9', 0), encodePeer('2001:db8::7', 443)]), [
    { host: 'fd20::1', port: 6881 },
    { host: '10.201.0.1', port: 80 },
    { host: '2001:db8::7', port: 443 },
  ]);
  assert.equal(formatCompactPeer(p), '[fd20::1]:6881');
  assert.equal(formatCompactPeer(encodePeer('10.0.0.1', 1)), '10.0.0.1:1');
  assert.equal(formatCompactPeer(Buffer.from([1, 2, 3])), '010203');
});

test('IPv6 text: parsing and libuv-canonical output', () => {
  assert.deepEqual(ipToBytes('::'), Buffer.alloc(16));
  assert.deepEqual(ipToBytes('::1'), Buffer.from('00000000000000000000000000000001', 'hex'));
  assert.deepEqual(ipToBytes('fe80::1%eth0'), Buffer.from('fe800000000000000000000000000001', 'hex'));
  assert.deepEqual(ipToBytes('::ffff:1.2.3.4'), Buffer.from('00000000000000000000ffff01020304', 'hex'));
  assert.deepEqual(ipToBytes('1:2:3:4:5:6:7:8'), Buffer.from('00010002000300040005000600070008', 'hex'));
  assert.equal(ipToBytes('example.com'), null);
  assert.equal(canonicalHost('FD20:0000::0001'), 'fd20::1');
  assert.equal(canonicalHost('1:0:0:1:0:0:0:1'), '1:0:0:1::1');
  assert.equal(canonicalHost('10.0.0.1'), '10.0.0.1');
  assert.equal(canonicalHost('example.com'), 'example.com');
  assert.equal(bytesToIp(Buffer.from('20010db8000000000000000000000000', 'hex'), 0, 6), '2001:db8::');
});

// ---------------------------------------------------------------- guard

test('the guard passes BEP 32 messages', () => {
  const good: Array<[unknown, 4 | 6]> = [
    [{ t, y: 'q', q: 'find_node', a: { id: id(), target: id(), want: ['n4', 'n6'] } }, 6],
    [{ t, y: 'q', q: 'get_peers', a: { id: id(), info_hash: id(), want: ['n6'] } }, 6],
    [{ t, y: 'q', q: 'get_peers', a: { id: id(), info_hash: id(), want: ['n4', 'n6', 'x9'] } }, 4],
    [{ t, y: 'r', r: { id: id(), nodes6: Buffer.alloc(38 * 3), token: Buffer.alloc(8) } }, 6],
    [{ t, y: 'r', r: { id: id(), nodes: Buffer.alloc(26), nodes6: Buffer.alloc(38), token: Buffer.alloc(8) } }, 4],
    [{ t, y: 'r', r: { id: id(), token: Buffer.alloc(8), values: [Buffer.alloc(18), Buffer.alloc(18)] } }, 6],
    [{ t, y: 'r', r: { id: id(), token: Buffer.alloc(8), values: [Buffer.alloc(6)] } }, 4],
    [{ t, y: 'r', r: { id: id(), nodes6: Buffer.alloc(0) } }, 6],
  ];
  for (const [message, family] of good) assert.equal(checkKrpc(enc(message), family), null, JSON.stringify(message));
});

test('the guard rejects malformed nodes6, values and want', () => {
  const bad: Array<[unknown, 4 | 6]> = [
    [{ t, y: 'r', r: { id: id(), nodes6: Buffer.alloc(37) } }, 6],
    [{ t, y: 'r', r: { id: id(), nodes6: Buffer.alloc(39) } }, 6],
    [{ t, y: 'r', r: { id: id(), nodes6: 38 } }, 6],
    [{ t, y: 'r', r: { id: id(), nodes6: [Buffer.alloc(38)] } }, 6],
    // values of the other family, or of neither
    [{ t, y: 'r', r: { id: id(), values: [Buffer.alloc(6)] } }, 6],
    [{ t, y: 'r', r: { id: id(), values: [Buffer.alloc(18)] } }, 4],
    [{ t, y: 'r', r: { id: id(), values: [Buffer.alloc(18), Buffer.alloc(17)] } }, 6],
    [{ t, y: 'r', r: { id: id(), values: Buffer.alloc(18) } }, 6],
    [{ t, y: 'q', q: 'find_node', a: { id: id(), target: id(), want: 'n6' } }, 6],
    [{ t, y: 'q', q: 'find_node', a: { id: id(), target: id(), want: [6] } }, 6],
    [{ t, y: 'q', q: 'get_peers', a: { id: id(), info_hash: id(), want: Array.from({ length: 9 }, () => 'n6') } }, 6],
    [{ t, y: 'q', q: 'get_peers', a: { id: id(), info_hash: id(), want: ['n'.repeat(17)] } }, 6],
  ];
  for (const [message, family] of bad) assert.notEqual(checkKrpc(enc(message), family), null, JSON.stringify(message));
  // the family defaults to IPv4
  assert.notEqual(checkKrpc(enc({ t, y: 'r', r: { id: id(), values: [Buffer.alloc(18)] } })), null);
});

// ---------------------------------------------------------------- peer store

test('the peer store keeps 18-byte peers: bounds, expiry, listing', () => {
  let clock = 0;
  const s = new PeerStore({ maxAgeMs: 30 * 60_000, maxTotal: 100, maxPerId: 3, maxReply: 50, now: () => clock });
  const peer = (n: number) => encodePeer(`fd20::${n.toString(16)}`, 6881);
  for (let i = 1; i <= 5; i++) s.add('a', peer(i));
  s.add('a', peer(5));
  assert.deepEqual(s.get('a'), [peer(5), peer(4), peer(3)]);
  assert.ok(s.get('a').every((p) => p.length === 18));
  clock += 10 * 60_000;
  s.add('b', peer(9));
  assert.deepEqual(
    [...s.entries()].map((e) => ({ id: e.id, peers: e.peers.map(formatCompactPeer) })),
    [
      { id: 'a', peers: ['[fd20::3]:6881', '[fd20::4]:6881', '[fd20::5]:6881'] },
      { id: 'b', peers: ['[fd20::9]:6881'] },
    ],
  );
  clock += 20 * 60_000;
  assert.deepEqual(s.get('a'), []);
  assert.deepEqual(s.get('b'), [peer(9)]);
  assert.equal(s.size, 1);
});

// ---------------------------------------------------------------- group

class FakeDht implements GroupMember {
  readonly socket = { sent: [] as string[], sendRaw: (_b: Buffer, port: number, address: string) => void this.socket.sent.push(`${address}:${port}`) };
  readonly store = new PeerStore({ maxAgeMs: 60_000, maxTotal: 100, maxPerId: 10, maxReply: 50 });
  readonly nodeId = id();
  sibling: GroupMember | null = null;
  pinged: string[] = [];
  blocked: string[] = [];
  nodeListeners: Array<() => void> = [];
  constructor(
    readonly family: 4 | 6,
    private readonly found: PeerAddress[],
    private readonly acks: number,
    private readonly nodes = 3,
  ) {}
  async search(_id: Buffer, onPeer: (peer: PeerAddress) => void, signal: AbortSignal): Promise<number> {
    for (const peer of this.found) {
      await new Promise((r) => setTimeout(r, 5));
      if (signal.aborted) return 0;
      onPeer(peer);
    }
    return this.nodes;
  }
  nodeCount = () => this.nodes;
  announce = async () => this.acks;
  onNodeAdded = (l: () => void) => void this.nodeListeners.push(l);
  ping = (p: { host: string; port: number }) => void this.pinged.push(`${p.host}:${p.port}`);
  nodeCounts = () => ({ all: this.nodes, good: this.nodes - 1 });
  routingNodes = () => [{ id: 'x', address: this.family === 4 ? '10.0.0.9' : 'fd20::9', port: 1, age: this.family * 1000 }];
  goodNodes = (max: number) => this.routingNodes().slice(0, max);
  block = (a: string) => (this.blocked.push(a), true);
  blockedAddresses = () => this.blocked;
  searchCount = () => 1;
  boundPort = () => 6881;
  setSibling = (s: GroupMember | null) => void (this.sibling = s);
}

test('the group merges the searches of both families', async () => {
  const v4 = new FakeDht(4, [{ address: '10.201.0.1', port: 6881, family: 4 }], 8);
  const v6 = new FakeDht(6, [{ address: 'fd20::1', port: 6881, family: 6 }, { address: 'fd20::2', port: 6881, family: 6 }], 5);
  const group = new DhtGroup<FakeDht>([v6, v4]);
  assert.deepEqual(group.nodes.map((n) => n.family), [4, 6], 'IPv4 first');
  assert.equal(v4.sibling, v6);
  assert.equal(v6.sibling, v4);
  const seen: PeerAddress[] = [];
  await group.search(id(), (p) => seen.push(p), new AbortController().signal);
  assert.deepEqual(
    seen.map((p) => `${p.family} ${p.address}`).sort(),
    ['4 10.201.0.1', '6 fd20::1', '6 fd20::2'],
  );
  // an abort ends every walk
  const aborted: PeerAddress[] = [];
  const controller = new AbortController();
  controller.abort();
  await group.search(id(), (p) => aborted.push(p), controller.signal);
  assert.deepEqual(aborted, []);
});

test('the group announces on every DHT and routes per family', async () => {
  const v4 = new FakeDht(4, [], 8, 9);
  const v6 = new FakeDht(6, [], 0, 4);
  const group = new DhtGroup<FakeDht>([v4, v6]);
  assert.equal(group.nodeCount(), 13);
  // the fewest acks of any DHT: the announcer follows up until the IPv6 DHT holds the value too
  assert.equal(await group.announce(id(), 6881), 0);
  let added = 0;
  group.onNodeAdded(() => added++);
  for (const l of [...v4.nodeListeners, ...v6.nodeListeners]) l();
  assert.equal(added, 2);
  group.sendRaw(Buffer.from('AUTH'), 1, 'fd20::5');
  group.sendRaw(Buffer.from('AUTH'), 2, '10.201.0.5');
  group.sendRaw(Buffer.from('AUTH'), 3, 'not-an-ip');
  assert.deepEqual(v4.socket.sent, ['10.201.0.5:2']);
  assert.deepEqual(v6.socket.sent, ['fd20::5:1']);
  assert.equal(group.ping({ host: 'FD20:0::7', port: 9 }), true);
  assert.deepEqual(v6.pinged, ['fd20::7:9']);
  assert.deepEqual(group.nodeCounts(), { all: 13, good: 11, families: [{ family: 4, all: 9, good: 8 }, { family: 6, all: 4, good: 3 }] });
  assert.deepEqual(group.goodNodes(1).map((n) => n.address), ['10.0.0.9']);
  v4.store.add('aa', encodePeer('10.0.0.1', 1));
  v6.store.add('aa', encodePeer('fd20::1', 1));
  v6.store.add('bb', encodePeer('fd20::2', 2));
  assert.deepEqual(group.storage(), { announcements: 3, ids: 3 });
  assert.deepEqual(
    group.storedEntries().map((e) => [e.id, e.peers.map(formatCompactPeer)]),
    [['aa', ['10.0.0.1:1', '[fd20::1]:1']], ['bb', ['[fd20::2]:2']]],
  );
  // an IPv6 DHT that could not start is taken out; IPv4 goes on alone
  group.remove(v6);
  assert.equal(v4.sibling, null);
  assert.equal(group.ping({ host: 'fd20::7', port: 9 }), false);
  assert.equal(await group.announce(id(), 6881), 8);
  group.remove(v4);
  assert.equal(group.nodes.length, 1, 'the last DHT stays');
  assert.throws(() => new DhtGroup<FakeDht>([new FakeDht(4, [], 0), new FakeDht(4, [], 0)]), /one DHT per address family/);
});

test('status: one node count for IPv4 alone, one per family otherwise', async () => {
  const status = (nodes: StatusInfo['nodes']): StatusInfo => ({
    versionLine: 'kadnode test',
    nodeId: '00',
    bound: [],
    nodes,
    storage: { announcements: 0, ids: 0, max: 1 },
    searches: 0,
    resolver: { searches: 0, cached: 0 },
    values: 0,
    uptimeMs: 0,
  });
  const line = async (nodes: StatusInfo['nodes']) => {
    const node = { status: () => status(nodes) } as unknown as NodeControl;
    const table = new CommandTable({ resolver: { resolve: async () => ({ status: 'notfound', addresses: [], ttl: 0 }) }, node, lookupTimeoutMs: 10 });
    return (await table.run('status')).text.split('\n').find((l) => l.startsWith('DHT nodes:'));
  };
  assert.equal(await line({ all: 9, good: 9, families: [{ family: 4, all: 9, good: 9 }] }), 'DHT nodes: 9 (9 good)');
  assert.equal(await line({ all: 9, good: 8 }), 'DHT nodes: 9 (8 good)');
  assert.equal(await line({ all: 4, good: 4, families: [{ family: 6, all: 4, good: 4 }] }), 'DHT nodes: 4 (4 good) IPv6');
  assert.equal(
    await line({ all: 13, good: 13, families: [{ family: 4, all: 9, good: 9 }, { family: 6, all: 4, good: 4 }] }),
    'DHT nodes: 9 (9 good) IPv4, 4 (4 good) IPv6',
  );
});
