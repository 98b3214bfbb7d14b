import test from 'ava';
import { SmartBan } from '../src/session/smart-ban.js';

const BB = 4;
/** A piece of `blocks` blocks, block b filled with the byte `fill(b)`. */
function piece(blocks: number, fill: (b: number) => number): Uint8Array {
  const data = new Uint8Array(blocks * BB);
  for (let b = 0; b < blocks; b++) data.fill(fill(b), b * BB, (b + 1) * BB);
  return data;
}
const good = piece(3, (b) => b);

test('a sole sender of a bad piece is struck at once and banned at the limit', (t) => {
  const sb = new SmartBan({ blockBytes: BB, banAfterFailures: 2 });
  const bad = piece(3, () => 9);
  t.deepEqual(sb.pieceFailed(0, bad, ['a', 'a', 'a']), []);
  t.false(sb.isBanned('a'));
  t.deepEqual(sb.pieceFailed(1, bad, ['a', 'a', 'a']), [{ host: 'a', reason: 'sent piece 1 that failed its hash', strikes: 2 }]);
  t.true(sb.isBanned('a'));
  // Banned once: further strikes ban no one again.
  t.deepEqual(sb.pieceFailed(2, bad, ['a', 'a', 'a']), []);
});

test('with several senders only those whose blocks differ from the good data are struck, once the piece passes', (t) => {
  const sb = new SmartBan({ blockBytes: BB, banAfterFailures: 1 });
  const bad = piece(3, (b) => (b === 1 ? 7 : b)); // honest 'a' sent blocks 0 and 2, liar 'l' block 1
  t.deepEqual(sb.pieceFailed(5, bad, ['a', 'l', 'a']), []);
  t.false(sb.isBanned('l'));
  t.deepEqual(sb.pieceVerified(5, good), [{ host: 'l', reason: 'sent corrupt data in piece 5', strikes: 1 }]);
  t.true(sb.isBanned('l'));
  t.false(sb.isBanned('a'));
  // The record is used once.
  t.deepEqual(sb.pieceVerified(5, good), []);
});

test('a piece that passes without having failed strikes no one; strikes add up across pieces', (t) => {
  const sb = new SmartBan({ blockBytes: BB, banAfterFailures: 2 });
  t.deepEqual(sb.pieceVerified(0, good), []);
  const bad = piece(3, (b) => (b === 0 ? 8 : b));
  sb.pieceFailed(1, bad, ['l', 'a', 'b']);
  t.deepEqual(sb.pieceVerified(1, good), []);
  sb.pieceFailed(2, bad, ['l', 'b', '']); // a block with no recorded sender is nobody's fault
  t.deepEqual(sb.pieceVerified(2, good), [{ host: 'l', reason: 'sent corrupt data in piece 2', strikes: 2 }]);
  t.false(sb.isBanned('a'));
  t.false(sb.isBanned('b'));
});

test('senders lists each host once and skips blocks with no sender', (t) => {
  t.deepEqual(SmartBan.senders(['a', '', 'b', 'a']), ['a', 'b']);
});
