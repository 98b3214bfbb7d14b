/**
 * Where a torrent's files lie, and the symlink rules for getting there.
 *
 * `contentPath` is the file of a single-file torrent and the folder `<name>`
 * of a multi-file one. Metainfo already refuses `..` and absolute
 * components; we check again (defence in depth). Symlinks: the folder that
 * holds `contentPath` is the user's choice (--out, --downloads, the parent of
 * --data) and is trusted, link or not; `contentPath` itself and every file or
 * folder below it must not be a symlink, whether the torrent names it or
 * someone planted it, before start or while we run. The store checks each
 * file on open() and again each time a handle is opened: every folder from
 * `contentPath` down is lstat'ed, and the file is opened with O_NOFOLLOW (Node
 * has no openat(), so a link swapped in between the two is the one race left).
 * A link is refused with a SymlinkRefusedError (exit 2) naming it, for the
 * seeder too: it must not serve a file elsewhere through a planted link.
 */
import { promises as fsp, constants as fsConstants, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { StorageError, SymlinkRefusedError, errorMessage } from '../errors.js';
import { isOnDisk } from '../metainfo/layout.js';
import type { InfoDict } from '../metainfo/types.js';
import { errnoCode, storageIo } from './fs-io.js';
import { makeDir } from '../util/make-dir.js';

/** 0 where the platform has no O_NOFOLLOW (Windows), where the lstat checks still run. */
export const O_NOFOLLOW = fsConstants.O_NOFOLLOW ?? 0;
/** What open() with O_NOFOLLOW fails with on a symlink: ELOOP (Linux, macOS), EMLINK (FreeBSD). */
const LINK_OPEN_CODES = new Set(['ELOOP', 'EMLINK']);

export class ContentPaths {
  /** Absolute, resolved content path. */
  readonly contentPath: string;
  /** Absolute path of each file, in torrent order; '' for pad files and symlinks (nothing on disk). */
  readonly paths: readonly string[];
  readonly #multiFile: boolean;
  /** Leecher (true) or seeder: decides the wording of a refused link. */
  readonly #create: boolean;
  /** Folders from `contentPath` down to each file's own folder (none for a single-file torrent). */
  readonly #folders: string[][];

  constructor(info: InfoDict, contentPath: string, create: boolean) {
    this.contentPath = path.resolve(contentPath);
    this.#multiFile = info.multiFile;
    this.#create = create;
    this.paths = info.files.map((f) => (isOnDisk(f) ? this.#resolve(f.path) : ''));
    this.#folders = info.files.map((f) => {
      if (!info.multiFile || !isOnDisk(f)) return [];
      const out = [this.contentPath];
      for (const c of f.path.slice(0, -1)) out.push(path.join(out[out.length - 1]!, c));
      return out;
    });
  }

  /** Absolute path of file `fileIndex`. */
  pathOf(fileIndex: number): string {
    const p = this.paths[fileIndex];
    if (p === undefined) throw new RangeError(`file ${fileIndex} out of range 0..${this.paths.length - 1}`);
    if (p === '') throw new RangeError(`file ${fileIndex} is a pad file or a symlink: it has no path on disk`);
    return p;
  }

  #resolve(components: string[]): string {
    if (!this.#multiFile) return this.contentPath;
    for (const c of components) {
      if (c === '' || c === '.' || c === '..' || c.includes('/') || c.includes('\\') || c.includes('\0')) {
        throw new StorageError(`unsafe path component ${JSON.stringify(c)} in ${JSON.stringify(components.join('/'))}`);
      }
    }
    const p = path.resolve(this.contentPath, ...components);
    if (!p.startsWith(this.contentPath + path.sep)) throw new StorageError(`path ${p} escapes the content folder ${this.contentPath}`);
    return p;
  }

  /** lstat of `q`: undefined when it does not exist; a SymlinkRefusedError when it is a link. */
  async lstatNoLink(q: string): Promise<Stats | undefined> {
    let st: Stats;
    try {
      st = await fsp.lstat(q);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
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
  async checkFolders(i: number, known?: Set<string>): Promise<void> {
    for (const q of this.#folders[i]!) {
      if (known?.has(q)) continue;
      const st = await this.lstatNoLink(q);
      if (!st) return;
      if (!st.isDirectory()) throw new StorageError(`${q} is not a folder, but ${this.paths[i]!} lies in it`);
      known?.add(q);
    }
  }

  /** Creates the folders of file `i` one at a time, each checked to be a real folder before going into it. */
  async makeFolders(i: number): Promise<void> {
    const folders = this.#folders[i]!;
    // The folder holding the content path is the user's (--out): created as it is, links and all.
    const top = path.dirname(this.contentPath);
    await storageIo(top, 'create folder', () => makeDir(top));
    for (const q of folders) {
      await fsp.mkdir(q).catch((err: unknown) => {
        if (errnoCode(err) !== 'EEXIST') throw new StorageError(`create folder ${q} failed: ${errorMessage(err)}`, { cause: err });
      });
      const st = await this.lstatNoLink(q);
      if (!st?.isDirectory()) throw new StorageError(`${q} is not a folder, but ${this.paths[i]!} lies in it`);
    }
  }

  /** Opens `p` without following a symlink at its last component (the folders above are checked by the caller). */
  async openNoFollow(p: string, flags: number): Promise<FileHandle> {
    try {
      return await fsp.open(p, flags | O_NOFOLLOW);
    } catch (err) {
      if (LINK_OPEN_CODES.has(errnoCode(err) ?? '')) {
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
        : 'a download is written only into real folders under its own; remove or rename the link (a running download carries on by itself once it is gone)';
    } else if (isRoot) {
      const real = await fsp.realpath(q).catch(() => undefined);
      hint = `a seeder reads its content only through real folders; give the real path instead${real ? ` (--data ${real})` : ''}`;
    } else {
      hint = 'a seeder serves only what lies in its content folder; replace the link with a copy of what it points to';
    }
    return new SymlinkRefusedError(q, target, this.#create ? 'write' : 'read', hint);
  }
}
