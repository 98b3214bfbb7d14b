/**
 * `GET /download/...`: a file of a torrent the session knows, and nothing
 * else (DESIGN.md, "What the daemon serves"). The URL names a torrent and a
 * file of it, never a place on disk:
 *
 *   /download/<name>                 the file of a single-file torrent
 *   /download/<name>/<path...>       a file of a multi-file torrent
 *   /download/<infoHash>[/<path...>] the same, by info-hash (40 hex digits);
 *                                    <path> is the file's path in the torrent
 *                                    (a single-file torrent: none, or its name)
 *
 * Each URL segment is decoded once and must be one plain path component
 * (so `..`, `%2e%2e`, `%2F` and `\` are refused before any lookup), and no
 * component may start with `.`: dotfiles are never served, even when a
 * torrent holds one. The file on disk is the torrent's content path plus
 * the file's path; resolved through symlinks it must stay inside that
 * content (and outside the state folder), be a regular file and have the
 * length the torrent gives it. Anything else is a 4xx that says which rule
 * refused it.
 */
import type http from 'node:http';
import { createReadStream } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import { once } from 'node:events';
import { join, sep } from 'node:path';
import { errorMessage } from '../errors.js';
import { userFiles } from '../metainfo/layout.js';
import type { FileEntry, Metainfo } from '../metainfo/types.js';
import { checkPathComponent } from '../metainfo/path-safety.js';
import { ApiError, baseHeaders } from './http.js';

/** The path components of the raw (still percent-encoded) part of the URL after `/download/`. */
export function downloadComponents(rawPath: string): string[] {
  if (rawPath === '') throw new ApiError(400, 'name the file: /download/<name> or /download/<infoHash>/<path>');
  return rawPath.split('/').map((seg) => {
    let name: string;
    try {
      name = decodeURIComponent(seg);
    } catch {
      throw new ApiError(400, 'bad percent-encoding in the path');
    }
    try {
      checkPathComponent(name, 'path');
    } catch (err) {
      throw new ApiError(400, `refused: ${errorMessage(err).replace(/^invalid metainfo: path: /, '')}`);
    }
    if (name.startsWith('.')) throw new ApiError(403, `refused: ${JSON.stringify(name.slice(0, 100))} is a dotfile; dotfiles are never served`);
    return name;
  });
}

/** What the download route needs to know of one torrent of the session. */
export interface DownloadableTorrent {
  metainfo: Metainfo;
  infoHashHex: string;
}

/** The torrent and file a URL names, or a 404 that says what was not found. */
export function pickDownload<T extends DownloadableTorrent>(torrents: readonly T[], components: readonly string[]): { torrent: T; file: FileEntry } {
  const [first, ...rest] = components as [string, ...string[]];
  const byHash = /^[0-9a-fA-F]{40}$/.test(first) ? torrents.find((t) => t.infoHashHex === first.toLowerCase()) : undefined;
  const torrent = byHash ?? torrents.find((t) => t.metainfo.info.name === first);
  if (!torrent) throw new ApiError(404, `no torrent named ${JSON.stringify(first.slice(0, 100))} in this session`);
  const info = torrent.metainfo.info;
  if (info.name.startsWith('.')) throw new ApiError(403, 'refused: the torrent is a dotfile; dotfiles are never served');
  const files = userFiles(info);
  let file: FileEntry | undefined;
  if (!info.multiFile) {
    // By name: nothing may follow; by info-hash: nothing, or the name again.
    const ok = rest.length === 0 || (byHash !== undefined && rest.length === 1 && rest[0] === info.name);
    file = ok ? files[0] : undefined;
  } else if (rest.length === 0) {
    throw new ApiError(404, `${info.name} is a folder of ${files.length} files: name one, /download/${torrent.infoHashHex}/<path>`);
  } else {
    const want = rest.join('/');
    file = files.find((f) => f.path.join('/') === want);
  }
  if (!file) throw new ApiError(404, `no file ${JSON.stringify(rest.join('/').slice(0, 200))} in torrent ${info.name}`);
  if (file.path.some((c) => c.startsWith('.'))) throw new ApiError(403, 'refused: a dotfile; dotfiles are never served');
  return { torrent, file };
}

/** True when `p` is `root` or lies inside it (both real paths). */
function isInside(p: string, root: string): boolean {
  return p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * The real path of `file` of a torrent whose content is at `contentPath`
 * (the file itself for a single-file torrent, the folder otherwise), or a 4xx.
 */
export async function resolveDownload(
  contentPath: string,
  multiFile: boolean,
  file: FileEntry,
  opts: { forbidden?: readonly string[] } = {},
): Promise<{ path: string; size: number }> {
  const label = file.path.join('/');
  let root: string;
  try {
    root = await realpath(contentPath);
  } catch {
    throw new ApiError(404, `the content of ${label} is not on disk`);
  }
  let real: string;
  try {
    real = multiFile ? await realpath(join(root, ...file.path)) : root;
  } catch {
    throw new ApiError(404, `${label} is not on disk yet`);
  }
  if (multiFile && !isInside(real, root)) throw new ApiError(403, `${label} leads outside the torrent's folder`);
  for (const dir of opts.forbidden ?? []) {
    const r = await realpath(dir).catch(() => undefined);
    if (r !== undefined && isInside(real, r)) throw new ApiError(403, `${label} lies in the state folder, which is never served`);
  }
  const st = await stat(real);
  if (!st.isFile()) throw new ApiError(404, `${label} is not a file`);
  if (st.size !== file.length) throw new ApiError(409, `${label} on disk is ${st.size} bytes, not the torrent's ${file.length}`);
  return { path: real, size: st.size };
}

/**
 * One byte range of `size` bytes from a `Range` header (RFC 9110 14.1):
 * `bytes=a-b`, `bytes=a-`, `bytes=-n`. Undefined means "send it all" (no
 * header, another unit, or several ranges, which we answer whole); null
 * means unsatisfiable (416).
 */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | null | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(header.trim());
  if (!m) return undefined;
  const [, a, b] = m as unknown as [string, string, string];
  if (a === '' && b === '') return undefined;
  if (a === '') {
    const n = Number(b);
    if (n === 0 || size === 0) return null;
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (!Number.isSafeInteger(start) || start >= size || end < start) return null;
  return { start, end };
}

/** What a response to a Range request starts with: status, headers, and the bytes to send (or none). */
function rangeHead(req: http.IncomingMessage, res: http.ServerResponse, size: number, name: string): { start: number; end: number } | undefined {
  // RFC 6266: an ASCII fallback and the exact name in UTF-8.
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  const range = parseRange(req.headers.range, size);
  const headers = {
    ...baseHeaders(),
    'Content-Type': 'application/octet-stream',
    'Content-Disposition': `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`,
    'Cache-Control': 'no-store',
    'Accept-Ranges': 'bytes',
  };
  if (range === null) {
    res.writeHead(416, { ...headers, 'Content-Range': `bytes */${size}`, 'Content-Length': 0 });
    res.end();
    return undefined;
  }
  if (range) res.writeHead(206, { ...headers, 'Content-Range': `bytes ${range.start}-${range.end}/${size}`, 'Content-Length': range.end - range.start + 1 });
  else res.writeHead(200, { ...headers, 'Content-Length': size });
  if (req.method === 'HEAD' || size === 0) {
    res.end();
    return undefined;
  }
  return range ?? { start: 0, end: size - 1 };
}

/** Streams the file as an attachment; honours one `Range` (206). */
export function sendFile(req: http.IncomingMessage, res: http.ServerResponse, file: { path: string; size: number }, name: string): void {
  const range = rangeHead(req, res, file.size, name);
  if (!range) return;
  const stream = createReadStream(file.path, { start: range.start, end: range.end });
  stream.on('error', () => res.destroy());
  res.on('close', () => stream.destroy());
  stream.pipe(res);
}

/** A torrent still downloading, as the streaming route needs it (Torrent.reader()). */
export interface StreamSource {
  pieceLength: number;
  /** Pieces past the one being read that are asked for first. */
  readAheadPieces: number;
  reader(): { moveTo(first: number, last: number): void; waitFor(index: number, signal?: AbortSignal): Promise<void>; close(): void };
}

/** Bytes read from disk at once while streaming. */
const STREAM_CHUNK_BYTES = 256 * 1024;

/**
 * Streams a file of a torrent that is still downloading: each byte goes
 * out only once the piece that holds it is verified and on disk, and the
 * pieces the reader needs next are fetched first. A player pointed at the
 * URL plays while the download runs; a client that goes away lets go of
 * its pieces.
 */
export async function streamFile(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  file: { path: string; size: number; offset: number },
  name: string,
  source: StreamSource,
  opts: { signal?: AbortSignal } = {},
): Promise<void> {
  const range = rangeHead(req, res, file.size, name);
  if (!range) return;
  // The headers leave now: a player learns the length and waits for bytes, instead of for headers.
  res.flushHeaders();
  const gone = new AbortController();
  res.on('close', () => gone.abort(new Error('the client went away')));
  // The server stopping ends the stream too (it would otherwise wait for pieces that will not come).
  opts.signal?.addEventListener('abort', () => gone.abort(new Error('the server is stopping')), { once: true });
  if (opts.signal?.aborted) gone.abort(new Error('the server is stopping'));
  const reader = source.reader();
  const handle = await open(file.path, 'r');
  try {
    const buf = Buffer.allocUnsafe(STREAM_CHUNK_BYTES);
    let pos = range.start;
    const lastPiece = Math.floor((file.offset + range.end) / source.pieceLength);
    while (pos <= range.end) {
      const piece = Math.floor((file.offset + pos) / source.pieceLength);
      reader.moveTo(piece, Math.min(lastPiece, piece + source.readAheadPieces));
      await reader.waitFor(piece, gone.signal);
      // The piece is on disk: send what of it lies in the range.
      const pieceEnd = Math.min(range.end, (piece + 1) * source.pieceLength - file.offset - 1);
      while (pos <= pieceEnd) {
        const n = Math.min(buf.length, pieceEnd - pos + 1);
        const { bytesRead } = await handle.read(buf, 0, n, pos);
        if (bytesRead !== n) throw new Error(`${name}: short read at byte ${pos}`);
        if (!res.write(Buffer.from(buf.subarray(0, n)))) await once(res, 'drain', { signal: gone.signal });
        pos += n;
      }
    }
    res.end();
  } catch {
    // The client went away, the torrent stopped or the disk failed: the response cannot say so any more (its headers left).
    res.destroy();
  } finally {
    reader.close();
    await handle.close();
  }
}
