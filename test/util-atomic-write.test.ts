import test from 'ava';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AtomicWriteError, writeFileAtomic } from '../src/util/atomic-write.js';
import { StorageError } from '../src/errors.js';

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'atomic-write-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('writes a new file, creating its folder, and leaves no temporary file', async (t) => {
  const dir = await tempDir(t);
  const target = join(dir, 'a', 'b', 'state.bin');
  await writeFileAtomic(target, Uint8Array.from([0, 1, 2, 0xff]));
  t.deepEqual([...(await readFile(target))], [0, 1, 2, 0xff]);
  t.deepEqual(await readdir(join(dir, 'a', 'b')), ['state.bin']);
});

test('replaces an existing file whole; a string is written as UTF-8', async (t) => {
  const dir = await tempDir(t);
  const target = join(dir, 'session.json');
  await writeFile(target, 'old and much longer than the new content');
  await writeFileAtomic(target, 'né');
  t.is(await readFile(target, 'utf8'), 'né');
  t.deepEqual(await readdir(dir), ['session.json']);
});

test('mode is set exactly, whatever the umask', async (t) => {
  const dir = await tempDir(t);
  const key = join(dir, 'key.pem');
  const old = process.umask(0o077);
  try {
    await writeFileAtomic(key, 'secret', { mode: 0o600 });
    t.is((await stat(key)).mode & 0o777, 0o600);
    await writeFileAtomic(join(dir, 'public'), 'x', { mode: 0o644 });
    t.is((await stat(join(dir, 'public'))).mode & 0o777, 0o644);
  } finally {
    process.umask(old);
  }
});

test('overwrite: false refuses an existing target and leaves it as it was', async (t) => {
  const dir = await tempDir(t);
  const target = join(dir, 'x.torrent');
  await writeFileAtomic(target, 'first', { overwrite: false });
  const err = await t.throwsAsync(writeFileAtomic(target, 'second', { overwrite: false }), { instanceOf: AtomicWriteError });
  t.is(err?.step, 'exists');
  t.is(err?.target, target);
  t.is(err?.message, `${target} already exists`);
  t.is(await readFile(target, 'utf8'), 'first');
  t.deepEqual(await readdir(dir), ['x.torrent']);
});

test('a failed rename is an AtomicWriteError naming the target, with no temporary file left', async (t) => {
  const dir = await tempDir(t);
  const target = join(dir, 'busy');
  await mkdir(target);
  await writeFile(join(target, 'inside'), 'x'); // a non-empty folder cannot be renamed over
  const err = await t.throwsAsync(writeFileAtomic(target, 'data'), { instanceOf: AtomicWriteError });
  t.is(err?.step, 'rename');
  t.true(err instanceof StorageError);
  t.is(err?.code, 'ESTORAGE');
  t.is(err?.name, 'AtomicWriteError');
  t.true(err!.message.startsWith(`cannot write ${target}: `), err!.message);
  t.deepEqual(await readdir(dir), ['busy']);
});

test('a folder that cannot be made is a write error naming the target', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'plain'), 'a file, not a folder');
  const target = join(dir, 'plain', 'f');
  const err = await t.throwsAsync(writeFileAtomic(target, 'data'), { instanceOf: AtomicWriteError });
  t.is(err?.step, 'write');
  t.true(err!.message.startsWith(`cannot write ${target}: `), err!.message);
  t.deepEqual(await readdir(dir), ['plain']);
});

test('concurrent writes to one target each land whole', async (t) => {
  const dir = await tempDir(t);
  const target = join(dir, 'race');
  const payloads = Array.from({ length: 8 }, (_, i) => String(i).repeat(100_000));
  await Promise.all(payloads.map((p) => writeFileAtomic(target, p)));
  t.true(payloads.includes(await readFile(target, 'utf8')));
  t.deepEqual(await readdir(dir), ['race']);
});

test('sync: false still writes whole, replaces by rename and refuses an existing target with overwrite: false', async (t) => {
  const dir = await tempDir(t);
  const target = join(dir, 'y.torrent');
  await writeFileAtomic(target, 'first', { overwrite: false, sync: false });
  const err = await t.throwsAsync(writeFileAtomic(target, 'second', { overwrite: false, sync: false }), { instanceOf: AtomicWriteError });
  t.is(err?.step, 'exists');
  await writeFileAtomic(target, 'third', { sync: false });
  t.is(await readFile(target, 'utf8'), 'third');
  t.deepEqual(await readdir(dir), ['y.torrent']);
});
