// Helper for the junk-replies namespace test (netns-junk.test.ts), run inside a namespace:
//
//   node dist/test/e2e/junk-node.js --bind ADDR --peer HOST:PORT --fakes N --serve-ms MS
//
// A DHT node on ADDR:6881 that answers every get_peers with the same N fake addresses (10.201.99.x,
// where nobody listens) and a token, as the junk nodes of the live DHT do, and ping, find_node and
// announce_peer as a node that knows nobody. It pings the peer first, so that the peer (once our ping
// reply to its check came back) hands it out in its replies. Says "(I) Ready." on stderr once the ping
// is answered, and prints one JSON line on stdout per get_peers served.
import { KrpcPeer, type Dict } from '../helpers/krpc-peer.js';

function arg(argv: string[], name: string): string {
  const i = argv.indexOf(name);
  const v = i >= 0 ? argv[i + 1] : undefined;
  if (v === undefined) throw new Error(`missing ${name}`);
  return v;
}

/** `count` compact IPv4 peers (BEP 5: 4 address bytes, 2 port bytes) in 10.201.99.0/24 */
export function fakePeers(count: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => Buffer.from([10, 201, 99, i + 1, 0x1a, 0xe1]));
}

async function main(argv: string[]): Promise<void> {
  const bind = arg(argv, '--bind');
  const [peerHost, peerPort] = arg(argv, '--peer').split(':') as [string, string];
  const values = fakePeers(Number(arg(argv, '--fakes')));
  const serveMs = Number(arg(argv, '--serve-ms'));
  const node = await KrpcPeer.open(bind, 6881);
  node.answer = (m: Dict, rinfo) => {
    const q = Buffer.from((m.q as Uint8Array) ?? []).toString();
    if (q === 'get_peers') {
      process.stdout.write(JSON.stringify({ step: 'served', to: rinfo.address }) + '\n');
      return { token: Buffer.from('junk'), values, nodes: Buffer.alloc(0) };
    }
    if (q === 'find_node') return { nodes: Buffer.alloc(0) };
    return q === 'ping' || q === 'announce_peer' ? {} : null;
  };
  await node.ask(peerHost, Number(peerPort), 'ping', {});
  process.stderr.write('(I) Ready.\n');
  await new Promise((resolve) => setTimeout(resolve, serveMs));
  node.close();
}

main(process.argv.slice(2)).catch((err: Error) => {
  process.stderr.write(`junk-node: ${err.message}\n`);
  process.exit(1);
});
