// Bind one server per address; on any failure close what was opened and name the address.
import type net from 'node:net';

export async function listenAll(addresses: string[], port: number, protocol: string, create: () => net.Server): Promise<net.Server[]> {
  const servers: net.Server[] = [];
  try {
    for (const address of addresses) {
      const server = create();
      await new Promise<void>((resolve, reject) => {
        server.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`cannot bind ${address.includes(':') ? `[${address}]` : address}:${port}/${protocol}: ${err.code ?? err.message}`)));
        server.listen({ port, host: address, exclusive: true }, () => resolve());
      });
      servers.push(server);
    }
  } catch (err) {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
    throw err;
  }
  return servers;
}
