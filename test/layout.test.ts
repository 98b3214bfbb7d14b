import test from 'ava';
import { filesOfPiece, mapRange, pieceLengthAt, pieceRange, piecesOfFile } from '../src/metainfo/layout.js';
import { multiFile, singleFile } from './storage-fixtures.js';

test('mapRange: a range inside one file', (t) => {
  const { info } = multiFile();
  t.deepEqual(mapRange(info.files, 100, 50), [{ fileIndex: 1, fileOffset: 100, length: 50, rangeOffset: 0 }]);
});

test('mapRange: a piece spanning three files skips the zero-length one between them', (t) => {
  const { info } = multiFile();
  // piece 1 = bytes 16384..32768: the end of a.bin (20000), b.bin (3000), [empty-mid], c.bin (9768)
  t.deepEqual(mapRange(info.files, 16384, 16384), [
    { fileIndex: 1, fileOffset: 16384, length: 20000 - 16384, rangeOffset: 0 },
    { fileIndex: 2, fileOffset: 0, length: 3000, rangeOffset: 20000 - 16384 },
    { fileIndex: 4, fileOffset: 0, length: 9768, rangeOffset: 23000 - 16384 },
  ]);
});

test('mapRange: slices cover the range exactly, for every start and length on a grid', (t) => {
  const { info } = multiFile();
  for (let off = 0; off < info.length; off += 997) {
    for (const len of [0, 1, 999, 16384, 40000]) {
      if (off + len > info.length) continue;
      const slices = mapRange(info.files, off, len);
      let at = 0;
      for (const s of slices) {
        t.is(s.rangeOffset, at);
        t.true(s.length > 0);
        const f = info.files[s.fileIndex]!;
        t.is(f.offset + s.fileOffset, off + at);
        t.true(s.fileOffset + s.length <= f.length);
        at += s.length;
      }
      t.is(at, len);
    }
  }
});

test('mapRange: the last byte, the empty range at the end, and past the end', (t) => {
  const { info } = multiFile();
  t.deepEqual(mapRange(info.files, info.length - 1, 1), [{ fileIndex: 6, fileOffset: 0, length: 1, rangeOffset: 0 }]);
  t.deepEqual(mapRange(info.files, info.length, 0), []);
  t.throws(() => mapRange(info.files, info.length, 1), { instanceOf: RangeError, message: /past the end/ });
  t.throws(() => mapRange(info.files, info.length - 1, 2), { instanceOf: RangeError });
  t.throws(() => mapRange(info.files, -1, 1), { instanceOf: RangeError });
  t.throws(() => mapRange(info.files, 0.5, 1), { instanceOf: RangeError });
});

test('pieceLengthAt and pieceRange: full pieces and a short last one', (t) => {
  const { info } = singleFile();
  t.is(pieceLengthAt(info, 0), 16384);
  t.is(pieceLengthAt(info, 5), 1000);
  t.deepEqual(pieceRange(info, 5), { offset: 5 * 16384, length: 1000 });
  t.throws(() => pieceLengthAt(info, 6), { instanceOf: RangeError });
  t.throws(() => pieceRange(info, -1), { instanceOf: RangeError });
});

test('filesOfPiece and piecesOfFile agree with each other', (t) => {
  const { info } = multiFile();
  t.deepEqual(filesOfPiece(info, 0), [1]);
  t.deepEqual(filesOfPiece(info, 1), [1, 2, 4]);
  t.deepEqual(filesOfPiece(info, 4), [5, 6]);
  t.deepEqual(piecesOfFile(info, 1), { first: 0, last: 1 });
  t.deepEqual(piecesOfFile(info, 4), { first: 1, last: 1 }); // ends exactly on a piece boundary
  t.deepEqual(piecesOfFile(info, 5), { first: 2, last: 4 });
  const empty = piecesOfFile(info, 3);
  t.true(empty.last < empty.first);
  for (let f = 0; f < info.files.length; f++) {
    const { first, last } = piecesOfFile(info, f);
    for (let p = 0; p < info.pieceCount; p++) t.is(filesOfPiece(info, p).includes(f), p >= first && p <= last, `file ${f} piece ${p}`);
  }
  t.throws(() => piecesOfFile(info, 99), { instanceOf: RangeError });
});
