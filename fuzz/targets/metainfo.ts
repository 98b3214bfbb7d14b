/**
 * Feeds .torrent bytes to the whole metainfo path: the bencode scanner and
 * decoder, then the strict metainfo validation (parseTorrent), and the info
 * dict alone as BEP 9 metadata would arrive (parseInfoDict). Also feeds the
 * same bytes as text to the magnet parser. Every input must end in a value,
 * a BencodeError or a MetainfoError.
 */
import { encode } from '../../src/bencode/index.js';
import { BencodeError, MetainfoError } from '../../src/errors.js';
import { buildTorrent } from '../../src/metainfo/create.js';
import { parseMagnet } from '../../src/metainfo/magnet.js';
import { parseInfoDict, parseTorrent } from '../../src/metainfo/parse.js';
import type { FuzzTarget } from '../target.js';

const PL = 16384;
const h = (n: number): Uint8Array => new Uint8Array(20 * n).map((_, i) => (i * 7) & 0xff);

function seeds(): Uint8Array[] {
  const single = buildTorrent({ name: 'a.bin', files: PL + 1, pieceLength: PL, pieces: h(2), announce: ['http://127.0.0.1:6969/announce', 'udp://127.0.0.1:1'], private: true, comment: 'c', creationDate: 1_700_000_000 });
  const multi = buildTorrent({
    name: 'dir',
    files: [{ path: ['a', 'b.txt'], length: 3 }, { path: ['c'], length: 0 }, { path: ['d', 'e', 'f'], length: PL }],
    pieceLength: PL,
    pieces: h(2),
    urlList: ['http://127.0.0.1/ws/'],
  });
  const unusual = encode({ 'announce-list': [[], ['http://x/a']], 'url-list': 'http://y/', info: { name: Buffer.from([0xc3, 0x28]), 'name.utf-8': 'ok', 'piece length': 1, pieces: h(3), length: 3, x: { deep: [[[1]]] } } });
  const magnet = Buffer.from('magnet:?xt=urn:btih:c12fe1c06bba254a9dc9f519b335aa7c1367a88a&dn=a+b%20c&tr=http%3A%2F%2F127.0.0.1%3A6969&x.pe=127.0.0.1:6881');
  const infoOnly = encode({ name: 'm', 'piece length': PL, pieces: h(1), files: [{ length: 7, path: ['x'] }] });
  return [single, multi, unusual, magnet, infoOnly];
}

const target: FuzzTarget = {
  name: 'metainfo',
  seeds,
  run(input) {
    if (input[0] === 0x6d /* m */) {
      parseMagnet(Buffer.from(input).toString('latin1'));
      return;
    }
    try {
      parseTorrent(input);
    } finally {
      // The same bytes as a bare info dict (BEP 9 metadata), whatever the first parse said.
      try {
        parseInfoDict(input);
      } catch (err) {
        if (!target.expected(err)) throw err;
      }
    }
  },
  expected: (err) => err instanceof BencodeError || err instanceof MetainfoError,
};
export default target;
