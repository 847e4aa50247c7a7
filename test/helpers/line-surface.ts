// For the bounds tests of the control port and the web interface (connection caps, idle time-outs): a
// command table that answers every line at once, and a raw TCP client that sends one text (or nothing)
// and tells when the server let go of it.
import net from 'node:net';
import type { CommandTable } from '../../src/commands.js';

/** Runs nothing: every command line is answered `ran <line>` at once. */
export const echoCommands = { run: async (line: string) => ({ ok: true, kind: 'ok' as const, text: `ran ${line}` }) } as unknown as CommandTable;

export interface RawClient {
  socket: net.Socket;
  /** resolves when the server ended its side or the connection closed */
  closed: Promise<void>;
  /** what the server sent so far */
  reply: () => string;
}

/** Connects to 127.0.0.1:port and sends `send` (if given) once connected; errors are ignored. */
export function rawClient(port: number, send?: string): RawClient {
  const socket = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true });
  let text = '';
  socket.on('connect', () => send !== undefined && socket.write(send));
  socket.on('data', (chunk) => (text += chunk.toString()));
  socket.on('error', () => undefined);
  // end of the server's side, or the whole connection: both mean the server let go
  const closed = new Promise<void>((resolve) => {
    socket.once('end', () => resolve());
    socket.once('close', () => resolve());
  });
  return { socket, closed, reply: () => text };
}
