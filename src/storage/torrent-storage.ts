/**
 * The storage policy a torrent calls: which pieces it has on start, and when
 * a downloaded piece becomes part of the resume state.
 *
 * On start (STYLE.md habit 5: "unknown" means verify):
 * - the resume state is trusted when its piece count matches and every
 *   file's size and mtime are what they were when it was saved;
 * - otherwise the pieces are verified, in parallel: only those touching a
 *   file that changed when the state's file list still describes this
 *   torrent, all of them otherwise (`recheck` forces all). Pieces lying
 *   wholly in files a leecher just created hold nothing and are skipped;
 * - a seeder is no exception: without a trusted state it verifies before
 *   it serves, and a corrupted piece is simply not had.
 *
 * While running: `pieceWritten()` adds a piece to `have` at once (it was
 * hashed and written, so it can be served from the page cache), and to the
 * resume state only at the next `flush()`, after the fsync. The fingerprint
 * is taken after that fsync, so the next start can trust the state; a crash
 * between a write and the next flush leaves files whose mtimes differ from
 * the state, and the next start verifies them.
 */
import { join } from 'node:path';
import { StorageError, errorMessage } from '../errors.js';
import { getLogger, type Logger } from '../log.js';
import { filesOfPiece, isOnDisk } from '../metainfo/layout.js';
import type { InfoDict } from '../metainfo/types.js';
import { Bitfield } from '../util/bitfield.js';
import type { HashPool } from '../util/hash-pool.js';
import { CompletionStore, fingerprintsMatch, type ResumeState } from './completion-store.js';
import { FileStore } from './file-store.js';
import type { FileFingerprint, PieceStore } from './piece-store.js';
import { verifyPieces } from './verify.js';

export type ResumeOutcome = 'trusted' | 'verified' | 'fresh';

export interface OpenTorrentStorageOptions {
  info: InfoDict;
  infoHashHex: string;
  /** The file (single-file torrent) or the folder `<name>` (multi-file). */
  contentPath: string;
  /** Resume state goes to `<stateDir>/resume/<infohash>.resume`. */
  stateDir: string;
  /** seed: the files must exist with their sizes; leech: they are created. */
  mode: 'seed' | 'leech';
  /** Ignore the resume state and verify every piece. */
  recheck?: boolean;
  pool: HashPool;
  logger?: Logger;
  signal?: AbortSignal;
  onVerifyProgress?: (done: number, total: number) => void;
  /** Open-handle bound for the FileStore (default 64). */
  maxOpenFiles?: number;
  /** Use this store instead of a FileStore on contentPath (tests, in-memory torrents). It is opened here. */
  store?: PieceStore;
  /** Skipped files (indices in info.files): a leecher does not create them; their bytes in wanted pieces go to `<stateDir>/parts/<infohash>.parts`. */
  skipped?: ReadonlySet<number>;
}

export async function openTorrentStorage(opts: OpenTorrentStorageOptions): Promise<TorrentStorage> {
  const { info } = opts;
  const log = opts.logger ?? getLogger('storage');
  const completion = new CompletionStore({ stateDir: opts.stateDir, infoHashHex: opts.infoHashHex, logger: log });
  const store =
    opts.store ??
    new FileStore({
      info,
      contentPath: opts.contentPath,
      maxOpenFiles: opts.maxOpenFiles,
      logger: log,
      create: opts.mode === 'leech',
      partsPath: join(opts.stateDir, 'parts', `${opts.infoHashHex}.parts`),
      ...(opts.skipped ? { skipped: opts.skipped } : {}),
    });
  opts.signal?.throwIfAborted();
  await store.open();
  try {
    const saved = opts.recheck ? undefined : await completion.load();
    const current = await store.fingerprint();
    if (saved && saved.pieceCount === info.pieceCount && fingerprintsMatch(saved.files, current)) {
      const have = new Bitfield(info.pieceCount, saved.have);
      log.info(`${info.name}: resume state trusted, ${have.count()}/${info.pieceCount} pieces`);
      return new TorrentStorage({ store, completion, have, resumed: 'trusted', logger: log });
    }

    const have = new Bitfield(info.pieceCount);
    const created = store instanceof FileStore ? store.createdFiles : new Set<number>();
    const unchanged = saved && saved.pieceCount === info.pieceCount ? unchangedFiles(info, saved, current) : new Set<number>();
    // Pad files (BEP 47) and symlinks are not on disk: whether a piece needs reading depends on its other files.
    const virtual = new Set(info.files.flatMap((f, i) => (isOnDisk(f) ? [] : [i])));
    const savedHave = saved && unchanged.size > 0 ? new Bitfield(info.pieceCount, saved.have) : undefined;
    const toCheck: number[] = [];
    for (let p = 0; p < info.pieceCount; p++) {
      const files = filesOfPiece(info, p).filter((f) => !virtual.has(f));
      // A piece of pad bytes only (no file on disk) is verified: reading its zeros costs nothing.
      if (files.length > 0 && files.every((f) => created.has(f))) continue; // freshly created, sparse: nothing in it
      if (savedHave && files.length > 0 && files.every((f) => unchanged.has(f))) {
        if (savedHave.get(p)) have.set(p);
        continue;
      }
      toCheck.push(p);
    }

    let resumed: ResumeOutcome = 'fresh';
    if (toCheck.length > 0) {
      resumed = 'verified';
      const why = opts.recheck ? 'recheck requested' : saved ? 'files changed since the resume state was saved' : 'no resume state';
      log.info(`${info.name}: verifying ${toCheck.length}/${info.pieceCount} pieces (${why})`);
      const good = await verifyPieces(store, info, opts.pool, {
        pieces: toCheck,
        signal: opts.signal,
        onProgress: opts.onVerifyProgress,
        logger: log,
      });
      for (const p of good.ones()) have.set(p);
      log.info(`${info.name}: verified, ${have.count()}/${info.pieceCount} pieces`);
      // Data an earlier process wrote may sit only in the page cache if it died: make it durable before recording it.
      if (have.count() > 0 && store instanceof FileStore) await store.syncAll();
    } else if (have.count() > 0) {
      resumed = 'verified';
    }
    const ts = new TorrentStorage({ store, completion, have, resumed, logger: log });
    await ts.saveNow();
    return ts;
  } catch (err) {
    await store.close().catch((e: unknown) => log.warn(`closing store after a failed start: ${errorMessage(e)}`));
    throw err;
  }
}

/** Indices of non-empty files whose fingerprint is the one saved with the state. */
function unchangedFiles(info: InfoDict, saved: ResumeState, current: FileFingerprint[]): Set<number> {
  const byPath = new Map(saved.files.map((f) => [f.path, f]));
  const out = new Set<number>();
  let k = 0;
  info.files.forEach((f, i) => {
    if (f.length === 0 || !isOnDisk(f)) return; // as the stores' fingerprint() lists them
    const now = current[k++];
    const then = now && byPath.get(now.path);
    if (now && then && fingerprintsMatch([then], [now])) out.add(i);
  });
  return out;
}

export class TorrentStorage {
  readonly store: PieceStore;
  /**
   * Pieces we have: verified on start or trusted from the resume state, plus
   * every piece given to pieceWritten() since. Only those two ways add bits.
   */
  readonly have: Bitfield;
  readonly resumed: ResumeOutcome;
  readonly completion: CompletionStore;
  readonly #log: Logger;
  /** Pieces in `have` that are not yet in the saved state. */
  readonly #pending = new Set<number>();
  /** What the saved state holds. */
  readonly #durable: Bitfield;
  #chain: Promise<void> = Promise.resolve();
  #closing?: Promise<void>;

  /** Use openTorrentStorage(); this is its result. */
  constructor(opts: {
    store: PieceStore;
    completion: CompletionStore;
    have: Bitfield;
    resumed: ResumeOutcome;
    logger?: Logger;
  }) {
    this.store = opts.store;
    this.completion = opts.completion;
    this.have = opts.have;
    this.resumed = opts.resumed;
    this.#durable = opts.have.clone();
    this.#log = opts.logger ?? getLogger('storage');
  }

  get info(): InfoDict {
    return this.store.info;
  }

  /** True when every piece is had (seeding). */
  get complete(): boolean {
    return this.have.isComplete();
  }

  /**
   * Records a piece whose SHA-1 passed and whose writePiece() completed. It
   * is in `have` at once and enters the resume state at the next flush().
   */
  pieceWritten(index: number): void {
    if (this.#closing) throw new StorageError(`pieceWritten(${index}) after close of ${this.info.name}`);
    this.have.set(index);
    // Keyed on what is saved, not on `have`: a bit someone set in `have` directly must still reach the state.
    if (!this.#durable.get(index)) this.#pending.add(index);
  }

  /**
   * fsyncs the data, then saves the resume state with the pieces written
   * before the fsync. Calls are serialised; one with nothing new is cheap.
   */
  flush(): Promise<void> {
    const run = this.#chain.then(() => this.#flushOnce());
    this.#chain = run.catch(() => undefined);
    return run;
  }

  async #flushOnce(): Promise<void> {
    if (this.#pending.size === 0) return;
    const batch = [...this.#pending];
    this.#pending.clear();
    try {
      await this.store.flush();
      for (const p of batch) this.#durable.set(p);
      await this.#save();
    } catch (err) {
      for (const p of batch) this.#pending.add(p);
      throw err;
    }
  }

  /** Saves the state as it stands (used once after verification on start). */
  async saveNow(): Promise<void> {
    await this.#save();
  }

  async #save(): Promise<void> {
    // After the fsync: the mtimes recorded are those of durable data.
    const files = await this.store.fingerprint();
    await this.completion.save({
      version: 1,
      infoHashHex: this.completion.infoHashHex,
      pieceCount: this.info.pieceCount,
      have: this.#durable.toBytes(),
      files,
      savedAt: Date.now(),
    });
    this.#log.debug(`${this.info.name}: resume state saved, ${this.#durable.count()}/${this.info.pieceCount} pieces`);
  }

  /** Flushes, then closes the store. Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      try {
        await this.flush();
      } finally {
        await this.store.close();
      }
    })();
    return this.#closing;
  }
}
