/**
 * What the daemon does to a torrent's data files itself: delete them (a
 * removal with its data) and move them to another folder. Only the files
 * the torrent names, below its content path, are ever touched; symlinks
 * are unlinked, never followed.
 *
 * This belongs in storage/ (the one place that touches data files); it sits
 * here until storage/ offers it, on top of storage's own path rules
 * (ContentPaths).
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../errors.js';
import type { InfoDict } from '../metainfo/types.js';
import { ContentPaths } from '../storage/content-paths.js';
import { makeDir } from '../util/make-dir.js';

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function inside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/**
 * Deletes the torrent's files under `contentPath`, then the folders below
 * it (and the content folder itself) that are left empty. Files that are
 * not the torrent's stay, and so do the folders holding them. Returns the
 * number of files deleted.
 */
export async function deleteContent(info: InfoDict, contentPath: string): Promise<number> {
  const cp = new ContentPaths(info, contentPath, false);
  const root = cp.contentPath;
  let deleted = 0;
  const folders = new Set<string>();
  for (const p of cp.paths) {
    if (p === '') continue;
    // Single-file: the content path is the file. Multi-file: every file is strictly below it.
    if (info.multiFile ? !inside(p, root) : p !== root) continue;
    try {
      const st = await fsp.lstat(p);
      if (st.isDirectory()) continue;
      await fsp.unlink(p); // a symlink: the link goes, never what it points at
      deleted++;
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw err;
    }
    if (info.multiFile) for (let d = path.dirname(p); d === root || inside(d, root); d = path.dirname(d)) folders.add(d);
  }
  // Deepest first; rmdir only removes empty folders, so anything else in them keeps them.
  for (const d of [...folders].sort((a, b) => b.length - a.length)) {
    try {
      const st = await fsp.lstat(d);
      if (st.isDirectory()) await fsp.rmdir(d);
    } catch (err) {
      if (!['ENOENT', 'ENOTEMPTY', 'EEXIST'].includes(errno(err) ?? '')) throw err;
    }
  }
  return deleted;
}

/**
 * Moves the content (its file, or its folder) into folder `toDir`; returns
 * the new content path. Refuses when something is already there. Across
 * file systems it is copied, then the torrent's files are deleted from the
 * old place.
 */
export async function moveContent(info: InfoDict, contentPath: string, toDir: string): Promise<string> {
  const from = path.resolve(contentPath);
  const dest = path.join(path.resolve(toDir), path.basename(from));
  if (dest === from) return from;
  if (inside(dest, from)) throw new UsageError(`cannot move ${from} into itself (${toDir})`);
  try {
    await fsp.lstat(dest);
    throw new UsageError(`${dest} already exists: not overwritten`);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    if (errno(err) !== 'ENOENT') throw err;
  }
  await makeDir(path.dirname(dest));
  try {
    await fsp.lstat(from);
  } catch (err) {
    if (errno(err) === 'ENOENT') return dest; // nothing downloaded yet: it starts over there
    throw err;
  }
  try {
    await fsp.rename(from, dest);
  } catch (err) {
    if (errno(err) !== 'EXDEV') throw err;
    await fsp.cp(from, dest, { recursive: true, errorOnExist: true, force: false, preserveTimestamps: true, verbatimSymlinks: true });
    await deleteContent(info, from);
  }
  return dest;
}
