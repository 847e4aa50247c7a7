// Addresses as people and logs write them, and the one loopback test.

/** `ip:port` as people and logs write it: IPv6 in brackets (`[fd20::1]:6881`). */
export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** An IP literal on loopback: 127.0.0.0/8 (also IPv4-mapped, `::ffff:127.0.0.1`) or ::1. */
export function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.toLowerCase().startsWith('::ffff:127.');
}
