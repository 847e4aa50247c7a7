// Our address as other DHT nodes see it, from the `ip` field of their KRPC replies (BEP 42: the
// requester's compact IP and port). Each replying node has one vote, its latest report; the address
// reported by most of the last 64 voters wins (a tie keeps the current one), so one lying node among
// honest ones changes nothing. Used for `auto` addresses in the PKARR zone.
import { isIP } from 'node:net';
import { BoundedMap } from '../util/bounded-map.js';

const MAX_VOTERS = 64;

export class ExternalAddress {
  /** voter → the address it reported last; the voters heard from least recently leave first */
  private readonly votes = new BoundedMap<string, string>(MAX_VOTERS);
  private current: string | null = null;
  private readonly listeners = new Set<(address: string) => void>();

  get address(): string | null {
    return this.current;
  }

  report(voter: string, reported: string): void {
    if (!isIP(reported) || reported === '0.0.0.0' || reported === '::') return;
    this.votes.set(voter, reported);
    const tally = new Map<string, number>();
    for (const address of this.votes.values()) tally.set(address, (tally.get(address) ?? 0) + 1);
    let best = this.current;
    let bestVotes = best ? tally.get(best) ?? 0 : 0;
    for (const [address, n] of tally) {
      if (n > bestVotes) {
        best = address;
        bestVotes = n;
      }
    }
    if (best && best !== this.current) {
      this.current = best;
      for (const listener of this.listeners) listener(best);
    }
  }

  onChange(listener: (address: string) => void): void {
    this.listeners.add(listener);
  }
}
