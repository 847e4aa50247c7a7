// NAT-PMP client (RFC 6886) for the port mapper: external address, map, unmap. One UDP socket per
// gateway, one request in flight at a time, retransmitted at 250 ms doubling; every request ends (answer,
// error, abort or time-out), so a lost packet never wedges the queue.
import { createSocket, type Socket } from 'node:dgram';
import { readFile } from 'node:fs/promises';
import { isIPv4 } from 'node:net';
import { GatewayError, MappingError, type MapRequest, type MapResult, type MappingClient, type Protocol, type UnmapRequest } from './portmap-types.js';

export const NATPMP_PORT = 5351;
const OP_EXTERNAL_ADDRESS = 0;
const OP_MAP_UDP = 1;
const OP_MAP_TCP = 2;

const RESULTS: Record<number, string> = {
  1: 'unsupported version',
  2: 'not authorized/refused',
  3: 'network failure',
  4: 'out of resources',
  5: 'unsupported opcode',
};

export function encodeMapRequest(protocol: Protocol, internalPort: number, externalPort: number, lifetime: number): Buffer {
  const b = Buffer.alloc(12);
  b[0] = 0;
  b[1] = protocol === 'UDP' ? OP_MAP_UDP : OP_MAP_TCP;
  b.writeUInt16BE(internalPort, 4);
  b.writeUInt16BE(externalPort, 6);
  b.writeUInt32BE(lifetime, 8);
  return b;
}

export type NatPmpResponse =
  | { op: typeof OP_EXTERNAL_ADDRESS; result: number; epoch: number; address: string }
  | { op: typeof OP_MAP_UDP | typeof OP_MAP_TCP; result: number; epoch: number; internalPort: number; externalPort: number; lifetime: number };

/** null for anything that is not a well-formed version-0 response. */
export function decodeResponse(msg: Buffer): NatPmpResponse | null {
  if (msg.length < 8 || msg[0] !== 0 || msg[1]! < 128) return null;
  const op = msg[1]! - 128;
  const result = msg.readUInt16BE(2);
  const epoch = msg.readUInt32BE(4);
  if (op === OP_EXTERNAL_ADDRESS) {
    if (msg.length < 12) return result === 0 ? null : { op, result, epoch, address: '' };
    return { op, result, epoch, address: `${msg[8]}.${msg[9]}.${msg[10]}.${msg[11]}` };
  }
  if (op === OP_MAP_UDP || op === OP_MAP_TCP) {
    if (msg.length < 16) return result === 0 ? null : { op, result, epoch, internalPort: 0, externalPort: 0, lifetime: 0 };
    return { op, result, epoch, internalPort: msg.readUInt16BE(8), externalPort: msg.readUInt16BE(10), lifetime: msg.readUInt32BE(12) };
  }
  return null;
}

/** The IPv4 default gateway from /proc/net/route (Linux); null elsewhere or when there is none. */
export async function defaultGatewayV4(routeFile = '/proc/net/route'): Promise<string | null> {
  let text: string;
  try {
    text = await readFile(routeFile, 'utf8');
  } catch {
    return null;
  }
  return parseProcNetRoute(text);
}

export function parseProcNetRoute(text: string): string | null {
  for (const line of text.split('\n').slice(1)) {
    const [, destination, gateway, flags] = line.trim().split(/\s+/);
    if (destination !== '00000000' || !gateway || !flags) continue;
    // RTF_UP | RTF_GATEWAY
    if ((parseInt(flags, 16) & 0x3) !== 0x3) continue;
    const n = parseInt(gateway, 16);
    if (!Number.isFinite(n) || n === 0) continue;
    // little-endian host order as the kernel prints it
    return `${n & 0xff}.${(n >>> 8) & 0xff}.${(n >>> 16) & 0xff}.${(n >>> 24) & 0xff}`;
  }
  return null;
}

export interface NatPmpOptions {
  /** first retransmission delay, doubled each time (RFC 6886: 250 ms) */
  initialRetryMs?: number;
  /** sends per request (RFC 6886 allows 9, about a minute; we stay short and retry later) */
  tries?: number;
  /** for tests: the gateway's port */
  port?: number;
}

export class NatPmpClient implements MappingClient {
  readonly method = 'NAT-PMP' as const;
  readonly gateway: string;
  externalAddress: string | null = null;
  private socket: Socket | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private pending: ((msg: Buffer) => void) | null = null;
  private socketError: ((err: Error) => void) | null = null;
  private closed = false;
  private readonly port: number;
  private readonly initialRetryMs: number;
  private readonly tries: number;

  constructor(gateway: string, options: NatPmpOptions = {}) {
    if (!isIPv4(gateway)) throw new Error(`NAT-PMP needs an IPv4 gateway, got '${gateway}'`);
    this.gateway = gateway;
    this.port = options.port ?? NATPMP_PORT;
    this.initialRetryMs = options.initialRetryMs ?? 250;
    this.tries = options.tries ?? 4;
  }

  /** Asks for the external address: the probe that tells whether the gateway speaks NAT-PMP. */
  async probe(signal: AbortSignal): Promise<string> {
    const r = await this.request(Buffer.from([0, OP_EXTERNAL_ADDRESS]), OP_EXTERNAL_ADDRESS, signal);
    if (r.op !== OP_EXTERNAL_ADDRESS) throw new GatewayError('NAT-PMP: unexpected answer');
    if (r.result !== 0) throw new GatewayError(`NAT-PMP: ${RESULTS[r.result] ?? `result ${r.result}`}`);
    this.externalAddress = r.address;
    return r.address;
  }

  async map(req: MapRequest, signal: AbortSignal): Promise<MapResult> {
    const op = req.protocol === 'UDP' ? OP_MAP_UDP : OP_MAP_TCP;
    const r = await this.request(encodeMapRequest(req.protocol, req.internalPort, req.externalPort, req.leaseSeconds), op, signal);
    if (r.op === OP_EXTERNAL_ADDRESS) throw new GatewayError('NAT-PMP: unexpected answer');
    if (r.result !== 0) {
      const text = `NAT-PMP: ${RESULTS[r.result] ?? `result ${r.result}`}`;
      // 1 and 5: this gateway does not do what we ask at all; the others are about this mapping
      throw r.result === 1 || r.result === 5 ? new GatewayError(text) : new MappingError(text);
    }
    return { externalPort: r.externalPort, leaseSeconds: r.lifetime, externalAddress: this.externalAddress ?? undefined };
  }

  async unmap(req: UnmapRequest, signal: AbortSignal): Promise<void> {
    // RFC 6886 3.4: lifetime 0 and suggested external port 0 delete the mapping of this internal port
    const op = req.protocol === 'UDP' ? OP_MAP_UDP : OP_MAP_TCP;
    const r = await this.request(encodeMapRequest(req.protocol, req.internalPort, 0, 0), op, signal);
    if (r.result !== 0) throw new MappingError(`NAT-PMP: ${RESULTS[r.result] ?? `result ${r.result}`}`);
  }

  close(): void {
    this.closed = true;
    this.socket?.close();
    this.socket = null;
  }

  private async open(): Promise<Socket> {
    if (this.socket) return this.socket;
    const socket = createSocket('udp4');
    socket.on('message', (msg) => this.pending?.(msg));
    socket.on('error', (err) => this.socketError?.(err));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      // connected: the kernel drops datagrams from anyone but the gateway, and ICMP errors surface
      socket.connect(this.port, this.gateway, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    // referenced only while a request is in flight (bounded), so an idle client never keeps a process alive
    socket.unref();
    if (this.closed) {
      socket.close();
      throw new GatewayError('NAT-PMP: client closed');
    }
    this.socket = socket;
    return socket;
  }

  /** Queues the request behind the one in flight; resolves the matching answer. */
  private request(packet: Buffer, op: number, signal: AbortSignal): Promise<NatPmpResponse> {
    const run = this.chain.then(() => this.exchange(packet, op, signal));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async exchange(packet: Buffer, op: number, signal: AbortSignal): Promise<NatPmpResponse> {
    if (this.closed) throw new GatewayError('NAT-PMP: client closed');
    signal.throwIfAborted();
    const socket = await this.open();
    return new Promise<NatPmpResponse>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let sent = 0;
      const finish = (err: Error | null, value?: NatPmpResponse) => {
        clearTimeout(timer);
        if (this.socket === socket) socket.unref();
        signal.removeEventListener('abort', onAbort);
        this.pending = null;
        this.socketError = null;
        if (err) reject(err);
        else resolve(value!);
      };
      const onAbort = () => finish(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      this.pending = (msg) => {
        const r = decodeResponse(msg);
        if (r && r.op === op) finish(null, r);
      };
      this.socketError = (err) => {
        const code = (err as NodeJS.ErrnoException).code;
        finish(new GatewayError(`NAT-PMP: ${code === 'ECONNREFUSED' ? 'gateway refused (no NAT-PMP service)' : err.message}`));
      };
      const send = () => {
        if (sent >= this.tries) {
          finish(new GatewayError(`NAT-PMP: no answer from ${this.gateway} after ${sent} tries`));
          return;
        }
        const delay = this.initialRetryMs * 2 ** sent;
        sent++;
        socket.send(packet, (err) => {
          if (err) this.socketError?.(err);
        });
        timer = setTimeout(send, delay);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      socket.ref();
      send();
    });
  }
}
