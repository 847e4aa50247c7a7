// fast-check arbitraries for every surface that takes outside input: DNS messages and TCP streams,
// KRPC queries and replies (every type, every field of the wrong type, oversized, truncated bencode),
// AUTH packets, LPD packets, control commands, HTTP requests, config file lines, peer file lines, NSS
// requests. Shared by the bounded run in `npm test` (test/unit/fuzz.test.ts) and the long run
// (`npm run bench -- fuzz`, bench/fuzz.ts). Everything is seeded by the caller (fc.assert / fc.sample).
import bencode from 'bencode';
import dnsPacket from 'dns-packet';
import fc from 'fast-check';
import { OPTIONS } from '../../src/options.js';

// ---------------------------------------------------------------- bytes and mutations

type Mutation =
  | { op: 'flip'; at: number; value: number }
  | { op: 'truncate'; at: number }
  | { op: 'extend'; bytes: Uint8Array }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'repeat'; from: number; length: number; times: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ op: fc.constant('flip' as const), at: fc.nat(), value: fc.nat(255) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('extend' as const), bytes: fc.uint8Array({ maxLength: 64 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('repeat' as const), from: fc.nat(), length: fc.integer({ min: 1, max: 32 }), times: fc.integer({ min: 1, max: 40 }) }) },
);

export function applyMutations(base: Uint8Array, mutations: Mutation[]): Buffer {
  let b = Buffer.from(base);
  for (const m of mutations) {
    const at = (n: number) => (b.length === 0 ? 0 : n % (b.length + 1));
    switch (m.op) {
      case 'flip':
        if (b.length > 0) b[m.at % b.length] = m.value;
        break;
      case 'truncate':
        b = b.subarray(0, at(m.at));
        break;
      case 'extend':
        b = Buffer.concat([b, m.bytes]);
        break;
      case 'insert': {
        const i = at(m.at);
        b = Buffer.concat([b.subarray(0, i), m.bytes, b.subarray(i)]);
        break;
      }
      case 'repeat': {
        const from = at(m.from);
        const piece = b.subarray(from, from + m.length);
        b = Buffer.concat([b.subarray(0, from), ...Array<Buffer>(m.times).fill(piece), b.subarray(from)]);
        break;
      }
    }
  }
  return Buffer.from(b);
}

/** Bytes of `base`, most of them left alone, some mutated a few times. */
export function mutated(base: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Buffer> {
  return fc.tuple(base, fc.oneof({ weight: 1, arbitrary: fc.constant([] as Mutation[]) }, { weight: 2, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 4 }) }))
    .map(([b, ms]) => applyMutations(b, ms));
}

const randomBytes = (maxLength: number) => fc.uint8Array({ maxLength }).map((b) => Buffer.from(b));
const asBytes = (s: string) => Buffer.from(s, 'latin1');

// ---------------------------------------------------------------- DNS

const label = fc.oneof(
  fc.constantFrom('node1', 'foo', 'x', 'p2p', 'P2P', 'example', 'com', '_http', '_tcp', '*', 'xn--bcher-kva'),
  fc.stringMatching(/^[a-zA-Z0-9-]{1,63}$/),
  fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 20 }),
);
const dnsName = fc.oneof(
  fc.constantFrom('node1.p2p', 'foo.p2p', 'example.com', '.', 'p2p', 'a'.repeat(63) + '.p2p', 'ybndrfg8ejkmcpqxot1uwisza345h769ybndrfg8ejkmcpqxot1u.p2p', '0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33.p2p'),
  fc.array(label, { minLength: 1, maxLength: 6 }).chain((labels) => fc.constantFrom(labels.join('.'), labels.join('.') + '.p2p')),
);
const TYPES = ['A', 'AAAA', 'SRV', 'TXT', 'MX', 'NS', 'PTR', 'SOA', 'ANY', 'AXFR', 'CNAME', 'OPT', 'CAA', 'DS'];
const CLASSES = ['IN', 'CH', 'HS', 'ANY'];

const dnsQuery = fc
  .record({
    id: fc.nat(0xffff),
    flags: fc.oneof(fc.constant(dnsPacket.RECURSION_DESIRED), fc.nat(0xffff)),
    questions: fc.array(fc.record({ name: dnsName, type: fc.constantFrom(...TYPES), class: fc.constantFrom(...CLASSES) }), { minLength: 0, maxLength: 3 }),
    edns: fc.option(fc.record({ udpPayloadSize: fc.constantFrom(0, 512, 1232, 4096, 65535), ednsVersion: fc.constantFrom(0, 0, 1, 255), options: fc.array(fc.record({ code: fc.nat(0xffff), data: fc.uint8Array({ maxLength: 40 }) }), { maxLength: 2 }) })),
    answers: fc.array(fc.record({ name: dnsName, type: fc.constant('A'), data: fc.ipV4() }), { maxLength: 2 }),
  })
  .map((q) => {
    const additionals = q.edns
      ? [{ type: 'OPT', name: '.', udpPayloadSize: q.edns.udpPayloadSize, extendedRcode: 0, ednsVersion: q.edns.ednsVersion, flags: 0, options: q.edns.options.map((o) => ({ code: o.code, data: Buffer.from(o.data) })) }]
      : [];
    try {
      return Buffer.from(dnsPacket.encode({ type: 'query', id: q.id, flags: q.flags & ~0x8000, questions: q.questions as dnsPacket.Question[], answers: q.answers as dnsPacket.Answer[], additionals: additionals as dnsPacket.Answer[] }));
    } catch {
      // a label dns-packet cannot encode: a plain query instead
      return Buffer.from(dnsPacket.encode({ type: 'query', id: q.id, questions: [{ name: 'foo.p2p', type: 'A' }] }));
    }
  });

/** A hand-made header with any counts, then any bytes (compression pointers, long labels...). */
const dnsRaw = fc
  .record({
    header: fc.tuple(fc.nat(0xffff), fc.nat(0xffff), fc.nat(4), fc.nat(0xffff), fc.nat(0xffff), fc.nat(0xffff)),
    body: fc.oneof(
      randomBytes(300),
      fc.constantFrom(asBytes('\xc0\x0c\x00\x01\x00\x01'), asBytes('\xc0\x00\x00\x01\x00\x01'), asBytes('\xff\xff\x00\x01\x00\x01'), asBytes('\x40abc\x00\x00\x01\x00\x01'), asBytes('\x03p2p\xc0\x0c\x00\x01\x00\x01')),
    ),
  })
  .map(({ header, body }) => {
    const h = Buffer.alloc(12);
    header.forEach((v, i) => h.writeUInt16BE(v, i * 2));
    h[2] = h[2]! & 0x7f; // a query (responses are dropped at once: less interesting)
    return Buffer.concat([h, body]);
  });

export const dnsMessage: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 3, arbitrary: mutated(dnsQuery) },
  { weight: 2, arbitrary: dnsRaw },
  { weight: 1, arbitrary: randomBytes(600) },
);

/** One TCP stream: messages with their length prefix (or a wrong one), cut into chunks anywhere. */
export interface DnsStream {
  bytes: Buffer;
  cuts: number[];
}
export const dnsStream: fc.Arbitrary<DnsStream> = fc
  .record({
    frames: fc.array(fc.tuple(dnsMessage, fc.oneof({ weight: 8, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: fc.nat(0xffff) })), { minLength: 1, maxLength: 6 }),
    cuts: fc.array(fc.nat(2000), { maxLength: 8 }),
  })
  .map(({ frames, cuts }) => ({
    bytes: Buffer.concat(frames.map(([msg, length]) => {
      const prefix = Buffer.alloc(2);
      prefix.writeUInt16BE(length < 0 ? msg.length : length);
      return Buffer.concat([prefix, msg]);
    })),
    cuts: [...new Set(cuts)].sort((a, b) => a - b),
  }));

// ---------------------------------------------------------------- KRPC (BEP 5, 32, 44)

type Bencodable = number | Uint8Array | string | Bencodable[] | { [key: string]: Bencodable };

/** Any bencode value: integers (small, huge, negative), byte strings of interesting lengths, lists, dicts. */
export const bencodeValue: fc.Arbitrary<Bencodable> = fc.letrec<{ value: Bencodable }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(fc.integer(), fc.constantFrom(0, -1, 1, 6881, 65535, 65536, 2 ** 31, -(2 ** 53) + 1, Number.MAX_SAFE_INTEGER)),
    fc.oneof(fc.uint8Array({ maxLength: 70 }), fc.constantFrom(3, 6, 18, 19, 20, 21, 26, 32, 38, 63, 64, 65, 1001, 1500).map((n) => new Uint8Array(n))),
    fc.constantFrom('ping', 'find_node', 'get_peers', 'announce_peer', 'get', 'put', 'n4', 'n6', ''),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.constantFrom('id', 'target', 'info_hash', 'token', 'port', 'v', 'k', 'sig', 'seq', 'nodes', 'values', 'want'), fc.string({ maxLength: 6 })), tie('value'), { maxKeys: 4 }),
  ),
})).value;

const bytesN = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const id20 = bytesN(20);
const tid = fc.uint8Array({ minLength: 1, maxLength: 4 });
const token = fc.uint8Array({ minLength: 1, maxLength: 20 });
const compactNodes = fc.integer({ min: 0, max: 8 }).chain((n) => bytesN(26 * n));
const compactNodes6 = fc.integer({ min: 0, max: 4 }).chain((n) => bytesN(38 * n));
const peers4 = fc.array(bytesN(6), { maxLength: 8 });
const want = fc.subarray(['n4', 'n6']);

/** Well-formed arguments of every query type, BEP 5, BEP 32 `want` and BEP 44 get/put included. */
const queryArgs: fc.Arbitrary<[string, Record<string, Bencodable>]> = fc.oneof(
  fc.record({ id: id20 }).map((a) => ['ping', a] as [string, Record<string, Bencodable>]),
  fc.record({ id: id20, target: id20, want }, { requiredKeys: ['id', 'target'] }).map((a) => ['find_node', a] as [string, Record<string, Bencodable>]),
  fc.record({ id: id20, info_hash: id20, want }, { requiredKeys: ['id', 'info_hash'] }).map((a) => ['get_peers', a] as [string, Record<string, Bencodable>]),
  fc.record({ id: id20, info_hash: id20, port: fc.integer({ min: 0, max: 65535 }), token, implied_port: fc.nat(1) }, { requiredKeys: ['id', 'info_hash', 'token'] }).map((a) => ['announce_peer', a] as [string, Record<string, Bencodable>]),
  fc.record({ id: id20, target: id20, seq: fc.nat(), want }, { requiredKeys: ['id', 'target'] }).map((a) => ['get', a] as [string, Record<string, Bencodable>]),
  fc.record({ id: id20, token, v: fc.uint8Array({ maxLength: 1000 }) }).map((a) => ['put', a] as [string, Record<string, Bencodable>]),
  fc.record({ id: id20, token, v: fc.uint8Array({ maxLength: 1000 }), k: bytesN(32), sig: bytesN(64), seq: fc.nat(), salt: fc.uint8Array({ maxLength: 64 }), cas: fc.nat() }, { requiredKeys: ['id', 'token', 'v', 'k', 'sig', 'seq'] }).map((a) => ['put', a] as [string, Record<string, Bencodable>]),
  fc.record({ id: id20 }).chain((a) => fc.constantFrom('vote', 'sample_infohashes', 'x', '').map((q) => [q, a] as [string, Record<string, Bencodable>])),
);

/** Well-formed reply bodies of every kind: ping/announce/put (id only), find_node, get_peers, get. */
export const replyBody: fc.Arbitrary<Record<string, Bencodable>> = fc.oneof(
  fc.record({ id: id20 }),
  fc.record({ id: id20, nodes: compactNodes, nodes6: compactNodes6 }, { requiredKeys: ['id'] }),
  fc.record({ id: id20, token, values: peers4, nodes: compactNodes }, { requiredKeys: ['id'] }),
  fc.record({ id: id20, token, v: fc.uint8Array({ maxLength: 1000 }), nodes: compactNodes }, { requiredKeys: ['id', 'v'] }),
  fc.record({ id: id20, token, v: fc.uint8Array({ maxLength: 1000 }), k: bytesN(32), sig: bytesN(64), seq: fc.nat(), nodes: compactNodes }, { requiredKeys: ['id', 'v', 'k', 'sig', 'seq'] }),
);

type FieldEdit = { kind: 'set'; key: string; value: Bencodable } | { kind: 'delete'; index: number };
const fieldEdit: fc.Arbitrary<FieldEdit> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('set' as const), key: fc.constantFrom('id', 'target', 'info_hash', 'token', 'port', 'implied_port', 'v', 'k', 'sig', 'seq', 'salt', 'cas', 'nodes', 'nodes6', 'values', 'want', 'x'), value: bencodeValue }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), index: fc.nat() }) },
);

function edit(dict: Record<string, Bencodable>, edits: FieldEdit[]): Record<string, Bencodable> {
  const out = { ...dict };
  for (const e of edits) {
    if (e.kind === 'set') out[e.key] = e.value;
    else {
      const keys = Object.keys(out);
      if (keys.length > 0) delete out[keys[e.index % keys.length]!];
    }
  }
  return out;
}
const edits = fc.oneof({ weight: 1, arbitrary: fc.constant([] as FieldEdit[]) }, { weight: 3, arbitrary: fc.array(fieldEdit, { minLength: 1, maxLength: 3 }) });

/** Edits of the envelope itself: t, y, q or a of any type, or one of them missing. */
const topEdits: fc.Arbitrary<FieldEdit[]> = fc.oneof(
  { weight: 6, arbitrary: fc.constant([] as FieldEdit[]) },
  { weight: 1, arbitrary: fc.array(fc.oneof(fc.record({ kind: fc.constant('set' as const), key: fc.constantFrom('t', 'y', 'q', 'a'), value: bencodeValue }), fc.record({ kind: fc.constant('delete' as const), index: fc.nat() })), { minLength: 1, maxLength: 2 }) },
);

/** A whole KRPC message (query, reply or error) with a few fields replaced by values of any type or removed. */
const krpcObject: fc.Arbitrary<Record<string, Bencodable>> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: tid, args: queryArgs, edits, top: topEdits }).map(({ t, args: [q, a], edits: e, top }) => edit({ t, y: 'q', q, a: edit(a, e) }, top)) },
  { weight: 3, arbitrary: fc.record({ t: tid, r: replyBody, edits }).map(({ t, r, edits: e }) => ({ t, y: 'r', r: edit(r, e) })) },
  { weight: 1, arbitrary: fc.record({ t: tid, e: fc.oneof(fc.constant([201, 'Generic Error'] as Bencodable), bencodeValue) }).map(({ t, e }) => ({ t, y: 'e', e })) },
  { weight: 1, arbitrary: fc.record({ t: fc.oneof(tid, bencodeValue), y: bencodeValue, q: bencodeValue, a: bencodeValue, r: bencodeValue }, { requiredKeys: [] }) },
);

const encode = (x: unknown) => Buffer.from(bencode.encode(x));

/** KRPC datagrams: messages as above, some of their bytes mutated or cut (truncated bencode), some oversized, some junk. */
export const krpcDatagram: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 6, arbitrary: mutated(krpcObject.map(encode)) },
  { weight: 1, arbitrary: krpcObject.map((m) => encode({ ...m, pad: new Uint8Array(1500) })) },
  { weight: 1, arbitrary: fc.constantFrom('i99999999999999999999999999e', 'd1:ad2:id20:' + 'x'.repeat(20) + '6:targeti-0ee1:q9:find_node1:t2:aa1:y1:qe', '4294967296:abc', 'd' + 'l'.repeat(500) + 'e'.repeat(500) + 'e', 'd1:t2:aa1:y1:qe', 'de', 'le', '', 'd1:rd2:id20:' + 'y'.repeat(20) + '6:valuesl6:abcdefi1eeee1:t2:aa1:y1:re', 'd1:Sli201e-3:Gen', 'd1:t2:aa1:y1:q1:q4:ping1:ad2:id-20:' + 'z'.repeat(20) + 'ee').map(asBytes) },
  { weight: 1, arbitrary: randomBytes(1500) },
);

/** A reply to a query the node sent: the body is filled in with the node's transaction id by the driver. */
export interface KrpcReplyInput {
  body: Record<string, Bencodable>;
  /** 'r' normally; 'e' or junk sometimes */
  y: Bencodable;
  /** byte mutations after encoding */
  mutations: Mutation[];
}
export const krpcReply: fc.Arbitrary<KrpcReplyInput> = fc.record({
  body: fc.tuple(replyBody, edits).map(([r, e]) => edit(r, e)),
  y: fc.oneof({ weight: 8, arbitrary: fc.constant('r' as Bencodable) }, { weight: 1, arbitrary: fc.constant('e' as Bencodable) }, { weight: 1, arbitrary: bencodeValue }),
  mutations: fc.oneof({ weight: 4, arbitrary: fc.constant([] as Mutation[]) }, { weight: 1, arbitrary: fc.array(mutation, { minLength: 1, maxLength: 3 }) }),
});

export function encodeReply(input: KrpcReplyInput, t: Uint8Array): Buffer {
  const message: Record<string, Bencodable> = input.y === 'e' ? { t, y: 'e', e: [202, 'Server Error'] } : { t, y: input.y, r: input.body };
  return applyMutations(encode(message), input.mutations);
}

// ---------------------------------------------------------------- AUTH

export interface AuthInput {
  /** which id the packet names: one of ours (we hold its key), one being challenged, or random */
  id: 'ours' | 'pending' | 'random';
  length: number;
  bytes: Uint8Array;
  /** the packet comes from the challenged address (else another one) */
  fromPeer: boolean;
}
export const authPacket: fc.Arbitrary<AuthInput> = fc.record({
  id: fc.constantFrom('ours', 'pending', 'random'),
  length: fc.oneof({ weight: 3, arbitrary: fc.constantFrom(40, 47, 59, 104, 105) }, { weight: 1, arbitrary: fc.integer({ min: 0, max: 200 }) }),
  bytes: fc.uint8Array({ minLength: 200, maxLength: 200 }),
  fromPeer: fc.boolean(),
});

// ---------------------------------------------------------------- LPD

const lpdHeader = fc.oneof(
  fc.integer({ min: -5, max: 70000 }).map((n) => `Port: ${n}`),
  fc.constantFrom('Port: 6881', 'port:6881', 'Port: 06881', 'Port: ', 'Port: 1e3', 'Infohash: ' + '0'.repeat(40), 'Infohash: ' + 'G'.repeat(40), 'cookie: abc', 'cookie: ' + 'c'.repeat(65), 'Host: 239.192.152.143:6771', 'Host: [ff15::efc0:988f]:6771', 'X-Other: 1', 'NoColon', ': empty name', 'Port:\t6881\t'),
  fc.tuple(fc.stringMatching(/^[A-Za-z][A-Za-z0-9-]{0,12}$/), fc.string({ unit: 'binary-ascii', maxLength: 40 })).map(([n, v]) => `${n}: ${v}`),
);
const lpdText = fc
  .record({
    request: fc.oneof({ weight: 6, arbitrary: fc.constantFrom('BT-SEARCH * HTTP/1.0', 'BT-SEARCH * HTTP/1.1') }, { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', maxLength: 30 }) }),
    headers: fc.array(lpdHeader, { maxLength: 20 }),
    eol: fc.constantFrom('\r\n', '\n', '\r', '\r\r\n'),
    tail: fc.constantFrom('\r\n\r\n', '\r\n\r\n\r\n', '\n\n', '', '\r\n', '\r\n\r\nbody'),
  })
  .map(({ request, headers, eol, tail }) => asBytes([request, ...headers].join(eol) + tail));
export const lpdPacket: fc.Arbitrary<Buffer> = fc.oneof({ weight: 5, arbitrary: mutated(lpdText) }, { weight: 1, arbitrary: randomBytes(1200) });

// ---------------------------------------------------------------- control commands

const argument = fc.oneof(
  fc.constantFrom('foo.p2p', 'foo.p2p:80', 'foo.p2p:0', 'foo.p2p:65536', 'foo.p2p:-1', 'foo.p2p:', ':80', 'a'.repeat(300), '127.0.0.1', '127.0.0.1:6881', '[::1]:6881', '::1', '[::1', '-1', '0', '99999999', '1e9', 'blacklist', 'buckets', 'constants', 'forwardings', 'results', 'searches', 'storage', 'values', '0beec7b5ea3f0fdbc95d0dd47f3c5bc275da8a33', 'a'.repeat(64), 'b'.repeat(128), 'ybndrfg8ejkmcpqxot1uwisza345h769ybndrfg8ejkmcpqxot1u.p2p', '%s%n', '\u0000', '\uffff', '\ud83d\ude00'),
  fc.stringMatching(/^[a-z0-9.:-]{1,30}$/),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.integer().map(String),
);
export const commandLine: fc.Arbitrary<string> = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(fc.constantFrom('status', 'lookup', 'announce', 'import', 'export', 'blacklist', 'list', 'help', 'STATUS', 'quit', ''), fc.array(argument, { maxLength: 4 }), fc.constantFrom(' ', '  ', '\t', ' \u00a0 ')).map(([c, args, sep]) => [c, ...args].join(sep)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
  { weight: 1, arbitrary: fc.integer({ min: 1400, max: 3000 }).map((n) => 'lookup ' + 'x'.repeat(n)) },
);

// ---------------------------------------------------------------- HTTP

const pct = fc.oneof(fc.constantFrom('%', '%2', '%zz', '%00', '%0a', '%20', '%2F', '%C3%A9', '%ff', '%E0%A4%A', '+'), fc.stringMatching(/^[a-z0-9.:\[\]-]{0,20}$/));
const target = fc.oneof(
  fc.tuple(fc.constantFrom('/status', '/lookup', '/announce', '/blacklist', '/', '/x', '//status', '/status/', '/STATUS', '/lookup/../status'), fc.option(fc.array(pct, { maxLength: 5 }).map((p) => p.join('')))).map(([p, q]) => (q === null ? p : `${p}?${q}`)),
  fc.constantFrom('*', 'http://localhost/status', 'http://[::1]:8053/lookup?foo.p2p', 'http://a:b@host/status?x', '/lookup?' + 'a'.repeat(3000), 'status', ''),
  fc.string({ unit: 'binary-ascii', maxLength: 60 }),
);
const header = fc.oneof(
  fc.constantFrom('Host: localhost', 'Host:', 'Content-Length: 5', 'Content-Length: -1', 'Content-Length: 99999999999', 'Content-Length: 1, 2', 'Transfer-Encoding: chunked', 'Transfer-Encoding: gzip, chunked', 'Connection: close', 'Connection: keep-alive', 'Expect: 100-continue', 'Upgrade: websocket', 'X: ' + 'y'.repeat(20000), ' folded', 'Bad Header: x', 'X:\u0000'),
  fc.tuple(fc.stringMatching(/^[A-Za-z-]{1,16}$/), fc.string({ unit: 'binary-ascii', maxLength: 40 })).map(([n, v]) => `${n}: ${v}`),
);
/** One request as bytes (a valid GET most of the time, mutated or junk otherwise). */
export const httpRequest: fc.Arbitrary<Buffer> = fc.oneof(
  {
    weight: 6,
    arbitrary: mutated(
      fc
        .record({
          method: fc.oneof({ weight: 5, arbitrary: fc.constantFrom('GET', 'HEAD') }, { weight: 1, arbitrary: fc.constantFrom('POST', 'PUT', 'DELETE', 'OPTIONS', 'CONNECT', 'get', 'G ET', '') }),
          target,
          version: fc.oneof({ weight: 6, arbitrary: fc.constant('HTTP/1.1') }, { weight: 1, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/1.1x', 'HTTP/9', '') }),
          headers: fc.array(header, { maxLength: 6 }),
          body: fc.option(fc.string({ unit: 'binary-ascii', maxLength: 40 })),
        })
        .map(({ method, target: t, version, headers, body }) => asBytes(`${method} ${t} ${version}\r\n${['Host: localhost', ...headers].join('\r\n')}\r\n\r\n${body ?? ''}`)),
    ),
  },
  { weight: 1, arbitrary: randomBytes(400) },
);

// ---------------------------------------------------------------- config and peer files

const optionNames = OPTIONS.map((o) => o.name);
const optionValue = fc.oneof(
  fc.constantFrom('6881', '0', '65536', '-1', '3535', 'foo.p2p', 'foo.p2p:80', '127.0.0.1', '::1', '[::1]:6881', 'ipv4', 'ipv6', 'dual', 'quiet', 'debug', '.p2p', 'p2p', '', '"quoted value"', "'single'", '"unterminated', 'a"b', '@/nonexistent/key', '*.p2p:' + 'a'.repeat(64), 'node1.p2p:' + 'b'.repeat(128), '#comment'),
  fc.stringMatching(/^[a-zA-Z0-9.:*@_\/-]{1,40}$/),
  fc.string({ unit: 'binary', maxLength: 30 }),
);
/** Lines that are valid alone (a file of them may still set an option twice). */
const validConfigLine = fc.constantFrom(
  '--port 6881', '--port=4000', '--dns-port 0', '--dns-port 3535', '--cmd-port 1700', '--web-port 0', '--lpd-disable', '--fwd-disable',
  '--value-id foo.p2p', '--value-id "bar.p2p:80"', '--peer 127.0.0.1:6881', "--peer '[::1]:6881'", '--mode dual', '--verbosity debug',
  '--query-tld .p2p', '--dns-addr ::1', '--dns-addr 127.0.0.1', '--cmd-disable-stdin', '--peerfile-save-interval 60', '# a comment', '', '   ',
);
export const configLine: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: validConfigLine },
  { weight: 6, arbitrary: fc.tuple(fc.constantFrom('--', '-', '', '---'), fc.oneof(fc.constantFrom(...optionNames), fc.string({ maxLength: 12 })), fc.constantFrom(' ', '=', '\t', '  '), fc.array(optionValue, { maxLength: 3 }), fc.option(fc.string({ maxLength: 20 }))).map(([dash, name, sep, values, comment]) => `${dash}${name}${values.length ? sep + values.join(' ') : ''}${comment === null ? '' : ' #' + comment}`) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 120 }) },
  { weight: 1, arbitrary: fc.integer({ min: 990, max: 1100 }).map((n) => '--value-id ' + 'x'.repeat(n)) },
);
/** A whole config file: a few lines, LF or CRLF, maybe a BOM. */
export const configText: fc.Arbitrary<string> = fc.tuple(fc.array(configLine, { minLength: 1, maxLength: 5 }), fc.constantFrom('\n', '\r\n'), fc.boolean()).map(([lines, eol, bom]) => (bom ? '\uFEFF' : '') + lines.join(eol));

export const peerLine: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(fc.oneof(fc.ipV4(), fc.ipV6().map((a) => `[${a}]`), fc.ipV6(), fc.domain(), fc.constantFrom('localhost', 'router.bittorrent.com', '[', ']', '[]', '[::1', '::1]', '1.2.3', '999.1.1.1', 'a b', '')), fc.option(fc.oneof(fc.integer({ min: -1, max: 70000 }).map(String), fc.constantFrom('', 'x', '0x10', '6881 ', '1e3')))).map(([h, p]) => (p === null ? h : `${h}:${p}`)),
  fc.string({ unit: 'binary', maxLength: 300 }),
);
export const peerFileText: fc.Arbitrary<string> = fc.tuple(fc.array(fc.tuple(peerLine, fc.option(fc.string({ maxLength: 10 }))), { minLength: 1, maxLength: 8 }), fc.constantFrom('\n', '\r\n')).map(([lines, eol]) => lines.map(([l, c]) => (c === null ? l : `${l} #${c}`)).join(eol));

// ---------------------------------------------------------------- NSS

export const nssRequest: fc.Arbitrary<Buffer> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc
      .record({ id: fc.nat(0xffff), family: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(0, 4, 6) }, { weight: 1, arbitrary: fc.nat(255) }), name: fc.oneof(dnsName, fc.string({ unit: 'binary-ascii', maxLength: 300 })) })
      .map(({ id, family, name }) => {
        const head = Buffer.alloc(3);
        head.writeUInt16BE(id);
        head[2] = family;
        return Buffer.concat([head, asBytes(name)]);
      }),
  },
  { weight: 1, arbitrary: randomBytes(300) },
);

// ---------------------------------------------------------------- BEP 44 items / PKARR packets

export interface PkarrInput {
  /** the DNS packet (v), any bytes; signed for real when `signed` */
  v: Buffer;
  seq: number;
  signed: boolean;
  /** byte flips in the signature or key after signing */
  breakSig: boolean;
  /** a relay payload of any bytes as well */
  payload: Buffer;
  /** a name to classify as a public-key domain */
  name: string;
}
const pkarrRecords = fc.array(
  fc.oneof(
    fc.record({ type: fc.constant('A'), name: dnsName, ttl: fc.nat(), data: fc.ipV4() }),
    fc.record({ type: fc.constant('AAAA'), name: dnsName, ttl: fc.nat(), data: fc.ipV6() }),
    fc.record({ type: fc.constant('TXT'), name: dnsName, ttl: fc.nat(), data: fc.string({ maxLength: 60 }) }),
    fc.record({ type: fc.constant('CNAME'), name: dnsName, ttl: fc.nat(), data: dnsName }),
  ),
  { maxLength: 6 },
).map((answers) => {
  try {
    return Buffer.from(dnsPacket.encode({ type: 'response', flags: 0x0400, answers: answers as dnsPacket.Answer[] }));
  } catch {
    return Buffer.alloc(12);
  }
});
export const pkarrItem: fc.Arbitrary<PkarrInput> = fc.record({
  v: fc.oneof({ weight: 3, arbitrary: mutated(pkarrRecords) }, { weight: 1, arbitrary: dnsMessage }, { weight: 1, arbitrary: randomBytes(1100) }),
  seq: fc.oneof(fc.nat(), fc.constantFrom(0, Number.MAX_SAFE_INTEGER, Date.now() * 1000)),
  signed: fc.boolean(),
  breakSig: fc.boolean(),
  payload: fc.oneof(randomBytes(1200), fc.constantFrom(72, 1072, 1073).map((n) => Buffer.alloc(n, 0xff))),
  name: fc.oneof(dnsName, fc.string({ unit: 'binary-ascii', maxLength: 80 }), fc.constantFrom('ybndrfg8ejkmcpqxot1uwisza345h769ybndrfg8ejkmcpqxot1u', 'foo.ybndrfg8ejkmcpqxot1uwisza345h769ybndrfg8ejkmcpqxot1u.p2p', '.ybndrfg8ejkmcpqxot1uwisza345h769ybndrfg8ejkmcpqxot1u.')),
});
