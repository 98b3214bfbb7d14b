/**
 * `GET /download/<name>[/<sub>...]`: a file from the download folder, and
 * never anything outside it. Each URL segment is decoded once and must be
 * one plain path component (so `..`, `%2e%2e`, `%2F` and `\` are refused
 * before any file system call); the result is then resolved through
 * symlinks and must still lie inside the folder's own real path.
 */
import type http from 'node:http';
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { errorMessage } from '../errors.js';
import { checkPathComponent } from '../metainfo/path-safety.js';
import { ApiError, baseHeaders } from './http.js';

/** The path components of the raw (still percent-encoded) part of the URL after `/download/`. */
export function downloadComponents(rawPath: string): string[] {
  if (rawPath === '') throw new ApiError(400, 'name the file: /download/<name>');
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
    return name;
  });
}

/** The real path of a regular file inside `root`, or a 4xx. */
export async function resolveDownload(root: string, components: readonly string[]): Promise<{ path: string; size: number }> {
  let rootReal: string;
  try {
    rootReal = await realpath(root);
  } catch {
    throw new ApiError(404, 'the download folder does not exist yet');
  }
  let real: string;
  try {
    real = await realpath(join(rootReal, ...components));
  } catch {
    throw new ApiError(404, `no file ${components.join('/')} in the download folder`);
  }
  if (!real.startsWith(rootReal + sep)) throw new ApiError(403, `${components.join('/')} leads outside the download folder`);
  const st = await stat(real);
  if (!st.isFile()) throw new ApiError(404, `${components.join('/')} is not a file`);
  return { path: real, size: st.size };
}

/** Streams the file as an attachment. */
export function sendFile(req: http.IncomingMessage, res: http.ServerResponse, file: { path: string; size: number }, name: string): void {
  // RFC 6266: an ASCII fallback and the exact name in UTF-8.
  const ascii = name.replace(/[^\x20-\x7e]|["\\]/g, '_');
  res.writeHead(200, {
    ...baseHeaders(),
    'Content-Type': 'application/octet-stream',
    'Content-Length': file.size,
    'Content-Disposition': `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(name)}`,
    'Cache-Control': 'no-store',
  });
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  const stream = createReadStream(file.path);
  stream.on('error', () => res.destroy());
  res.on('close', () => stream.destroy());
  stream.pipe(res);
}
