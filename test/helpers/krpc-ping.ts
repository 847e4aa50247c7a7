// "Does the node still answer?" for tests that throw junk at a DHT node first: pings from `client`
// until a reply (y = r) comes back, bounded (20 tries, 200 ms apart). Queries the node sends us (it
// pings a new querier before listing it) are not replies and do not count.
import type { Socket } from 'node:dgram';
import bencode from 'bencode';

export async function pingReply(client: Socket, port: number, id: Buffer): Promise<Record<string, unknown> | undefined> {
  const ping = Buffer.from(bencode.encode({ t: 'pp', y: 'q', q: 'ping', a: { id } }));
  let reply: Record<string, unknown> | undefined;
  const onMessage = (m: Buffer) => {
    try {
      const message = bencode.decode(m) as Record<string, unknown>;
      if (message.y instanceof Uint8Array && Buffer.from(message.y).toString() === 'r') reply = message;
    } catch {
      // not bencode: not a reply
    }
  };
  client.on('message', onMessage);
  try {
    for (let attempt = 0; attempt < 20 && !reply; attempt++) {
      client.send(ping, port, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 200));
    }
  } finally {
    client.off('message', onMessage);
  }
  return reply;
}
