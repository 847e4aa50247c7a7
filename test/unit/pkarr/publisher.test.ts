// The publisher (src/pkarr/publisher.ts) against a fake DHT: seq never goes back (clock or DHT),
// `auto` waits for the address and publishes again when it changes, an oversized packet names its size.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import sodium from 'sodium-native';
import type { MutableItem } from '../../../src/dht/item-store.js';
import type { Logger } from '../../../src/log.js';
import { checkItem, signPacket } from '../../../src/pkarr/packet.js';
import { DEFAULT_PUBLISHER_OPTIONS, PkarrPublisher, type PublishTarget } from '../../../src/pkarr/publisher.js';
import { parseZone } from '../../../src/pkarr/zone.js';
import type { Family } from '../../../src/types.js';

const sk = Buffer.alloc(64);
const pk = Buffer.alloc(32);
sodium.crypto_sign_seed_keypair(pk, sk, Buffer.alloc(32, 3));

class FakeDht implements PublishTarget {
  nodes = 1;
  puts: MutableItem[] = [];
  stored: MutableItem[] = [];
  onDht: MutableItem[] = [];
  addresses: Partial<Record<Family, string>> = {};
  private addressListeners: Array<(a: string, f: Family) => void> = [];
  nodeCount = () => this.nodes;
  onNodeAdded(): void {}
  async getMutable(_t: Buffer, onItem: (i: MutableItem) => void): Promise<void> {
    for (const i of this.onDht) onItem(i);
  }
  async putMutable(item: MutableItem): Promise<number> {
    this.puts.push(item);
    return 20;
  }
  storeItem(item: MutableItem): void {
    this.stored.push(item);
  }
  externalAddress = (f: Family) => this.addresses[f] ?? null;
  onExternalAddress(l: (a: string, f: Family) => void): void {
    this.addressListeners.push(l);
  }
  learn(f: Family, a: string): void {
    this.addresses[f] = a;
    for (const l of this.addressListeners) l(a, f);
  }
}

function logger(lines: string[]): Logger {
  const log: Logger = { error: (m) => lines.push(`E ${m}`), warn: (m) => lines.push(`W ${m}`), info: (m) => lines.push(`I ${m}`), debug: () => {}, child: () => log };
  return log;
}

const settle = () => new Promise((r) => setTimeout(r, 20));

test('seq is the time in µs, never lower than the last one published nor one of ours on the DHT', async () => {
  let clock = 1_700_000_000_000;
  const dht = new FakeDht();
  // a correctly signed packet of ours from the future (another clock), and a forged one with a higher seq
  const ours = signPacket(sk, Buffer.from('000084000000000000000000', 'hex'), 1_800_000_000_000_000);
  dht.onDht = [
    { k: pk, seq: ours.seq, sig: ours.signature, v: ours.v },
    { k: pk, seq: 1_900_000_000_000_000, sig: Buffer.alloc(64, 1), v: ours.v },
  ];
  const lines: string[] = [];
  const p = new PkarrPublisher({ dht, log: logger(lines), secretKey: sk, records: parseZone('@ 300 TXT "x"', { source: 'z' }) }, DEFAULT_PUBLISHER_OPTIONS, () => clock);
  p.start();
  await settle();
  p.stop();
  assert.equal(dht.puts.length, 1);
  assert.equal(dht.puts[0]!.seq, 1_800_000_000_000_001, 'above our own item on the DHT, not the forged one');
  assert.equal(dht.stored.length, 1, 'kept on this node too');
  const checked = checkItem(dht.puts[0]!);
  assert.equal(checked.answers.length, 1);
  // the clock going back does not take seq with it
  clock -= 60_000;
  assert.ok(p.build().seq > 1_800_000_000_000_001);
  assert.ok(p.ownPacket(pk));
  assert.ok(lines.some((l) => /^I Published .*seq 1800000000000001, 1 records, \d+ bytes, stored on 20 nodes$/.test(l)), lines.join('\n'));
});

test('auto waits for the address, then the packet goes out with it; a new address publishes again', async () => {
  let clock = 1_700_000_000_000;
  const dht = new FakeDht();
  const lines: string[] = [];
  const records = parseZone('@ 300 A auto\n@ 300 TXT "t"', { source: 'z' });
  const p = new PkarrPublisher({ dht, log: logger(lines), secretKey: sk, records }, { ...DEFAULT_PUBLISHER_OPTIONS, autoWaitMs: 60_000 }, () => clock);
  p.start();
  await settle();
  assert.equal(dht.puts.length, 0, 'waiting for the address');
  dht.learn(4, '198.51.100.9');
  await settle();
  assert.equal(dht.puts.length, 1);
  assert.deepEqual(checkItem(dht.puts[0]!).answers.map((a) => [a.type, (a as { data: unknown }).data]).filter(([t]) => t === 'A'), [['A', '198.51.100.9']]);
  clock += 1000;
  dht.learn(4, '198.51.100.10');
  await settle();
  p.stop();
  assert.equal(dht.puts.length, 2);
  assert.ok(dht.puts[1]!.seq > dht.puts[0]!.seq);
  assert.ok(checkItem(dht.puts[1]!).answers.some((a) => (a as { data: unknown }).data === '198.51.100.10'));
});

test('a packet over 1000 bytes is not published; the error names its size', async () => {
  const dht = new FakeDht();
  const lines: string[] = [];
  const zone = Array.from({ length: 30 }, (_, i) => `n${i} 60 TXT "${'y'.repeat(40)}"`).join('\n');
  const p = new PkarrPublisher({ dht, log: logger(lines), secretKey: sk, records: parseZone(zone, { source: 'z' }) });
  assert.throws(() => p.build(), /the PKARR packet of 30 records is \d{4} bytes, over the 1000-byte limit/);
  p.start();
  await settle();
  p.stop();
  assert.equal(dht.puts.length, 0);
  assert.ok(lines.some((l) => /^E Cannot publish .*: the PKARR packet of 30 records is \d{4} bytes/.test(l)), lines.join('\n'));
  assert.ok(!lines.some((l) => l.includes(sk.toString('hex').slice(0, 64))), 'no secret key in the log');
});
