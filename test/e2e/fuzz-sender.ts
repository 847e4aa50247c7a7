// Sends random and mutated packets to UDP targets, for the netns e2e test (run inside a namespace):
//
//   node dist/test/e2e/fuzz-sender.js --kind dns|dht --target HOST:PORT [--target ...]
//        [--count N (per target, default 5000)] [--seed N] [--batch N (default 25)] [--pause-ms MS (default 5)]
//        [--linger MS (default 500)] [--max-ms MS (default 120000)]
//
// dns: mutations of a valid query (flipped bytes, truncation, extension, counts set to 0xffff, pointer
//      loops, oversized labels, ...) plus random bytes.
// dht: the known-bad KRPC messages (integer target / info_hash / token, put with sig but no k, 3-byte
//      info_hash, ...) several times each, then random bytes and random valid-bencode junk, some of it
//      AUTH-prefixed.
// Sends in batches with a pause between them (a bounded rate), counts replies, prints one JSON summary
// line on stdout and exits 0; exits 2 when the whole run exceeds its own time bound.
import { createSocket } from 'node:dgram';
import { isIP } from 'node:net';
import dnsPacket from 'dns-packet';

interface Args {
  kind: 'dns' | 'dht';
  targets: Array<{ host: string; port: number }>;
  count: number;
  seed: number;
  batch: number;
  lingerMs: number;
  pauseMs: number;
  maxMs: number;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { kind: 'dns', targets: [], count: 5000, seed: Date.now() % 2 ** 31, batch: 25, lingerMs: 500, pauseMs: 5, maxMs: 120_000 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[i + 1];
    if (v === undefined) throw new Error(`missing value for ${k}`);
    i++;
    switch (k) {
      case '--kind':
        if (v !== 'dns' && v !== 'dht') throw new Error(`--kind must be dns or dht`);
        a.kind = v;
        break;
      case '--target': {
        const m = /^(.*):(\d+)$/.exec(v);
        if (!m || isIP(m[1]!) !== 4) throw new Error(`bad --target ${v} (want IPv4:port)`);
        a.targets.push({ host: m[1]!, port: Number(m[2]) });
        break;
      }
      case '--count':
        a.count = Number(v);
        break;
      case '--seed':
        a.seed = Number(v);
        break;
      case '--batch':
        a.batch = Math.max(1, Number(v));
        break;
      case '--linger':
        a.lingerMs = Number(v);
        break;
      case '--pause-ms':
        a.pauseMs = Number(v);
        break;
      case '--max-ms':
        a.maxMs = Number(v);
        break;
      default:
        throw new Error(`unknown option ${k}`);
    }
  }
  if (a.targets.length === 0) throw new Error('need at least one --target');
  // Only loopback or the test subnet: this tool never sends anywhere else.
  for (const t of a.targets) {
    if (!t.host.startsWith('127.') && !t.host.startsWith('10.201.')) throw new Error(`refusing target ${t.host}: only 127.0.0.0/8 and 10.201.0.0/16`);
  }
  return a;
}

// ---------------------------------------------------------------- deterministic randomness

let state = 1;
function rand(): number {
  // mulberry32
  state = (state + 0x6d2b79f5) | 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (n: number): number => Math.floor(rand() * n);
const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)]!;
function bytes(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = int(256);
  return b;
}

// ---------------------------------------------------------------- DNS

const NAMES = ['node1.p2p', 'foo.p2p', 'example.com', 'x.p2p', 'nosuchname.p2p', 'a'.repeat(63) + '.p2p', '.', 'p2p'];
const TYPES: dnsPacket.RecordType[] = ['A', 'AAAA', 'SRV', 'TXT', 'ANY' as dnsPacket.RecordType, 'MX', 'PTR', 'NS', 'AXFR'];

function validQuery(): Buffer {
  const withEdns = rand() < 0.3;
  return Buffer.from(
    dnsPacket.encode({
      type: 'query',
      id: int(65536),
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ type: pick(TYPES), name: pick(NAMES) }],
      additionals: withEdns ? [{ type: 'OPT', name: '.', udpPayloadSize: pick([0, 512, 4096, 65535]) } as dnsPacket.Answer] : [],
    }),
  );
}

function dnsMutant(): Buffer {
  const q = validQuery();
  switch (int(14)) {
    case 0: // random bytes
      return bytes(int(600));
    case 1: {
      // flip 1..8 bytes
      const n = 1 + int(8);
      for (let i = 0; i < n; i++) q[int(q.length)] = int(256);
      return q;
    }
    case 2: // truncate
      return q.subarray(0, int(q.length));
    case 3: // extend
      return Buffer.concat([q, bytes(1 + int(500))]);
    case 4: {
      // all or some counts 0xffff
      for (const off of [4, 6, 8, 10]) if (rand() < 0.6) q.writeUInt16BE(0xffff, off);
      return q;
    }
    case 5: {
      // qdcount 0, or ancount with no answers
      q.writeUInt16BE(0, 4);
      if (rand() < 0.5) q.writeUInt16BE(1 + int(5), 6);
      return q;
    }
    case 6: // header only
      return Buffer.concat([bytes(4), Buffer.from([0, 1, 0, 0, 0, 0, 0, 0])]);
    case 7: {
      // compression pointer to itself / forward / out of range as the qname
      const hdr = Buffer.from([int(256), int(256), 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
      const ptr = pick([0xc00c, 0xc00e, 0xc000, 0xffff, 0xc0ff]);
      return Buffer.concat([hdr, Buffer.from([ptr >> 8, ptr & 0xff, 0, 1, 0, 1])]);
    }
    case 8: {
      // label longer than the packet, or over 63
      const hdr = Buffer.from([int(256), int(256), 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
      const len = pick([64, 100, 200, 255]);
      return Buffer.concat([hdr, Buffer.from([len]), Buffer.from('abc'), Buffer.from([0, 0, 1, 0, 1])]);
    }
    case 9: {
      // name over 255 bytes made of valid labels, under .p2p
      const labels: Buffer[] = [];
      for (let i = 0; i < 6; i++) labels.push(Buffer.concat([Buffer.from([50]), Buffer.alloc(50, 0x61 + i)]));
      labels.push(Buffer.from([3, 0x70, 0x32, 0x70, 0]));
      const hdr = Buffer.from([int(256), int(256), 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
      return Buffer.concat([hdr, ...labels, Buffer.from([0, 1, 0, 1])]);
    }
    case 10: {
      // response bit, odd opcodes, rcode, Z bits
      q[2] = int(256);
      q[3] = int(256);
      return q;
    }
    case 11: {
      // many questions (valid encoding, qdcount > 1)
      const n = 2 + int(30);
      return Buffer.from(
        dnsPacket.encode({
          type: 'query',
          id: int(65536),
          questions: Array.from({ length: n }, () => ({ type: pick(TYPES), name: pick(NAMES) })),
        }),
      );
    }
    case 12: {
      // a random label in .p2p (a fresh lookup each: load on the resolver)
      return Buffer.from(
        dnsPacket.encode({ type: 'query', id: int(65536), questions: [{ type: pick(TYPES), name: `${bytes(4).toString('hex')}.p2p` }] }),
      );
    }
    default: // the valid query itself, with a random class
      q.writeUInt16BE(int(65536), q.length - 2);
      return q;
  }
}

// ---------------------------------------------------------------- DHT

type Bencode = { encode(v: unknown): Uint8Array };

const id20 = (): Buffer => bytes(20);
const tid = (): Buffer => bytes(2);

/** The specific messages that have crashed DHT implementations. */
function knownBad(): Array<{ name: string; msg: unknown }> {
  return [
    { name: 'find_node target=int', msg: { t: tid(), y: 'q', q: 'find_node', a: { id: id20(), target: 12345 } } },
    { name: 'get_peers info_hash=int', msg: { t: tid(), y: 'q', q: 'get_peers', a: { id: id20(), info_hash: 42 } } },
    {
      name: 'announce_peer token=int',
      msg: { t: tid(), y: 'q', q: 'announce_peer', a: { id: id20(), info_hash: id20(), port: 6881, token: 7 } },
    },
    {
      name: 'put sig without k',
      msg: { t: tid(), y: 'q', q: 'put', a: { id: id20(), v: 'hello', sig: bytes(64), token: bytes(8), seq: 1 } },
    },
    { name: 'get_peers info_hash=3 bytes', msg: { t: tid(), y: 'q', q: 'get_peers', a: { id: id20(), info_hash: bytes(3) } } },
    // a few more of the same family
    { name: 'find_node target=list', msg: { t: tid(), y: 'q', q: 'find_node', a: { id: id20(), target: [1, 2] } } },
    { name: 'find_node no a', msg: { t: tid(), y: 'q', q: 'find_node' } },
    { name: 'ping id=int', msg: { t: tid(), y: 'q', q: 'ping', a: { id: 5 } } },
    { name: 'ping id=19 bytes', msg: { t: tid(), y: 'q', q: 'ping', a: { id: bytes(19) } } },
    { name: 'q=int', msg: { t: tid(), y: 'q', q: 7, a: { id: id20() } } },
    { name: 'y=int', msg: { t: tid(), y: 1, q: 'ping', a: { id: id20() } } },
    { name: 't=int', msg: { t: 99, y: 'q', q: 'ping', a: { id: id20() } } },
    {
      name: 'announce_peer port=string',
      msg: { t: tid(), y: 'q', q: 'announce_peer', a: { id: id20(), info_hash: id20(), port: 'x', token: bytes(4) } },
    },
    {
      name: 'announce_peer port=-1 implied_port=list',
      msg: { t: tid(), y: 'q', q: 'announce_peer', a: { id: id20(), info_hash: id20(), port: -1, implied_port: [1], token: bytes(4) } },
    },
    { name: 'get target=int', msg: { t: tid(), y: 'q', q: 'get', a: { id: id20(), target: 1 } } },
    {
      name: 'put k=31 bytes',
      msg: { t: tid(), y: 'q', q: 'put', a: { id: id20(), v: 'x', k: bytes(31), sig: bytes(64), token: bytes(8), seq: 1 } },
    },
    {
      name: 'put seq=string salt=long',
      msg: { t: tid(), y: 'q', q: 'put', a: { id: id20(), v: 'x', k: bytes(32), sig: bytes(64), token: bytes(8), seq: 'a', salt: bytes(100) } },
    },
    { name: 'put v too big no sig', msg: { t: tid(), y: 'q', q: 'put', a: { id: id20(), v: bytes(1200), token: bytes(8) } } },
    { name: 'put v=dict', msg: { t: tid(), y: 'q', q: 'put', a: { id: id20(), v: { a: 1 }, token: 3 } } },
    { name: 'response nodes=27 bytes', msg: { t: tid(), y: 'r', r: { id: id20(), nodes: bytes(27), values: [1, 2] } } },
    { name: 'error e=string', msg: { t: tid(), y: 'e', e: 'oops' } },
  ];
}

const DHT_KEYS = ['id', 'target', 'info_hash', 'token', 'port', 'implied_port', 'v', 'k', 'sig', 'seq', 'salt', 'cas', 'nodes', 'values', 'want'];
const QUERIES = ['ping', 'find_node', 'get_peers', 'announce_peer', 'get', 'put', 'vote', 'sample_infohashes', ''];

function randomValue(depth: number): unknown {
  const r = int(depth > 2 ? 3 : 6);
  switch (r) {
    case 0:
      return pick([0, 1, -1, 6881, 65535, 65536, 2 ** 31, -(2 ** 31), Number.MAX_SAFE_INTEGER, int(1000)]);
    case 1:
      return bytes(pick([0, 1, 3, 19, 20, 21, 26, 32, 52, 64, int(80)]));
    case 2:
      return pick(QUERIES);
    case 3:
      return Array.from({ length: int(5) }, () => randomValue(depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      const n = int(6);
      for (let i = 0; i < n; i++) o[rand() < 0.8 ? pick(DHT_KEYS) : bytes(1 + int(6)).toString('latin1')] = randomValue(depth + 1);
      return o;
    }
  }
}

function randomMessage(): unknown {
  if (rand() < 0.2) return randomValue(0);
  const y = pick(['q', 'q', 'q', 'r', 'e', 'z']);
  const m: Record<string, unknown> = { t: rand() < 0.9 ? tid() : randomValue(2), y };
  if (y === 'q') {
    m.q = rand() < 0.9 ? pick(QUERIES) : randomValue(2);
    const a: Record<string, unknown> = { id: rand() < 0.85 ? id20() : randomValue(2) };
    const n = int(5);
    for (let i = 0; i < n; i++) a[pick(DHT_KEYS)] = randomValue(1);
    m.a = rand() < 0.95 ? a : randomValue(1);
  } else if (y === 'r') {
    m.r = { id: id20(), ...(randomValue(1) as object) };
  } else if (y === 'e') {
    m.e = rand() < 0.5 ? [201, 'x'] : randomValue(1);
  }
  return m;
}

/** A well-formed query of a random kind with at most one field replaced or removed: reaches past schema checks. */
function nearlyValidQuery(): unknown {
  const kinds: Array<() => Record<string, unknown>> = [
    () => ({ q: 'ping', a: { id: id20() } }),
    () => ({ q: 'find_node', a: { id: id20(), target: id20() } }),
    () => ({ q: 'get_peers', a: { id: id20(), info_hash: id20() } }),
    () => ({ q: 'announce_peer', a: { id: id20(), info_hash: id20(), port: 1 + int(65535), token: bytes(int(40)), implied_port: int(2) } }),
    () => ({ q: 'get', a: { id: id20(), target: id20(), seq: int(10) } }),
    () => ({ q: 'put', a: { id: id20(), v: bytes(int(1000)), token: bytes(int(40)) } }),
    () => ({ q: 'put', a: { id: id20(), v: 'x', k: bytes(32), sig: bytes(64), seq: int(100), token: bytes(8), cas: int(5), salt: bytes(int(64)) } }),
  ];
  const m: Record<string, unknown> = { t: tid(), y: 'q', ...pick(kinds)() };
  const a = m.a as Record<string, unknown>;
  const keys = Object.keys(a);
  const r = rand();
  if (r < 0.4) a[pick(keys)] = randomValue(1);
  else if (r < 0.6) delete a[pick(keys)];
  return m;
}

function rawBencodeJunk(): Buffer {
  return Buffer.from(
    pick([
      'i99999999999999999999999999e',
      'd1:ad2:id20:' + 'x'.repeat(20) + '6:target' + 'i-0ee1:q9:find_node1:t2:aa1:y1:qe',
      'd1:t2:aa1:y1:q1:q4:ping1:ad2:id20:' + 'y'.repeat(20) + 'e', // unterminated
      '4294967296:abc',
      'd' + 'l'.repeat(500) + 'e'.repeat(500) + 'e',
      'd1:t2:aa1:y1:qe',
      // a negative string length: the bencode package loops on it until out of memory
      'd1:Sli201e-3:Gen',
      'd1:ad2:id20:' + 'x'.repeat(20) + '6:target-20:' + 'y'.repeat(20) + 'e1:q9:find_node1:t2:aa1:y1:qe',
      'de',
      'le',
      '',
    ]),
  );
}

function dhtMutant(bencode: Bencode, known: Array<{ name: string; msg: unknown }>): Buffer {
  const r = rand();
  if (r < 0.05) return Buffer.from(bencode.encode(pick(known).msg));
  if (r < 0.2) return bytes(int(1500));
  if (r < 0.25) return rawBencodeJunk();
  if (r < 0.32) {
    // AUTH-prefixed (the AUTH packets share the DHT port): right and wrong lengths
    return Buffer.concat([Buffer.from('AUTH'), bytes(pick([0, 16, 36, 100, 200, int(300)]))]);
  }
  const enc = Buffer.from(bencode.encode(rand() < 0.5 ? nearlyValidQuery() : randomMessage()));
  if (rand() < 0.2) {
    // mutate the valid bencode
    const n = 1 + int(4);
    for (let i = 0; i < n; i++) enc[int(enc.length)] = int(256);
    return rand() < 0.5 ? enc.subarray(0, int(enc.length)) : enc;
  }
  return enc;
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  state = args.seed | 0;
  const deadline = setTimeout(() => {
    process.stderr.write(`fuzz-sender: exceeded ${args.maxMs} ms\n`);
    process.exit(2);
  }, args.maxMs);
  deadline.unref();

  // dynamic import with a computed specifier: bencode ships no typings
  const bencodeName = 'bencode';
  const bencode = ((await import(bencodeName)) as { default: Bencode }).default;

  const sock = createSocket('udp4');
  let replies = 0;
  let sendErrors = 0;
  sock.on('message', () => {
    replies++;
  });
  sock.on('error', () => {
    sendErrors++;
  });
  await new Promise<void>((res) => sock.bind(0, () => res()));

  const known = knownBad();
  const t0 = performance.now();
  let sent = 0;
  const send = (buf: Buffer, host: string, port: number): Promise<void> =>
    new Promise((res) => {
      sock.send(buf, port, host, (err) => {
        if (err) sendErrors++;
        else sent++;
        res();
      });
    });

  const pause = (): Promise<void> => new Promise((r) => setTimeout(r, args.pauseMs));

  // known-bad DHT messages first, each several times, to every target
  if (args.kind === 'dht') {
    for (let rep = 0; rep < 5; rep++) {
      for (const t of args.targets) {
        for (const k of knownBad()) await send(Buffer.from(bencode.encode(k.msg)), t.host, t.port);
      }
      await pause();
    }
  }
  for (let i = 0; i < args.count; i += args.batch) {
    const n = Math.min(args.batch, args.count - i);
    const jobs: Array<Promise<void>> = [];
    for (const t of args.targets) {
      for (let j = 0; j < n; j++) {
        const pkt = args.kind === 'dns' ? dnsMutant() : dhtMutant(bencode, known);
        jobs.push(send(pkt, t.host, t.port));
      }
    }
    await Promise.all(jobs);
    await pause();
  }
  const sendMs = performance.now() - t0;
  await new Promise((r) => setTimeout(r, args.lingerMs));
  sock.close();
  clearTimeout(deadline);
  process.stdout.write(
    JSON.stringify({ kind: args.kind, seed: args.seed, targets: args.targets.length, sent, sendErrors, replies, sendMs: Math.round(sendMs) }) + '\n',
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`fuzz-sender: ${(err as Error).message}\n`);
  process.exit(1);
});
