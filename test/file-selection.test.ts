/**
 * Choosing files (issue 14, item 2): --only/--skip globs, per-file
 * priorities through the API, completion of a selection, the unwanted
 * files kept out of the user's folder (even the parts of them that share a
 * piece with a wanted file), and the same selection after a restart.
 */
import test, { type ExecutionContext } from 'ava';
import path from 'node:path';
import { readFile, readdir } from 'node:fs/promises';
import { closed, fixtureBytes, freePort, peerArgs, spawnPeer, torrentOf, writeFixture, type TorrentFixture } from './helpers/swarm.js';
import { request, startApi, startSession } from './api-fixtures.js';
import { pieceLevels, selectFiles, selectionPaths } from '../src/session/file-selection.js';
import { pollUntil } from './helpers/poll.js';
import { UsageError } from '../src/errors.js';

// Piece length 32 KiB; the files do not align to pieces, so pieces straddle them.
// In the torrent's order (make-torrent sorts paths).
const FILES: Record<string, number> = { 'docs/readme.txt': 5_000, 'subs/a.srt': 40_000, 'video/a.mkv': 200_000, 'video/b.mkv': 150_000 };
const PIECE = 32 * 1024;

async function fixture(dir: string): Promise<{ fx: TorrentFixture; files: Record<string, Buffer> }> {
  const root = path.join(dir, 'seed', 'show');
  const files: Record<string, Buffer> = {};
  let seed = 21;
  for (const [name, len] of Object.entries(FILES)) {
    files[name] = fixtureBytes(len, seed++);
    await writeFixture(path.join(root, name), files[name]!);
  }
  return { fx: await torrentOf(root, path.join(dir, 'show.torrent'), PIECE), files };
}

/** Every file under `root`, relative, sorted. */
async function tree(root: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, rel: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(path.join(d, e.name), rel + e.name + '/');
      else out.push(rel + e.name);
    }
  };
  await walk(root, '');
  return out.sort();
}

test('selectFiles: globs match paths inside the torrent (a bare pattern matches a base name), --skip wins, no match is a usage error', async (t) => {
  const dir = path.join((await import('node:os')).tmpdir(), `sel-${process.pid}-${Math.random().toString(36).slice(2)}`);
  const { fx } = await fixture(dir);
  const info = fx.meta.info;
  t.deepEqual(selectionPaths(info), ['docs/readme.txt', 'subs/a.srt', 'video/a.mkv', 'video/b.mkv']);
  t.deepEqual(selectFiles(info, ['*.mkv'], []), [0, 0, 1, 1]);
  t.deepEqual(selectFiles(info, ['video/**'], ['b.mkv']), [0, 0, 1, 0]);
  t.deepEqual(selectFiles(info, [], ['*.srt', 'docs/*']), [0, 0, 1, 1]);
  const err = t.throws(() => selectFiles(info, ['*.mp4'], []), { instanceOf: UsageError });
  t.regex(err!.message, /--only "\*\.mp4" matches no file of show.*\n  docs\/readme\.txt/s);
  t.throws(() => selectFiles(info, [], ['**']), { message: /leave no file/ });
  // A piece shared by a.mkv (wanted) and b.mkv (skipped) is wanted; pieces of b.mkv alone are not.
  const levels = pieceLevels(info, [0, 0, 1, 0]);
  const aStart = 5_000 + 40_000;
  const aEnd = aStart + 200_000;
  t.is(levels[Math.floor(aStart / PIECE)], 1, 'the piece that holds the end of a.srt (skipped) and the start of a.mkv');
  t.is(levels[Math.floor((aEnd - 1) / PIECE)], 1, 'the piece that holds the end of a.mkv and the start of b.mkv');
  t.is(levels[Math.floor((aEnd + 100_000) / PIECE)], 0);
  t.is(levels[0], 0, 'the first piece holds readme.txt and a.srt, both skipped');
});

async function swarm(t: ExecutionContext) {
  const { session: seeder, dir } = await startSession(t, { host: '127.0.0.2' });
  const { fx, files } = await fixture(dir);
  await seeder.addTorrent(fx.meta, { contentPath: fx.contentPath, mode: 'seed' });
  return { seeder, dir, fx, files };
}

test('a selection completes on its own, keeps unwanted files out of the folder, and wanting more later downloads it', async (t) => {
  const { seeder, dir, fx, files } = await swarm(t);
  const { session: leecher } = await startSession(t, { host: '127.0.0.1', dir });
  const out = path.join(dir, 'out', 'show');
  const torrent = await leecher.addTorrent(fx.meta, { contentPath: out, mode: 'leech', peers: [{ host: '127.0.0.2', port: seeder.port }], select: { only: ['a.mkv'], skip: [] } });
  let completes = 0;
  torrent.on('torrent:complete', () => completes++);
  await pollUntil(() => completes === 1, 'the selection to complete', 30_000);
  t.true(torrent.done);
  t.false(torrent.complete, 'the other files were not fetched');
  t.is(torrent.stats().state, 'seeding');
  t.is(torrent.stats().left, 0);
  t.deepEqual(await readFile(path.join(out, 'video', 'a.mkv')), files['video/a.mkv']);
  t.deepEqual(await tree(out), ['video/a.mkv'], 'nothing of the skipped files in the folder');
  // Now everything: downloaded, and complete again.
  await torrent.setFilePriorities([1, 1, 1, 1]);
  await pollUntil(() => completes === 2, 'the rest to complete', 30_000);
  t.true(torrent.complete);
  for (const [name, bytes] of Object.entries(files)) t.deepEqual(await readFile(path.join(out, name)), bytes, name);
});

test('GET/PUT /api/torrents/:infoHash/files lists files with priority and progress and changes them', async (t) => {
  const { seeder, dir, fx } = await swarm(t);
  const { session: leecher } = await startSession(t, { host: '127.0.0.1', dir, downloadLimit: 100_000 });
  const api = await startApi(t, leecher, dir);
  await leecher.addTorrent(fx.meta, { contentPath: path.join(dir, 'downloads', 'show'), mode: 'leech', peers: [{ host: '127.0.0.2', port: seeder.port }] });
  const url = `/api/torrents/${fx.infoHashHex}/files`;
  const list = (await request(api.port, { path: url })).json() as { files: { index: number; path: string; length: number; priority: number }[] };
  t.deepEqual(list.files.map((f) => [f.index, f.path, f.length, f.priority]), Object.entries(FILES).map(([p, l], i) => [i, p, l, 1]));
  const put = (body: unknown) => request(api.port, { method: 'PUT', path: url, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const r1 = await put({ files: [{ index: 0, priority: 'skip' }, { index: 3, priority: 2 }] });
  t.is(r1.status, 200, r1.text);
  t.deepEqual((r1.json().files as { priority: number }[]).map((f) => f.priority), [0, 1, 1, 2]);
  t.deepEqual(leecher.torrent(fx.infoHashHex)!.filePriorities, [0, 1, 1, 2]);
  t.is((await put({ priorities: [1, 1] })).status, 400);
  t.is((await put({ priorities: [0, 0, 0, 0] })).status, 400);
  t.is((await put({ files: [{ index: 9, priority: 1 }] })).status, 400);
  t.is((await put({ files: [{ index: 1, priority: 'urgent' }] })).status, 400);
  t.is((await put({})).status, 400);
});

test('peer leech --only (the built bin) gets the chosen file, exits on completing it, and a restart keeps the selection', async (t) => {
  t.timeout(90_000);
  const { seeder, dir, fx, files } = await swarm(t);
  const port = await freePort(['127.0.0.3']);
  const outDir = path.join(dir, 'cli-out');
  const state = path.join(dir, 'cli-state');
  const args = (extra: string[]) => ['leech', fx.torrentPath, '--out', outDir, '--exit-on-complete', '--peer', `127.0.0.2:${seeder.port}`, ...extra, ...peerArgs('127.0.0.3', port, state)];
  const p = spawnPeer(t, args(['--only', 'subs/*']));
  t.deepEqual(await closed(p), { code: 0, signal: null }, p.describe());
  t.true(p.events.some((e) => e.event === 'complete'), p.stdout());
  t.deepEqual(await readFile(path.join(outDir, 'show', 'subs', 'a.srt')), files['subs/a.srt']);
  t.deepEqual(await tree(path.join(outDir, 'show')), ['subs/a.srt']);
  // The same command without --only: the saved selection is kept, nothing more is fetched, done at once.
  const again = spawnPeer(t, args([]));
  t.deepEqual(await closed(again), { code: 0, signal: null }, again.describe());
  t.deepEqual(await tree(path.join(outDir, 'show')), ['subs/a.srt']);
  // A glob that matches nothing: exit 2, naming the files.
  const typo = spawnPeer(t, args(['--only', '*.mp4']));
  t.deepEqual(await closed(typo), { code: 2, signal: null }, typo.describe());
  t.regex(typo.stderr() + typo.stdout(), /matches no file/);
});
