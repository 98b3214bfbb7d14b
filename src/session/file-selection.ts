/**
 * Choosing files (issue 14, item 2): a priority per file the user sees
 * (skip, normal, high; BEP 47 pad files are not among them), from
 * `--only`/`--skip` globs or the API, turned into the base level of each
 * piece: the highest of the files the piece touches, so a piece that
 * straddles a wanted and an unwanted file is still fetched (the unwanted
 * bytes are kept out of the user's folder by the store).
 *
 * The selection of a torrent is kept in `<state>/selection/<infohash>.json`
 * so that a restart (or the daemon) goes on with the same files.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { minimatch } from 'minimatch';
import { UsageError } from '../errors.js';
import { isOnDisk, userFiles } from '../metainfo/layout.js';
import type { InfoDict } from '../metainfo/types.js';
import { writeFileAtomic } from '../util/atomic-write.js';

export const FILE_PRIORITY = { skip: 0, normal: 1, high: 2 } as const;
export type FilePriorityName = keyof typeof FILE_PRIORITY;
export const FILE_PRIORITY_NAMES: readonly FilePriorityName[] = ['skip', 'normal', 'high'];

/** Path of a user file inside the torrent, as globs match it: `dir/file` (a single-file torrent: its name). */
export function selectionPaths(info: InfoDict): string[] {
  return userFiles(info).map((f) => (info.multiFile ? f.path.join('/') : info.name));
}

/**
 * Priorities from `--only` and `--skip` (each repeatable): with any
 * `--only`, only the files one of them matches are wanted; `--skip` then
 * drops the files it matches. A glob that matches no file is a usage error
 * that lists the files, so a typo never silently downloads nothing.
 */
export function selectFiles(info: InfoDict, only: readonly string[], skip: readonly string[]): number[] {
  const paths = selectionPaths(info);
  const matcher = (glob: string, flag: string): ((p: string) => boolean) => {
    const m = (p: string): boolean => minimatch(p, glob, { dot: true, matchBase: !glob.includes('/') });
    if (!paths.some(m)) {
      const shown = paths.slice(0, 20).map((p) => `  ${p}`).join('\n');
      throw new UsageError(`${flag} ${JSON.stringify(glob)} matches no file of ${info.name}; its files:\n${shown}${paths.length > 20 ? `\n  ... and ${paths.length - 20} more` : ''}`);
    }
    return m;
  };
  const onlies = only.map((g) => matcher(g, '--only'));
  const skips = skip.map((g) => matcher(g, '--skip'));
  const out = paths.map((p) => {
    const wanted = (onlies.length === 0 || onlies.some((m) => m(p))) && !skips.some((m) => m(p));
    return wanted ? FILE_PRIORITY.normal : FILE_PRIORITY.skip;
  });
  if (!out.some((l) => l > 0)) throw new UsageError(`--only/--skip leave no file of ${info.name} to download`);
  return out;
}

/** Checks a list of file priorities for this torrent (API input): one 0..2 per user file. */
export function checkFilePriorities(info: InfoDict, levels: readonly unknown[]): number[] {
  const n = userFiles(info).length;
  if (levels.length !== n) throw new UsageError(`expected ${n} file priorities (one per file of ${info.name}), got ${levels.length}`);
  return levels.map((l, i) => {
    if (l !== 0 && l !== 1 && l !== 2) throw new UsageError(`file priority ${i} must be 0 (skip), 1 (normal) or 2 (high), got ${JSON.stringify(l)}`);
    return l;
  });
}

/** The base level of each piece: the highest priority among the user files it holds bytes of. */
export function pieceLevels(info: InfoDict, filePriorities: readonly number[]): Uint8Array {
  const levels = new Uint8Array(info.pieceCount); // 0: a piece of skipped files (or pad bytes) only
  const files = userFiles(info);
  files.forEach((f, i) => {
    const p = filePriorities[i]!;
    if (p === 0 || f.length === 0) return;
    const first = Math.floor(f.offset / info.pieceLength);
    const last = Math.floor((f.offset + f.length - 1) / info.pieceLength);
    for (let k = first; k <= last; k++) if (levels[k]! < p) levels[k] = p;
  });
  return levels;
}

/** Indices in info.files (pad files included there) of the user files at priority 0. */
export function skippedFileIndexes(info: InfoDict, filePriorities: readonly number[]): Set<number> {
  const out = new Set<number>();
  let k = 0;
  info.files.forEach((f, i) => {
    if (!isOnDisk(f)) return;
    if (filePriorities[k++] === FILE_PRIORITY.skip) out.add(i);
  });
  return out;
}

/** True when every file is at normal priority (nothing chosen). */
export function isDefaultSelection(levels: readonly number[]): boolean {
  return levels.every((l) => l === FILE_PRIORITY.normal);
}

function selectionFile(stateDir: string, infoHashHex: string): string {
  return join(stateDir, 'selection', `${infoHashHex}.json`);
}

/** The selection saved by the last run, or undefined (none, unreadable, or for another file count). */
export async function loadSelection(stateDir: string, info: InfoDict, infoHashHex: string): Promise<number[] | undefined> {
  try {
    const raw = JSON.parse(await readFile(selectionFile(stateDir, infoHashHex), 'utf8')) as { files?: unknown };
    if (!Array.isArray(raw.files)) return undefined;
    return checkFilePriorities(info, raw.files);
  } catch {
    return undefined;
  }
}

/** Saves the selection (atomically); the default selection removes nothing but is saved too, so "all files" also persists. */
export async function saveSelection(stateDir: string, infoHashHex: string, levels: readonly number[]): Promise<void> {
  await writeFileAtomic(selectionFile(stateDir, infoHashHex), Buffer.from(JSON.stringify({ files: levels }) + '\n'));
}
