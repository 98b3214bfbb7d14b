/** hashFilesOnCores (make-torrent's hashing): the reference pieces whatever the threads and chunking, and its refusals. */
import test from 'ava';
import { truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StorageError } from '../src/errors.js';
import { hashFilesOnCores, helperThreadsFor, isHashingAhead, startHashingAhead, stopPrestartedHashThreads } from '../src/storage/hash-on-cores.js';
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

/** A few files big enough for a helper thread (more than one 64 KiB chunk) and their reference pieces. */
async function aheadFixture(dir: string): Promise<{ files: { absPath: string; length: number }[]; datas: Uint8Array[] }> {
  const datas = [pseudoRandom(150_000, 31), pseudoRandom(5, 32), pseudoRandom(99_999, 33)];
  const files = await Promise.all(datas.map(async (d, i) => {
    const absPath = join(dir, `a${i}`);
    await writeFile(absPath, d);
    return { absPath, length: d.length };
  }));
  return { files, datas };
}

test.serial('a job started ahead is joined by the call for the same files and piece length', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  const { files, datas } = await aheadFixture(dir);
  const opts = { threads: 2, chunkBytes: 4 * PL };
  startHashingAhead(files.map((f) => ({ ...f })), PL, opts);
  t.true(isHashingAhead());
  const seen: number[] = [];
  const pieces = await hashFilesOnCores(files, PL, { ...opts, onProgress: (d) => seen.push(d) });
  t.false(isHashingAhead());
  t.deepEqual(Buffer.from(pieces), Buffer.from(referencePieces(Buffer.concat(datas), PL)));
  t.is(seen.at(-1), 250_004);
});

test.serial('a job started ahead for other work is stopped, and the call hashes afresh', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  const { files, datas } = await aheadFixture(dir);
  const opts = { threads: 2, chunkBytes: 4 * PL };
  // Another piece length, then other files: neither may leak into the answer.
  startHashingAhead(files, 2 * PL, opts);
  t.deepEqual(Buffer.from(await hashFilesOnCores(files, PL, opts)), Buffer.from(referencePieces(Buffer.concat(datas), PL)));
  startHashingAhead(files.slice(1), PL, opts);
  t.deepEqual(Buffer.from(await hashFilesOnCores(files, PL, opts)), Buffer.from(referencePieces(Buffer.concat(datas), PL)));
  t.false(isHashingAhead());
});

test.serial('a job started ahead that failed (a file changed size) is not joined: the call reads the files as they are', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  const { files, datas } = await aheadFixture(dir);
  const opts = { threads: 2, chunkBytes: PL };
  startHashingAhead(files.map((f) => (f.length === 5 ? { ...f, length: 6 } : f)), PL, opts);
  // Its helper fails on a1.
  while (isHashingAhead()) await new Promise((resolve) => setTimeout(resolve, 10));
  t.deepEqual(Buffer.from(await hashFilesOnCores(files, PL, opts)), Buffer.from(referencePieces(Buffer.concat(datas), PL)));
  await t.throwsAsync(hashFilesOnCores(files.map((f) => (f.length === 5 ? { ...f, length: 6 } : f)), PL, opts), { instanceOf: StorageError, message: /a1 changed size/ });
});

test.serial('stopPrestartedHashThreads stops a job started ahead; one needing no helper starts nothing', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  const { files } = await aheadFixture(dir);
  startHashingAhead(files, PL, { threads: 2, chunkBytes: PL });
  t.true(isHashingAhead());
  stopPrestartedHashThreads();
  stopPrestartedHashThreads();
  t.false(isHashingAhead());
  startHashingAhead(files, PL, { threads: 1 });
  t.false(isHashingAhead());
  startHashingAhead(files, PL, { threads: 2, chunkBytes: 1 << 20 });
  t.false(isHashingAhead(), 'one chunk: the calling thread alone');
  t.is(helperThreadsFor(250_004, PL, { threads: 2, chunkBytes: 1 << 20 }), 0);
  t.is(helperThreadsFor(250_004, PL, { threads: 3, chunkBytes: PL }), 2);
});

test.serial('thisThreadToo: the calling thread hashes between turns of its loop until the call joins, or until stopped', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  const { files, datas } = await aheadFixture(dir);
  const opts = { threads: 2, chunkBytes: PL };
  startHashingAhead(files, PL, { ...opts, thisThreadToo: true });
  // A few turns go by, as while the CLI starts up.
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  t.deepEqual(Buffer.from(await hashFilesOnCores(files, PL, opts)), Buffer.from(referencePieces(Buffer.concat(datas), PL)));
  startHashingAhead(files, PL, { ...opts, thisThreadToo: true });
  stopPrestartedHashThreads();
  t.false(isHashingAhead());
  // A file that changed size fails the turn on this thread: the call then starts afresh and reports it.
  startHashingAhead([files[0]!, { ...files[1]!, length: 6 }], PL, { ...opts, thisThreadToo: true });
  await t.throwsAsync(hashFilesOnCores([files[0]!, { ...files[1]!, length: 6 }], PL, opts), { instanceOf: StorageError, message: /a1 changed size/ });
});
