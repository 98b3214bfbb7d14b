import test from 'ava';
import { decode, encode, isDict, isList } from '../src/bencode/index.js';
import { ProtocolError, TrackerError } from '../src/errors.js';
import { decodeCompactPeers, encodeCompactPeers, ipv4Bytes } from '../src/wire/compact.js';
import { encodeKrpc, encodeCompactNodes } from '../src/dht/krpc.js';
import { encodeAnnounceReply } from '../src/tracker/http-codec.js';
import { encodeUdpResponse } from '../src/tracker/udp-codec.js';
import { EXTENDED_HANDSHAKE_ID, decodeExtendedHandshake, encodeExtended, encodeExtendedHandshake, extensionId } from '../src/wire/extension.js';
import { decodeMessage } from '../src/wire/messages.js';
import { MAX_METADATA_BYTES, METADATA_PIECE_BYTES, decodeMetadataMessage, encodeMetadataMessage, metadataPieceCount, type MetadataMessage } from '../src/wire/ut-metadata.js';
import { MAX_PEX_PEERS, PexFlags, decodePex, encodePex } from '../src/wire/ut-pex.js';
import { block, concat, normalize } from './wire-fixtures.js';

// --- BEP 10 extension handshake ---------------------------------------------

test('extension handshake round-trips every field', (t) => {
  const h = { m: { ut_metadata: 3, ut_pex: 1, lt_donthave: 0 }, p: 6881, v: 'swarm 0.1 ✓', reqq: 2000, yourip: Uint8Array.from([127, 0, 0, 1]), metadataSize: 31337 };
  const back = decodeExtendedHandshake(encodeExtendedHandshake(h));
  const { raw, ...rest } = back;
  t.deepEqual(normalize(rest), normalize(h));
  t.true(raw.m !== undefined);
  t.is(extensionId(back, 'ut_metadata'), 3);
  t.is(extensionId(back, 'lt_donthave'), undefined, 'id 0 means disabled');
  t.is(extensionId(back, 'nope'), undefined);
  t.is(extensionId(back, 'toString'), undefined, 'not fooled by Object.prototype');
});

test('extension handshake keeps unknown keys in raw and ignores known keys of the wrong type', (t) => {
  const payload = encode({ m: { ut_pex: 2 }, p: 0, v: Buffer.from([0xff, 0xfe]), reqq: 'lots', yourip: Buffer.alloc(7), metadata_size: -5, upload_only: 1, e: { x: [1] } });
  const h = decodeExtendedHandshake(payload);
  t.deepEqual(h.m, { ut_pex: 2 });
  t.is(h.p, undefined);
  t.is(h.v, undefined);
  t.is(h.reqq, undefined);
  t.is(h.yourip, undefined);
  t.is(h.metadataSize, undefined);
  t.is(h.raw.upload_only, 1);
  t.deepEqual(decodeExtendedHandshake(encode({})).m, {}, 'no m at all: no extensions');
  t.is(decodeExtendedHandshake(encode({ metadata_size: MAX_METADATA_BYTES + 1 })).metadataSize, undefined, 'absurd metadata_size ignored');
});

test('extension handshake refuses a non-dict, a bad m, ids outside 0..255, deep nesting and bad bencode (all ProtocolError)', (t) => {
  t.throws(() => decodeExtendedHandshake(encode([1, 2])), { instanceOf: ProtocolError, message: /not a dictionary/ });
  t.throws(() => decodeExtendedHandshake(encode({ m: [1] })), { instanceOf: ProtocolError, message: /m is not a dictionary/ });
  t.throws(() => decodeExtendedHandshake(encode({ m: { ut_pex: 256 } })), { instanceOf: ProtocolError, message: /m.ut_pex must be an id 0..255/ });
  t.throws(() => decodeExtendedHandshake(encode({ m: { ut_pex: -1 } })), { instanceOf: ProtocolError });
  t.throws(() => decodeExtendedHandshake(encode({ m: { ut_pex: 'x' } })), { instanceOf: ProtocolError });
  t.throws(() => decodeExtendedHandshake(Buffer.from('d1:xlllllleeeeeee')), { instanceOf: ProtocolError, message: /extension handshake: nesting deeper than 4/ });
  t.throws(() => decodeExtendedHandshake(Buffer.from('d1:mde')), { instanceOf: ProtocolError });
  t.throws(() => decodeExtendedHandshake(Buffer.from('de garbage')), { instanceOf: ProtocolError, message: /trailing/ });
  t.throws(() => encodeExtendedHandshake({ m: { x: 300 } }), { instanceOf: RangeError });
});

test('encodeExtended frames id 20 + extension id + payload', (t) => {
  const payload = encodeExtendedHandshake({ m: { ut_metadata: 1 } });
  const framed = encodeExtended(EXTENDED_HANDSHAKE_ID, payload);
  const msg = decodeMessage(framed.subarray(4));
  t.deepEqual(normalize(msg), normalize({ type: 'extended', id: 0, payload }));
});

// --- BEP 9 ut_metadata -------------------------------------------------------

test('ut_metadata request, data and reject round-trip', (t) => {
  const total = 2 * METADATA_PIECE_BYTES + 100;
  const msgs: MetadataMessage[] = [
    { msgType: 'request', piece: 2 },
    { msgType: 'reject', piece: 1 },
    { msgType: 'data', piece: 0, totalSize: total, data: block(METADATA_PIECE_BYTES) },
    { msgType: 'data', piece: 2, totalSize: total, data: block(100) },
  ];
  for (const m of msgs) t.deepEqual(normalize(decodeMetadataMessage(encodeMetadataMessage(m))), normalize(m), m.msgType);
  t.is(metadataPieceCount(total), 3);
  t.is(Buffer.from(encodeMetadataMessage({ msgType: 'request', piece: 0 })).toString(), 'd8:msg_typei0e5:piecei0ee');
});

test('ut_metadata refusals', (t) => {
  const data = (piece: number, totalSize: number, len: number): Uint8Array => concat([encode({ msg_type: 1, piece, total_size: totalSize }), block(len)]);
  const bad: Array<[Uint8Array, RegExp]> = [
    [data(0, 40000, METADATA_PIECE_BYTES + 1), /carries 16385 bytes, expected 16384/],
    [data(0, 100, 99), /carries 99 bytes, expected 100/],
    [data(3, 40000, 100), /piece 3 is past the end of 40000 bytes/],
    [data(0, MAX_METADATA_BYTES + 1, 16384), /total_size must be 1\.\./],
    [data(0, 0, 0), /total_size/],
    [encode({ msg_type: 1, piece: 0 }), /total_size/],
    [encode({ msg_type: 3, piece: 0 }), /msg_type must be 0, 1 or 2, got 3/],
    [encode({ piece: 0 }), /msg_type/],
    [encode({ msg_type: 0, piece: -1 }), /piece must be/],
    [encode({ msg_type: 0, piece: 1 << 30 }), /piece must be/],
    [encode({ msg_type: 0 }), /piece must be/],
    [concat([encode({ msg_type: 0, piece: 0 }), Uint8Array.from([1])]), /request has 1 bytes after/],
    [concat([encode({ msg_type: 2, piece: 0 }), Uint8Array.from([1])]), /reject has 1 bytes after/],
    [encode([0, 1]), /not a dictionary/],
  ];
  for (const [payload, message] of bad) t.throws(() => decodeMetadataMessage(payload), { instanceOf: ProtocolError, message });
  t.throws(() => decodeMetadataMessage(Buffer.from('d8:msg_type')), { instanceOf: ProtocolError, message: /ut_metadata message: / });
});

// --- BEP 11 ut_pex -----------------------------------------------------------

test('ut_pex round-trips added with flags and dropped', (t) => {
  const msg = {
    added: [{ host: '127.0.0.2', port: 6881 }, { host: '10.1.2.3', port: 65535 }],
    addedFlags: [PexFlags.seed | PexFlags.reachable, PexFlags.utp],
    dropped: [{ host: '127.0.0.9', port: 1 }],
  };
  t.deepEqual(decodePex(encodePex(msg)), msg);
  t.deepEqual(decodePex(encodePex({ added: [], addedFlags: [], dropped: [] })), { added: [], addedFlags: [], dropped: [] });
});

test('ut_pex reads the IPv6 lists (added6, added6.f, dropped6), ignores unknown keys, defaults missing flags, skips port 0', (t) => {
  const payload = encode({
    added: Buffer.from([127, 0, 0, 2, 0x1a, 0xe1, 127, 0, 0, 3, 0, 0]),
    added6: Buffer.alloc(18, 1),
    'added6.f': Buffer.from([1]),
    dropped6: Buffer.alloc(18),
    x: 1,
  });
  t.deepEqual(decodePex(payload), { added: [{ host: '127.0.0.2', port: 6881 }, { host: '101:101:101:101:101:101:101:101', port: 257 }], addedFlags: [0, 1], dropped: [] });
  const mixed = encodePex({ added: [{ host: '::1', port: 1 }, { host: '127.0.0.4', port: 2 }], addedFlags: [1, 2], dropped: [{ host: 'example.org', port: 3 }] });
  t.deepEqual(decodePex(mixed), { added: [{ host: '127.0.0.4', port: 2 }, { host: '::1', port: 1 }], addedFlags: [2, 1], dropped: [] }, 'IPv6 peers travel in added6 with their flags; names are dropped');
});

test('ut_pex refusals', (t) => {
  const bad: Array<[Uint8Array, RegExp]> = [
    [encode({ added: Buffer.alloc(7) }), /added has 7 bytes, not a multiple of 6/],
    [encode({ dropped: Buffer.alloc(5) }), /dropped has 5 bytes/],
    [encode({ added: Buffer.alloc(6 * (MAX_PEX_PEERS + 1), 1) }), /added lists 201 peers, more than 200/],
    [encode({ added: Buffer.alloc(12, 1), 'added.f': Buffer.alloc(1) }), /added.f has 1 flags for 2 added peers/],
    [encode({ added: [1] }), /added is not a byte string/],
    [encode({ added: Buffer.alloc(6, 1), 'added.f': 3 }), /added.f is not a byte string/],
    [encode('x'), /not a dictionary/],
  ];
  for (const [payload, message] of bad) t.throws(() => decodePex(payload), { instanceOf: ProtocolError, message });
  t.throws(() => decodePex(Buffer.from('d5:added')), { instanceOf: ProtocolError, message: /ut_pex message: / });
});

// --- compact peers -------------------------------------------------------------

test('compact peers round-trip; port 0 entries are skipped; non-IPv4 hosts are not encoded', (t) => {
  const peers = [{ host: '127.0.0.1', port: 6881 }, { host: '255.255.255.255', port: 1 }, { host: '0.0.0.0', port: 65535 }];
  const bytes = encodeCompactPeers([...peers, { host: '::1', port: 5 }, { host: '127.0.0.01', port: 5 }]);
  t.is(bytes.length, 18);
  t.deepEqual([...bytes.subarray(0, 6)], [127, 0, 0, 1, 0x1a, 0xe1]);
  t.deepEqual(decodeCompactPeers(bytes), peers);
  t.deepEqual(decodeCompactPeers(Uint8Array.from([127, 0, 0, 1, 0, 0])), []);
  t.throws(() => encodeCompactPeers([{ host: '127.0.0.1', port: 70000 }]), { instanceOf: RangeError });
});

test('compact peers refuse a length not a multiple of 6 or too many peers, with the caller\'s error type', (t) => {
  t.throws(() => decodeCompactPeers(new Uint8Array(7)), { instanceOf: ProtocolError, message: /compact peers list of 7 bytes is not a multiple of 6/ });
  t.throws(() => decodeCompactPeers(new Uint8Array(18), { maxPeers: 2, field: 'values' }), { instanceOf: ProtocolError, message: /compact values list holds 3 peers, more than 2/ });
  t.throws(() => decodeCompactPeers(new Uint8Array(5), { error: (m) => new TrackerError(m) }), { instanceOf: TrackerError });
});

test('the tracker (HTTP and UDP), the DHT and PEX write the same compact bytes', (t) => {
  const peers = [{ host: '10.0.0.1', port: 6881 }, { host: '::1', port: 1 }, { host: '192.168.1.200', port: 51413 }];
  const compact = Buffer.from(encodeCompactPeers(peers));
  t.is(compact.length, 12);
  const http = decode(encodeAnnounceReply({ interval: 1, peers }, { compact: true, noPeerId: false }));
  t.true(isDict(http) && Buffer.from(http.peers as Uint8Array).equals(compact));
  t.true(Buffer.from(encodeUdpResponse({ action: 'announce', transactionId: 1, interval: 1, leechers: 0, seeders: 0, peers })).subarray(20).equals(compact));
  const dht = decode(encodeKrpc({ y: 'r', t: Buffer.from('aa'), response: { id: new Uint8Array(20), values: peers } }));
  const values = isDict(dht) && isDict(dht.r) ? dht.r.values : undefined;
  const v4values = isList(values) ? values.filter((v) => (v as Uint8Array).length === 6) : [];
  t.true(Buffer.concat(v4values.map((v) => Buffer.from(v as Uint8Array))).equals(compact), 'DHT values: one 6-byte string per IPv4 peer (IPv6 ones are 18 bytes, BEP 32)');
  const pex = decode(encodePex({ added: peers, addedFlags: [0, 0, 0], dropped: peers }));
  t.true(isDict(pex) && Buffer.from(pex.added as Uint8Array).equals(compact) && Buffer.from(pex.dropped as Uint8Array).equals(compact));
  const nodes = encodeCompactNodes(peers.map((p, i) => ({ id: new Uint8Array(20).fill(i), ...p })));
  t.is(nodes.length, 52);
  t.true(Buffer.from(nodes.subarray(20, 26)).equals(compact.subarray(0, 6)), 'DHT node info: id, then the compact peer');
});

test('ipv4Bytes reads dotted quads only', (t) => {
  t.deepEqual(ipv4Bytes('1.2.3.255'), Uint8Array.of(1, 2, 3, 255));
  for (const host of ['::1', 'example.org', '1.2.3.256', '1.2.3', '01.2.3.4']) t.is(ipv4Bytes(host), undefined, host);
});
