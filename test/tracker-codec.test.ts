import test from 'ava';
import { decode, encode, isDict, isList } from '../src/bencode/index.js';
import { TrackerError } from '../src/errors.js';
import { buildAnnounceUrl, encodeAnnounceReply, encodeFailure, parseAnnounceQuery, parseAnnounceReply, percentDecode, percentEncode } from '../src/tracker/http-codec.js';
import { buildScrapeUrl, encodeScrapeReply, parseScrapeQuery, parseScrapeReply, scrapeUrlFor } from '../src/tracker/http-scrape.js';
import { decodeUdpRequest, decodeUdpResponse, encodeUdpRequest, encodeUdpResponse, PROTOCOL_ID, type UdpRequest, type UdpResponse } from '../src/tracker/udp-codec.js';
import { toHex } from '../src/util/bytes.js';

/** Every byte value, so percent-coding of non-UTF-8 bytes is exercised. */
const binHash = Uint8Array.from({ length: 20 }, (_, i) => (i * 37 + 0x80) & 0xff);
const binId = Uint8Array.from({ length: 20 }, (_, i) => (255 - i * 11) & 0xff);

test('percent-encoding round-trips every byte value', (t) => {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  t.deepEqual(percentDecode(percentEncode(all), 'x'), all);
  t.is(percentEncode(Uint8Array.from([0x41, 0x20, 0xff])), 'A%20%FF');
});

test('announce query: raw-byte info_hash and peer_id, counters, event, numwant, compact flags', (t) => {
  const url = buildAnnounceUrl('http://t/announce', { infoHash: binHash, peerId: binId, port: 6881, uploaded: 1, downloaded: 2, left: 3, event: 'started', numwant: 7, key: 0xdeadbeef });
  const q = url.slice(url.indexOf('?') + 1);
  const r = parseAnnounceQuery(q);
  t.deepEqual(r.infoHash, binHash);
  t.deepEqual(r.peerId, binId);
  t.is(r.port, 6881);
  t.is(r.uploaded, 1);
  t.is(r.downloaded, 2);
  t.is(r.left, 3);
  t.is(r.event, 'started');
  t.is(r.numwant, 7);
  t.is(r.key, 'deadbeef');
  t.true(r.compact);
  t.false(r.noPeerId);
  const r2 = parseAnnounceQuery(q + '&compact=0&no_peer_id=1');
  t.false(r2.compact);
  t.true(r2.noPeerId);
});

test('announce URL keeps an existing query (passkeys)', (t) => {
  const url = buildAnnounceUrl('http://t/announce?pk=1', { infoHash: binHash, peerId: binId, port: 1, uploaded: 0, downloaded: 0, left: 0 });
  t.true(url.startsWith('http://t/announce?pk=1&info_hash='));
});

test('announce query refusals name the field', (t) => {
  const good = buildAnnounceUrl('', { infoHash: binHash, peerId: binId, port: 6881, uploaded: 0, downloaded: 0, left: 0 }).slice(1);
  const cases: [string, RegExp][] = [
    [good.replace(/info_hash=[^&]*&/, ''), /missing info_hash/],
    [good.replace(/info_hash=[^&]*/, 'info_hash=abc'), /info_hash: expected 20 bytes, got 3/],
    [good.replace(/peer_id=[^&]*/, 'peer_id=%41'), /peer_id: expected 20 bytes/],
    [good.replace(/port=\d+/, 'port=0'), /port/],
    [good.replace(/port=\d+/, 'port=70000'), /port: out of range/],
    [good.replace(/port=\d+/, 'port=-1'), /port: not a non-negative integer/],
    [good + '&numwant=abc', /numwant/],
    [good + '&event=exploded', /event/],
    [good + '&info_hash=' + percentEncode(binHash), /info_hash: given more than once/],
    [good.replace(/info_hash=%/, 'info_hash=%G'), /broken percent escape/],
  ];
  for (const [q, re] of cases) {
    const err = t.throws(() => parseAnnounceQuery(q), { instanceOf: TrackerError });
    t.regex(err!.message, re, q);
  }
});

test('scrape query: several raw info-hashes; short ones refused', (t) => {
  const other = new Uint8Array(20).fill(0x25);
  const url = buildScrapeUrl('http://t/scrape', [binHash, other]);
  t.deepEqual(parseScrapeQuery(url.slice(url.indexOf('?') + 1)), [binHash, other]);
  t.throws(() => parseScrapeQuery('info_hash=abc'), { instanceOf: TrackerError, message: /20 bytes/ });
});

test('scrape URL from announce URL (BEP 48)', (t) => {
  t.is(scrapeUrlFor('http://a:1/announce'), 'http://a:1/scrape');
  t.is(scrapeUrlFor('http://a:1/x/announce.php?k=1'), 'http://a:1/x/scrape.php?k=1');
  t.is(scrapeUrlFor('http://a:1/a'), undefined);
});

test('announce reply round trip: compact peers, counts, min interval, warning', (t) => {
  const peers = [{ host: '127.0.0.2', port: 6881 }, { host: '10.0.0.1', port: 65535 }];
  const body = encodeAnnounceReply({ interval: 120, minInterval: 30, complete: 2, incomplete: 5, warning: 'hi', trackerId: 'tid', peers }, { compact: true, noPeerId: false });
  const d = decode(body);
  t.true(isDict(d) && d.peers instanceof Uint8Array && d.peers.length === 12);
  const r = parseAnnounceReply(body);
  t.deepEqual(r.peers, peers);
  t.is(r.interval, 120);
  t.is(r.minInterval, 30);
  t.is(r.complete, 2);
  t.is(r.incomplete, 5);
  t.is(r.warning, 'hi');
  t.is(r.trackerId, 'tid');
});

test('announce reply: dict peers with and without peer ids', (t) => {
  const peers = [{ host: '127.0.0.2', port: 6881, peerId: binId }];
  const withIds = parseAnnounceReply(encodeAnnounceReply({ interval: 60, peers }, { compact: false, noPeerId: false }));
  t.deepEqual(withIds.peers, peers);
  const body = encodeAnnounceReply({ interval: 60, peers }, { compact: false, noPeerId: true });
  const d = decode(body);
  t.true(isDict(d) && isList(d.peers) && isDict(d.peers[0]) && !('peer id' in d.peers[0]));
  t.deepEqual(parseAnnounceReply(body).peers, [{ host: '127.0.0.2', port: 6881 }]);
});

test('announce reply: failure reason becomes a TrackerError; garbage is refused', (t) => {
  t.throws(() => parseAnnounceReply(encodeFailure('go away')), { instanceOf: TrackerError, message: /go away/ });
  t.throws(() => parseAnnounceReply(Buffer.from('not bencode')), { instanceOf: TrackerError });
  t.throws(() => parseAnnounceReply(encode({ peers: '' })), { instanceOf: TrackerError, message: /interval/ });
  t.throws(() => parseAnnounceReply(encode({ interval: 1, peers: Buffer.alloc(7) })), { instanceOf: TrackerError, message: /multiple of 6/ });
});

test('scrape reply with binary info-hash keys round-trips', (t) => {
  const other = new Uint8Array(20).fill(0x00);
  const body = encodeScrapeReply([
    { infoHash: binHash, complete: 1, incomplete: 2, downloaded: 3 },
    { infoHash: other, complete: 4, incomplete: 5, downloaded: 6 },
  ]);
  const m = parseScrapeReply(body);
  t.deepEqual(m.get(toHex(binHash)), { complete: 1, incomplete: 2, downloaded: 3 });
  t.deepEqual(m.get(toHex(other)), { complete: 4, incomplete: 5, downloaded: 6 });
  // The keys are sorted as raw bytes (bencode), so the all-zero hash comes first.
  t.true(Buffer.from(body).indexOf(Buffer.from(other)) < Buffer.from(body).indexOf(Buffer.from(binHash)));
});

test('UDP requests round-trip (BEP 15 layout)', (t) => {
  const reqs: UdpRequest[] = [
    { action: 'connect', transactionId: 0xfedcba98 },
    {
      action: 'announce', connectionId: 0x1122334455667788n, transactionId: 7, infoHash: binHash, peerId: binId,
      downloaded: 2 ** 40, left: 5, uploaded: 6, event: 'completed', ip: 0, key: 0xabcdef01, numwant: -1, port: 51413,
    },
    { action: 'scrape', connectionId: 1n, transactionId: 9, infoHashes: [binHash, binId] },
  ];
  for (const r of reqs) t.deepEqual(decodeUdpRequest(encodeUdpRequest(r)), r);
  const connect = Buffer.from(encodeUdpRequest(reqs[0]!));
  t.is(connect.readBigUInt64BE(0), PROTOCOL_ID);
  t.is(connect.readBigUInt64BE(0), 0x41727101980n);
  t.is(encodeUdpRequest(reqs[1]!).length, 98);
});

test('UDP responses round-trip', (t) => {
  const res: UdpResponse[] = [
    { action: 'connect', transactionId: 1, connectionId: 0xffffffffffffffffn },
    { action: 'announce', transactionId: 2, interval: 120, leechers: 3, seeders: 4, peers: [{ host: '127.0.0.9', port: 9 }] },
    { action: 'scrape', transactionId: 3, files: [{ seeders: 1, completed: 2, leechers: 3 }] },
    { action: 'error', transactionId: 4, message: 'nope' },
  ];
  for (const r of res) t.deepEqual(decodeUdpResponse(encodeUdpResponse(r)), r);
});

test('UDP request refusals: short packets, wrong protocol id, unknown action, bad scrape length', (t) => {
  t.throws(() => decodeUdpRequest(new Uint8Array(15)), { instanceOf: TrackerError });
  const badMagic = Buffer.from(encodeUdpRequest({ action: 'connect', transactionId: 1 }));
  badMagic[0] ^= 1;
  t.throws(() => decodeUdpRequest(badMagic), { instanceOf: TrackerError, message: /protocol id/ });
  const unknown = Buffer.alloc(16);
  unknown.writeUInt32BE(9, 8);
  t.throws(() => decodeUdpRequest(unknown), { instanceOf: TrackerError, message: /unknown action/ });
  const shortAnnounce = Buffer.alloc(60);
  shortAnnounce.writeUInt32BE(1, 8);
  t.throws(() => decodeUdpRequest(shortAnnounce), { instanceOf: TrackerError, message: /98/ });
  const badScrape = Buffer.alloc(16 + 19);
  badScrape.writeUInt32BE(2, 8);
  t.throws(() => decodeUdpRequest(badScrape), { instanceOf: TrackerError, message: /multiple of 20/ });
});

test('scrape reply keys written as UTF-8 of Latin-1 (bittorrent-tracker server) are recovered', (t) => {
  const mangled = Buffer.from(Buffer.from(binHash).toString('latin1'), 'utf8');
  t.true(mangled.length > 20);
  const body = Buffer.concat([Buffer.from(`d5:filesd${mangled.length}:`), mangled, Buffer.from('d8:completei1e10:downloadedi2e10:incompletei3eeee')]);
  t.deepEqual(parseScrapeReply(body).get(toHex(binHash)), { complete: 1, incomplete: 3, downloaded: 2 });
});
