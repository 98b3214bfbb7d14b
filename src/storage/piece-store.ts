/**
 * The storage interface the swarm talks to (STYLE.md habit 4): pieces in,
 * pieces out. `FileStore` maps them onto files, `MemoryStore` keeps them in
 * memory for tests; one compliance suite (test/storage-compliance.test.ts)
 * runs against both.
 *
 * Contract shared by every implementation:
 * - `open()` before anything else; `open()` and `close()` are idempotent, and
 *   any read or write after `close()` (or before `open()`) throws StorageError.
 * - Reads of regions never written return zeros (a leecher's files are
 *   sparse; a file cut short under us reads as zeros past its end), so a
 *   missing piece shows up as a hash mismatch, never as a crash.
 * - Failures of the medium reject with a StorageError naming the file's
 *   path. Misuse (a piece index or block range outside the torrent, a piece
 *   of the wrong length) rejects with a RangeError before any I/O: the wire
 *   codec refuses such ranges from remotes before they get here.
 * - BEP 47 pad files read as zeros and their bytes are dropped on write.
 * - Data is never marked complete here: completion lives apart, in the
 *   resume state (habit 5), and a piece enters it only after `flush()`.
 */
import type { InfoDict } from '../metainfo/types.js';
import { pieceLengthAt } from '../metainfo/layout.js';

/** What is recorded about each data file so a restart can trust the resume state. */
export interface FileFingerprint {
  /** FileStore: the resolved absolute path; MemoryStore: the torrent-relative path. */
  path: string;
  size: number;
  mtimeMs: number;
}

export interface PieceStore {
  readonly info: InfoDict;
  open(): Promise<void>;
  /** `length` bytes from offset `begin` inside piece `index` (a block, or the whole piece). */
  read(index: number, begin: number, length: number): Promise<Uint8Array>;
  /** A whole piece; with `into` (at least the piece's length), read into its start and returned as a view of it. */
  readPiece(index: number, into?: Uint8Array): Promise<Uint8Array>;
  /** Writes a whole piece; `data.length` must equal the piece's length. */
  writePiece(index: number, data: Uint8Array): Promise<void>;
  /** Make every write completed so far durable (fsync). */
  flush(): Promise<void>;
  /** Sizes and mtimes of the non-empty files on disk (no pad files or symlinks), for resume. */
  /** Which files (indices in info.files) are skipped (file selection); stores without files ignore it. */
  setSkipped?(skipped: ReadonlySet<number>): Promise<void>;
  fingerprint(): Promise<FileFingerprint[]>;
  /** Idempotent. Makes pending writes durable before releasing handles. */
  close(): Promise<void>;
  /**
   * Optional fast path for verification: `length` bytes at torrent offset
   * `offset`, across pieces and files. Without `into`, in a fresh buffer that
   * owns its whole ArrayBuffer (so it can be transferred to a hashing thread
   * without a copy); with `into` (at least `length` bytes), read into its
   * start and returned as a view of it, so callers can recycle buffers.
   */
  readRange?(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
  /**
   * Optional scatter read: the payload bytes from torrent offset `offset`
   * into `targets` in order (as if they were one buffer), each file's run in
   * one vectored read. The seeder uses it to lay blocks out between their
   * message headers without copying them.
   */
  readv?(offset: number, targets: Uint8Array[]): Promise<void>;
}

/**
 * The sub-views of `targets` (taken as one buffer made of them in order)
 * covering bytes `from` to `from + length`.
 */
export function scatterViews(targets: Uint8Array[], from: number, length: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let start = 0;
  const end = from + length;
  for (const t of targets) {
    const tEnd = start + t.length;
    if (tEnd > from && start < end) out.push(t.subarray(Math.max(0, from - start), Math.min(t.length, end - start)));
    if (tEnd >= end) break;
    start = tEnd;
  }
  return out;
}

/** Total length of some views. */
export function totalLength(views: Uint8Array[]): number {
  let n = 0;
  for (const v of views) n += v.length;
  return n;
}

/** Checks a block request against the torrent (RangeError on misuse). */
export function checkBlock(info: InfoDict, index: number, begin: number, length: number): void {
  const size = pieceLengthAt(info, index);
  if (!Number.isSafeInteger(begin) || !Number.isSafeInteger(length) || begin < 0 || length < 0 || begin + length > size) {
    throw new RangeError(`block ${begin}+${length} is outside piece ${index} (${size} bytes)`);
  }
}

/** Checks that `data` is exactly piece `index` long (RangeError on misuse). */
export function checkPieceData(info: InfoDict, index: number, data: Uint8Array): void {
  const size = pieceLengthAt(info, index);
  if (data.length !== size) throw new RangeError(`piece ${index} is ${size} bytes, got ${data.length}`);
}

/** Checks a torrent byte range (RangeError on misuse). */
export function checkRange(info: InfoDict, offset: number, length: number): void {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > info.length) {
    throw new RangeError(`range ${offset}+${length} is outside the payload (${info.length} bytes)`);
  }
}

/** The view `readRange` reads into: `into`'s first `length` bytes, or a fresh buffer owning its memory. */
export function rangeTarget(length: number, into?: Uint8Array): Uint8Array {
  if (!into) return new Uint8Array(Buffer.allocUnsafeSlow(length).buffer, 0, length);
  if (into.length < length) throw new RangeError(`target of ${into.length} bytes is smaller than the ${length} bytes to read`);
  return into.subarray(0, length);
}
