/** Shared fixtures for the storage tests (not a test file itself). */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import type { FileEntry, InfoDict } from '../src/metainfo/types.js';
import { sha1 } from '../src/util/hash.js';
import { silentLogger } from '../src/log.js';

export const log = silentLogger;

/** Deterministic bytes with runs of NUL bytes in them (NULs must survive every path). */
export function pattern(length: number, seed = 1): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = i % 97 < 5 ? 0 : x >>> 24;
  }
  return out;
}

export interface Fixture {
  info: InfoDict;
  data: Uint8Array;
  infoHashHex: string;
}

/**
 * An InfoDict over `data` cut into `files`; `multiFile` false needs exactly
 * one file. Pad files (BEP 47, `pad: true`) hold zeros in `data`, as the
 * piece hashes of a real torrent say they do.
 */
export function makeFixture(spec: { name?: string; files: { path: string[]; length: number; pad?: true }[]; pieceLength: number; multiFile?: boolean; seed?: number }): Fixture {
  const total = spec.files.reduce((n, f) => n + f.length, 0);
  const data = pattern(total, spec.seed ?? 7);
  let at = 0;
  for (const f of spec.files) {
    if (f.pad) data.fill(0, at, at + f.length);
    at += f.length;
  }
  const pieceCount = Math.ceil(total / spec.pieceLength);
  const pieces = new Uint8Array(pieceCount * 20);
  for (let i = 0; i < pieceCount; i++) pieces.set(sha1(data.subarray(i * spec.pieceLength, Math.min(total, (i + 1) * spec.pieceLength))), i * 20);
  let offset = 0;
  const files: FileEntry[] = spec.files.map((f) => {
    const e: FileEntry = { path: f.path, length: f.length, offset };
    if (f.pad) e.pad = true;
    offset += f.length;
    return e;
  });
  const multiFile = spec.multiFile ?? spec.files.length > 1;
  const name = spec.name ?? (multiFile ? 'folder' : spec.files[0]!.path[0]!);
  const info: InfoDict = { name, pieceLength: spec.pieceLength, pieces, pieceCount, length: total, files, multiFile, private: false };
  return { info, data, infoHashHex: Buffer.from(sha1(pieces, Buffer.from(name))).toString('hex') };
}

/** One file of 5 pieces of 16 KiB and a short last piece of 1000 bytes. */
export function singleFile(): Fixture {
  return makeFixture({ files: [{ path: ['single.bin'], length: 5 * 16384 + 1000 }], pieceLength: 16384, multiFile: false });
}

/**
 * Files with pieces spanning boundaries: a zero-length file first, in the
 * middle and last, a file smaller than a piece, a file that ends exactly on
 * a piece boundary, nested folders, and a short last piece.
 */
export function multiFile(): Fixture {
  return makeFixture({
    files: [
      { path: ['empty-first'], length: 0 },
      { path: ['a.bin'], length: 20000 },
      { path: ['sub', 'b.bin'], length: 3000 },
      { path: ['sub', 'empty-mid'], length: 0 },
      { path: ['sub', 'deeper', 'c.bin'], length: 9768 }, // ends at 32768 = 2 pieces exactly
      { path: ['d.bin'], length: 40000 },
      { path: ['e.bin'], length: 1 },
      { path: ['empty-last'], length: 0 },
    ],
    pieceLength: 16384,
  });
}

export async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'swarm-storage-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Where the content of `fx` lives under `dir`: the file itself, or the folder `<name>`. */
export function contentPathOf(dir: string, fx: Fixture): string {
  return path.join(dir, fx.info.multiFile ? fx.info.name : fx.info.files[0]!.path[0]!);
}

/**
 * A hybrid-style layout (libtorrent 2.0's default): each file padded to a
 * piece boundary by a BEP 47 pad file, pad files sharing one path, a piece
 * (1) wholly inside one file, and a short last piece after the last file.
 */
export function paddedFile(): Fixture {
  return makeFixture({
    files: [
      { path: ['a.bin'], length: 10000 },
      { path: ['.pad', 'x'], length: 6384, pad: true },
      { path: ['sub', 'b.bin'], length: 30000 }, // 16384..46384: piece 1 lies inside it
      { path: ['.pad', 'x'], length: 2768, pad: true },
      { path: ['c.bin'], length: 20000 },
      { path: ['.pad', 'x'], length: 12768, pad: true },
      { path: ['d.bin'], length: 1000 }, // the short last piece
    ],
    pieceLength: 16384,
  });
}

/** Writes the fixture's files (all of them but pad files: its data) as make-torrent's input would be. */
export async function writeContent(dir: string, fx: Fixture, data = fx.data): Promise<string> {
  const root = contentPathOf(dir, fx);
  for (const f of fx.info.files) {
    if (f.pad) continue;
    const p = fx.info.multiFile ? path.join(root, ...f.path) : root;
    await mkdir(path.dirname(p), { recursive: true });
    await writeFile(p, data.subarray(f.offset, f.offset + f.length));
  }
  return root;
}

export function pieceOf(fx: Fixture, index: number): Uint8Array {
  return fx.data.slice(index * fx.info.pieceLength, Math.min(fx.info.length, (index + 1) * fx.info.pieceLength));
}
