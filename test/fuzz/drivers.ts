// Fuzz drivers: one per surface. Each feeds one input to the real handler (a parser, or a live server on
// 127.0.0.1 with the real resolver and command table of an in-process daemon behind it), reports a
// crash by throwing FuzzCrash, and can probe that the surface still answers a valid request.
//
// A crash is an exception that escapes a handler, or one caught only by a last line of defence (a
// library throw inside the DHT socket, a warn line from a catch-all, a command failing with a
// TypeError), or an uncaught exception / unhandled rejection in the process while the surface runs.
//
// Nothing here sends a packet anywhere but 127.0.0.1: the in-process daemon's DHT sockets are told to
// neither send to nor hear from any other address (fuzzed replies name random nodes), `import` lines
// are pointed at 127.0.0.1, and LPD and port forwarding are off.
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import bencode from 'bencode';
import dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { buildConfig, ConfigError } from '../../src/config.js';
import { parseConfigText } from '../../src/config-file.js';
import { Daemon } from '../../src/daemon.js';
import { AuthModule, DEFAULT_AUTH_OPTIONS } from '../../src/dht/auth.js';
import { encodeChallenge } from '../../src/dht/auth-wire.js';
import { checkKrpc, isBencode } from '../../src/dht/guard.js';
import { DhtNode } from '../../src/dht/node.js';
import { generateKeyPair } from '../../src/identity/keys.js';
import { createLogger, silentLogger, type Logger } from '../../src/log.js';
import { LpdPacketError, LpdService, parseLpdPacket } from '../../src/net/lpd.js';
import { AddressError, parseHostPort, parsePeerLines } from '../../src/net/peerfile.js';
import { ControlSurface } from '../../src/surfaces/control.js';
import { buildResponse, FrameReader, maxUdpSize, parseQuery, replyHeader, TCP_MAX_SIZE, truncatedAnswer, type Rcode } from '../../src/surfaces/dns-message.js';
import { DnsServer } from '../../src/surfaces/dns.js';
import { NSS_STATUS, NssSurface, parseNssRequest } from '../../src/surfaces/nss.js';
import { checkItem, formatRecord, fromRelayPayload, PacketError, signPacket } from '../../src/pkarr/packet.js';
import { pkarrName } from '../../src/pkarr/names.js';
import { WebSurface } from '../../src/surfaces/web.js';
import * as inputs from './inputs.js';

export class FuzzCrash extends Error {}

export interface Driver<I> {
  /** feeds one input; throws FuzzCrash on a crash */
  feed(input: I): Promise<void> | void;
  /** a valid request still gets a valid answer (throws when not) */
  probe(): Promise<void>;
  stop(): Promise<void>;
  /** extra figures for the report */
  figures?(): Record<string, number>;
}

export interface Surface<I> {
  name: string;
  /** what it covers, for the report */
  what: string;
  arbitrary: fc.Arbitrary<I>;
  /** live surfaces go through sockets: fewer inputs in the bounded run */
  live: boolean;
  start(): Promise<Driver<I>>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const tick = () => new Promise((r) => setImmediate(r));
const LOCAL = '127.0.0.1';
const isLoopback = (a: string) => a.startsWith('127.') || a === '::1' || a.startsWith('::ffff:127.');

/** A logger whose warn and error lines matching `crash` are crashes (caught by a last line of defence). */
function crashLogger(crash: RegExp): { log: Logger; take(): string[] } {
  let found: string[] = [];
  const log = createLogger('verbose', (line, level) => {
    if ((level === 'warn' || level === 'error') && crash.test(line)) found.push(line);
  });
  return { log, take: () => { const f = found; found = []; return f; } };
}

function check(lines: string[], what: string): void {
  if (lines.length > 0) throw new FuzzCrash(`${what}: ${lines.slice(0, 3).join(' | ')}`);
}

// ---------------------------------------------------------------- an in-process daemon for the live surfaces

export interface FuzzDaemon {
  daemon: Daemon;
  stop(): Promise<void>;
}

/** The real Daemon (DHT, resolver, command table), bound to 127.0.0.1, no surfaces of its own, talking to nobody. */
export async function startFuzzDaemon(log: Logger = silentLogger): Promise<FuzzDaemon> {
  const dir = mkdtempSync(join(tmpdir(), 'kadnode-fuzz-'));
  const peerfile = join(dir, 'peers.txt');
  writeFileSync(peerfile, '');
  const config = {
    ...buildConfig({ 'cmd-disable-stdin': true, 'dns-port': '0', 'cmd-port': '0', 'web-port': '0', 'nss-port': '0', 'lpd-disable': true, 'fwd-disable': true, peerfile, 'dht-addr': LOCAL, 'value-id': ['fuzz-own.p2p'] }),
    port: 0,
  };
  const daemon = new Daemon(config, log);
  await daemon.start();
  for (const node of daemon.dht.nodes) loopbackOnly(node);
  return {
    daemon,
    async stop() {
      await daemon.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The node's socket neither sends to nor hears from anything but loopback (on top of its blacklist). */
function loopbackOnly(node: DhtNode): void {
  const blocked = node.socket.isBlocked;
  node.socket.isBlocked = (address) => !isLoopback(address) || blocked(address);
}

/** A UDP client on 127.0.0.1 that counts what comes back. */
async function udpClient(): Promise<{ socket: dgram.Socket; replies: Buffer[]; send(b: Buffer, port: number): void; close(): void }> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, LOCAL, r));
  const replies: Buffer[] = [];
  socket.on('message', (m) => {
    if (replies.length < 64) replies.push(m);
  });
  socket.on('error', () => undefined);
  return { socket, replies, send: (b, port) => socket.send(b, port, LOCAL), close: () => socket.close() };
}

async function waitFor<T>(fn: () => T | undefined, ms: number, what: string): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (performance.now() > deadline) throw new FuzzCrash(`no answer: ${what}`);
    await sleep(10);
  }
}

async function dnsProbe(port: number, name = 'fuzz-own.p2p'): Promise<void> {
  const client = await udpClient();
  try {
    const q = dnsPacket.encode({ type: 'query', id: 4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type: 'A' }] });
    for (let attempt = 0; attempt < 5; attempt++) {
      client.send(q, port);
      try {
        const reply = await waitFor(() => client.replies.find((r) => r.readUInt16BE(0) === 4242), 500, `DNS ${name}`);
        const decoded = dnsPacket.decode(reply) as dnsPacket.DecodedPacket & { rcode: string };
        if (decoded.rcode !== 'NOERROR' || !decoded.answers?.some((a) => a.type === 'A')) throw new FuzzCrash(`DNS probe: ${decoded.rcode}`);
        return;
      } catch (err) {
        if (!(err instanceof FuzzCrash) || !err.message.startsWith('no answer') || attempt === 4) throw err;
      }
    }
  } finally {
    client.close();
  }
}

// ---------------------------------------------------------------- DNS

const RCODES: Rcode[] = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'REFUSED'];
const SOME_ADDRESSES = [
  { address: '192.0.2.1', port: 1, family: 4 as const },
  { address: '2001:db8::1', port: 65535, family: 6 as const },
  { address: 'not-an-ip', port: 5, family: 4 as const },
];

export const dnsParser: Surface<Buffer> = {
  name: 'dns-parse',
  what: 'DNS messages: parseQuery, buildResponse (every rcode, UDP and TCP sizes), replyHeader, truncatedAnswer, FrameReader',
  arbitrary: inputs.dnsMessage,
  live: false,
  async start() {
    return {
      feed(msg) {
        try {
          const parsed = parseQuery(msg);
          replyHeader(msg);
          if (parsed.kind === 'query') {
            for (const rcode of RCODES) {
              buildResponse(parsed, rcode, { maxSize: maxUdpSize(parsed), addresses: SOME_ADDRESSES, ttl: 60, zone: 'p2p' });
              buildResponse(parsed, rcode, { maxSize: TCP_MAX_SIZE, addresses: SOME_ADDRESSES, ttl: -1, zone: '.p2p.' });
            }
            if (msg.length >= 12) truncatedAnswer(parsed, msg);
          }
          const frames = new FrameReader();
          frames.push(msg, () => undefined);
        } catch (err) {
          throw new FuzzCrash(`DNS parser threw: ${(err as Error).stack}`);
        }
      },
      probe: async () => {
        const q = parseQuery(Buffer.from(dnsPacket.encode({ type: 'query', id: 1, questions: [{ name: 'foo.p2p', type: 'A' }] })));
        if (q.kind !== 'query') throw new FuzzCrash('a valid query does not parse');
      },
      stop: async () => undefined,
    };
  },
};

const DNS_CRASH = /DNS: (UDP query from|TCP query from|Cannot answer)/;

/** The live DNS surface (UDP) on the daemon's real resolver; the rate limit is off so every input is parsed. */
export const dnsUdp: Surface<Buffer> = {
  name: 'dns-udp',
  what: 'DNS over UDP: datagrams to a live DnsServer in front of the real resolver (rate limit off)',
  arbitrary: inputs.dnsMessage,
  live: true,
  async start() {
    const fd = await startFuzzDaemon();
    const logs = crashLogger(DNS_CRASH);
    const server = new DnsServer({ chain: fd.daemon.resolver, log: logs.log, options: { port: 0, addresses: [LOCAL], timeoutMs: 500, rateLimit: null } });
    await server.start();
    const port = server.addresses()[0]!.port;
    const client = await udpClient();
    let sent = 0;
    return {
      async feed(msg) {
        client.send(msg, port);
        // same process on both ends: let the server drain its socket now and then
        if (++sent % 16 === 0) await tick();
        if (sent % 256 === 0) await sleep(1);
        check(logs.take(), 'DNS over UDP');
      },
      probe: () => dnsProbe(port),
      async stop() {
        client.close();
        await server.stop();
        await fd.stop();
      },
    };
  },
};

/** The live DNS surface over TCP: streams of frames with their length prefixes (some wrong), cut anywhere. */
export const dnsTcp: Surface<inputs.DnsStream> = {
  name: 'dns-tcp',
  what: 'DNS over TCP: length-prefixed streams (wrong prefixes, split anywhere, half-closed) to a live DnsServer',
  arbitrary: inputs.dnsStream,
  live: true,
  async start() {
    const fd = await startFuzzDaemon();
    const logs = crashLogger(DNS_CRASH);
    const server = new DnsServer({ chain: fd.daemon.resolver, log: logs.log, options: { port: 0, addresses: [LOCAL], timeoutMs: 500, tcpIdleMs: 100, rateLimit: null } });
    await server.start();
    const port = server.addresses()[0]!.port;
    const open = new Set<Promise<void>>();
    const oneStream = async (stream: inputs.DnsStream) => {
      const socket = net.connect({ port, host: LOCAL, allowHalfOpen: true });
      socket.on('error', () => undefined);
      socket.on('data', () => undefined);
      const closed = new Promise<void>((r) => socket.once('close', () => r()));
      await Promise.race([new Promise<void>((r) => socket.once('connect', () => r())), closed]);
      let at = 0;
      for (const cut of [...stream.cuts.filter((c) => c < stream.bytes.length), stream.bytes.length]) {
        if (socket.destroyed) break;
        socket.write(stream.bytes.subarray(at, cut));
        at = cut;
      }
      if (!socket.destroyed) socket.end();
      await Promise.race([closed, sleep(2000)]);
      socket.destroy();
    };
    return {
      async feed(stream) {
        // up to 48 connections at once (the server takes 64)
        const p: Promise<void> = oneStream(stream).finally(() => open.delete(p));
        open.add(p);
        if (open.size >= 48) await Promise.race(open);
        check(logs.take(), 'DNS over TCP');
      },
      async probe() {
        await Promise.all(open);
        check(logs.take(), 'DNS over TCP');
        const socket = net.connect(port, LOCAL);
        socket.on('error', () => undefined);
        await once(socket, 'connect');
        const reader = new FrameReader();
        let answer: Buffer | undefined;
        socket.on('data', (chunk: Buffer) => reader.push(chunk, (f) => (answer = Buffer.from(f))));
        const q = Buffer.from(dnsPacket.encode({ type: 'query', id: 7, questions: [{ name: 'fuzz-own.p2p', type: 'A' }] }));
        const len = Buffer.alloc(2);
        len.writeUInt16BE(q.length);
        socket.write(Buffer.concat([len, q]));
        try {
          const a = await waitFor(() => answer, 3000, 'DNS over TCP');
          if ((dnsPacket.decode(a) as { rcode?: string }).rcode !== 'NOERROR') throw new FuzzCrash('DNS over TCP: the probe is not NOERROR');
        } finally {
          socket.destroy();
        }
      },
      async stop() {
        await Promise.all(open);
        await server.stop();
        await fd.stop();
      },
    };
  },
};

// ---------------------------------------------------------------- KRPC

export const krpcGuard: Surface<Buffer> = {
  name: 'krpc-guard',
  what: 'KRPC datagrams through the guard (checkKrpc, IPv4 and IPv6 rules)',
  arbitrary: inputs.krpcDatagram,
  live: false,
  async start() {
    return {
      feed(msg) {
        try {
          checkKrpc(msg, 4);
          checkKrpc(msg, 6);
          // what the guard lets through, k-rpc-socket decodes: it must decode
          if (isBencode(msg)) bencode.decode(msg);
        } catch (err) {
          throw new FuzzCrash(`the guard threw: ${(err as Error).stack}`);
        }
      },
      probe: async () => {
        if (checkKrpc(Buffer.from(bencode.encode({ t: 'aa', y: 'q', q: 'ping', a: { id: Buffer.alloc(20) } }))) !== null) throw new FuzzCrash('a ping is refused');
      },
      stop: async () => undefined,
    };
  },
};

export type KrpcInput = { kind: 'datagram'; bytes: Buffer } | { kind: 'reply'; reply: inputs.KrpcReplyInput; op: 'lookup' | 'get' | 'ping' | 'announce' | 'populate' };

/**
 * A live DhtNode (bittorrent-dht behind the guard) on 127.0.0.1. Datagram inputs arrive as queries (or
 * unsolicited replies) from a fuzz peer; reply inputs make the library ask the fuzz peer something
 * (lookup, get, ping, announce, find_node) and the peer answers with the fuzzed reply carrying the
 * library's transaction id, so the library's reply handling sees them too.
 */
export const krpcNode: Surface<KrpcInput> = {
  name: 'krpc-node',
  what: 'KRPC to a live DhtNode: every query type as a query, every reply type as the answer to a query of the node (lookup, get, ping, announce_peer, find_node)',
  arbitrary: fc.oneof(
    { weight: 1, arbitrary: inputs.krpcDatagram.map((bytes): KrpcInput => ({ kind: 'datagram', bytes })) },
    { weight: 1, arbitrary: fc.record({ reply: inputs.krpcReply, op: fc.constantFrom('lookup' as const, 'get' as const, 'ping' as const, 'announce' as const, 'populate' as const) }).map(({ reply, op }): KrpcInput => ({ kind: 'reply', reply, op })) },
  ),
  live: true,
  async start() {
    const logs = crashLogger(/DHT library failed/);
    const node = new DhtNode(logs.log, { port: 0, address: LOCAL, storage: { maxAgeMs: 60_000, maxTotal: 1000, maxPerId: 20 }, maxSearches: 16 });
    await node.start();
    loopbackOnly(node);
    const port = node.boundPort();
    const peer = await udpClient();
    const peerPort = (peer.socket.address() as net.AddressInfo).port;
    const replies: inputs.KrpcReplyInput[] = [];
    let answered = 0;
    let sent = 0;
    // The fuzz peer answers every query of the node with the next fuzzed reply, with the node's t.
    peer.socket.on('message', (m) => {
      const reply = replies.shift();
      if (!reply) return;
      try {
        const query = bencode.decode(m) as { t?: Uint8Array };
        if (!(query.t instanceof Uint8Array)) return;
        peer.socket.send(inputs.encodeReply(reply, query.t), port, LOCAL);
        // ends the transaction at once when the fuzzed reply was dropped (else it would wait 2 s)
        peer.socket.send(bencode.encode({ t: query.t, y: 'e', e: [201, 'fuzz'] }), port, LOCAL);
        answered++;
      } catch {
        // not a query of ours
      }
    });
    const started = node as unknown as { lib: { dht: { lookup(id: Buffer, cb: () => void): () => void; get(target: Buffer, cb: () => void): void; announce(id: Buffer, port: number, cb: () => void): void; addNode(n: { host: string; port: number }): void } }; upkeep: { populate(): void } };
    const internals = { dht: started.lib.dht, populate: () => started.upkeep.populate() };
    let ops = 0;
    const dhtRemove = (id: string) => (internals.dht as unknown as { removeNode(id: Buffer): void }).removeNode(Buffer.from(id, 'hex'));
    return {
      async feed(input) {
        if (input.kind === 'datagram') {
          peer.send(input.bytes, port);
        } else {
          replies.push(input.reply);
          if (replies.length > 64) replies.shift();
          // at most 64 library operations waiting for a reply at once (they end on reply or after 2 s)
          if (ops < 64) {
            ops++;
            const done = () => ops--;
            const target = Buffer.from(input.reply.mutations.length ? Buffer.alloc(20, sent & 255) : Buffer.alloc(20, 1));
            const dht = internals.dht;
            // nodes named by earlier replies are blocked (not loopback): out of the table, so walks ask the fuzz peer
            if (sent % 32 === 0) for (const n of node.routingNodes()) if (n.port !== peerPort && n.id) dhtRemove(n.id);
            dht.addNode({ host: LOCAL, port: peerPort });
            switch (input.op) {
              case 'lookup': dht.lookup(target, done); break;
              case 'get': dht.get(target, done); break;
              case 'announce': dht.announce(target, 6881, done); break;
              case 'ping': internals.dht.addNode({ host: LOCAL, port: peerPort }); done(); break;
              case 'populate': internals.populate(); done(); break;
            }
          }
        }
        if (++sent % 16 === 0) await tick();
        if (sent % 256 === 0) await sleep(1);
        check(logs.take(), 'KRPC');
        if (node.socket.counters.libraryErrors > 0) throw new FuzzCrash(`${node.socket.counters.libraryErrors} library errors`);
      },
      async probe() {
        const client = await udpClient();
        try {
          const ping = Buffer.from(bencode.encode({ t: 'zz', y: 'q', q: 'ping', a: { id: Buffer.alloc(20, 9) } }));
          for (let attempt = 0; ; attempt++) {
            client.send(ping, port);
            try {
              await waitFor(() => client.replies.find((r) => r.includes('1:y1:r')), 300, 'KRPC ping');
              return;
            } catch (err) {
              if (attempt >= 10) throw err;
            }
          }
        } finally {
          client.close();
          check(logs.take(), 'KRPC');
          if (node.socket.counters.libraryErrors > 0) throw new FuzzCrash(`${node.socket.counters.libraryErrors} library errors`);
        }
      },
      async stop() {
        peer.close();
        await node.stop();
      },
      figures: () => ({ repliesAnswered: answered, guardRejected: node.socket.counters.rejected, passedGuard: node.socket.counters.krpc, storedPeers: node.store.size }),
    };
  },
};

// ---------------------------------------------------------------- AUTH

export const auth: Surface<inputs.AuthInput> = {
  name: 'auth',
  what: 'AUTH packets (challenges and replies of every length, for our id, a challenged id, random ids, from the challenged address or not) into AuthModule.handle',
  arbitrary: inputs.authPacket,
  live: false,
  async start() {
    const ours = generateKeyPair();
    const theirs = generateKeyPair();
    const ourId = Buffer.alloc(20, 0xa1);
    const pendingId = Buffer.alloc(20, 0xb2);
    const sent: Buffer[] = [];
    const module = new AuthModule(
      { send: (p) => { if (sent.length < 16) sent.push(p); }, secretKeyFor: (id) => (id.equals(ourId) ? ours.secretKey : undefined), isOwnAddress: () => true, log: silentLogger },
      // every packet handled (the rate limit would drop most of the fuzz), slow resends
      { ...DEFAULT_AUTH_OPTIONS, maxPerSecond: Number.MAX_SAFE_INTEGER, maxTotalPerSecond: Number.MAX_SAFE_INTEGER, firstRetryMs: 60_000, maxRetryMs: 60_000 },
    );
    let verified = 0;
    const challenge = () => {
      for (let i = 0; i < 4; i++) void module.verify(pendingId, theirs.publicKey, { address: `10.99.0.${i}`, port: 6881, family: 4 }).then((ok) => (verified += ok ? 1 : 0));
    };
    challenge();
    return {
      feed(input) {
        const id = input.id === 'ours' ? ourId : input.id === 'pending' ? pendingId : Buffer.from(input.bytes.subarray(0, 20));
        const packet = Buffer.concat([Buffer.from('AUTH'), id, Buffer.from(input.bytes)]).subarray(0, input.length);
        try {
          module.handle(packet, { address: input.fromPeer ? '10.99.0.1' : '10.99.0.200', port: 6881, family: 'IPv4', size: packet.length });
        } catch (err) {
          throw new FuzzCrash(`AUTH handler threw: ${(err as Error).stack}`);
        }
        // no random reply may ever prove a key it was not signed with
        if (verified > 0 || module.counters.verified > 0) throw new FuzzCrash('an address was verified by a forged reply');
        if (module.pendingCount() > DEFAULT_AUTH_OPTIONS.maxPending) throw new FuzzCrash('pending challenges over the bound');
      },
      async probe() {
        // our id gets a signed reply for a challenge
        const before = module.counters.answered;
        module.handle(encodeChallenge(ourId, Buffer.alloc(16, 3)), { address: '10.99.0.9', port: 1, family: 'IPv4', size: 40 });
        if (module.counters.answered !== before + 1) throw new FuzzCrash('AUTH: a valid challenge was not answered');
      },
      async stop() {
        module.stop();
      },
      figures: () => ({ ...module.counters }),
    };
  },
};

// ---------------------------------------------------------------- LPD

export const lpd: Surface<Buffer> = {
  name: 'lpd',
  what: 'LPD datagrams: parseLpdPacket and LpdService.onMessage (budgets lifted so every packet is parsed)',
  arbitrary: inputs.lpdPacket,
  live: false,
  async start() {
    let pings = 0;
    const service = new LpdService({
      dht: { nodeCount: () => 0, ping: () => void pings++, boundPort: () => 6881 },
      log: silentLogger,
      options: { group: '239.192.152.143', family: 4, maxPacketsPerWindow: Number.MAX_SAFE_INTEGER, maxPingsPerWindow: Number.MAX_SAFE_INTEGER, senderHoldMs: 0 },
    });
    const onMessage = (service as unknown as { onMessage(m: Buffer, r: dgram.RemoteInfo): void }).onMessage.bind(service);
    let n = 0;
    return {
      feed(msg) {
        try {
          parseLpdPacket(msg);
        } catch (err) {
          if (!(err instanceof LpdPacketError)) throw new FuzzCrash(`parseLpdPacket threw ${(err as Error).stack}`);
        }
        try {
          onMessage(msg, { address: `10.98.${(n >> 8) & 255}.${n++ & 255}`, port: 6771, family: 'IPv4', size: msg.length });
        } catch (err) {
          throw new FuzzCrash(`LPD onMessage threw: ${(err as Error).stack}`);
        }
      },
      async probe() {
        const before = pings;
        onMessage(Buffer.from('BT-SEARCH * HTTP/1.0\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: ' + '0'.repeat(40) + '\r\n\r\n\r\n'), { address: '10.97.0.1', port: 6771, family: 'IPv4', size: 100 });
        if (pings !== before + 1) throw new FuzzCrash('LPD: a valid packet was not pinged');
      },
      stop: () => service.stop(),
      figures: () => ({ ...service.counters }),
    };
  },
};

// ---------------------------------------------------------------- control commands

/** Commands that may fail for a reason that is not a bug. */
const EXPECTED_FAILURE = /the blacklist is full|too many values|cannot resolve|no IPv\d DHT/;

/**
 * `import` would resolve a host name and ping the address: every import goes to 127.0.0.1:9 (discard,
 * where nothing answers), so the fuzz neither sends anywhere else nor joins a DHT running on this host.
 */
function tameImport(line: string): string {
  const words = line.trim().split(/\s+/);
  if (words[0] !== 'import') return line;
  return words.length === 2 ? 'import 127.0.0.1:9' : line.includes('\n') ? 'import' : `import 127.0.0.1:9 ${words.slice(2).join(' ')}`;
}

export const control: Surface<string> = {
  name: 'control',
  what: 'control commands: the real command table of an in-process daemon, one in 8 through the live control port (TCP), the rest in process',
  arbitrary: inputs.commandLine,
  live: true,
  async start() {
    const fd = await startFuzzDaemon();
    const commands = fd.daemon.commands;
    const surface = new ControlSurface(commands, silentLogger, { port: 0, addresses: [LOCAL] });
    await surface.start();
    const port = surface.ports()[0]!;
    const overSocket = (line: string) =>
      new Promise<string>((resolve) => {
        const socket = net.connect(port, LOCAL);
        let text = '';
        socket.on('connect', () => socket.write(line + '\n'));
        socket.on('data', (c) => (text += c.toString('latin1')));
        socket.on('error', () => undefined);
        socket.on('close', () => resolve(text));
        socket.setTimeout(15_000, () => socket.destroy());
      });
    let n = 0;
    let socketInputs = 0;
    const one = async (line: string, viaSocket: boolean): Promise<void> => {
      if (viaSocket) {
        socketInputs++;
        const text = await overSocket(line);
        // a line too long for the control port gets its own answer; anything else '0' or '1' first
        if (!/^[01]/.test(text)) throw new FuzzCrash(`control port: no status byte in ${JSON.stringify(text.slice(0, 80))} for ${JSON.stringify(line.slice(0, 80))}`);
        if (text.startsWith('1') && /TypeError|RangeError|ReferenceError|undefined|Cannot read/.test(text)) throw new FuzzCrash(`control port: ${text.slice(0, 200)}`);
        return;
      }
      let result;
      try {
        result = await commands.run(line);
      } catch (err) {
        throw new FuzzCrash(`command table threw: ${(err as Error).stack}`);
      }
      if (result.kind === 'failed' && !EXPECTED_FAILURE.test(result.text)) throw new FuzzCrash(`command failed unexpectedly: ${result.text.slice(0, 200)} for ${JSON.stringify(line.slice(0, 80))}`);
    };
    // A lookup may wait for the DHT (seconds): up to 32 commands at once, at most 8 of them on the control port (it takes 16).
    const inProcess = new Set<Promise<void>>();
    const onSocket = new Set<Promise<void>>();
    let failure: FuzzCrash | undefined;
    const start = (set: Set<Promise<void>>, line: string, viaSocket: boolean) => {
      const p: Promise<void> = one(line, viaSocket)
        .catch((err: unknown) => void (failure ??= err instanceof FuzzCrash ? err : new FuzzCrash(String(err))))
        .finally(() => set.delete(p));
      set.add(p);
    };
    const raise = () => {
      const f = failure;
      failure = undefined;
      if (f) throw f;
    };
    return {
      async feed(raw) {
        const line = tameImport(raw);
        const viaSocket = n++ % 8 === 0;
        const set = viaSocket ? onSocket : inProcess;
        if (set.size >= (viaSocket ? 8 : 32)) await Promise.race(set);
        start(set, line, viaSocket);
        raise();
      },
      async probe() {
        await Promise.all([...inProcess, ...onSocket]);
        raise();
        const text = await overSocket('status');
        if (!text.startsWith('0Version:')) throw new FuzzCrash(`control port: status answered ${JSON.stringify(text.slice(0, 80))}`);
      },
      async stop() {
        await Promise.all([...inProcess, ...onSocket]);
        await surface.stop();
        await fd.stop();
      },
      figures: () => ({ overTheSocket: socketInputs, values: fd.daemon.announcer.values().length, blacklisted: fd.daemon.dht.blockedAddresses().length }),
    };
  },
};

// ---------------------------------------------------------------- HTTP

export const web: Surface<Buffer> = {
  name: 'web',
  what: 'HTTP requests (methods, targets, percent-encoding, headers, bodies, junk) to the live web interface of an in-process daemon',
  arbitrary: inputs.httpRequest,
  live: true,
  async start() {
    const fd = await startFuzzDaemon();
    const logs = crashLogger(/WEB: request .* failed/);
    const surface = new WebSurface(fd.daemon.commands, logs.log.child('WEB'), { port: 0, addresses: [LOCAL] });
    await surface.start();
    const port = surface.ports()[0]!;
    const open = new Set<Promise<void>>();
    const request = async (bytes: Buffer): Promise<string> => {
      const socket = net.connect({ port, host: LOCAL, allowHalfOpen: true });
      let text = '';
      socket.on('data', (c) => (text += c.toString('latin1')));
      socket.on('error', () => undefined);
      const closed = new Promise<void>((r) => socket.once('close', () => r()));
      const ended = new Promise<void>((r) => socket.once('end', () => r()));
      await Promise.race([new Promise<void>((r) => socket.once('connect', () => r())), closed]);
      if (!socket.destroyed) socket.end(bytes);
      await Promise.race([closed, ended, sleep(12_000)]);
      socket.destroy();
      return text;
    };
    let answered = 0;
    return {
      async feed(bytes) {
        const p: Promise<void> = request(bytes)
          .then((text) => {
            if (text.startsWith('HTTP/1.1 ')) answered++;
            if (text.startsWith('HTTP/1.1 500')) throw new FuzzCrash(`web: 500 for ${JSON.stringify(bytes.toString('latin1').slice(0, 100))}`);
          })
          .finally(() => open.delete(p));
        open.add(p);
        if (open.size >= 16) await Promise.race(open);
        check(logs.take(), 'web');
      },
      async probe() {
        await Promise.all(open);
        check(logs.take(), 'web');
        const text = await request(Buffer.from('GET /status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'));
        if (!/^HTTP\/1\.1 200 OK[^]*Version:/.test(text)) throw new FuzzCrash(`web: /status answered ${JSON.stringify(text.slice(0, 100))}`);
      },
      async stop() {
        await Promise.all(open);
        await surface.stop();
        await fd.stop();
      },
      figures: () => ({ answered }),
    };
  },
};

// ---------------------------------------------------------------- config and peer files

export const configFile: Surface<string> = {
  name: 'config',
  what: 'config file text (a few lines each) through parseConfigText with every option and its validator',
  arbitrary: inputs.configText,
  live: false,
  async start() {
    let accepted = 0;
    return {
      feed(text) {
        try {
          parseConfigText(text, 'fuzz.conf');
          accepted++;
        } catch (err) {
          if (!(err instanceof ConfigError)) throw new FuzzCrash(`parseConfigText threw ${(err as Error).stack}`);
          if (!/^fuzz\.conf:\d+: /.test(err.message)) throw new FuzzCrash(`an error without file and line: ${err.message}`);
        }
      },
      probe: async () => {
        if (parseConfigText('--port 6881\n', 'x').options.port !== '6881') throw new FuzzCrash('a valid line is refused');
      },
      stop: async () => undefined,
      figures: () => ({ accepted }),
    };
  },
};

export const peerFile: Surface<string> = {
  name: 'peerfile',
  what: 'peer file text through parsePeerLines, and each line through parseHostPort',
  arbitrary: inputs.peerFileText,
  live: false,
  async start() {
    let peers = 0;
    return {
      feed(text) {
        try {
          peers += parsePeerLines(text, 'fuzz', silentLogger).length;
        } catch (err) {
          throw new FuzzCrash(`parsePeerLines threw ${(err as Error).stack}`);
        }
        for (const line of text.split('\n')) {
          try {
            parseHostPort(line);
          } catch (err) {
            if (!(err instanceof AddressError)) throw new FuzzCrash(`parseHostPort threw ${(err as Error).stack}`);
          }
        }
      },
      probe: async () => {
        if (parsePeerLines('127.0.0.1:6881\n', 'x', silentLogger).length !== 1) throw new FuzzCrash('a valid line is refused');
      },
      stop: async () => undefined,
      figures: () => ({ peers }),
    };
  },
};

// ---------------------------------------------------------------- NSS

export const nss: Surface<Buffer> = {
  name: 'nss',
  what: 'NSS requests (libnss_kadnode protocol): parseNssRequest, and datagrams to a live NssSurface in front of the real resolver (rate limit lifted)',
  arbitrary: inputs.nssRequest,
  live: true,
  async start() {
    const fd = await startFuzzDaemon();
    const logs = crashLogger(/Cannot answer/);
    const surface = new NssSurface({ chain: fd.daemon.resolver, log: logs.log, options: { port: 0, addresses: [LOCAL], families: [4], waitMs: 300, ratePerSecond: Number.MAX_SAFE_INTEGER } });
    await surface.start();
    const port = surface.ports()[0]!;
    const client = await udpClient();
    let sent = 0;
    return {
      async feed(msg) {
        try {
          parseNssRequest(msg);
        } catch (err) {
          throw new FuzzCrash(`parseNssRequest threw: ${(err as Error).stack}`);
        }
        client.send(msg, port);
        if (++sent % 16 === 0) await tick();
        if (sent % 256 === 0) await sleep(1);
        check(logs.take(), 'NSS');
      },
      async probe() {
        const probe = await udpClient();
        try {
          const name = Buffer.from('fuzz-own.p2p');
          const request = Buffer.concat([Buffer.from([0x42, 0x42, 4]), name]);
          for (let attempt = 0; ; attempt++) {
            probe.send(request, port);
            try {
              const reply = await waitFor(() => probe.replies.find((r) => r.readUInt16BE(0) === 0x4242), 500, 'NSS');
              if (reply[2] !== NSS_STATUS.found) throw new FuzzCrash(`NSS probe: status ${reply[2]}`);
              return;
            } catch (err) {
              if (!(err instanceof FuzzCrash) || !err.message.startsWith('no answer') || attempt >= 4) throw err;
            }
          }
        } finally {
          probe.close();
          check(logs.take(), 'NSS');
        }
      },
      async stop() {
        client.close();
        await surface.stop();
        await fd.stop();
      },
    };
  },
};

// ---------------------------------------------------------------- BEP 44 items (PKARR)

export const pkarr: Surface<inputs.PkarrInput> = {
  name: 'pkarr',
  what: 'BEP 44 items and PKARR packets: checkItem on signed (and broken) items with any DNS packet, fromRelayPayload, formatRecord, pkarrName',
  arbitrary: inputs.pkarrItem,
  live: false,
  async start() {
    const keys = generateKeyPair();
    let verified = 0;
    const expectPacketError = (what: string, fn: () => void) => {
      try {
        fn();
      } catch (err) {
        if (!(err instanceof PacketError)) throw new FuzzCrash(`${what} threw ${(err as Error).stack}`);
      }
    };
    return {
      feed(input) {
        const v = input.v.subarray(0, input.signed ? 1000 : input.v.length);
        expectPacketError('checkItem', () => {
          const item = input.signed ? signPacket(keys.secretKey, v, input.seq) : { publicKey: keys.publicKey, signature: input.payload.subarray(0, 64), seq: input.seq, v };
          const sig = Buffer.from(item.signature);
          if (input.breakSig && sig.length > 0) sig[input.seq % sig.length] ^= 1;
          const packet = checkItem({ k: item.publicKey, sig, seq: item.seq, v: item.v });
          if (input.breakSig || !input.signed) throw new FuzzCrash('an item with a wrong signature was accepted');
          verified++;
          for (const a of packet.answers) formatRecord(a);
        });
        expectPacketError('fromRelayPayload', () => void fromRelayPayload(keys.publicKey, input.payload));
        try {
          pkarrName(input.name, '.p2p');
        } catch (err) {
          throw new FuzzCrash(`pkarrName threw ${(err as Error).stack}`);
        }
      },
      probe: async () => {
        const item = signPacket(keys.secretKey, Buffer.from(dnsPacket.encode({ type: 'response', answers: [{ type: 'A', name: 'x', data: '192.0.2.1' }] })), 1);
        checkItem({ k: item.publicKey, sig: item.signature, seq: item.seq, v: item.v });
      },
      stop: async () => undefined,
      figures: () => ({ verified }),
    };
  },
};

export const SURFACES: Surface<never>[] = [dnsParser, dnsUdp, dnsTcp, krpcGuard, krpcNode, auth, lpd, control, web, configFile, peerFile, nss, pkarr] as unknown as Surface<never>[];

// ---------------------------------------------------------------- memory

let gcFn: (() => void) | undefined;
/** A full garbage collection (without --expose-gc on the command line). */
export async function collect(): Promise<void> {
  if (!gcFn) {
    const v8 = await import('node:v8');
    const vm = await import('node:vm');
    v8.setFlagsFromString('--expose-gc');
    gcFn = vm.runInNewContext('gc') as () => void;
  }
  await tick();
  gcFn();
  gcFn();
}

export interface Memory {
  rss: number;
  heapUsed: number;
}

export async function memory(): Promise<Memory> {
  await collect();
  const m = process.memoryUsage();
  return { rss: m.rss, heapUsed: m.heapUsed };
}
