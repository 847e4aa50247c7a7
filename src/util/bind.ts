// Binding to one address, for every socket and server of the daemon (DHT, LPD, DNS, NSS, control, web):
// the promise settles once bound or failed, a failure names the address in one line
// (`cannot bind [::1]:4053/udp: EADDRINUSE`) and keeps the system's code (callers retry EADDRINUSE), a
// socket whose bind failed is closed, and errors after the bind go to the owner's onError (a server
// without an 'error' listener would take the daemon down on its first accept error).
import type dgram from 'node:dgram';
import type net from 'node:net';
import { getSystemErrorMap } from 'node:util';
import { hostPort } from './host-port.js';

export type Protocol = 'udp' | 'tcp';

export class BindError extends Error {
  readonly code: string | undefined;

  constructor(readonly address: string, readonly port: number, readonly protocol: Protocol, override readonly cause: NodeJS.ErrnoException) {
    super(`cannot bind ${hostPort(address, port)}/${protocol}: ${cause.code ?? cause.message}`, { cause });
    this.code = cause.code;
  }

  /** The system's words for the failure ("address already in use"), else the cause's message. */
  get words(): string {
    const { errno } = this.cause;
    return (errno !== undefined && getSystemErrorMap().get(errno)?.[1]) || this.cause.message;
  }
}

export interface UdpBindOptions {
  port: number;
  address: string;
  exclusive?: boolean;
  /** after the bind; without it later errors are the owner's to listen for */
  onError?: (err: Error) => void;
  /** the socket's owner closes it when the bind fails (default: closed here) */
  keepOnFailure?: boolean;
}

export function bindUdp(socket: dgram.Socket, options: UdpBindOptions): Promise<dgram.Socket> {
  const { port, address, exclusive, onError } = options;
  return new Promise((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException) => {
      if (!options.keepOnFailure) {
        try { socket.close(); } catch { /* never bound */ }
      }
      reject(new BindError(address, port, 'udp', err));
    };
    socket.once('error', failed);
    socket.bind({ port, address, exclusive }, () => {
      socket.off('error', failed);
      if (onError) socket.on('error', onError);
      resolve(socket);
    });
  });
}

export function listenTcp(server: net.Server, options: net.ListenOptions & { host: string; port: number; onError: (err: Error) => void }): Promise<net.Server> {
  const { onError, ...listen } = options;
  return new Promise((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException) => reject(new BindError(listen.host, listen.port, 'tcp', err));
    server.once('error', failed);
    server.listen(listen, () => {
      server.off('error', failed);
      server.on('error', onError);
      resolve(server);
    });
  });
}

/** One server per address on the same port; on any failure what was opened is closed again. */
export async function listenAll(addresses: readonly string[], port: number, create: () => net.Server, onError: (err: Error, address: string) => void): Promise<net.Server[]> {
  const servers: net.Server[] = [];
  try {
    for (const host of addresses) {
      servers.push(await listenTcp(create(), { port, host, exclusive: true, onError: (err) => onError(err, host) }));
    }
  } catch (err) {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    throw err;
  }
  return servers;
}
