import test from 'ava';
import { ProtocolError } from '../src/errors.js';
import {
  HANDSHAKE_BYTES,
  HANDSHAKE_HEAD_BYTES,
  HandshakeReader,
  PROTOCOL_NAME,
  decodeHandshake,
  decodeHandshakeHead,
  decodePeerId,
  encodeHandshake,
} from '../src/wire/handshake.js';
import { encodeMessage } from '../src/wire/messages.js';
import { concat } from './wire-fixtures.js';

const infoHash = Uint8Array.from({ length: 20 }, (_, i) => i + 1);
const peerId = new TextEncoder().encode('-SW0001-abcdefghijkl');

test('encodes BEP 3 layout with the reserved bits of BEP 10, 5 and 6', (t) => {
  const bytes = encodeHandshake({ infoHash, peerId, extensionProtocol: true, dht: true, fast: true });
  t.is(bytes.length, HANDSHAKE_BYTES);
  t.is(bytes[0], 19);
  t.is(Buffer.from(bytes.subarray(1, 20)).toString('latin1'), PROTOCOL_NAME);
  t.deepEqual([...bytes.subarray(20, 28)], [0, 0, 0, 0, 0, 0x10, 0, 0x05]);
  t.deepEqual([...bytes.subarray(28, 48)], [...infoHash]);
  t.deepEqual([...bytes.subarray(48)], [...peerId]);
  t.deepEqual([...encodeHandshake({ infoHash, peerId }).subarray(20, 28)], [0, 0, 0, 0, 0, 0, 0, 0]);
});

test('round-trips with every combination of flags', (t) => {
  for (let bits = 0; bits < 8; bits++) {
    const flags = { extensionProtocol: (bits & 1) !== 0, dht: (bits & 2) !== 0, fast: (bits & 4) !== 0 };
    const h = decodeHandshake(encodeHandshake({ infoHash, peerId, ...flags }));
    t.like(h, flags);
    t.deepEqual([...h.infoHash], [...infoHash]);
    t.deepEqual([...h.peerId], [...peerId]);
    t.is(h.reserved.length, 8);
  }
});

test('unknown reserved bits are kept but do not set flags', (t) => {
  const bytes = encodeHandshake({ infoHash, peerId });
  bytes[20] = 0x80; // e.g. uTorrent's LTEP-adjacent bits
  bytes[27] = 0x02;
  const h = decodeHandshake(bytes);
  t.false(h.extensionProtocol || h.dht || h.fast);
  t.is(h.reserved[0], 0x80);
});

test('refuses wrong size, pstrlen and pstr', (t) => {
  const good = encodeHandshake({ infoHash, peerId });
  t.throws(() => decodeHandshake(good.subarray(0, 67)), { instanceOf: ProtocolError, message: /68 bytes, got 67/ });
  const badLen = good.slice();
  badLen[0] = 18;
  t.throws(() => decodeHandshake(badLen), { instanceOf: ProtocolError, message: /protocol name length is 18/ });
  const badName = good.slice();
  badName[5] = 0x78;
  t.throws(() => decodeHandshake(badName), { instanceOf: ProtocolError, message: /protocol name is not/ });
  t.throws(() => decodeHandshakeHead(good.subarray(0, 47)), { instanceOf: ProtocolError });
  t.throws(() => decodePeerId(new Uint8Array(19)), { instanceOf: ProtocolError });
  t.throws(() => encodeHandshake({ infoHash: new Uint8Array(19), peerId }), { instanceOf: RangeError });
});

test('the head routes by info-hash before the peer id arrives', (t) => {
  const bytes = encodeHandshake({ infoHash, peerId, extensionProtocol: true });
  const head = decodeHandshakeHead(bytes.subarray(0, HANDSHAKE_HEAD_BYTES));
  t.deepEqual([...head.infoHash], [...infoHash]);
  t.true(head.extensionProtocol);
  t.deepEqual([...decodePeerId(bytes.subarray(48))], [...peerId]);
});

test('HandshakeReader: split at every offset, reports the head at 48 bytes and hands over the rest', (t) => {
  const hs = encodeHandshake({ infoHash, peerId, fast: true });
  const after = concat([encodeMessage({ type: 'have-all' }), encodeMessage({ type: 'unchoke' })]);
  const stream = concat([hs, after]);
  for (let cut = 0; cut <= stream.length; cut++) {
    const reader = new HandshakeReader();
    const first = reader.push(stream.subarray(0, cut));
    t.is(reader.head !== undefined, cut >= HANDSHAKE_HEAD_BYTES);
    t.is(first !== undefined, cut >= HANDSHAKE_BYTES);
    const rest = first ?? reader.push(stream.subarray(cut));
    t.truthy(rest);
    t.true(reader.done);
    t.true(reader.handshake!.fast);
    t.deepEqual([...reader.handshake!.peerId], [...peerId]);
    // The bytes past the handshake, whichever push they came in.
    const leftover = first !== undefined ? concat([first, stream.subarray(cut)]) : rest!;
    t.deepEqual([...leftover], [...after]);
  }
});

test('HandshakeReader refuses a non-BitTorrent stream at its first bytes', (t) => {
  t.throws(() => new HandshakeReader().push(Buffer.from('GET / HTTP/1.1\r\n')), { instanceOf: ProtocolError, message: /protocol name length is 71/ });
  const reader = new HandshakeReader();
  reader.push(Uint8Array.from([19, 0x42]));
  t.throws(() => reader.push(Buffer.from('Xt')), { instanceOf: ProtocolError, message: /protocol name is not/ });
});
