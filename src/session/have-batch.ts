/**
 * Our `have` messages (BEP 3), gathered for the peers we choke: a peer we
 * choke cannot ask us for the piece yet, so it hears of our new pieces at
 * most every `batchMs`, all of them in one write, instead of one packet
 * (and one ACK back) per piece. On a LAN swarm of 20 leechers each
 * verifying ~76 pieces of 64 KiB a second, the `have`s alone were ~1,500
 * packets a second per leecher to peers that could do nothing with them
 * yet. Peers we unchoke hear at once (they may ask for the piece now), and
 * so does everyone once we complete (they may drop or stop wanting us).
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
  /** 0: every `have` at once. */
  batchMs: number;
  connection: (id: number) => HaveTarget | undefined;
  /** Runs `fn` in `ms` (a test's fake timer); returns a canceller. Defaults to an unref'd setTimeout. */
  setTimer?: (fn: () => void, ms: number) => () => void;
}

const realTimer = (fn: () => void, ms: number): (() => void) => {
  const t = setTimeout(fn, ms);
  t.unref();
  return () => clearTimeout(t);
};

export class HaveBatch {
  readonly #o: HaveBatchOptions;
  readonly #setTimer: (fn: () => void, ms: number) => () => void;
  /** Pieces waiting, per connection. */
  readonly #waiting = new Map<number, number[]>();
  #cancel: (() => void) | undefined;
  #stopped = false;

  constructor(opts: HaveBatchOptions) {
    this.#o = opts;
    this.#setTimer = opts.setTimer ?? realTimer;
  }

  /** We verified `index`: tell `c` now or with the next batch. `complete`: it was our last piece, everything goes now. */
  announce(c: HaveTarget, index: number, complete: boolean): void {
    if (this.#stopped) return;
    if (this.#o.batchMs <= 0 || complete || !c.amChoking) return c.have(index);
    let list = this.#waiting.get(c.id);
    if (!list) this.#waiting.set(c.id, (list = []));
    list.push(index);
    this.#cancel ??= this.#setTimer(() => this.flush(), this.#o.batchMs);
  }

  /** Every waiting `have` leaves (pieces a peer got meanwhile are skipped). */
  flush(): void {
    this.#cancel?.();
    this.#cancel = undefined;
    for (const [id, list] of this.#waiting) {
      const c = this.#o.connection(id);
      if (!c || c.closed) continue;
      for (const index of list) if (!c.bits.get(index)) c.have(index);
    }
    this.#waiting.clear();
  }

  /** Pieces waiting for `id` (tests, and a connection's end). */
  waiting(id: number): readonly number[] {
    return this.#waiting.get(id) ?? [];
  }

  forget(id: number): void {
    this.#waiting.delete(id);
  }

  stop(): void {
    this.#stopped = true;
    this.#cancel?.();
    this.#cancel = undefined;
    this.#waiting.clear();
  }
}
