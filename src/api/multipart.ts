/**
 * Receives the one file of a multipart/form-data request (busboy), into
 * memory or into a file, refusing more than a given number of bytes. The
 * file's name is the client's, so it is reduced to one safe path component
 * before anything touches the disk.
 */
import type http from 'node:http';
import { createWriteStream } from 'node:fs';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import busboy from 'busboy';
import { checkPathComponent } from '../metainfo/path-safety.js';
import { errorMessage } from '../errors.js';
import { ApiError } from './http.js';

export interface ReceivedFile {
  /** The client's file name, checked to be one safe path component. */
  filename: string;
  size: number;
  /** Memory sink: the bytes. */
  bytes?: Buffer;
  /** File sink: where the bytes were written (a hidden temporary name in the folder). */
  tempPath?: string;
}

export type FileSink = { kind: 'memory' } | { kind: 'file'; dir: string };

/** Multipart framing around a file: boundaries and part headers, well under this. */
const MULTIPART_OVERHEAD_BYTES = 64 * 1024;

/** A client file name as one safe component, or a 400 saying why not. */
export function safeFileName(name: string | undefined): string {
  const n = (name ?? '').trim();
  if (n === '') throw new ApiError(400, 'the uploaded file has no file name');
  try {
    checkPathComponent(n, 'filename');
  } catch (err) {
    throw new ApiError(400, `bad file name: ${errorMessage(err)}`);
  }
  // Dot names would be hidden, and ours (`.upload-*.part`) are temporary files.
  if (n.startsWith('.')) throw new ApiError(400, `bad file name ${JSON.stringify(n)}: it must not start with a dot`);
  if (/[\u0000-\u001f\u007f]/.test(n)) throw new ApiError(400, 'bad file name: it holds control characters');
  return n;
}

export function receiveFile(req: http.IncomingMessage, opts: { maxBytes: number; sink: FileSink }): Promise<ReceivedFile> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > opts.maxBytes + MULTIPART_OVERHEAD_BYTES) {
    return Promise.reject(new ApiError(413, `the upload is ${declared} bytes; at most ${opts.maxBytes} are accepted`));
  }
  let bb: busboy.Busboy;
  try {
    bb = busboy({ headers: req.headers, limits: { fileSize: opts.maxBytes, files: 1, fields: 20, parts: 21, fieldSize: 64 * 1024 } });
  } catch (err) {
    return Promise.reject(new ApiError(400, `bad multipart request: ${errorMessage(err)}`));
  }
  return new Promise<ReceivedFile>((resolve, reject) => {
    let settled = false;
    let got: Promise<ReceivedFile> | undefined;
    let out: ReturnType<typeof createWriteStream> | undefined;
    const removeTemp = (): void => {
      if (!out) return;
      const path = String(out.path);
      const rm = (): void => void unlink(path).catch(() => undefined);
      // The file may not even be open yet: remove it once the stream has closed it.
      if (out.closed) rm();
      else out.once('close', rm);
      out.destroy();
    };
    const fail = (err: unknown): void => {
      if (settled) return;
      settled = true;
      req.unpipe(bb);
      // Drain what the client still sends so that it can read our answer.
      req.resume();
      removeTemp();
      reject(err instanceof ApiError ? err : new ApiError(400, `bad multipart request: ${errorMessage(err)}`));
    };
    bb.on('file', (_field, stream, info) => {
      if (got) {
        stream.resume();
        return;
      }
      let filename: string;
      try {
        filename = safeFileName(info.filename);
      } catch (err) {
        stream.resume();
        fail(err);
        return;
      }
      let size = 0;
      stream.on('limit', () => fail(new ApiError(413, `the file is over ${opts.maxBytes} bytes, the most accepted`)));
      if (opts.sink.kind === 'memory') {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => {
          size += c.length;
          chunks.push(c);
        });
        got = new Promise((res, rej) => {
          stream.on('end', () => res({ filename, size, bytes: Buffer.concat(chunks) }));
          stream.on('error', rej);
        });
      } else {
        const path = join(opts.sink.dir, `.upload-${randomBytes(8).toString('hex')}.part`);
        const file = createWriteStream(path, { flags: 'wx' });
        out = file;
        stream.on('data', (c: Buffer) => {
          size += c.length;
        });
        stream.pipe(file);
        got = new Promise((res, rej) => {
          file.on('finish', () => res({ filename, size, tempPath: path }));
          file.on('error', rej);
          stream.on('error', rej);
        });
      }
      got.catch(fail);
    });
    bb.on('error', fail);
    bb.on('close', () => {
      if (settled) return;
      if (!got) {
        fail(new ApiError(400, 'the multipart body holds no file part'));
        return;
      }
      got.then(
        (f) => {
          if (settled) return;
          settled = true;
          resolve(f);
        },
        fail,
      );
    });
    req.on('aborted', () => fail(new ApiError(400, 'the client closed the upload before its end')));
    req.pipe(bb);
  });
}
