/**
 * The open file handles of one FileStore, in an LRU bounded by
 * `maxOpenFiles`: a torrent with thousands of files must not exhaust the
 * process's descriptors. A handle in use is never closed under its user;
 * when every slot is busy a caller waits. A handle that was written is
 * fsynced before the LRU closes it, so a flush only needs to sync the
 * handles still open.
 */
import { constants as fsConstants } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { StorageError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { ContentPaths } from './content-paths.js';
import { errnoCode } from './fs-io.js';

interface Slot {
  fileIndex: number;
  ready: Promise<FileHandle>;
  handle?: FileHandle;
  refs: number;
  /** Written since its last fsync. */
  dirty: boolean;
}

const READ_ONLY_CODES = new Set(['EACCES', 'EPERM', 'EROFS']);

export interface HandleCacheOptions {
  paths: ContentPaths;
  maxOpenFiles: number;
  /** A leecher must be able to write; a seeder falls back to read-only handles (read-only media). */
  create: boolean;
  logger: Logger;
  /** Throws when the store is not open: checked before each wait for a handle. */
  checkOpen: () => void;
}

export class HandleCache {
  readonly #paths: ContentPaths;
  readonly #maxOpen: number;
  readonly #create: boolean;
  readonly #log: Logger;
  readonly #checkOpen: () => void;
  #writable = true;
  /** Insertion order is LRU order (oldest first). */
  readonly #slots = new Map<number, Slot>();
  /** Handles opened, being opened, or being closed: what the cap bounds. */
  #live = 0;
  #waiters: (() => void)[] = [];
  /** An fsync that failed while the LRU closed a handle; reported by the next flush. */
  #syncError?: StorageError;

  constructor(opts: HandleCacheOptions) {
    this.#paths = opts.paths;
    this.#maxOpen = Math.max(1, Math.floor(opts.maxOpenFiles));
    this.#create = opts.create;
    this.#log = opts.logger;
    this.#checkOpen = opts.checkOpen;
  }

  /** Number of file handles open now. */
  get live(): number {
    return this.#live;
  }

  /**
   * Runs `fn` with the handle of file `i`, which stays open until it ends.
   * `write` marks the handle for the next fsync, and refuses when the files
   * had to be opened read-only.
   */
  async use<T>(i: number, mode: 'read' | 'write', fn: (h: FileHandle) => Promise<T>): Promise<T> {
    const slot = await this.#acquire(i);
    try {
      if (mode === 'write') {
        if (!this.#writable) throw new StorageError(`cannot write ${this.#paths.paths[i]!}: the files were opened read-only`);
        slot.dirty = true;
      }
      return await fn(slot.handle!);
    } finally {
      this.#release(slot);
    }
  }

  /** fsyncs every written handle still open; first reports an fsync that failed when the LRU closed one. */
  async flush(): Promise<void> {
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
            throw new StorageError(`fsync of ${this.#paths.paths[s.fileIndex]!} failed: ${errorMessage(err)}`, { cause: err });
          });
        } finally {
          this.#release(s);
        }
      }),
    );
  }

  /** Closes every handle (fsyncing the written ones); throws the first failure after trying them all. */
  async closeAll(): Promise<void> {
    const slots = [...this.#slots.values()];
    this.#slots.clear();
    const errors: unknown[] = [];
    await Promise.all(slots.map((s) => this.#closeSlot(s).catch((e: unknown) => errors.push(e))));
    this.#wake();
    if (errors.length > 0) throw errors[0];
  }

  #wake(): void {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }

  async #acquire(i: number): Promise<Slot> {
    for (;;) {
      this.#checkOpen();
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
    const p = this.#paths.paths[i]!;
    // A link may have been planted since open(): the folders are checked again, the file is not followed.
    await this.#paths.checkFolders(i);
    if (this.#writable) {
      try {
        return await this.#paths.openNoFollow(p, fsConstants.O_RDWR);
      } catch (err) {
        // A seeder may serve from read-only media; a leecher must be able to write.
        if (this.#create || !READ_ONLY_CODES.has(errnoCode((err as Error).cause) ?? '')) throw err;
        this.#writable = false;
      }
    }
    return this.#paths.openNoFollow(p, fsConstants.O_RDONLY);
  }

  #release(s: Slot): void {
    s.refs--;
    if (s.refs === 0) this.#wake();
  }

  /** fsyncs a written handle, then closes it; `#live` drops when it is gone. */
  async #closeSlot(s: Slot): Promise<void> {
    const p = this.#paths.paths[s.fileIndex]!;
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
}
