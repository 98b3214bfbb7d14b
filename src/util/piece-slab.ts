/**
 * Fixed-size slots in one SharedArrayBuffer, where pieces are assembled as
 * their blocks arrive. The hash pool's workers read a slot in place, so a
 * complete piece reaches a worker without a copy or a transfer, and slots
 * are reused instead of allocating (and faulting in) a new buffer per piece.
 * When every slot is taken the caller falls back to an ordinary buffer.
 */
export class PieceSlab {
  readonly slotBytes: number;
  readonly slots: number;
  #sab: SharedArrayBuffer | undefined;
  readonly #free: number[] = [];

  constructor(slotBytes: number, slots: number) {
    if (!Number.isSafeInteger(slotBytes) || slotBytes <= 0 || !Number.isSafeInteger(slots) || slots <= 0) {
      throw new RangeError(`PieceSlab needs positive sizes, got ${slotBytes} x ${slots}`);
    }
    this.slotBytes = slotBytes;
    this.slots = slots;
    for (let i = slots - 1; i >= 0; i--) this.#free.push(i);
  }

  /** A zeroed-or-stale view of `size` bytes (<= slotBytes), or undefined when all slots are in use. */
  acquire(size: number): Uint8Array | undefined {
    if (size > this.slotBytes) return undefined;
    const slot = this.#free.pop();
    if (slot === undefined) return undefined;
    // Memory is reserved on first use; untouched slots cost no RSS.
    this.#sab ??= new SharedArrayBuffer(this.slotBytes * this.slots);
    return new Uint8Array(this.#sab, slot * this.slotBytes, size);
  }

  /** True when `view` is one of this slab's slots. */
  owns(view: Uint8Array): boolean {
    return this.#sab !== undefined && view.buffer === this.#sab;
  }

  /** Returns a slot; views of other buffers are ignored. Idempotence is the caller's job. */
  release(view: Uint8Array): void {
    if (!this.owns(view)) return;
    this.#free.push(view.byteOffset / this.slotBytes);
  }

  get inUse(): number {
    return this.slots - this.#free.length;
  }
}
