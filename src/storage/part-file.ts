/**
 * The part file (as libtorrent's): where the bytes of skipped files go when
 * a piece that is wanted also holds some of them. Chosen files are fetched
 * whole pieces at a time, and a piece at the edge of a wanted file usually
 * spans the next file too; those bytes must be written somewhere for the
 * piece to be served and re-verified, but never into the user's folder as
 * a file they did not ask for.
 *
 * One sparse file per torrent in the state folder, laid out in torrent byte
 * space (the byte at torrent offset X lives at offset X), so no index is
 * needed and holes read as zeros (a piece never written there fails its
 * hash, as it should). When a skipped file is chosen later, its bytes move
 * from here into the real file (file-store.ts).
 */
import { promises as fsp, constants as fsConstants } from 'node:fs';
import { dirname } from 'node:path';
import { storageIo } from './fs-io.js';
import { O_NOFOLLOW } from './content-paths.js';
import { makeDir } from '../util/make-dir.js';

export class PartFile {
  readonly path: string;
  #handle: Promise<fsp.FileHandle> | undefined;

  constructor(path: string) {
    this.path = path;
  }

  /** Whether the part file exists on disk now. */
  async exists(): Promise<boolean> {
    return fsp.lstat(this.path).then(
      (st) => st.isFile(),
      () => false,
    );
  }

  #open(): Promise<fsp.FileHandle> {
    this.#handle ??= (async () => {
      await storageIo(dirname(this.path), 'create folder', () => makeDir(dirname(this.path)));
      return storageIo(this.path, 'open', () => fsp.open(this.path, fsConstants.O_RDWR | fsConstants.O_CREAT | O_NOFOLLOW, 0o600));
    })();
    this.#handle.catch(() => (this.#handle = undefined));
    return this.#handle;
  }

  /** Reads `length` bytes at torrent offset `at` into `buf[base..]`; what was never written reads as zeros. */
  async read(at: number, buf: Uint8Array, base: number, length: number): Promise<void> {
    const h = await this.#open();
    let done = 0;
    while (done < length) {
      const { bytesRead } = await storageIo(this.path, 'read', () => h.read(buf, base + done, length - done, at + done));
      if (bytesRead === 0) {
        buf.fill(0, base + done, base + length);
        return;
      }
      done += bytesRead;
    }
  }

  async write(at: number, data: Uint8Array, base: number, length: number, chunk: number): Promise<void> {
    const h = await this.#open();
    let done = 0;
    while (done < length) {
      const n = Math.min(length - done, chunk);
      const { bytesWritten } = await storageIo(this.path, 'write', () => h.write(data, base + done, n, at + done));
      done += bytesWritten;
    }
  }

  /** The part file's size and mtime (its fingerprint stands for the skipped files it holds). */
  async stat(): Promise<{ size: number; mtimeMs: number } | undefined> {
    return fsp.stat(this.path).then(
      (st) => ({ size: st.size, mtimeMs: st.mtimeMs }),
      () => undefined,
    );
  }

  async sync(): Promise<void> {
    if (!this.#handle) return;
    const h = await this.#handle;
    await storageIo(this.path, 'fsync', () => h.sync());
  }

  async close(): Promise<void> {
    const h = this.#handle;
    this.#handle = undefined;
    if (h) await (await h).close();
  }

  /** Closes and deletes it (nothing skipped holds bytes any more). */
  async remove(): Promise<void> {
    await this.close();
    await fsp.rm(this.path, { force: true });
  }
}
