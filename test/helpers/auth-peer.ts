// A stand-in for the AUTH side of other programs, run inside a test's network namespace:
//   relay  <port> <holder ip> <holder port>   an impostor: forwards every AUTH packet it gets to the key
//                                             holder, and the holder's answers back to whoever asked,
//                                             from its own address, as they arrive
//   legacy <port> <128-hex secret key>        a KadNode 1.x key holder: answers 40-byte challenges with
//                                             the 104-byte 1.x reply, takes any other length for a reply
//   challenge <ip> <port> <id hex> <pk hex>   a KadNode 1.x resolver: one unmarked 40-byte challenge,
//                                             prints "verified" when the reply proves the key
// Prints "(I) Ready." on stderr once bound, and one stdout line per packet it handles.
import dgram from 'node:dgram';
import { encodeChallenge, encodeReply, replyProves } from '../../src/dht/auth-wire.js';
import { randomBytes } from '../../src/identity/keys.js';

const [mode, ...args] = process.argv.slice(2);
const socket = dgram.createSocket('udp4');
const ready = () => process.stderr.write('(I) Ready.\n');

if (mode === 'relay') {
  const [port, holderIp, holderPort] = [Number(args[0]), args[1]!, Number(args[2])];
  let asker: dgram.RemoteInfo | null = null;
  socket.on('message', (msg, rinfo) => {
    if (msg.subarray(0, 4).toString() !== 'AUTH') return;
    if (rinfo.address === holderIp) {
      if (!asker) return;
      console.log(`to-asker ${msg.length}`);
      socket.send(msg, asker.port, asker.address);
      return;
    }
    asker = rinfo;
    console.log(`to-holder ${msg.length}`);
    socket.send(msg, holderPort, holderIp);
  });
  socket.bind(port, ready);
} else if (mode === 'legacy') {
  const [port, secretKey] = [Number(args[0]), Buffer.from(args[1]!, 'hex')];
  socket.on('message', (msg, rinfo) => {
    if (msg.subarray(0, 4).toString() !== 'AUTH' || msg.length !== 40) return;
    console.log(`answered ${rinfo.address}`);
    socket.send(encodeReply(msg.subarray(4, 24), msg.subarray(24), secretKey), rinfo.port, rinfo.address);
  });
  socket.bind(port, ready);
} else if (mode === 'challenge') {
  const [ip, port, id, publicKey] = [args[0]!, Number(args[1]), Buffer.from(args[2]!, 'hex'), Buffer.from(args[3]!, 'hex')];
  const challenge = randomBytes(16);
  const timer = setTimeout(() => {
    console.log('no reply');
    socket.close();
  }, 5000);
  socket.on('message', (msg) => {
    if (msg.length !== 104) return;
    console.log(replyProves(msg.subarray(24), publicKey, challenge) ? 'verified' : 'invalid');
    clearTimeout(timer);
    socket.close();
  });
  socket.bind(0, () => socket.send(encodeChallenge(id, challenge), port, ip));
} else {
  console.error('usage: auth-peer relay|legacy|challenge ...');
  process.exit(2);
}
