/** The make-torrent bin's early start (src/cli/make-torrent-early.ts): what it makes of a command line. */
import test from 'ava';
import { sniffMakeTorrentArgs } from '../src/cli/make-torrent-early.js';

test('reads the path and the last -l from the command lines commander accepts', (t) => {
  t.deepEqual(sniffMakeTorrentArgs(['big.iso']), { path: 'big.iso' });
  t.deepEqual(sniffMakeTorrentArgs(['big.iso', '-l', '4M', '-o', 'x.torrent', '--force', '--json']), { path: 'big.iso', pieceLength: '4M' });
  t.deepEqual(sniffMakeTorrentArgs(['-a', 'http://t/announce', '--piece-length=1M', '--no-date', 'dir', '-l256K']), { path: 'dir', pieceLength: '256K' });
  t.deepEqual(sniffMakeTorrentArgs(['--comment', 'a b', '--web-seed', 'http://w/', '--private', '--log-level', 'debug', 'f', '--output=o']), { path: 'f' });
  t.deepEqual(sniffMakeTorrentArgs(['-', '-l', '1M']), { path: '-', pieceLength: '1M' });
});

test('starts nothing for help, version, an unknown option, two paths, no path, --, or a value that looks like a flag', (t) => {
  for (const argv of [
    [], ['--help'], ['-h'], ['-V'], ['--version'], ['f', '--bogus'], ['f', '-x'], ['a', 'b'], ['-l', '1M'],
    ['--', 'f'], ['f', '-o', '--force'], ['f', '-l'], [''], ['f', '-fa', 'x'],
  ]) {
    t.is(sniffMakeTorrentArgs(argv), undefined, JSON.stringify(argv));
  }
});
