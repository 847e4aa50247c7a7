// The --pkarr-zone file format (src/pkarr/zone.ts) and the packet it turns into.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import dnsPacket from 'dns-packet';
import { decodeDnsPacket, encodeDnsPacket, formatRecord } from '../../../src/pkarr/packet.js';
import { parseZone, readZoneFile, usesAuto, ZoneError, zoneAnswers } from '../../../src/pkarr/zone.js';

const Z32 = '47pjoycnsrfmxikm95jh13y88e8qnhzu5kungjpxyepgt7a8krpy';
const parse = (text: string) => parseZone(text, { source: 'zone.txt', origin: Z32 });

const ZONE = `
; a comment line
@            300 IN TXT   "hello world" second   # two strings
@            300 A     auto
@            300 AAAA  auto
foo          60  A     192.0.2.1
Foo          60  AAAA  2001:db8::1
www          300 CNAME foo
ext          300 CNAME example.com.
_http._tcp   300 SRV   10 5 8080 foo
@            300 HTTPS 1 . alpn=h2,h3 port=443 ipv4hint=192.0.2.1,192.0.2.2
svc          300 SVCB  0 foo
${Z32}.      300 TXT   "absolute owner"
esc          300 TXT   "quote \\" and \\059 semicolon"
`;

test('a zone file with every type, comments, IN, absolute owners and escapes', () => {
  const records = parse(ZONE);
  assert.equal(records.length, 12);
  assert.deepEqual(records.map((r) => r.line), [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
  assert.ok(usesAuto(records));
  const { answers, skipped } = zoneAnswers(records, Z32, { 4: '198.51.100.7' });
  assert.deepEqual(skipped.map((r) => r.line), [5], 'AAAA auto without an IPv6 address is left out');
  const v = encodeDnsPacket(answers);
  const lines = decodeDnsPacket(v).map(formatRecord);
  assert.deepEqual(lines, [
    `${Z32} 300 IN TXT "hello world" "second"`,
    `${Z32} 300 IN A 198.51.100.7`,
    `foo.${Z32} 60 IN A 192.0.2.1`,
    `foo.${Z32} 60 IN AAAA 2001:db8::1`,
    `www.${Z32} 300 IN CNAME foo.${Z32}`,
    `ext.${Z32} 300 IN CNAME example.com`,
    `_http._tcp.${Z32} 300 IN SRV 10 5 8080 foo.${Z32}`,
    `${Z32} 300 IN HTTPS \\# 31 ${
      // priority 1, target root, alpn (key 1) "h2","h3", port (key 3) 443, ipv4hint (key 4) two addresses
      '0001' + '00' + '0001' + '0006' + '026832' + '026833' + '0003' + '0002' + '01bb' + '0004' + '0008' + 'c0000201' + 'c0000202'
    }`,
    `svc.${Z32} 300 IN SVCB \\# ${2 + 5 + 52 + 1} 0000${Buffer.concat([Buffer.from([3]), Buffer.from('foo'), Buffer.from([52]), Buffer.from(Z32), Buffer.from([0])]).toString('hex')}`,
    `${Z32} 300 IN TXT "absolute owner"`,
    `esc.${Z32} 300 IN TXT "quote \\" and ; semicolon"`,
  ]);
  // compressed: far smaller than dns-packet's own (uncompressed) encoding
  const plain = dnsPacket.encode({ type: 'response', answers });
  assert.ok(v.length < plain.length - 300, `${v.length} vs ${plain.length}`);
});

test('long TXT strings are split into 255-byte pieces', () => {
  const long = 'x'.repeat(600);
  const [r] = parse(`dkim 300 TXT "${long}"`);
  assert.ok(r && r.data.type === 'TXT');
  assert.deepEqual(r.data.strings.map((s) => s.length), [255, 255, 90]);
});

test('errors name the file and the line', () => {
  const cases: Array<[string, RegExp]> = [
    ['@ 300 A', /^zone\.txt:1: expected NAME TTL TYPE DATA, got 3 fields$/],
    ['\n\n@ 300 MX 10 mail', /^zone\.txt:3: unsupported type 'MX'/],
    ['@ 3x0 A 1.2.3.4', /^zone\.txt:1: invalid TTL '3x0'/],
    ['@ 300 A 1.2.3', /^zone\.txt:1: invalid A address '1\.2\.3'/],
    ['@ 300 AAAA 1.2.3.4', /^zone\.txt:1: invalid AAAA address/],
    ['# ok\nfoo 300 A 1.2.3.4 5.6.7.8', /^zone\.txt:2: A data is an IPv4 address or auto$/],
    ['foo_bar! 300 A 1.2.3.4', /^zone\.txt:1: invalid name 'foo_bar!'/],
    ['other.example. 300 A 1.2.3.4', /^zone\.txt:1: 'other\.example\.' is not under the key/],
    ['@ 300 TXT "open', /^zone\.txt:1: unterminated quoted string$/],
    ['s 300 SRV 0 0 70000 foo', /^zone\.txt:1: invalid port '70000'/],
    ['s 300 SRV 0 0 80', /^zone\.txt:1: SRV data is PRIORITY WEIGHT PORT TARGET$/],
    ['h 300 HTTPS 1 . colour=red', /^zone\.txt:1: unknown SVCB parameter 'colour'/],
    ['h 300 HTTPS 1 . port=1 port=2', /^zone\.txt:1: SVCB parameter 'port' given twice/],
    ['h 300 HTTPS 0 foo alpn=h2', /^zone\.txt:1: HTTPS with priority 0 \(alias mode\) takes no parameters/],
    ['h 300 HTTPS 1 . ipv4hint=::1', /^zone\.txt:1: invalid address '::1' in ipv4hint/],
    ['c 300 CNAME a\nx 1 A 1.1.1.1\nc 300 A 1.2.3.4', /^zone\.txt:3: 'c' has a CNAME \(line 1\) and other records \(line 3\)$/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parse(text), (err: unknown) => err instanceof ZoneError && re.test(err.message), `${JSON.stringify(text)} should fail with ${re}`);
  }
});

test('blank and comment-only files give no records', () => {
  assert.deepEqual(parse('\n   \n; nothing\n# at all\n'), []);
});

test('readZoneFile: /dev/zero and a directory are refused at once, naming what they are', () => {
  const t0 = performance.now();
  assert.throws(() => readZoneFile('/dev/zero'), (err: unknown) => err instanceof ZoneError && err.message === "zone file '/dev/zero' is a character device, not a regular file");
  assert.throws(() => readZoneFile('/'), (err: unknown) => err instanceof ZoneError && err.message === "zone file '/' is a directory, not a regular file");
  assert.ok(performance.now() - t0 < 1000);
});
