// A budget of packets per second, per source address and in all: the unsolicited AUTH and BOB packets
// we answer (each costs a signature) stay bounded however many sources send them, and one source
// cannot take the whole budget. The per-source counts are forgotten every second; at most maxSources
// sources are counted in one second (packets from further sources wait for the next).

export interface PerSecondBudgetOptions {
  maxPerSecond: number;
  maxTotalPerSecond: number;
  maxSources: number;
}

export class PerSecondBudget {
  private windowStart = 0;
  private windowCount = 0;
  private readonly perSource = new Map<string, number>();

  constructor(private readonly options: PerSecondBudgetOptions, private readonly now: () => number = Date.now) {}

  /** Takes one packet from `source`'s budget; false when it or the total is spent for this second. */
  admit(source: string): boolean {
    const second = Math.floor(this.now() / 1000);
    if (second !== this.windowStart) {
      this.windowStart = second;
      this.windowCount = 0;
      this.perSource.clear();
    }
    const count = this.perSource.get(source);
    if (count === undefined && this.perSource.size >= this.options.maxSources) return false;
    if ((count ?? 0) >= this.options.maxPerSecond || this.windowCount >= this.options.maxTotalPerSecond) return false;
    this.perSource.set(source, (count ?? 0) + 1);
    this.windowCount++;
    return true;
  }
}
