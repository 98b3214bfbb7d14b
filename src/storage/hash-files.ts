/**
 * Hashes a list of data files as one concatenated byte stream (BEP 3: the
 * torrent's data is the files in order), piece by piece, for make-torrent.
 *
 * The main thread only reads: it fills piece-aligned chunks and hands each to
 * the HashPool, whose worker threads SHA-1 them on every core. Chunk buffers
 * come back from the workers (transferred, not copied) and are reused, and at
 * most a few chunks are in flight, so memory stays bounded whatever the size
 * of the data.
 */
import { constants as fsConstants, readSync, type Dirent } from 'node:fs';
import { access, lstat, open, readdir, realpath, stat, type FileHandle } from 'node:fs/promises';
import { basename, join, resolve, sep } from 'node:path';
import { StorageError, UsageError, errorMessage } from '../errors.js';
import type { HashPool } from '../util/hash-pool.js';

export interface HashFileInput {
  absPath: string;
  /** Expected length; the file must still have it when it is read. */
  length: number;
}

export interface HashFilesOptions {
  pool: HashPool;
  signal?: AbortSignal;
  /** Called after each hashed chunk with the bytes hashed so far and the total. */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  /** Target chunk size; rounded down to a multiple of the piece length, at least one piece (default 2 MiB). */
  chunkBytes?: number;
  /** Chunks read ahead of the hashers (default: two per worker thread, fewer when chunks are large). */
  maxInFlight?: number;
  /**
   * Read with blocking calls on this thread instead of the libuv pool. Much
   * cheaper per byte (no hand-off between threads), so a process with nothing
   * else on its event loop (the make-torrent CLI) should say true; a daemon
   * serving peers should not, since a slow disk would stall its loop.
   */
  blockingReads?: boolean;
}

/** Big enough that per-job overhead (a message to a worker) is noise, small enough to keep RSS low. */
const DEFAULT_CHUNK_BYTES = 2 * 1024 * 1024;
/**
 * Bytes of chunks in flight we aim under. A chunk holds whole pieces (the
 * pool hashes a piece in one go), so with 16 MiB pieces this is exceeded, but
 * only to one chunk per worker plus the one being read.
 */
const IN_FLIGHT_BUDGET_BYTES = 16 * 1024 * 1024;

/** Returns the concatenated 20-byte SHA-1 of every piece of the files' data. */
export async function hashFiles(files: readonly HashFileInput[], pieceLength: number, opts: HashFilesOptions): Promise<Uint8Array> {
  if (!Number.isSafeInteger(pieceLength) || pieceLength <= 0) throw new RangeError(`pieceLength must be a positive integer, got ${pieceLength}`);
  const { pool, signal } = opts;
  signal?.throwIfAborted();
  const total = files.reduce((s, f) => s + f.length, 0);
  const pieceCount = Math.ceil(total / pieceLength);
  const pieces = new Uint8Array(pieceCount * 20);
  if (total === 0) return pieces;

  const piecesPerChunk = Math.max(1, Math.floor((opts.chunkBytes ?? DEFAULT_CHUNK_BYTES) / pieceLength));
  const chunkBytes = piecesPerChunk * pieceLength;
  const maxInFlight = Math.max(1, opts.maxInFlight ?? Math.max(pool.threads, Math.min(pool.threads * 2, Math.floor(IN_FLIGHT_BUDGET_BYTES / chunkBytes))));
  const free: Uint8Array[] = [];
  const inFlight = new Set<Promise<void>>();
  let failure: unknown;
  let done = 0;
  const reader = new ConcatReader(files, opts.blockingReads === true);
  try {
    for (let pos = 0, chunk = 0; pos < total; pos += chunkBytes, chunk++) {
      while (inFlight.size >= maxInFlight) await Promise.race(inFlight);
      if (failure !== undefined) throw failure;
      signal?.throwIfAborted();
      const len = Math.min(chunkBytes, total - pos);
      const buf = free.pop() ?? new Uint8Array(chunkBytes);
      await reader.read(buf, len);
      // A full chunk is transferred to the worker and comes back; the short
      // last one is copied by the pool, so `buf` stays ours either way.
      const job = pool.hashPieces(len === chunkBytes ? buf : buf.subarray(0, len), pieceLength);
      if (len !== chunkBytes) free.push(buf);
      const offset = chunk * piecesPerChunk * 20;
      const p: Promise<void> = job.then(
        (r) => {
          pieces.set(r.digests, offset);
          if (r.buf.byteLength === chunkBytes) free.push(r.buf);
          done += len;
          opts.onProgress?.(done, total);
        },
        (err: unknown) => {
          failure ??= err;
        },
      ).finally(() => inFlight.delete(p));
      inFlight.add(p);
    }
    await Promise.all(inFlight);
    if (failure !== undefined) throw failure;
    signal?.throwIfAborted();
    return pieces;
  } finally {
    await reader.close();
  }
}

/** Reads consecutive byte ranges across the files, one open handle at a time. */
class ConcatReader {
  readonly #files: readonly HashFileInput[];
  #index = 0;
  #offset = 0;
  readonly #blocking: boolean;
  #fh: FileHandle | undefined;

  constructor(files: readonly HashFileInput[], blocking: boolean) {
    this.#files = files;
    this.#blocking = blocking;
  }

  /** Fills `buf[0, len)` with the next `len` bytes of the concatenated data. */
  async read(buf: Uint8Array, len: number): Promise<void> {
    let filled = 0;
    while (filled < len) {
      const file = this.#files[this.#index];
      if (!file) throw new StorageError('internal: read past the end of the files');
      if (this.#offset === file.length) {
        await this.#closeFile();
        this.#index++;
        this.#offset = 0;
        continue;
      }
      const fh = this.#fh ?? (await this.#openFile(file));
      const want = Math.min(len - filled, file.length - this.#offset);
      let n: number;
      try {
        n = this.#blocking ? readSync(fh.fd, buf, filled, want, this.#offset) : (await fh.read(buf, filled, want, this.#offset)).bytesRead;
      } catch (err) {
        throw new StorageError(`cannot read ${file.absPath}: ${errorMessage(err)}`, { cause: err });
      }
      if (n === 0) throw new StorageError(`${file.absPath} shrank while it was being hashed (expected ${file.length} bytes)`);
      filled += n;
      this.#offset += n;
    }
  }

  async #openFile(file: HashFileInput): Promise<FileHandle> {
    let fh: FileHandle;
    try {
      fh = await open(file.absPath, 'r');
    } catch (err) {
      throw new StorageError(`cannot open ${file.absPath}: ${errorMessage(err)}`, { cause: err });
    }
    this.#fh = fh;
    const size = (await fh.stat()).size;
    if (size !== file.length) throw new StorageError(`${file.absPath} changed size since it was listed (${file.length} -> ${size} bytes)`);
    return fh;
  }

  async #closeFile(): Promise<void> {
    const fh = this.#fh;
    this.#fh = undefined;
    await fh?.close();
  }

  async close(): Promise<void> {
    await this.#closeFile();
  }
}

/** One data file of a torrent being made. */
export interface ContentFile extends HashFileInput {
  /** Path components under the torrent's name (a single file: `[name]`). */
  path: string[];
}

export interface ContentListing {
  /** The file's or folder's base name: the torrent's `name`. */
  name: string;
  /** True for a folder (a multi-file torrent), even one holding a single file. */
  multiFile: boolean;
  /** Files in the torrent's data order: sorted by path, component by component, as raw bytes. */
  files: ContentFile[];
  totalBytes: number;
  /**
   * Symlinks that were followed (staying inside), as shown to the user, the
   * path given included. `peer seed` never reads through a link (see
   * FileStore), so this content can be seeded only from a copy without them.
   */
  links: string[];
}

/**
 * Lists what `make-torrent <path>` shares. Rules, so nothing is skipped
 * silently: hidden files (dot files) are included, like mktorrent and
 * transmission-create do, since the user named the folder; symlinks are
 * followed when they stay inside the folder and refused when they leave it
 * (they would publish files the user did not mean to share) or loop; sockets,
 * FIFOs and devices are refused; an unreadable file or folder is refused.
 * Every refusal is a UsageError saying what to do.
 */
export async function listContent(path: string): Promise<ContentListing> {
  const rootAbs = resolve(path);
  let st;
  try {
    st = await stat(rootAbs);
  } catch (err) {
    throw fsUsageError(err, path, 'file or folder to share');
  }
  const name = basename(rootAbs);
  const links: string[] = [];
  if ((await lstat(rootAbs)).isSymbolicLink()) links.push(path);
  if (st.isFile()) {
    await checkReadable(rootAbs, path);
    return { name, multiFile: false, files: [{ absPath: rootAbs, path: [name], length: st.size }], totalBytes: st.size, links };
  }
  if (!st.isDirectory()) throw new UsageError(`${path} is neither a file nor a folder: give a regular file or a folder to share`);
  const rootReal = await realpath(rootAbs);
  const files: ContentFile[] = [];
  await walk(rootAbs, [], new Set([rootReal]));
  if (files.length === 0) throw new UsageError(`the folder ${path} holds no files: there is nothing to share`);
  return { name, multiFile: true, files, totalBytes: files.reduce((s, f) => s + f.length, 0), links };

  async function walk(dirAbs: string, rel: string[], ancestors: Set<string>): Promise<void> {
    let entries: Dirent[];
    try {
      entries = await readdir(dirAbs, { withFileTypes: true });
    } catch (err) {
      throw fsUsageError(err, dirAbs, 'folder');
    }
    entries.sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
    for (const e of entries) {
      const abs = join(dirAbs, e.name);
      const relPath = [...rel, e.name];
      const shown = join(path, ...relPath);
      let real = abs;
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      if (e.isSymbolicLink()) {
        try {
          real = await realpath(abs);
        } catch (err) {
          throw new UsageError(`${shown} is a broken symlink: remove it or fix its target`, { cause: err });
        }
        if (real !== rootReal && !real.startsWith(rootReal + sep)) {
          throw new UsageError(`${shown} is a symlink to ${real}, outside the folder being shared: remove it or copy the file in`);
        }
        links.push(shown);
        const target = await stat(real);
        isDir = target.isDirectory();
        isFile = target.isFile();
      }
      if (isDir) {
        const realDir = e.isSymbolicLink() ? real : await realpath(abs);
        if (ancestors.has(realDir)) throw new UsageError(`${shown} is a symlink that loops back to a folder above it: remove it`);
        await walk(abs, relPath, new Set([...ancestors, realDir]));
      } else if (isFile) {
        await checkReadable(abs, shown);
        const size = (await stat(abs)).size;
        files.push({ absPath: abs, path: relPath, length: size });
      } else {
        throw new UsageError(`${shown} is not a regular file or folder (a socket, FIFO or device): remove it or share another folder`);
      }
    }
  }
}

async function checkReadable(abs: string, shown: string): Promise<void> {
  try {
    await access(abs, fsConstants.R_OK);
  } catch (err) {
    throw fsUsageError(err, shown, 'file');
  }
}

function fsUsageError(err: unknown, path: string, what: string): UsageError {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new UsageError(`no such ${what}: ${path}`, { cause: err });
  if (code === 'EACCES' || code === 'EPERM') return new UsageError(`cannot read ${path}: permission denied (fix its permissions or leave it out)`, { cause: err });
  return new UsageError(`cannot read ${path}: ${errorMessage(err)}`, { cause: err });
}
