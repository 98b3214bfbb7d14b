/**
 * `POST /upload` (a file made into a torrent and seeded) and
 * `GET /download/...` (a file of a torrent of the session; download.ts has
 * the URL forms and the rules).
 */
import type http from 'node:http';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { magnetOf } from '../metainfo/magnet.js';
import type { Metainfo } from '../metainfo/types.js';
import type { Torrent } from '../session/torrent.js';
import { downloadComponents, pickDownload, resolveDownload, sendFile, streamFile } from './download.js';
import { ApiError, mediaType, sendJson } from './http.js';
import { receiveFile } from './multipart.js';
import type { Route, RouteContext } from './routes.js';
import { placeUpload, torrentOfFile } from './seed-upload.js';
import { notifyAdded } from './torrent-routes.js';
import { makeDir } from '../util/make-dir.js';

/** Default cap on one `POST /upload` file. */
export const DEFAULT_MAX_UPLOAD_BYTES = 1024 * 1024 * 1024;

export function fileRoutes(ctx: RouteContext): Route[] {
  return [
    { pattern: /^\/upload$/, methods: { POST: (req, res) => upload(ctx, req, res) } },
    { pattern: /^\/download\/(.*)$/, methods: { GET: (req, res, [p]) => download(ctx, req, res, p!) } },
  ];
}

async function upload(ctx: RouteContext, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  if (mediaType(req) !== 'multipart/form-data') throw new ApiError(415, 'send the file as multipart/form-data');
  const dir = ctx.opts.uploadsDir;
  await makeDir(dir);
  const f = await receiveFile(req, { maxBytes: ctx.opts.maxUploadBytes ?? DEFAULT_MAX_UPLOAD_BYTES, sink: { kind: 'file', dir } });
  if (f.size === 0) {
    await unlink(f.tempPath!).catch(() => undefined);
    throw new ApiError(400, 'the uploaded file is empty: a torrent needs at least one byte');
  }
  const path = await placeUpload(f.tempPath!, dir, f.filename);
  const name = path.slice(dir.length).replace(/^[\\/]+/, '');
  const announce = ctx.opts.announce ?? (ctx.session.tracker ? [ctx.session.tracker.announceUrl] : []);
  let made: { bytes: Uint8Array; meta: Metainfo };
  let torrent: Torrent;
  try {
    made = await torrentOfFile(path, name, f.size, { pool: ctx.session.pool, announce, signal: ctx.signal });
    torrent = await ctx.session.addTorrent(made.meta, { contentPath: path, mode: 'seed' });
  } catch (err) {
    await unlink(path).catch(() => undefined);
    throw err;
  }
  await notifyAdded(ctx, { via: 'upload', torrent, meta: made.meta, torrentBytes: made.bytes, contentPath: path, mode: 'seed' });
  ctx.log.info(`upload ${name} (${f.size} bytes) seeded as ${made.meta.infoHashHex}`);
  sendJson(res, 201, { infoHash: made.meta.infoHashHex, magnet: magnetOf(made.meta), name, length: f.size });
}

async function download(ctx: RouteContext, req: http.IncomingMessage, res: http.ServerResponse, rawPath: string): Promise<void> {
  const { torrent, file } = pickDownload(ctx.session.torrents, downloadComponents(rawPath));
  const hex = torrent.infoHashHex;
  const contentPath = ctx.contentPaths.get(hex) ?? ctx.opts.contentPathOf?.(hex) ?? join(ctx.opts.downloadsDir, torrent.metainfo.info.name);
  const found = await resolveDownload(contentPath, torrent.metainfo.info.multiFile, file, { forbidden: ctx.opts.privateDirs ?? [] });
  const name = file.path[file.path.length - 1]!;
  if (torrent.complete) return sendFile(req, res, found, name);
  // Still downloading: streamed as its pieces arrive, those it needs first.
  const pieceLength = torrent.metainfo.info.pieceLength;
  const readAheadPieces = Math.max(1, Math.ceil(ctx.session.settings.streamReadAheadBytes / pieceLength));
  await streamFile(req, res, { ...found, offset: file.offset }, name, { pieceLength, readAheadPieces, reader: () => torrent.reader() }, { signal: ctx.signal });
}
