/**
 * IPv6 in the pure codecs (issue 14, item 5): BEP 7 compact peers (`peers6`
 * from HTTP trackers, 18-byte entries in BEP 15 replies over IPv6), BEP 11
 * `added6`/`dropped6`, BEP 32 `nodes6` and 18-byte `values`, BEP 42 over
 * IPv6, and one spelling per address (plainHost).
 */
import test from 'ava';
import { decode, encode, isDict, isList } from '../src/bencode/index.js';
import { ProtocolError, TrackerError } from '../src/errors.js';
import { decodeCompactPeers6, encodeCompactPeers6, formatIPv6, ipv6Bytes, isIPv6 } from '../src/wire/compact.js';
import { decodeKrpc, encodeKrpc, decodeCompactNodes6, encodeCompactNodes6, COMPACT_NODE6_BYTES } from '../src/dht/krpc.js';
import { addressClass, bep42Matches, bep42NodeId, subnetOf } from '../src/dht/bep42.js';
import { encodeAnnounceReply, parseAnnounceReply } from '../src/tracker/http-codec.js';
import { decodeUdpResponse, encodeUdpResponse } from '../src/tracker/udp-codec.js';
import { decodePex, encodePex, MAX_PEX_PEERS } from '../src/wire/ut-pex.js';
import { formatHostPort, isWildcardHost, plainHost } from '../src/util/address.js';
import { parseHost } from '../src/cli/common.js';
import { UsageError } from '../src/errors.js';

test('IPv6 text <-> 16 bytes: compressed forms, IPv4 tails, RFC 5952 output; garbage refused', (t) => {
  const cases: Array<[string, string]> = [
    ['::1', '::1'],
    ['::', '::'],
    ['fd77::2', 'fd77::2'],
    ['FD77:0:0:0:0:0:0:2', 'fd77::2'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8::', '2001:db8::'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['1:0:3:4:5:6:7:8', '1:0:3:4:5:6:7:8'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['64:ff9b::1.2.3.4', '64:ff9b::102:304'],
  ];
  for (const [text, canonical] of cases) {
    const b = ipv6Bytes(text);
    t.truthy(b, text);
    t.is(formatIPv6(b!), canonical, text);
  }
  for (const bad of ['1.2.3.4', '::1::2', '1:2:3:4:5:6:7:8:9', '12345::', 'g::1', ':::', 'fe80::1%eth0', '::1.2.3', '[::1]', 'example.org', '1:2:3:4:5:6:7::8:9']) {
    t.false(isIPv6(bad), bad);
  }
});

test('compact IPv6 peers: 18 bytes each, round trip, port 0 skipped, IPv4 not encoded, odd lengths and too many refused', (t) => {
  const peers = [{ host: '::1', port: 6881 }, { host: 'fd77::3', port: 65535 }];
  const bytes = encodeCompactPeers6([...peers, { host: '10.0.0.1', port: 5 }, { host: 'example.org', port: 5 }]);
  t.is(bytes.length, 36);
  t.deepEqual([...bytes.subarray(0, 18)], [...new Array(15).fill(0), 1, 0x1a, 0xe1]);
  t.deepEqual(decodeCompactPeers6(bytes), peers);
  t.deepEqual(decodeCompactPeers6(new Uint8Array(18)), []);
  t.throws(() => decodeCompactPeers6(new Uint8Array(19)), { instanceOf: ProtocolError, message: /compact peers6 list of 19 bytes is not a multiple of 18/ });
  t.throws(() => decodeCompactPeers6(new Uint8Array(54), { maxPeers: 2 }), { message: /holds 3 peers, more than 2/ });
});

test('HTTP tracker: peers6 only for an IPv6 asker, parsed by the client; a peers6 of odd length is refused', (t) => {
  const peers = [{ host: '10.0.0.1', port: 6881 }, { host: '::1', port: 6882 }, { host: 'fd77::2', port: 6883 }];
  const v4reply = decode(encodeAnnounceReply({ interval: 60, peers }, { compact: true, noPeerId: false }));
  t.true(isDict(v4reply) && v4reply.peers6 === undefined, 'an IPv4 asker gets peers only');
  const v6bytes = encodeAnnounceReply({ interval: 60, peers }, { compact: true, noPeerId: false, peers6: true });
  const v6reply = decode(v6bytes);
  t.true(isDict(v6reply) && (v6reply.peers as Uint8Array).length === 6 && (v6reply.peers6 as Uint8Array).length === 36);
  t.deepEqual(parseAnnounceReply(v6bytes).peers, peers);
  t.throws(() => parseAnnounceReply(encode({ interval: 60, peers: Buffer.alloc(0), peers6: Buffer.alloc(17) })), { instanceOf: TrackerError, message: /peers6 list of 17 bytes is not a multiple of 18/ });
  t.throws(() => parseAnnounceReply(encode({ interval: 60, peers6: 5 })), { instanceOf: TrackerError, message: /peers6: not a byte string/ });
});

test('UDP tracker (BEP 15 over IPv6): 18-byte entries of the IPv6 peers; the IPv4 reply is unchanged; a partial entry is refused', (t) => {
  const peers = [{ host: '10.0.0.1', port: 6881 }, { host: '::1', port: 6882 }];
  const base = { action: 'announce' as const, transactionId: 7, interval: 60, leechers: 1, seeders: 2, peers };
  const v4 = encodeUdpResponse(base);
  t.is(v4.length, 26);
  const v6 = encodeUdpResponse({ ...base, ipv6: true });
  t.is(v6.length, 38);
  const back = decodeUdpResponse(v6, { ipv6: true });
  t.like(back, { action: 'announce', transactionId: 7, interval: 60, leechers: 1, seeders: 2 });
  t.deepEqual(back.action === 'announce' ? back.peers : undefined, [{ host: '::1', port: 6882 }]);
  t.deepEqual(decodeUdpResponse(v4), { ...base, peers: [peers[0]] });
  t.throws(() => decodeUdpResponse(Buffer.concat([v6, Buffer.alloc(5)]), { ipv6: true }), { instanceOf: TrackerError, message: /not a multiple of 18/ });
});

test('PEX: added6 / added6.f / dropped6 round trip beside the IPv4 lists; refusals bounded like the IPv4 ones', (t) => {
  const msg = {
    added: [{ host: '10.0.0.1', port: 1 }, { host: '::1', port: 2 }, { host: 'fd77::9', port: 3 }],
    addedFlags: [1, 2, 0x12],
    dropped: [{ host: '10.0.0.2', port: 4 }, { host: 'fd77::8', port: 5 }],
  };
  const bytes = encodePex(msg);
  const d = decode(bytes);
  t.true(isDict(d) && (d.added6 as Uint8Array).length === 36 && (d['added6.f'] as Uint8Array).length === 2 && (d.dropped6 as Uint8Array).length === 18);
  t.deepEqual(decodePex(bytes), msg);
  const v4only = decode(encodePex({ added: [{ host: '10.0.0.1', port: 1 }], addedFlags: [0], dropped: [] }));
  t.true(isDict(v4only) && !('added6' in v4only) && !('dropped6' in v4only), 'no IPv6 keys without IPv6 peers');
  const bad: Array<[Uint8Array, RegExp]> = [
    [encode({ added6: Buffer.alloc(19) }), /added6 has 19 bytes, not a multiple of 18/],
    [encode({ dropped6: Buffer.alloc(6) }), /dropped6 has 6 bytes, not a multiple of 18/],
    [encode({ added6: Buffer.alloc(18 * (MAX_PEX_PEERS + 1), 1) }), /added6 lists 201 peers/],
    [encode({ added6: Buffer.alloc(36, 1), 'added6.f': Buffer.alloc(1) }), /added6.f has 1 flags for 2 added peers/],
    [encode({ added6: 3 }), /added6 is not a byte string/],
  ];
  for (const [payload, message] of bad) t.throws(() => decodePex(payload), { instanceOf: ProtocolError, message });
});

test('DHT (BEP 32): nodes6 of 38 bytes beside nodes, 18-byte values, both decoded; a nodes6 of odd length refused', (t) => {
  const id = (n: number): Uint8Array => new Uint8Array(20).fill(n);
  const nodes = [{ id: id(1), host: '10.0.0.1', port: 6881 }, { id: id(2), host: '::1', port: 6882 }, { id: id(3), host: 'fd77::3', port: 6883 }];
  const values = [{ host: '10.0.0.9', port: 1 }, { host: 'fd77::9', port: 2 }];
  const bytes = encodeKrpc({ y: 'r', t: Buffer.from('aa'), response: { id: id(9), nodes, values, token: Buffer.from('tok') } });
  const raw = decode(bytes);
  const r = isDict(raw) && isDict(raw.r) ? raw.r : undefined;
  t.is((r?.nodes as Uint8Array).length, 26);
  t.is((r?.nodes6 as Uint8Array).length, 2 * COMPACT_NODE6_BYTES);
  t.true(isList(r?.values) && (r!.values as Uint8Array[]).map((v) => v.length).join() === '6,18');
  const back = decodeKrpc(bytes);
  t.true(back.y === 'r');
  if (back.y !== 'r') return;
  t.deepEqual(back.response.nodes?.map((n) => n.host), ['10.0.0.1', '::1', 'fd77::3']);
  t.deepEqual(back.response.values, values);
  const v6only = decode(encodeKrpc({ y: 'r', t: Buffer.from('aa'), response: { id: id(9), nodes: nodes.slice(1) } }));
  t.true(isDict(v6only) && isDict(v6only.r) && v6only.r.nodes === undefined && (v6only.r.nodes6 as Uint8Array).length === 76, 'an IPv6 node answers with nodes6 alone');
  const bad = encode({ t: 'aa', y: 'r', r: { id: Buffer.alloc(20), nodes6: Buffer.alloc(39) } });
  t.throws(() => decodeKrpc(bad), { message: /r.nodes6: expected a multiple of 38 bytes/ });
  t.deepEqual(decodeCompactNodes6(encodeCompactNodes6(nodes)), nodes.slice(1));
});

test('BEP 42 over IPv6: ::1 loopback, ULA and link-local exempt, ids checked against the /64', (t) => {
  t.is(addressClass('::1'), 'loopback');
  t.is(addressClass('fd77::2'), 'local');
  t.is(addressClass('fe80::1'), 'local');
  t.is(addressClass('2001:db8::1'), 'public');
  t.is(subnetOf('2001:db8:1:2:3:4:5:6'), '20010db800010002::/64');
  const id = bep42NodeId('2001:db8:1:2::1');
  t.true(bep42Matches(id, '2001:db8:1:2::99'), 'the same /64 matches');
  t.false(bep42Matches(id, '2001:db8:1:3::1') && bep42Matches(id, '2001:db9:1:2::1') && bep42Matches(id, '3001:db8:1:2::1'), 'other /64s do not all match');
});

test('one spelling per address: IPv4-mapped to IPv4, brackets dropped, lower case; --host parsing', (t) => {
  t.is(plainHost('::ffff:10.1.2.3'), '10.1.2.3');
  t.is(plainHost('::FFFF:127.0.0.1'), '127.0.0.1');
  t.is(plainHost('[::1]'), '::1');
  t.is(plainHost('FD77::2'), 'fd77::2');
  t.is(plainHost('10.0.0.1'), '10.0.0.1');
  t.true(isWildcardHost('::') && isWildcardHost('0.0.0.0') && !isWildcardHost('::1'));
  t.is(formatHostPort('::1', 5), '[::1]:5');
  t.is(formatHostPort('10.0.0.1', 5), '10.0.0.1:5');
  t.is(parseHost('::1'), '::1');
  t.is(parseHost('[fd77::2]'), 'fd77::2');
  t.is(parseHost('::ffff:127.0.0.1'), '127.0.0.1');
  t.is(parseHost('localhost'), 'localhost');
  t.throws(() => parseHost('::1::2'), { instanceOf: UsageError });
  t.throws(() => parseHost('a b'), { instanceOf: UsageError });
});
