/**
 * The one PieceStore compliance suite (STYLE.md habit 4), run against every
 * implementation: FileStore and MemoryStore must be interchangeable.
 */
import test from 'ava';
import { StorageError } from '../src/errors.js';
import { isOnDisk, mapRange } from '../src/metainfo/layout.js';
import { FileStore } from '../src/storage/file-store.js';
import { MemoryStore } from '../src/storage/memory-store.js';
import type { PieceStore } from '../src/storage/piece-store.js';
import { verifyPieces } from '../src/storage/verify.js';
import { sha1 } from '../src/util/hash.js';
import { HashPool } from '../src/util/hash-pool.js';
import { contentPathOf, log, multiFile, paddedFile, pieceOf, singleFile, tempDir, writeContent, type Fixture } from './storage-fixtures.js';
import type { ExecutionContext } from 'ava';

/** Makes an opened store of `fx`: empty (a leecher's) or holding `fx.data` (a seeder's). */
type Factory = (t: ExecutionContext, fx: Fixture, prefilled: boolean) => Promise<PieceStore>;

const pool = new HashPool({ threads: 2 });
test.after.always(() => pool.close());

const IMPLEMENTATIONS: [string, Factory][] = [
  [
    'FileStore',
    async (t, fx, prefilled) => {
      const dir = await tempDir(t);
      if (prefilled) await writeContent(dir, fx);
      const store = new FileStore({ info: fx.info, contentPath: contentPathOf(dir, fx), create: !prefilled, logger: log, maxOpenFiles: 3 });
      t.teardown(() => store.close());
      await store.open();
      return store;
    },
  ],
  [
    'MemoryStore',
    async (t, fx, prefilled) => {
      const store = new MemoryStore({ info: fx.info, data: prefilled ? fx.data : undefined });
      t.teardown(() => store.close());
      await store.open();
      return store;
    },
  ],
];

const FIXTURES: [string, () => Fixture][] = [
  ['single file', singleFile],
  ['multi-file', multiFile],
  ['padded (BEP 47)', paddedFile],
];

async function readAll(store: PieceStore): Promise<Uint8Array> {
  const out = new Uint8Array(store.info.length);
  for (let i = 0; i < store.info.pieceCount; i++) out.set(await store.readPiece(i), i * store.info.pieceLength);
  return out;
}

function shuffled(n: number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = (i * 7919 + 13) % (i + 1);
    [a[i], a[j]] = [a[j]!, a[i]!];
  }
  return a;
}

for (const [impl, make] of IMPLEMENTATIONS) {
  for (const [shape, fixture] of FIXTURES) {
    test(`${impl} ${shape}: pieces written in any order, concurrently, read back byte-equal (short last piece, NUL bytes)`, async (t) => {
      const fx = fixture();
      const store = await make(t, fx, false);
      await Promise.all(shuffled(fx.info.pieceCount).map((i) => store.writePiece(i, pieceOf(fx, i))));
      await store.flush();
      const back = await readAll(store);
      t.true(Buffer.from(back).equals(Buffer.from(fx.data)));
      t.true(fx.data.includes(0));
      const last = await store.readPiece(fx.info.pieceCount - 1);
      t.true(last.length < fx.info.pieceLength);
    });

    test(`${impl} ${shape}: block reads at every 1000-byte offset match the data`, async (t) => {
      const fx = fixture();
      const store = await make(t, fx, true);
      for (let i = 0; i < fx.info.pieceCount; i++) {
        const size = pieceOf(fx, i).length;
        for (let begin = 0; begin < size; begin += 1000) {
          const length = Math.min(1777, size - begin);
          const got = await store.read(i, begin, length);
          const at = i * fx.info.pieceLength + begin;
          t.true(Buffer.from(got).equals(Buffer.from(fx.data.subarray(at, at + length))), `piece ${i} begin ${begin}`);
        }
      }
      t.is((await store.read(0, 5, 0)).length, 0);
    });

    test(`${impl} ${shape}: readRange crosses pieces and files, into a fresh or a given buffer`, async (t) => {
      const fx = fixture();
      const store = await make(t, fx, true);
      t.truthy(store.readRange);
      const all = await store.readRange!(0, fx.info.length);
      t.true(Buffer.from(all).equals(Buffer.from(fx.data)));
      t.is(all.buffer.byteLength, all.byteLength, 'a fresh buffer owns its memory (transferable)');
      const into = new Uint8Array(30000).fill(0xaa);
      const mid = await store.readRange!(10000, 25000, into);
      t.is(mid.buffer, into.buffer);
      t.true(Buffer.from(mid).equals(Buffer.from(fx.data.subarray(10000, 35000))));
      t.is(into[25000], 0xaa, 'nothing written past the range');
      await t.throwsAsync(store.readRange!(fx.info.length - 1, 2), { instanceOf: RangeError });
      await t.throwsAsync(store.readRange!(0, 100, new Uint8Array(99)), { instanceOf: RangeError });
    });

    test(`${impl} ${shape}: readv scatters a range across pieces and files into many views of odd sizes`, async (t) => {
      const fx = fixture();
      const store = await make(t, fx, true);
      t.truthy(store.readv);
      // Views of 1 to 7000 bytes, some empty, with guard bytes between them in one backing buffer.
      const backing = new Uint8Array(fx.info.length * 2).fill(0xaa);
      const views: Uint8Array[] = [];
      let at = 0;
      let total = 0;
      for (let i = 0; total < fx.info.length - 123; i++) {
        const n = Math.min(i % 5 === 4 ? 0 : 1 + ((i * 2654435761) % 7000), fx.info.length - 123 - total);
        views.push(backing.subarray(at, at + n));
        at += n + 3;
        total += n;
      }
      await store.readv!(123, views);
      t.true(Buffer.concat(views).equals(Buffer.from(fx.data.subarray(123))));
      let guards = 0;
      at = 0;
      for (const v of views) {
        at += v.length;
        for (let g = 0; g < 3; g++) if (backing[at + g] !== 0xaa) guards++;
        at += 3;
      }
      t.is(guards, 0, 'nothing written between the views');
      await t.throwsAsync(store.readv!(fx.info.length - 1, [new Uint8Array(2)]), { instanceOf: RangeError });
    });

    test(`${impl} ${shape}: a prefilled store reads the data; verifyPieces finds every piece`, async (t) => {
      const fx = fixture();
      const store = await make(t, fx, true);
      t.true(Buffer.from(await readAll(store)).equals(Buffer.from(fx.data)));
      const have = await verifyPieces(store, fx.info, pool);
      t.true(have.isComplete());
    });

    test(`${impl} ${shape}: never-written regions read as zeros and fail verification; written ones pass`, async (t) => {
      const fx = fixture();
      const store = await make(t, fx, false);
      const zeros = await store.readPiece(1);
      t.true(zeros.every((b) => b === 0));
      await store.writePiece(1, pieceOf(fx, 1));
      await store.writePiece(fx.info.pieceCount - 1, pieceOf(fx, fx.info.pieceCount - 1));
      const progress: number[] = [];
      const have = await verifyPieces(store, fx.info, pool, { onProgress: (d) => progress.push(d) });
      t.deepEqual([...have.ones()], [1, fx.info.pieceCount - 1]);
      t.is(progress[progress.length - 1], fx.info.pieceCount);
      const some = await verifyPieces(store, fx.info, pool, { pieces: [0, 1] });
      t.deepEqual([...some.ones()], [1]);
    });

    test(`${impl} ${shape}: a piece overwritten with bad data fails verification`, async (t) => {
      const fx = fixture();
      const store = await make(t, fx, true);
      const bad = pieceOf(fx, 1);
      bad[bad.length - 1]! ^= 1;
      await store.writePiece(1, bad);
      const have = await verifyPieces(store, fx.info, pool);
      t.false(have.get(1));
      t.is(have.count(), fx.info.pieceCount - 1);
    });

    test(`${impl} ${shape}: misuse rejects with RangeError`, async (t) => {
      const fx = fixture();
      const store = await make(t, fx, false);
      const last = fx.info.pieceCount - 1;
      await t.throwsAsync(store.read(fx.info.pieceCount, 0, 1), { instanceOf: RangeError });
      await t.throwsAsync(store.read(-1, 0, 1), { instanceOf: RangeError });
      await t.throwsAsync(store.read(last, 0, fx.info.pieceLength), { instanceOf: RangeError }); // the last piece is short
      await t.throwsAsync(store.read(0, fx.info.pieceLength - 1, 2), { instanceOf: RangeError });
      await t.throwsAsync(store.writePiece(0, new Uint8Array(10)), { instanceOf: RangeError });
      await t.throwsAsync(store.writePiece(last, new Uint8Array(fx.info.pieceLength)), { instanceOf: RangeError });
      await t.throwsAsync(store.readPiece(fx.info.pieceCount), { instanceOf: RangeError });
    });

    test(`${impl} ${shape}: lifecycle: open and close are idempotent, use after close is a StorageError`, async (t) => {
      const fx = fixture();
      const store = await make(t, fx, true);
      await store.open();
      await store.close();
      await store.close();
      await t.throwsAsync(store.readPiece(0), { instanceOf: StorageError });
      await t.throwsAsync(store.writePiece(0, pieceOf(fx, 0)), { instanceOf: StorageError });
      await t.throwsAsync(store.open(), { instanceOf: StorageError });
    });

    if (fixture === paddedFile) {
      test(`${impl} ${shape}: pad bytes are discarded on write and read as zeros; a piece with other bytes there fails its hash`, async (t) => {
        const fx = fixture();
        const store = await make(t, fx, false);
        // Piece 0 is a.bin's 10000 bytes, then 6384 bytes of padding.
        const piece = pieceOf(fx, 0);
        const dirty = piece.slice();
        dirty.fill(0xee, 10000);
        t.notDeepEqual(sha1(dirty), fx.info.pieces.subarray(0, 20), 'the hash covers the zeros: such a piece is refused before it is written');
        await store.writePiece(0, dirty);
        const back = await store.readPiece(0);
        t.true(Buffer.from(back.subarray(0, 10000)).equals(Buffer.from(piece.subarray(0, 10000))), 'the real bytes are kept');
        t.true(back.subarray(10000).every((b) => b === 0), 'the pad range reads as zeros');
        t.true((await store.read(0, 9990, 100)).subarray(10).every((b) => b === 0));
        const scattered = [new Uint8Array(9000).fill(1), new Uint8Array(3000).fill(1), new Uint8Array(4384).fill(1)];
        await store.readv!(0, scattered);
        t.true(Buffer.concat(scattered).equals(Buffer.from(back)));
        t.deepEqual([...(await verifyPieces(store, fx.info, pool, { pieces: [0] })).ones()], [0]);
      });
    }

    test(`${impl} ${shape}: fingerprint lists the non-empty files (pad files are none) and changes for a file that is written`, async (t) => {
      const fx = fixture();
      const store = await make(t, fx, false);
      const nonEmpty = fx.info.files.filter((f) => f.length > 0 && isOnDisk(f));
      const before = await store.fingerprint();
      t.is(before.length, nonEmpty.length);
      t.deepEqual(
        before.map((f) => f.size),
        nonEmpty.map((f) => f.length),
      );
      // Let a coarse mtime clock tick so a FileStore's write is visible.
      await new Promise((r) => setTimeout(r, 20));
      const last = fx.info.pieceCount - 1;
      await store.writePiece(last, pieceOf(fx, last));
      await store.flush();
      const after = await store.fingerprint();
      const touched = new Set(mapRange(fx.info.files, last * fx.info.pieceLength, pieceOf(fx, last).length).map((s) => s.fileIndex));
      nonEmpty.forEach((f, k) => {
        const i = fx.info.files.indexOf(f);
        if (touched.has(i)) t.not(after[k]!.mtimeMs, before[k]!.mtimeMs, `file ${i} was written`);
        else t.is(after[k]!.mtimeMs, before[k]!.mtimeMs, `file ${i} was not written`);
      });
    });
  }
}
