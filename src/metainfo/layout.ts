/**
 * Where the bytes of a torrent live (BEP 3): the payload is the files
 * concatenated in order and cut into `pieceLength` pieces, so a piece may
 * span several files and a file may hold parts of several pieces.
 *
 * Pure arithmetic over `InfoDict`: no file system here. Storage maps byte
 * ranges to file slices with `mapRange`; verification uses `filesOfPiece`
 * and `piecesOfFile` to re-check only what a changed file touches.
 */
import type { FileEntry, InfoDict } from './types.js';

/**
 * True for a file that exists on disk: not a BEP 47 pad file (zeros that
 * only exist inside pieces) and not a symlink (never created from a torrent).
 */
export function isOnDisk(f: FileEntry): boolean {
  return f.pad !== true && f.symlink === undefined;
}

/**
 * The files a user sees (`peer info`, the API, downloads): every file but
 * pad files and symlinks. The piece layout still counts them all: use
 * `info.files` for offsets and this list only for what is shown or chosen.
 */
export function userFiles(info: InfoDict): FileEntry[] {
  return info.files.filter(isOnDisk);
}

/** One contiguous run of a byte range that lies inside one file. */
export interface FileSlice {
  fileIndex: number;
  /** Where the run starts inside the file. */
  fileOffset: number;
  length: number;
  /** Offset within the requested range. */
  rangeOffset: number;
}

/** Index of the last file whose start is <= offset (binary search; files are in data order). */
function fileAt(files: FileEntry[], offset: number): number {
  let lo = 0;
  let hi = files.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (files[mid]!.offset <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Maps the torrent byte range [offset, offset + length) to file slices, in
 * order. Zero-length files are skipped. Throws RangeError for a negative or
 * non-integer argument or a range that runs past the end of the payload.
 */
export function mapRange(files: FileEntry[], offset: number, length: number): FileSlice[] {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`range offset must be a non-negative integer, got ${offset}`);
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`range length must be a non-negative integer, got ${length}`);
  const last = files[files.length - 1];
  const total = last ? last.offset + last.length : 0;
  if (offset + length > total) throw new RangeError(`range ${offset}+${length} runs past the end of the payload (${total} bytes)`);
  const out: FileSlice[] = [];
  if (length === 0) return out;
  let i = fileAt(files, offset);
  let pos = offset;
  const end = offset + length;
  while (pos < end) {
    const f = files[i]!;
    const fileEnd = f.offset + f.length;
    if (f.length > 0 && pos < fileEnd) {
      const n = Math.min(end, fileEnd) - pos;
      out.push({ fileIndex: i, fileOffset: pos - f.offset, length: n, rangeOffset: pos - offset });
      pos += n;
    }
    i++;
  }
  return out;
}

function checkPiece(info: InfoDict, index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= info.pieceCount) {
    throw new RangeError(`piece ${index} out of range 0..${info.pieceCount - 1}`);
  }
}

/** Length of piece `index`: `pieceLength`, except the last, which may be short. */
export function pieceLengthAt(info: InfoDict, index: number): number {
  checkPiece(info, index);
  return Math.min(info.pieceLength, info.length - index * info.pieceLength);
}

/** The torrent byte range of piece `index`. */
export function pieceRange(info: InfoDict, index: number): { offset: number; length: number } {
  return { offset: index * info.pieceLength, length: pieceLengthAt(info, index) };
}

/** Indices of the (non-empty) files that hold bytes of piece `index`, ascending. */
export function filesOfPiece(info: InfoDict, index: number): number[] {
  const { offset, length } = pieceRange(info, index);
  return mapRange(info.files, offset, length).map((s) => s.fileIndex);
}

/**
 * The pieces that hold bytes of file `fileIndex`, as an inclusive range.
 * A zero-length file holds no bytes: its range is empty (`last < first`).
 */
export function piecesOfFile(info: InfoDict, fileIndex: number): { first: number; last: number } {
  const f = info.files[fileIndex];
  if (!f) throw new RangeError(`file ${fileIndex} out of range 0..${info.files.length - 1}`);
  const first = Math.floor(f.offset / info.pieceLength);
  if (f.length === 0) return { first, last: first - 1 };
  return { first, last: Math.floor((f.offset + f.length - 1) / info.pieceLength) };
}
