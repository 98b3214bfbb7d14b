/**
 * Pieces being downloaded: blocks are copied into their piece's buffer and
 * hashed in order as they arrive; a complete piece is verified (at once,
 * or on the worker pool if a block came out of order), then written.
 * Nothing is reported stored before its SHA-1 matched and it was written.
 *
 * Memory: whole-piece buffers are reused piece after piece, and the pieces
 * received but not yet written are bounded (settings.maxUnwrittenBytes):
 * past the bound the requester asks for nothing more until they drain.
 */
import { createHash, type Hash } from 'node:crypto';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { Settings } from '../settings.js';
import type { InfoDict } from '../metainfo/types.js';
import { pieceLengthAt } from '../metainfo/layout.js';
import type { HashPool } from '../util/hash-pool.js';
import { diskErrorCode, type DiskPause } from './disk-pause.js';

export interface PieceAssemblerOptions {
  info: InfoDict;
  settings: Pick<Settings, 'blockBytes' | 'maxUnwrittenBytes'>;
  pool: Pick<HashPool, 'hashPieces'>;
  writePiece: (index: number, data: Uint8Array) => Promise<void>;
  /** Where verified pieces wait while the disk refuses writes. */
  disk: Pick<DiskPause, 'hold' | 'refused'>;
  logger: Logger;
  stopped: () => boolean;
  /** The piece passed its hash and is written. */
  onStored: (index: number, data: Uint8Array) => void;
  /** The piece failed its hash; `from[block]` is the host that sent each block. */
  onHashFailed: (index: number, data: Uint8Array, from: string[]) => void;
  /** Hashing the piece failed (not its hash check): it must be downloaded again. */
  onHashError: (index: number) => void;
  /** Writing the piece failed for a reason other than the disk's (disk-pause.ts): it must be downloaded again. */
  onWriteError: (index: number, err: unknown) => void;
  /** Pieces waiting to be written fell below half the bound after it held requests back: ask again. */
  onRoom: () => void;
}

interface PieceBuffer {
  data: Uint8Array;
  /** Host that sent each block (for smart banning). */
  from: string[];
  /**
   * SHA-1 fed block by block as the blocks arrive in order, so a complete
   * piece is verified at once: no thread hand-off, and no stall of the
   * event loop longer than one block's hashing. Out-of-order blocks wait
   * for the gap to fill; if one remains at the end, the worker pool hashes.
   */
  hash: Hash;
  /** Bytes fed to `hash` so far. */
  hashed: number;
}

export class PieceAssembler {
  readonly #o: PieceAssemblerOptions;
  readonly #buffers = new Map<number, PieceBuffer>();
  /**
   * Spare whole-piece buffers, reused piece after piece so a new piece costs
   * no allocation or page faults. Ordinary memory, not a SharedArrayBuffer:
   * V8 copies into shared memory an order of magnitude slower (measured
   * ~14 us vs ~1 us per 16 KiB block), and every block is copied in; the
   * rare out-of-order piece is transferred to a hash worker and comes back.
   */
  readonly #spareBuffers: Uint8Array[] = [];
  /** Pieces being hashed and written; stop() lets them land so a clean stop loses nothing received. */
  readonly #verifying = new Set<Promise<void>>();
  /** Bound on pieces received and not yet written (their buffers are memory): settings.maxUnwrittenBytes. */
  readonly #maxPiecesInFlight: number;
  /** Requests were held back by that bound. */
  #writeBound = false;

  constructor(opts: PieceAssemblerOptions) {
    this.#o = opts;
    // At most a quarter of the torrent, as the upload cache: a small torrent's pieces otherwise could all wait in
    // memory at once on a host starved of CPU (a hundred daemons on two cores).
    const bound = Math.min(opts.settings.maxUnwrittenBytes, Math.floor(opts.info.length / 4));
    this.#maxPiecesInFlight = Math.max(2, Math.floor(bound / opts.info.pieceLength));
  }

  /** True when pieces waiting to be written reached the bound: ask for nothing more (onRoom() tells when to ask again). */
  atWriteBound(): boolean {
    if (this.#verifying.size < this.#maxPiecesInFlight) return false;
    this.#writeBound = true;
    return true;
  }

  /** A block the picker accepted, sent by `host`. */
  add(index: number, begin: number, block: Uint8Array, host: string): void {
    const bb = this.#o.settings.blockBytes;
    let buf = this.#buffers.get(index);
    if (!buf) {
      const size = pieceLengthAt(this.#o.info, index);
      buf = { data: this.#acquireBuffer(size), from: new Array<string>(Math.ceil(size / bb)), hash: createHash('sha1'), hashed: 0 };
      this.#buffers.set(index, buf);
    }
    buf.data.set(block, begin);
    buf.from[Math.floor(begin / bb)] = host;
    while (buf.hashed < buf.data.length && buf.from[buf.hashed / bb] !== undefined) {
      const end = Math.min(buf.hashed + bb, buf.data.length);
      buf.hash.update(buf.data.subarray(buf.hashed, end));
      buf.hashed = end;
    }
  }

  /** Every block of `index` is in: verify and write it. */
  complete(index: number): void {
    const v = this.#verify(index)
      .catch((err: unknown) => void this.#o.logger.error(`piece ${index}: ${errorMessage(err)}`))
      .finally(() => {
        this.#verifying.delete(v);
        if (this.#writeBound && this.#verifying.size < this.#maxPiecesInFlight / 2 && !this.#o.stopped()) {
          this.#writeBound = false;
          this.#o.onRoom();
        }
      });
    this.#verifying.add(v);
  }

  /** Waits (at most `ms`) for the pieces being verified and written to land. */
  async drain(ms: number): Promise<void> {
    await Promise.race([Promise.allSettled([...this.#verifying]), new Promise((r) => setTimeout(r, ms).unref())]);
  }

  async #verify(index: number): Promise<void> {
    const buf = this.#buffers.get(index)!;
    this.#buffers.delete(index);
    let kept = false;
    try {
      kept = await this.#hashAndWrite(index, buf);
    } finally {
      if (!kept) this.releaseBuffer(buf.data);
    }
  }

  #acquireBuffer(size: number): Uint8Array {
    if (size === this.#o.info.pieceLength) {
      const spare = this.#spareBuffers.pop();
      if (spare) return spare;
    }
    return new Uint8Array(size);
  }

  /**
   * Keeps a whole-piece buffer for reuse; a detached or partial view is left
   * to the GC. Up to three times the pieces that can wait for the disk: the
   * pieces in use at once are those being written plus those being
   * assembled, and a spare list shorter than that freed and reallocated
   * multi-MiB buffers every cycle, which the allocator kept as resident
   * memory (4 GiB of 4 MiB pieces: leecher peak anonymous RSS 87-93 MiB
   * with one times, 79-81 MiB with three, and less CPU). The list never
   * holds more buffers than were in use at one time.
   */
  releaseBuffer(view: Uint8Array): void {
    const n = this.#o.info.pieceLength;
    if (view.byteLength !== n || view.byteOffset !== 0 || view.buffer.byteLength !== n) return;
    if (this.#spareBuffers.length < 3 * this.#maxPiecesInFlight) this.#spareBuffers.push(view);
  }

  /** Resolves true when the piece's data is kept (waiting for a full disk), false when its buffer may be reused. */
  async #hashAndWrite(index: number, buf: PieceBuffer): Promise<boolean> {
    const o = this.#o;
    const expected = o.info.pieces.subarray(index * 20, index * 20 + 20);
    let data: Uint8Array;
    let ok: boolean;
    try {
      if (buf.hashed === buf.data.length) {
        data = buf.data;
        ok = Buffer.compare(buf.hash.digest(), expected) === 0;
      } else {
        const r = await o.pool.hashPieces(buf.data, buf.data.length);
        // The memory was transferred to the worker and back: the old view is detached.
        buf.data = r.buf;
        data = r.buf;
        ok = Buffer.compare(r.digests, expected) === 0;
      }
    } catch (err) {
      if (o.stopped()) return false;
      o.logger.error(`hashing piece ${index} failed: ${errorMessage(err)}`);
      o.onHashError(index);
      return false;
    }
    if (!ok) {
      if (!o.stopped()) o.onHashFailed(index, data, buf.from);
      return false;
    }
    // The disk refused a write already: this piece waits with the others, no new attempt per piece.
    if (o.disk.hold(index, data)) return true;
    try {
      await o.writePiece(index, data);
    } catch (err) {
      if (o.stopped()) return false;
      const code = diskErrorCode(err);
      if (code) {
        o.disk.refused(index, data, code, err);
        return true;
      }
      o.logger.error(`writing piece ${index} failed: ${errorMessage(err)}`);
      o.onWriteError(index, err);
      return false;
    }
    o.onStored(index, data);
    return false;
  }
}
