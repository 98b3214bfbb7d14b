import test from 'ava';
import { mkdtemp, rm, writeFile, unlink, rename } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { WatchFolder, isWatchedName, type WatchedFile } from '../src/session/watch-folder.js';
import { captureLogger, tinyTorrent } from './daemon-helpers.js';
import { pollUntil } from './helpers/poll.js';

async function setup(t: { teardown(fn: () => unknown): void }, opts: { settleMs?: number } = {}) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'watch-folder-'));
  const cap = captureLogger();
  const w = new WatchFolder({ dir, logger: cap.logger, rescanIntervalMs: 200, settleMs: opts.settleMs ?? 150 });
  const added: WatchedFile[] = [];
  const removed: string[] = [];
  const rejected: { path: string; reason: string }[] = [];
  w.on('file:added', (f) => added.push(f));
  w.on('file:removed', (f) => removed.push(f.path));
  w.on('file:rejected', (f) => rejected.push(f));
  t.teardown(async () => {
    await w.stop();
    await rm(dir, { recursive: true, force: true });
  });
  return { dir, w, cap, added, removed, rejected };
}

test('names: .torrent and .magnet files only, hidden files ignored', (t) => {
  t.true(isWatchedName('a.torrent'));
  t.true(isWatchedName('B.TORRENT'));
  t.true(isWatchedName('x.magnet'));
  t.false(isWatchedName('.a.torrent'));
  t.false(isWatchedName('a.torrent.part'));
  t.false(isWatchedName('.torrent'));
  t.false(isWatchedName('notes.txt'));
});

test('a .torrent dropped in is reported added once; removed, it is reported removed', async (t) => {
  const { dir, w, added, removed } = await setup(t);
  await w.start();
  const tt = tinyTorrent(1);
  const p = path.join(dir, 'one.torrent');
  await writeFile(p, tt.bytes);
  await pollUntil(() => added.length === 1, 'the torrent to be added');
  const first = added[0]!;
  t.is(first.kind, 'torrent');
  t.is(first.path, p);
  if (first.kind === 'torrent') t.is(first.metainfo.infoHashHex, tt.meta.infoHashHex);
  // Rescans of an unchanged file report nothing new.
  await w.scan();
  await w.scan();
  t.is(added.length, 1);
  await unlink(p);
  await pollUntil(() => removed.length === 1, 'the removal');
  t.deepEqual(removed, [p]);
  t.deepEqual(w.added, []);
});

test('a .magnet file with one link is reported with the parsed link', async (t) => {
  const { dir, w, added } = await setup(t);
  await w.start();
  const hex = tinyTorrent(2).meta.infoHashHex;
  await writeFile(path.join(dir, 'm.magnet'), `# a comment line\n\nmagnet:?xt=urn:btih:${hex}&dn=two\n`);
  const f = await pollUntil(() => added[0], 'the magnet to be added');
  t.is(f.kind, 'magnet');
  if (f.kind === 'magnet') {
    t.is(f.magnet.infoHashHex, hex);
    t.is(f.magnet.name, 'two');
  }
});

test('a bad .torrent and a bad .magnet are rejected with a warning, the others still added; a fixed file is read again', async (t) => {
  const { dir, w, cap, added, rejected } = await setup(t);
  const bad = path.join(dir, 'bad.torrent');
  await writeFile(bad, 'this is not bencode');
  await writeFile(path.join(dir, 'bad.magnet'), 'http://example.invalid/not-a-magnet\n');
  await writeFile(path.join(dir, 'good.torrent'), tinyTorrent(3).bytes);
  await w.start();
  await pollUntil(() => rejected.length === 2 && added.length === 1, 'two rejections and one addition');
  t.true(cap.has('warn', /ignoring .*bad\.torrent/));
  t.true(cap.has('warn', /ignoring .*bad\.magnet: holds no magnet link/));
  // Rescanning does not warn again about the same unchanged file.
  const warnings = cap.lines.filter((l) => l.startsWith('warn')).length;
  await w.scan();
  t.is(cap.lines.filter((l) => l.startsWith('warn')).length, warnings);
  // Fixed in place: read again and added.
  const fixed = tinyTorrent(4);
  await writeFile(bad, fixed.bytes);
  const f = await pollUntil(() => added.find((a) => a.path === bad), 'the fixed file to be added');
  if (f.kind === 'torrent') t.is(f.metainfo.infoHashHex, fixed.meta.infoHashHex);
});

test('a file written in two steps is read only once it settled', async (t) => {
  const { dir, w, added, rejected } = await setup(t, { settleMs: 1500 });
  await w.start();
  const tt = tinyTorrent(5);
  const p = path.join(dir, 'slow.torrent');
  const half = Math.floor(tt.bytes.length / 2);
  await writeFile(p, tt.bytes.subarray(0, half));
  await w.scan();
  await writeFile(p, tt.bytes);
  await pollUntil(() => added.length === 1, 'the complete file to be added');
  t.deepEqual(rejected, []);
  if (added[0]!.kind === 'torrent') t.is(added[0]!.metainfo.infoHashHex, tt.meta.infoHashHex);
});

test('hidden partial files are ignored until renamed into place', async (t) => {
  const { dir, w, added } = await setup(t);
  await w.start();
  const tmp = path.join(dir, '.incoming.torrent');
  await writeFile(tmp, tinyTorrent(6).bytes);
  // A visible file written after it: once that one is added, the scans that settled it saw the hidden one too.
  const marker = path.join(dir, 'marker.torrent');
  await writeFile(marker, tinyTorrent(16).bytes);
  await pollUntil(() => added.length > 0, 'the visible marker file to be added');
  t.deepEqual(added.map((f) => f.path), [marker], 'the hidden file is not added');
  await rename(tmp, path.join(dir, 'incoming.torrent'));
  await pollUntil(() => added.length === 2, 'the renamed file');
  t.is(added[1]!.path, path.join(dir, 'incoming.torrent'));
});

test('an adopted path that is gone at the first scan is reported removed; a present one is reported again', async (t) => {
  const { dir, w, added, removed } = await setup(t);
  const present = path.join(dir, 'present.torrent');
  await writeFile(present, tinyTorrent(7).bytes);
  const gone = path.join(dir, 'gone.torrent');
  w.adopt([present, gone, path.join(os.tmpdir(), 'elsewhere.torrent')]);
  await w.start();
  await pollUntil(() => removed.length === 1 && added.length === 1, 'one removal and one addition');
  t.deepEqual(removed, [gone]);
  t.is(added[0]!.path, present);
});

test('files beyond maxFiles are ignored with a warning; an unreadable folder warns and never throws', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'watch-folder-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const cap = captureLogger();
  const w = new WatchFolder({ dir, logger: cap.logger, rescanIntervalMs: 200, settleMs: 0, maxFiles: 2 });
  t.teardown(() => w.stop());
  const added: string[] = [];
  w.on('file:added', (f) => added.push(f.path));
  for (let i = 0; i < 4; i++) await writeFile(path.join(dir, `t${i}.torrent`), tinyTorrent(10 + i).bytes);
  await w.start();
  await pollUntil(() => added.length === 2, 'two additions');
  await w.scan();
  t.is(added.length, 2);
  t.true(cap.has('warn', /holds 4 torrent files; only the first 2/));

  const missing = new WatchFolder({ dir: path.join(dir, 'missing'), logger: cap.logger, rescanIntervalMs: 200 });
  await missing.start();
  await missing.stop();
  await missing.stop();
  t.true(cap.has('warn', /cannot (read|watch)/));
});
