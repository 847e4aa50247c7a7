// The one bounded map (caches, memories, per-source tables): a Map that holds at most `max` entries.
// set() makes the key the newest entry, and beyond `max` the oldest leave. With `lru`, get() makes its
// key the newest too, so the least recently used leave first; without it the order is that of set():
// the least recently written leave first (FIFO when the owner sets each key once). peek() reads and
// replace() writes without changing the order. A Map underneath (iteration, has, delete, clear, size):
// the lru-cache package costs about 1 MB more RSS on import, and these tables need nothing else.

export interface BoundedMapOptions {
  /** get() counts as a use: the entry becomes the newest */
  lru?: boolean;
}

export class BoundedMap<K, V> extends Map<K, V> {
  private readonly lru: boolean;

  constructor(readonly max: number, options: BoundedMapOptions = {}) {
    super();
    this.lru = options.lru ?? false;
  }

  /** Sets the key as the newest entry; beyond max the oldest leave (max 0 keeps nothing). */
  override set(key: K, value: V): this {
    super.delete(key);
    super.set(key, value);
    while (this.size > this.max) super.delete(this.keys().next().value as K);
    return this;
  }

  /** The value; with `lru` the key becomes the newest entry. */
  override get(key: K): V | undefined {
    if (!this.lru) return super.get(key);
    const value = super.get(key);
    if (value !== undefined || super.has(key)) {
      super.delete(key);
      super.set(key, value as V);
    }
    return value;
  }

  /** The value, the order unchanged. */
  peek(key: K): V | undefined {
    return super.get(key);
  }

  /** A new value for a key present, in its place in the order; false (nothing set) when it is absent. */
  replace(key: K, value: V): boolean {
    if (!super.has(key)) return false;
    super.set(key, value);
    return true;
  }
}
