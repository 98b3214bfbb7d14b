import test from 'ava';
import { MetainfoError } from '../src/errors.js';
import { buildTorrent } from '../src/metainfo/create.js';
import { formatMagnet, magnetOf, parseMagnet } from '../src/metainfo/magnet.js';
import { parseTorrent } from '../src/metainfo/parse.js';
import { base32Encode, fromHex } from '../src/util/bytes.js';

const HEX = 'c12fe1c06bba254a9dc9f519b335aa7c1367a88a';

test('parses a hex btih with dn, repeated tr and x.pe', (t) => {
  const m = parseMagnet(`magnet:?xt=urn:btih:${HEX.toUpperCase()}&dn=My+File%20%C3%A9.iso&tr=http%3A%2F%2F127.0.0.1%3A6969%2Fannounce&tr=udp%3A%2F%2F127.0.0.2%3A6969&x.pe=127.0.0.1:6881&x.pe=%5B%3A%3A1%5D%3A7000`);
  t.is(m.infoHashHex, HEX);
  t.deepEqual([...m.infoHash], [...fromHex(HEX)]);
  t.is(m.name, 'My File é.iso');
  t.deepEqual(m.trackers, ['http://127.0.0.1:6969/announce', 'udp://127.0.0.2:6969']);
  t.deepEqual(m.peers, ['127.0.0.1:6881', '[::1]:7000']);
});

test('a base32 btih gives the same info-hash as its hex form', (t) => {
  const b32 = base32Encode(fromHex(HEX));
  t.is(b32.length, 32);
  t.is(parseMagnet(`magnet:?xt=urn:btih:${b32}`).infoHashHex, HEX);
  t.is(parseMagnet(`magnet:?xt=urn:btih:${b32.toLowerCase()}`).infoHashHex, HEX);
});

test('format then parse is the identity', (t) => {
  const input = { infoHashHex: HEX, name: 'a & b=c?.txt', trackers: ['http://127.0.0.1:6969/announce?x=1&y=2'], peers: ['127.0.0.1:6881'] };
  const m = parseMagnet(formatMagnet(input));
  t.is(m.infoHashHex, HEX);
  t.is(m.name, input.name);
  t.deepEqual(m.trackers, input.trackers);
  t.deepEqual(m.peers, input.peers);
});

test('ignores other hash schemes and unknown keys', (t) => {
  const m = parseMagnet(`magnet:?xt=urn:btmh:1220abcd&xt=urn:btih:${HEX}&ws=http%3A%2F%2Fx&kt=a+b`);
  t.is(m.infoHashHex, HEX);
  t.is(m.name, undefined);
});

const bad: [string, string, string][] = [
  ['not a magnet', 'http://example/x', 'magnet'],
  ['no btih', 'magnet:?dn=x', 'xt'],
  ['a short hash', 'magnet:?xt=urn:btih:abcd', 'xt'],
  ['a non-hex 40-character hash', `magnet:?xt=urn:btih:${'z'.repeat(40)}`, 'xt'],
  ['two different hashes', `magnet:?xt=urn:btih:${HEX}&xt.1=urn:btih:${'0'.repeat(40)}`, 'xt'],
  ['x.pe without a port', `magnet:?xt=urn:btih:${HEX}&x.pe=127.0.0.1`, 'x.pe'],
  ['x.pe with port 0', `magnet:?xt=urn:btih:${HEX}&x.pe=127.0.0.1:0`, 'x.pe'],
  ['bad percent-encoding', `magnet:?xt=urn:btih:${HEX}&dn=%E0%A4%A`, 'dn'],
];
for (const [what, uri, field] of bad) {
  test(`refuses ${what}`, (t) => {
    const err = t.throws(() => parseMagnet(uri), { instanceOf: MetainfoError });
    t.is(err!.field, field);
  });
}

test('magnetOf carries the info-hash, name and every tracker', (t) => {
  const meta = parseTorrent(buildTorrent({ name: 'x y', files: 1, pieceLength: 16384, pieces: new Uint8Array(20), announce: ['http://127.0.0.1:1/a', 'http://127.0.0.1:2/a'] }));
  const m = parseMagnet(magnetOf(meta));
  t.is(m.infoHashHex, meta.infoHashHex);
  t.is(m.name, 'x y');
  t.deepEqual(m.trackers, ['http://127.0.0.1:1/a', 'http://127.0.0.1:2/a']);
});
