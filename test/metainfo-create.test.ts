/** make -> parse round trips on real files, and the same torrents as create-torrent / parse-torrent. */
import test from 'ava';
import createTorrent from 'create-torrent';
import parseTorrentRef from 'parse-torrent';
import { mkdir, symlink, writeFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { StorageError, UsageError } from '../src/errors.js';
import { makeTorrent } from '../src/cli/make-torrent.js';
import { parseTorrent } from '../src/metainfo/parse.js';
import { hashFiles, listContent } from '../src/storage/hash-files.js';
import { HashPool } from '../src/util/hash-pool.js';
import { pseudoRandom, referencePieces, tempDir } from './fixtures/metainfo-cli.js';

const PL = 16384;

function createTorrentRef(input: unknown, opts: Record<string, unknown>): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    createTorrent(input, opts, (err, t) => (err ? reject(err) : resolve(t)));
  });
}

const singleSizes: [string, number][] = [
  ['1 byte', 1],
  ['exactly one piece', PL],
  ['one piece plus one byte', PL + 1],
  ['several pieces and a short last one', 5 * PL + 123],
];
for (const [what, size] of singleSizes) {
  test(`single file round trip: ${what}`, async (t) => {
    const { dir, cleanup } = await tempDir();
    t.teardown(cleanup);
    const data = pseudoRandom(size, size);
    await writeFile(join(dir, 'data.bin'), data);
    const { torrent, meta } = await makeTorrent(join(dir, 'data.bin'), { pieceLength: PL, announce: ['http://127.0.0.1:6969/announce'] });
    const parsed = parseTorrent(torrent);
    t.is(parsed.infoHashHex, meta.infoHashHex);
    t.is(parsed.info.name, 'data.bin');
    t.is(parsed.info.length, size);
    t.false(parsed.info.multiFile);
    t.deepEqual(Buffer.from(parsed.info.pieces), Buffer.from(referencePieces(data, PL)));

    // The independent implementation, same input and piece length, same info-hash and pieces.
    const refBytes = await createTorrentRef(join(dir, 'data.bin'), { pieceLength: PL, announceList: [['http://127.0.0.1:6969/announce']] });
    const ref = await parseTorrentRef(refBytes);
    t.is(ref.infoHash, parsed.infoHashHex);
    // And our parser reads create-torrent's file to the same info-hash as parse-torrent does.
    t.is(parseTorrent(refBytes).infoHashHex, ref.infoHash);
    t.is(Buffer.from((ref.pieces as string[]).join(''), 'hex').toString('hex'), Buffer.from(parsed.info.pieces).toString('hex'));
  });
}

test('nested multi-file folder: sorted order, file boundaries inside pieces, same as create-torrent', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  const root = join(dir, 'album');
  // Sizes put file boundaries inside pieces; one file spans several pieces.
  const layout: [string[], number][] = [
    [['b', 'z.bin'], 3 * PL + 17],
    [['a.txt'], 100],
    [['b', 'a', 'deep.bin'], PL - 1],
    [['b-side.bin'], 2],
    [['.hidden'], 9],
  ];
  for (const [p, len] of layout) {
    await mkdir(join(root, ...p.slice(0, -1)), { recursive: true });
    await writeFile(join(root, ...p), pseudoRandom(len, len + 3));
  }
  const { torrent } = await makeTorrent(root, { pieceLength: PL });
  const meta = parseTorrent(torrent);
  const order = meta.info.files.map((f) => f.path.join('/'));
  // Component by component, raw bytes: '.hidden' < 'a.txt' < 'b/...' < 'b-side.bin' < 'c'.
  t.deepEqual(order, ['.hidden', 'a.txt', 'b/a/deep.bin', 'b/z.bin', 'b-side.bin']);
  const concat = Buffer.concat(meta.info.files.map((f) => Buffer.from(pseudoRandom(f.length, f.length + 3))));
  t.is(meta.info.length, concat.length);
  t.deepEqual(Buffer.from(meta.info.pieces), Buffer.from(referencePieces(concat, PL)));

  // create-torrent walks folders in readdir order and skips hidden files, so
  // hand it the same files, in our order, as named buffers.
  const inputs = meta.info.files.map((f) => Object.assign(Buffer.from(pseudoRandom(f.length, f.length + 3)), { name: ['album', ...f.path].join('/') }));
  const ref = await parseTorrentRef(await createTorrentRef(inputs, { pieceLength: PL, filterJunkFiles: false, announceList: [] }));
  t.is(ref.infoHash, meta.infoHashHex);

  // Empty files take no bytes but keep their place. (Not compared with
  // create-torrent: given a zero-length buffer, its last piece hash is wrong.)
  await writeFile(join(root, 'c'), '');
  await writeFile(join(root, 'b', 'empty'), '');
  const withEmpty = parseTorrent((await makeTorrent(root, { pieceLength: PL })).torrent);
  t.deepEqual(withEmpty.info.files.map((f) => f.path.join('/')), ['.hidden', 'a.txt', 'b/a/deep.bin', 'b/empty', 'b/z.bin', 'b-side.bin', 'c']);
  t.deepEqual(Buffer.from(withEmpty.info.pieces), Buffer.from(meta.info.pieces));
});

test('private torrents match create-torrent too', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  await writeFile(join(dir, 'p.bin'), pseudoRandom(40000));
  const { meta } = await makeTorrent(join(dir, 'p.bin'), { pieceLength: PL, private: true });
  t.true(meta.info.private);
  const ref = await parseTorrentRef(await createTorrentRef(join(dir, 'p.bin'), { pieceLength: PL, private: true, announceList: [] }));
  t.is(ref.infoHash, meta.infoHashHex);
});

test('hashFiles: small chunks, several files, recycled buffers give the reference pieces', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  const sizes = [1, 70000, 0, 33333, 16384, 5];
  const datas = sizes.map((n, i) => pseudoRandom(n, i + 11));
  const files = await Promise.all(datas.map(async (d, i) => {
    const absPath = join(dir, `f${i}`);
    await writeFile(absPath, d);
    return { absPath, length: d.length };
  }));
  const pool = new HashPool({ threads: 2 });
  t.teardown(() => pool.close());
  const seen: number[] = [];
  const pieces = await hashFiles(files, PL, { pool, chunkBytes: PL, maxInFlight: 3, onProgress: (d) => seen.push(d) });
  t.deepEqual(Buffer.from(pieces), Buffer.from(referencePieces(Buffer.concat(datas), PL)));
  t.is(seen.at(-1), Buffer.concat(datas).length);
  t.true(seen.length > 1);
});

test('hashFiles stops on an aborted signal', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  await writeFile(join(dir, 'x'), pseudoRandom(100000));
  const pool = new HashPool({ threads: 1 });
  t.teardown(() => pool.close());
  const ac = new AbortController();
  ac.abort(new Error('stop now'));
  await t.throwsAsync(hashFiles([{ absPath: join(dir, 'x'), length: 100000 }], PL, { pool, signal: ac.signal }), { message: 'stop now' });
});

test('hashFiles refuses a file whose size changed since it was listed', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  await writeFile(join(dir, 'x'), pseudoRandom(50000));
  await truncate(join(dir, 'x'), 20000);
  const pool = new HashPool({ threads: 1 });
  t.teardown(() => pool.close());
  await t.throwsAsync(hashFiles([{ absPath: join(dir, 'x'), length: 50000 }], PL, { pool }), { instanceOf: StorageError, message: /changed size/ });
});

test('listContent follows symlinks inside the folder and refuses ones that leave it', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  const root = join(dir, 'share');
  await mkdir(join(root, 'sub'), { recursive: true });
  await writeFile(join(root, 'sub', 'real.txt'), 'abc');
  await symlink(join(root, 'sub', 'real.txt'), join(root, 'link.txt'));
  const listing = await listContent(root);
  t.deepEqual(listing.files.map((f) => [f.path.join('/'), f.length]), [['link.txt', 3], ['sub/real.txt', 3]]);

  await writeFile(join(dir, 'secret'), 'top secret');
  await symlink(join(dir, 'secret'), join(root, 'escape'));
  await t.throwsAsync(listContent(root), { instanceOf: UsageError, message: /outside the folder/ });
});

test('listContent refuses a symlink loop, an empty folder and a missing path', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  await mkdir(join(dir, 'loop', 'in'), { recursive: true });
  await writeFile(join(dir, 'loop', 'in', 'f'), 'x');
  await symlink(join(dir, 'loop'), join(dir, 'loop', 'in', 'back'));
  await t.throwsAsync(listContent(join(dir, 'loop')), { instanceOf: UsageError, message: /loops/ });
  await mkdir(join(dir, 'empty', 'sub'), { recursive: true });
  await t.throwsAsync(listContent(join(dir, 'empty')), { instanceOf: UsageError, message: /holds no files/ });
  await t.throwsAsync(listContent(join(dir, 'missing')), { instanceOf: UsageError, message: /no such file or folder/ });
});

test('makeTorrent refuses content of zero bytes', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  await mkdir(join(dir, 'z'));
  await writeFile(join(dir, 'z', 'empty'), '');
  await t.throwsAsync(makeTorrent(join(dir, 'z')), { instanceOf: UsageError, message: /empty files/ });
});
