/**
 * BEP 47 on disk: pad files are never created (nor read when a user planted
 * one), symlinks are never created, executable files get their bits, and
 * the resume policy ignores what is not on disk.
 */
import test from 'ava';
import { lstat, mkdir, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { FileStore } from '../src/storage/file-store.js';
import { openTorrentStorage } from '../src/storage/torrent-storage.js';
import { verifyPieces } from '../src/storage/verify.js';
import { HashPool } from '../src/util/hash-pool.js';
import { contentPathOf, log, makeFixture, paddedFile, pieceOf, tempDir, writeContent } from './storage-fixtures.js';

const pool = new HashPool({ threads: 2 });
test.after.always(() => pool.close());

/** Every entry under `root` (folders with a trailing /), sorted. */
async function tree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        out.push(`${r}/`);
        await walk(path.join(dir, e.name), r);
      } else out.push(r);
    }
  };
  await walk(root, '');
  return out.sort();
}

test('a leecher writes every piece of a padded torrent: the real files byte-equal, no .pad on disk', async (t) => {
  const fx = paddedFile();
  const dir = await tempDir(t);
  const store = new FileStore({ info: fx.info, contentPath: contentPathOf(dir, fx), create: true, logger: log });
  t.teardown(() => store.close());
  await store.open();
  t.deepEqual(await tree(contentPathOf(dir, fx)), ['a.bin', 'c.bin', 'd.bin', 'sub/', 'sub/b.bin']);
  for (let i = 0; i < fx.info.pieceCount; i++) await store.writePiece(i, pieceOf(fx, i));
  await store.close();
  t.deepEqual(await tree(contentPathOf(dir, fx)), ['a.bin', 'c.bin', 'd.bin', 'sub/', 'sub/b.bin']);
  const sizes = await Promise.all(['a.bin', 'sub/b.bin', 'c.bin', 'd.bin'].map(async (f) => (await stat(path.join(contentPathOf(dir, fx), f))).size));
  t.deepEqual(sizes, [10000, 30000, 20000, 1000]);
  t.throws(() => store.pathOf(1), { instanceOf: RangeError });
});

test('a seeder never reads a planted .pad file: its range is zeros and every piece verifies', async (t) => {
  const fx = paddedFile();
  const dir = await tempDir(t);
  const root = await writeContent(dir, fx);
  await mkdir(path.join(root, '.pad'));
  await writeFile(path.join(root, '.pad', 'x'), Buffer.alloc(20000, 0xee));
  const store = new FileStore({ info: fx.info, contentPath: root, create: false, logger: log });
  t.teardown(() => store.close());
  await store.open();
  t.true((await verifyPieces(store, fx.info, pool)).isComplete());
  t.true((await store.read(0, 10000, 6384)).every((b) => b === 0));
  t.false((await store.fingerprint()).some((f) => f.path.includes(`${path.sep}.pad`)));
});

test('attr x: a created file is executable; attr l: the symlink is never created', async (t) => {
  const fx = makeFixture({ files: [{ path: ['run.sh'], length: 100 }, { path: ['data'], length: 100 }, { path: ['link'], length: 0 }], pieceLength: 16384 });
  fx.info.files[0]!.executable = true;
  fx.info.files[2]!.symlink = ['..', '..', 'etc', 'passwd'];
  const dir = await tempDir(t);
  const root = contentPathOf(dir, fx);
  const store = new FileStore({ info: fx.info, contentPath: root, create: true, logger: log });
  t.teardown(() => store.close());
  await store.open();
  await store.writePiece(0, pieceOf(fx, 0));
  t.is((await stat(path.join(root, 'run.sh'))).mode & 0o100, 0o100);
  t.is((await stat(path.join(root, 'data'))).mode & 0o111, 0);
  await t.throwsAsync(lstat(path.join(root, 'link')), { code: 'ENOENT' });
  t.deepEqual(await tree(root), ['data', 'run.sh']);
});

test('resume with pad files: a fresh leecher reads nothing, a finished one is trusted on restart', async (t) => {
  const fx = paddedFile();
  const dir = await tempDir(t);
  const opts = { info: fx.info, infoHashHex: fx.infoHashHex, contentPath: contentPathOf(dir, fx), stateDir: path.join(dir, 'state'), mode: 'leech' as const, pool, logger: log };
  let verified = 0;
  const first = await openTorrentStorage({ ...opts, onVerifyProgress: () => verified++ });
  t.is(first.resumed, 'fresh');
  t.is(verified, 0, 'pieces of created files and padding hold nothing: not read');
  for (let i = 0; i < fx.info.pieceCount; i++) {
    await first.store.writePiece(i, pieceOf(fx, i));
    first.pieceWritten(i);
  }
  await first.close();
  const again = await openTorrentStorage(opts);
  t.teardown(() => again.close());
  t.is(again.resumed, 'trusted');
  t.true(again.complete);
});
