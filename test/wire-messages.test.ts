import test from 'ava';
import { ProtocolError } from '../src/errors.js';
import { MessageId, PIECE_HEADER_BYTES, decodeMessage, encodeMessage, encodePieceHeader, encodeRequests, writePieceHeader, type PeerMessage, type PeerMessageType } from '../src/wire/messages.js';
import { FrameDecoder } from '../src/wire/framer.js';
import { block, everyMessage, normalize } from './wire-fixtures.js';

// A Record over the union's type names: adding a message type fails to compile until it is listed here.
const ALL_TYPES: Record<PeerMessageType, true> = {
  'keep-alive': true, choke: true, unchoke: true, interested: true, 'not-interested': true, have: true, bitfield: true,
  request: true, piece: true, cancel: true, port: true, suggest: true, 'have-all': true, 'have-none': true, reject: true,
  'allowed-fast': true, extended: true, unknown: true,
};

const strip = (framed: Uint8Array): Uint8Array => framed.subarray(4);

test('every message type round-trips through encodeMessage and decodeMessage', (t) => {
  const msgs = everyMessage();
  const types = new Set(msgs.map((m) => m.type));
  t.deepEqual([...types].sort(), Object.keys(ALL_TYPES).sort(), 'the fixture covers every member of the union');
  for (const msg of msgs) {
    const framed = encodeMessage(msg);
    const len = new DataView(framed.buffer, framed.byteOffset).getUint32(0);
    t.is(len, framed.length - 4, `${msg.type}: the length prefix counts id + payload`);
    t.deepEqual(normalize(decodeMessage(strip(framed))), normalize(msg), msg.type);
  }
});

test('wire bytes match BEP 3 for a few known messages', (t) => {
  t.deepEqual([...encodeMessage({ type: 'keep-alive' })], [0, 0, 0, 0]);
  t.deepEqual([...encodeMessage({ type: 'interested' })], [0, 0, 0, 1, 2]);
  t.deepEqual([...encodeMessage({ type: 'have', index: 0x01020304 })], [0, 0, 0, 5, 4, 1, 2, 3, 4]);
  t.deepEqual([...encodeMessage({ type: 'request', index: 1, begin: 0x4000, length: 0x4000 })], [0, 0, 0, 13, 6, 0, 0, 0, 1, 0, 0, 0x40, 0, 0, 0, 0x40, 0]);
  t.deepEqual([...encodeMessage({ type: 'port', port: 0x1ae1 })], [0, 0, 0, 3, 9, 0x1a, 0xe1]);
  t.deepEqual([...encodeMessage({ type: 'have-all' })], [0, 0, 0, 1, 14]);
  t.deepEqual([...encodeMessage({ type: 'extended', id: 2, payload: Uint8Array.from([0x64, 0x65]) })], [0, 0, 0, 4, 20, 2, 0x64, 0x65]);
  t.is(MessageId.extended, 20);
  t.is(MessageId.allowedFast, 17);
});

test('encodePieceHeader + block equals encodeMessage of the piece', (t) => {
  const data = block(16384);
  const header = encodePieceHeader(5, 32768, data.length);
  t.is(header.length, PIECE_HEADER_BYTES);
  t.deepEqual(Buffer.concat([header, data]), Buffer.from(encodeMessage({ type: 'piece', index: 5, begin: 32768, block: data })));
});

test('writePieceHeader lays out the same header at an offset of a bigger buffer', (t) => {
  const out = new Uint8Array(40).fill(0xee);
  writePieceHeader(out, 7, 5, 32768, 16384);
  t.deepEqual(out.subarray(7, 7 + PIECE_HEADER_BYTES), encodePieceHeader(5, 32768, 16384));
  t.is(out[6], 0xee);
  t.is(out[7 + PIECE_HEADER_BYTES], 0xee, 'nothing written past the header');
  t.throws(() => writePieceHeader(out, 30, 0, 0, 1), { instanceOf: RangeError });
  t.throws(() => writePieceHeader(out, 0, -1, 0, 1), { instanceOf: RangeError });
});

test('a decoded piece block is a view into the frame, not a copy', (t) => {
  const frame = strip(encodeMessage({ type: 'piece', index: 1, begin: 0, block: block(100) }));
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
  t.is(bytes.length, 34);
  const decoder = new FrameDecoder({ maxFrameBytes: 1024 });
  const back = decoder.push(bytes).map((f) => decodeMessage(f));
  t.deepEqual(back, reqs.map((r) => ({ type: 'request', ...r })));
});
