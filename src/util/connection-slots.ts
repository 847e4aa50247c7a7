// A fixed number of connection slots for a TCP surface (DNS over TCP, control port, web port) where a
// client that holds connections open cannot lock others out.
//
// Refusing new connections once all slots are taken let one local process hold every slot with idle
// connections until the idle time-outs (10-30 s), and reconnect. Here a new connection, when all slots
// are taken, evicts the connection idle the longest instead: no request in progress, oldest last
// activity. Only when every slot has a request in progress is the newcomer refused; those slots free
// themselves as their requests finish (each surface bounds how long a request may take).

/** What a slot holds: a socket, or anything that can be closed the same way. */
export interface Closable {
  destroy(): void;
}

interface Slot {
  /** requests received and not yet answered */
  inProgress: number;
  /** a counter, not a clock: a strict order even within one millisecond */
  lastActivity: number;
}

export type Admission<T> = { admitted: true; evicted: T | null } | { admitted: false };

export class ConnectionSlots<T extends Closable> {
  private readonly slots = new Map<T, Slot>();
  private tick = 0;

  constructor(readonly max: number) {
    if (!(Number.isInteger(max) && max >= 1)) throw new RangeError(`ConnectionSlots: max must be a positive integer (got ${max})`);
  }

  get size(): number {
    return this.slots.size;
  }

  /** Takes a slot for `conn`; when all are taken, closes the one idle the longest (returned) to make room. */
  admit(conn: T): Admission<T> {
    let evicted: T | null = null;
    if (this.slots.size >= this.max) {
      evicted = this.longestIdle();
      if (evicted === null) return { admitted: false };
      this.slots.delete(evicted);
      evicted.destroy();
    }
    this.slots.set(conn, { inProgress: 0, lastActivity: ++this.tick });
    return { admitted: true, evicted };
  }

  /** The client sent something (part of a request counts: it is not idle). */
  touch(conn: T): void {
    const slot = this.slots.get(conn);
    if (slot) slot.lastActivity = ++this.tick;
  }

  /** A request was received: the connection is not evicted until it is answered. */
  begin(conn: T): void {
    const slot = this.slots.get(conn);
    if (!slot) return;
    slot.inProgress++;
    slot.lastActivity = ++this.tick;
  }

  /** A request was answered (or given up). */
  end(conn: T): void {
    const slot = this.slots.get(conn);
    if (!slot) return;
    slot.inProgress = Math.max(0, slot.inProgress - 1);
    slot.lastActivity = ++this.tick;
  }

  /** The connection closed; safe to call more than once and for an evicted connection. */
  release(conn: T): void {
    this.slots.delete(conn);
  }

  has(conn: T): boolean {
    return this.slots.has(conn);
  }

  /** Closes every connection (stop()). */
  destroyAll(): void {
    const all = [...this.slots.keys()];
    this.slots.clear();
    for (const conn of all) conn.destroy();
  }

  private longestIdle(): T | null {
    let oldest: T | null = null;
    let oldestActivity = Infinity;
    for (const [conn, slot] of this.slots) {
      if (slot.inProgress === 0 && slot.lastActivity < oldestActivity) {
        oldest = conn;
        oldestActivity = slot.lastActivity;
      }
    }
    return oldest;
  }
}
