/**
 * Piece priorities in the picker (issue 14): pieces at 0 are never asked
 * for, a higher level is served before a lower one, ordered levels
 * (sequential window, streaming) go in index order, and completion and
 * endgame count only wanted pieces.
 */
import test from 'ava';
import { PiecePicker, PRIORITY } from '../src/picker/piece-picker.js';
import { Bitfield } from '../src/util/bitfield.js';

const K = 16 * 1024;
function make(pieceCount: number, have = new Bitfield(pieceCount)): PiecePicker {
  let seed = 7;
  const random = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  return new PiecePicker({ pieceCount, pieceLength: 2 * K, totalLength: pieceCount * 2 * K, blockBytes: K, have, random });
}
const bitsOf = (flags: boolean[]): Bitfield => {
  const b = new Bitfield(flags.length);
  flags.forEach((f, i) => f && b.set(i));
  return b;
};
const pieces = (reqs: { index: number }[]): number[] => [...new Set(reqs.map((r) => r.index))];

test('a piece at priority 0 is never requested, even when it is the rarest', (t) => {
  const p = make(4);
  const all = Bitfield.full(4);
  p.peerBitfield(all);
  p.peerBitfield(bitsOf([true, true, true, false]));
  // Piece 3 is the rarest (1 peer); skip it.
  p.setPriority(3, PRIORITY.skip);
  const got = pieces(p.pick(1, all, 100));
  t.false(got.includes(3));
  t.deepEqual(got.sort(), [0, 1, 2]);
  t.false(pieces(p.pick(2, all, 100)).includes(3), 'not in the endgame either');
});

test('wanted completion and endgame ignore skipped pieces', (t) => {
  const p = make(3);
  const all = Bitfield.full(3);
  p.peerBitfield(all);
  p.setPriority(2, PRIORITY.skip);
  t.false(p.wantedComplete());
  t.is(p.wantedBytesLeft(), 4 * K);
  const reqs = p.pick(1, all, 100);
  t.true(p.endgame, 'every wanted block is requested');
  for (const r of reqs) p.blockReceived(1, r);
  p.pieceVerified(0);
  p.pieceVerified(1);
  t.true(p.wantedComplete());
  t.false(p.isComplete(), 'the skipped piece is still missing');
  t.false(p.wants(2));
  p.setPriority(2, PRIORITY.normal);
  t.false(p.wantedComplete(), 'wanting it again reopens the download');
  t.deepEqual(pieces(p.pick(1, all, 100)), [2]);
});

test('a higher level is picked before a lower one, and ordered levels go in index order', (t) => {
  const n = 20;
  const p = make(n);
  const all = Bitfield.full(n);
  p.peerBitfield(all);
  for (const i of [15, 12, 17]) p.setPriority(i, PRIORITY.window);
  p.setPriority(5, PRIORITY.high);
  // One piece (2 blocks) at a time: window pieces in index order, then the high one, then the rest.
  const order: number[] = [];
  for (let k = 0; k < 5; k++) {
    const reqs = p.pick(1, all, 2);
    order.push(...pieces(reqs));
    for (const r of reqs) p.blockReceived(1, r);
    for (const i of pieces(reqs)) p.pieceVerified(i);
  }
  t.deepEqual(order.slice(0, 4), [12, 15, 17, 5]);
  t.false([12, 15, 17, 5].includes(order[4]!));
});

test('urgent pieces come before a started normal piece and are taken from a seed even when capped', (t) => {
  const p = make(10);
  const all = Bitfield.full(10);
  p.peerBitfield(all);
  p.peerBitfield(all);
  const first = p.pick(1, all, 1); // starts a normal piece, one of its two blocks
  p.setPriority(9, PRIORITY.urgent);
  // maxAvailability 1 would refuse every piece here (each is on 2 peers); urgent ignores the cap.
  const next = p.pick(2, all, 2, { maxAvailability: 1 });
  t.deepEqual(pieces(next), [9]);
  t.not(first[0]!.index, 9);
});

test('setPriority refuses levels outside 0..4', (t) => {
  const p = make(2);
  t.throws(() => p.setPriority(0, 5), { instanceOf: RangeError });
  t.throws(() => p.setPriority(0, -1), { instanceOf: RangeError });
  t.throws(() => p.setPriority(0, 1.5), { instanceOf: RangeError });
});

test('interest: isInteresting counts only wanted pieces', (t) => {
  const p = make(4, bitsOf([true, true, false, false]));
  const peer = bitsOf([false, false, false, true]);
  t.true(p.isInteresting(peer));
  p.setPriority(3, PRIORITY.skip);
  t.false(p.isInteresting(peer));
});
