// Helper for the PKARR namespace test (netns-pkarr.test.ts), run inside a namespace:
//
//   node dist/test/e2e/pkarr-tool.js http METHOD URL [BODY_HEX [CONTENT_TYPE]]
//     one HTTP request; prints {"status", "headers", "body"} (body in hex) as one JSON line
//
//   node dist/test/e2e/pkarr-tool.js forge --bind ADDR --peer HOST:PORT --key PUBLIC_HEX --v V_HEX --seq N --serve-ms MS
//     a forged BEP 44 item (right format, wrong signature) for the key: a raw `get` to the peer for a
//     write token, a raw `put` with the forged item, a `get` again to see whether the peer kept it; then
//     for serve-ms acts as a DHT node of its own on ADDR:6881 that answers every `get` with the forged
//     item (and ping / find_node with its id), so resolvers that walk through it are handed the forgery.
//     Prints one JSON line per step: put (reply or null), kept (true/false), served (to whom).
import { createHash, randomBytes } from 'node:crypto';
import { KrpcPeer, type Dict } from '../helpers/krpc-peer.js';

function out(obj: Dict): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

async function http(method: string, url: string, bodyHex?: string, contentType?: string): Promise<void> {
  const headers = contentType ? { 'content-type': contentType } : undefined;
  const res = await fetch(url, { method, headers, body: bodyHex ? new Uint8Array(Buffer.from(bodyHex, 'hex')) : undefined, signal: AbortSignal.timeout(20_000) });
  const body = Buffer.from(await res.arrayBuffer());
  out({ status: res.status, headers: Object.fromEntries(res.headers), body: body.toString('hex') });
}

function arg(argv: string[], name: string): string {
  const i = argv.indexOf(name);
  const v = i >= 0 ? argv[i + 1] : undefined;
  if (v === undefined) throw new Error(`missing ${name}`);
  return v;
}

async function forge(argv: string[]): Promise<void> {
  const bind = arg(argv, '--bind');
  const [peerHost, peerPort] = arg(argv, '--peer').split(':') as [string, string];
  const k = Buffer.from(arg(argv, '--key'), 'hex');
  const v = Buffer.from(arg(argv, '--v'), 'hex');
  const seq = Number(arg(argv, '--seq'));
  const serveMs = Number(arg(argv, '--serve-ms'));
  const target = createHash('sha1').update(k).digest();
  const id = randomBytes(20);
  // right format: 64 bytes, but not a signature of this item by this key
  const sig = randomBytes(64);

  const peer = await KrpcPeer.open(bind, 6881);
  peer.id = id;
  const ask = (q: string, a: Dict, timeoutMs?: number) => peer.ask(peerHost, Number(peerPort), q, a, timeoutMs);

  const got = await ask('get', { target });
  const r = (got?.r ?? {}) as Dict;
  const token = r.token;
  if (!(token instanceof Uint8Array)) throw new Error(`no token from ${peerHost}: ${JSON.stringify(got)}`);
  const put = await ask('put', { token, k, seq, sig, v }, 1500);
  out({ step: 'put', reply: put ? String(put.y) : null, error: put?.e ? String(put.e) : null });
  const again = await ask('get', { target });
  out({ step: 'kept', kept: ((again?.r ?? {}) as Dict).v !== undefined });

  // Now a DHT node that hands out the forgery.
  peer.answer = (m, rinfo) => {
    const name = Buffer.from((m.q as Uint8Array) ?? []).toString();
    if (name === 'get') {
      out({ step: 'served', to: rinfo.address });
      return { token: randomBytes(8), k, seq, sig, v, nodes: Buffer.alloc(0) };
    }
    if (name === 'find_node' || name === 'get_peers') return { nodes: Buffer.alloc(0), token: randomBytes(8) };
    return {};
  };
  await new Promise((resolve) => setTimeout(resolve, serveMs));
  peer.close();
}

async function main(): Promise<void> {
  const [command, ...rest] = process.argv.slice(2);
  if (command === 'http') return http(rest[0]!, rest[1]!, rest[2], rest[3]);
  if (command === 'forge') return forge(rest);
  throw new Error(`unknown command ${command}`);
}

main().catch((err: Error) => {
  process.stderr.write(`pkarr-tool: ${err.message}\n`);
  process.exit(1);
});
