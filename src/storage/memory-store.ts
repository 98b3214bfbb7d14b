/**
 * A PieceStore in memory, for tests and for torrents whose data never needs
 * to outlive the process. Same contract as FileStore (piece-store.ts): the
 * shared compliance suite runs against both.
 *
 * Its fingerprint uses a per-file write counter as the "mtime", so a resume
 * state taken from it goes stale exactly when a file is written, like a
 * file's mtime does.
 *
 * BEP 47 pad files hold zeros whatever is written: their range is cleared
 * after every write, so reads give what a FileStore (which never writes
 * them) gives.
 */
import { StorageError } from '../errors.js';
import { isOnDisk, mapRange, pieceRange } from '../metainfo/layout.js';
import type { InfoDict } from '../metainfo/types.js';
import { checkBlock, checkPieceData, checkRange, rangeTarget, totalLength, type FileFingerprint, type PieceStore } from './piece-store.js';

let clock = 0;

export class MemoryStore implements PieceStore {
  readonly info: InfoDict;
  readonly #data: Uint8Array;
  readonly #mtimes: number[];
  #state: 'new' | 'open' | 'closed' = 'new';

  /** `data`: the whole payload to start from (copied); otherwise all zeros. */
  constructor(opts: { info: InfoDict; data?: Uint8Array }) {
    this.info = opts.info;
    if (opts.data && opts.data.length !== opts.info.length) {
      throw new RangeError(`prefill is ${opts.data.length} bytes, the torrent holds ${opts.info.length}`);
    }
    this.#data = new Uint8Array(opts.info.length);
    if (opts.data) {
      this.#data.set(opts.data);
      this.#clearPads(0, opts.info.length);
    }
    this.#mtimes = opts.info.files.map(() => ++clock);
  }

  /** Zeros the pad-file bytes within [offset, offset + length). */
  #clearPads(offset: number, length: number): void {
    for (const s of mapRange(this.info.files, offset, length)) {
      if (this.info.files[s.fileIndex]!.pad) this.#data.fill(0, offset + s.rangeOffset, offset + s.rangeOffset + s.length);
    }
  }

  async open(): Promise<void> {
    if (this.#state === 'closed') throw new StorageError(`memory store of ${this.info.name} is closed`);
    this.#state = 'open';
  }

  #check(): void {
    if (this.#state !== 'open') throw new StorageError(`memory store of ${this.info.name} is ${this.#state === 'new' ? 'not open' : 'closed'}`);
  }

  async read(index: number, begin: number, length: number): Promise<Uint8Array> {
    checkBlock(this.info, index, begin, length);
    this.#check();
    const start = index * this.info.pieceLength + begin;
    return this.#data.slice(start, start + length);
  }

  async readPiece(index: number, into?: Uint8Array): Promise<Uint8Array> {
    const { offset, length } = pieceRange(this.info, index);
    this.#check();
    if (!into) return this.#data.slice(offset, offset + length);
    const out = rangeTarget(length, into);
    out.set(this.#data.subarray(offset, offset + length));
    return out;
  }

  async readRange(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    checkRange(this.info, offset, length);
    this.#check();
    const out = rangeTarget(length, into);
    out.set(this.#data.subarray(offset, offset + length));
    return out;
  }

  async readv(offset: number, targets: Uint8Array[]): Promise<void> {
    const length = totalLength(targets);
    checkRange(this.info, offset, length);
    this.#check();
    let at = offset;
    for (const t of targets) {
      t.set(this.#data.subarray(at, at + t.length));
      at += t.length;
    }
  }

  async writePiece(index: number, data: Uint8Array): Promise<void> {
    checkPieceData(this.info, index, data);
    this.#check();
    const { offset, length } = pieceRange(this.info, index);
    this.#data.set(data, offset);
    this.#clearPads(offset, length);
    for (const s of mapRange(this.info.files, offset, length)) this.#mtimes[s.fileIndex] = ++clock;
  }

  async flush(): Promise<void> {
    this.#check();
  }

  async fingerprint(): Promise<FileFingerprint[]> {
    this.#check();
    const out: FileFingerprint[] = [];
    this.info.files.forEach((f, i) => {
      if (f.length > 0 && isOnDisk(f)) out.push({ path: f.path.join('/'), size: f.length, mtimeMs: this.#mtimes[i]! });
    });
    return out;
  }

  async close(): Promise<void> {
    this.#state = 'closed';
  }

  /** A copy of the whole payload (tests compare it with the source data). */
  snapshot(): Uint8Array {
    return this.#data.slice();
  }
}
