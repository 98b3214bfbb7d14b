/**
 * ServeCheck hashes a piece claimed by the resume state from the very
 * views it was read into (an upload image's payload slots), in slices that
 * let the event loop run: a good piece is admitted once, a bad one refused
 * for good, dropped from `have` and revoked from the resume state.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { ServeCheck, PieceRefusedError } from '../src/session/serve-check.js';
import { Bitfield } from '../src/util/bitfield.js';
import { silentLogger } from '../src/log.js';
import { torrentOfBytes } from './helpers/in-process.js';

const PIECE = 4 * 1024 * 1024; // several hash slices per piece
const BLOCK = 16 * 1024;

/** The piece cut into block-sized views, as an upload image lays it out. */
function blockViews(data: Uint8Array, index: number): Uint8Array[] {
  const piece = data.subarray(index * PIECE, (index + 1) * PIECE);
  const out: Uint8Array[] = [];
  for (let at = 0; at < piece.length; at += BLOCK) out.push(Uint8Array.from(piece.subarray(at, at + BLOCK)));
  return out;
}

function setup() {
  const data = randomBytes(2 * PIECE + 5000); // a short last piece
  const { info } = torrentOfBytes(data, PIECE);
  const have = Bitfield.full(info.pieceCount);
  const revoked: number[] = [];
  const check = new ServeCheck({
    info,
    have,
    completion: { claimed: Bitfield.full(info.pieceCount), revoke: async (pieces: number[]) => void revoked.push(...pieces) },
    logger: silentLogger,
  });
  return { data, have, revoked, check };
}

test('pieces claimed by the resume state are admitted when their views hash right, the short last piece too', async (t) => {
  const { data, check, have } = setup();
  for (const index of [0, 1, 2]) await t.notThrowsAsync(check.admit(index, blockViews(data, index)));
  t.is(check.badPieces, 0);
  t.is(have.count(), 3);
});

test('a claimed piece whose bytes changed is refused, now and later, and dropped from have and the resume state', async (t) => {
  const { data, check, have, revoked } = setup();
  const views = blockViews(data, 1);
  views[100]![7]! ^= 1; // one bit past the first hash slice
  await t.throwsAsync(check.admit(1, views), { instanceOf: PieceRefusedError });
  t.true(check.refuses(1));
  t.false(have.get(1));
  t.deepEqual(revoked, [1]);
  // Even right bytes are not served any more in this run.
  await t.throwsAsync(check.admit(1, blockViews(data, 1)), { instanceOf: PieceRefusedError });
  t.is(check.badPieces, 1);
});

test('the event loop gets turns while a piece is hashed (one per hash slice)', async (t) => {
  const { data, check } = setup();
  let turns = 0;
  let done = false;
  const tick = (): void => {
    if (done) return;
    turns++;
    setImmediate(tick);
  };
  setImmediate(tick);
  await check.admit(0, blockViews(data, 0));
  done = true;
  t.true(turns >= 2, `${turns} turns while hashing a 4 MiB piece`);
});
