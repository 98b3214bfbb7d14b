/**
 * What the torrent wants, piece by piece (issue 14): the priority the
 * picker reads for each piece, from three inputs.
 *
 * - A base level per piece: normal unless files were chosen (skip / high,
 *   the highest of the files a piece touches, so a piece that straddles a
 *   wanted and an unwanted file is still fetched).
 * - Sequential mode: a read-ahead window of the first wanted pieces still
 *   missing, taken in index order (PRIORITY.window); beyond it the picker
 *   stays rarest first, so the swarm still gets rare pieces from us.
 * - Readers (an HTTP stream of a file still downloading): the pieces a
 *   reader waits for and a few after it, first of all (PRIORITY.urgent),
 *   even in a file set to skip, until the reader moves on or goes away.
 */
import { PRIORITY } from '../picker/piece-picker.js';

export interface PriorityTarget {
  readonly pieceCount: number;
  setPriority(index: number, level: number): void;
  has(index: number): boolean;
}

export interface PiecePrioritiesOptions {
  picker: PriorityTarget;
  /** Pieces in the sequential read-ahead window. */
  windowPieces: number;
  /** Priorities changed: count interest again and ask for more. */
  onChange: () => void;
  /** A reader now waits for pieces that are not here: make room for them at the peers (Downloader.expedite). */
  onUrgent?: () => void;
}

/** One reader's hold on a run of pieces (PiecePriorities.reader()). */
export interface PieceReader {
  /** Holds pieces first..last (inclusive) urgent, and lets go of what it held before. */
  moveTo(first: number, last: number): void;
  /** Resolves once the piece is had; rejects when `signal` aborts. */
  waitFor(index: number, signal?: AbortSignal): Promise<void>;
  /** Lets go of every piece; idempotent. */
  close(): void;
}

export class PiecePriorities {
  readonly #o: PiecePrioritiesOptions;
  readonly #base: Uint8Array;
  /** How many readers hold each piece urgent. */
  readonly #held: Uint16Array;
  readonly #waiters = new Map<number, Set<{ done: () => void; fail: (err: Error) => void }>>();
  #sequential = false;
  /** The sequential window: [start, end) of piece indexes at PRIORITY.window. */
  #window = { start: 0, end: 0 };

  constructor(opts: PiecePrioritiesOptions) {
    this.#o = opts;
    this.#base = new Uint8Array(opts.picker.pieceCount).fill(PRIORITY.normal);
    this.#held = new Uint16Array(opts.picker.pieceCount);
  }

  get sequential(): boolean {
    return this.#sequential;
  }

  setSequential(on: boolean): void {
    if (this.#sequential === on) return;
    this.#sequential = on;
    this.#moveWindow();
    this.#o.onChange();
  }

  /** The base level of every piece (skip, normal or high), e.g. from file priorities. */
  setBase(levels: Uint8Array): void {
    if (levels.length !== this.#base.length) throw new RangeError(`expected ${this.#base.length} piece levels, got ${levels.length}`);
    for (let i = 0; i < levels.length; i++) {
      const l = levels[i]!;
      if (l > PRIORITY.high) throw new RangeError(`a base level is skip, normal or high (0..2), got ${l}`);
      this.#base[i] = l;
    }
    this.#moveWindow();
    for (let i = 0; i < levels.length; i++) this.#apply(i);
    this.#o.onChange();
  }

  base(index: number): number {
    return this.#base[index]!;
  }

  /** A piece was verified: readers waiting for it go on, and the window moves past it. */
  pieceVerified(index: number): void {
    const ws = this.#waiters.get(index);
    if (ws) {
      this.#waiters.delete(index);
      for (const w of ws) w.done();
    }
    if (this.#sequential && index >= this.#window.start && index < this.#window.end) {
      this.#moveWindow();
      this.#o.onChange();
    }
  }

  reader(): PieceReader {
    let held: { first: number; last: number } | undefined;
    const release = (): void => {
      if (!held) return;
      for (let i = held.first; i <= held.last; i++) {
        this.#held[i]!--;
        this.#apply(i);
      }
      held = undefined;
    };
    return {
      moveTo: (first, last) => {
        const n = this.#base.length;
        const a = Math.max(0, Math.min(first, n - 1));
        const b = Math.max(a, Math.min(last, n - 1));
        // Take the new run before letting go of the old, so an overlap never drops to a lower level in between.
        for (let i = a; i <= b; i++) {
          this.#held[i]!++;
          this.#apply(i);
        }
        const fresh = !held || a < held.first || b > held.last;
        release();
        held = { first: a, last: b };
        this.#o.onChange();
        if (fresh && this.#o.onUrgent) {
          for (let i = a; i <= b; i++) {
            if (!this.#o.picker.has(i)) {
              this.#o.onUrgent();
              break;
            }
          }
        }
      },
      waitFor: (index, signal) => this.#waitFor(index, signal),
      close: () => {
        if (!held) return;
        release();
        this.#o.onChange();
      },
    };
  }

  #waitFor(index: number, signal?: AbortSignal): Promise<void> {
    if (this.#o.picker.has(index)) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      let set = this.#waiters.get(index);
      if (!set) this.#waiters.set(index, (set = new Set()));
      const onAbort = (): void => {
        set!.delete(w);
        if (set!.size === 0) this.#waiters.delete(index);
        reject(signal!.reason);
      };
      const w = {
        done: (): void => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        fail: (err: Error): void => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      set.add(w);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Every waiting reader fails with `err` (the torrent stopped or was removed). */
  abortAll(err: Error): void {
    const all = [...this.#waiters.values()];
    this.#waiters.clear();
    for (const set of all) for (const w of set) w.fail(err);
  }

  #level(i: number): number {
    if (this.#held[i]! > 0) return PRIORITY.urgent;
    const base = this.#base[i]!;
    if (base === PRIORITY.skip) return PRIORITY.skip;
    if (this.#sequential && i >= this.#window.start && i < this.#window.end) return PRIORITY.window;
    return base;
  }

  #apply(i: number): void {
    this.#o.picker.setPriority(i, this.#level(i));
  }

  /** The window starts at the first wanted piece still missing and holds windowPieces wanted pieces. */
  #moveWindow(): void {
    const old = this.#window;
    const n = this.#base.length;
    let start = n;
    let end = n;
    if (this.#sequential) {
      start = 0;
      while (start < n && (this.#o.picker.has(start) || this.#base[start] === PRIORITY.skip)) start++;
      let taken = 0;
      end = start;
      while (end < n && taken < this.#o.windowPieces) {
        if (!this.#o.picker.has(end) && this.#base[end] !== PRIORITY.skip) taken++;
        end++;
      }
    }
    this.#window = { start, end };
    for (let i = old.start; i < old.end; i++) this.#apply(i);
    for (let i = start; i < end; i++) this.#apply(i);
  }
}
