/**
 * PieceStore on the file system: the only code that touches a torrent's data
 * files. Pieces map onto files through metainfo/layout.ts (a piece may span
 * files); every read and write is positional (`FileHandle.read/write` at an
 * offset, no streams), so blocks of many pieces can be in flight at once.
 *
 * Open handles are kept in an LRU (handle-cache.ts) bounded by
 * `maxOpenFiles`; where the files lie and the symlink rules for reaching
 * them are content-paths.ts.
 *
 * BEP 47: pad files are never created; their range reads as zeros and what
 * a piece holds there is dropped on write (the piece's hash covers zeros, so
 * a piece with other bytes there never got this far). Symlinks are never
 * created either (a warning says so). Files marked executable are created
 * with the executable bits.
 *
 * Skipped files (file selection) are not created: the bytes of them that a
 * wanted piece holds go to the part file (part-file.ts) instead, and move
 * into the real file when the file is chosen later.
 */
import { promises as fsp, constants as fsConstants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { StorageError } from '../errors.js';
import { getLogger, type Logger } from '../log.js';
import { DEFAULT_SETTINGS } from '../settings.js';
import { isOnDisk, mapRange, pieceRange, type FileSlice } from '../metainfo/layout.js';
import type { InfoDict } from '../metainfo/types.js';
import { ContentPaths, O_NOFOLLOW } from './content-paths.js';
import { storageIo } from './fs-io.js';
import { HandleCache } from './handle-cache.js';
import { PartFile } from './part-file.js';
import { checkBlock, checkPieceData, checkRange, rangeTarget, scatterViews, totalLength, type FileFingerprint, type PieceStore } from './piece-store.js';
import { makeDir } from '../util/make-dir.js';

export interface FileStoreOptions {
  info: InfoDict;
  /** The file itself (single-file torrent) or the folder `<name>` (multi-file). */
  contentPath: string;
  /** Bound of the open-handle LRU (default 64). */
  maxOpenFiles?: number;
  logger?: Logger;
  /**
   * true (leecher): create missing folders and files, sparse, and set each
   * file to its length. false (seeder): every non-empty file must exist with
   * its exact length, else open() throws a StorageError naming the file.
   */
  create: boolean;
  /** Largest single write call (default: settings writeChunkBytes). */
  writeChunkBytes?: number;
  /** Indices (in info.files) of skipped files: a leecher does not create them; their bytes go to the part file. */
  skipped?: ReadonlySet<number>;
  /** Where the part file lies (in the state folder); needed with `skipped`. */
  partsPath?: string;
}

/** Bytes moved at a time from the part file into a file chosen late. */
const MOVE_CHUNK_BYTES = 1024 * 1024;

export class FileStore implements PieceStore {
  readonly info: InfoDict;
  /** Absolute, resolved content path. */
  readonly contentPath: string;
  readonly #log: Logger;
  readonly #create: boolean;
  readonly #writeChunkBytes: number;
  readonly #where: ContentPaths;
  /** Absolute path of each file, in torrent order; '' for pad files and symlinks (nothing on disk). */
  readonly #paths: readonly string[];
  readonly #handles: HandleCache;
  /** Indices of pad files (BEP 47): zeros in pieces, never on disk. */
  readonly #pads: ReadonlySet<number>;
  readonly #created = new Set<number>();
  readonly #parts: PartFile | undefined;
  #skipped: ReadonlySet<number>;
  /** Skipped files that are not on disk: their bytes live in the part file. */
  readonly #inParts = new Set<number>();
  /** Files whose bytes are moving from the part file into the real file: writes to them wait. */
  readonly #moving = new Map<number, Promise<void>>();
  #state: 'new' | 'opening' | 'open' | 'closed' = 'new';
  #opening?: Promise<void>;
  #closing?: Promise<void>;
  readonly #inflight = new Set<Promise<unknown>>();

  constructor(opts: FileStoreOptions) {
    this.info = opts.info;
    this.#log = opts.logger ?? getLogger('storage');
    this.#create = opts.create;
    this.#writeChunkBytes = opts.writeChunkBytes ?? DEFAULT_SETTINGS.writeChunkBytes;
    this.#where = new ContentPaths(opts.info, opts.contentPath, opts.create);
    this.contentPath = this.#where.contentPath;
    this.#paths = this.#where.paths;
    this.#handles = new HandleCache({ paths: this.#where, maxOpenFiles: opts.maxOpenFiles ?? 64, create: opts.create, logger: this.#log, checkOpen: () => this.#check() });
    this.#pads = new Set(opts.info.files.flatMap((f, i) => (f.pad ? [i] : [])));
    this.#skipped = opts.create ? (opts.skipped ?? new Set()) : new Set();
    if (this.#skipped.size > 0 && !opts.partsPath) throw new StorageError('skipped files need a part file path');
    this.#parts = opts.partsPath ? new PartFile(opts.partsPath) : undefined;
  }

  /** Skipped files whose bytes are in the part file (not on disk as files). */
  get filesInParts(): ReadonlySet<number> {
    return this.#inParts;
  }

  /** Absolute path of file `fileIndex`. */
  pathOf(fileIndex: number): string {
    return this.#where.pathOf(fileIndex);
  }

  /** Files that open() had to create (they held no data before), for a leecher's fast fresh start. */
  get createdFiles(): ReadonlySet<number> {
    return this.#created;
  }

  /** Number of file handles open now (tests check the LRU bound). */
  get openHandles(): number {
    return this.#handles.live;
  }

  // --- lifecycle ----------------------------------------------------------

  open(): Promise<void> {
    if (this.#state === 'closed') return Promise.reject(new StorageError(`store of ${this.contentPath} is closed`));
    this.#opening ??= this.#openFiles().then(
      () => {
        if (this.#state === 'opening') this.#state = 'open';
      },
      (err) => {
        this.#opening = undefined;
        if (this.#state === 'opening') this.#state = 'new';
        throw err;
      },
    );
    if (this.#state === 'new') this.#state = 'opening';
    return this.#opening;
  }

  async #openFiles(): Promise<void> {
    if (this.info.multiFile) {
      let st = await this.#where.lstatNoLink(this.contentPath);
      if (!st && this.#create) {
        await storageIo(this.contentPath, 'create folder', () => makeDir(this.contentPath));
        st = await this.#where.lstatNoLink(this.contentPath);
      }
      if (!st) throw new StorageError(`content folder ${this.contentPath} is missing`);
      if (!st.isDirectory()) throw new StorageError(`${this.contentPath} is not a folder (a multi-file torrent's content is the folder <name>)`);
    }
    const realFolders = new Set<string>();
    const partsExisted = this.#parts ? await this.#parts.exists() : false;
    for (let i = 0; i < this.info.files.length; i++) {
      const f = this.info.files[i]!;
      if (f.symlink) this.#log.warn(`not creating ${f.path.join('/')}: a symlink to ${f.symlink.join('/')} (symlinks from a torrent are never created)`);
      if (!isOnDisk(f)) continue;
      const p = this.#paths[i]!;
      const want = f.length;
      await this.#where.checkFolders(i, realFolders);
      const st = await this.#where.lstatNoLink(p);
      if (st && !st.isFile()) throw new StorageError(`${p} is not a regular file`);
      if (!st && this.#skipped.has(i)) {
        // Skipped and not here: never created; a fresh part file holds nothing of it either.
        this.#inParts.add(i);
        if (!partsExisted) this.#created.add(i);
        continue;
      }
      if (!this.#create) {
        if (want === 0) continue; // holds no piece data: nothing to serve from it
        if (!st) throw new StorageError(`missing file ${p} (${want} bytes expected)`);
        if (st.size !== want) throw new StorageError(`file ${p} has ${st.size} bytes, expected ${want}`);
        continue;
      }
      if (!st) {
        await this.#where.makeFolders(i);
        // O_EXCL: never follow or reuse something that appeared since the lstat.
        await storageIo(p, 'create', async () => {
          const h = await fsp.open(p, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL | O_NOFOLLOW, f.executable ? 0o777 : 0o666);
          try {
            if (want > 0) await h.truncate(want); // sparse: no bytes are written
          } finally {
            await h.close();
          }
        });
        this.#created.add(i);
      } else if (st.size > want) {
        // Shrinking would destroy bytes that cannot be this torrent's data: most likely an
        // unrelated file with the same name. Never lose it; tell the user instead.
        throw new StorageError(`${p} already exists with ${st.size} bytes, more than this torrent's ${want}: it is not this torrent's data; move it away or choose another --out`);
      } else if (st.size < want) {
        // A shorter file (an interrupted download) is extended; its bytes are kept and verified.
        this.#log.info(`extending ${p} from ${st.size} to ${want} bytes`);
        const h = await this.#where.openNoFollow(p, fsConstants.O_RDWR);
        await storageIo(p, 'resize', () => h.truncate(want)).finally(() => h.close());
      }
    }
  }

  close(): Promise<void> {
    this.#closing ??= this.#closeAll();
    return this.#closing;
  }

  async #closeAll(): Promise<void> {
    const wasOpen = this.#state !== 'new';
    this.#state = 'closed';
    if (!wasOpen) return;
    await this.#opening?.catch(() => undefined);
    await Promise.allSettled([...this.#inflight]);
    await this.#handles.closeAll();
    await this.#parts?.close();
  }

  #check(): void {
    if (this.#state !== 'open') {
      throw new StorageError(`store of ${this.contentPath} is ${this.#state === 'closed' ? 'closed' : 'not open'}`);
    }
  }

  /** Runs an operation and keeps close() waiting for it. */
  #track<T>(op: Promise<T>): Promise<T> {
    this.#inflight.add(op);
    const done = (): void => {
      this.#inflight.delete(op);
    };
    op.then(done, done);
    return op;
  }

  // --- data ---------------------------------------------------------------

  /** Where a slice of a file in the part file lies there (torrent byte space). */
  #partsAt(s: FileSlice): number {
    return this.info.files[s.fileIndex]!.offset + s.fileOffset;
  }

  #readSlice(s: FileSlice, buf: Uint8Array, base: number): Promise<void> {
    if (this.#inParts.has(s.fileIndex)) return this.#parts!.read(this.#partsAt(s), buf, base + s.rangeOffset, s.length);
    const p = this.#paths[s.fileIndex]!;
    return this.#handles.use(s.fileIndex, 'read', async (h) => {
      let done = 0;
      while (done < s.length) {
        const { bytesRead } = await storageIo(p, 'read', () => h.read(buf, base + s.rangeOffset + done, s.length - done, s.fileOffset + done));
        if (bytesRead === 0) {
          // The file is shorter than the torrent says (cut under us): zeros, so the piece fails its hash.
          buf.fill(0, base + s.rangeOffset + done, base + s.rangeOffset + s.length);
          break;
        }
        done += bytesRead;
      }
    });
  }

  async #writeSlice(s: FileSlice, data: Uint8Array): Promise<void> {
    await this.#moving.get(s.fileIndex);
    if (this.#inParts.has(s.fileIndex)) return this.#parts!.write(this.#partsAt(s), data, s.rangeOffset, s.length, this.#writeChunkBytes);
    const p = this.#paths[s.fileIndex]!;
    // The chunks go to the thread pool at once, not one after the other: each
    // would otherwise wait for a turn of the event loop (busy receiving) before
    // the next is issued, and the piece would hold its memory that much longer
    // (maxUnwrittenBytes). All land before this settles, even when one fails,
    // so the handle is never released under a write.
    return this.#handles.use(s.fileIndex, 'write', async (h) => {
      const writes: Promise<void>[] = [];
      for (let at = 0; at < s.length; at += this.#writeChunkBytes) {
        writes.push(writeFully(h, p, data, s.rangeOffset + at, Math.min(this.#writeChunkBytes, s.length - at), s.fileOffset + at));
      }
      const failed = (await Promise.allSettled(writes)).find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    });
  }

  async #readRange(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    this.#check();
    const buf = rangeTarget(length, into);
    const slices = mapRange(this.info.files, offset, length);
    await Promise.all(
      slices.map((s) => {
        if (!this.#pads.has(s.fileIndex)) return this.#readSlice(s, buf, 0);
        buf.fill(0, s.rangeOffset, s.rangeOffset + s.length);
        return undefined;
      }),
    );
    return buf;
  }

  async read(index: number, begin: number, length: number): Promise<Uint8Array> {
    checkBlock(this.info, index, begin, length);
    return this.#track(this.#readRange(index * this.info.pieceLength + begin, length));
  }

  async readPiece(index: number, into?: Uint8Array): Promise<Uint8Array> {
    const { offset, length } = pieceRange(this.info, index);
    return this.#track(this.#readRange(offset, length, into));
  }

  async readRange(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
    checkRange(this.info, offset, length);
    return this.#track(this.#readRange(offset, length, into));
  }

  async readv(offset: number, targets: Uint8Array[]): Promise<void> {
    const length = totalLength(targets);
    checkRange(this.info, offset, length);
    return this.#track(
      (async () => {
        this.#check();
        const slices = mapRange(this.info.files, offset, length);
        await Promise.all(
          slices.map((s) => {
            const views = scatterViews(targets, s.rangeOffset, s.length);
            if (!this.#pads.has(s.fileIndex)) return this.#readvSlice(s, views);
            for (const v of views) v.fill(0);
            return undefined;
          }),
        );
      })(),
    );
  }

  async #readvSlice(s: FileSlice, views: Uint8Array[]): Promise<void> {
    if (this.#inParts.has(s.fileIndex)) {
      let at = this.#partsAt(s);
      for (const v of views) {
        await this.#parts!.read(at, v, 0, v.length);
        at += v.length;
      }
      return;
    }
    const p = this.#paths[s.fileIndex]!;
    return this.#handles.use(s.fileIndex, 'read', async (h) => {
      let done = 0;
      while (done < s.length) {
        const rest = scatterViews(views, done, s.length - done);
        const { bytesRead } = await storageIo(p, 'read', () => h.readv(rest, s.fileOffset + done));
        if (bytesRead === 0) {
          // The file is shorter than the torrent says (cut under us): zeros, so the piece fails its hash.
          for (const v of rest) v.fill(0);
          break;
        }
        done += bytesRead;
      }
    });
  }

  async writePiece(index: number, data: Uint8Array): Promise<void> {
    checkPieceData(this.info, index, data);
    const { offset, length } = pieceRange(this.info, index);
    const op = (async () => {
      this.#check();
      const slices = mapRange(this.info.files, offset, length).filter((s) => !this.#pads.has(s.fileIndex));
      await Promise.all(slices.map((s) => this.#writeSlice(s, data)));
    })();
    return this.#track(op);
  }

  async flush(): Promise<void> {
    this.#check();
    await this.#handles.flush();
    await this.#parts?.sync();
  }

  /**
   * fsyncs every non-empty file, written through this store or not: after
   * verifying data that an earlier process wrote (and may have left only in
   * the page cache when it died), before recording it as complete.
   */
  async syncAll(): Promise<void> {
    await this.flush();
    for (let i = 0; i < this.info.files.length; i++) {
      if (this.info.files[i]!.length === 0 || this.#paths[i] === '' || this.#inParts.has(i)) continue;
      await this.#handles.use(i, 'read', (h) => storageIo(this.#paths[i]!, 'fsync', () => h.sync()));
    }
  }

  async fingerprint(): Promise<FileFingerprint[]> {
    this.#check();
    const out: FileFingerprint[] = [];
    const parts = this.#inParts.size > 0 ? await this.#parts!.stat() : undefined;
    for (let i = 0; i < this.info.files.length; i++) {
      if (this.info.files[i]!.length === 0 || this.#paths[i] === '') continue;
      const p = this.#paths[i]!;
      if (this.#inParts.has(i)) {
        // Its bytes are in the part file: that file's change time stands for it.
        out.push({ path: p, size: this.info.files[i]!.length, mtimeMs: parts?.mtimeMs ?? 0 });
        continue;
      }
      const st = await storageIo(p, 'stat', () => fsp.lstat(p));
      out.push({ path: p, size: st.size, mtimeMs: st.mtimeMs });
    }
    return out;
  }

  /**
   * Changes which files are skipped. A file chosen now whose bytes are in
   * the part file gets its real file, and those bytes move into it (writes
   * to it wait meanwhile). A file skipped now that is already on disk stays
   * there: its data is the user's. The part file goes once nothing uses it.
   */
  async setSkipped(skipped: ReadonlySet<number>): Promise<void> {
    this.#check();
    this.#skipped = skipped;
    for (const i of [...this.#inParts]) {
      if (skipped.has(i)) continue;
      const move = this.#moveOut(i);
      this.#moving.set(i, move);
      try {
        await move;
      } finally {
        this.#moving.delete(i);
      }
    }
    if (this.#inParts.size === 0 && this.#parts && (await this.#parts.exists())) await this.#parts.remove();
  }

  async #moveOut(i: number): Promise<void> {
    const f = this.info.files[i]!;
    const p = this.#paths[i]!;
    // Writes already on their way to the part file land first.
    await Promise.allSettled([...this.#inflight]);
    await this.#where.checkFolders(i, new Set());
    await this.#where.makeFolders(i);
    await storageIo(p, 'create', async () => {
      const h = await fsp.open(p, fsConstants.O_RDWR | fsConstants.O_CREAT | fsConstants.O_EXCL | O_NOFOLLOW, f.executable ? 0o777 : 0o666);
      try {
        if (f.length > 0) await h.truncate(f.length);
        const buf = new Uint8Array(Math.min(MOVE_CHUNK_BYTES, Math.max(1, f.length)));
        for (let off = 0; off < f.length; off += buf.length) {
          const n = Math.min(buf.length, f.length - off);
          await this.#parts!.read(f.offset + off, buf, 0, n);
          // Holes stay holes: only chunks with data are written.
          if (buf.subarray(0, n).some((b) => b !== 0)) await h.write(buf, 0, n, off);
        }
        await h.sync();
      } finally {
        await h.close();
      }
    });
    this.#inParts.delete(i);
  }
}

/** Writes `length` bytes of `data` from `offset` at file position `position`, however short the calls. */
async function writeFully(h: FileHandle, p: string, data: Uint8Array, offset: number, length: number, position: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesWritten } = await storageIo(p, 'write', () => h.write(data, offset + done, length - done, position + done));
    done += bytesWritten;
  }
}
