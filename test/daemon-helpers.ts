/**
 * Helpers of the daemon and watch-folder tests: tiny torrents made in
 * process, a logger whose lines a test can read, and bounded polling.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import winston from 'winston';
import type { Logger } from '../src/log.js';
import { buildTorrent } from '../src/metainfo/create.js';
import { parseTorrent } from '../src/metainfo/parse.js';
import type { Metainfo } from '../src/metainfo/types.js';

export interface TinyTorrent {
  name: string;
  data: Buffer;
  bytes: Uint8Array;
  meta: Metainfo;
}

/** Deterministic content of `length` bytes for torrent number `n` (a NUL first, so NULs travel). */
export function tinyData(n: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  let x = (n * 2654435761) >>> 0 || 1;
  for (let i = 1; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** A single-file torrent of `length` bytes (default: two and a bit 16 KiB pieces). */
export function tinyTorrent(n: number, opts: { length?: number; pieceLength?: number; announce?: string[]; name?: string } = {}): TinyTorrent {
  const length = opts.length ?? 40_000 + n;
  const pieceLength = opts.pieceLength ?? 16 * 1024;
  const data = tinyData(n, length);
  const hashes: Buffer[] = [];
  for (let off = 0; off < length; off += pieceLength) hashes.push(createHash('sha1').update(data.subarray(off, off + pieceLength)).digest());
  const name = opts.name ?? `file-${String(n).padStart(3, '0')}.bin`;
  const bytes = buildTorrent({ name, files: length, pieceLength, pieces: Buffer.concat(hashes), ...(opts.announce ? { announce: opts.announce } : {}) });
  return { name, data, bytes, meta: parseTorrent(bytes) };
}

/** Writes the content of `t` as `<dir>/<name>`. */
export async function writeContent(dir: string, t: TinyTorrent): Promise<string> {
  await mkdir(dir, { recursive: true });
  const p = path.join(dir, t.name);
  await writeFile(p, t.data);
  return p;
}

export interface CapturedLogger {
  logger: Logger;
  /** `level message` lines, in order. */
  lines: string[];
  has(level: string, pattern: RegExp): boolean;
}

/** A winston logger writing into an array (children included), for asserting on warnings. */
export function captureLogger(level = 'debug'): CapturedLogger {
  const lines: string[] = [];
  const stream = new Writable({
    objectMode: true,
    write(chunk: unknown, _enc, cb) {
      const info = chunk as { level: string; message: unknown };
      lines.push(`${info.level} ${String(info.message)}`);
      cb();
    },
  });
  const logger = winston.createLogger({ level, transports: [new winston.transports.Stream({ stream })] });
  return {
    logger,
    lines,
    has: (lvl, pattern) => lines.some((l) => l.startsWith(`${lvl} `) && pattern.test(l)),
  };
}

