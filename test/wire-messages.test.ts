import test from 'ava';
import { ProtocolError } from '../src/errors.js';
import { MessageId, PIECE_HEADER_BYTES, decodeMessage, encodeMessage, encodePieceHeader, encodeRequests, writePieceHeader, type PeerMessage, type PeerMessageType } from '../src/wire/messages.js';
import { FrameDecoder } from '../src/wire/framer.js';
import { block, concat, hex, knownFrames, normalize } from './wire-fixtures.js';

// A Record over the union's type names: adding a message type fails to compile until it is listed here.
const ALL_TYPES: Record<PeerMessageType, true> = {
  'keep-alive': true, choke: true, unchoke: true, interested: true, 'not-interested': true, have: true, bitfield: true,
  request: true, piece: true, cancel: true, port: true, suggest: true, 'have-all': true, 'have-none': true, reject: true,
  'allowed-fast': true, extended: true, unknown: true,
};

const strip = (framed: Uint8Array): Uint8Array => framed.subarray(4);

const hexOf = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

test('the known frames cover every message type', (t) => {
  const types = new Set(knownFrames().map((k) => k.message.type));
  t.deepEqual([...types].sort(), Object.keys(ALL_TYPES).sort(), 'the fixture covers every member of the union');
});

test('every message type encodes to its frame as BEP 3/5/6/9/10/11 lay it out (bytes written by hand)', (t) => {
  for (const { message, frame } of knownFrames()) t.is(hexOf(encodeMessage(message)), hexOf(frame), message.type);
});

test('every hand-written frame decodes to its message', (t) => {
  for (const { message, frame } of knownFrames()) {
    t.deepEqual(normalize(decodeMessage(strip(frame))), normalize(message), message.type);
  }
});

test('a few more known frames: big-endian fields, the highest ids', (t) => {
  t.is(hexOf(encodeMessage({ type: 'have', index: 0x01020304 })), '000000050401020304');
  t.is(hexOf(encodeMessage({ type: 'extended', id: 2, payload: Uint8Array.from([0x64, 0x65]) })), '000000041402' + '6465');
  t.deepEqual(normalize(decodeMessage(strip(hex('0000000d 06 ffffffff 00004000 00004000')))), normalize({ type: 'request', index: 0xffffffff, begin: 16384, length: 16384 }));
  t.is(MessageId.extended, 20);
  t.is(MessageId.allowedFast, 17);
});

test('encodePieceHeader lays out the header of a piece message (BEP 3), and with the block equals encodeMessage of it', (t) => {
  const data = block(16384);
  const header = encodePieceHeader(5, 32768, data.length);
  t.is(header.length, PIECE_HEADER_BYTES);
  // Length 9 + 16384 = 0x4009, id 7, index 5, begin 0x8000.
  t.is(hexOf(header), hexOf(hex('00004009 07 00000005 00008000')));
  t.deepEqual(Buffer.concat([header, data]), Buffer.from(encodeMessage({ type: 'piece', index: 5, begin: 32768, block: data })));
});

test('writePieceHeader lays out the same header at an offset of a bigger buffer', (t) => {
  const out = new Uint8Array(40).fill(0xee);
  writePieceHeader(out, 7, 5, 32768, 16384);
  t.is(hexOf(out.subarray(7, 7 + PIECE_HEADER_BYTES)), hexOf(hex('00004009 07 00000005 00008000')));
  t.is(out[6], 0xee);
  t.is(out[7 + PIECE_HEADER_BYTES], 0xee, 'nothing written past the header');
  t.throws(() => writePieceHeader(out, 30, 0, 0, 1), { instanceOf: RangeError });
  t.throws(() => writePieceHeader(out, 0, -1, 0, 1), { instanceOf: RangeError });
});

test('a decoded piece block is a view into the frame, not a copy', (t) => {
  // 9 + 100 = 0x6d.
  const frame = strip(concat([hex('0000006d 07 00000001 00000000'), block(100)]));
  const msg = decodeMessage(frame);
  if (msg.type !== 'piece') return t.fail();
  t.is(msg.block.buffer, frame.buffer);
  t.is(msg.block.byteOffset, frame.byteOffset + 9);
});

test('unknown ids decode to { type: "unknown" } so a connection can ignore them', (t) => {
  t.deepEqual(normalize(decodeMessage(Uint8Array.from([10, 1, 2]))), normalize({ type: 'unknown', id: 10, payload: Uint8Array.from([1, 2]) }));
  t.is(decodeMessage(Uint8Array.from([255])).type, 'unknown');
});

test('each wrong payload size of a known id is refused with a ProtocolError naming it', (t) => {
  const bad: Array<[number[], RegExp]> = [
    [[0, 0], /choke message must carry 0/],
    [[1, 0], /unchoke/],
    [[2, 1, 2], /interested/],
    [[3, 9], /notInterested/],
    [[4, 0, 0, 1], /have message must carry 4 payload bytes, got 3/],
    [[4, 0, 0, 0, 1, 0], /have message/],
    [[6, ...new Array(11).fill(0)], /request message must carry 12/],
    [[6, ...new Array(13).fill(0)], /request message must carry 12/],
    [[7, 0, 0, 0, 1, 0, 0, 0], /piece message must carry at least 8/],
    [[8, 0], /cancel message/],
    [[9, 1], /port message must carry 2/],
    [[9, 1, 2, 3], /port message/],
    [[13], /suggest message/],
    [[14, 0], /haveAll message/],
    [[15, 0], /haveNone message/],
    [[16, 1, 2], /reject message/],
    [[17, 1, 2, 3, 4, 5], /allowedFast message/],
    [[20], /extended message has no extension id/],
  ];
  for (const [bytes, message] of bad) {
    const err = t.throws(() => decodeMessage(Uint8Array.from(bytes)), { instanceOf: ProtocolError, message });
    t.is(err?.code, 'EPROTOCOL');
  }
});

test('a piece with an empty block and an empty bitfield decode (validate.ts judges them)', (t) => {
  t.is(decodeMessage(Uint8Array.from([7, 0, 0, 0, 0, 0, 0, 0, 0])).type, 'piece');
  t.is(decodeMessage(Uint8Array.from([5])).type, 'bitfield');
});

test('encodeMessage refuses out-of-range fields of our own (RangeError)', (t) => {
  const bad: PeerMessage[] = [
    { type: 'have', index: -1 },
    { type: 'request', index: 0, begin: 2 ** 32, length: 1 },
    { type: 'port', port: 70000 },
    { type: 'extended', id: 256, payload: new Uint8Array(0) },
    { type: 'have', index: 1.5 },
  ];
  for (const msg of bad) t.throws(() => encodeMessage(msg), { instanceOf: RangeError });
});

test('encodeRequests writes a batch that decodes to the same requests', (t) => {
  const reqs = [
    { index: 0, begin: 0, length: 16384 },
    { index: 7, begin: 16384, length: 100 },
  ];
  const bytes = encodeRequests(reqs);
  t.is(hexOf(bytes), hexOf(hex('0000000d 06 00000000 00000000 00004000  0000000d 06 00000007 00004000 00000064')));
  const decoder = new FrameDecoder({ maxFrameBytes: 1024 });
  const back = decoder.push(bytes).map((f) => decodeMessage(f));
  t.deepEqual(back, reqs.map((r) => ({ type: 'request', ...r })));
});
