import test from 'ava';
import { decode, encode } from '../src/bencode/index.js';
import { BencodeError, MetainfoError } from '../src/errors.js';
import { autoPieceLength, buildTorrent, CREATED_BY } from '../src/metainfo/create.js';
import { parseInfoDict, parseTorrent } from '../src/metainfo/parse.js';
import { checkPathComponent } from '../src/metainfo/path-safety.js';
import { sha1 } from '../src/util/hash.js';
import { toHex } from '../src/util/bytes.js';

const PL = 16384;
const hashes = (n: number): Uint8Array => new Uint8Array(20 * n).map((_, i) => i & 0xff);

function torrent(info: Record<string, unknown>, extra: Record<string, unknown> = {}): Uint8Array {
  return encode({ announce: 'http://127.0.0.1:6969/announce', ...extra, info });
}
const goodInfo = (over: Record<string, unknown> = {}): Record<string, unknown> => ({ name: 'a.bin', 'piece length': PL, length: PL + 1, pieces: hashes(2), ...over });

test('single-file round trip keeps every field', (t) => {
  const bytes = buildTorrent({
    name: 'file.iso',
    files: 3 * PL + 7,
    pieceLength: PL,
    pieces: hashes(4),
    announce: ['http://127.0.0.1:6969/announce', 'udp://127.0.0.1:6969'],
    urlList: ['http://127.0.0.1:8000/file.iso'],
    private: true,
    comment: 'hello ✓',
    creationDate: 1_700_000_000,
  });
  const m = parseTorrent(bytes);
  t.is(m.info.name, 'file.iso');
  t.is(m.info.length, 3 * PL + 7);
  t.is(m.info.pieceCount, 4);
  t.false(m.info.multiFile);
  t.true(m.info.private);
  t.deepEqual(m.info.files, [{ path: ['file.iso'], length: 3 * PL + 7, offset: 0 }]);
  t.deepEqual([...m.info.pieces], [...hashes(4)]);
  t.is(m.announce, 'http://127.0.0.1:6969/announce');
  t.deepEqual(m.announceList, [['http://127.0.0.1:6969/announce'], ['udp://127.0.0.1:6969']]);
  t.deepEqual(m.urlList, ['http://127.0.0.1:8000/file.iso']);
  t.is(m.comment, 'hello ✓');
  t.is(m.createdBy, CREATED_BY);
  t.is(m.creationDate, 1_700_000_000);
  t.is(m.infoHashHex, toHex(sha1(m.infoBytes)));
});

test('multi-file round trip gives offsets in data order', (t) => {
  const files = [
    { path: ['a', 'x.txt'], length: 10 },
    { path: ['a', 'y', 'z.bin'], length: PL },
    { path: ['empty'], length: 0 },
    { path: ['last'], length: 5 },
  ];
  const m = parseTorrent(buildTorrent({ name: 'dir', files, pieceLength: PL, pieces: hashes(2) }));
  t.true(m.info.multiFile);
  t.is(m.info.length, PL + 15);
  t.deepEqual(m.info.files.map((f) => f.offset), [0, 10, PL + 10, PL + 10]);
  t.deepEqual(m.info.files.map((f) => f.path), files.map((f) => f.path));
  t.deepEqual(m.announceList, []);
  t.is(m.announce, undefined);
});

test('info-hash is taken from the exact bytes of info, not a re-encoding', (t) => {
  // Keys out of canonical order and an unknown key: a re-encode would sort them.
  const info = Buffer.concat([Buffer.from('d6:lengthi5e4:name1:x12:piece lengthi16384e6:pieces20:'), Buffer.alloc(20, 7), Buffer.from('1:zi1e1:ai2ee')]);
  const file = Buffer.concat([Buffer.from('d4:info'), info, Buffer.from('e')]);
  const m = parseTorrent(file);
  t.is(m.infoHashHex, toHex(sha1(info)));
  t.not(m.infoHashHex, toHex(sha1(encode(decode(info)))));
  t.deepEqual(Buffer.from(m.infoBytes), info);
});

test('parseInfoDict reads BEP 9 metadata like parseTorrent reads info', (t) => {
  const m = parseTorrent(buildTorrent({ name: 'd', files: [{ path: ['f'], length: 3 }], pieceLength: PL, pieces: hashes(1) }));
  t.deepEqual(parseInfoDict(m.infoBytes), m.info);
});

test('announce alone becomes one tier; empty tiers are dropped', (t) => {
  t.deepEqual(parseTorrent(torrent(goodInfo())).announceList, [['http://127.0.0.1:6969/announce']]);
  const m = parseTorrent(torrent(goodInfo(), { 'announce-list': [[], ['http://a/announce', 'http://b/announce']] }));
  t.deepEqual(m.announceList, [['http://a/announce', 'http://b/announce']]);
});

test('url-list may be one string', (t) => {
  t.deepEqual(parseTorrent(torrent(goodInfo(), { 'url-list': 'http://127.0.0.1/x' })).urlList, ['http://127.0.0.1/x']);
});

test('path.utf-8 is used when path is not UTF-8', (t) => {
  const info = { name: 'd', 'piece length': PL, pieces: hashes(1), files: [{ length: 1, path: [Buffer.from([0xff, 0xfe])], 'path.utf-8': ['ok.txt'] }] };
  t.deepEqual(parseTorrent(torrent(info)).info.files[0]!.path, ['ok.txt']);
});

const hostile: [string, () => Uint8Array, string][] = [
  ['.. path component', () => torrent({ ...goodInfo(), length: undefined, files: [{ length: PL + 1, path: ['..', 'etc'] }] }), 'info.files[0].path'],
  ['absolute path component', () => torrent({ ...goodInfo(), length: undefined, files: [{ length: PL + 1, path: ['/etc/passwd'] }] }), 'info.files[0].path'],
  ['empty path component', () => torrent({ ...goodInfo(), length: undefined, files: [{ length: PL + 1, path: ['a', ''] }] }), 'info.files[0].path'],
  ['empty path list', () => torrent({ ...goodInfo(), length: undefined, files: [{ length: PL + 1, path: [] }] }), 'info.files[0].path'],
  ['backslash in a component', () => torrent({ ...goodInfo(), length: undefined, files: [{ length: PL + 1, path: ['..\\x'] }] }), 'info.files[0].path'],
  ['drive letter', () => torrent({ ...goodInfo(), length: undefined, files: [{ length: PL + 1, path: ['C:', 'x'] }] }), 'info.files[0].path'],
  ['name with a separator', () => torrent(goodInfo({ name: 'a/b' })), 'info.name'],
  ['name ..', () => torrent(goodInfo({ name: '..' })), 'info.name'],
  ['missing name', () => torrent(goodInfo({ name: undefined })), 'info.name'],
  ['negative length', () => torrent(goodInfo({ length: -1 })), 'info.length'],
  ['string length', () => torrent(goodInfo({ length: '17' })), 'info.length'],
  ['negative file length', () => torrent({ ...goodInfo(), length: undefined, files: [{ length: -5, path: ['a'] }] }), 'info.files[0].length'],
  ['zero piece length', () => torrent(goodInfo({ 'piece length': 0 })), 'info.piece length'],
  ['huge piece length', () => torrent(goodInfo({ 'piece length': 2 ** 40, length: 1, pieces: hashes(1) })), 'info.piece length'],
  ['pieces not a multiple of 20', () => torrent(goodInfo({ pieces: new Uint8Array(39) })), 'info.pieces'],
  ['piece count not matching the length', () => torrent(goodInfo({ pieces: hashes(3) })), 'info.pieces'],
  ['both length and files', () => torrent(goodInfo({ files: [{ length: 1, path: ['a'] }] })), 'info'],
  ['neither length nor files', () => torrent(goodInfo({ length: undefined })), 'info'],
  ['zero total length', () => torrent(goodInfo({ length: 0, pieces: hashes(0) })), 'info.length'],
  ['two files on one path', () => torrent({ ...goodInfo(), length: undefined, files: [{ length: PL, path: ['a'] }, { length: 1, path: ['a'] }] }), 'info.files[1].path'],
  ['a file under a file', () => torrent({ ...goodInfo(), length: undefined, files: [{ length: PL, path: ['a'] }, { length: 1, path: ['a', 'b'] }] }), 'info.files[1].path'],
  ['info not a dict', () => encode({ info: 'x' }), 'info'],
  ['missing info', () => encode({ announce: 'x' }), 'info'],
  ['root is a list', () => encode([1, 2]), 'root'],
  ['announce-list not a list', () => torrent(goodInfo(), { 'announce-list': 'http://x' }), 'announce-list'],
  ['private not an integer', () => torrent(goodInfo({ private: 'yes' })), 'info.private'],
  ['duplicate info key', () => Buffer.concat([Buffer.from('d4:info'), encode(goodInfo()), Buffer.from('4:info'), encode(goodInfo({ name: 'b' })), Buffer.from('e')]), 'root'],
];
for (const [what, make, field] of hostile) {
  test(`refuses ${what} with a MetainfoError naming ${field}`, (t) => {
    const err = t.throws(() => parseTorrent(make()), { instanceOf: MetainfoError });
    t.is(err!.field, field);
    t.true(err!.message.includes(field));
  });
}

const badBencode: [string, () => Uint8Array, RegExp][] = [
  ['truncated bencode', () => torrent(goodInfo()).subarray(0, 50), /truncated|claims/],
  ['trailing garbage', () => Buffer.concat([torrent(goodInfo()), Buffer.from('xx')]), /trailing garbage/],
  ['100,000 nested lists', () => Buffer.from('l'.repeat(100_000) + 'e'.repeat(100_000)), /nesting deeper/],
  ['a string claiming gigabytes', () => Buffer.from('d4:info4000000000:abce'), /claims 4000000000 bytes/],
  ['a non-integer length', () => Buffer.from('d4:infod6:lengthi1.5e4:name1:a12:piece lengthi16384e6:pieces0:ee'), /non-digit/],
];
for (const [what, make, re] of badBencode) {
  test(`refuses ${what} with a BencodeError`, (t) => {
    const err = t.throws(() => parseTorrent(make()), { instanceOf: BencodeError });
    t.regex(err!.message, re);
  });
}

test('checkPathComponent refuses traversal and accepts ordinary names', (t) => {
  for (const bad of ['', '.', '..', 'a/b', '/abs', 'a\\b', 'nul\0', 'C:', 'c:x', 'x'.repeat(256)]) {
    t.throws(() => checkPathComponent(bad, 'f'), { instanceOf: MetainfoError }, JSON.stringify(bad));
  }
  for (const ok of ['a', '.hidden', '...', 'a..b', 'ünïcødé', 'with space', '1:2']) t.notThrows(() => checkPathComponent(ok, 'f'), ok);
});

test('autoPieceLength is a power of two from 16 KiB to 16 MiB giving 1,000-2,000 pieces', (t) => {
  t.is(autoPieceLength(1), 16 * 1024);
  t.is(autoPieceLength(2 ** 60), 16 * 1024 * 1024);
  for (const size of [32 * 2 ** 20, 100e6, 2 ** 30, 4 * 2 ** 30 + 1, 7.3e9, 30e9]) {
    const pl = autoPieceLength(size);
    t.is(pl & (pl - 1), 0);
    const n = Math.ceil(size / pl);
    t.true(n > 1000 && n <= 2000, `${size} -> ${pl} gives ${n} pieces`);
  }
});

test('buildTorrent refuses a hash count that does not match the length', (t) => {
  t.throws(() => buildTorrent({ name: 'x', files: PL + 1, pieceLength: PL, pieces: hashes(1) }), { instanceOf: MetainfoError });
  t.throws(() => buildTorrent({ name: '../x', files: 1, pieceLength: PL, pieces: hashes(1) }), { instanceOf: MetainfoError });
});
