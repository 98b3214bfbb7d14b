/**
 * A disk that cannot take the data (full, over quota, read-only, failing,
 * or a symlink planted in the download folder): downloading pauses instead
 * of failing piece after piece.
 *
 * The first refused write pauses: the torrent cancels its requests and asks
 * for nothing more, so nothing is downloaded that cannot be written; pieces
 * already verified wait here in memory (at most the pieces that were in
 * flight) and are written when a retry succeeds, with back-off from
 * diskRetryInitialMs to diskRetryMaxMs (or at once on resume()). One error
 * and one log line per pause.
 */
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { Settings } from '../settings.js';

/** Write errors that mean the disk cannot take the data now (full, over quota, read-only, failing): the download pauses. */
// ESYMLINK: a link planted in the download folder while we run (storage refuses to write through it).
const DISK_ERROR_CODES = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EIO', 'ESYMLINK']);

/** The errno code of a write error that means the disk cannot take data now (through StorageError causes), or undefined. */
export function diskErrorCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && DISK_ERROR_CODES.has(code)) return code;
  }
  return undefined;
}

export interface DiskPauseOptions {
  settings: Pick<Settings, 'diskRetryInitialMs' | 'diskRetryMaxMs'>;
  /** The torrent's name, for the log. */
  name: string;
  logger: Logger;
  writePiece: (index: number, data: Uint8Array) => Promise<void>;
  /** Verified pieces kept (for the pause's message). */
  haveCount: () => number;
  /** A waiting piece was written. */
  onWritten: (index: number, data: Uint8Array) => void;
  /** The pause began: `reason` says why (for the user). */
  onPaused: (reason: string, code: string) => void;
  /** Every waiting piece is written: downloading may go on. */
  onResumed: () => void;
  stopped: () => boolean;
}

interface PauseState {
  reason: string;
  retryMs: number;
  timer: NodeJS.Timeout | undefined;
  waiting: Map<number, Uint8Array>;
  retrying: boolean;
}

export class DiskPause {
  readonly #o: DiskPauseOptions;
  #state: PauseState | undefined;

  constructor(opts: DiskPauseOptions) {
    this.#o = opts;
  }

  /** Downloading is paused for the disk. */
  get active(): boolean {
    return this.#state !== undefined;
  }

  get reason(): string | undefined {
    return this.#state?.reason;
  }

  /** While paused, a newly verified piece waits with the others (no new attempt per piece): true when it was kept. */
  hold(index: number, data: Uint8Array): boolean {
    if (!this.#state) return false;
    this.#state.waiting.set(index, data);
    return true;
  }

  /** A write of `index` was refused with disk error `code`: the piece waits, and the first such error pauses. */
  refused(index: number, data: Uint8Array, code: string, err: unknown): void {
    if (this.hold(index, data)) return;
    const s = this.#o.settings;
    const what =
      code === 'ENOSPC' ? 'the disk is full'
      : code === 'EDQUOT' ? 'the disk quota is used up'
      : code === 'EROFS' ? 'the disk is read-only'
      : code === 'ESYMLINK' ? errorMessage(err)
      : 'the disk fails (I/O error)';
    const when = code === 'ESYMLINK' ? 'once the link is removed' : 'when space frees up';
    const reason = `${what} (${code}): downloading paused; ${this.#o.haveCount()} verified pieces are kept and will be written ${when}`;
    this.#state = { reason, retryMs: s.diskRetryInitialMs, timer: undefined, waiting: new Map([[index, data]]), retrying: false };
    this.#o.logger.error(
      `${this.#o.name}: cannot write piece ${index}: ${errorMessage(err)}; ${reason} (retrying every ${Math.round(s.diskRetryInitialMs / 1000)}-${Math.round(s.diskRetryMaxMs / 1000)} s, or on resume)`,
    );
    this.#o.onPaused(reason, code);
    this.#schedule();
  }

  #schedule(): void {
    const st = this.#state;
    if (!st || this.#o.stopped()) return;
    clearTimeout(st.timer);
    st.timer = setTimeout(() => void this.retry(), st.retryMs);
    st.timer.unref();
    st.retryMs = Math.min(st.retryMs * 2, this.#o.settings.diskRetryMaxMs);
  }

  /** Writes the waiting pieces; when all are written, downloading resumes. */
  async retry(): Promise<void> {
    const st = this.#state;
    if (!st || st.retrying || this.#o.stopped()) return;
    st.retrying = true;
    clearTimeout(st.timer);
    st.timer = undefined;
    let written = 0;
    try {
      for (const [index, data] of [...st.waiting]) {
        await this.#o.writePiece(index, data);
        st.waiting.delete(index);
        written++;
        this.#o.onWritten(index, data);
      }
    } catch (err) {
      st.retrying = false;
      if (this.#o.stopped()) return;
      if (!diskErrorCode(err)) this.#o.logger.warn(`writing a waiting piece failed: ${errorMessage(err)}`);
      this.#o.logger.debug(`the disk still refuses writes (${errorMessage(err)}); next try in ${st.retryMs} ms`);
      this.#schedule();
      return;
    }
    st.retrying = false;
    if (this.#o.stopped() || st.waiting.size > 0) return void this.#schedule();
    this.#state = undefined;
    this.#o.logger.info(`${this.#o.name}: the disk takes writes again (${written} waiting pieces written): downloading resumed`);
    this.#o.onResumed();
  }

  /** Stops retrying (the torrent stops). */
  stop(): void {
    clearTimeout(this.#state?.timer);
  }
}
