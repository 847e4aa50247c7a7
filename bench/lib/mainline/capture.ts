// The daemons' side of the network, seen without touching them: tcpdump in each daemon's namespace
// writes every UDP datagram of the DHT port as pcap to our pipe; we keep the daemon's KRPC queries and
// the replies it receives, matched by remote address and transaction id, with the kernel's timestamps.
// That gives what the daemon experienced: which queries got a reply, and after how long.
import { spawn, type ChildProcess } from 'node:child_process';
import bencode from 'bencode';
import { inNetns, registerCleanup } from '../../../test/e2e/netns.js';

export interface KrpcEvent {
  /** ms (kernel capture time) */
  ts: number;
  /** a query the daemon sent, or a reply (r or e) it received */
  kind: 'query' | 'reply';
  peer: string;
  t: string;
  method?: string;
}

interface Dict {
  y?: unknown;
  t?: unknown;
  q?: unknown;
}

const latin1 = (v: unknown): string | undefined => (v instanceof Uint8Array ? Buffer.from(v).toString('latin1') : undefined);

export class Capture {
  readonly events: KrpcEvent[] = [];
  private buf: Buffer = Buffer.alloc(0);
  private header: { le: boolean; nano: boolean; link: number } | null = null;
  private readonly exited: Promise<void>;
  private readonly unregister: () => void;
  private stderr = '';
  /** datagrams seen, and those that were not KRPC (AUTH, garbage) */
  datagrams = 0;

  private constructor(private readonly child: ChildProcess, private readonly local: Set<string>) {
    const pid = child.pid!;
    this.unregister = registerCleanup(() => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    });
    child.stdout!.on('data', (chunk: Buffer) => this.feed(chunk));
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => (this.stderr = (this.stderr + s).slice(-4000)));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** Starts tcpdump on eth0 of namespace ns for the DHT port; `local` holds the daemon's DHT address(es). */
  static async start(ns: string, port: number, local: string[]): Promise<Capture> {
    const [file, argv] = inNetns(ns, 'tcpdump', ['-i', 'eth0', '-n', '-U', '-s', '0', '-B', '8192', '-w', '-', 'udp', 'port', String(port)]);
    const child = spawn(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const cap = new Capture(child, new Set(local));
    // tcpdump says "listening on eth0" once it captures
    const t0 = Date.now();
    while (!/listening on/.test(cap.stderr) && Date.now() - t0 < 10_000) {
      if (child.exitCode !== null) throw new Error(`tcpdump in ${ns} exited: ${cap.stderr.trim()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    if (!/listening on/.test(cap.stderr)) throw new Error(`tcpdump in ${ns} did not start: ${cap.stderr.trim()}`);
    return cap;
  }

  private feed(chunk: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    let at = 0;
    if (!this.header) {
      if (this.buf.length < 24) return;
      const magicLE = this.buf.readUInt32LE(0);
      const magicBE = this.buf.readUInt32BE(0);
      const le = magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d;
      const magic = le ? magicLE : magicBE;
      this.header = { le, nano: magic === 0xa1b23c4d, link: le ? this.buf.readUInt32LE(20) : this.buf.readUInt32BE(20) };
      at = 24;
    }
    const h = this.header;
    const u32 = (o: number) => (h.le ? this.buf.readUInt32LE(o) : this.buf.readUInt32BE(o));
    while (this.buf.length - at >= 16) {
      const incl = u32(at + 8);
      if (this.buf.length - at - 16 < incl) break;
      const ts = u32(at) * 1000 + u32(at + 4) / (h.nano ? 1e6 : 1e3);
      this.packet(ts, this.buf.subarray(at + 16, at + 16 + incl));
      at += 16 + incl;
    }
    this.buf = Buffer.from(this.buf.subarray(at));
  }

  private packet(ts: number, frame: Buffer): void {
    // Ethernet (link type 1) carrying IPv4 carrying UDP
    if (this.header!.link !== 1 || frame.length < 42 || frame.readUInt16BE(12) !== 0x0800) return;
    const ihl = (frame[14]! & 0x0f) * 4;
    if (frame[23] !== 17) return;
    const src = `${frame[26]}.${frame[27]}.${frame[28]}.${frame[29]}`;
    const dst = `${frame[30]}.${frame[31]}.${frame[32]}.${frame[33]}`;
    const udp = 14 + ihl;
    if (frame.length < udp + 8) return;
    const sport = frame.readUInt16BE(udp);
    const dport = frame.readUInt16BE(udp + 2);
    const payload = frame.subarray(udp + 8);
    this.datagrams++;
    if (payload[0] !== 0x64) return; // 'd': a bencoded dictionary (AUTH packets start with "AUTH")
    let msg: Dict;
    try {
      msg = bencode.decode(payload) as Dict;
    } catch {
      return;
    }
    const y = latin1(msg.y);
    const t = msg.t instanceof Uint8Array ? Buffer.from(msg.t).toString('hex') : undefined;
    if (!t) return;
    const out = this.local.has(src);
    if (out && y === 'q') this.events.push({ ts, kind: 'query', peer: `${dst}:${dport}`, t, method: latin1(msg.q) ?? '?' });
    else if (!out && this.local.has(dst) && (y === 'r' || y === 'e')) this.events.push({ ts, kind: 'reply', peer: `${src}:${sport}`, t });
  }

  /** Stops tcpdump (SIGINT: it flushes) and returns how many packets the kernel dropped, if it said. */
  async stop(): Promise<number | null> {
    try {
      process.kill(this.child.pid!, 'SIGINT');
    } catch {
      // gone
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exited;
    clearTimeout(timer);
    this.unregister();
    const m = /(\d+) packets? dropped by kernel/.exec(this.stderr);
    return m ? Number(m[1]) : null;
  }
}

export interface Calibration {
  queries: number;
  answered: number;
  /** percent of queries answered (any reply, within the window) */
  answeredPct: number;
  /** percent answered within 2 s (kadnode's KRPC time-out) */
  answeredWithin2sPct: number;
  rtts: number[];
  byMethod: Record<string, { sent: number; answered: number }>;
}

/**
 * Matches queries with replies (same remote address and transaction id, reply within windowMs). Queries
 * sent in the last windowMs before `end` are left out (their replies may still have been on the way).
 * `include` picks the remote addresses counted.
 */
export function calibrate(events: KrpcEvent[], end: number, include: (peer: string) => boolean, windowMs = 15_000): Calibration {
  const sorted = [...events].sort((a, b) => a.ts - b.ts);
  const open = new Map<string, { ts: number; method: string; counted: boolean }>();
  const byMethod: Calibration['byMethod'] = {};
  const rtts: number[] = [];
  let queries = 0;
  let within2s = 0;
  for (const e of sorted) {
    if (!include(e.peer)) continue;
    const key = `${e.peer}|${e.t}`;
    if (e.kind === 'query') {
      const counted = e.ts <= end - windowMs;
      open.set(key, { ts: e.ts, method: e.method ?? '?', counted });
      if (!counted) continue;
      queries++;
      (byMethod[e.method ?? '?'] ??= { sent: 0, answered: 0 }).sent++;
      continue;
    }
    const q = open.get(key);
    if (!q || e.ts - q.ts > windowMs) continue;
    open.delete(key);
    if (!q.counted) continue;
    const rtt = e.ts - q.ts;
    rtts.push(rtt);
    if (rtt <= 2000) within2s++;
    byMethod[q.method]!.answered++;
  }
  return {
    queries,
    answered: rtts.length,
    answeredPct: queries ? (rtts.length / queries) * 100 : NaN,
    answeredWithin2sPct: queries ? (within2s / queries) * 100 : NaN,
    rtts,
    byMethod,
  };
}
