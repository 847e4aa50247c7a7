// Which interfaces local peer discovery joins its group on and sends from (KADNODE-1.x §9).
import { readFileSync } from 'node:fs';
import type { NetworkInterfaceInfo } from 'node:os';

// Interface flags (linux/if.h), as /sys/class/net/<name>/flags shows them.
const IFF_UP = 0x1;
const IFF_LOOPBACK = 0x8;
const IFF_POINTOPOINT = 0x10;
const IFF_MULTICAST = 0x1000;

export interface LpdInterface {
  name: string;
  /** IPv4: the interface's address; IPv6: `::%<name>` (what addMembership/setMulticastInterface take) */
  spec: string;
  /** the address shown in logs */
  address: string;
}

/** Interface flags from sysfs (Linux); undefined where there is none. */
export function linuxInterfaceFlags(name: string): number | undefined {
  if (!/^[^/\0]+$/.test(name) || name === '.' || name === '..') return undefined;
  try {
    const n = Number.parseInt(readFileSync(`/sys/class/net/${name}/flags`, 'utf8').trim(), 16);
    return Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The interfaces to join and send on: up, multicast-capable, not loopback, not point-to-point, with an
 * address of the family (IPv6: link-local or global). `only` names interfaces explicitly (then loopback
 * and interfaces without the multicast flag are allowed: the operator or test knows better). Without
 * flags (no sysfs), `internal` stands for loopback; libuv lists only interfaces that are up.
 */
export function selectInterfaces(
  family: 4 | 6,
  list: NodeJS.Dict<NetworkInterfaceInfo[]>,
  flagsOf: (name: string) => number | undefined = linuxInterfaceFlags,
  only?: readonly string[],
): LpdInterface[] {
  const chosen: LpdInterface[] = [];
  for (const [name, infos] of Object.entries(list)) {
    if (!infos || infos.length === 0) continue;
    const explicit = only !== undefined;
    if (explicit && !only.includes(name)) continue;
    const flags = flagsOf(name);
    if (flags !== undefined) {
      if (!(flags & IFF_UP)) continue;
      if (!explicit && (flags & IFF_LOOPBACK || flags & IFF_POINTOPOINT || !(flags & IFF_MULTICAST))) continue;
    }
    const usable = infos.filter((info) => {
      if (info.family !== (family === 4 ? 'IPv4' : 'IPv6')) return false;
      if (!explicit && info.internal) return false;
      if (family === 6) return (explicit || info.address !== '::1') && !/^ff/i.test(info.address);
      return true;
    });
    const first = usable[0];
    if (!first) continue;
    chosen.push({ name, spec: family === 4 ? first.address : `::%${name}`, address: first.address });
  }
  return chosen;
}

/** An address without its `%<zone>`, lowercase. */
export function stripScope(address: string): string {
  const at = address.indexOf('%');
  return (at < 0 ? address : address.slice(0, at)).toLowerCase();
}
