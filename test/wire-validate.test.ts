import test from 'ava';
import { ProtocolError } from '../src/errors.js';
import type { PeerMessage } from '../src/wire/messages.js';
import { PieceSetOrder, blockKey, checkMessage, checkPieceRequested, pieceSize, torrentShape } from '../src/wire/validate.js';
import { SHAPE, block, everyMessage } from './wire-fixtures.js';

const MAX_REQ = 128 * 1024;
const LAST = SHAPE.pieceCount - 1;

test('pieceSize: full pieces and a short last piece', (t) => {
  t.is(pieceSize(SHAPE, 0), 256 * 1024);
  t.is(pieceSize(SHAPE, LAST), 1000);
  t.deepEqual(torrentShape(16384, 16384 * 3), { pieceLength: 16384, totalLength: 16384 * 3, pieceCount: 3 });
  t.is(pieceSize(torrentShape(16384, 16384 * 3), 2), 16384);
  t.throws(() => pieceSize(SHAPE, SHAPE.pieceCount), { instanceOf: RangeError });
});

test('every message of the fixture passes checkMessage', (t) => {
  for (const msg of everyMessage()) t.notThrows(() => checkMessage(msg, SHAPE, MAX_REQ), msg.type);
});

test('legal edge cases pass: the last block of the short last piece, a 128 KiB request, a full bitfield', (t) => {
  const ok: PeerMessage[] = [
    { type: 'request', index: LAST, begin: 0, length: 1000 },
    { type: 'request', index: LAST, begin: 999, length: 1 },
    { type: 'request', index: 0, begin: 256 * 1024 - MAX_REQ, length: MAX_REQ },
    { type: 'piece', index: LAST, begin: 984, block: block(16) },
    { type: 'have', index: LAST },
    { type: 'bitfield', bytes: Uint8Array.from([0xff, 0xc0]) },
  ];
  for (const msg of ok) t.notThrows(() => checkMessage(msg, SHAPE, MAX_REQ), JSON.stringify({ ...msg, block: undefined }));
});

test('each malformed case is refused with a ProtocolError naming the problem', (t) => {
  const bad: Array<[PeerMessage, RegExp]> = [
    [{ type: 'have', index: SHAPE.pieceCount }, /have index 10 out of range \(torrent has 10 pieces\)/],
    [{ type: 'have', index: 0xffffffff }, /have index/],
    [{ type: 'suggest', index: 10 }, /suggest index 10 out of range/],
    [{ type: 'allowed-fast', index: 11 }, /allowed-fast index 11 out of range/],
    [{ type: 'bitfield', bytes: Uint8Array.from([0xff, 0xe0]) }, /spare bits/],
    [{ type: 'bitfield', bytes: Uint8Array.from([0xff, 0x01]) }, /spare bits/],
    [{ type: 'bitfield', bytes: Uint8Array.from([0xff]) }, /bitfield has 1 bytes, expected 2/],
    [{ type: 'bitfield', bytes: Uint8Array.from([0xff, 0xc0, 0]) }, /bitfield has 3 bytes/],
    [{ type: 'request', index: 0, begin: 0, length: 0 }, /request of piece 0 has length 0/],
    [{ type: 'request', index: 0, begin: 0, length: MAX_REQ + 1 }, /request length 131073 exceeds the limit of 131072/],
    [{ type: 'request', index: LAST, begin: 0, length: 1001 }, /request range 0\+1001 reaches past the end of piece 9 \(1000 bytes\)/],
    [{ type: 'request', index: 0, begin: 256 * 1024, length: 1 }, /past the end of piece 0/],
    [{ type: 'request', index: 0, begin: 0xffffffff, length: 16384 }, /past the end/],
    [{ type: 'request', index: 10, begin: 0, length: 16384 }, /request index 10 out of range/],
    [{ type: 'cancel', index: 0, begin: 0, length: 0 }, /cancel of piece 0 has length 0/],
    [{ type: 'cancel', index: LAST, begin: 1000, length: 16 }, /cancel range/],
    [{ type: 'reject', index: 0, begin: 0, length: 0 }, /reject of piece 0 has length 0/],
    [{ type: 'reject', index: 12, begin: 0, length: 1 }, /reject index 12/],
    [{ type: 'piece', index: 0, begin: 0, block: new Uint8Array(0) }, /piece of piece 0 has length 0/],
    [{ type: 'piece', index: LAST, begin: 990, block: block(11) }, /piece range 990\+11 reaches past the end of piece 9/],
    [{ type: 'piece', index: 10, begin: 0, block: block(1) }, /piece index 10 out of range/],
    [{ type: 'piece', index: 0, begin: 0, block: block(MAX_REQ + 1) }, /piece length 131073 exceeds/],
  ];
  for (const [msg, message] of bad) t.throws(() => checkMessage(msg, SHAPE, MAX_REQ), { instanceOf: ProtocolError, message });
});

test('a bitfield for a torrent whose piece count is a multiple of 8 has no spare bits', (t) => {
  const shape = torrentShape(16384, 16384 * 16);
  t.notThrows(() => checkMessage({ type: 'bitfield', bytes: Uint8Array.from([0xff, 0xff]) }, shape, MAX_REQ));
});

test('PieceSetOrder: a piece set after keep-alive, extended, port, choke, interest and BEP 6 messages is the initial one', (t) => {
  const before = [
    { type: 'keep-alive' },
    { type: 'extended', id: 0, payload: new Uint8Array(0) },
    { type: 'port', port: 1 },
    { type: 'unchoke' },
    { type: 'interested' },
    { type: 'choke' },
    { type: 'not-interested' },
    { type: 'allowed-fast', index: 1 },
    { type: 'request', index: 0, begin: 0, length: 16384 },
  ] as PeerMessage[];
  for (const last of [{ type: 'bitfield', bytes: new Uint8Array(2) }, { type: 'have-all' }, { type: 'have-none' }] as PeerMessage[]) {
    const order = new PieceSetOrder();
    for (const m of before) t.false(order.observe(m));
    t.true(order.observe(last), `${last.type} after the others`);
    t.false(order.observe({ type: 'have', index: 1 }));
  }
});

test('PieceSetOrder: a piece set after a have, a piece or another piece set is a late one', (t) => {
  const late = new PieceSetOrder();
  late.observe({ type: 'have', index: 1 });
  t.false(late.observe({ type: 'bitfield', bytes: new Uint8Array(2) }));
  const afterPiece = new PieceSetOrder();
  afterPiece.observe({ type: 'piece', index: 0, begin: 0, block: new Uint8Array(1) });
  t.false(afterPiece.observe({ type: 'have-all' }));
  const twice = new PieceSetOrder();
  t.true(twice.observe({ type: 'have-none' }));
  t.false(twice.observe({ type: 'have-all' }));
});

test('checkPieceRequested refuses a block that was not requested', (t) => {
  const outstanding = new Set([blockKey(1, 0, 16384)]);
  const asked = (i: number, b: number, l: number): boolean => outstanding.has(blockKey(i, b, l));
  t.notThrows(() => checkPieceRequested({ index: 1, begin: 0, block: block(16384) }, asked));
  t.throws(() => checkPieceRequested({ index: 1, begin: 16384, block: block(16384) }, asked), { instanceOf: ProtocolError, message: /piece 1 block 16384\+16384 was not requested/ });
  t.throws(() => checkPieceRequested({ index: 1, begin: 0, block: block(100) }, asked), { instanceOf: ProtocolError });
});
