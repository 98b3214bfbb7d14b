import test from 'ava';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDir } from '../src/util/make-dir.js';

async function temp(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'make-dir-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('makes every missing folder; a folder already there is fine', async (t) => {
  const dir = await temp(t);
  const deep = join(dir, 'a', 'b', 'c');
  await makeDir(deep);
  t.true((await stat(deep)).isDirectory());
  await makeDir(deep);
  await makeDir(dir);
});

test('a file in the way is EEXIST (itself) or ENOTDIR (a parent)', async (t) => {
  const dir = await temp(t);
  await writeFile(join(dir, 'f'), 'x');
  t.is(((await t.throwsAsync(makeDir(join(dir, 'f')))) as NodeJS.ErrnoException).code, 'EEXIST');
  t.is(((await t.throwsAsync(makeDir(join(dir, 'f', 'sub')))) as NodeJS.ErrnoException).code, 'ENOTDIR');
});

// Node 20's fs.mkdir(..., { recursive: true }) never returns here (it retries ENOENT for ever).
test('a folder that refuses the child (under /proc) is an error, not an endless loop', async (t) => {
  const err = await t.throwsAsync(makeDir('/proc/swarm-peer-test/x'));
  t.truthy((err as NodeJS.ErrnoException).code);
});
