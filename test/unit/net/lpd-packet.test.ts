// KadNode 2.x's LPD datagram `DHT <port>` beside KadNode 1.x's BT-SEARCH (the BT-SEARCH parser's own
// cases are in test/unit/net/lpd.test.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatKadnode2LpdPacket, formatLpdPacket, LpdPacketError, parseLpdPacket } from '../../../src/net/lpd-packet.js';

const text = (s: string): Buffer => Buffer.from(s, 'latin1');

test('KadNode 2.x: `DHT <port>`, ASCII, no terminator, as its ext-lpd.c sends it', () => {
  assert.equal(formatKadnode2LpdPacket(6881).toString('latin1'), 'DHT 6881');
  assert.deepEqual(parseLpdPacket(formatKadnode2LpdPacket(6881)), { port: 6881, infohashes: [], format: 'kadnode2' });
  assert.equal(parseLpdPacket(text('DHT 1')).port, 1);
  assert.equal(parseLpdPacket(text('DHT 65535\n')).port, 65535, 'a line end is tolerated');
  assert.equal(parseLpdPacket(text('DHT 7000\r\n')).port, 7000);
});

test('KadNode 2.x: anything else starting with DHT is refused with a reason', () => {
  for (const bad of ['DHT 0', 'DHT 65536', 'DHT 123456', 'DHT ', 'DHT x', 'DHT 6881 6882', 'DHT  6881', 'DHT -1', 'DHT +6881', 'DHT 6881\n\n', 'DHT 6881\0']) {
    assert.throws(() => parseLpdPacket(text(bad)), (err: unknown) => err instanceof LpdPacketError && err.message.length > 0, JSON.stringify(bad));
  }
  // not the 2.x form at all: the BT-SEARCH rules answer
  assert.throws(() => parseLpdPacket(text('DHT-SEARCH * HTTP/1.0\r\nPort: 6881\r\n\r\n')), /not a BT-SEARCH request line/);
});

test('the two forms stay apart: a BT-SEARCH packet never reads as a 2.x one', () => {
  const bt = formatLpdPacket({ group: '239.192.152.143', lpdPort: 6771, port: 6881 });
  assert.equal(parseLpdPacket(bt).format, undefined);
  // KadNode 2.x reads at most 15 bytes: our BT-SEARCH packet's first 15 do not start with "DHT "
  assert.ok(!bt.subarray(0, 15).toString('latin1').startsWith('DHT '));
});
