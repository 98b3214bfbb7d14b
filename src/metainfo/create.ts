/**
 * The pure part of creating a torrent (BEP 3, 12, 19, 27): given the file
 * list and the piece hashes, write the bencoded .torrent. Reading and hashing
 * the data lives in storage/hash-files.ts; walking folders in cli/.
 */
import { encode } from '../bencode/index.js';
import { MetainfoError } from '../errors.js';
import { checkPath, checkPathComponent } from './path-safety.js';
import { MAX_PIECE_LENGTH } from './parse.js';

export const CREATED_BY = 'swarm-peer/0.1.0';
export const MIN_AUTO_PIECE_LENGTH = 16 * 1024;
export const MAX_AUTO_PIECE_LENGTH = 16 * 1024 * 1024;
/** Automatic piece length keeps the piece count at or under this (so between half of it and it). */
export const TARGET_MAX_PIECES = 2000;

export interface BuildTorrentOptions {
  /** The file's name (single file) or the folder's name (multi-file). */
  name: string;
  /** A list of files (a multi-file torrent, data in list order) or one length (a single file). */
  files: { path: string[]; length: number }[] | number;
  pieceLength: number;
  /** Concatenated 20-byte SHA-1 hashes, one per piece. */
  pieces: Uint8Array;
  /** Tracker URLs: the first becomes `announce`; each is its own tier of `announce-list` (BEP 12). */
  announce?: string[];
  /** Web seeds (BEP 19). */
  urlList?: string[];
  /** BEP 27: `private=1` in info. */
  private?: boolean;
  comment?: string;
  createdBy?: string;
  /** Seconds since the epoch; omitted when undefined. */
  creationDate?: number;
}

/** Writes a .torrent. Misuse (a bad name, a hash count that does not match) throws at once. */
export function buildTorrent(opts: BuildTorrentOptions): Uint8Array {
  checkPathComponent(opts.name, 'name');
  const pl = opts.pieceLength;
  if (!Number.isSafeInteger(pl) || pl <= 0 || pl > MAX_PIECE_LENGTH) throw new MetainfoError('piece length', `must be 1..${MAX_PIECE_LENGTH}, got ${pl}`);
  const info: Record<string, unknown> = { name: opts.name, 'piece length': pl };
  let total: number;
  if (typeof opts.files === 'number') {
    total = opts.files;
    if (!Number.isSafeInteger(total) || total < 0) throw new MetainfoError('length', `must be a non-negative integer, got ${total}`);
    info.length = total;
  } else {
    if (opts.files.length === 0) throw new MetainfoError('files', 'no files');
    total = 0;
    info.files = opts.files.map((f, i) => {
      checkPath(f.path, `files[${i}].path`);
      if (!Number.isSafeInteger(f.length) || f.length < 0) throw new MetainfoError(`files[${i}].length`, `must be a non-negative integer, got ${f.length}`);
      total += f.length;
      return { length: f.length, path: f.path };
    });
  }
  if (total === 0) throw new MetainfoError('length', 'the torrent would hold no data (total length 0)');
  const count = Math.ceil(total / pl);
  if (opts.pieces.length !== count * 20) throw new MetainfoError('pieces', `${opts.pieces.length} bytes given, ${count} pieces need ${count * 20}`);
  info.pieces = opts.pieces;
  if (opts.private) info.private = 1;

  const torrent: Record<string, unknown> = { info };
  const announce = (opts.announce ?? []).filter((u) => u !== '');
  if (announce.length) {
    torrent.announce = announce[0];
    torrent['announce-list'] = announce.map((u) => [u]);
  }
  if (opts.urlList?.length) torrent['url-list'] = opts.urlList;
  if (opts.comment !== undefined && opts.comment !== '') torrent.comment = opts.comment;
  torrent['created by'] = opts.createdBy ?? CREATED_BY;
  if (opts.creationDate !== undefined) torrent['creation date'] = Math.floor(opts.creationDate);
  return encode(torrent);
}

/**
 * A power of two from 16 KiB to 16 MiB that cuts `totalBytes` into at most
 * 2,000 pieces (so 1,000-2,000 between the bounds): fewer pieces make the
 * .torrent and the bitfields small, more make swarming finer-grained.
 */
export function autoPieceLength(totalBytes: number): number {
  let pl = MIN_AUTO_PIECE_LENGTH;
  while (pl < MAX_AUTO_PIECE_LENGTH && Math.ceil(totalBytes / pl) > TARGET_MAX_PIECES) pl *= 2;
  return pl;
}
