// DNS messages for the DNS surface: classify an incoming datagram or TCP frame, build the answer.
// Pure logic, no I/O. All wire encoding and decoding goes through dns-packet; only header fields (ID,
// flags, counts) are read and written by hand.
import { isIPv4, isIPv6 } from 'node:net';
import { dnsPacket } from '../util/dns-packet.js';
import type { Answer, DecodedPacket, OptAnswer, Question } from 'dns-packet';
import type { PeerAddress } from '../types.js';

export type Rcode = 'NOERROR' | 'FORMERR' | 'SERVFAIL' | 'NXDOMAIN' | 'NOTIMP' | 'REFUSED';
const RCODE: Record<Rcode, number> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 };

export const UDP_MIN_SIZE = 512;
/** The EDNS payload size we advertise and the most we send over UDP (DNS flag day 2020). */
export const EDNS_UDP_SIZE = 1232;
export const TCP_MAX_SIZE = 65535;
/** Negative answers may be cached this long (SOA minimum and SOA TTL). */
export const NEGATIVE_TTL = 5;

export const HEADER_SIZE = 12;
export const QR = 0x8000;
const RD = 0x0100;
export const OPCODE_MASK = 0x7800;
const MAX_NAME_OCTETS = 255;
const MAX_TTL = 0x7fffffff; // RFC 2181 §8
const MAX_RECORDS = 16;

export interface DnsQuery {
  kind: 'query';
  id: number;
  /** exactly as received: the name keeps its case, type/class are dns-packet's strings (e.g. 'UNKNOWN_65280') */
  question: { name: string; type: string; class: string };
  rd: boolean;
  /** null when the query carried no OPT record */
  edns: { udpSize: number } | null;
  packet: DecodedPacket;
}

export type ParseResult =
  | { kind: 'drop'; reason: string }
  | { kind: 'error'; response: Buffer; reason: string }
  | DnsQuery;

/** Classify one DNS message. Never throws: anything dns-packet cannot decode becomes FORMERR. */
export function parseQuery(buf: Buffer): ParseResult {
  if (buf.length < HEADER_SIZE) return { kind: 'drop', reason: `${buf.length} bytes, shorter than a header` };
  const flags = buf.readUInt16BE(2);
  // Answering responses would let two servers bounce packets at each other forever.
  if (flags & QR) return { kind: 'drop', reason: 'a response, not a query' };
  const error = (rcode: Rcode, reason: string) => ({ kind: 'error' as const, response: headerOnly(buf, rcode), reason });
  // Only QUERY is served: other opcodes count as malformed (FORMERR, opcode echoed); RFC 1035 would also allow NOTIMP.
  if (flags & OPCODE_MASK) return error('FORMERR', `opcode ${(flags & OPCODE_MASK) >> 11} is not QUERY`);
  const qdcount = buf.readUInt16BE(4);
  if (qdcount !== 1) return error('FORMERR', `${qdcount} questions`);
  // Each record name may follow a long chain of backward compression pointers: a 64 KiB message of
  // thousands of records costs dns-packet a quarter second. A query needs an OPT and maybe a TSIG.
  const records = buf.readUInt16BE(6) + buf.readUInt16BE(8) + buf.readUInt16BE(10);
  if (records > MAX_RECORDS) return error('FORMERR', `${records} records besides the question`);

  let packet: DecodedPacket;
  try {
    packet = dnsPacket().decode(buf);
  } catch (err) {
    return error('FORMERR', `undecodable: ${err instanceof Error ? err.message : String(err)}`);
  }
  const q = packet.questions![0];
  // The answer must echo the question byte for byte. dns-packet turns labels into UTF-8 text, so names
  // with dots inside labels, non-ASCII bytes, or a compression pointer would come back different.
  if (!echoesExactly(buf, q)) return error('FORMERR', 'question cannot be echoed unchanged');

  const opts = (packet.additionals ?? []).filter((a) => a.type === 'OPT');
  if (opts.length > 1) return error('FORMERR', `${opts.length} OPT records`);
  let edns: DnsQuery['edns'] = null;
  if (opts.length === 1) {
    const opt = opts[0] as OptAnswer;
    if (opt.ednsVersion !== 0) return { kind: 'error', response: badVersion(packet), reason: `EDNS version ${opt.ednsVersion}` };
    edns = { udpSize: opt.udpPayloadSize };
  }
  return {
    kind: 'query',
    id: packet.id ?? 0,
    question: { name: q.name, type: q.type, class: q.class ?? 'IN' },
    rd: packet.flag_rd,
    edns,
    packet,
  };
}

function echoesExactly(buf: Buffer, q: Question): boolean {
  try {
    const encoded = dnsPacket().encode({ questions: [q] }).subarray(HEADER_SIZE);
    return buf.subarray(HEADER_SIZE, HEADER_SIZE + encoded.length).equals(encoded);
  } catch {
    return false;
  }
}

/** An error answer built from the raw header alone (ID, opcode and RD copied, no question). */
function headerOnly(buf: Buffer, rcode: Rcode): Buffer {
  const flags = buf.readUInt16BE(2);
  return dnsPacket().encode({ type: 'response', id: buf.readUInt16BE(0), flags: (flags & (OPCODE_MASK | RD)) | RCODE[rcode] });
}

/** RFC 6891 §6.1.3: BADVERS (16) is rcode 0 in the header plus extended rcode 1 in our OPT. */
function badVersion(packet: DecodedPacket): Buffer {
  return dnsPacket().encode({
    type: 'response',
    id: packet.id,
    flags: packet.flag_rd ? RD : 0,
    additionals: [optRecord(1)],
  });
}

function optRecord(extendedRcode = 0): Answer {
  return { type: 'OPT', name: '.', udpPayloadSize: EDNS_UDP_SIZE, extendedRcode, ednsVersion: 0, flags: 0, flag_do: false, options: [] };
}

/** The largest UDP response this query may receive. */
export function maxUdpSize(query: DnsQuery): number {
  if (!query.edns) return UDP_MIN_SIZE;
  return Math.min(Math.max(query.edns.udpSize, UDP_MIN_SIZE), EDNS_UDP_SIZE);
}

export interface ResponseOptions {
  /** UDP: maxUdpSize(query); TCP: TCP_MAX_SIZE. Larger answers become header + question with TC=1. */
  maxSize: number;
  /** NOERROR only: the addresses found; the question's type picks which become records */
  addresses?: PeerAddress[];
  /** seconds, for the address records */
  ttl?: number;
  /** the zone we answer for (the TLD, e.g. 'p2p'): NXDOMAIN and NODATA carry its SOA */
  zone?: string;
  /** an answer for a name we forward (proxy mode): RA instead of AA */
  forwarded?: boolean;
  /** NOERROR only: records of a signed packet (public-key names); used instead of `addresses` */
  records?: Answer[];
}

/**
 * The answer to a parsed query. With NOERROR, A/AAAA questions get one record per distinct address of
 * that family, SRV questions one SRV per address (target n<i>.<qname>) with the target's A/AAAA record in
 * the additional section, anything else nothing (NODATA). With `records` (a public-key name), the records
 * of the question's type, after the CNAMEs leading to them, SRV targets' addresses as additionals.
 */
export function buildResponse(query: DnsQuery, rcode: Rcode, options: ResponseOptions): Buffer {
  const { name, type } = query.question;
  const ttl = clampTtl(options.ttl ?? 0);
  const addresses = rcode === 'NOERROR' ? options.addresses ?? [] : [];
  let answers: Answer[] = [];
  let additionals: Answer[] = [];
  if (options.records && rcode === 'NOERROR') {
    ({ answers, additionals } = recordAnswers(name, type, options.records));
  } else if (type === 'A' || type === 'AAAA') {
    const family = type === 'A' ? 4 : 6;
    const ips = new Set(addresses.filter((a) => a.family === family && validIp(a)).map((a) => a.address));
    answers = [...ips].map((ip) => ({ type, name, ttl, data: ip }));
  } else if (type === 'SRV') {
    const usable = addresses.filter(validIp);
    const targets = usable.map((_, i) => `n${i + 1}.${name}`);
    // A qname this long leaves no room for the n<i> label: SERVFAIL rather than an invalid name.
    if (targets.some((t) => Buffer.byteLength(t) + 2 > MAX_NAME_OCTETS)) {
      return buildResponse(query, 'SERVFAIL', { maxSize: options.maxSize });
    }
    answers = usable.map((a, i) => ({ type: 'SRV', name, ttl, data: { priority: 0, weight: 0, port: a.port, target: targets[i] } }));
    additionals = usable.map((a, i) => ({ type: a.family === 4 ? 'A' : 'AAAA', name: targets[i], ttl, data: a.address }));
  }
  const negative = rcode === 'NXDOMAIN' || (rcode === 'NOERROR' && answers.length === 0);
  const authorities = negative && options.zone ? [soa(options.zone)] : [];

  const flags = (options.forwarded ? dnsPacket().RECURSION_AVAILABLE : dnsPacket().AUTHORITATIVE_ANSWER) | (query.rd ? RD : 0) | RCODE[rcode];
  const opt = query.edns ? [optRecord()] : [];
  const head = { type: 'response' as const, id: query.id, questions: [query.packet.questions![0]] };
  const full = dnsPacket().encode({ ...head, flags, answers, authorities, additionals: [...additionals, ...opt] });
  if (full.length <= options.maxSize) return full;
  return dnsPacket().encode({ ...head, flags: flags | dnsPacket().TRUNCATED_RESPONSE, additionals: opt });
}

const MAX_CNAME_CHAIN = 8;

function recordAnswers(name: string, type: string, records: Answer[]): { answers: Answer[]; additionals: Answer[] } {
  const canonical = (n: string) => n.toLowerCase().replace(/\.$/, '');
  const at = (n: string) => records.filter((r) => canonical(r.name) === n);
  const found: Answer[] = [];
  let owner = canonical(name);
  for (let hop = 0; hop < MAX_CNAME_CHAIN; hop++) {
    const here = at(owner);
    const match = here.filter((r) => r.type === type);
    if (match.length > 0) {
      found.push(...match);
      break;
    }
    const cname = here.find((r) => r.type === 'CNAME');
    if (!cname || found.includes(cname)) break;
    found.push(cname);
    owner = canonical(String((cname as { data: unknown }).data));
  }
  // Records of the asked name carry the question's spelling (case), as the answers to addresses do.
  const answers = found.map((r) => (canonical(r.name) === canonical(name) ? ({ ...r, name } as Answer) : r));
  const additionals = found.flatMap((r) => (r.type === 'SRV' ? at(canonical(r.data.target)).filter((g) => g.type === 'A' || g.type === 'AAAA') : []));
  return { answers, additionals };
}

function validIp(a: PeerAddress): boolean {
  return a.family === 4 ? isIPv4(a.address) : a.family === 6 && isIPv6(a.address);
}

function clampTtl(ttl: number): number {
  return Number.isFinite(ttl) ? Math.min(Math.max(Math.floor(ttl), 0), MAX_TTL) : 0;
}

/** Lets downstream caches (dnsmasq, systemd-resolved) cache "no such name" for NEGATIVE_TTL seconds (RFC 2308). */
function soa(zone: string): Answer {
  return {
    type: 'SOA',
    name: zone.replace(/^\.+|\.+$/g, '') || '.',
    ttl: NEGATIVE_TTL,
    data: { mname: 'localhost', rname: 'nobody.invalid', serial: 1, refresh: 3600, retry: 600, expire: 86400, minimum: NEGATIVE_TTL },
  };
}

// ---------------------------------------------------------------- proxy mode (src/chain/forwarder.ts)

/** A copy of the message with another ID (the first two bytes of the header). */
export function withId(msg: Buffer, id: number): Buffer {
  const copy = Buffer.from(msg);
  copy.writeUInt16BE(id, 0);
  return copy;
}

export interface ReplyHeader {
  id: number;
  truncated: boolean;
  /** the one question, or null when the reply has none or several, or they cannot be decoded */
  question: { name: string; type: string; class: string } | null;
}

/**
 * The header and question of a message that claims to be a response (QR set, opcode QUERY), or null.
 * Only the header and question are decoded: the records after them pass through untouched, so a record
 * type dns-packet would choke on cannot turn a good upstream answer into SERVFAIL.
 */
export function replyHeader(buf: Buffer): ReplyHeader | null {
  if (buf.length < HEADER_SIZE) return null;
  const flags = buf.readUInt16BE(2);
  if (!(flags & QR) || flags & OPCODE_MASK) return null;
  const head: ReplyHeader = { id: buf.readUInt16BE(0), truncated: (flags & dnsPacket().TRUNCATED_RESPONSE) !== 0, question: null };
  if (buf.readUInt16BE(4) !== 1) return head;
  // Zero counts for the other sections: dns-packet then stops after the question.
  const questionOnly = Buffer.from(buf);
  questionOnly.fill(0, 6, HEADER_SIZE);
  try {
    const q = dnsPacket().decode(questionOnly).questions?.[0];
    if (q) head.question = { name: q.name, type: q.type, class: q.class ?? 'IN' };
  } catch {
    // undecodable question: no match possible
  }
  return head;
}

/**
 * An upstream answer too large for the client's UDP limit: the upstream's flags and rcode with TC set,
 * the question, and our OPT when the client sent one (RFC 2181 §9: the client retries over TCP).
 */
export function truncatedAnswer(query: DnsQuery, answer: Buffer): Buffer {
  const flags = answer.readUInt16BE(2) & ~(QR | OPCODE_MASK);
  return dnsPacket().encode({
    type: 'response',
    id: query.id,
    flags: flags | dnsPacket().TRUNCATED_RESPONSE,
    questions: [query.packet.questions![0]],
    additionals: query.edns ? [optRecord()] : [],
  });
}

/** One DNS message with its 2-byte length prefix, for TCP (RFC 1035 §4.2.2). */
export function tcpFrame(msg: Buffer): Buffer {
  const length = Buffer.alloc(2);
  length.writeUInt16BE(msg.length);
  return Buffer.concat([length, msg]);
}

/** Splits a TCP byte stream into DNS messages (2-byte length prefix); holds at most one partial frame. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private size = 0;
  private need = -1;

  /** true while part of a frame (or of its length) has arrived */
  get partial(): boolean {
    return this.size > 0 || this.need >= 0;
  }

  /** Calls onFrame for each complete message; false on a zero-length frame (the stream is unusable). */
  push(chunk: Buffer, onFrame: (frame: Buffer) => void): boolean {
    this.chunks.push(chunk);
    this.size += chunk.length;
    for (;;) {
      if (this.need < 0) {
        if (this.size < 2) return true;
        this.need = this.take(2).readUInt16BE(0);
        if (this.need === 0) return false;
      }
      if (this.size < this.need) return true;
      const frame = this.take(this.need);
      this.need = -1;
      onFrame(frame);
    }
  }

  // Concatenates only once enough bytes are there, so a client sending one byte at a time costs O(n).
  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.size);
    this.size -= n;
    this.chunks = this.size > 0 ? [all.subarray(n)] : [];
    return all.subarray(0, n);
  }
}
