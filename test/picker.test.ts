import test from 'ava';
import { PiecePicker } from '../src/picker/piece-picker.js';
import { Choker } from '../src/picker/choker.js';
import { Bitfield } from '../src/util/bitfield.js';

const K = 16 * 1024;
function make(pieceCount: number, pieceLength = 4 * K, totalLength = pieceCount * pieceLength, have = new Bitfield(pieceCount)) {
  let seed = 1;
  const random = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  return new PiecePicker({ pieceCount, pieceLength, totalLength, blockBytes: K, have, random });
}
const bits = (n: number, ones: number[]): Bitfield => {
  const b = new Bitfield(n);
  for (const i of ones) b.set(i);
  return b;
};

test('picks the rarest piece first', (t) => {
  const p = make(4);
  p.peerBitfield(bits(4, [0, 1, 2, 3]));
  p.peerBitfield(bits(4, [0, 1, 3]));
  p.peerBitfield(bits(4, [0, 3]));
  // availability: 0:3 1:2 2:1 3:3 -> piece 2 is rarest
  const reqs = p.pick(1, Bitfield.full(4), 1);
  t.deepEqual(reqs, [{ index: 2, begin: 0, length: K }]);
});

test('finishes a started piece before starting another', (t) => {
  const p = make(4);
  const all = Bitfield.full(4);
  p.peerBitfield(all);
  const first = p.pick(1, all, 2);
  t.is(new Set(first.map((r) => r.index)).size, 1);
  const next = p.pick(2, all, 2);
  t.is(next[0]!.index, first[0]!.index, 'second peer continues the started piece');
  t.deepEqual(next.map((r) => r.begin), [2 * K, 3 * K]);
});

test('never hands the same block to two peers outside endgame, and the last block is short', (t) => {
  const p = make(3, 2 * K, 5 * K); // last piece is 1 KiB... 5K-4K = 1 block of 1 KiB
  const all = Bitfield.full(3);
  const seen = new Set<string>();
  for (const [peer, max] of [[1, 2], [2, 2], [3, 1]] as const) {
    for (const r of p.pick(peer, all, max)) {
      const key = `${r.index}:${r.begin}`;
      t.false(seen.has(key));
      seen.add(key);
      if (r.index === 2) t.is(r.length, K);
    }
  }
  t.is(seen.size, 5);
});

test('a received block completes its piece; unrequested blocks are not accepted', (t) => {
  const p = make(1, 2 * K, 2 * K);
  const all = Bitfield.full(1);
  const [a, b] = p.pick(7, all, 2);
  t.false(p.blockReceived(8, a!).accepted, 'a peer that was not asked');
  t.deepEqual(p.blockReceived(7, a!), { accepted: true, pieceComplete: false, cancelAt: [] });
  t.deepEqual(p.blockReceived(7, b!), { accepted: true, pieceComplete: true, cancelAt: [] });
  t.false(p.blockReceived(7, b!).accepted, 'a duplicate');
  p.pieceVerified(0);
  t.true(p.isComplete());
});

test('endgame duplicates outstanding blocks and says whom to cancel', (t) => {
  const p = make(1, 2 * K, 2 * K);
  const all = Bitfield.full(1);
  const reqs = p.pick(1, all, 10);
  t.is(reqs.length, 2);
  t.true(p.endgame);
  const dup = p.pick(2, all, 10);
  t.deepEqual(dup, reqs, 'peer 2 gets the same blocks');
  const r = p.blockReceived(2, reqs[0]!);
  t.true(r.accepted);
  t.deepEqual(r.cancelAt, [1]);
  t.is(p.outstanding(1), 1);
});

test('a failed piece and a departed peer release their blocks', (t) => {
  const p = make(2, 2 * K, 4 * K);
  const all = Bitfield.full(2);
  p.peerBitfield(all);
  const reqs = p.pick(1, all, 4);
  t.is(reqs.length, 4);
  p.peerGone(1, all);
  t.is(p.outstanding(1), 0);
  t.is(p.pick(2, all, 4).length, 4, 'all four blocks are free again');
  for (const r of p.pick(2, all, 0)) t.fail(String(r));
  const again = make(1, K, K);
  const [only] = again.pick(3, Bitfield.full(1), 1);
  t.true(again.blockReceived(3, only!).pieceComplete);
  again.pieceFailed(0);
  t.deepEqual(again.pick(4, Bitfield.full(1), 1), [only], 'the failed piece is fetched again');
});

test('interest: a peer is interesting only when it has a piece we lack', (t) => {
  const p = make(3, K, 3 * K, bits(3, [0, 1]));
  t.false(p.isInteresting(bits(3, [0, 1])));
  t.true(p.isInteresting(bits(3, [2])));
  t.deepEqual(p.pick(1, bits(3, [0, 1]), 5), [], 'nothing to ask of a peer with only what we have');
});

test('choker unchokes the best uploaders plus one optimistic peer', (t) => {
  const c = new Choker({ slots: 2, optimisticEveryRounds: 3, random: () => 0.5 });
  const peers = [1, 2, 3, 4, 5].map((id) => ({ id, interested: id !== 5, downloadRate: id * 100, uploadRate: 0, isSeed: false }));
  const set = c.round(peers, false);
  t.true(set.has(4) && set.has(3), 'the two fastest');
  t.is(set.size, 3, 'plus one optimistic');
  t.false(set.has(5), 'never a peer that is not interested');
  t.false(c.tryUnchokeNow(9), 'no free slot');
  c.remove(4);
  t.true(c.tryUnchokeNow(9));
});

test('choker while seeding ranks by upload rate and skips seeds', (t) => {
  const c = new Choker({ slots: 1, optimisticEveryRounds: 3, random: () => 0 });
  const set = c.round(
    [
      { id: 1, interested: true, downloadRate: 999, uploadRate: 1, isSeed: false },
      { id: 2, interested: true, downloadRate: 0, uploadRate: 50, isSeed: false },
      { id: 3, interested: true, downloadRate: 0, uploadRate: 500, isSeed: true },
    ],
    true,
  );
  t.true(set.has(2));
  t.false(set.has(3));
});
