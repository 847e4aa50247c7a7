// The control port for kadnode-ctl: TCP on loopback. Request: one command line. Reply: a status
// byte ('0' success, '1' failure, as KadNode's console replies) followed by the text; then close.
import net from 'node:net';
import type { CommandTable } from '../commands.js';
import type { Logger } from '../log.js';
import { listenAll } from '../util/bind.js';
import { hostPort } from '../util/host-port.js';
import { ConnectionSlots } from '../util/connection-slots.js';

export interface ControlOptions {
  port: number;
  addresses: string[];
}

const MAX_REQUEST = 1500;
const MAX_CONNECTIONS = 16;
const READ_TIMEOUT_MS = 5_000;

export class ControlSurface {
  private servers: net.Server[] = [];
  /** full: a new connection evicts the one idle the longest (util/connection-slots.ts) */
  private readonly sockets = new ConnectionSlots<net.Socket>(MAX_CONNECTIONS);

  constructor(private readonly commands: CommandTable, private readonly log: Logger, private readonly options: ControlOptions) {}

  async start(): Promise<void> {
    const onError = (err: Error, address: string) => this.log.warn(`TCP server ${hostPort(address, this.options.port)}: ${err.message}`);
    this.servers = await listenAll(this.options.addresses, this.options.port, () => net.createServer((s) => this.accept(s)), onError);
    for (const server of this.servers) {
      const a = server.address() as net.AddressInfo;
      this.log.info(`Bind to ${hostPort(a.address, a.port)}`);
    }
  }

  ports(): number[] {
    return this.servers.map((s) => (s.address() as net.AddressInfo).port);
  }

  private accept(socket: net.Socket): void {
    const admission = this.sockets.admit(socket);
    if (!admission.admitted) {
      this.log.debug(`All ${MAX_CONNECTIONS} connections have a command in progress, closing a new one`);
      socket.destroy();
      return;
    }
    if (admission.evicted) this.log.debug(`All ${MAX_CONNECTIONS} connections taken: closed the one idle longest`);
    socket.on('close', () => this.sockets.release(socket));
    socket.on('error', () => socket.destroy());
    socket.setTimeout(READ_TIMEOUT_MS, () => socket.destroy());
    let buffered = '';
    const onData = (chunk: Buffer) => {
      this.sockets.touch(socket);
      buffered += chunk.toString('utf8');
      const end = buffered.indexOf('\n');
      if (end < 0 && buffered.length <= MAX_REQUEST) return;
      socket.off('data', onData);
      socket.setTimeout(0);
      const line = end < 0 ? null : buffered.slice(0, end);
      this.sockets.begin(socket);
      void this.reply(socket, line).finally(() => this.sockets.end(socket));
    };
    socket.on('data', onData);
  }

  private async reply(socket: net.Socket, line: string | null): Promise<void> {
    const result = line === null ? { ok: false, text: `Request longer than ${MAX_REQUEST} bytes.` } : await this.commands.run(line);
    if (socket.destroyed) return;
    socket.end((result.ok ? '0' : '1') + result.text + '\n');
    // A client that never closes its side (nor reads the reply) would hold a connection slot for good.
    socket.setTimeout(READ_TIMEOUT_MS, () => socket.destroy());
  }

  async stop(): Promise<void> {
    this.sockets.destroyAll();
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    this.servers = [];
  }
}
