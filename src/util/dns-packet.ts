// dns-packet on its first use (a DNS query, a PKARR record, a DoH request) rather than at start: ~0.3 MB
// of resident memory an idle daemon does not need. It is CommonJS, so it loads synchronously here.
import { createRequire } from 'node:module';
import type DnsPacket from 'dns-packet';

let loaded: typeof DnsPacket | null = null;

export function dnsPacket(): typeof DnsPacket {
  loaded ??= createRequire(import.meta.url)('dns-packet') as typeof DnsPacket;
  return loaded;
}
