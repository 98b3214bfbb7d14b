/**
 * Piece data is written on the main thread while such writes are quick, and
 * through the thread pool for a while after one was slow (WriteDispatch in
 * storage/fs-io.ts); the bytes on disk are the same either way.
 */
import test from 'ava';
import { openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { StorageError } from '../src/errors.js';
import { FileStore } from '../src/storage/file-store.js';
import { WriteDispatch } from '../src/storage/fs-io.js';
import { contentPathOf, log, makeFixture, pieceOf, tempDir } from './storage-fixtures.js';

/** A clock the test moves; each write "takes" `writeTakes` ms of it. */
function fakeClock(): { now: () => number; t: number; writeTakes: number } {
  const c = {
    t: 1000,
    writeTakes: 0,
    now: () => c.t,
  };
  return c;
}

/** A dispatch that counts the writes it makes on this thread and moves the fake clock by each one's duration. */
class CountingDispatch extends WriteDispatch {
  here = 0;
  readonly #clock: ReturnType<typeof fakeClock>;
  constructor(clock: ReturnType<typeof fakeClock>, slowMs: number, poolMs: number) {
    super({ slowMs, poolMs, now: () => clock.now() });
    this.#clock = clock;
  }
  override writeHere(p: string, fd: number, data: Uint8Array, offset: number, length: number, position: number): void {
    this.here++;
    // The clock moves while the write runs: the base class reads it before and after.
    const orig = this.#clock.now;
    let calls = 0;
    this.#clock.now = () => (calls++ === 0 ? this.#clock.t : (this.#clock.t += this.#clock.writeTakes));
    try {
      super.writeHere(p, fd, data, offset, length, position);
    } finally {
      this.#clock.now = orig;
    }
  }
}

test('writes run on this thread until one is slower than slowMs, then on the pool for poolMs, then here again', async (t) => {
  const dir = await tempDir(t);
  const p = path.join(dir, 'f.bin');
  writeFileSync(p, Buffer.alloc(64));
  const fd = openSync(p, 'r+');
  t.teardown(() => closeSync(fd));
  const clock = fakeClock();
  const d = new WriteDispatch({ slowMs: 20, poolMs: 30_000, now: () => clock.now() });
  t.true(d.inline, 'on this thread from the start');

  d.writeHere(p, fd, Buffer.from('abcd'), 0, 4, 0);
  t.true(d.inline, 'a quick write keeps writes here');

  // A write that takes 25 ms of the clock.
  let calls = 0;
  const slow = new WriteDispatch({ slowMs: 20, poolMs: 30_000, now: () => (calls++ === 0 ? clock.t : (clock.t += 25)) });
  slow.writeHere(p, fd, Buffer.from('wxyz'), 0, 4, 8);
  t.false(slow.inline, 'after a slow write: the pool');
  clock.t += 29_000;
  t.false(slow.inline, 'still the pool within poolMs');
  clock.t += 2_000;
  t.true(slow.inline, 'here again after poolMs');
  t.is(readFileSync(p).subarray(0, 12).toString('latin1'), 'abcd\0\0\0\0wxyz', 'both writes landed where asked');
});

test('slowMs 0: never on this thread', (t) => {
  t.false(new WriteDispatch({ slowMs: 0, poolMs: 1000 }).inline);
});

test('a write the system refuses is a StorageError naming the file', async (t) => {
  const dir = await tempDir(t);
  const p = path.join(dir, 'ro.bin');
  writeFileSync(p, Buffer.alloc(16));
  const fd = openSync(p, 'r'); // read-only: write(2) fails with EBADF
  t.teardown(() => closeSync(fd));
  const d = new WriteDispatch({ slowMs: 20, poolMs: 1000 });
  const err = t.throws(() => d.writeHere(p, fd, Buffer.from('x'), 0, 1, 0));
  t.true(err instanceof StorageError);
  t.regex(err!.message, new RegExp(`write ${p.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} failed: .*EBADF`));
  t.is((err!.cause as NodeJS.ErrnoException).code, 'EBADF', 'the system error stays reachable (disk-full handling reads its code)');
});

for (const mode of ['this thread', 'the pool', 'this thread, then the pool after a slow chunk'] as const) {
  test(`FileStore writes every piece whole through ${mode}`, async (t) => {
    const files = Array.from({ length: 5 }, (_, i) => ({ path: [`f${i}.bin`], length: 30_000 + i * 4_099 }));
    const fx = makeFixture({ files, pieceLength: 32 * 1024, seed: 7 });
    const dir = await tempDir(t);
    const clock = fakeClock();
    const writes = new CountingDispatch(clock, mode === 'the pool' ? 0 : 20, 60_000);
    // After the first chunk, every write "takes" 50 ms: the rest go to the pool.
    if (mode !== 'this thread') clock.writeTakes = 50;
    const store = new FileStore({ info: fx.info, contentPath: contentPathOf(dir, fx), create: true, logger: log, writeChunkBytes: 4096, writes });
    t.teardown(() => store.close());
    await store.open();
    const order = Array.from({ length: fx.info.pieceCount }, (_, i) => (i * 5) % fx.info.pieceCount);
    t.is(new Set(order).size, fx.info.pieceCount, 'every piece, out of order');
    await Promise.all(order.map((i) => store.writePiece(i, pieceOf(fx, i))));
    for (let i = 0; i < fx.info.pieceCount; i++) t.true(Buffer.from(await store.readPiece(i)).equals(Buffer.from(pieceOf(fx, i))), `piece ${i}`);
    for (const [k, f] of fx.info.files.entries()) {
      const onDisk = readFileSync(path.join(dir, 'folder', `f${k}.bin`));
      t.true(onDisk.equals(Buffer.from(fx.data.subarray(f.offset, f.offset + f.length))), `f${k}.bin`);
    }
    const chunks = fx.info.files.reduce((a, f) => a + Math.ceil(f.length / 4096), 0);
    if (mode === 'this thread') t.true(writes.here >= chunks, `${writes.here} chunk writes here, at least ${chunks} expected`);
    else if (mode === 'the pool') t.is(writes.here, 0);
    else t.is(writes.here, 1, 'one slow chunk here, the rest on the pool');
  });
}
