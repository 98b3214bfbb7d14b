/**
 * A bound on the blocks handed to sockets and not yet taken by the kernel,
 * across all the connections that share it (every peer a torrent serves).
 *
 * Each such block keeps its piece image alive, and a peer's own limit
 * (PeerConnection.sendLimit: at least 128 KiB) multiplied by a hundred
 * peers of a seeder on a slow LAN kept over 12 MiB of images in memory
 * while the link could carry a fraction of it: what is already in the
 * kernel's socket buffers keeps the link busy. Past the bound a connection
 * waits its turn: the room freed by finished writes goes to the waiting
 * connections in the order they came (no newcomer cuts in line), so a slow
 * link is shared round the peers instead of filling the first ones' queues.
 */
export class SendBudget {
  /** Bytes that may be out at once; 0 = no bound. */
  readonly limitBytes: number;
  #used = 0;
  /** Who waits for room, in arrival order, with how to resume it. */
  readonly #waiting = new Map<object, () => void>();
  /** The waiter being resumed now (it may serve although others still wait). */
  #resuming: object | undefined;
  #wakeScheduled = false;

  constructor(limitBytes: number) {
    if (!Number.isFinite(limitBytes) || limitBytes < 0) throw new RangeError(`SendBudget: limitBytes must be 0 (no bound) or more, got ${limitBytes}`);
    this.limitBytes = limitBytes;
  }

  /** Bytes handed out and not given back. */
  get usedBytes(): number {
    return this.#used;
  }

  /** Bytes that may still be handed out (Infinity without a bound). */
  get roomBytes(): number {
    return this.limitBytes === 0 ? Infinity : Math.max(0, this.limitBytes - this.#used);
  }

  /** Connections waiting for room. */
  get waitingCount(): number {
    return this.#waiting.size;
  }

  /**
   * Whether `key` may write now: there is room and nobody is waiting ahead
   * of it. When not, it is queued (once) and `resume` is called when its
   * turn comes; it should then ask again.
   */
  mayWrite(key: object, resume: () => void): boolean {
    if (this.roomBytes > 0 && (this.#waiting.size === 0 || this.#resuming === key)) return true;
    if (this.#resuming !== key && this.#waiting.has(key)) return false;
    this.#waiting.set(key, resume);
    if (this.roomBytes > 0) this.#scheduleWake();
    return false;
  }

  /** `bytes` were handed to a socket. */
  take(bytes: number): void {
    this.#used += bytes;
  }

  /** `bytes` taken earlier were written (or dropped with their connection): waiters get the room. */
  give(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
    if (this.#waiting.size > 0 && this.roomBytes > 0) this.#scheduleWake();
  }

  /** `key` no longer waits (its connection closed). */
  forget(key: object): void {
    this.#waiting.delete(key);
  }

  // Woken from a microtask, not from within give(): give() runs in a write's callback, which an
  // in-memory transport may call from inside the very write a waiter's resume is making.
  #scheduleWake(): void {
    if (this.#wakeScheduled) return;
    this.#wakeScheduled = true;
    queueMicrotask(() => {
      this.#wakeScheduled = false;
      this.#wake();
    });
  }

  #wake(): void {
    // A waiter that finds no room queues itself again (at the end) and the loop ends; one with
    // nothing left to send takes nothing and the next gets its turn.
    while (this.roomBytes > 0 && this.#waiting.size > 0) {
      const [key, resume] = this.#waiting.entries().next().value as [object, () => void];
      this.#waiting.delete(key);
      this.#resuming = key;
      try {
        resume();
      } finally {
        this.#resuming = undefined;
      }
    }
  }
}
