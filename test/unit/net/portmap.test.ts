import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { createLogger, silentLogger, type Logger } from '../../../src/log.js';
import { forwardedPorts, GatewayError, MappingError, PortMapper, type MapRequest, type MapResult, type MappingClient, type PortMapperOptions, type UnmapRequest } from '../../../src/net/portmap.js';
import { decodeResponse, encodeMapRequest, NatPmpClient, parseProcNetRoute } from '../../../src/net/portmap-natpmp.js';
import { escapeXml, parseDescription, parseSsdpResponse, soapEnvelope, UpnpClient, xmlText } from '../../../src/net/portmap-upnp.js';

const flush = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

/** A gateway whose answers the test decides: by default every mapping is granted as asked. */
class FakeClient implements MappingClient {
  method: 'UPnP' | 'NAT-PMP' = 'NAT-PMP';
  gateway = '192.0.2.1';
  externalAddress: string | null = '198.51.100.7';
  maps: MapRequest[] = [];
  unmaps: UnmapRequest[] = [];
  closed = false;
  /** return a result, throw, or return a promise that never settles */
  onMap: (req: MapRequest, signal: AbortSignal) => Promise<MapResult> = (req) => Promise.resolve({ externalPort: req.externalPort, leaseSeconds: req.leaseSeconds });
  onUnmap: (req: UnmapRequest, signal: AbortSignal) => Promise<void> = () => Promise.resolve();
  map(req: MapRequest, signal: AbortSignal) {
    this.maps.push(req);
    return this.onMap(req, signal);
  }
  unmap(req: UnmapRequest, signal: AbortSignal) {
    this.unmaps.push(req);
    return this.onUnmap(req, signal);
  }
  close() {
    this.closed = true;
  }
}

function capture(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: createLogger('debug', (l) => lines.push(l), 'FWD'), lines };
}

const DHT = [{ port: 6881, protocols: ['UDP' as const, 'TCP' as const], description: 'kadnode DHT' }];

function mapper(finder: () => Promise<MappingClient>, options: Partial<PortMapperOptions> = {}, log: Logger = silentLogger) {
  return new PortMapper({ log, options: { ports: DHT, leaseSeconds: 1000, ...options }, finder });
}

const hang = <T>(signal: AbortSignal) => new Promise<T>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));

// ---------------------------------------------------------------- scheduling, renewal, removal

test('start() returns at once; every port is mapped UDP and TCP, external = internal', async (t: TestContext) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const client = new FakeClient();
  let release!: () => void;
  const found = new Promise<void>((r) => (release = r));
  const pm = mapper(async () => {
    await found;
    return client;
  });
  pm.start();
  t.mock.timers.tick(0);
  await flush();
  assert.deepEqual(pm.list(), ['UDP 6881 -> - searching for a gateway (kadnode DHT)', 'TCP 6881 -> - searching for a gateway (kadnode DHT)']);
  release();
  await flush();
  assert.deepEqual(
    client.maps.map((m) => `${m.protocol} ${m.internalPort}->${m.externalPort} ${m.leaseSeconds} ${m.description}`),
    ['UDP 6881->6881 1000 kadnode DHT', 'TCP 6881->6881 1000 kadnode DHT'],
  );
  assert.deepEqual(pm.list(), [
    'UDP 6881 -> 198.51.100.7:6881 NAT-PMP 192.0.2.1 lease 1000 s left (kadnode DHT)',
    'TCP 6881 -> 198.51.100.7:6881 NAT-PMP 192.0.2.1 lease 1000 s left (kadnode DHT)',
  ]);
  await pm.stop();
});

test('renews at half the granted lease, keeping the external port the gateway chose', async (t: TestContext) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const client = new FakeClient();
  // the gateway grants less than asked and another external port for UDP
  client.onMap = (req) => Promise.resolve({ externalPort: req.protocol === 'UDP' && req.externalPort === 6881 ? 16881 : req.externalPort, leaseSeconds: 600 });
  const { log, lines } = capture();
  const pm = mapper(async () => client, {}, log);
  pm.start();
  t.mock.timers.tick(0);
  await flush();
  assert.equal(client.maps.length, 2);
  assert.ok(lines.some((l) => l.startsWith('(W) FWD: UDP 6881: the gateway gave external port 16881')), lines.join('\n'));
  t.mock.timers.tick(299_000);
  await flush();
  assert.equal(client.maps.length, 2, 'not before half the lease');
  assert.match(pm.list()[0]!, /lease 301 s left/);
  t.mock.timers.tick(1000);
  await flush();
  assert.equal(client.maps.length, 4, 'renewed at half the lease');
  assert.deepEqual(client.maps.slice(2).map((m) => `${m.protocol} ${m.externalPort}`), ['UDP 16881', 'TCP 6881']);
  assert.match(pm.list()[0]!, /^UDP 6881 -> 198\.51\.100\.7:16881 .* lease 600 s left/);
  assert.equal(lines.filter((l) => l.startsWith('(I) FWD: Mapped')).length, 2, 'renewals are not logged at info');
  await pm.stop();
});

test('back-off of a refused mapping: 10, 20, 40, 40 s; one warning line', async (t: TestContext) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const client = new FakeClient();
  client.onMap = (req) => (req.protocol === 'TCP' ? Promise.reject(new MappingError('UPnP: AddPortMapping: 718 ConflictInMappingEntry', 718)) : Promise.resolve({ externalPort: req.externalPort, leaseSeconds: 3600 }));
  const { log, lines } = capture();
  const pm = mapper(async () => client, { leaseSeconds: 3600, retryMinMs: 10_000, retryMaxMs: 40_000 }, log);
  pm.start();
  t.mock.timers.tick(0);
  await flush();
  const tcpTries = () => client.maps.filter((m) => m.protocol === 'TCP').length;
  assert.equal(tcpTries(), 1);
  assert.equal(pm.list()[1], 'TCP 6881 -> - NAT-PMP 192.0.2.1 error: UPnP: AddPortMapping: 718 ConflictInMappingEntry, retry in 10 s (kadnode DHT)');
  const times: number[] = [];
  for (let s = 1; s <= 120; s++) {
    const before = tcpTries();
    t.mock.timers.tick(1000);
    await flush(3);
    if (tcpTries() > before) times.push(s);
  }
  assert.deepEqual(times, [10, 30, 70, 110]);
  assert.equal(lines.filter((l) => l.startsWith('(W) FWD: Cannot map TCP 6881')).length, 1, lines.join('\n'));
  assert.equal(client.maps.filter((m) => m.protocol === 'UDP').length, 1, 'the UDP mapping is unaffected');
  await pm.stop();
});

test('no gateway: one log line, searches again after 30 s, 60 s, 120 s', async (t: TestContext) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  let searches = 0;
  const { log, lines } = capture();
  const pm = mapper(
    async () => {
      searches++;
      throw new GatewayError('UPnP: no gateway answered the SSDP search within 2500 ms; NAT-PMP: no IPv4 default gateway');
    },
    { retryMinMs: 30_000 },
    log,
  );
  pm.start();
  t.mock.timers.tick(0);
  await flush();
  assert.equal(searches, 1);
  assert.match(pm.list()[0]!, /^UDP 6881 -> - no gateway: UPnP: no gateway answered .*, retry in 30 s \(kadnode DHT\)$/);
  const at: number[] = [];
  for (let s = 1; s <= 240; s++) {
    const before = searches;
    t.mock.timers.tick(1000);
    await flush(3);
    if (searches > before) at.push(s);
  }
  assert.deepEqual(at, [30, 90, 210]);
  assert.equal(lines.filter((l) => l.startsWith('(I) FWD: No UPnP/NAT-PMP gateway')).length, 1, lines.join('\n'));
  assert.equal(lines.filter((l) => l.startsWith('(D) FWD: No UPnP/NAT-PMP gateway')).length, 3);
  await pm.stop();
});

test('a gateway that stops answering is dropped, searched again, and everything is mapped anew', async (t: TestContext) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const first = new FakeClient();
  const second = new FakeClient();
  second.gateway = '192.0.2.2';
  const clients = [first, second];
  const { log, lines } = capture();
  const pm = mapper(async () => clients.shift()!, { leaseSeconds: 100, retryMinMs: 5000 }, log);
  pm.start();
  t.mock.timers.tick(0);
  await flush();
  assert.equal(first.maps.length, 2);
  first.onMap = () => Promise.reject(new GatewayError('NAT-PMP: no answer from 192.0.2.1 after 4 tries'));
  t.mock.timers.tick(50_000);
  await flush();
  assert.equal(first.maps.length, 3, 'the first renewal failed; the second is not tried on a gateway that is gone');
  assert.ok(first.closed);
  assert.ok(lines.some((l) => l === '(W) FWD: Lost gateway NAT-PMP at 192.0.2.1: NAT-PMP: no answer from 192.0.2.1 after 4 tries; searching again in 5 s'), lines.join('\n'));
  // the mappings live on at the gateway until their lease ends
  assert.match(pm.list()[0]!, /^UDP 6881 -> 198\.51\.100\.7:6881 NAT-PMP 192\.0\.2\.1 lease 50 s left/);
  t.mock.timers.tick(5000);
  await flush();
  assert.equal(second.maps.length, 2, 'both mapped on the new gateway');
  assert.match(pm.list()[1]!, /^TCP 6881 -> 198\.51\.100\.7:6881 NAT-PMP 192\.0\.2\.2 lease 100 s left/);
  await pm.stop();
  assert.equal(second.unmaps.length, 2);
  assert.equal(first.unmaps.length, 0);
});

test('a permanent lease (gateway without lease support) is checked again every 30 minutes', async (t: TestContext) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const client = new FakeClient();
  client.method = 'UPnP';
  client.gateway = '192.0.2.1:5000';
  client.onMap = (req) => Promise.resolve({ externalPort: req.externalPort, leaseSeconds: 0 });
  const pm = mapper(async () => client);
  pm.start();
  t.mock.timers.tick(0);
  await flush();
  assert.equal(pm.list()[0], 'UDP 6881 -> 198.51.100.7:6881 UPnP 192.0.2.1:5000 lease permanent (kadnode DHT)');
  t.mock.timers.tick(30 * 60_000 - 1);
  await flush();
  assert.equal(client.maps.length, 2);
  t.mock.timers.tick(1);
  await flush();
  assert.equal(client.maps.length, 4);
  await pm.stop();
});

test('stop() removes every mapping it asked for, including one whose answer is still out, then closes the client', async (t: TestContext) => {
  const client = new FakeClient();
  client.onMap = (req, signal) => (req.protocol === 'TCP' ? hang(signal) : Promise.resolve({ externalPort: req.externalPort, leaseSeconds: 1000 }));
  const { log, lines } = capture();
  const pm = mapper(async () => client, {}, log);
  pm.start();
  for (let i = 0; i < 50 && client.maps.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(client.maps.length, 2);
  const t0 = performance.now();
  await pm.stop();
  assert.ok(performance.now() - t0 < 1000, 'the request in flight was aborted, not waited for');
  assert.deepEqual(client.unmaps.map((u) => `${u.protocol} ${u.internalPort} ${u.externalPort}`).sort(), ['TCP 6881 6881', 'UDP 6881 6881']);
  assert.ok(client.closed);
  assert.ok(lines.includes('(I) FWD: Removed 2 port mappings from NAT-PMP gateway 192.0.2.1'), lines.join('\n'));
  assert.equal(await pm.stop(), undefined, 'stop twice is fine');
  assert.equal(client.unmaps.length, 2);
  t.diagnostic(`stop took ${Math.round(performance.now() - t0)} ms`);
});

test('stop() is bounded when the gateway does not answer the removals', async () => {
  const client = new FakeClient();
  client.onUnmap = (_req, signal) => hang(signal);
  const { log, lines } = capture();
  const pm = mapper(async () => client, { stopTimeoutMs: 200 }, log);
  pm.start();
  for (let i = 0; i < 50 && client.maps.length < 2; i++) await new Promise((r) => setTimeout(r, 5));
  const t0 = performance.now();
  await pm.stop();
  const ms = performance.now() - t0;
  assert.ok(ms >= 150 && ms < 1500, `stop took ${ms} ms`);
  assert.ok(lines.some((l) => l.startsWith('(W) FWD: Could not remove 2 of 2 port mappings from NAT-PMP gateway 192.0.2.1')), lines.join('\n'));
  assert.ok(client.closed);
});

test('stop() during the gateway search ends the search and removes nothing', async () => {
  let aborted = false;
  const pm2 = new PortMapper({
    log: silentLogger,
    options: { ports: DHT, discoveryTimeoutMs: 60_000 },
    finder: (signal) =>
      new Promise((_, reject) =>
        signal.addEventListener('abort', () => {
          aborted = true;
          reject(signal.reason);
        }),
      ),
  });
  pm2.start();
  await new Promise((r) => setTimeout(r, 20));
  const t0 = performance.now();
  await pm2.stop();
  assert.ok(aborted);
  assert.ok(performance.now() - t0 < 500);
});

test('addPort maps a port added at run time; removePort removes it from the gateway', async (t: TestContext) => {
  t.mock.timers.enable({ apis: ['setTimeout', 'Date'] });
  const client = new FakeClient();
  const pm = mapper(async () => client);
  pm.start();
  t.mock.timers.tick(0);
  await flush();
  assert.equal(pm.addPort(6881), false, 'already forwarded');
  assert.equal(pm.addPort(1), false, 'ports <= 1 are never forwarded');
  assert.equal(pm.addPort(8080, 'kadnode value'), true);
  t.mock.timers.tick(0);
  await flush();
  assert.deepEqual(client.maps.slice(2).map((m) => `${m.protocol} ${m.internalPort}`), ['UDP 8080', 'TCP 8080']);
  assert.equal(pm.list().length, 4);
  assert.equal(pm.removePort(8080), true);
  await flush();
  assert.deepEqual(client.unmaps.map((u) => `${u.protocol} ${u.internalPort}`), ['UDP 8080', 'TCP 8080']);
  assert.equal(pm.list().length, 2);
  await pm.stop();
});

test('forwardedPorts: the DHT port, then each explicit value port once; ports <= 1 never', () => {
  assert.deepEqual(forwardedPorts(6881, [undefined, 8080, 6881, 8080, 1, 0, 443]), [
    { port: 6881, protocols: ['UDP', 'TCP'], description: 'kadnode DHT' },
    { port: 8080, protocols: ['UDP', 'TCP'], description: 'kadnode value' },
    { port: 443, protocols: ['UDP', 'TCP'], description: 'kadnode value' },
  ]);
});

// ---------------------------------------------------------------- NAT-PMP wire format and client

test('NAT-PMP: request and response encoding (RFC 6886)', () => {
  assert.equal(encodeMapRequest('UDP', 6881, 6881, 1920).toString('hex'), '000100001ae11ae100000780');
  assert.equal(encodeMapRequest('TCP', 80, 0, 0).toString('hex'), '000200000050000000000000');
  const map = Buffer.from('008100000000002a1ae141a100000780', 'hex');
  assert.deepEqual(decodeResponse(map), { op: 1, result: 0, epoch: 42, internalPort: 6881, externalPort: 16801, lifetime: 1920 });
  assert.deepEqual(decodeResponse(Buffer.from('008000000000000ac6336407', 'hex')), { op: 0, result: 0, epoch: 10, address: '198.51.100.7' });
  assert.equal(decodeResponse(Buffer.from('0001000000000000', 'hex')), null, 'a request is not a response');
  assert.equal(decodeResponse(Buffer.from('0081', 'hex')), null, 'too short');
});

test('NAT-PMP: default gateway from /proc/net/route', () => {
  const text =
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n' +
    'eth0\t0001C90A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n' +
    'eth0\t00000000\t0101C90A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n';
  assert.equal(parseProcNetRoute(text), '10.201.1.1');
  assert.equal(parseProcNetRoute(text.split('\n').slice(0, 2).join('\n')), null);
});

/** A NAT-PMP gateway on 127.0.0.1 that answers through `answer` (null: drop the request). */
async function fakePmpGateway(t: TestContext, answer: (req: Buffer, n: number) => Buffer | null): Promise<{ port: number; received: Buffer[] }> {
  const socket: Socket = createSocket('udp4');
  const received: Buffer[] = [];
  socket.on('message', (msg, rinfo) => {
    received.push(msg);
    const reply = answer(msg, received.length);
    if (reply) socket.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  t.after(() => socket.close());
  return { port: (socket.address() as AddressInfo).port, received };
}

function pmpAnswer(req: Buffer, result = 0, externalPort?: number): Buffer {
  const op = req[1]!;
  if (op === 0) return Buffer.from([0, 128, result >> 8, result & 255, 0, 0, 0, 1, 198, 51, 100, 7]);
  const b = Buffer.alloc(16);
  b[1] = 128 + op;
  b.writeUInt16BE(result, 2);
  b.writeUInt32BE(1, 4);
  b.writeUInt16BE(req.readUInt16BE(4), 8);
  b.writeUInt16BE(externalPort ?? req.readUInt16BE(6), 10);
  b.writeUInt32BE(req.readUInt32BE(8), 12);
  return b;
}

test('NAT-PMP client: retransmits a lost request, and an aborted one does not block the next', async (t: TestContext) => {
  // drops the 1st and 3rd datagrams
  const gw = await fakePmpGateway(t, (req, n) => (n === 1 || n === 3 ? null : pmpAnswer(req)));
  const client = new NatPmpClient('127.0.0.1', { port: gw.port, initialRetryMs: 30 });
  t.after(() => client.close());
  assert.equal(await client.probe(AbortSignal.timeout(2000)), '198.51.100.7');
  assert.equal(gw.received.length, 2, 'answered on the retransmission');
  // this one is aborted before its retransmission
  await assert.rejects(client.map({ protocol: 'UDP', internalPort: 6881, externalPort: 6881, leaseSeconds: 1920, description: '' }, AbortSignal.timeout(10)));
  const r = await client.map({ protocol: 'TCP', internalPort: 6881, externalPort: 6881, leaseSeconds: 1920, description: '' }, AbortSignal.timeout(2000));
  assert.deepEqual(r, { externalPort: 6881, leaseSeconds: 1920, externalAddress: '198.51.100.7' });
  await client.unmap({ protocol: 'UDP', internalPort: 6881, externalPort: 6881 }, AbortSignal.timeout(2000));
  const last = gw.received.at(-1)!;
  assert.equal(last.toString('hex'), '000100001ae1000000000000', 'removal: lifetime 0, suggested external port 0');
});

test('NAT-PMP client: refused mapping is a MappingError, silence a GatewayError after the tries', async (t: TestContext) => {
  const gw = await fakePmpGateway(t, (req) => (req[1] === 1 ? pmpAnswer(req, 2) : null));
  const client = new NatPmpClient('127.0.0.1', { port: gw.port, initialRetryMs: 10, tries: 3 });
  t.after(() => client.close());
  await assert.rejects(client.map({ protocol: 'UDP', internalPort: 7000, externalPort: 7000, leaseSeconds: 60, description: '' }, AbortSignal.timeout(2000)), (err: Error) => err instanceof MappingError && /not authorized\/refused/.test(err.message));
  const before = gw.received.length;
  await assert.rejects(client.map({ protocol: 'TCP', internalPort: 7000, externalPort: 7000, leaseSeconds: 60, description: '' }, AbortSignal.timeout(2000)), (err: Error) => err instanceof GatewayError && /after 3 tries/.test(err.message));
  assert.equal(gw.received.length - before, 3);
});

test('NAT-PMP client: a gateway without the service (ICMP port unreachable) fails at once', async () => {
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  const port = (socket.address() as AddressInfo).port;
  await new Promise<void>((r) => socket.close(() => r()));
  const client = new NatPmpClient('127.0.0.1', { port, tries: 9 });
  const t0 = performance.now();
  await assert.rejects(client.probe(AbortSignal.timeout(5000)), (err: Error) => err instanceof GatewayError && /refused/.test(err.message));
  assert.ok(performance.now() - t0 < 1000, 'did not wait for the retransmissions');
  client.close();
});

// ---------------------------------------------------------------- UPnP parsing and client

test('SSDP: answers with a LOCATION are parsed, others ignored', () => {
  const ok = 'HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nUSN: uuid:x::urn:schemas-upnp-org:device:InternetGatewayDevice:1\r\nlocation: http://10.0.0.1:5000/rootDesc.xml\r\n\r\n';
  assert.deepEqual(parseSsdpResponse(ok), { location: 'http://10.0.0.1:5000/rootDesc.xml', st: 'urn:schemas-upnp-org:device:InternetGatewayDevice:1', usn: 'uuid:x::urn:schemas-upnp-org:device:InternetGatewayDevice:1' });
  assert.equal(parseSsdpResponse('M-SEARCH * HTTP/1.1\r\nST: ssdp:all\r\n\r\n'), null);
  assert.equal(parseSsdpResponse('HTTP/1.1 200 OK\r\nLOCATION: file:///etc/passwd\r\n\r\n'), null);
});

const DESCRIPTION = (services: string, urlBase = '') => `<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0">${urlBase}
<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
<serviceList><service><serviceType>urn:schemas-upnp-org:service:Layer3Forwarding:1</serviceType><controlURL>/ctl/L3F</controlURL></service></serviceList>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType><deviceList><device>
<serviceList>${services}</serviceList></device></deviceList></device></deviceList></device></root>`;

test('UPnP description: the WAN connection service and its absolute control URL', () => {
  const v1 = '<service><serviceType>urn:schemas-upnp-org:service:WANPPPConnection:1</serviceType><controlURL>/ppp</controlURL></service>' +
    '<service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType><serviceId>x</serviceId><controlURL>/ctl/IPConn</controlURL></service>';
  assert.deepEqual(parseDescription(DESCRIPTION(v1), 'http://10.0.0.1:5000/rootDesc.xml'), { serviceType: 'urn:schemas-upnp-org:service:WANIPConnection:1', controlUrl: 'http://10.0.0.1:5000/ctl/IPConn' });
  assert.deepEqual(parseDescription(DESCRIPTION(v1, '<URLBase>http://10.0.0.1:49000/</URLBase>'), 'http://10.0.0.1:5000/rootDesc.xml')?.controlUrl, 'http://10.0.0.1:49000/ctl/IPConn');
  assert.equal(parseDescription(DESCRIPTION(''), 'http://10.0.0.1:5000/rootDesc.xml'), null);
  assert.equal(xmlText('<s:Fault><detail><UPnPError xmlns="x"><errorCode>718</errorCode><errorDescription>A &amp; B</errorDescription></UPnPError></detail></s:Fault>', 'errorDescription'), 'A & B');
  assert.equal(escapeXml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;');
  assert.match(soapEnvelope('urn:schemas-upnp-org:service:WANIPConnection:1', 'DeletePortMapping', [['NewExternalPort', 6881]]), /<u:DeletePortMapping xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1"><NewExternalPort>6881<\/NewExternalPort><\/u:DeletePortMapping>/);
});

/** A UPnP IGD on 127.0.0.1: serves the description and answers SOAP through `soap`. */
async function fakeIgd(t: TestContext, version: 1 | 2, soap: (action: string, body: string) => { status: number; body: string }): Promise<{ url: string; actions: { action: string; body: string }[] }> {
  const actions: { action: string; body: string }[] = [];
  const service = `urn:schemas-upnp-org:service:WANIPConnection:${version}`;
  const server: Server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.method === 'GET' && req.url === '/rootDesc.xml') {
        res.end(DESCRIPTION(`<service><serviceType>${service}</serviceType><controlURL>/ctl/IPConn</controlURL></service>`));
        return;
      }
      const action = /#(\w+)"?$/.exec(String(req.headers.soapaction))?.[1] ?? '?';
      actions.push({ action, body });
      const r = soap(action, body);
      res.writeHead(r.status, { 'Content-Type': 'text/xml' }).end(r.body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  t.after(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/rootDesc.xml`, actions };
}

const soapOk = (action: string, inner = '') => ({ status: 200, body: `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><u:${action}Response xmlns:u="x">${inner}</u:${action}Response></s:Body></s:Envelope>` });
const soapFault = (code: number, text: string) => ({
  status: 500,
  body: `<?xml version="1.0"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail><UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>${code}</errorCode><errorDescription>${text}</errorDescription></UPnPError></detail></s:Fault></s:Body></s:Envelope>`,
});

test('UPnP client (IGD v1): maps with our address as internal client; 725 falls back to a permanent lease; 714 on removal is fine', async (t: TestContext) => {
  const igd = await fakeIgd(t, 1, (action, body) => {
    if (action === 'GetExternalIPAddress') return soapOk(action, '<NewExternalIPAddress>198.51.100.7</NewExternalIPAddress>');
    if (action === 'AddPortMapping') return /<NewLeaseDuration>0</.test(body) ? soapOk(action) : soapFault(725, 'OnlyPermanentLeasesSupported');
    if (action === 'DeletePortMapping') return soapFault(714, 'NoSuchEntryInArray');
    return soapFault(401, 'Invalid Action');
  });
  const client = await UpnpClient.fromLocation(igd.url, AbortSignal.timeout(2000));
  assert.equal(client.externalAddress, '198.51.100.7');
  assert.equal(client.gateway, new URL(igd.url).host);
  const r = await client.map({ protocol: 'UDP', internalPort: 6881, externalPort: 6881, leaseSeconds: 1920, description: 'kadnode DHT' }, AbortSignal.timeout(2000));
  assert.deepEqual(r, { externalPort: 6881, leaseSeconds: 0, externalAddress: '198.51.100.7' });
  const add = igd.actions.filter((a) => a.action === 'AddPortMapping');
  assert.equal(add.length, 2);
  assert.match(add[0]!.body, /<NewExternalPort>6881<\/NewExternalPort><NewProtocol>UDP<\/NewProtocol><NewInternalPort>6881<\/NewInternalPort><NewInternalClient>127\.0\.0\.1<\/NewInternalClient><NewEnabled>1<\/NewEnabled><NewPortMappingDescription>kadnode DHT<\/NewPortMappingDescription><NewLeaseDuration>1920<\/NewLeaseDuration>/);
  // remembered: the next one asks for a permanent lease at once
  await client.map({ protocol: 'TCP', internalPort: 6881, externalPort: 6881, leaseSeconds: 1920, description: 'kadnode DHT' }, AbortSignal.timeout(2000));
  assert.equal(igd.actions.filter((a) => a.action === 'AddPortMapping').length, 3);
  await client.unmap({ protocol: 'TCP', internalPort: 6881, externalPort: 6881 }, AbortSignal.timeout(2000));
  assert.match(igd.actions.at(-1)!.body, /<NewExternalPort>6881<\/NewExternalPort><NewProtocol>TCP<\/NewProtocol>/, 'removal names the protocol');
});

test('UPnP client (IGD v2): a port taken by another host is re-asked with AddAnyPortMapping; other faults are MappingErrors', async (t: TestContext) => {
  const igd = await fakeIgd(t, 2, (action, body) => {
    if (action === 'GetExternalIPAddress') return soapFault(501, 'ActionFailed');
    if (action === 'AddPortMapping') return /<NewExternalPort>6881</.test(body) ? soapFault(718, 'ConflictInMappingEntry') : soapFault(606, 'Action not authorized');
    if (action === 'AddAnyPortMapping') return soapOk(action, '<NewReservedPort>16881</NewReservedPort>');
    return soapFault(401, 'Invalid Action');
  });
  const client = await UpnpClient.fromLocation(igd.url, AbortSignal.timeout(2000));
  assert.equal(client.externalAddress, null, 'no external address is not fatal');
  const r = await client.map({ protocol: 'UDP', internalPort: 6881, externalPort: 6881, leaseSeconds: 1920, description: 'd' }, AbortSignal.timeout(2000));
  assert.equal(r.externalPort, 16881);
  await assert.rejects(client.map({ protocol: 'UDP', internalPort: 80, externalPort: 80, leaseSeconds: 1920, description: 'd' }, AbortSignal.timeout(2000)), (err: Error) => err instanceof MappingError && err.code === 606 && err.message === 'UPnP: AddPortMapping: 606 Action not authorized');
});

test('UPnP client: an unreachable gateway is a GatewayError', async () => {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as AddressInfo).port;
  await new Promise((r) => server.close(r));
  await assert.rejects(UpnpClient.fromLocation(`http://127.0.0.1:${port}/rootDesc.xml`, AbortSignal.timeout(2000)), (err: Error) => err instanceof GatewayError && /ECONNREFUSED/.test(err.message));
});
