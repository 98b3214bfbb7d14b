/**
 * `POST /upload`: the received file is moved to its final name in the
 * uploads folder (never over an existing file), hashed on the session's
 * pool, made into a single-file torrent and seeded.
 */
import { link, unlink } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { autoPieceLength, buildTorrent, CREATED_BY } from '../metainfo/create.js';
import { parseTorrent } from '../metainfo/parse.js';
import type { Metainfo } from '../metainfo/types.js';
import { hashFiles } from '../storage/hash-files.js';
import type { HashPool } from '../util/hash-pool.js';

/**
 * Gives the temporary file `tempPath` the name `name` in `dir`, or
 * `stem (2).ext`, `stem (3).ext`, ... when that is taken: a hard link
 * cannot clobber a file that appeared meanwhile.
 */
export async function placeUpload(tempPath: string, dir: string, name: string): Promise<string> {
  const ext = extname(name);
  const stem = ext && ext !== name ? name.slice(0, -ext.length) : name;
  for (let n = 1; n <= 1000; n++) {
    const candidate = join(dir, n === 1 ? name : `${stem} (${n})${ext === name ? '' : ext}`);
    try {
      await link(tempPath, candidate);
      await unlink(tempPath);
      return candidate;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }
  throw new Error(`more than 1000 uploads named ${name}`);
}

/** Makes the torrent of one file. */
export async function torrentOfFile(
  path: string,
  name: string,
  length: number,
  opts: { pool: HashPool; announce: string[]; signal?: AbortSignal },
): Promise<{ bytes: Uint8Array; meta: Metainfo }> {
  const pieceLength = autoPieceLength(length);
  const pieces = await hashFiles([{ absPath: path, length }], pieceLength, { pool: opts.pool, ...(opts.signal ? { signal: opts.signal } : {}) });
  const bytes = buildTorrent({
    name,
    files: length,
    pieceLength,
    pieces,
    ...(opts.announce.length ? { announce: opts.announce } : {}),
    createdBy: CREATED_BY,
    creationDate: Math.floor(Date.now() / 1000),
  });
  return { bytes, meta: parseTorrent(bytes) };
}
