/**
 * The one atomic file writer: torrents, resume state, session state, the DHT
 * routing table and the identity key all go through it.
 *
 * A temporary file in the target's own folder (a rename is atomic only
 * within one file system) is written and fsynced, renamed over the target,
 * then the folder is fsynced so the rename itself survives a crash. A crash
 * at any point leaves the old file or the new one, never a torn one.
 */
import { randomBytes } from 'node:crypto';
import { link, open, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { StorageError, errorMessage } from '../errors.js';
import { makeDir } from './make-dir.js';

export interface AtomicWriteOptions {
  /**
   * Permission bits of the new file, set exactly (the umask does not narrow
   * them), e.g. 0o600 for a private key. Default: 0o666 less the umask, as
   * `fs.writeFile` does.
   */
  mode?: number;
  /**
   * false: never replace an existing target; an `AtomicWriteError` with step
   * `'exists'` instead. Uses a hard link, so a file that appears during the
   * write is never clobbered. Default true.
   */
  overwrite?: boolean;
  /**
   * false: skip the fsyncs of the file and of its folder. The rename is still
   * atomic (a reader sees the old file or the new one), but after a power
   * loss the new file may be empty. Only for files that can be made again
   * from what is on disk, such as a .torrent from its content. Default true.
   */
  sync?: boolean;
}

/** Which step failed: `'exists'` only with `overwrite: false`. */
export type AtomicWriteStep = 'write' | 'exists' | 'rename' | 'sync-folder';

/** An atomic write that failed; the target is untouched unless `step` is `'sync-folder'`. */
export class AtomicWriteError extends StorageError {
  readonly target: string;
  readonly step: AtomicWriteStep;
  /** What went wrong, without the file's name: for a caller that names the file in its own words. */
  readonly reason: string;
  constructor(target: string, step: AtomicWriteStep, cause?: unknown) {
    const reason = cause === undefined ? 'already exists' : errorMessage(cause);
    const message =
      step === 'exists' ? `${target} already exists`
      : step === 'sync-folder' ? `cannot fsync folder ${dirname(target)}: ${reason}`
      : `cannot write ${target}: ${reason}`;
    super(message, { cause });
    this.target = target;
    this.step = step;
    this.reason = reason;
  }
}

/** Codes with which a file system says it cannot fsync a folder at all; the rename is still atomic there. */
const FOLDER_SYNC_UNSUPPORTED = new Set(['EINVAL', 'ENOTSUP', 'EOPNOTSUPP', 'EISDIR', 'EPERM', 'EACCES']);

/** Writes `bytes` to `target` atomically (see the file comment); creates the folder if needed. */
export async function writeFileAtomic(target: string, bytes: Uint8Array | string, opts: AtomicWriteOptions = {}): Promise<void> {
  const dir = dirname(target);
  const tmp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    try {
      await makeDir(dir);
      const fh = await open(tmp, 'wx', opts.mode ?? 0o666);
      try {
        if (opts.mode !== undefined) await fh.chmod(opts.mode);
        await fh.writeFile(bytes);
        if (opts.sync !== false) await fh.sync();
      } finally {
        await fh.close();
      }
    } catch (err) {
      throw new AtomicWriteError(target, 'write', err);
    }
    if (opts.overwrite === false) await linkExclusive(tmp, target);
    else await rename(tmp, target).catch((err: unknown) => {
      throw new AtomicWriteError(target, 'rename', err);
    });
  } finally {
    // Gone after a rename; after a link or a failure it is ours to remove.
    await unlink(tmp).catch(() => undefined);
  }
  if (opts.sync === false) return;
  await syncFolder(dir).catch((err: unknown) => {
    throw new AtomicWriteError(target, 'sync-folder', err);
  });
}

async function linkExclusive(tmp: string, target: string): Promise<void> {
  try {
    await link(tmp, target);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new AtomicWriteError(target, 'exists');
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV') throw new AtomicWriteError(target, 'rename', err);
  }
  // A file system without hard links: check, then rename (a small race, no better option).
  if (await stat(target).then(() => true, () => false)) throw new AtomicWriteError(target, 'exists');
  await rename(tmp, target).catch((err: unknown) => {
    throw new AtomicWriteError(target, 'rename', err);
  });
}

/**
 * fsyncs a folder so that entries renamed, made or removed in it survive a
 * crash; a file system that cannot fsync a folder is not an error.
 */
export async function syncFolder(dir: string): Promise<void> {
  let fh;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (err) {
    if (FOLDER_SYNC_UNSUPPORTED.has((err as NodeJS.ErrnoException).code ?? '')) return;
    throw err;
  } finally {
    await fh?.close();
  }
}
