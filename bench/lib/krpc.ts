// Raw KRPC from the bench process: fills a daemon's peer store with announcements from several
// loopback addresses (get_peers for a token, then announce_peer for many info hashes), paced, and
// sent again (at most 3 rounds) for the ones not acknowledged.
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import bencode from 'bencode';

interface Reply {
  t?: Uint8Array;
  y?: Uint8Array;
  r?: { token?: Uint8Array };
}

function decode(msg: Buffer): Reply | null {
  try {
    return bencode.decode(msg) as Reply;
  } catch {
    return null;
  }
}

const text = (b: Uint8Array | undefined) => (b ? Buffer.from(b).toString('latin1') : '');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * From each source address, one get_peers for a token, then `perSource` announce_peer messages for
 * distinct random info hashes, about `ratePerSecond` in total. Returns how many were acknowledged.
 */
export async function storeAnnouncements(opts: { port: number; sources: string[]; perSource: number; ratePerSecond: number; rounds: number }): Promise<{ sent: number; acked: number; errors: number; ms: number }> {
  const t0 = performance.now();
  let sent = 0;
  let acked = 0;
  let errors = 0;
  const batch = 50;
  const pauseMs = (batch / opts.ratePerSecond) * 1000 * opts.sources.length;
  await Promise.all(
    opts.sources.map(async (source, s) => {
      const socket = dgram.createSocket('udp4');
      await new Promise<void>((r) => socket.bind(0, source, () => r()));
      const id = randomBytes(20);
      const hashes = Array.from({ length: opts.perSource }, () => randomBytes(20));
      const done = new Array<boolean>(opts.perSource).fill(false);
      let token: Buffer | null = null;
      socket.on('message', (msg) => {
        const m = decode(msg);
        if (!m) return;
        if (text(m.y) === 'e') {
          errors++;
          return;
        }
        if (text(m.y) !== 'r') return;
        if (m.t?.length === 4 && m.t[1] === 1) {
          const i = (m.t[2]! << 8) | m.t[3]!;
          if (i < done.length && !done[i]) {
            done[i] = true;
            acked++;
          }
        } else if (!token && m.r?.token) token = Buffer.from(m.r.token);
      });
      const send = (msg: object) => socket.send(Buffer.from(bencode.encode(msg)), opts.port, '127.0.0.1');
      for (let i = 0; i < 20 && !token; i++) {
        send({ t: Buffer.from([s, 0]), y: 'q', q: 'get_peers', a: { id, info_hash: randomBytes(20) } });
        await sleep(250);
      }
      if (!token) {
        socket.close();
        throw new Error(`no token for ${source}`);
      }
      for (let round = 0; round < opts.rounds; round++) {
        let inBatch = 0;
        for (let i = 0; i < opts.perSource; i++) {
          if (done[i]) continue;
          send({ t: Buffer.from([s, 1, i >> 8, i & 255]), y: 'q', q: 'announce_peer', a: { id, info_hash: hashes[i], port: 10000 + s, token, implied_port: 0 } });
          sent++;
          if (++inBatch % batch === 0) await sleep(pauseMs);
        }
        await sleep(1000);
        if (done.every(Boolean)) break;
      }
      socket.close();
    }),
  );
  return { sent, acked, errors, ms: performance.now() - t0 };
}
