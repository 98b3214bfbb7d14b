/**
 * Our `have` messages (BEP 3), gathered per connection and sent together:
 * a `have` sent alone is a packet of its own (and an ACK back). On a LAN
 * swarm of 20, leechers each verifying ~40-76 pieces a second sent a
 * `have` per piece to every peer: three quarters of a leecher's socket
 * writes were lone 9-byte `have`s (strace on bench:swarm --lan). A peer we choke
 * cannot ask us for the piece yet and hears of our pieces at most every
 * `batchMs`; a peer we unchoke may ask for it now, and hears at most every
 * `unchokedBatchMs` (0: at once). Everyone hears at once when we complete
 * (they may drop or stop wanting us).
 */
import type { Bitfield } from '../util/bitfield.js';

/** The side of a connection the batch uses. */
export interface HaveTarget {
  readonly id: number;
  readonly amChoking: boolean;
  readonly closed: boolean;
  readonly bits: Bitfield;
  have(index: number): void;
}

export interface HaveBatchOptions {
  /** For peers we choke; 0: every `have` at once. */
  batchMs: number;
  /** For peers we unchoke; 0 (the default): every `have` at once. */
  unchokedBatchMs?: number;
  connection: (id: number) => HaveTarget | undefined;
  /** Runs `fn` in `ms` (a test's fake timer); returns a canceller. Defaults to an unref'd setTimeout. */
  setTimer?: (fn: () => void, ms: number) => () => void;
}

const realTimer = (fn: () => void, ms: number): (() => void) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return () => clearTimeout(t);
};

/** The `have`s waiting for one kind of peer, and the timer that sends them. */
interface Lane {
  readonly ms: number;
  readonly waiting: Map<number, number[]>;
  cancel: (() => void) | undefined;
}

export class HaveBatch {
  readonly #o: HaveBatchOptions;
  readonly #setTimer: (fn: () => void, ms: number) => () => void;
  readonly #choked: Lane;
  readonly #unchoked: Lane;
  #stopped = false;

  constructor(opts: HaveBatchOptions) {
    this.#o = opts;
    this.#setTimer = opts.setTimer ?? realTimer;
    this.#choked = { ms: opts.batchMs, waiting: new Map(), cancel: undefined };
    this.#unchoked = { ms: opts.unchokedBatchMs ?? 0, waiting: new Map(), cancel: undefined };
  }

  /** We verified `index`: tell `c` now or with the next batch. `complete`: it was our last piece, everything goes now. */
  announce(c: HaveTarget, index: number, complete: boolean): void {
    if (this.#stopped) return;
    const lane = c.amChoking ? this.#choked : this.#unchoked;
    if (lane.ms <= 0 || complete) return c.have(index);
    let list = lane.waiting.get(c.id);
    if (!list) lane.waiting.set(c.id, (list = []));
    list.push(index);
    lane.cancel ??= this.#setTimer(() => this.#flushLane(lane), lane.ms);
  }

  /** Every waiting `have` leaves (pieces a peer got meanwhile are skipped). */
  flush(): void {
    this.#flushLane(this.#choked);
    this.#flushLane(this.#unchoked);
  }

  /** Pieces waiting for `id` (tests, and a connection's end). */
  waiting(id: number): readonly number[] {
    return [...(this.#choked.waiting.get(id) ?? []), ...(this.#unchoked.waiting.get(id) ?? [])];
  }

  forget(id: number): void {
    this.#choked.waiting.delete(id);
    this.#unchoked.waiting.delete(id);
  }

  stop(): void {
    this.#stopped = true;
    for (const lane of [this.#choked, this.#unchoked]) {
      lane.cancel?.();
      lane.cancel = undefined;
      lane.waiting.clear();
    }
  }

  #flushLane(lane: Lane): void {
    lane.cancel?.();
    lane.cancel = undefined;
    for (const [id, list] of lane.waiting) {
      const c = this.#o.connection(id);
      if (!c || c.closed) continue;
      for (const index of list) if (!c.bits.get(index)) c.have(index);
    }
    lane.waiting.clear();
  }
}
