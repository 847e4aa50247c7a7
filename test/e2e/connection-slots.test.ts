// No slot hogging, against the real bin/kadnode: one local process holds every slot of a TCP surface
// with idle connections (DNS over TCP 64, control port 16, web port 64 sending headers that never end),
// yet a fresh real client (dig +tcp, kadnode-ctl, an HTTP GET) is served at once, while all the other
// hog connections are still open (so no time-out freed the slot: they are 5-30 s), and again after the
// hog reconnects. Before, the newcomer was closed until the hog's connections timed out.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { dig, emptyPeerFile, kadnodeCtl, pickPorts, skipUnlessDig, sleep, startDaemon, tempDir, type Daemon } from './harness.js';

// the limits in src/surfaces/dns.ts (MAX_TCP_CONNECTIONS), control.ts and web.ts (MAX_CONNECTIONS)
const DNS_TCP_SLOTS = 64;
const CONTROL_SLOTS = 16;
const WEB_SLOTS = 64;

interface Hog {
  sockets: net.Socket[];
  /** how many the daemon closed */
  closed(): number;
  destroy(): void;
}

/** Opens `count` connections (each sends `first`, if given, and then nothing); resolves once all are connected and accepted. */
async function hog(port: number, count: number, first?: string): Promise<Hog> {
  const sockets: net.Socket[] = [];
  let closedCount = 0;
  const h: Hog = { sockets, closed: () => closedCount, destroy: () => sockets.forEach((s) => s.destroy()) };
  try {
    await Promise.all(
      Array.from({ length: count }, () => {
        const socket = net.connect({ port, host: '127.0.0.1' });
        sockets.push(socket);
        socket.on('error', () => undefined);
        socket.once('close', () => closedCount++);
        return new Promise<void>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('hog connection not established in 5 s')), 5000);
          socket.once('connect', () => {
            clearTimeout(timer);
            if (first !== undefined) socket.write(first);
            resolve();
          });
        });
      }),
    );
    // the daemon accepts them from its listen queue; give it a moment, then none may have been closed
    await sleep(300);
    assert.equal(closedCount, 0, `the daemon closed ${closedCount} of the ${count} hog connections before the newcomer came`);
    return h;
  } catch (err) {
    h.destroy();
    throw err;
  }
}

/** GET /status on a connection of its own; the status code, or the error. */
function httpStatus(port: number): Promise<number | string> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/status', agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve((err as NodeJS.ErrnoException).code ?? err.message));
  });
}

/** The hog's closed count once the eviction's FIN has been seen: it may arrive after the newcomer's answer (bounded, 1 s). */
async function closedSoon(h: { closed(): number }): Promise<number> {
  for (let i = 0; i < 20 && h.closed() === 0; i++) await sleep(50);
  return h.closed();
}

describe('one client holding every connection slot does not lock others out', { timeout: 120_000 }, () => {
  let tmp: ReturnType<typeof tempDir>;
  let daemon: Daemon;
  let dns: number;
  let cmd: number;
  let web: number;

  before(async () => {
    tmp = tempDir('kadnode-slots');
    const [dht, ...rest] = await pickPorts(4);
    [dns, cmd, web] = rest as [number, number, number];
    daemon = await startDaemon({
      args: ['--port', String(dht), '--dns-port', String(dns), '--dns-addr', '127.0.0.1', '--cmd-port', String(cmd), '--web-port', String(web), '--peerfile', emptyPeerFile(tmp.path), '--value-id', 'mine.p2p', '--cmd-disable-stdin', '--verbosity', 'debug'],
      stdin: 'ignore',
      label: 'slots daemon',
    });
  });
  after(async () => {
    await daemon?.stop(10_000);
    tmp?.remove();
  });

  it(`DNS over TCP: ${DNS_TCP_SLOTS} idle connections, then dig +tcp`, { skip: skipUnlessDig() }, async () => {
    for (let round = 1; round <= 2; round++) {
      const h = await hog(dns, DNS_TCP_SLOTS);
      try {
        const r = await dig(['@127.0.0.1', '-p', String(dns), '+tcp', '+time=3', '+tries=1', 'mine.p2p', 'A'], { timeoutMs: 10_000 });
        assert.equal(r.status, 'NOERROR', `round ${round}: ${r.raw}`);
        assert.deepEqual(r.answers.map((a) => a.data), ['127.0.0.1']);
        assert.ok(r.elapsedMs < 3000, `round ${round}: ${Math.round(r.elapsedMs)} ms`);
        assert.equal(await closedSoon(h), 1, `round ${round}: exactly one hog connection made room`);
      } finally {
        h.destroy();
      }
      await sleep(200);
    }
    assert.ok(daemon.stderrLines.some((l) => /TCP connections taken: closed the one idle longest/.test(l)), daemon.stderrLines.slice(-20).join('\n'));
  });

  it(`control port: ${CONTROL_SLOTS} idle connections, then kadnode-ctl`, async () => {
    for (let round = 1; round <= 2; round++) {
      const h = await hog(cmd, CONTROL_SLOTS);
      try {
        const t0 = performance.now();
        const r = await kadnodeCtl(['-p', String(cmd), 'status'], { timeoutMs: 10_000 });
        const ms = performance.now() - t0;
        assert.equal(r.code, 0, `round ${round}: ${r.stderr}`);
        assert.match(r.stdout, /Node id|DHT/i);
        // the control port lets an idle connection go after 5 s: the answer came well before
        assert.ok(ms < 3000, `round ${round}: ${Math.round(ms)} ms`);
        assert.equal(await closedSoon(h), 1, `round ${round}: exactly one hog connection made room`);
      } finally {
        h.destroy();
      }
      await sleep(200);
    }
  });

  it(`web port: ${WEB_SLOTS} connections sending headers that never end, then GET /status`, async () => {
    for (let round = 1; round <= 2; round++) {
      const h = await hog(web, WEB_SLOTS, 'GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: a');
      try {
        const t0 = performance.now();
        const status = await httpStatus(web);
        const ms = performance.now() - t0;
        assert.equal(status, 200, `round ${round}`);
        assert.ok(ms < 3000, `round ${round}: ${Math.round(ms)} ms`);
        assert.equal(await closedSoon(h), 1, `round ${round}: exactly one hog connection made room`);
      } finally {
        h.destroy();
      }
      await sleep(200);
    }
  });
});
