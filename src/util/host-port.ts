// `ip:port` as people and logs write it: IPv6 in brackets (`[fd20::1]:6881`).
export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
