/**
 * BEP 19 URL rules and run splitting (src/session/web-seed-url.ts): pure
 * functions, known answers.
 */
import test from 'ava';
import { buildTorrent } from '../src/metainfo/create.js';
import { parseTorrent } from '../src/metainfo/parse.js';
import type { InfoDict } from '../src/metainfo/types.js';
import { parseContentRange, parseWebSeedUrl, rangeHeader, sliceRun, webSeedFileUrl } from '../src/session/web-seed-url.js';

function info(name: string, files: { path: string[]; length: number }[] | number, pieceLength = 16): InfoDict {
  const total = typeof files === 'number' ? files : files.reduce((n, f) => n + f.length, 0);
  const pieces = new Uint8Array(20 * Math.ceil(total / pieceLength));
  return parseTorrent(buildTorrent({ name, files, pieceLength, pieces })).info;
}

function base(s: string): URL {
  const p = parseWebSeedUrl(s);
  if ('error' in p) throw new Error(p.error);
  return p.url;
}

test('single-file: the URL is the file; a URL ending in / gets the name appended, percent-encoded', (t) => {
  const i = info('my file 100%.iso', 40);
  t.is(webSeedFileUrl(base('http://example.test/pub/other-name.iso'), i, 0), 'http://example.test/pub/other-name.iso');
  t.is(webSeedFileUrl(base('http://example.test/pub/'), i, 0), 'http://example.test/pub/my%20file%20100%25.iso');
  t.is(webSeedFileUrl(base('http://example.test/'), info('Ünïcödé ☃.bin', 40), 0), 'http://example.test/%C3%9Cn%C3%AFc%C3%B6d%C3%A9%20%E2%98%83.bin');
});

test('multi-file: URL + name + / + each path component percent-encoded, with or without the trailing /', (t) => {
  const i = info('My Show', [
    { path: ['Season 1', 'ep 1 #1?.mkv'], length: 20 },
    { path: ['ä', 'b%c', 'd e'], length: 30 },
  ]);
  t.is(webSeedFileUrl(base('https://mirror.test/files/'), i, 0), 'https://mirror.test/files/My%20Show/Season%201/ep%201%20%231%3F.mkv');
  t.is(webSeedFileUrl(base('https://mirror.test/files'), i, 1), 'https://mirror.test/files/My%20Show/%C3%A4/b%25c/d%20e');
  t.is(webSeedFileUrl(base('http://mirror.test'), i, 1), 'http://mirror.test/My%20Show/%C3%A4/b%25c/d%20e');
  t.throws(() => webSeedFileUrl(base('http://mirror.test/'), i, 2), { instanceOf: RangeError });
});

test('a name can never add a path level or a query: / ? # and .. are encoded or stay one component', (t) => {
  // The parser refuses unsafe names; encoding still keeps whatever it lets through inside one component.
  const i = info('a?b#c', [{ path: ['x&y=z', 'q'], length: 4 }]);
  t.is(webSeedFileUrl(base('http://h.test/'), i, 0), 'http://h.test/a%3Fb%23c/x%26y%3Dz/q');
});

test('only http and https URLs are used; user info is refused', (t) => {
  t.true('url' in parseWebSeedUrl('http://h.test/x'));
  t.true('url' in parseWebSeedUrl('https://h.test/x'));
  t.regex((parseWebSeedUrl('ftp://h.test/x') as { error: string }).error, /unsupported scheme ftp/);
  t.regex((parseWebSeedUrl('file:///etc/passwd') as { error: string }).error, /unsupported scheme file/);
  t.regex((parseWebSeedUrl('not a url') as { error: string }).error, /not a valid URL/);
  t.regex((parseWebSeedUrl('http://u:p@h.test/') as { error: string }).error, /user info/);
});

test('a run is split into one range per file it crosses; empty files are skipped; pad files are marked', (t) => {
  const i = info('d', [
    { path: ['a'], length: 10 },
    { path: ['empty'], length: 0 },
    { path: ['b'], length: 5 },
    { path: ['c'], length: 30 },
  ]);
  t.deepEqual(sliceRun(i, 4, 20), [
    { fileIndex: 0, fileOffset: 4, length: 6, runOffset: 0, pad: false },
    { fileIndex: 2, fileOffset: 0, length: 5, runOffset: 6, pad: false },
    { fileIndex: 3, fileOffset: 0, length: 9, runOffset: 11, pad: false },
  ]);
  t.deepEqual(sliceRun(i, 16, 16), [{ fileIndex: 3, fileOffset: 1, length: 16, runOffset: 0, pad: false }]);
  t.throws(() => sliceRun(i, 40, 10), { instanceOf: RangeError });
  const padded = { ...i, files: i.files.map((f, k) => (k === 2 ? { ...f, pad: true as const } : f)) };
  t.deepEqual(
    sliceRun(padded, 8, 10).map((s) => [s.fileIndex, s.pad]),
    [
      [0, false],
      [2, true],
      [3, false],
    ],
  );
});

test('Range and Content-Range', (t) => {
  t.is(rangeHeader(0, 1), 'bytes=0-0');
  t.is(rangeHeader(16384, 32768), 'bytes=16384-49151');
  t.deepEqual(parseContentRange('bytes 16384-49151/100000'), { start: 16384, end: 49151, total: 100000 });
  t.deepEqual(parseContentRange('bytes 0-9/*'), { start: 0, end: 9 });
  t.is(parseContentRange(undefined), undefined);
  t.is(parseContentRange('bytes 9-0/10'), undefined);
  t.is(parseContentRange('bytes */10'), undefined);
  t.is(parseContentRange('items 0-9/10'), undefined);
  t.is(parseContentRange('bytes 0-99999999999999999/10'), undefined);
});
