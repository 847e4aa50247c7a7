// Counts per key, the key gone at zero: a table of counts never outgrows what is counted now (the per-group
// bounds of pending challenges, the nodes per routing slot).
export class Tally extends Map<string, number> {
  add(key: string, by: number): void {
    const n = (this.get(key) ?? 0) + by;
    if (n > 0) this.set(key, n);
    else this.delete(key);
  }

  count(key: string): number {
    return this.get(key) ?? 0;
  }
}
