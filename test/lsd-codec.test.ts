import test from 'ava';
import {
  LSD_IPV4_GROUP,
  LSD_IPV6_GROUP,
  LSD_MAX_DATAGRAM_BYTES,
  LSD_MAX_HEADER_LINES,
  LSD_MAX_INFOHASHES,
  batchInfoHashes,
  encodeLsdAnnounce,
  lsdHostHeader,
  parseLsdAnnounce,
  type LsdParseResult,
} from '../src/discovery/lsd-codec.js';

const IH1 = '0123456789abcdef0123456789abcdef01234567';
const IH2 = 'fedcba9876543210fedcba9876543210fedcba98';

const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const refusal = (r: LsdParseResult): string => (r.ok ? 'ok' : r.reason);

test('encode: the BEP 14 layout, byte for byte', (t) => {
  const d = encodeLsdAnnounce({ host: lsdHostHeader(LSD_IPV4_GROUP), port: 6881, infoHashes: [IH1], cookie: 'abc123' });
  t.is(Buffer.from(d).toString('latin1'), `BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: ${IH1}\r\ncookie: abc123\r\n\r\n\r\n`);
  t.is(lsdHostHeader(LSD_IPV6_GROUP), '[ff15::efc0:988f]:6771');
});

test('round trip: several hashes (bytes or hex, upper case lowered), cookie, host', (t) => {
  const raw = Uint8Array.from(Buffer.from(IH2, 'hex'));
  const d = encodeLsdAnnounce({ host: lsdHostHeader(LSD_IPV6_GROUP), port: 65535, infoHashes: [IH1.toUpperCase(), raw], cookie: 'c' });
  t.deepEqual(parseLsdAnnounce(d), { ok: true, announce: { port: 65535, infoHashes: [IH1, IH2], cookie: 'c', host: '[ff15::efc0:988f]:6771' } });
  const noCookie = parseLsdAnnounce(encodeLsdAnnounce({ host: 'h:1', port: 1, infoHashes: [IH1] }));
  t.true(noCookie.ok && noCookie.announce.cookie === undefined);
});

test('encode refuses misuse', (t) => {
  const base = { host: 'h:1', port: 6881, infoHashes: [IH1] };
  t.throws(() => encodeLsdAnnounce({ ...base, port: 0 }), { instanceOf: RangeError });
  t.throws(() => encodeLsdAnnounce({ ...base, port: 65536 }), { instanceOf: RangeError });
  t.throws(() => encodeLsdAnnounce({ ...base, infoHashes: [] }), { instanceOf: RangeError });
  t.throws(() => encodeLsdAnnounce({ ...base, infoHashes: Array(LSD_MAX_INFOHASHES + 1).fill(IH1) }), { instanceOf: RangeError });
  t.throws(() => encodeLsdAnnounce({ ...base, infoHashes: ['xyz'] }), { instanceOf: RangeError });
  t.throws(() => encodeLsdAnnounce({ ...base, infoHashes: [new Uint8Array(19)] }), { instanceOf: RangeError });
  t.throws(() => encodeLsdAnnounce({ ...base, cookie: 'a b' }), { instanceOf: RangeError });
  t.throws(() => encodeLsdAnnounce({ ...base, cookie: 'x'.repeat(65) }), { instanceOf: RangeError });
});

test('a full batch fits the datagram bound', (t) => {
  const many = Array.from({ length: LSD_MAX_INFOHASHES }, (_, i) => i.toString(16).padStart(40, '0'));
  const d = encodeLsdAnnounce({ host: lsdHostHeader(LSD_IPV6_GROUP), port: 6881, infoHashes: many, cookie: 'f'.repeat(64) });
  t.true(d.length <= LSD_MAX_DATAGRAM_BYTES);
  const r = parseLsdAnnounce(d);
  t.true(r.ok && r.announce.infoHashes.length === LSD_MAX_INFOHASHES);
  t.deepEqual(batchInfoHashes([1, 2, 3, 4, 5], 2), [[1, 2], [3, 4], [5]]);
  t.deepEqual(batchInfoHashes([]), []);
});

test('parse: what other clients send (bare LF, header case, extra headers, no trailing blank lines)', (t) => {
  const r = parseLsdAnnounce(bytes(`BT-SEARCH * HTTP/1.1\nhost: 239.192.152.143:6771\nPORT: 51413\nX-Other: 1\ninfohash: ${IH1.toUpperCase()}\nInfohash: ${IH1}\nCookie: q\n`));
  t.deepEqual(r, { ok: true, announce: { port: 51413, infoHashes: [IH1], cookie: 'q', host: '239.192.152.143:6771' } });
});

test('parse refuses hostile or broken datagrams with a typed reason', (t) => {
  const head = 'BT-SEARCH * HTTP/1.1\r\n';
  const ih = `Infohash: ${IH1}\r\n`;
  const cases: [string, string][] = [
    ['', 'not-bt-search'],
    ['GET / HTTP/1.1\r\n\r\n', 'not-bt-search'],
    ['NOTIFY * HTTP/1.1\r\nPort: 1\r\n' + ih, 'not-bt-search'],
    [head + ih + '\r\n', 'no-port'],
    [head + 'Port: 6881\r\n\r\n', 'no-infohash'],
    [head + 'Port: 0\r\n' + ih, 'bad-port'],
    [head + 'Port: 65536\r\n' + ih, 'bad-port'],
    [head + 'Port: -1\r\n' + ih, 'bad-port'],
    [head + 'Port: 12x\r\n' + ih, 'bad-port'],
    [head + 'Port: 0000006881\r\n' + ih, 'bad-port'],
    [head + 'Port: 1\r\nPort: 2\r\n' + ih, 'bad-port'],
    [head + 'Port: 1\r\nInfohash: 1234\r\n', 'bad-infohash'],
    [head + `Port: 1\r\nInfohash: ${'g'.repeat(40)}\r\n`, 'bad-infohash'],
    [head + `Port: 1\r\nInfohash: ${'a'.repeat(64)}\r\n`, 'bad-infohash'],
    [head + 'Port: 1\r\n' + ih + 'cookie: a\r\ncookie: b\r\n', 'bad-cookie'],
    [head + 'Port: 1\r\n' + ih + `cookie: ${'a'.repeat(65)}\r\n`, 'bad-cookie'],
    [head + 'Port: 1\r\n' + ih + 'cookie: \u00ff\r\n', 'bad-cookie'],
    [head + 'Port: 1\r\nno colon here\r\n' + ih, 'bad-line'],
    [head + 'Port: 1\r\n: empty name\r\n' + ih, 'bad-line'],
    [head + `Port: 1\r\nX-Long: ${'a'.repeat(300)}\r\n` + ih, 'bad-line'],
    [head + 'Port: 1\r\n' + ih + 'X: 1\r\n'.repeat(LSD_MAX_HEADER_LINES), 'too-many-lines'],
    [head + 'Port: 1\r\n' + Array.from({ length: LSD_MAX_INFOHASHES + 1 }, (_, i) => `Infohash: ${i.toString(16).padStart(40, '0')}\r\n`).join(''), 'too-many-infohashes'],
  ];
  for (const [text, reason] of cases) t.is(refusal(parseLsdAnnounce(bytes(text))), reason, JSON.stringify(text.slice(0, 80)));
  t.is(refusal(parseLsdAnnounce(new Uint8Array(LSD_MAX_DATAGRAM_BYTES + 1))), 'too-large');
  // Lines after the blank line are not read: a second announce smuggled there is ignored.
  const r = parseLsdAnnounce(bytes(head + 'Port: 1\r\n' + ih + '\r\n' + `Infohash: ${IH2}\r\n`));
  t.true(r.ok && r.announce.infoHashes.length === 1);
});

test('every prefix and every single-byte corruption of an announce parses to a value or a refusal, never a throw', (t) => {
  const d = encodeLsdAnnounce({ host: lsdHostHeader(LSD_IPV4_GROUP), port: 6881, infoHashes: [IH1, IH2], cookie: 'abcdef' });
  let accepted = 0;
  for (let cut = 0; cut <= d.length; cut++) {
    const r = parseLsdAnnounce(d.subarray(0, cut));
    if (r.ok) {
      accepted++;
      // A truncated announce is only accepted when what it says is a prefix of the whole one.
      t.is(r.announce.port, 6881);
      t.true(r.announce.infoHashes.every((h) => h === IH1 || h === IH2));
    }
  }
  t.true(accepted > 0);
  for (let i = 0; i < d.length; i++) {
    for (const b of [0x00, 0x0a, 0x0d, 0x3a, 0x7f, 0xff]) {
      const c = Uint8Array.from(d);
      c[i] = b;
      t.notThrows(() => parseLsdAnnounce(c));
    }
  }
  // Random garbage, seeded so a failure reproduces.
  let seed = 12345;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  for (let n = 0; n < 500; n++) {
    const g = Uint8Array.from({ length: rand() * 4 }, rand);
    const r = parseLsdAnnounce(g);
    t.false(r.ok);
  }
});
