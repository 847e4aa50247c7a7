// A minimal DNS client for the benchmarks: one query, timed from send to answer; and a fixed-rate
// load generator (used when dnsperf is not installed).
import dgram from 'node:dgram';
import { randomInt } from 'node:crypto';
import dnsPacket from 'dns-packet';

export interface DnsReply {
  /** NOERROR, NXDOMAIN, SERVFAIL, ... or TIMEOUT */
  rcode: string;
  /** A / AAAA data in answer order */
  addresses: string[];
  ms: number;
}

export function dnsQuery(server: string, port: number, name: string, type: 'A' | 'AAAA', timeoutMs: number): Promise<DnsReply> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket(server.includes(':') ? 'udp6' : 'udp4');
    const id = randomInt(1, 65535);
    const packet = dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type, name, class: 'IN' }] });
    let t0 = 0;
    let done = false;
    const finish = (reply: DnsReply) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.close();
      resolve(reply);
    };
    const timer = setTimeout(() => finish({ rcode: 'TIMEOUT', addresses: [], ms: performance.now() - t0 }), timeoutMs);
    socket.on('error', () => finish({ rcode: 'ERROR', addresses: [], ms: performance.now() - t0 }));
    socket.on('message', (msg) => {
      const ms = performance.now() - t0;
      let decoded: dnsPacket.Packet;
      try {
        decoded = dnsPacket.decode(msg);
      } catch {
        return;
      }
      if (decoded.id !== id) return;
      const addresses = (decoded.answers ?? [])
        .filter((a) => a.type === 'A' || a.type === 'AAAA')
        .map((a) => String((a as { data: unknown }).data));
      finish({ rcode: (decoded as { rcode?: string }).rcode ?? 'NOERROR', addresses, ms });
    });
    t0 = performance.now();
    socket.send(packet, port, server);
  });
}

export interface LoadResult {
  seconds: number;
  sent: number;
  answered: number;
  /** answered per second */
  qps: number;
  lost: number;
}

/**
 * Sends `qps` queries a second for `seconds` (names in turn) from one socket and counts the answers.
 * Bounded: stops sending at the end and waits 1 s for stragglers.
 */
export async function loadGenerate(server: string, port: number, names: string[], qps: number, seconds: number): Promise<LoadResult> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  const packets = names.map((name, i) =>
    dnsPacket.encode({ type: 'query', id: i + 1, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name, class: 'IN' }] }),
  );
  let answered = 0;
  socket.on('message', () => answered++);
  let sent = 0;
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  while (performance.now() < end) {
    const due = Math.floor(((performance.now() - t0) / 1000) * qps);
    while (sent < due) {
      const p = packets[sent % packets.length]!;
      p.writeUInt16BE((sent % 65535) + 1, 0);
      socket.send(p, port, server);
      sent++;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  const elapsed = (performance.now() - t0) / 1000;
  await new Promise((r) => setTimeout(r, 1000));
  socket.close();
  return { seconds: elapsed, sent, answered, qps: answered / elapsed, lost: sent - answered };
}

export interface ClosedLoopResult {
  seconds: number;
  sent: number;
  answered: number;
  lost: number;
  qps: number;
  avgLatencyMs: number;
  rcodes: Record<string, number>;
  /** the busiest source address's queries a second (kadnode limits each source to 1000/s) */
  maxPerSourceQps: number;
}

/**
 * dnsperf's closed loop (a fixed number of queries outstanding, a new one for each answer or loss),
 * but sent round-robin from many source addresses, so a per-source rate limit of the server does not
 * cap the measurement. Queries unanswered after timeoutMs count as lost and are replaced.
 */
export async function closedLoop(opts: { server: string; port: number; names: string[]; seconds: number; outstanding: number; sources: string[]; timeoutMs: number }): Promise<ClosedLoopResult> {
  const sockets = await Promise.all(
    opts.sources.map(
      (source) =>
        new Promise<dgram.Socket>((resolve, reject) => {
          const s = dgram.createSocket('udp4');
          s.once('error', reject);
          s.bind(0, source, () => resolve(s));
        }),
    ),
  );
  const packets = opts.names.map((name) => dnsPacket.encode({ type: 'query', id: 1, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'A', name, class: 'IN' }] }));
  const inflight = sockets.map(() => new Map<number, number>());
  const perSource = sockets.map(() => 0);
  const rcodes: Record<string, number> = {};
  const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];
  let sent = 0;
  let answered = 0;
  let lost = 0;
  let latencySum = 0;
  let next = 0;
  let nextId = 1;
  let running = true;
  const t0 = performance.now();
  const send = () => {
    if (!running) return;
    const i = next++ % sockets.length;
    const id = nextId;
    nextId = nextId >= 65535 ? 1 : nextId + 1;
    const p = packets[sent % packets.length]!;
    p.writeUInt16BE(id, 0);
    inflight[i]!.set(id, performance.now());
    perSource[i]!++;
    sent++;
    sockets[i]!.send(p, opts.port, opts.server);
  };
  sockets.forEach((s, i) => {
    s.on('message', (msg) => {
      if (msg.length < 4) return;
      const id = msg.readUInt16BE(0);
      const at = inflight[i]!.get(id);
      if (at === undefined) return;
      inflight[i]!.delete(id);
      const rcode = RCODES[msg[3]! & 15] ?? String(msg[3]! & 15);
      rcodes[rcode] = (rcodes[rcode] ?? 0) + 1;
      answered++;
      latencySum += performance.now() - at;
      send();
    });
  });
  for (let i = 0; i < opts.outstanding; i++) send();
  const sweep = setInterval(() => {
    const now = performance.now();
    for (const map of inflight) {
      for (const [id, at] of map) {
        if (now - at < opts.timeoutMs) continue;
        map.delete(id);
        lost++;
        send();
      }
    }
  }, 100);
  await new Promise((r) => setTimeout(r, opts.seconds * 1000));
  running = false;
  const elapsed = (performance.now() - t0) / 1000;
  clearInterval(sweep);
  await new Promise((r) => setTimeout(r, 200));
  for (const s of sockets) s.close();
  return {
    seconds: elapsed,
    sent,
    answered,
    lost,
    qps: answered / elapsed,
    avgLatencyMs: latencySum / Math.max(1, answered),
    rcodes,
    maxPerSourceQps: Math.max(...perSource) / elapsed,
  };
}
