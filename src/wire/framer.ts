/**
 * Splits the peer wire byte stream (after the handshake) into frames:
 * `<4-byte big-endian length><length bytes>`. Chunks may be split anywhere.
 *
 * Why a bound: the length prefix is chosen by the remote. Without a limit one
 * 4-byte header (`0x7fffffff`) makes a naive decoder reserve or buffer 2 GiB,
 * and a few such peers exhaust memory. No legal frame is larger than a piece
 * message with the largest block we request, a bitfield of the torrent's
 * pieces, or an extension message (`maxFrameBytesFor`), so a longer length is
 * refused as soon as its header is read, before any of it is buffered.
 *
 * Performance: every byte is looked at once, whatever the chunk sizes (no
 * re-concatenation of a growing buffer, so no O(n^2) on tiny chunks). A frame
 * that lies inside one pushed chunk is returned as a view of that chunk (no
 * copy); a frame split across chunks is copied once. `push` copies it into
 * a buffer of its own and returns frames that stay valid (they may share
 * memory with the chunks given to it, so those must not be overwritten).
 * `feed` is the receive fast path: frames are handed to a callback and are
 * valid only during it, split frames reuse one scratch buffer, and the chunk
 * may be a socket's reused `onread` buffer: no allocation per frame.
 */
import { ProtocolError } from '../errors.js';

/** Largest block we ever request or serve: 128 KiB (PROTOCOL.md; most clients refuse more than 16 KiB). */
export const MAX_BLOCK_BYTES = 128 * 1024;

/**
 * Largest BEP 10 extended frame accepted. The largest legal one we know is a
 * BEP 9 metadata data message (a small dict + 16 KiB); extension handshakes
 * and BEP 11 PEX lists are a few KiB. 1 MiB leaves ample room for extensions
 * we do not speak (we still must read and skip them) without letting a peer
 * hold more than that in our memory.
 */
export const MAX_EXTENDED_FRAME_BYTES = 1024 * 1024;

/**
 * The bound to use while the torrent's shape is unknown (a magnet link
 * before its metadata arrived): covers a bitfield of up to 8M pieces, every
 * block we might request, and extension messages.
 */
export const DEFAULT_MAX_FRAME_BYTES = MAX_EXTENDED_FRAME_BYTES;

/**
 * Frames up to this size get their whole buffer when their header arrives
 * (every piece message with a block up to 128 KiB: copied exactly once).
 * Longer frames (only bitfields of huge torrents or extension messages) grow
 * their buffer as bytes arrive, so a header alone cannot make us reserve a
 * whole megabyte per connection.
 */
const EAGER_ALLOC_BYTES = 1 + 8 + MAX_BLOCK_BYTES;

/**
 * The largest legal frame (without the 4-byte prefix) for a torrent: the
 * largest of a piece message with a `maxBlockBytes` block (id + index + begin
 * + block), a bitfield of `pieceCount` bits (id + bytes), and an extension
 * message (`MAX_EXTENDED_FRAME_BYTES`). `pieceLength` caps the block: a block
 * never spans pieces.
 */
export function maxFrameBytesFor(pieceLength: number, pieceCount: number, maxBlockBytes = MAX_BLOCK_BYTES): number {
  if (!Number.isSafeInteger(pieceLength) || pieceLength <= 0) throw new RangeError(`piece length must be a positive integer, got ${pieceLength}`);
  if (!Number.isSafeInteger(pieceCount) || pieceCount < 0) throw new RangeError(`piece count must be a non-negative integer, got ${pieceCount}`);
  const piece = 1 + 8 + Math.min(pieceLength, maxBlockBytes);
  const bitfield = 1 + Math.ceil(pieceCount / 8);
  return Math.max(piece, bitfield, MAX_EXTENDED_FRAME_BYTES);
}

const EMPTY = new Uint8Array(0);

/**
 * A frame buffer of its own (never a slice of Node's shared pool), not
 * zero-filled: every byte is written before the frame is handed out, and
 * skipping the fill is measurable at hundreds of MB/s.
 */
function allocFrame(size: number): Uint8Array {
  return Buffer.allocUnsafeSlow(size);
}

export interface FrameDecoderOptions {
  /** Largest frame accepted, not counting the 4-byte length prefix. */
  maxFrameBytes: number;
}

export class FrameDecoder {
  #maxFrameBytes: number;
  /** Partial length prefix. */
  readonly #header = new Uint8Array(4);
  #headerFill = 0;
  /** Length of the frame being assembled, or -1 while reading a header. */
  #frameLength = -1;
  /** Buffer of the frame being assembled (may be shorter than #frameLength while it grows). */
  #frame: Uint8Array = EMPTY;
  #frameFill = 0;
  /** Reused for split frames by `feed` (grown to the largest such frame, at most EAGER_ALLOC_BYTES). */
  #scratch: Uint8Array = EMPTY;
  /** Once a frame was refused the stream has lost sync: every later push refuses too. */
  #failure: ProtocolError | undefined;

  constructor(opts: FrameDecoderOptions) {
    this.#maxFrameBytes = FrameDecoder.#checkMax(opts.maxFrameBytes);
  }

  static #checkMax(n: number): number {
    if (!Number.isSafeInteger(n) || n < 1 || n > 0xffffffff) throw new RangeError(`maxFrameBytes must be a positive 32-bit integer, got ${n}`);
    return n;
  }

  get maxFrameBytes(): number {
    return this.#maxFrameBytes;
  }

  /**
   * Changes the bound, e.g. once a magnet's metadata is known. A frame whose
   * header was already accepted finishes under the old bound.
   */
  setMaxFrameBytes(n: number): void {
    this.#maxFrameBytes = FrameDecoder.#checkMax(n);
  }

  /** Bytes received but not yet returned as frames; at most maxFrameBytes + 4. */
  get buffered(): number {
    return this.#frameLength < 0 ? this.#headerFill : 4 + this.#frameFill;
  }

  /**
   * Whole frames (without length prefix; empty = keep-alive) completed by
   * this chunk. Each returned frame is a view of `chunk` or a buffer of its
   * own, so frames stay valid after later pushes.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    const frames: Uint8Array[] = [];
    this.#run(chunk, (f) => void frames.push(f), false);
    return frames;
  }

  /**
   * The receive fast path: calls `onFrame` for each frame this chunk
   * completes, in order. A frame is valid only during its callback: it is a
   * view of `chunk` (which the caller may overwrite once `feed` returns, e.g.
   * a socket's `onread` buffer) or of a scratch buffer this decoder reuses for
   * the next frame split across chunks. Nothing is allocated per frame, so a
   * download does not feed the garbage collector. If `onFrame` throws, the
   * decoder stops (every later call throws) and the error propagates.
   */
  feed(chunk: Uint8Array, onFrame: (frame: Uint8Array) => void): void {
    this.#run(chunk, onFrame, true);
  }

  #run(chunk: Uint8Array, onFrame: (frame: Uint8Array) => void, reuse: boolean): void {
    if (this.#failure) throw this.#failure;
    try {
      this.#scan(chunk, onFrame, reuse);
    } catch (err) {
      this.#failure = err instanceof ProtocolError ? err : new ProtocolError(`stream abandoned after a handler error: ${err instanceof Error ? err.message : String(err)}`);
      throw err;
    }
  }

  /** A buffer for a split frame of `length` bytes: the reusable scratch when allowed, else its own. */
  #frameBuffer(length: number, reuse: boolean, arrived: number): Uint8Array {
    if (length > EAGER_ALLOC_BYTES) return allocFrame(Math.max(EAGER_ALLOC_BYTES, arrived));
    if (!reuse) return allocFrame(length);
    if (this.#scratch.length < length) this.#scratch = allocFrame(length);
    return this.#scratch;
  }

  #scan(chunk: Uint8Array, onFrame: (frame: Uint8Array) => void, reuse: boolean): void {
    const end = chunk.length;
    let pos = 0;
    while (pos < end) {
      if (this.#frameLength < 0) {
        let length: number;
        if (this.#headerFill === 0 && end - pos >= 4) {
          length = ((chunk[pos]! << 24) | (chunk[pos + 1]! << 16) | (chunk[pos + 2]! << 8) | chunk[pos + 3]!) >>> 0;
          pos += 4;
        } else {
          while (this.#headerFill < 4 && pos < end) this.#header[this.#headerFill++] = chunk[pos++]!;
          if (this.#headerFill < 4) break;
          const h = this.#header;
          length = ((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 0;
          this.#headerFill = 0;
        }
        if (length > this.#maxFrameBytes) {
          throw new ProtocolError(`frame of ${length} bytes exceeds the limit of ${this.#maxFrameBytes} bytes`);
        }
        if (length === 0) {
          onFrame(EMPTY);
          continue;
        }
        if (end - pos >= length) {
          const at = pos;
          pos += length;
          onFrame(chunk.subarray(at, at + length));
          continue;
        }
        this.#frameLength = length;
        this.#frameFill = 0;
        this.#frame = this.#frameBuffer(length, reuse, end - pos);
      }
      const n = Math.min(this.#frameLength - this.#frameFill, end - pos);
      if (this.#frameFill + n > this.#frame.length) {
        // Grow geometrically (bounded by the frame's length) so a long frame in tiny chunks stays linear.
        const grown = allocFrame(Math.min(this.#frameLength, Math.max(this.#frame.length * 2, this.#frameFill + n)));
        grown.set(this.#frame.subarray(0, this.#frameFill));
        this.#frame = grown;
      }
      this.#frame.set(chunk.subarray(pos, pos + n), this.#frameFill);
      this.#frameFill += n;
      pos += n;
      if (this.#frameFill === this.#frameLength) {
        const frame = this.#frame.length === this.#frameLength ? this.#frame : this.#frame.subarray(0, this.#frameLength);
        this.#frame = EMPTY;
        this.#frameLength = -1;
        this.#frameFill = 0;
        onFrame(frame);
      }
    }
  }
}
