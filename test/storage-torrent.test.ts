/** The start-up and flush policy of openTorrentStorage / TorrentStorage. */
import test from 'ava';
import { open as fsOpen, stat, truncate, utimes } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { StorageError } from '../src/errors.js';
import { CompletionStore } from '../src/storage/completion-store.js';
import { MemoryStore } from '../src/storage/memory-store.js';
import { openTorrentStorage, type OpenTorrentStorageOptions } from '../src/storage/torrent-storage.js';
import { HashPool } from '../src/util/hash-pool.js';
import { contentPathOf, log, makeFixture, multiFile, pieceOf, singleFile, tempDir, writeContent, type Fixture } from './storage-fixtures.js';
import type { ExecutionContext } from 'ava';
import { REPO_ROOT } from './helpers/bin.js';

const pool = new HashPool({ threads: 2 });
test.after.always(() => pool.close());

async function setup(t: ExecutionContext, fx: Fixture) {
  const dir = await tempDir(t);
  const stateDir = path.join(dir, 'state');
  const contentPath = contentPathOf(dir, fx);
  const open = async (over: Partial<OpenTorrentStorageOptions> = {}) => {
    const ts = await openTorrentStorage({ info: fx.info, infoHashHex: fx.infoHashHex, contentPath, stateDir, mode: 'leech', pool, logger: log, ...over });
    t.teardown(() => ts.close());
    return ts;
  };
  const saved = () => new CompletionStore({ stateDir, infoHashHex: fx.infoHashHex, logger: log }).load();
  return { dir, stateDir, contentPath, open, saved };
}

/** Sets a file's mtime, as a user's edit or a write after the last flush would. */
async function touch(p: string): Promise<void> {
  const st = await stat(p);
  await utimes(p, st.atime, new Date(st.mtimeMs + 5000));
}

test('fresh leech: files created, nothing had, nothing read, state saved', async (t) => {
  const fx = multiFile();
  const { open, saved, contentPath } = await setup(t, fx);
  let progressCalls = 0;
  const ts = await open({ onVerifyProgress: () => progressCalls++ });
  t.is(ts.resumed, 'fresh');
  t.true(ts.have.isEmpty());
  t.is(progressCalls, 0, 'freshly created files are not read');
  t.is((await stat(path.join(contentPath, 'd.bin'))).size, 40000);
  const s = await saved();
  t.truthy(s);
  t.is(s!.pieceCount, fx.info.pieceCount);
});

test('pieceWritten: in have at once, in the resume state only after flush', async (t) => {
  const fx = multiFile();
  const { open, saved } = await setup(t, fx);
  const ts = await open();
  await ts.store.writePiece(1, pieceOf(fx, 1));
  ts.pieceWritten(1);
  t.true(ts.have.get(1));
  t.deepEqual([...(await saved())!.have], [0]);
  await ts.flush();
  t.deepEqual([...(await saved())!.have], [0x40]);
  await ts.flush(); // nothing new: harmless
  await ts.close();
  await ts.close();
  t.throws(() => ts.pieceWritten(2), { instanceOf: StorageError });
});

test('trusted resume: the state saved at close is trusted on the next start without reading data', async (t) => {
  const fx = multiFile();
  const { open } = await setup(t, fx);
  const a = await open();
  for (const i of [0, 2, 4]) {
    await a.store.writePiece(i, pieceOf(fx, i));
    a.pieceWritten(i);
  }
  await a.close();
  let progressCalls = 0;
  const b = await open({ onVerifyProgress: () => progressCalls++ });
  t.is(b.resumed, 'trusted');
  t.deepEqual([...b.have.ones()], [0, 2, 4]);
  t.is(progressCalls, 0);
});

test('a touched file: the pieces on it are verified again, the others are trusted', async (t) => {
  const fx = multiFile();
  const { open, contentPath } = await setup(t, fx);
  const a = await open();
  for (let i = 0; i < fx.info.pieceCount; i++) {
    await a.store.writePiece(i, pieceOf(fx, i));
    a.pieceWritten(i);
  }
  await a.close();
  await touch(path.join(contentPath, 'sub', 'b.bin'));
  let total = 0;
  const b = await open({ onVerifyProgress: (_d, n) => (total = n) });
  t.is(b.resumed, 'verified');
  t.true(b.have.isComplete());
  t.is(total, 1, 'only piece 1 touches sub/b.bin');
});

test('a file whose size changed: its pieces are verified and the lost ones are not had', async (t) => {
  const fx = singleFile();
  const { open, contentPath } = await setup(t, fx);
  const a = await open();
  for (let i = 0; i < fx.info.pieceCount; i++) {
    await a.store.writePiece(i, pieceOf(fx, i));
    a.pieceWritten(i);
  }
  await a.close();
  await truncate(contentPath, 2 * 16384 + 5); // a leecher grows it back, sparse
  const b = await open();
  t.is(b.resumed, 'verified');
  t.deepEqual([...b.have.ones()], [0, 1]);
  t.is((await stat(contentPath)).size, fx.info.length);
});

test('recheck forces verification even when the state would be trusted, and finds silent corruption', async (t) => {
  const fx = singleFile();
  const { open, contentPath, saved, stateDir } = await setup(t, fx);
  const a = await open();
  for (let i = 0; i < fx.info.pieceCount; i++) {
    await a.store.writePiece(i, pieceOf(fx, i));
    a.pieceWritten(i);
  }
  await a.close();
  // Corrupt piece 3 and make the saved fingerprint match again: the fingerprint cannot see it.
  const h = await fsOpen(contentPath, 'r+');
  await h.write(Buffer.from([0xee]), 0, 1, 3 * 16384 + 10);
  await h.close();
  const now = await stat(contentPath);
  const cs = new CompletionStore({ stateDir, infoHashHex: fx.infoHashHex, logger: log });
  const s = (await cs.load())!;
  await cs.save({ ...s, files: [{ path: contentPath, size: now.size, mtimeMs: now.mtimeMs }] });
  const trusting = await open();
  t.is(trusting.resumed, 'trusted');
  await trusting.close();
  const b = await open({ recheck: true });
  t.is(b.resumed, 'verified');
  t.deepEqual([...b.have.ones()], [0, 1, 2, 4, 5]);
  t.deepEqual([...(await saved())!.have], [...b.have.toBytes()], 'the result is saved');
});

test('seeder without resume state verifies before serving; a corrupted piece is not had', async (t) => {
  const fx = multiFile();
  const { open, dir, contentPath } = await setup(t, fx);
  const bad = fx.data.slice();
  bad[16384 + 5000]! ^= 0xff; // piece 1, in sub/b.bin
  await writeContent(dir, fx, bad);
  const ts = await open({ mode: 'seed' });
  t.is(ts.resumed, 'verified');
  t.deepEqual([...ts.have.ones()], [0, 2, 3, 4]);
  t.true(Buffer.from(await ts.store.read(3, 0, 100)).equals(Buffer.from(pieceOf(fx, 3).subarray(0, 100))));
  await ts.close();
  const again = await open({ mode: 'seed' });
  t.is(again.resumed, 'trusted');
  t.deepEqual([...again.have.ones()], [0, 2, 3, 4]);
  t.is((await stat(path.join(contentPath, 'sub', 'b.bin'))).size, 3000);
});

test('seeder with a missing file fails to start with a StorageError naming it', async (t) => {
  const fx = multiFile();
  const { open, dir, contentPath } = await setup(t, fx);
  await writeContent(dir, fx);
  const { rm } = await import('node:fs/promises');
  await rm(path.join(contentPath, 'e.bin'));
  await t.throwsAsync(open({ mode: 'seed' }), { instanceOf: StorageError, message: /e\.bin/ });
});

test('crash: pieces written but not flushed are found again by verification after restart', async (t) => {
  const fx = makeFixture({ files: [{ path: ['x.bin'], length: 30000 }, { path: ['y.bin'], length: 50000 }], pieceLength: 8192 });
  const { stateDir, contentPath } = await setup(t, fx);
  const a = await openTorrentStorage({ info: fx.info, infoHashHex: fx.infoHashHex, contentPath, stateDir, mode: 'leech', pool, logger: log });
  for (const i of [0, 1, 2]) {
    await a.store.writePiece(i, pieceOf(fx, i));
    a.pieceWritten(i);
  }
  await a.flush();
  await new Promise((r) => setTimeout(r, 20)); // let a coarse mtime clock tick
  for (const i of [5, 9]) {
    await a.store.writePiece(i, pieceOf(fx, i));
    a.pieceWritten(i);
  }
  // The process dies: handles go away (the OS keeps the page cache), the resume state is not saved again.
  await a.store.close();
  const state = await new CompletionStore({ stateDir, infoHashHex: fx.infoHashHex, logger: log }).load();
  t.deepEqual([...state!.have], [0xe0, 0]);
  const b = await openTorrentStorage({ info: fx.info, infoHashHex: fx.infoHashHex, contentPath, stateDir, mode: 'leech', pool, logger: log });
  t.teardown(() => b.close());
  t.is(b.resumed, 'verified');
  t.deepEqual([...b.have.ones()], [0, 1, 2, 5, 9]);
});

test('an injected MemoryStore follows the same policy', async (t) => {
  const fx = singleFile();
  const { open } = await setup(t, fx);
  const full = await open({ store: new MemoryStore({ info: fx.info, data: fx.data }), mode: 'seed' });
  t.is(full.resumed, 'verified');
  t.true(full.have.isComplete());
});

test('a resume state of another piece count is not trusted', async (t) => {
  const fx = singleFile();
  const { open, stateDir } = await setup(t, fx);
  const a = await open();
  await a.close();
  const cs = new CompletionStore({ stateDir, infoHashHex: fx.infoHashHex, logger: log });
  const s = (await cs.load())!;
  await cs.save({ ...s, pieceCount: 9, have: Uint8Array.from([0xff, 0x80]) });
  const b = await open();
  t.is(b.resumed, 'verified');
  t.true(b.have.isEmpty());
});

test('an aborted verification rejects with the signal reason and closes the store', async (t) => {
  // 40 MiB in 64 KiB pieces: ten 4 MiB batches, more than the lanes in flight.
  const fx = makeFixture({ files: [{ path: ['big.bin'], length: 40 * 1024 * 1024 }], pieceLength: 65536 });
  const { open } = await setup(t, fx);
  const store = new MemoryStore({ info: fx.info, data: fx.data });
  const ac = new AbortController();
  let progress = 0;
  const onVerifyProgress = (done: number): void => {
    progress = done;
    ac.abort(new Error('stop now'));
  };
  await t.throwsAsync(open({ mode: 'seed', store, signal: ac.signal, onVerifyProgress }), { message: 'stop now' });
  t.true(progress < fx.info.pieceCount);
  await t.throwsAsync(store.readPiece(0), { instanceOf: StorageError, message: /closed/ });
});

test('SIGKILL after unflushed writes: the restart verifies and keeps every piece written', async (t) => {
  const fx = makeFixture({ files: [{ path: ['p.bin'], length: 100000 }, { path: ['q.bin'], length: 70000 }], pieceLength: 16384 });
  const { dir, stateDir, contentPath } = await setup(t, fx);
  const { writeFile: wf } = await import('node:fs/promises');
  const { spawn } = await import('node:child_process');
  const fixtureFile = path.join(dir, 'fixture.json');
  await wf(fixtureFile, JSON.stringify({ info: { ...fx.info, pieces: Buffer.from(fx.info.pieces).toString('hex') }, data: Buffer.from(fx.data).toString('base64'), infoHashHex: fx.infoHashHex }));
  // The child flushes pieces 0-2, then writes 6 and 9 and never flushes again before it is killed.
  // It runs the built modules (dist/, which `npm test` builds first) with plain node, no loader.
  const built = (rel: string): string => JSON.stringify(pathToFileURL(path.join(REPO_ROOT, 'dist', rel)).href);
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `
      import { readFileSync } from 'node:fs';
      import { openTorrentStorage } from ${built('storage/torrent-storage.js')};
      import { HashPool } from ${built('util/hash-pool.js')};
      import { silentLogger } from ${built('log.js')};
      const f = JSON.parse(readFileSync(${JSON.stringify(fixtureFile)}, 'utf8'));
      const info = { ...f.info, pieces: Buffer.from(f.info.pieces, 'hex') };
      const data = Buffer.from(f.data, 'base64');
      const piece = (i) => data.subarray(i * info.pieceLength, Math.min(info.length, (i + 1) * info.pieceLength));
      const ts = await openTorrentStorage({ info, infoHashHex: f.infoHashHex, contentPath: ${JSON.stringify(contentPath)},
        stateDir: ${JSON.stringify(stateDir)}, mode: 'leech', pool: new HashPool({ threads: 1 }), logger: silentLogger });
      for (const i of [0, 1, 2]) { await ts.store.writePiece(i, piece(i)); ts.pieceWritten(i); }
      await ts.flush();
      await new Promise((r) => setTimeout(r, 20));
      for (const i of [6, 9]) { await ts.store.writePiece(i, piece(i)); ts.pieceWritten(i); }
      process.stdout.write('ready\\n');
      setInterval(() => {}, 1000);
      `,
    ],
    { cwd: process.cwd(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`child not ready in 60 s: ${stderr}`)), 60_000);
    child.stdout.on('data', (c: Buffer) => {
      if (c.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited early (${code}): ${stderr}`));
    });
  });
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  const b = await openTorrentStorage({ info: fx.info, infoHashHex: fx.infoHashHex, contentPath, stateDir, mode: 'leech', pool, logger: log });
  t.teardown(() => b.close());
  t.is(b.resumed, 'verified');
  t.deepEqual([...b.have.ones()], [0, 1, 2, 6, 9]);
});
