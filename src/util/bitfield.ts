/**
 * The one bitfield type: bit 7 of byte 0 is piece 0 (BEP 3). Spare bits at
 * the end are kept zero so `toBytes()` is always valid on the wire.
 */
export class Bitfield {
  readonly length: number;
  readonly #bytes: Uint8Array;
  #count = 0;

  constructor(length: number, bytes?: Uint8Array) {
    if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`bitfield length must be a non-negative integer, got ${length}`);
    this.length = length;
    const size = Bitfield.byteLength(length);
    if (bytes) {
      if (bytes.length !== size) throw new RangeError(`bitfield of ${length} bits needs ${size} bytes, got ${bytes.length}`);
      if (!Bitfield.spareBitsClear(bytes, length)) throw new RangeError('bitfield has spare bits set past its length');
      this.#bytes = Uint8Array.from(bytes);
      for (const b of this.#bytes) this.#count += POPCOUNT[b]!;
    } else {
      this.#bytes = new Uint8Array(size);
    }
  }

  static byteLength(bits: number): number {
    return Math.ceil(bits / 8);
  }

  /** True when every bit past `bits` in the last byte is zero (BEP 3 requires it on the wire). */
  static spareBitsClear(bytes: Uint8Array, bits: number): boolean {
    const spare = bytes.length * 8 - bits;
    if (spare <= 0) return true;
    const mask = (1 << spare) - 1;
    return (bytes[bytes.length - 1]! & mask) === 0;
  }

  static full(length: number): Bitfield {
    const bf = new Bitfield(length);
    for (let i = 0; i < length; i++) bf.set(i);
    return bf;
  }

  get(index: number): boolean {
    if (index < 0 || index >= this.length) return false;
    return (this.#bytes[index >> 3]! & (0x80 >> (index & 7))) !== 0;
  }

  /** Sets or clears a bit; returns true when it changed. */
  set(index: number, value = true): boolean {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) throw new RangeError(`bit ${index} out of range 0..${this.length - 1}`);
    const byte = index >> 3;
    const mask = 0x80 >> (index & 7);
    const had = (this.#bytes[byte]! & mask) !== 0;
    if (had === value) return false;
    if (value) {
      this.#bytes[byte]! |= mask;
      this.#count++;
    } else {
      this.#bytes[byte]! &= ~mask;
      this.#count--;
    }
    return true;
  }

  /** Number of bits set. */
  count(): number {
    return this.#count;
  }

  isComplete(): boolean {
    return this.#count === this.length;
  }

  isEmpty(): boolean {
    return this.#count === 0;
  }

  /** A copy of the wire bytes. */
  toBytes(): Uint8Array {
    return Uint8Array.from(this.#bytes);
  }

  clone(): Bitfield {
    return new Bitfield(this.length, this.#bytes);
  }

  /** Indices of set bits, ascending. */
  *ones(): IterableIterator<number> {
    for (let i = 0; i < this.length; i++) if (this.get(i)) yield i;
  }
}

const POPCOUNT = new Uint8Array(256);
for (let i = 0; i < 256; i++) POPCOUNT[i] = (i & 1) + POPCOUNT[i >> 1]!;
