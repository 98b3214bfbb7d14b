/** hashFilesOnCores (make-torrent's hashing): the reference pieces whatever the threads and chunking, and its refusals. */
import test from 'ava';
import { truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StorageError } from '../src/errors.js';
import { hashFilesOnCores } from '../src/storage/hash-on-cores.js';
import { pseudoRandom, referencePieces, tempDir } from './fixtures/metainfo-cli.js';

const PL = 16384;

test('several files, chunks that straddle them and a short last piece give the reference pieces on 1 to 3 threads', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  const sizes = [1, 70000, 0, 33333, 16384, 5, 200000];
  const datas = sizes.map((n, i) => pseudoRandom(n, i + 21));
  const files = await Promise.all(datas.map(async (d, i) => {
    const absPath = join(dir, `f${i}`);
    await writeFile(absPath, d);
    return { absPath, length: d.length };
  }));
  const want = Buffer.from(referencePieces(Buffer.concat(datas), PL));
  const total = Buffer.concat(datas).length;
  for (const threads of [1, 2, 3]) {
    for (const chunkBytes of [PL, 3 * PL, 1 << 20]) {
      const seen: number[] = [];
      const pieces = await hashFilesOnCores(files, PL, { threads, chunkBytes, onProgress: (d) => seen.push(d) });
      t.deepEqual(Buffer.from(pieces), want, `threads ${threads}, chunk ${chunkBytes}`);
      t.is(seen.at(-1), total);
    }
  }
});

test('stops on an aborted signal', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  await writeFile(join(dir, 'x'), pseudoRandom(100000));
  const ac = new AbortController();
  ac.abort(new Error('stop now'));
  await t.throwsAsync(hashFilesOnCores([{ absPath: join(dir, 'x'), length: 100000 }], PL, { signal: ac.signal, threads: 2 }), { message: 'stop now' });
});

test('refuses a file whose size changed since it was listed, and one that is gone, on any thread', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  await writeFile(join(dir, 'a'), pseudoRandom(50000));
  await writeFile(join(dir, 'x'), pseudoRandom(50000));
  await truncate(join(dir, 'x'), 20000);
  const files = [{ absPath: join(dir, 'a'), length: 50000 }, { absPath: join(dir, 'x'), length: 50000 }];
  for (const threads of [1, 3]) {
    await t.throwsAsync(hashFilesOnCores(files, PL, { threads, chunkBytes: PL }), { instanceOf: StorageError, message: /x changed size/ });
  }
  await t.throwsAsync(hashFilesOnCores([{ absPath: join(dir, 'gone'), length: 5 }], PL, { threads: 2 }), { instanceOf: StorageError, message: /cannot open .*gone/ });
});
