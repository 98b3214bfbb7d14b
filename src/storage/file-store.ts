/**
 * PieceStore on the file system: the only code that touches a torrent's data
 * files. Pieces map onto files through metainfo/layout.ts (a piece may span
 * files); every read and write is positional (`FileHandle.read/write` at an
 * offset, no streams), so blocks of many pieces can be in flight at once.
 *
 * Open handles are kept in an LRU bounded by `maxOpenFiles`: a torrent with
 * thousands of files must not exhaust the process's descriptors. A handle in
 * use is never closed under its user; when every slot is busy a caller waits.
 * A handle that was written is fsynced before the LRU closes it, so `flush()`
 * only needs to sync the handles still open.
 *
 * Paths: `contentPath` is the file of a single-file torrent and the folder
 * `<name>` of a multi-file one. Metainfo already refuses `..` and absolute
 * components; we check again (defence in depth). Symlinks: the folder that
 * holds `contentPath` is the user's choice (--out, --downloads, the parent of
 * --data) and is trusted, link or not; `contentPath` itself and every file or
 * folder below it must not be a symlink, whether the torrent names it or
 * someone planted it, before start or while we run. Each file is checked on
 * open() and again each time a handle is opened: every folder from
 * `contentPath` down is lstat'ed, and the file is opened with O_NOFOLLOW (Node
 * has no openat(), so a link swapped in between the two is the one race left).
 * A link is refused with a SymlinkRefusedError (exit 2) naming it, for the
 * seeder too: it must not serve a file elsewhere through a planted link.
 *
 * BEP 47: pad files are never created; their range reads as zeros and what
 * a piece holds there is dropped on write (the piece's hash covers zeros, so
 * a piece with other bytes there never got this far). Symlinks are never
 * created either (a warning says so). Files marked executable are created
 * with the executable bits.
 */
import { promises as fsp, constants as fsConstants, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { StorageError, SymlinkRefusedError, errorMessage } from '../errors.js';
import { getLogger, type Logger } from '../log.js';
import { isOnDisk, mapRange, pieceRange, type FileSlice } from '../metainfo/layout.js';
import type { InfoDict } from '../metainfo/types.js';
import { checkBlock, checkPieceData, checkRange, rangeTarget, scatterViews, totalLength, type FileFingerprint, type PieceStore } from './piece-store.js';

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
}

interface Slot {
  fileIndex: number;
  ready: Promise<FileHandle>;
  handle?: FileHandle;
  refs: number;
  /** Written since its last fsync. */
  dirty: boolean;
}

const READ_ONLY_CODES = new Set(['EACCES', 'EPERM', 'EROFS']);

/** 0 where the platform has no O_NOFOLLOW (Windows), where the lstat checks still run. */
const O_NOFOLLOW = fsConstants.O_NOFOLLOW ?? 0;
/** What open() with O_NOFOLLOW fails with on a symlink: ELOOP (Linux, macOS), EMLINK (FreeBSD). */
const LINK_OPEN_CODES = new Set(['ELOOP', 'EMLINK']);

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

export class FileStore implements PieceStore {
  readonly info: InfoDict;
  /** Absolute, resolved content path. */
  readonly contentPath: string;
  readonly #maxOpen: number;
  readonly #log: Logger;
  readonly #create: boolean;
  /** Absolute path of each file, in torrent order; '' for pad files and symlinks (nothing on disk). */
  readonly #paths: string[];
  /** Folders from `contentPath` down to each file's own folder (none for a single-file torrent). */
  readonly #folders: string[][];
  /** Indices of pad files (BEP 47): zeros in pieces, never on disk. */
  readonly #pads: ReadonlySet<number>;
  readonly #created = new Set<number>();
  #writable = true;
  #state: 'new' | 'opening' | 'open' | 'closed' = 'new';
  #opening?: Promise<void>;
  #closing?: Promise<void>;
  /** Insertion order is LRU order (oldest first). */
  readonly #slots = new Map<number, Slot>();
  /** Handles opened, being opened, or being closed: what the cap bounds. */
  #live = 0;
  #waiters: (() => void)[] = [];
  readonly #inflight = new Set<Promise<unknown>>();
  /** An fsync that failed while the LRU closed a handle; reported by the next flush(). */
  #syncError?: StorageError;

  constructor(opts: FileStoreOptions) {
    this.info = opts.info;
    this.contentPath = path.resolve(opts.contentPath);
    this.#maxOpen = Math.max(1, Math.floor(opts.maxOpenFiles ?? 64));
    this.#log = opts.logger ?? getLogger('storage');
    this.#create = opts.create;
    this.#paths = opts.info.files.map((f) => (isOnDisk(f) ? this.#resolve(f.path) : ''));
    this.#folders = opts.info.files.map((f) => {
      if (!this.info.multiFile || !isOnDisk(f)) return [];
      const out = [this.contentPath];
      for (const c of f.path.slice(0, -1)) out.push(path.join(out[out.length - 1]!, c));
      return out;
    });
    this.#pads = new Set(opts.info.files.flatMap((f, i) => (f.pad ? [i] : [])));
  }

  /** Absolute path of file `fileIndex`. */
  pathOf(fileIndex: number): string {
    const p = this.#paths[fileIndex];
    if (p === undefined) throw new RangeError(`file ${fileIndex} out of range 0..${this.#paths.length - 1}`);
    if (p === '') throw new RangeError(`file ${fileIndex} is a pad file or a symlink: it has no path on disk`);
    return p;
  }

  /** Files that open() had to create (they held no data before), for a leecher's fast fresh start. */
  get createdFiles(): ReadonlySet<number> {
    return this.#created;
  }

  /** Number of file handles open now (tests check the LRU bound). */
  get openHandles(): number {
    return this.#live;
  }

  #resolve(components: string[]): string {
    if (!this.info.multiFile) return this.contentPath;
    for (const c of components) {
      if (c === '' || c === '.' || c === '..' || c.includes('/') || c.includes('\\') || c.includes('\0')) {
        throw new StorageError(`unsafe path component ${JSON.stringify(c)} in ${JSON.stringify(components.join('/'))}`);
      }
    }
    const p = path.resolve(this.contentPath, ...components);
    if (!p.startsWith(this.contentPath + path.sep)) throw new StorageError(`path ${p} escapes the content folder ${this.contentPath}`);
    return p;
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
      let st = await this.#lstatNoLink(this.contentPath);
      if (!st && this.#create) {
        await this.#io(this.contentPath, 'create folder', () => fsp.mkdir(this.contentPath, { recursive: true }));
        st = await this.#lstatNoLink(this.contentPath);
      }
      if (!st) throw new StorageError(`content folder ${this.contentPath} is missing`);
      if (!st.isDirectory()) throw new StorageError(`${this.contentPath} is not a folder (a multi-file torrent's content is the folder <name>)`);
    }
    const realFolders = new Set<string>();
    for (let i = 0; i < this.info.files.length; i++) {
      const f = this.info.files[i]!;
      if (f.symlink) this.#log.warn(`not creating ${f.path.join('/')}: a symlink to ${f.symlink.join('/')} (symlinks from a torrent are never created)`);
      if (!isOnDisk(f)) continue;
      const p = this.#paths[i]!;
      const want = f.length;
      await this.#checkFolders(i, realFolders);
      const st = await this.#lstatNoLink(p);
      if (st && !st.isFile()) throw new StorageError(`${p} is not a regular file`);
      if (!this.#create) {
        if (want === 0) continue; // holds no piece data: nothing to serve from it
        if (!st) throw new StorageError(`missing file ${p} (${want} bytes expected)`);
        if (st.size !== want) throw new StorageError(`file ${p} has ${st.size} bytes, expected ${want}`);
        continue;
      }
      if (!st) {
        await this.#makeFolders(i);
        // O_EXCL: never follow or reuse something that appeared since the lstat.
        await this.#io(p, 'create', async () => {
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
        const h = await this.#openNoFollow(p, fsConstants.O_RDWR);
        await this.#io(p, 'resize', () => h.truncate(want)).finally(() => h.close());
      }
    }
  }

  /** lstat of `q`: undefined when it does not exist; a SymlinkRefusedError when it is a link. */
  async #lstatNoLink(q: string): Promise<Stats | undefined> {
    let st: Stats;
    try {
      st = await fsp.lstat(q);
    } catch (err) {
      if (code(err) === 'ENOENT') return undefined;
      throw new StorageError(`cannot stat ${q}: ${errorMessage(err)}`, { cause: err });
    }
    if (st.isSymbolicLink()) throw await this.#linkRefused(q);
    return st;
  }

  /**
   * Refuses file `i` when `contentPath` or a folder between it and the file
   * is a symlink (or not a folder); stops at the first that does not exist
   * yet. `known` holds folders already checked during this open().
   */
  async #checkFolders(i: number, known?: Set<string>): Promise<void> {
    for (const q of this.#folders[i]!) {
      if (known?.has(q)) continue;
      const st = await this.#lstatNoLink(q);
      if (!st) return;
      if (!st.isDirectory()) throw new StorageError(`${q} is not a folder, but ${this.#paths[i]!} lies in it`);
      known?.add(q);
    }
  }

  /** Creates the folders of file `i` one at a time, each checked to be a real folder before going into it. */
  async #makeFolders(i: number): Promise<void> {
    const folders = this.#folders[i]!;
    // The folder holding the content path is the user's (--out): created as it is, links and all.
    const top = path.dirname(this.contentPath);
    await this.#io(top, 'create folder', () => fsp.mkdir(top, { recursive: true }));
    for (const q of folders) {
      await fsp.mkdir(q).catch((err: unknown) => {
        if (code(err) !== 'EEXIST') throw new StorageError(`create folder ${q} failed: ${errorMessage(err)}`, { cause: err });
      });
      const st = await this.#lstatNoLink(q);
      if (!st?.isDirectory()) throw new StorageError(`${q} is not a folder, but ${this.#paths[i]!} lies in it`);
    }
  }

  /** Opens `p` without following a symlink at its last component (the folders above are checked by the caller). */
  async #openNoFollow(p: string, flags: number): Promise<FileHandle> {
    try {
      return await fsp.open(p, flags | O_NOFOLLOW);
    } catch (err) {
      if (LINK_OPEN_CODES.has(code(err) ?? '')) {
        const st = await fsp.lstat(p).catch(() => undefined);
        if (st?.isSymbolicLink()) throw await this.#linkRefused(p);
      }
      throw new StorageError(`cannot open ${p}: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** The error for the symlink `q`, with what it points to and how to fix it. */
  async #linkRefused(q: string): Promise<SymlinkRefusedError> {
    const target = await fsp.readlink(q).catch(() => '(unreadable)');
    const isRoot = q === this.contentPath;
    let hint: string;
    if (this.#create) {
      hint = isRoot
        ? 'a download is never written through a link; remove or rename it, or download into another folder'
        : 'a download is written only into real folders under its own; remove the link and start again';
    } else if (isRoot) {
      const real = await fsp.realpath(q).catch(() => undefined);
      hint = `a seeder reads its content only through real folders; give the real path instead${real ? ` (--data ${real})` : ''}`;
    } else {
      hint = 'a seeder serves only what lies in its content folder; replace the link with a copy of what it points to';
    }
    return new SymlinkRefusedError(q, target, this.#create ? 'write' : 'read', hint);
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
    const slots = [...this.#slots.values()];
    this.#slots.clear();
    const errors: unknown[] = [];
    await Promise.all(slots.map((s) => this.#closeSlot(s).catch((e: unknown) => errors.push(e))));
    this.#wake();
    if (errors.length > 0) throw errors[0];
  }

  #check(): void {
    if (this.#state !== 'open') {
      throw new StorageError(`store of ${this.contentPath} is ${this.#state === 'closed' ? 'closed' : 'not open'}`);
    }
  }

  // --- handle LRU ---------------------------------------------------------

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  async #acquire(i: number): Promise<Slot> {
    for (;;) {
      this.#check();
      const s = this.#slots.get(i);
      if (s) {
        s.refs++;
        this.#slots.delete(i); // move to the young end
        this.#slots.set(i, s);
        try {
          await s.ready;
        } catch (err) {
          this.#release(s);
          throw err;
        }
        return s;
      }
      if (this.#live < this.#maxOpen) break;
      const victim = [...this.#slots.values()].find((v) => v.refs === 0 && v.handle !== undefined);
      if (victim) {
        this.#slots.delete(victim.fileIndex);
        await this.#closeSlot(victim).catch((err: StorageError) => {
          this.#syncError ??= err;
          this.#log.error(err.message);
        });
      } else {
        await new Promise<void>((resolve) => this.#waiters.push(resolve));
      }
    }
    const slot: Slot = { fileIndex: i, refs: 1, dirty: false, ready: this.#openHandle(i) };
    this.#live++;
    this.#slots.set(i, slot);
    try {
      slot.handle = await slot.ready;
    } catch (err) {
      if (this.#slots.get(i) === slot) this.#slots.delete(i);
      this.#live--;
      slot.refs--;
      this.#wake();
      throw err;
    }
    return slot;
  }

  async #openHandle(i: number): Promise<FileHandle> {
    const p = this.#paths[i]!;
    // A link may have been planted since open(): the folders are checked again, the file is not followed.
    await this.#checkFolders(i);
    if (this.#writable) {
      try {
        return await this.#openNoFollow(p, fsConstants.O_RDWR);
      } catch (err) {
        // A seeder may serve from read-only media; a leecher must be able to write.
        if (this.#create || !READ_ONLY_CODES.has(code((err as Error).cause) ?? '')) throw err;
        this.#writable = false;
      }
    }
    return this.#openNoFollow(p, fsConstants.O_RDONLY);
  }

  #release(s: Slot): void {
    s.refs--;
    if (s.refs === 0) this.#wake();
  }

  /** fsyncs a written handle, then closes it; `#live` drops when it is gone. */
  async #closeSlot(s: Slot): Promise<void> {
    const p = this.#paths[s.fileIndex]!;
    let h: FileHandle;
    try {
      h = await s.ready;
    } catch {
      return; // never opened: #acquire already accounted for it
    }
    try {
      if (s.dirty) {
        s.dirty = false;
        await h.sync().catch((err: unknown) => {
          throw new StorageError(`fsync of ${p} failed: ${errorMessage(err)}`, { cause: err });
        });
      }
    } finally {
      await h.close().catch((err: unknown) => this.#log.warn(`closing ${p}: ${errorMessage(err)}`));
      this.#live--;
      this.#wake();
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

  async #io<T>(p: string, what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof StorageError) throw err;
      throw new StorageError(`${what} ${p} failed: ${errorMessage(err)}`, { cause: err });
    }
  }

  // --- data ---------------------------------------------------------------

  async #readSlice(s: FileSlice, buf: Uint8Array, base: number): Promise<void> {
    const slot = await this.#acquire(s.fileIndex);
    const p = this.#paths[s.fileIndex]!;
    try {
      let done = 0;
      while (done < s.length) {
        const { bytesRead } = await this.#io(p, 'read', () =>
          slot.handle!.read(buf, base + s.rangeOffset + done, s.length - done, s.fileOffset + done),
        );
        if (bytesRead === 0) {
          // The file is shorter than the torrent says (cut under us): zeros, so the piece fails its hash.
          buf.fill(0, base + s.rangeOffset + done, base + s.rangeOffset + s.length);
          break;
        }
        done += bytesRead;
      }
    } finally {
      this.#release(slot);
    }
  }

  async #writeSlice(s: FileSlice, data: Uint8Array): Promise<void> {
    const slot = await this.#acquire(s.fileIndex);
    const p = this.#paths[s.fileIndex]!;
    try {
      if (!this.#writable) throw new StorageError(`cannot write ${p}: the files were opened read-only`);
      slot.dirty = true;
      let done = 0;
      while (done < s.length) {
        const { bytesWritten } = await this.#io(p, 'write', () =>
          slot.handle!.write(data, s.rangeOffset + done, s.length - done, s.fileOffset + done),
        );
        done += bytesWritten;
      }
    } finally {
      this.#release(slot);
    }
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
    const slot = await this.#acquire(s.fileIndex);
    const p = this.#paths[s.fileIndex]!;
    try {
      let done = 0;
      while (done < s.length) {
        const rest = scatterViews(views, done, s.length - done);
        const { bytesRead } = await this.#io(p, 'read', () => slot.handle!.readv(rest, s.fileOffset + done));
        if (bytesRead === 0) {
          // The file is shorter than the torrent says (cut under us): zeros, so the piece fails its hash.
          for (const v of rest) v.fill(0);
          break;
        }
        done += bytesRead;
      }
    } finally {
      this.#release(slot);
    }
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
    const pending = this.#syncError;
    this.#syncError = undefined;
    if (pending) throw pending;
    const dirty = [...this.#slots.values()].filter((s) => s.dirty);
    await Promise.all(
      dirty.map(async (s) => {
        s.refs++; // pin it: the LRU must not close it under the fsync
        try {
          const h = await s.ready;
          s.dirty = false; // writes that land during the fsync mark it again
          await h.sync().catch((err: unknown) => {
            s.dirty = true;
            throw new StorageError(`fsync of ${this.#paths[s.fileIndex]!} failed: ${errorMessage(err)}`, { cause: err });
          });
        } finally {
          this.#release(s);
        }
      }),
    );
  }

  /**
   * fsyncs every non-empty file, written through this store or not: after
   * verifying data that an earlier process wrote (and may have left only in
   * the page cache when it died), before recording it as complete.
   */
  async syncAll(): Promise<void> {
    await this.flush();
    for (let i = 0; i < this.info.files.length; i++) {
      if (this.info.files[i]!.length === 0 || this.#paths[i] === '') continue;
      const slot = await this.#acquire(i);
      try {
        await this.#io(this.#paths[i]!, 'fsync', () => slot.handle!.sync());
      } finally {
        this.#release(slot);
      }
    }
  }

  async fingerprint(): Promise<FileFingerprint[]> {
    this.#check();
    const out: FileFingerprint[] = [];
    for (let i = 0; i < this.info.files.length; i++) {
      if (this.info.files[i]!.length === 0 || this.#paths[i] === '') continue;
      const p = this.#paths[i]!;
      const st = await this.#io(p, 'stat', () => fsp.lstat(p));
      out.push({ path: p, size: st.size, mtimeMs: st.mtimeMs });
    }
    return out;
  }
}
