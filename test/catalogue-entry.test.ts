/**
 * The catalogue of files by name, without a network: the entry codec
 * (src/session/catalogue-entry.ts) and listing/resolving over a KV layer
 * (src/session/catalogue.ts) given as an in-memory fake.
 */
import test from 'ava';
import { encode } from '../src/bencode/index.js';
import { parseMagnet } from '../src/metainfo/magnet.js';
import {
  MAX_CATALOGUE_NAME_BYTES,
  MAX_ENTRY_TRACKERS,
  catalogueNameProblem,
  decodeEntry,
  encodeEntry,
  listCatalogue,
  matchesPattern,
  resolveName,
  type CatalogueKv,
} from '../src/session/catalogue.js';
import { KvError } from '../src/errors.js';

const HASH = '0123456789abcdef0123456789abcdef01234567';

test('an entry round-trips: magnet with the info-hash and name, length, files, added', (t) => {
  const text = encodeEntry({ infoHash: HASH, displayName: 'holiday video.mp4', trackers: ['http://10.0.0.1:6969/announce'], length: 123_456, files: 1, added: 1_700_000_000 });
  const d = decodeEntry('holiday', text);
  if (!d.ok) return t.fail(d.reason);
  t.is(d.entry.name, 'holiday');
  t.is(d.entry.infoHash, HASH);
  t.is(d.entry.length, 123_456);
  t.is(d.entry.files, 1);
  t.is(d.entry.added, 1_700_000_000);
  const m = parseMagnet(d.entry.magnet);
  t.is(m.infoHashHex, HASH);
  t.is(m.name, 'holiday video.mp4');
  t.deepEqual(m.trackers, ['http://10.0.0.1:6969/announce']);
  // Readable with `peer kv get`: plain JSON.
  t.deepEqual(Object.keys(JSON.parse(text)), ['magnet', 'length', 'files', 'added']);
});

test('an entry always fits one BEP 44 item: trackers beyond the few that fit are dropped, then the display name', (t) => {
  const long = (i: number): string => `http://tracker-${i}.example/${'x'.repeat(300)}/announce`;
  const many = encodeEntry({ infoHash: HASH, displayName: 'n', trackers: [long(1), long(2), long(3), long(4), long(5)], length: 1, files: 1, added: 0 });
  t.true(encode(Buffer.from(many)).length <= 1000);
  const m = parseMagnet(JSON.parse(many).magnet);
  t.true(m.trackers.length < MAX_ENTRY_TRACKERS, 'not every long tracker fits');
  t.is(m.name, 'n');
  // Only the first MAX_ENTRY_TRACKERS are ever taken.
  const short = encodeEntry({ infoHash: HASH, trackers: ['udp://a:1', 'udp://b:2', 'udp://c:3', 'udp://d:4'], length: 1, files: 1, added: 0 });
  t.is(parseMagnet(JSON.parse(short).magnet).trackers.length, MAX_ENTRY_TRACKERS);
  // A display name too long for the item is dropped: the info-hash is all a fetch needs.
  const huge = encodeEntry({ infoHash: HASH, displayName: '\u00e9'.repeat(2000), length: 5, files: 2, added: 0 });
  t.true(encode(Buffer.from(huge)).length <= 1000);
  t.is(parseMagnet(JSON.parse(huge).magnet).infoHashHex, HASH);
});

test('values that are not entries are refused with a reason, never thrown', (t) => {
  const bad: [string, RegExp][] = [
    ['', /not JSON/],
    ['hello', /not JSON/],
    ['[1,2]', /not a JSON object/],
    ['null', /not a JSON object/],
    ['{}', /no magnet/],
    ['{"magnet":42,"length":1}', /no magnet/],
    ['{"magnet":"http://example/","length":1}', /bad magnet/],
    ['{"magnet":"magnet:?xt=urn:btih:zz","length":1}', /bad magnet/],
    [`{"magnet":"magnet:?xt=urn:btih:${HASH}","length":0}`, /length/],
    [`{"magnet":"magnet:?xt=urn:btih:${HASH}","length":-5}`, /length/],
    [`{"magnet":"magnet:?xt=urn:btih:${HASH}","length":1.5}`, /length/],
    [`{"magnet":"magnet:?xt=urn:btih:${HASH}","length":1e300}`, /length/],
    [`{"magnet":"magnet:?xt=urn:btih:${HASH}","length":"7"}`, /length/],
    [`{"magnet":"magnet:?xt=urn:btih:${HASH}","length":7,"files":0}`, /files/],
    [`{"magnet":"magnet:?xt=urn:btih:${HASH}","length":7,"added":-1}`, /added/],
    ['{"magnet":"' + 'a'.repeat(70_000) + '"}', /too long/],
    [JSON.stringify({ magnet: `magnet:?xt=urn:btih:${HASH}&dn=\u001b[2Jx`, length: 1 }), /control characters/],
    [JSON.stringify({ magnet: `magnet:?xt=urn:btih:${HASH}&dn=\u009b2Jx`, length: 1 }), /control characters/],
  ];
  for (const [text, why] of bad) {
    const d = decodeEntry('x', text);
    t.false(d.ok, text.slice(0, 60));
    if (!d.ok) t.regex(d.reason, why, text.slice(0, 60));
  }
  // Unknown keys are ignored (a later version may add some); files and added are optional.
  const d = decodeEntry('x', `{"magnet":"magnet:?xt=urn:btih:${HASH}","length":7,"future":true}`);
  t.true(d.ok);
  if (d.ok) t.like(d.entry, { files: 1, added: 0, length: 7 });
});

test('names: 1 to 64 bytes of UTF-8 without control characters', (t) => {
  t.is(catalogueNameProblem('movie.mkv'), undefined);
  t.is(catalogueNameProblem('x'.repeat(MAX_CATALOGUE_NAME_BYTES)), undefined);
  t.regex(catalogueNameProblem('x'.repeat(MAX_CATALOGUE_NAME_BYTES + 1))!, /65 bytes.*at most 64/);
  t.regex(catalogueNameProblem('\u00e9'.repeat(33))!, /66 bytes/, 'counted in bytes, not characters');
  t.regex(catalogueNameProblem('')!, /empty/);
  t.regex(catalogueNameProblem('a\nb')!, /control/);
  t.regex(catalogueNameProblem('a\u001b[31mb')!, /control/);
  t.regex(catalogueNameProblem('a\u009bb')!, /control/);
});

test('patterns: a glob when it has * ? [, else a substring; case ignored', (t) => {
  t.true(matchesPattern('Holiday.MP4', undefined));
  t.true(matchesPattern('Holiday.MP4', ''));
  t.true(matchesPattern('Holiday.MP4', 'day'));
  t.true(matchesPattern('Holiday.MP4', 'HOLI'));
  t.false(matchesPattern('Holiday.MP4', 'night'));
  t.true(matchesPattern('Holiday.MP4', '*.mp4'));
  t.false(matchesPattern('Holiday.MP4', '*.mkv'));
  t.true(matchesPattern('disk-2.iso', 'disk-?.iso'));
  t.true(matchesPattern('disk-2.iso', 'disk-[0-9]*'));
  t.false(matchesPattern('my disk-2.iso', 'disk-*'), 'a glob matches the whole name');
  t.true(matchesPattern('.hidden', '*hidden'));
  t.true(matchesPattern('!important', '!imp*'), 'no negation');
});

/** An in-memory KV namespace: key -> value, with the index KvStore keeps. */
function fakeKv(values: Record<string, string | Error>, opts: { unreachable?: boolean } = {}): CatalogueKv & { gets: string[] } {
  const gets: string[] = [];
  return {
    gets,
    async lookup(key) {
      gets.push(key);
      if (opts.unreachable) return { status: 'unreachable', value: null };
      const v = values[key];
      if (v instanceof Error) throw v;
      if (v === undefined) return { status: 'not-found', value: null };
      if (v === '<deleted>') return { status: 'deleted', value: null };
      return { status: 'found', value: v };
    },
    async get() {
      throw new Error('lookup is used when there is one');
    },
    async put() {
      return {};
    },
    async list() {
      if (opts.unreachable) throw new KvError('no DHT node answered: the key index could not be read');
      return Object.keys(values);
    },
  };
}

const entry = (hash: string, length: number): string => encodeEntry({ infoHash: hash, displayName: 'x', length, files: 1, added: 1 });

test('listing: sorted entries matching the pattern; values that are not entries skipped with why; gone names reported', async (t) => {
  const kv = fakeKv({
    'b.iso': entry('b'.repeat(40), 2),
    'a.iso': entry('a'.repeat(40), 1),
    'notes.txt': entry('c'.repeat(40), 3),
    'junk.iso': 'not json at all',
    'gone.iso': '<deleted>',
    'bad-chunks.iso': new KvError('a chunk of the value does not match its hash', 'EKVBAD'),
    'evil\u001b[2J.iso': entry('e'.repeat(40), 4),
  });
  const all = await listCatalogue(kv, { namespace: 'files', pattern: '*.ISO' });
  t.deepEqual(all.files.map((f) => [f.name, f.length]), [['a.iso', 1], ['b.iso', 2]]);
  t.deepEqual(all.skipped.map((s) => s.name).sort(), ['bad-chunks.iso', 'evil\u001b[2J.iso', 'junk.iso']);
  t.regex(all.skipped.find((s) => s.name.startsWith('evil'))!.reason, /not a catalogue name.*control/);
  t.false(kv.gets.some((g) => g.startsWith('evil')), 'a name no share could make is not looked up');
  t.regex(all.skipped.find((s) => s.name === 'junk.iso')!.reason, /not JSON/);
  t.deepEqual(all.missing, ['gone.iso']);
  t.false(kv.gets.includes('notes.txt'), 'names the pattern rules out are not even read');
  const sub = await listCatalogue(kv, { namespace: 'files', pattern: 'NOTES' });
  t.deepEqual(sub.files.map((f) => f.name), ['notes.txt']);
});

test('resolving a name says found, missing, deleted, invalid or unreachable', async (t) => {
  const kv = fakeKv({ here: entry('d'.repeat(40), 9), junk: '{"magnet":1}', gone: '<deleted>' });
  const found = await resolveName(kv, 'here', { namespace: 'files' });
  t.is(found.kind, 'found');
  if (found.kind === 'found') t.is(found.entry.infoHash, 'd'.repeat(40));
  t.is((await resolveName(kv, 'nowhere', { namespace: 'files' })).kind, 'missing');
  t.is((await resolveName(kv, 'gone', { namespace: 'files' })).kind, 'deleted');
  t.is((await resolveName(kv, 'junk', { namespace: 'files' })).kind, 'invalid');
  t.is((await resolveName(fakeKv({}, { unreachable: true }), 'here', { namespace: 'files' })).kind, 'unreachable');
  // A KV layer without lookup: get's null is "missing".
  const plain: CatalogueKv = { get: async () => null, put: async () => ({}) };
  t.is((await resolveName(plain, 'x', { namespace: 'files' })).kind, 'missing');
  await t.throwsAsync(listCatalogue(plain, { namespace: 'files' }), { message: /cannot list/ });
});
