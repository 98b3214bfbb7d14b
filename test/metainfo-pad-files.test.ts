/**
 * BEP 47 attributes (pad files, executable, hidden, symlinks), BEP 52 hybrid
 * and v2-only torrents, and the path limits, on hand-built bencoded torrents.
 */
import test from 'ava';
import { encode } from '../src/bencode/index.js';
import { MetainfoError } from '../src/errors.js';
import { mapRange, pieceLengthAt, userFiles } from '../src/metainfo/layout.js';
import { MAX_FILES, parseInfoDict, parseTorrent } from '../src/metainfo/parse.js';
import { MAX_RELATIVE_PATH_BYTES } from '../src/metainfo/path-safety.js';
import { sha1 } from '../src/util/hash.js';
import { toHex } from '../src/util/bytes.js';

const PL = 16384;
const hashes = (n: number): Uint8Array => new Uint8Array(20 * n).map((_, i) => (i * 7) & 0xff);
const torrent = (info: Record<string, unknown>, extra: Record<string, unknown> = {}): Uint8Array => encode({ announce: 'http://127.0.0.1:6969/announce', ...extra, info });
const multi = (files: unknown[], over: Record<string, unknown> = {}): Record<string, unknown> => {
  const total = (files as { length: number }[]).reduce((n, f) => n + f.length, 0);
  return { name: 'album', 'piece length': PL, pieces: hashes(Math.ceil(total / PL)), files, ...over };
};
const refusal = (bytes: Uint8Array): MetainfoError => {
  try {
    parseTorrent(bytes);
  } catch (err) {
    if (err instanceof MetainfoError) return err;
    throw err;
  }
  throw new Error('the torrent was accepted');
};

/** As libtorrent 2.0 makes them by default: v1 files with pad files after each file (the last too), and v2 keys. */
function hybridInfo(): Record<string, unknown> {
  const files = [
    { length: 100_000, path: ['a.bin'] },
    { attr: 'p', length: 7 * PL - 100_000, path: ['.pad', String(7 * PL - 100_000)] },
    { length: 50_000, path: ['sub', 'b.bin'] },
    { attr: 'p', length: 4 * PL - 50_000, path: ['.pad', String(4 * PL - 50_000)] },
    { length: 70_000, attr: 'xh', path: ['z.bin'] },
    { attr: 'p', length: 5 * PL - 70_000, path: ['.pad', String(5 * PL - 70_000)] },
  ];
  const fileTree = {
    'a.bin': { '': { length: 100_000, 'pieces root': new Uint8Array(32).fill(1) } },
    sub: { 'b.bin': { '': { length: 50_000, 'pieces root': new Uint8Array(32).fill(2) } } },
    'z.bin': { '': { length: 70_000, 'pieces root': new Uint8Array(32).fill(3) } },
  };
  return multi(files, { 'meta version': 2, 'file tree': fileTree });
}

test('a hybrid torrent (BEP 52) is read as v1: pad files in the layout, real files for users, v1 info-hash of the info bytes', (t) => {
  const bytes = torrent(hybridInfo(), { 'piece layers': { [Buffer.alloc(32, 1).toString('latin1')]: new Uint8Array(32) } });
  const meta = parseTorrent(bytes);
  t.is(meta.infoHashHex, toHex(sha1(meta.infoBytes)));
  t.true(Buffer.from(bytes).includes(Buffer.from(meta.infoBytes)));
  t.true(Buffer.from(meta.infoBytes).includes(Buffer.from('9:file tree')), 'v2 keys stay in the hashed bytes');
  const { info } = meta;
  t.is(info.length, 16 * PL, 'length is the declared total, pad bytes included');
  t.is(info.pieceCount, 16);
  t.deepEqual(
    info.files.map((f) => [f.path.join('/'), f.offset, f.length, f.pad === true]),
    [
      ['a.bin', 0, 100_000, false],
      [`.pad/${7 * PL - 100_000}`, 100_000, 7 * PL - 100_000, true],
      ['sub/b.bin', 7 * PL, 50_000, false],
      [`.pad/${4 * PL - 50_000}`, 7 * PL + 50_000, 4 * PL - 50_000, true],
      ['z.bin', 11 * PL, 70_000, false],
      [`.pad/${5 * PL - 70_000}`, 11 * PL + 70_000, 5 * PL - 70_000, true],
    ],
  );
  t.deepEqual(userFiles(info).map((f) => f.path.join('/')), ['a.bin', 'sub/b.bin', 'z.bin']);
  // Every real file starts on a piece boundary, and a piece ending in padding maps onto the pad file.
  t.deepEqual(mapRange(info.files, 6 * PL, PL).map((s) => s.fileIndex), [0, 1]);
  t.is(pieceLengthAt(info, 15), PL);
  const z = info.files[4]!;
  t.true(z.executable === true && z.hidden === true);
  t.is(info.files[0]!.executable, undefined);
});

test('pad files may share one path, and may sit beside a real file named .pad', (t) => {
  const PL64 = 65536;
  const files: unknown[] = [];
  for (let i = 0; i < 3; i++) files.push({ length: 1, path: [`f${i}`] }, { attr: 'p', length: 65535, path: ['.pad', '65535'] });
  files.push({ length: 10, path: ['.pad'] });
  const total = 3 * PL64 + 10;
  const meta = parseTorrent(torrent({ name: 'd', 'piece length': PL64, pieces: hashes(Math.ceil(total / PL64)), files }));
  t.is(meta.info.files.length, 7);
  t.deepEqual(userFiles(meta.info).map((f) => f.path.join('/')), ['f0', 'f1', 'f2', '.pad']);
  t.is(meta.info.files[6]!.offset, 3 * PL64);
});

test('pad paths are not checked (they name nothing on disk); real paths still are', (t) => {
  const meta = parseTorrent(torrent(multi([{ length: 1, path: ['a'] }, { attr: 'p', length: PL - 1, path: ['..', 'pad'] }, { length: 1, path: ['b'] }])));
  t.deepEqual(userFiles(meta.info).map((f) => f.path.join('/')), ['a', 'b']);
  const err = refusal(torrent(multi([{ length: 1, path: ['a'] }, { attr: 'x', length: 1, path: ['..', 'b'] }])));
  t.is(err.field, 'info.files[1].path');
});

test('unknown attr letters are ignored; attr of the wrong type is refused', (t) => {
  const meta = parseTorrent(torrent(multi([{ length: 5, attr: 'qz?', path: ['a'] }])));
  t.is(meta.info.files[0]!.pad, undefined);
  t.is(refusal(torrent(multi([{ length: 5, attr: 7, path: ['a'] }]))).field, 'info.files[0].attr');
});

test('a single-file torrent: attr x is kept; p and l are refused', (t) => {
  const single = (attr: string): Uint8Array => torrent({ name: 'run.sh', 'piece length': PL, length: 10, pieces: hashes(1), attr });
  t.is(parseTorrent(single('x')).info.files[0]!.executable, true);
  t.is(refusal(single('p')).field, 'info.attr');
  t.is(refusal(single('l')).field, 'info.attr');
});

test('a symlink (attr l) is kept out of the user files, never given a length, and must say where it points', (t) => {
  const meta = parseTorrent(torrent(multi([{ length: 5, path: ['a'] }, { length: 0, attr: 'l', 'symlink path': ['a'], path: ['link'] }])));
  t.deepEqual(meta.info.files[1]!.symlink, ['a']);
  t.deepEqual(userFiles(meta.info).map((f) => f.path.join('/')), ['a']);
  t.is(refusal(torrent(multi([{ length: 5, path: ['a'] }, { length: 3, attr: 'l', 'symlink path': ['a'], path: ['link'] }]))).field, 'info.files[1].length');
  t.is(refusal(torrent(multi([{ length: 5, path: ['a'] }, { length: 0, attr: 'l', path: ['link'] }]))).field, 'info.files[1].symlink path');
});

test('a torrent of pad files only is refused', (t) => {
  t.is(refusal(torrent(multi([{ attr: 'p', length: 5, path: ['.pad', '5'] }]))).field, 'info.files');
});

test('a v2-only torrent (no pieces) is refused: v2-only torrents are not supported yet', (t) => {
  const v2 = { name: 'x', 'piece length': PL, 'meta version': 2, 'file tree': { x: { '': { length: 5, 'pieces root': new Uint8Array(32) } } } };
  const err = refusal(torrent(v2));
  t.is(err.field, 'info.pieces');
  t.regex(err.message, /v2-only torrents are not supported yet/);
  t.throws(() => parseInfoDict(encode(v2)), { message: /v2-only torrents are not supported yet/ });
  // Without v2 keys, a missing `pieces` is just that.
  t.regex(refusal(torrent({ name: 'x', 'piece length': PL, length: 5 })).message, /info\.pieces: missing/);
});

test('path limits: a component over 255 bytes, a path of 5,000 components (10 KB) refused naming the field', (t) => {
  const long = refusal(torrent(multi([{ length: 5, path: ['d', 'é'.repeat(128)] }])));
  t.is(long.field, 'info.files[0].path');
  t.regex(long.message, /255 bytes/);
  const deep = refusal(torrent(multi([{ length: 5, path: ['ok'] }, { length: 5, path: Array.from({ length: 5000 }, () => 'a') }])));
  t.is(deep.field, 'info.files[1].path');
  t.regex(deep.message, new RegExp(`longer than ${MAX_RELATIVE_PATH_BYTES} bytes`));
});

test('path limits: the relative path (name included) may be 4,096 bytes, not one more', (t) => {
  // name 'album' (5) + 16 x ('/' + 250) = 4021, then '/' + the rest.
  const comps = Array.from({ length: 16 }, (_, i) => String(i).padEnd(250, 'x'));
  const fill = (n: number): string[] => [...comps, 'y'.repeat(n - 5 - 16 * 251 - 1)];
  t.is(['album', ...fill(4096)].join('/').length, 4096);
  t.notThrows(() => parseTorrent(torrent(multi([{ length: 5, path: fill(4096) }]))));
  t.is(refusal(torrent(multi([{ length: 5, path: fill(4097) }]))).field, 'info.files[0].path');
});

test(`path limits: ${MAX_FILES} files accepted, one more refused naming info.files`, (t) => {
  const many = (n: number): Uint8Array => torrent(multi(Array.from({ length: n }, (_, i) => ({ length: 1, path: [`f${i}`] }))));
  t.is(parseTorrent(many(MAX_FILES)).info.files.length, MAX_FILES);
  const err = refusal(many(MAX_FILES + 1));
  t.is(err.field, 'info.files');
  t.regex(err.message, /100000 files/);
  // Pad files do not count: a hybrid torrent of MAX_FILES real files has about as many pad files again.
  const padded = Array.from({ length: 2 * 1000 }, (_, i) => (i % 2 ? { attr: 'p', length: PL - 1, path: ['.pad', String(PL - 1)] } : { length: 1, path: [`f${i}`] }));
  t.is(userFiles(parseTorrent(torrent(multi(padded))).info).length, 1000);
});
