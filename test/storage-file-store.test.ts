/** What only the file-backed store does: paths, symlinks, sizes, the handle LRU, durability. */
import test from 'ava';
import { mkdir, readdir, readFile, readlink, stat, symlink, truncate, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { StorageError, SymlinkRefusedError } from '../src/errors.js';
import { FileStore } from '../src/storage/file-store.js';
import { verifyPieces } from '../src/storage/verify.js';
import { HashPool } from '../src/util/hash-pool.js';
import { contentPathOf, log, makeFixture, multiFile, pieceOf, singleFile, tempDir, writeContent } from './storage-fixtures.js';
import { AS_ROOT, testUnless } from './helpers/clients.js';

const pool = new HashPool({ threads: 2 });
test.after.always(() => pool.close());

test('leecher: creates folders and sparse files of the right sizes, zero-length ones too', async (t) => {
  const fx = multiFile();
  const dir = await tempDir(t);
  const store = new FileStore({ info: fx.info, contentPath: contentPathOf(dir, fx), create: true, logger: log });
  t.teardown(() => store.close());
  await store.open();
  for (const f of fx.info.files) {
    const st = await stat(path.join(dir, 'folder', ...f.path));
    t.is(st.size, f.length, f.path.join('/'));
  }
  t.is(store.createdFiles.size, fx.info.files.length);
  const d = await stat(path.join(dir, 'folder', 'd.bin'));
  t.true(d.blocks * 512 < d.size, 'sparse: no blocks written for 40000 bytes of zeros');
});

test('leecher: a larger existing file is never shrunk (it is not ours): StorageError naming it, data intact', async (t) => {
  const fx = singleFile();
  const dir = await tempDir(t);
  const root = await writeContent(dir, fx);
  const { appendFile, readFile } = await import('node:fs/promises');
  await appendFile(root, Buffer.alloc(1000, 9));
  const before = await readFile(root);
  const store = new FileStore({ info: fx.info, contentPath: root, create: true, logger: log });
  t.teardown(() => store.close());
  const err = await t.throwsAsync(store.open());
  t.regex(err!.message, /already exists with \d+ bytes, more than/);
  t.true((await readFile(root)).equals(before));
});

test('leecher: an existing file keeps its data; a shorter one is extended', async (t) => {
  const fx = singleFile();
  const dir = await tempDir(t);
  const root = await writeContent(dir, fx);
  await truncate(root, 20000);
  const store = new FileStore({ info: fx.info, contentPath: root, create: true, logger: log });
  t.teardown(() => store.close());
  await store.open();
  t.is((await stat(root)).size, fx.info.length);
  t.is(store.createdFiles.size, 0);
  t.true(Buffer.from(await store.readPiece(0)).equals(Buffer.from(pieceOf(fx, 0))));
  const have = await verifyPieces(store, fx.info, pool);
  t.deepEqual([...have.ones()], [0]);
});

test('seeder: a missing file is a StorageError naming it', async (t) => {
  const fx = multiFile();
  const dir = await tempDir(t);
  const root = await writeContent(dir, fx);
  const { rm } = await import('node:fs/promises');
  await rm(path.join(root, 'sub', 'b.bin'));
  const store = new FileStore({ info: fx.info, contentPath: root, create: false, logger: log });
  const err = await t.throwsAsync(store.open(), { instanceOf: StorageError });
  t.regex(err!.message, /missing file .*sub\/b\.bin/);
  await store.close();
});

test('seeder: a short file is a StorageError naming it and both sizes', async (t) => {
  const fx = multiFile();
  const dir = await tempDir(t);
  const root = await writeContent(dir, fx);
  await truncate(path.join(root, 'd.bin'), 39999);
  const store = new FileStore({ info: fx.info, contentPath: root, create: false, logger: log });
  const err = await t.throwsAsync(store.open(), { instanceOf: StorageError });
  t.regex(err!.message, /d\.bin has 39999 bytes, expected 40000/);
});

test('seeder: a missing content folder is a StorageError naming it', async (t) => {
  const fx = multiFile();
  const dir = await tempDir(t);
  const store = new FileStore({ info: fx.info, contentPath: path.join(dir, 'nowhere'), create: false, logger: log });
  await t.throwsAsync(store.open(), { instanceOf: StorageError, message: /nowhere/ });
});

testUnless(AS_ROOT, 'seeder: read-only files are served, and writes are refused with a StorageError', async (t) => {
  const fx = singleFile();
  const dir = await tempDir(t);
  const root = await writeContent(dir, fx);
  const { chmod } = await import('node:fs/promises');
  await chmod(root, 0o444);
  const store = new FileStore({ info: fx.info, contentPath: root, create: false, logger: log });
  t.teardown(() => store.close());
  await store.open();
  t.true(Buffer.from(await store.readPiece(2)).equals(Buffer.from(pieceOf(fx, 2))));
  await t.throwsAsync(store.writePiece(2, pieceOf(fx, 2)), { instanceOf: StorageError, message: /read-only/ });
});

test('refuses a symlinked folder inside the content folder that points outside it', async (t) => {
  const fx = multiFile();
  const dir = await tempDir(t);
  const outside = path.join(dir, 'outside');
  await mkdir(outside);
  const root = path.join(dir, 'folder');
  await mkdir(root);
  await symlink(outside, path.join(root, 'sub'));
  for (const create of [true, false]) {
    const store = new FileStore({ info: fx.info, contentPath: root, create, logger: log });
    const err = await t.throwsAsync(store.open(), { instanceOf: SymlinkRefusedError });
    t.is(err!.path, path.join(root, 'sub'));
    t.is(err!.target, outside);
    t.is(err!.exitCode, 2);
    t.regex(err!.message, new RegExp(`^refusing to ${create ? 'write' : 'read'} through a symlink: .*/folder/sub -> .*/outside: `));
  }
  t.deepEqual(await readdir(outside), [], 'nothing was created outside');
});

test('refuses a symlinked file inside the content folder that points outside it', async (t) => {
  const fx = multiFile();
  const dir = await tempDir(t);
  const root = await writeContent(dir, fx);
  const secret = path.join(dir, 'secret.txt');
  await writeFile(secret, 'x'.repeat(40000));
  const { rm } = await import('node:fs/promises');
  await rm(path.join(root, 'd.bin'));
  await symlink(secret, path.join(root, 'd.bin'));
  const store = new FileStore({ info: fx.info, contentPath: root, create: false, logger: log });
  await t.throwsAsync(store.open(), { instanceOf: SymlinkRefusedError, message: /read through a symlink: .*\/d\.bin -> .*secret\.txt: .*replace the link/ });
  t.is(await readFile(secret, 'utf8'), 'x'.repeat(40000));
});

test('a symlink that stays inside the content folder is refused too: only real folders and files are read or written', async (t) => {
  const fx = multiFile();
  const dir = await tempDir(t);
  const root = await writeContent(dir, fx);
  const { rename } = await import('node:fs/promises');
  await rename(path.join(root, 'sub'), path.join(root, 'real-sub'));
  await symlink(path.join(root, 'real-sub'), path.join(root, 'sub'));
  for (const create of [true, false]) {
    const store = new FileStore({ info: fx.info, contentPath: root, create, logger: log });
    await t.throwsAsync(store.open(), { instanceOf: SymlinkRefusedError, message: /folder\/sub -> / });
  }
});

test('the content path itself a symlink is refused (single-file and multi-file, leecher and seeder); the target is untouched', async (t) => {
  const dir = await tempDir(t);
  for (const fx of [singleFile(), multiFile()]) {
    const real = await writeContent(path.join(dir, 'real'), fx);
    const before = fx.info.multiFile ? await readdir(real) : await readFile(real);
    const link = path.join(dir, 'downloads', fx.info.name);
    await mkdir(path.dirname(link), { recursive: true });
    await symlink(real, link);
    for (const create of [true, false]) {
      const store = new FileStore({ info: fx.info, contentPath: link, create, logger: log });
      const err = await t.throwsAsync(store.open(), { instanceOf: SymlinkRefusedError });
      t.is(err!.path, link);
      if (!create) t.true(err!.message.includes(`--data ${real}`), err!.message);
    }
    t.deepEqual(fx.info.multiFile ? await readdir(real) : await readFile(real), before);
  }
});

test('the folder holding the content path may be a symlink (the user chose it)', async (t) => {
  const fx = multiFile();
  const dir = await tempDir(t);
  await mkdir(path.join(dir, 'real-out'));
  await symlink(path.join(dir, 'real-out'), path.join(dir, 'out'));
  const store = new FileStore({ info: fx.info, contentPath: path.join(dir, 'out', fx.info.name), create: true, logger: log });
  t.teardown(() => store.close());
  await store.open();
  await store.writePiece(0, pieceOf(fx, 0));
  await store.flush();
  t.is((await stat(path.join(dir, 'real-out', fx.info.name, 'a.bin'))).size, 20000);
});

test('links planted after open() are refused when a handle is opened: nothing is written or read through them', async (t) => {
  const fx = multiFile();
  const dir = await tempDir(t);
  const root = path.join(dir, 'folder');
  const store = new FileStore({ info: fx.info, contentPath: root, create: true, logger: log, maxOpenFiles: 1 });
  t.teardown(() => store.close());
  await store.open();
  const { rename } = await import('node:fs/promises');
  const outside = path.join(dir, 'outside');
  await mkdir(path.join(outside, 'deeper'), { recursive: true });
  const filler = Buffer.alloc(40000, 0x55);
  await writeFile(path.join(outside, 'd.bin'), filler);
  await writeFile(path.join(outside, 'b.bin'), filler.subarray(0, 3000));
  await rename(path.join(root, 'd.bin'), path.join(dir, 'd-moved.bin'));
  await symlink(path.join(outside, 'd.bin'), path.join(root, 'd.bin')); // the file itself
  await rename(path.join(root, 'sub'), path.join(dir, 'sub-moved'));
  await symlink(outside, path.join(root, 'sub')); // a folder above a file
  // Piece 1 spans a.bin, sub/b.bin and sub/deeper/c.bin; piece 3 lies in d.bin.
  await t.throwsAsync(store.writePiece(1, pieceOf(fx, 1)), { instanceOf: SymlinkRefusedError, message: /write through a symlink: .*folder\/sub -> / });
  await t.throwsAsync(store.writePiece(3, pieceOf(fx, 3)), { instanceOf: SymlinkRefusedError, message: /folder\/d\.bin -> / });
  await t.throwsAsync(store.readPiece(3), { instanceOf: SymlinkRefusedError });
  t.deepEqual(await readFile(path.join(outside, 'd.bin')), filler);
  t.deepEqual(await readFile(path.join(outside, 'b.bin')), filler.subarray(0, 3000));
});

test('a path component that escapes is refused (defence beside metainfo checks)', (t) => {
  const fx = multiFile();
  fx.info.files[1]!.path = ['..', 'escape.bin'];
  t.throws(() => new FileStore({ info: fx.info, contentPath: '/tmp/x', create: true, logger: log }), { instanceOf: StorageError, message: /unsafe path component/ });
});

async function fdsUnder(dir: string): Promise<number> {
  let n = 0;
  for (const fd of await readdir('/proc/self/fd').catch(() => [] as string[])) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target.startsWith(dir + path.sep)) n++;
  }
  return n;
}

test('100 files with maxOpenFiles 4: concurrent writes and reads are correct and never hold more than 4 handles', async (t) => {
  const files = Array.from({ length: 100 }, (_, i) => ({ path: [`f${String(i).padStart(3, '0')}.bin`], length: 3000 + i * 37 }));
  const fx = makeFixture({ files, pieceLength: 8192, seed: 3 });
  const dir = await tempDir(t);
  const store = new FileStore({ info: fx.info, contentPath: contentPathOf(dir, fx), create: true, maxOpenFiles: 4, logger: log });
  t.teardown(() => store.close());
  await store.open();
  let maxSeen = 0;
  let maxFds = 0;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      maxSeen = Math.max(maxSeen, store.openHandles);
      maxFds = Math.max(maxFds, await fdsUnder(dir));
      await new Promise((r) => setImmediate(r));
    }
  })();
  const order = Array.from({ length: fx.info.pieceCount }, (_, i) => (i * 31) % fx.info.pieceCount);
  await Promise.all(order.map((i) => store.writePiece(i, pieceOf(fx, i))));
  await store.flush();
  const reads = await Promise.all(order.map(async (i) => [i, await store.readPiece(i)] as const));
  sampling = false;
  await sampler;
  for (const [i, got] of reads) t.true(Buffer.from(got).equals(Buffer.from(pieceOf(fx, i))), `piece ${i}`);
  t.true(maxSeen <= 4, `store counted ${maxSeen} handles`);
  t.true(maxFds <= 4, `the process held ${maxFds} descriptors under the folder`);
  t.true((await verifyPieces(store, fx.info, pool)).isComplete());
  await store.close();
  t.is(await fdsUnder(dir), 0, 'close releases every handle');
  const onDisk = await readFile(path.join(dir, 'folder', 'f057.bin'));
  t.true(onDisk.equals(Buffer.from(fx.data.subarray(fx.info.files[57]!.offset, fx.info.files[57]!.offset + fx.info.files[57]!.length))));
});

test('data written and flushed is on disk after close and reopen', async (t) => {
  const fx = multiFile();
  const dir = await tempDir(t);
  const root = contentPathOf(dir, fx);
  const a = new FileStore({ info: fx.info, contentPath: root, create: true, logger: log });
  await a.open();
  for (let i = 0; i < fx.info.pieceCount; i++) await a.writePiece(i, pieceOf(fx, i));
  await a.flush();
  await a.close();
  const b = new FileStore({ info: fx.info, contentPath: root, create: false, logger: log });
  t.teardown(() => b.close());
  await b.open();
  t.true((await verifyPieces(b, fx.info, pool)).isComplete());
});

test('a file cut short under an open store reads as zeros past its end and fails verification', async (t) => {
  const fx = singleFile();
  const dir = await tempDir(t);
  const root = await writeContent(dir, fx);
  const store = new FileStore({ info: fx.info, contentPath: root, create: false, logger: log });
  t.teardown(() => store.close());
  await store.open();
  await truncate(root, 3 * 16384 + 100);
  const p3 = await store.readPiece(3);
  t.true(Buffer.from(p3.subarray(0, 100)).equals(Buffer.from(pieceOf(fx, 3).subarray(0, 100))));
  t.true(p3.subarray(100).every((b) => b === 0));
  // The scatter read of the same piece (how the seeder reads) also ends in zeros, not a hang or a throw.
  const views = [new Uint8Array(50).fill(9), new Uint8Array(100).fill(9), new Uint8Array(p3.length - 150).fill(9)];
  await store.readv(3 * 16384, views);
  t.true(Buffer.concat(views).equals(Buffer.from(p3)));
  const have = await verifyPieces(store, fx.info, pool);
  t.deepEqual([...have.ones()], [0, 1, 2]);
});

test('a file deleted under an open store: its pieces are not had, the others verify', async (t) => {
  const fx = multiFile();
  const dir = await tempDir(t);
  const root = await writeContent(dir, fx);
  const store = new FileStore({ info: fx.info, contentPath: root, create: false, maxOpenFiles: 1, logger: log });
  t.teardown(() => store.close());
  await store.open();
  const { rm } = await import('node:fs/promises');
  await rm(path.join(root, 'sub', 'b.bin'));
  await t.throwsAsync(store.readPiece(1), { instanceOf: StorageError, message: /sub\/b\.bin/ });
  const have = await verifyPieces(store, fx.info, pool);
  t.deepEqual([...have.ones()], [0, 2, 3, 4]);
});

test('verify: small data is hashed on this thread (no worker started), the pool path finds the same pieces', async (t) => {
  const fx = multiFile();
  const dir = await tempDir(t);
  const root = await writeContent(dir, fx);
  // Damage the first byte of d.bin (offset 32768, piece 2): both paths must leave exactly that piece out.
  const d = path.join(root, 'd.bin');
  const bytes = await readFile(d);
  bytes[0]! ^= 0xff;
  await writeFile(d, bytes);
  const store = new FileStore({ info: fx.info, contentPath: root, create: false, logger: log });
  t.teardown(() => store.close());
  await store.open();
  const fresh = new HashPool({ threads: 2 });
  t.teardown(() => fresh.close());
  const here = await verifyPieces(store, fx.info, fresh);
  t.is(fresh.workerCount, 0, 'no worker thread for a small torrent');
  const pooled = await verifyPieces(store, fx.info, fresh, { inlineHashBytes: 0 });
  t.true(fresh.workerCount > 0, 'inlineHashBytes 0 hashes in the pool');
  t.deepEqual([...here.ones()], [...pooled.ones()]);
  t.false(here.get(2), 'the damaged piece is not had');
  t.is(here.count(), fx.info.pieceCount - 1);
});
