import test from 'ava';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import winston from 'winston';
import { Writable } from 'node:stream';
import { encode } from '../src/bencode/index.js';
import { CompletionStore, fingerprintsMatch, type ResumeState } from '../src/storage/completion-store.js';
import { log, tempDir } from './storage-fixtures.js';

const HASH = 'ab'.repeat(20);

function state(over: Partial<ResumeState> = {}): ResumeState {
  return {
    version: 1,
    infoHashHex: HASH,
    pieceCount: 13,
    have: Uint8Array.from([0xa5, 0x08]),
    files: [
      { path: '/data/x/a.bin', size: 100, mtimeMs: 1700000000123.456 },
      { path: '/data/x/é b.bin', size: 0x1_0000_0000, mtimeMs: 1 },
    ],
    savedAt: 1700000000999,
    ...over,
  };
}

/** A logger that records warnings, to check that a refused file is reported. */
function recordingLogger(): { logger: winston.Logger; warnings: string[] } {
  const warnings: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, next) {
      const entry = JSON.parse(chunk.toString()) as { level: string; message: string };
      if (entry.level === 'warn') warnings.push(entry.message);
      next();
    },
  });
  const logger = winston.createLogger({ level: 'debug', format: winston.format.json(), transports: [new winston.transports.Stream({ stream })] });
  return { logger, warnings };
}

test('save then load round-trips, in <stateDir>/resume/<infohash>.resume, leaving no temporary file', async (t) => {
  const dir = await tempDir(t);
  const cs = new CompletionStore({ stateDir: dir, infoHashHex: HASH, logger: log });
  t.is(await cs.load(), undefined);
  await cs.save(state());
  t.is(cs.file, path.join(dir, 'resume', `${HASH}.resume`));
  const back = await cs.load();
  t.deepEqual(back, { ...state(), have: Uint8Array.from([0xa5, 0x08]) });
  t.true(fingerprintsMatch(back!.files, state().files));
  await cs.save(state({ have: Uint8Array.from([0xff, 0xf8]) }));
  t.deepEqual([...(await cs.load())!.have], [0xff, 0xf8]);
  t.deepEqual(await readdir(path.join(dir, 'resume')), [`${HASH}.resume`]);
});

test('concurrent saves leave one whole state', async (t) => {
  const dir = await tempDir(t);
  const cs = new CompletionStore({ stateDir: dir, infoHashHex: HASH, logger: log });
  await Promise.all(Array.from({ length: 8 }, (_, i) => cs.save(state({ savedAt: i }))));
  const back = await cs.load();
  t.truthy(back);
  t.deepEqual(await readdir(path.join(dir, 'resume')), [`${HASH}.resume`]);
});

test('a corrupted, torn, empty or foreign file loads as undefined with a warning, never throws', async (t) => {
  const dir = await tempDir(t);
  const { logger, warnings } = recordingLogger();
  const cs = new CompletionStore({ stateDir: dir, infoHashHex: HASH, logger });
  await cs.save(state());
  const good = await readFile(cs.file);

  const flipped = Buffer.from(good);
  flipped[flipped.indexOf('have') + 6]! ^= 0x01; // inside the bitfield: still parses, fails the checksum
  const cases: [string, Uint8Array][] = [
    ['bit flip', flipped],
    ['torn', good.subarray(0, good.length - 7)],
    ['empty', new Uint8Array(0)],
    ['garbage', Buffer.from('not bencode at all')],
    ['wrong shape', encode({ hello: 1 })],
  ];
  for (const [name, bytes] of cases) {
    await writeFile(cs.file, bytes);
    const before = warnings.length;
    t.is(await cs.load(), undefined, name);
    t.is(warnings.length, before + 1, `${name} is reported`);
  }

  const other = new CompletionStore({ stateDir: dir, infoHashHex: 'cd'.repeat(20), logger: log });
  await other.save(state({ infoHashHex: 'cd'.repeat(20) }));
  await writeFile(cs.file, await readFile(other.file));
  t.is(await cs.load(), undefined);
  t.regex(warnings[warnings.length - 1]!, /another torrent/);
});

test('a bitfield whose size or spare bits do not fit pieceCount is refused on load', async (t) => {
  const dir = await tempDir(t);
  const cs = new CompletionStore({ stateDir: dir, infoHashHex: HASH, logger: log });
  // Build a checksummed file with spare bits set, the way save() would write it if it let them through.
  const { sha1 } = await import('../src/util/hash.js');
  const inner = encode({ version: 1, 'info-hash': Buffer.from(HASH), 'piece-count': 13, have: Uint8Array.from([0xff, 0xff]), files: [], 'saved-at': 0 });
  await mkdir(path.dirname(cs.file), { recursive: true });
  await writeFile(cs.file, encode({ state: inner, sha1: sha1(inner) }));
  t.is(await cs.load(), undefined);
  await t.throwsAsync(cs.save(state({ have: new Uint8Array(1) })), { instanceOf: RangeError });
});

test('remove is idempotent; a resume folder that is a file makes save fail with a StorageError', async (t) => {
  const dir = await tempDir(t);
  const cs = new CompletionStore({ stateDir: dir, infoHashHex: HASH, logger: log });
  await cs.remove();
  await cs.save(state());
  await cs.remove();
  await cs.remove();
  t.is(await cs.load(), undefined);
  const dir2 = await tempDir(t);
  await writeFile(path.join(dir2, 'resume'), 'x');
  const cs2 = new CompletionStore({ stateDir: dir2, infoHashHex: HASH, logger: log });
  await t.throwsAsync(cs2.save(state()), { name: 'StorageError', message: /resume/ });
});

test('fingerprintsMatch compares path, size and mtime to the microsecond', (t) => {
  const a = [{ path: 'p', size: 1, mtimeMs: 10.0004 }];
  t.true(fingerprintsMatch(a, [{ path: 'p', size: 1, mtimeMs: 10.0004001 }]));
  t.false(fingerprintsMatch(a, [{ path: 'p', size: 1, mtimeMs: 10.002 }]));
  t.false(fingerprintsMatch(a, [{ path: 'p', size: 2, mtimeMs: 10.0004 }]));
  t.false(fingerprintsMatch(a, [{ path: 'q', size: 1, mtimeMs: 10.0004 }]));
  t.false(fingerprintsMatch(a, []));
});
