/** `peer info` run as a child process: summaries, --json, and hostile torrents refused with exit 2. */
import test from 'ava';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { encode } from '../src/bencode/index.js';
import { buildTorrent } from '../src/metainfo/create.js';
import { parseTorrent } from '../src/metainfo/parse.js';
import { runExe, tempDir } from './fixtures/metainfo-cli.js';

const PL = 16384;
const INFO_KEYS = ['infoHash', 'name', 'length', 'pieceLength', 'pieces', 'files', 'announce', 'private'];
const hashes = (n: number): Uint8Array => new Uint8Array(20 * n).fill(0xab);

const multi = buildTorrent({
  name: 'album',
  files: [{ path: ['cd1', 'track 1.flac'], length: PL }, { path: ['cover.jpg'], length: 10 }],
  pieceLength: PL,
  pieces: hashes(2),
  announce: ['http://127.0.0.1:6969/announce', 'udp://127.0.0.2:6969'],
  urlList: ['http://127.0.0.1:8000/'],
  comment: 'liner notes',
  creationDate: 1_700_000_000,
});

test.serial('a multi-file torrent: readable summary with a file tree, trackers and magnet', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  await writeFile(join(dir, 'a.torrent'), multi);
  const meta = parseTorrent(multi);
  const r = await runExe('peer', ['info', 'a.torrent'], { cwd: dir });
  t.is(r.code, 0, r.stderr);
  for (const s of ['album/', meta.infoHashHex, '2 files', '2 x 16 KiB', 'tier 1: http://127.0.0.1:6969/announce', 'tier 2: udp://127.0.0.2:6969', 'cd1/', '└── track 1.flac', 'cover.jpg', 'liner notes', `magnet:?xt=urn:btih:${meta.infoHashHex}`, 'http://127.0.0.1:8000/']) {
    t.true(r.stdout.includes(s), s);
  }
});

test.serial('--json prints exactly the contract keys', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  await writeFile(join(dir, 'a.torrent'), multi);
  const r = await runExe('peer', ['info', 'a.torrent', '--json'], { cwd: dir });
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.is(lines.length, 1);
  const j = JSON.parse(lines[0]!) as Record<string, unknown>;
  t.deepEqual(Object.keys(j), INFO_KEYS);
  t.deepEqual(j, {
    infoHash: parseTorrent(multi).infoHashHex,
    name: 'album',
    length: PL + 10,
    pieceLength: PL,
    pieces: 2,
    files: [{ path: 'cd1/track 1.flac', length: PL }, { path: 'cover.jpg', length: 10 }],
    announce: ['http://127.0.0.1:6969/announce', 'udp://127.0.0.2:6969'],
    private: false,
  });
});

test.serial('a magnet link: what it carries, null for what it does not', async (t) => {
  const hex = 'c12fe1c06bba254a9dc9f519b335aa7c1367a88a';
  const uri = `magnet:?xt=urn:btih:${hex}&dn=thing&tr=http%3A%2F%2F127.0.0.1%3A6969%2Fannounce&x.pe=127.0.0.1:6881`;
  const j = await runExe('peer', ['info', uri, '--json']);
  t.is(j.code, 0, j.stderr);
  t.deepEqual(JSON.parse(j.stdout), { infoHash: hex, name: 'thing', length: null, pieceLength: null, pieces: null, files: null, announce: ['http://127.0.0.1:6969/announce'], private: null });
  const h = await runExe('peer', ['info', uri]);
  t.is(h.code, 0);
  t.true(h.stdout.includes(hex) && h.stdout.includes('127.0.0.1:6881') && h.stdout.includes('thing'));
  const bad = await runExe('peer', ['info', 'magnet:?xt=urn:btih:1234']);
  t.is(bad.code, 2);
  t.regex(bad.stderr, /xt/);
});

const good = { name: 'x.bin', 'piece length': PL, length: PL + 1, pieces: hashes(2) };
const wrap = (info: unknown): Uint8Array => encode({ announce: 'http://127.0.0.1:6969/announce', info });
const multiInfo = (path: unknown[]): Uint8Array => wrap({ name: 'd', 'piece length': PL, pieces: hashes(1), files: [{ length: 5, path }] });

const hostile: [string, () => Uint8Array, RegExp][] = [
  ['a .. path component', () => multiInfo(['..', '..', 'etc', 'passwd']), /info\.files\[0\]\.path.*traversal/],
  ['an absolute path component', () => multiInfo(['/etc/passwd']), /info\.files\[0\]\.path.*separator/],
  ['an empty path component', () => multiInfo(['a', '']), /info\.files\[0\]\.path.*empty/],
  ['a name with a separator', () => wrap({ ...good, name: 'a/b' }), /info\.name.*separator/],
  ['a negative length', () => wrap({ ...good, length: -1 }), /info\.length.*non-negative/],
  ['a non-integer length', () => Buffer.from(`d4:infod6:lengthi1.5e4:name1:x12:piece lengthi${PL}e6:pieces20:${'a'.repeat(20)}ee`), /integer/],
  ['a length given as a string', () => wrap({ ...good, length: '17' }), /info\.length.*integer/],
  ['pieces not a multiple of 20', () => wrap({ ...good, pieces: new Uint8Array(41) }), /info\.pieces.*multiple of 20/],
  ['a piece count not matching the length', () => wrap({ ...good, pieces: hashes(5) }), /info\.pieces.*5 hashes/],
  ['truncated bencode', () => wrap(good).subarray(0, 60), /truncated|claims/],
  ['trailing garbage', () => Buffer.concat([wrap(good), Buffer.from('garbage')]), /trailing garbage/],
  ['deep nesting', () => Buffer.from('l'.repeat(100_000) + 'e'.repeat(100_000)), /nesting deeper/],
  ['a string length claiming gigabytes', () => Buffer.from('d4:info9999999999:xe'), /claims 9999999999 bytes/],
];
for (const [what, make, re] of hostile) {
  test.serial(`refuses ${what}: exit 2, a message naming it, nothing written`, async (t) => {
    const { dir, cleanup } = await tempDir();
    t.teardown(cleanup);
    await writeFile(join(dir, 'bad.torrent'), make());
    const r = await runExe('peer', ['info', 'bad.torrent'], { cwd: dir });
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, re);
    t.notRegex(r.stderr, /\n\s+at /); // a message, not a stack trace
    t.is(r.stdout, '');
    t.deepEqual(await readdir(dir), ['bad.torrent']);
  });
}

test.serial('a missing torrent file: exit 2 and a clear message', async (t) => {
  const r = await runExe('peer', ['info', '/nonexistent/x.torrent', '--json']);
  t.is(r.code, 2);
  t.regex(r.stderr, /torrent file not found: \/nonexistent\/x\.torrent/);
  t.deepEqual(Object.keys(JSON.parse(r.stdout) as object), ['event', 'message']);
});

// BEP 47/52: libtorrent 2.0's default torrents are hybrid, with pad files (several on one path).
const padded = wrap({
  name: 'hybrid',
  'piece length': PL,
  pieces: hashes(4),
  'meta version': 2,
  'file tree': { 'a.bin': { '': { length: 100, 'pieces root': new Uint8Array(32) } } },
  files: [
    { length: 100, path: ['a.bin'] },
    { attr: 'p', length: PL - 100, path: ['.pad', String(PL - 100)] },
    { length: 100, attr: 'x', path: ['sub', 'b.bin'] },
    { attr: 'p', length: PL - 100, path: ['.pad', String(PL - 100)] },
    { length: PL + 5, path: ['c.bin'] },
  ],
});

test.serial('a hybrid torrent with pad files: --json lists the real files only, length is the declared total', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  await writeFile(join(dir, 'h.torrent'), padded);
  const r = await runExe('peer', ['info', 'h.torrent', '--json'], { cwd: dir });
  t.is(r.code, 0, r.stderr);
  const j = JSON.parse(r.stdout) as Record<string, unknown>;
  t.is(j.infoHash, parseTorrent(padded).infoHashHex);
  t.deepEqual(j.files, [{ path: 'a.bin', length: 100 }, { path: 'sub/b.bin', length: 100 }, { path: 'c.bin', length: PL + 5 }]);
  t.is(j.length, 3 * PL + 5, 'pad bytes included, as libtorrent and transmission-show count them');
  t.is(j.pieces, 4);
  const h = await runExe('peer', ['info', 'h.torrent'], { cwd: dir });
  t.is(h.code, 0, h.stderr);
  t.regex(h.stdout, /in 3 files \+ 32568 bytes of padding/);
  t.notRegex(h.stdout, /\.pad/);
});

const limits: [string, () => Uint8Array, RegExp][] = [
  ['a v2-only torrent', () => wrap({ name: 'v2', 'piece length': PL, 'meta version': 2, 'file tree': { x: { '': { length: 5, 'pieces root': new Uint8Array(32) } } } }), /v2-only torrents are not supported yet/],
  ['a path of 5,000 components (10 KB)', () => multiInfo(Array.from({ length: 5000 }, () => 'a')), /info\.files\[0\]\.path.*longer than 4096 bytes/],
  ['a component of 256 bytes', () => multiInfo(['x'.repeat(256)]), /info\.files\[0\]\.path.*255 bytes/],
];
for (const [what, make, re] of limits) {
  test.serial(`refuses ${what}: exit 2 and a message naming it`, async (t) => {
    const { dir, cleanup } = await tempDir();
    t.teardown(cleanup);
    await writeFile(join(dir, 'bad.torrent'), make());
    const r = await runExe('peer', ['info', 'bad.torrent'], { cwd: dir });
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, re);
    t.is(r.stdout, '');
  });
}

test('peer info of a file that is not a torrent (a README) says so in words, exit 2', async (t) => {
  const r = await runExe('peer', ['info', 'README.md']);
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /README\.md is not a \.torrent file/);
  t.notRegex(r.stderr, /unexpected byte/);
});
