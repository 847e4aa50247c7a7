// A forger of KadNode 2.x bob proofs, run inside a test's network namespace:
//   forger <port> <reply hex> <pem file>   answers every 67-byte BOB challenge twice: with <reply hex> (a
//                                          real key holder's reply to another challenge: a replay), and
//                                          with a DER signature of the challenge by the key in <pem file>
//                                          (right challenge, wrong key)
// Prints "(I) Ready." on stderr once bound, and "answered <ip>" on stdout per challenge.
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { encodeBobReply, parseBobPacket } from '../../src/dht/bob-auth.js';
import { loadBobCurve, parseBobKeyPem } from '../../src/identity/bob.js';

const [mode, ...args] = process.argv.slice(2);
if (mode !== 'forger' || args.length !== 3) {
  console.error('usage: bob-peer forger <port> <reply hex> <pem file>');
  process.exit(2);
}
const [port, replay, otherKey] = [Number(args[0]), Buffer.from(args[1]!, 'hex'), parseBobKeyPem(readFileSync(args[2]!))];
await loadBobCurve();
const socket = dgram.createSocket('udp4');
socket.on('message', (msg, rinfo) => {
  const packet = parseBobPacket(msg);
  if (packet.kind !== 'challenge') return;
  console.log(`answered ${rinfo.address}`);
  socket.send(replay, rinfo.port, rinfo.address);
  socket.send(encodeBobReply(packet.challenge, otherKey.secret), rinfo.port, rinfo.address);
});
socket.bind(port, () => process.stderr.write('(I) Ready.\n'));
