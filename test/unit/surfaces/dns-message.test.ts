import { test } from 'node:test';
import assert from 'node:assert/strict';
import dnsPacket from 'dns-packet';
import type { DecodedPacket, Packet, RecordType, SoaData, SrvData } from 'dns-packet';
import { buildResponse, maxUdpSize, parseQuery, replyHeader, TCP_MAX_SIZE, truncatedAnswer, withId, type DnsQuery, type ParseResult, type Rcode } from '../../../src/surfaces/dns-message.js';
import type { PeerAddress } from '../../../src/types.js';

const ZONE = '.p2p';
const V4: PeerAddress = { address: '192.0.2.1', port: 4001, family: 4 };
const V4B: PeerAddress = { address: '192.0.2.2', port: 4002, family: 4 };
const V6: PeerAddress = { address: '2001:db8::1', port: 6001, family: 6 };

function encodeQuery(name: string, type: RecordType, extra: Partial<Packet> = {}): Buffer {
  return dnsPacket.encode({ type: 'query', id: 0x1234, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type }], ...extra });
}

function edns(size = 4096): Partial<Packet> {
  return { additionals: [{ type: 'OPT', name: '.', udpPayloadSize: size } as dnsPacket.OptAnswer] };
}

function parse(buf: Buffer): DnsQuery {
  const r = parseQuery(buf);
  assert.equal(r.kind, 'query', r.kind === 'query' ? '' : r.reason);
  return r as DnsQuery;
}

function respond(name: string, type: RecordType, rcode: Rcode, addresses: PeerAddress[] = [], extra: Partial<Packet> = {}, maxSize?: number): DecodedPacket {
  const q = parse(encodeQuery(name, type, extra));
  return dnsPacket.decode(buildResponse(q, rcode, { maxSize: maxSize ?? maxUdpSize(q), addresses, ttl: 42, zone: ZONE }));
}

function rcodeOf(p: DecodedPacket): string {
  return (p as DecodedPacket & { rcode: string }).rcode;
}

function assertHeader(p: DecodedPacket, rcode: string): void {
  assert.equal(p.id, 0x1234);
  assert.equal(p.flag_qr, true);
  assert.equal(p.flag_aa, true);
  assert.equal(p.flag_rd, true);
  assert.equal((p as DecodedPacket & { opcode: string }).opcode, 'QUERY');
  assert.equal(rcodeOf(p), rcode);
}

function assertSoa(p: DecodedPacket): void {
  assert.equal(p.authorities?.length, 1);
  const soa = p.authorities![0] as dnsPacket.SoaAnswer;
  assert.equal(soa.type, 'SOA');
  assert.equal(soa.name, 'p2p');
  assert.equal(soa.ttl, 5);
  assert.equal((soa.data as SoaData).minimum, 5);
}

/** The FORMERR/NOTIMP a parseQuery error carries: ID and RD copied, no question. */
function assertError(result: ParseResult, rcode: string, id = 0x1234): void {
  assert.equal(result.kind, 'error');
  if (result.kind !== 'error') return;
  const p = dnsPacket.decode(result.response);
  assert.equal(p.flag_qr, true);
  assert.equal(p.id, id);
  assert.equal(p.flag_rd, true);
  assert.equal(rcodeOf(p), rcode);
  assert.equal(p.questions?.length, 0);
}

test('A: one record per IPv4 address, TTL, flags, question echoed with its case', () => {
  const p = respond('FoO.P2p', 'A', 'NOERROR', [V4, V6, V4B, { ...V4, port: 9 }]);
  assertHeader(p, 'NOERROR');
  assert.deepEqual(p.questions, [{ name: 'FoO.P2p', type: 'A', class: 'IN' }]);
  assert.deepEqual(p.answers!.map((a) => [a.name, a.type, (a as dnsPacket.StringAnswer).data, (a as dnsPacket.StringAnswer).ttl]), [
    ['FoO.P2p', 'A', '192.0.2.1', 42],
    ['FoO.P2p', 'A', '192.0.2.2', 42],
  ]);
  assert.equal(p.authorities!.length, 0);
});

test('AAAA: only IPv6 addresses', () => {
  const p = respond('foo.p2p', 'AAAA', 'NOERROR', [V4, V6]);
  assertHeader(p, 'NOERROR');
  assert.deepEqual(p.answers!.map((a) => (a as dnsPacket.StringAnswer).data), ['2001:db8::1']);
});

test('found but no address of the asked family: NODATA with the SOA', () => {
  const a = respond('foo.p2p', 'A', 'NOERROR', [V6]);
  assertHeader(a, 'NOERROR');
  assert.equal(a.answers!.length, 0);
  assertSoa(a);
  const aaaa = respond('foo.p2p', 'AAAA', 'NOERROR', [V4]);
  assert.equal(aaaa.answers!.length, 0);
  assertSoa(aaaa);
});

test('addresses that are not IPs of their family are left out', () => {
  const p = respond('foo.p2p', 'A', 'NOERROR', [{ address: 'not-an-ip', port: 1, family: 4 }, { address: '::1', port: 1, family: 4 }, V4]);
  assert.deepEqual(p.answers!.map((a) => (a as dnsPacket.StringAnswer).data), ['192.0.2.1']);
});

test('SRV: one record per address with its port, target A/AAAA in the additional section', () => {
  const p = respond('_http._tcp.Foo.p2p', 'SRV', 'NOERROR', [V4, V6], edns());
  assertHeader(p, 'NOERROR');
  const srv = p.answers!.map((a) => ({ name: a.name, ttl: (a as dnsPacket.SrvAnswer).ttl, ...((a as dnsPacket.SrvAnswer).data as SrvData) }));
  assert.deepEqual(srv, [
    { name: '_http._tcp.Foo.p2p', ttl: 42, priority: 0, weight: 0, port: 4001, target: 'n1._http._tcp.Foo.p2p' },
    { name: '_http._tcp.Foo.p2p', ttl: 42, priority: 0, weight: 0, port: 6001, target: 'n2._http._tcp.Foo.p2p' },
  ]);
  const extra = p.additionals!.filter((a) => a.type !== 'OPT').map((a) => [a.name, a.type, (a as dnsPacket.StringAnswer).data]);
  assert.deepEqual(extra, [
    ['n1._http._tcp.Foo.p2p', 'A', '192.0.2.1'],
    ['n2._http._tcp.Foo.p2p', 'AAAA', '2001:db8::1'],
  ]);
});

test('SRV for a name too long to put a target under it: SERVFAIL', () => {
  const long = Array.from({ length: 4 }, () => 'x'.repeat(61)).join('.') + '.p2p'; // 253 characters
  const p = respond(long, 'SRV', 'NOERROR', [V4]);
  assert.equal(rcodeOf(p), 'SERVFAIL');
  assert.equal(p.answers!.length, 0);
});

test('other types under the TLD: NODATA', () => {
  for (const type of ['TXT', 'MX', 'ANY'] as RecordType[]) {
    const p = respond('foo.p2p', type, 'NOERROR', [V4]);
    assertHeader(p, 'NOERROR');
    assert.equal(p.answers!.length, 0, type);
    assertSoa(p);
  }
});

test('NXDOMAIN carries the SOA of the TLD zone', () => {
  const p = respond('gone.p2p', 'A', 'NXDOMAIN', [V4]);
  assertHeader(p, 'NXDOMAIN');
  assert.equal(p.answers!.length, 0);
  assertSoa(p);
  const soa = (p.authorities![0] as dnsPacket.SoaAnswer).data as SoaData;
  assert.equal(soa.mname, 'localhost');
  assert.equal(soa.rname, 'nobody.invalid');
});

test('SERVFAIL and REFUSED: no answers, no SOA', () => {
  for (const rcode of ['SERVFAIL', 'REFUSED'] as Rcode[]) {
    const p = respond('foo.p2p', 'A', rcode, [V4]);
    assertHeader(p, rcode);
    assert.equal(p.answers!.length, 0);
    assert.equal(p.authorities!.length, 0);
  }
});

test('RD is copied, not set', () => {
  const q = parse(dnsPacket.encode({ type: 'query', id: 1, flags: 0, questions: [{ name: 'foo.p2p', type: 'A' }] }));
  assert.equal(q.rd, false);
  const p = dnsPacket.decode(buildResponse(q, 'NOERROR', { maxSize: 512, addresses: [V4], ttl: 1 }));
  assert.equal(p.flag_rd, false);
});

test('TTL is clamped to 0..2^31-1', () => {
  const q = parse(encodeQuery('foo.p2p', 'A'));
  const ttl = (t: number) => (dnsPacket.decode(buildResponse(q, 'NOERROR', { maxSize: 512, addresses: [V4], ttl: t })).answers![0] as dnsPacket.StringAnswer).ttl;
  assert.equal(ttl(-5), 0);
  assert.equal(ttl(Number.NaN), 0);
  assert.equal(ttl(1.9), 1);
  assert.equal(ttl(2 ** 40), 0x7fffffff);
});

test('EDNS: the OPT is echoed with a payload size of 1232; no OPT without one', () => {
  const q = parse(encodeQuery('foo.p2p', 'A', edns(4096)));
  assert.deepEqual(q.edns, { udpSize: 4096 });
  const p = respond('foo.p2p', 'A', 'NOERROR', [V4], edns(4096));
  const opt = p.additionals!.filter((a) => a.type === 'OPT') as dnsPacket.OptAnswer[];
  assert.equal(opt.length, 1);
  assert.equal(opt[0].udpPayloadSize, 1232);
  const plain = respond('foo.p2p', 'A', 'NOERROR', [V4]);
  assert.equal(plain.additionals!.length, 0);
  assert.equal(parse(encodeQuery('foo.p2p', 'A')).edns, null);
  for (const rcode of ['NXDOMAIN', 'SERVFAIL', 'REFUSED'] as Rcode[]) {
    assert.equal(respond('foo.p2p', 'A', rcode, [], edns()).additionals!.filter((a) => a.type === 'OPT').length, 1, rcode);
  }
});

test('maxUdpSize: 512 without EDNS, the EDNS size capped at 1232, never below 512', () => {
  assert.equal(maxUdpSize(parse(encodeQuery('foo.p2p', 'A'))), 512);
  assert.equal(maxUdpSize(parse(encodeQuery('foo.p2p', 'A', edns(4096)))), 1232);
  assert.equal(maxUdpSize(parse(encodeQuery('foo.p2p', 'A', edns(1000)))), 1000);
  assert.equal(maxUdpSize(parse(encodeQuery('foo.p2p', 'A', edns(100)))), 512);
});

test('truncation: too large for the limit → header + question with TC=1', () => {
  const many = Array.from({ length: 40 }, (_, i): PeerAddress => ({ address: `10.0.${i >> 8}.${i & 255}`, port: 1000 + i, family: 4 }));
  const q = parse(encodeQuery('foo.p2p', 'A'));
  const small = buildResponse(q, 'NOERROR', { maxSize: maxUdpSize(q), addresses: many, ttl: 5 });
  assert.ok(small.length <= 512);
  const p = dnsPacket.decode(small);
  assert.equal(p.flag_tc, true);
  assert.equal(p.answers!.length, 0);
  assert.deepEqual(p.questions, [{ name: 'foo.p2p', type: 'A', class: 'IN' }]);

  const tcp = dnsPacket.decode(buildResponse(q, 'NOERROR', { maxSize: TCP_MAX_SIZE, addresses: many, ttl: 5 }));
  assert.equal(tcp.flag_tc, false);
  assert.equal(tcp.answers!.length, 40);

  // 40 A records (~950 bytes, names uncompressed) fit the 1232 of EDNS; 40 SRV with their additional records do not.
  const e = parse(encodeQuery('foo.p2p', 'A', edns()));
  assert.equal(dnsPacket.decode(buildResponse(e, 'NOERROR', { maxSize: maxUdpSize(e), addresses: many, ttl: 5 })).flag_tc, false);
  const s = parse(encodeQuery('foo.p2p', 'SRV', edns()));
  const srv = buildResponse(s, 'NOERROR', { maxSize: maxUdpSize(s), addresses: many, ttl: 5 });
  assert.ok(srv.length <= 1232);
  const sp = dnsPacket.decode(srv);
  assert.equal(sp.flag_tc, true);
  assert.equal(sp.answers!.length, 0);
  assert.equal(sp.additionals!.filter((a) => a.type === 'OPT').length, 1, 'the truncated answer keeps the OPT');
});

// ---- malformed input ----

const valid = encodeQuery('foo.p2p', 'A');

function withHeader(body: Buffer, counts: [number, number, number, number], flags = 0x0100): Buffer {
  const h = Buffer.alloc(12);
  h.writeUInt16BE(0x1234, 0);
  h.writeUInt16BE(flags, 2);
  counts.forEach((c, i) => h.writeUInt16BE(c, 4 + 2 * i));
  return Buffer.concat([h, body]);
}

test('shorter than a header: dropped', () => {
  for (const n of [0, 1, 5, 11]) assert.equal(parseQuery(valid.subarray(0, n)).kind, 'drop', `${n} bytes`);
});

test('QR=1 (a response): dropped, even when well formed', () => {
  const response = dnsPacket.encode({ type: 'response', id: 1, questions: [{ name: 'foo.p2p', type: 'A' }] });
  assert.equal(parseQuery(response).kind, 'drop');
  assert.equal(parseQuery(Buffer.from([0, 1, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0])).kind, 'drop');
});

test('truncated question: FORMERR with ID and RD copied, no question', () => {
  for (let n = 12; n < valid.length; n++) assertError(parseQuery(valid.subarray(0, n)), 'FORMERR');
});

test('bad label length: FORMERR', () => {
  // a label longer than the packet, and the reserved 0x40/0x80 label types
  assertError(parseQuery(withHeader(Buffer.from([50, 0x61, 0x62, 0, 0, 1, 0, 1]), [1, 0, 0, 0])), 'FORMERR');
  assertError(parseQuery(withHeader(Buffer.from([0x41, 0x61, 0, 0, 1, 0, 1]), [1, 0, 0, 0])), 'FORMERR');
  assertError(parseQuery(withHeader(Buffer.from([0x81, 0x61, 0, 0, 1, 0, 1]), [1, 0, 0, 0])), 'FORMERR');
});

test('compression loop (a pointer to itself): FORMERR', () => {
  assertError(parseQuery(withHeader(Buffer.from([0xc0, 12, 0, 1, 0, 1]), [1, 0, 0, 0])), 'FORMERR');
  // two labels pointing at each other: 3foo then a pointer back to 12 from offset 16
  assertError(parseQuery(withHeader(Buffer.from([3, 0x66, 0x6f, 0x6f, 0xc0, 12, 0, 1, 0, 1]), [1, 0, 0, 0])), 'FORMERR');
});

test('forward pointer: FORMERR', () => {
  assertError(parseQuery(withHeader(Buffer.from([0xc0, 18, 0, 1, 0, 1, 3, 0x70, 0x32, 0x70, 0]), [1, 0, 0, 0])), 'FORMERR');
});

test('a pointer into the header cannot be echoed: FORMERR', () => {
  const buf = withHeader(Buffer.from([0xc0, 0, 0, 1, 0, 1]), [1, 0, 0, 0]);
  buf.writeUInt16BE(0x0000, 0); // id 0: the pointer reads an empty name
  assertError(parseQuery(buf), 'FORMERR', 0);
});

test('a dot or a non-ASCII byte inside a label cannot be echoed: FORMERR', () => {
  assertError(parseQuery(withHeader(Buffer.from([3, 0x61, 0x2e, 0x62, 3, 0x70, 0x32, 0x70, 0, 0, 1, 0, 1]), [1, 0, 0, 0])), 'FORMERR');
  assertError(parseQuery(withHeader(Buffer.from([2, 0xc3, 0x28, 3, 0x70, 0x32, 0x70, 0, 0, 1, 0, 1]), [1, 0, 0, 0])), 'FORMERR');
});

test('zero questions, two questions: FORMERR', () => {
  assertError(parseQuery(dnsPacket.encode({ type: 'query', id: 0x1234, flags: dnsPacket.RECURSION_DESIRED, questions: [] })), 'FORMERR');
  const two = dnsPacket.encode({
    type: 'query', id: 0x1234, flags: dnsPacket.RECURSION_DESIRED,
    questions: [{ name: 'a.p2p', type: 'A' }, { name: 'b.p2p', type: 'A' }],
  });
  assertError(parseQuery(two), 'FORMERR');
});

test('qdcount 65535 with a tiny body: FORMERR', () => {
  const buf = Buffer.from(valid);
  buf.writeUInt16BE(65535, 4);
  assertError(parseQuery(buf), 'FORMERR');
});

test('huge answer/authority/additional counts: FORMERR', () => {
  for (const at of [6, 8, 10]) {
    const buf = Buffer.from(valid);
    buf.writeUInt16BE(65535, at);
    assertError(parseQuery(buf), 'FORMERR');
  }
});

test('more than 16 records besides the question: FORMERR before decoding', () => {
  const answers = Array.from({ length: 17 }, () => ({ type: 'A' as const, name: 'x.p2p', data: '10.0.0.1' }));
  assertError(parseQuery(encodeQuery('foo.p2p', 'A', { answers })), 'FORMERR');
});

test('a query with an answer record that decodes is still a query', () => {
  const q = parse(encodeQuery('foo.p2p', 'A', { answers: [{ type: 'A', name: 'x.p2p', data: '10.0.0.1' }] }));
  assert.equal(q.question.name, 'foo.p2p');
});

test('wrong opcode (2 = STATUS, 5 = UPDATE): FORMERR, opcode echoed', () => {
  for (const opcode of [1, 2, 5, 15]) {
    const buf = Buffer.from(valid);
    buf.writeUInt16BE(0x0100 | (opcode << 11), 2);
    const r = parseQuery(buf);
    assertError(r, 'FORMERR');
    if (r.kind === 'error') assert.equal((dnsPacket.decode(r.response).flags! >> 11) & 0xf, opcode);
  }
});

test('EDNS: two OPT records FORMERR, version 1 BADVERS', () => {
  const opt = { type: 'OPT', name: '.', udpPayloadSize: 1232 } as dnsPacket.OptAnswer;
  assertError(parseQuery(encodeQuery('foo.p2p', 'A', { additionals: [opt, opt] })), 'FORMERR');
  const r = parseQuery(encodeQuery('foo.p2p', 'A', { additionals: [{ ...opt, ednsVersion: 1 }] }));
  assert.equal(r.kind, 'error');
  if (r.kind !== 'error') return;
  const p = dnsPacket.decode(r.response);
  assert.equal(rcodeOf(p), 'NOERROR'); // low four bits of BADVERS (16)
  const ropt = p.additionals![0] as dnsPacket.OptAnswer;
  assert.equal(ropt.type, 'OPT');
  assert.equal(ropt.extendedRcode, 1);
});

test('an OPT with a broken option list: FORMERR', () => {
  const buf = encodeQuery('foo.p2p', 'A', edns());
  buf.writeUInt16BE(40, buf.length - 2); // RDLENGTH beyond the packet
  assertError(parseQuery(buf), 'FORMERR');
});

// ---- fuzz ----

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function checkNeverThrows(buf: Buffer, kinds: Record<string, number>): void {
  let r: ParseResult;
  try {
    r = parseQuery(buf);
  } catch (err) {
    assert.fail(`parseQuery threw on ${buf.toString('hex')}: ${String(err)}`);
  }
  kinds[r.kind]++;
  if (r.kind === 'error') {
    const p = dnsPacket.decode(r.response);
    assert.equal(p.flag_qr, true);
    assert.equal(p.id, buf.readUInt16BE(0));
  } else if (r.kind === 'query') {
    for (const rcode of ['NOERROR', 'NXDOMAIN', 'SERVFAIL'] as Rcode[]) {
      const out = buildResponse(r, rcode, { maxSize: maxUdpSize(r), addresses: [V4, V6], ttl: 3, zone: ZONE });
      assert.ok(out.length <= maxUdpSize(r));
      const p = dnsPacket.decode(out);
      assert.equal(p.id, r.id);
      // the echoed question is the one received, byte for byte
      const sent = dnsPacket.encode({ questions: p.questions }).subarray(12);
      assert.ok(buf.subarray(12, 12 + sent.length).equals(sent), `question not echoed for ${buf.toString('hex')}`);
    }
  }
}

test('random bytes: never throws, always drop/error/query', () => {
  const rand = mulberry32(1);
  const kinds = { drop: 0, error: 0, query: 0 };
  for (let i = 0; i < 4000; i++) {
    const buf = Buffer.alloc(Math.floor(rand() * 601));
    for (let j = 0; j < buf.length; j++) buf[j] = Math.floor(rand() * 256);
    if (i % 2 === 0 && buf.length >= 12) buf[2] &= 0x07; // a query with opcode 0, so decoding gets exercised
    if (i % 4 === 0 && buf.length >= 12) buf.writeUInt16BE(1, 4);
    checkNeverThrows(buf, kinds);
  }
  assert.ok(kinds.drop > 0 && kinds.error > 0, JSON.stringify(kinds));
});

test('mutations of valid queries: never throws, always drop/error/query', () => {
  const rand = mulberry32(2);
  const int = (n: number) => Math.floor(rand() * n);
  const seeds = [
    encodeQuery('foo.p2p', 'A'),
    encodeQuery('_x._tcp.Foo.P2P', 'SRV', edns()),
    encodeQuery('bar.p2p', 'AAAA', { answers: [{ type: 'A', name: 'foo.p2p', data: '10.0.0.1' }], ...edns(512) }),
    encodeQuery('b.p2p', 'TXT', {
      additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, options: [{ code: 'CLIENT_SUBNET', ip: '10.1.0.0', sourcePrefixLength: 16 }] } as unknown as dnsPacket.OptAnswer],
    }),
  ];
  const kinds = { drop: 0, error: 0, query: 0 };
  for (let i = 0; i < 4000; i++) {
    let buf = Buffer.from(seeds[i % seeds.length]);
    for (let m = 1 + int(4); m > 0; m--) {
      switch (int(5)) {
        case 0: buf[int(buf.length)] = int(256); break;
        case 1: buf[int(buf.length)] ^= 1 << int(8); break;
        case 2: buf = buf.subarray(0, int(buf.length + 1)); break;
        case 3: buf = Buffer.concat([buf, Buffer.from(Array.from({ length: int(40) }, () => int(256)))]); break;
        case 4: if (buf.length >= 12) buf.writeUInt16BE(int(4), 4 + 2 * int(4)); break;
      }
    }
    if (buf.length >= 3) buf[2] &= 0x7f; // mostly not a response
    checkNeverThrows(buf, kinds);
  }
  assert.ok(kinds.drop > 0 && kinds.error > 0 && kinds.query > 0, JSON.stringify(kinds));
});

test('replyHeader: responses only; the question even when the records after it cannot be decoded', () => {
  const q = { name: 'Example.Test', type: 'MX' as const, class: 'IN' as const };
  const asQuery = dnsPacket.encode({ type: 'query', id: 5, questions: [q] });
  assert.equal(replyHeader(asQuery), null);
  assert.equal(replyHeader(Buffer.alloc(11)), null);
  const good = dnsPacket.encode({ type: 'response', id: 6, flags: dnsPacket.TRUNCATED_RESPONSE, questions: [q] });
  // claim one answer record and append bytes that are no record at all
  const broken = Buffer.concat([good, Buffer.from([0xc0, 0xff, 0xff])]);
  broken.writeUInt16BE(1, 6);
  assert.throws(() => dnsPacket.decode(broken));
  assert.deepEqual(replyHeader(broken), { id: 6, truncated: true, question: { name: 'Example.Test', type: 'MX', class: 'IN' } });
  const none = dnsPacket.encode({ type: 'response', id: 7, questions: [] });
  assert.deepEqual(replyHeader(none), { id: 7, truncated: false, question: null });
});

test('withId copies; truncatedAnswer keeps the upstream flags and rcode, sets TC, drops the records', () => {
  const msg = dnsPacket.encode({ type: 'query', id: 1, questions: [{ name: 'a.test', type: 'TXT' }] });
  const copy = withId(msg, 0xbeef);
  assert.equal(copy.readUInt16BE(0), 0xbeef);
  assert.equal(msg.readUInt16BE(0), 1);
  const parsed = parseQuery(dnsPacket.encode({
    type: 'query', id: 9, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: 'a.test', type: 'TXT' }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232 } as dnsPacket.OptAnswer],
  }));
  assert.equal(parsed.kind, 'query');
  const upstream = dnsPacket.encode({
    type: 'response', id: 9, flags: dnsPacket.RECURSION_AVAILABLE | dnsPacket.RECURSION_DESIRED | 3,
    questions: [{ name: 'a.test', type: 'TXT' }], answers: [{ type: 'TXT', name: 'a.test', data: 'x'.repeat(200) }],
  });
  const t = dnsPacket.decode(truncatedAnswer(parsed as DnsQuery, upstream)) as DecodedPacket & { rcode: string };
  assert.equal(t.id, 9);
  assert.equal(t.flag_tc, true);
  assert.equal(t.flag_ra, true);
  assert.equal(t.rcode, 'NXDOMAIN');
  assert.equal(t.answers!.length, 0);
  assert.deepEqual(t.additionals!.map((a) => a.type), ['OPT']);
});
