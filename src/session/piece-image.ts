/**
 * A piece read for uploading, laid out as the `piece` messages (BEP 3) that
 * carry its standard blocks: `<len><7><index><begin><block>` for each
 * 16 KiB block, back to back. Every client asks for these blocks, so serving
 * a run of consecutive requests is one socket write of a slice of the image:
 * no header built and no write queued per block. The file is read straight
 * into the payload slots (`PieceStore.readv`), so the data is never copied
 * in memory. A request off the block grid is still served, from views of
 * the payload (copied only if it straddles two blocks).
 */
import { pieceLengthAt } from '../metainfo/layout.js';
import type { InfoDict } from '../metainfo/types.js';
import { PIECE_HEADER_BYTES, writePieceHeader } from '../wire/messages.js';

/** Where a piece header's index field sits: after the length prefix (4) and the message id (1). */
const INDEX_OFFSET = 5;

/** Bytes of the image of a piece of `size` bytes cut into `blockBytes` blocks. */
export function imageBytes(size: number, blockBytes: number): number {
  return size + Math.ceil(size / blockBytes) * PIECE_HEADER_BYTES;
}

export class PieceImage {
  index: number;
  readonly size: number;
  readonly blockBytes: number;
  readonly blocks: number;
  /** The laid-out messages (a view of `buffer`). */
  readonly bytes: Buffer;
  /** The payload slots, in order (views of `bytes`). */
  readonly #views: Buffer[] = [];
  /** Slices of it handed to sockets and not yet written out. */
  refs = 0;
  /** Out of the cache: the buffer goes back to the pool once `refs` is 0. */
  evicted = false;

  /** `buffer` must hold at least `imageBytes(size, blockBytes)` bytes; the headers are written now. */
  constructor(info: InfoDict, index: number, blockBytes: number, buffer: Buffer) {
    this.index = index;
    this.size = pieceLengthAt(info, index);
    this.blockBytes = blockBytes;
    this.blocks = Math.ceil(this.size / blockBytes);
    const need = imageBytes(this.size, blockBytes);
    if (buffer.length < need) throw new RangeError(`an image of piece ${index} needs ${need} bytes, got ${buffer.length}`);
    this.bytes = buffer.subarray(0, need);
    for (let b = 0; b < this.blocks; b++) {
      const at = b * (PIECE_HEADER_BYTES + blockBytes);
      const length = this.#blockLength(b);
      writePieceHeader(this.bytes, at, index, b * blockBytes, length);
      this.#views.push(this.bytes.subarray(at + PIECE_HEADER_BYTES, at + PIECE_HEADER_BYTES + length));
    }
  }

  /**
   * Makes this image, no longer in use (`refs` 0), the image of another
   * piece of the same size: only the index fields of its headers change.
   */
  reuseFor(index: number): void {
    if (this.refs !== 0) throw new Error(`piece image ${this.index} is still being written to a socket`);
    this.index = index;
    this.evicted = false;
    for (let b = 0; b < this.blocks; b++) this.bytes.writeUInt32BE(index, b * (PIECE_HEADER_BYTES + this.blockBytes) + INDEX_OFFSET);
  }

  #blockLength(b: number): number {
    return Math.min(this.blockBytes, this.size - b * this.blockBytes);
  }

  #payloadAt(b: number): number {
    return b * (PIECE_HEADER_BYTES + this.blockBytes) + PIECE_HEADER_BYTES;
  }

  /** The payload slots, in order: read the piece into these (the same views every time). */
  payloadViews(): Buffer[] {
    return this.#views;
  }

  /** Fills the payload slots from the piece's data (when the store cannot scatter-read). */
  fill(data: Uint8Array): void {
    if (data.length !== this.size) throw new RangeError(`piece ${this.index} is ${this.size} bytes, got ${data.length}`);
    this.#views.forEach((v, b) => v.set(data.subarray(b * this.blockBytes, b * this.blockBytes + v.length)));
  }

  /** The block number when (begin, length) is exactly a standard block, else -1. */
  blockOf(begin: number, length: number): number {
    if (begin % this.blockBytes !== 0) return -1;
    const b = begin / this.blockBytes;
    return b < this.blocks && length === this.#blockLength(b) ? b : -1;
  }

  /** The whole messages of blocks `from` to `to` (exclusive): ready to write. */
  messages(from: number, to: number): Buffer {
    const step = PIECE_HEADER_BYTES + this.blockBytes;
    const end = to >= this.blocks ? this.bytes.length : to * step;
    return this.bytes.subarray(from * step, end);
  }

  /** Bytes `begin` to `begin + length` of the piece: a view, or a copy when they straddle blocks. */
  payload(begin: number, length: number): Buffer {
    if (begin < 0 || length < 0 || begin + length > this.size) throw new RangeError(`block ${begin}+${length} is outside piece ${this.index} (${this.size} bytes)`);
    const first = Math.floor(begin / this.blockBytes);
    const last = length === 0 ? first : Math.floor((begin + length - 1) / this.blockBytes);
    const off = begin - first * this.blockBytes;
    if (first === last) return this.bytes.subarray(this.#payloadAt(first) + off, this.#payloadAt(first) + off + length);
    const out = Buffer.allocUnsafe(length);
    let done = 0;
    for (let b = first; b <= last; b++) {
      const from = b === first ? off : 0;
      const n = Math.min(this.#blockLength(b) - from, length - done);
      this.bytes.copy(out, done, this.#payloadAt(b) + from, this.#payloadAt(b) + from + n);
      done += n;
    }
    return out;
  }
}
