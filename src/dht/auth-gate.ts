// The gate of the AUTH and BOB packet handlers (auth.ts, bob-auth.ts): which packets are handled at all.
// A reply to one of our own challenges passes free (the owner bounds the wrong ones per challenge, and
// our own sends bound the challenges), so a flood from elsewhere cannot crowd it out; any other packet
// takes one from a per-second budget, per source IP and in all, since each may cost a signature or a
// check. Packets let in are counted as handled; invalid ones are counted and logged here.
import type { RemoteInfo } from 'node:dgram';
import type { Logger } from '../log.js';
import { hostPort } from '../util/host-port.js';
import { PerSecondBudget, type PerSecondBudgetOptions } from '../util/per-second-budget.js';

export interface GateCounters {
  handled: number;
  /** over the budget */
  dropped: number;
  invalid: number;
}

export class AuthGate {
  private readonly budget: PerSecondBudget;

  constructor(
    private readonly protocol: 'AUTH' | 'BOB',
    private readonly deps: { counters: GateCounters; log: Logger; now?: () => number },
    options: PerSecondBudgetOptions,
  ) {
    this.budget = new PerSecondBudget(options, deps.now);
  }

  /** The sender as `ip:port` (for logs) when the packet is to be handled; null when dropped or invalid. */
  enter(packet: { kind: string; reason?: string }, rinfo: RemoteInfo, free: boolean): string | null {
    const { counters } = this.deps;
    if (!free && !this.budget.admit(rinfo.address)) {
      counters.dropped++;
      return null;
    }
    counters.handled++;
    const from = hostPort(rinfo.address, rinfo.port);
    if (packet.kind !== 'invalid') return from;
    counters.invalid++;
    this.deps.log.debug(`Bad ${this.protocol} packet from ${from}: ${packet.reason}`);
    return null;
  }
}
