// Run inside a test's network namespace: one raw BEP 44 `get` (Bep44Client) to each node given, printing
// what each holds for the key as one JSON line: {"node", "answered", "seq", "v" (hex)}.
//   node dist/test/helpers/bep44-probe.js BIND_ADDR PUBLIC_KEY_HEX HOST:PORT...
import { Bep44Client } from './bep44-client.js';

const [bind, keyHex, ...nodes] = process.argv.slice(2);
if (!bind || !keyHex || nodes.length === 0) {
  process.stderr.write('usage: bep44-probe BIND_ADDR PUBLIC_KEY_HEX HOST:PORT...\n');
  process.exit(2);
}
const client = await Bep44Client.open(bind);
try {
  for (const node of nodes.slice(0, 16)) {
    const at = node.lastIndexOf(':');
    const held = await client.get(node.slice(0, at), Number(node.slice(at + 1)), Buffer.from(keyHex, 'hex'));
    const item = held?.item;
    process.stdout.write(JSON.stringify({ node, answered: held !== null, seq: item?.seq ?? null, v: item ? item.v.toString('hex') : null }) + '\n');
  }
} finally {
  client.close();
}
