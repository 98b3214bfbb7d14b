/**
 * Sequential download and streaming (issue 14, item 3): `GET /download`
 * of a torrent still downloading answers Range requests (a piece boundary,
 * a file boundary, the last byte) with the right bytes, fetching the
 * pieces it needs first; `sequential` takes pieces in order; PATCH turns it
 * on and off. A seeder session and a rate-limited leecher session with the
 * API, in this process, on 127.0.0.2 and 127.0.0.1.
 */
import test, { type ExecutionContext } from 'ava';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { closed, fixtureBytes, freePort, peerArgs, spawnPeer, torrentOf, writeFixture, type TorrentFixture } from './helpers/swarm.js';
import { request, startApi, startSession } from './api-fixtures.js';
import { PiecePriorities } from '../src/session/piece-priorities.js';
import { PRIORITY } from '../src/picker/piece-picker.js';
import { pollUntil } from './helpers/poll.js';

const SIZES = { 'a.bin': 100_000, 'b.bin': 300_000, 'c.bin': 1_500_000 };
const PIECE = 32 * 1024;

async function multiFile(dir: string): Promise<{ fx: TorrentFixture; files: Record<string, Buffer> }> {
  const root = path.join(dir, 'seed', 'movie');
  const files: Record<string, Buffer> = {};
  let seed = 3;
  for (const [name, len] of Object.entries(SIZES)) {
    files[name] = fixtureBytes(len, seed++);
    await writeFixture(path.join(root, name), files[name]!);
  }
  return { fx: await torrentOf(root, path.join(dir, 'movie.torrent'), PIECE), files };
}

/** A seeder on 127.0.0.2 and, on 127.0.0.1, a leecher limited to `rate` bytes/s with the API on. */
async function swarm(t: ExecutionContext, rate: number, opts: { sequential?: boolean } = {}) {
  const { session: seeder, dir } = await startSession(t, { host: '127.0.0.2' });
  const { fx, files } = await multiFile(dir);
  await seeder.addTorrent(fx.meta, { contentPath: fx.contentPath, mode: 'seed' });
  const { session: leecher } = await startSession(t, { host: '127.0.0.1', dir, downloadLimit: rate });
  const api = await startApi(t, leecher, dir);
  const torrent = await leecher.addTorrent(fx.meta, {
    contentPath: path.join(dir, 'downloads', 'movie'),
    mode: 'leech',
    peers: [{ host: '127.0.0.2', port: seeder.port }],
    ...(opts.sequential ? { sequential: true } : {}),
  });
  return { fx, files, torrent, port: api.port, dir };
}

test('a Range at the last byte of a file still downloading is answered first, before the download ends', async (t) => {
  // 1.9 MB (58 pieces) at 200 KB/s: about 10 s for the whole; the last piece is fetched first.
  const { files, torrent, port } = await swarm(t, 200_000);
  const res = await request(port, { path: '/download/movie/c.bin', headers: { Range: 'bytes=-1' } });
  const have = torrent.have;
  t.log(`pieces had when the last byte arrived: ${have}/${torrent.metainfo.info.pieceCount}`);
  // Rarest first alone would reach the last piece after half the pieces on average (few in 10 runs under 7).
  t.true(have <= 6, 'the piece the reader waits for came before the others');
  t.is(res.status, 206, res.text);
  t.is(res.headers['content-range'], `bytes ${SIZES['c.bin'] - 1}-${SIZES['c.bin'] - 1}/${SIZES['c.bin']}`);
  t.is(res.headers['accept-ranges'], 'bytes');
  t.deepEqual(res.body, files['c.bin']!.subarray(-1));
});

test('Ranges at a piece boundary and across a file boundary, and a whole file, while downloading', async (t) => {
  const { fx, files, torrent, port } = await swarm(t, 400_000);
  t.timeout(60_000);
  const b = fx.meta.info.files.find((f) => f.path.join('/') === 'b.bin')!;
  // Exactly one piece, from its first byte (a piece boundary inside b.bin).
  const start = PIECE * Math.ceil(b.offset / PIECE) - b.offset;
  const one = await request(port, { path: '/download/movie/b.bin', headers: { Range: `bytes=${start}-${start + PIECE - 1}` } });
  t.is(one.status, 206, one.text);
  t.is(one.headers['content-length'], String(PIECE));
  t.deepEqual(one.body, files['b.bin']!.subarray(start, start + PIECE));
  // The last bytes of a.bin lie in the piece that also starts b.bin.
  const edge = await request(port, { path: '/download/movie/a.bin', headers: { Range: `bytes=${SIZES['a.bin'] - 10}-` } });
  t.is(edge.status, 206, edge.text);
  t.deepEqual(edge.body, files['a.bin']!.subarray(-10));
  const whole = await request(port, { path: '/download/movie/b.bin' });
  t.is(whole.status, 200, whole.text);
  t.is(whole.headers['content-length'], String(SIZES['b.bin']));
  t.deepEqual(whole.body, files['b.bin']);
  const head = await request(port, { method: 'HEAD', path: '/download/movie/c.bin' });
  t.is(head.status, 200);
  t.is(head.headers['content-length'], String(SIZES['c.bin']));
  t.is(head.body.length, 0);
  await pollUntil(() => torrent.complete, 'the download to finish', 30_000);
  const after = await request(port, { path: '/download/movie/c.bin', headers: { Range: 'bytes=0-99' } });
  t.deepEqual(after.body, files['c.bin']!.subarray(0, 100));
});

test('sequential: the first pieces are verified in index order', async (t) => {
  const { torrent } = await swarm(t, 400_000, { sequential: true });
  const order: number[] = [];
  torrent.on('piece:verified', (i) => order.push(i));
  await pollUntil(() => order.length >= 6, 'six pieces', 30_000);
  t.deepEqual(order.slice(0, 6), [0, 1, 2, 3, 4, 5]);
  t.true(torrent.sequential);
});

test('PATCH /api/torrents/:infoHash turns sequential on and off and refuses unknown or bad fields', async (t) => {
  const { fx, port } = await swarm(t, 100_000);
  const patch = (body: string) => request(port, { method: 'PATCH', path: `/api/torrents/${fx.infoHashHex}`, headers: { 'Content-Type': 'application/json' }, body });
  const on = await patch('{"sequential":true}');
  t.is(on.status, 200, on.text);
  t.true(on.json().sequential);
  t.true((await request(port, { path: `/api/torrents/${fx.infoHashHex}` })).json().sequential);
  t.false((await patch('{"sequential":false}')).json().sequential);
  const bad = await patch('{"sequential":"yes"}');
  t.is(bad.status, 400);
  t.regex(bad.json().error, /true or false/);
  const unknown = await patch('{"sequentail":true}');
  t.is(unknown.status, 400);
  t.regex(unknown.json().error, /unknown field "sequentail"/);
});

/** The policy alone, over a fake picker. */
function fakePicker(n: number) {
  const levels = new Array<number>(n).fill(PRIORITY.normal);
  const had = new Set<number>();
  return { pieceCount: n, levels, had, setPriority: (i: number, l: number) => void (levels[i] = l), has: (i: number) => had.has(i) };
}

test('PiecePriorities: the window follows the first missing wanted pieces; readers hold pieces urgent until they move on', async (t) => {
  const picker = fakePicker(10);
  let changes = 0;
  const p = new PiecePriorities({ picker, windowPieces: 3, onChange: () => changes++ });
  p.setSequential(true);
  t.deepEqual(picker.levels, [3, 3, 3, 1, 1, 1, 1, 1, 1, 1]);
  picker.had.add(0);
  p.pieceVerified(0);
  t.deepEqual(picker.levels.slice(0, 5), [1, 3, 3, 3, 1], 'the window moved past piece 0');
  const base = new Uint8Array(10).fill(PRIORITY.normal);
  base[2] = PRIORITY.skip;
  p.setBase(base);
  t.deepEqual(picker.levels.slice(0, 6), [1, 3, 0, 3, 3, 1], 'a skipped piece is not in the window and not counted in it');

  const r = p.reader();
  r.moveTo(7, 8);
  t.is(picker.levels[7], PRIORITY.urgent);
  t.is(picker.levels[8], PRIORITY.urgent);
  r.moveTo(8, 9);
  t.is(picker.levels[7], PRIORITY.normal, 'let go of when the reader moved on');
  t.is(picker.levels[9], PRIORITY.urgent);
  const waiting = r.waitFor(9);
  picker.had.add(9);
  p.pieceVerified(9);
  await waiting;
  r.close();
  t.is(picker.levels[8], PRIORITY.normal);
  p.setSequential(false);
  t.deepEqual(picker.levels.slice(0, 6), [1, 1, 0, 1, 1, 1]);
  t.true(changes > 0);

  const ac = new AbortController();
  const w = p.reader().waitFor(5, ac.signal);
  ac.abort(new Error('gone'));
  await t.throwsAsync(w, { message: 'gone' });
  const w2 = p.reader().waitFor(6);
  p.abortAll(new Error('stopped'));
  await t.throwsAsync(w2, { message: 'stopped' });
});

test('peer leech --sequential (the built bin) has the start of the file on disk first', async (t) => {
  t.timeout(90_000);
  // A slow seeder in this process (64 KB/s upload), the leecher as users run it.
  const { session: seeder, dir } = await startSession(t, { host: '127.0.0.2', uploadLimit: 64_000 });
  const content = fixtureBytes(1_000_000, 11);
  const file = path.join(dir, 'seed', 'clip.bin');
  await writeFixture(file, content);
  const fx = await torrentOf(file, path.join(dir, 'clip.torrent'), 16 * 1024);
  await seeder.addTorrent(fx.meta, { contentPath: file, mode: 'seed' });
  const port = await freePort(['127.0.0.3']);
  const out = path.join(dir, 'out');
  const p = spawnPeer(t, ['leech', fx.torrentPath, '--out', out, '--sequential', '--peer', `127.0.0.2:${seeder.port}`, ...peerArgs('127.0.0.3', port, path.join(dir, 'state'))]);
  await p.waitFor((e) => e.event === 'progress' && Number(e.have) >= 12, 'a dozen pieces', 60_000);
  p.child.kill('SIGINT');
  t.deepEqual(await closed(p), { code: 0, signal: null }, p.describe());
  // Rarest first would have scattered them: the first 8 pieces (of 62) would almost never all be in.
  const onDisk = await readFile(path.join(out, 'clip.bin'));
  t.deepEqual(onDisk.subarray(0, 8 * 16 * 1024), content.subarray(0, 8 * 16 * 1024));
});

test('peer leech --api (the built bin) streams a Range of the file while it downloads', async (t) => {
  t.timeout(90_000);
  const { session: seeder, dir } = await startSession(t, { host: '127.0.0.2', uploadLimit: 100_000 });
  const content = fixtureBytes(1_500_000, 17);
  const file = path.join(dir, 'seed', 'film.bin');
  await writeFixture(file, content);
  const fx = await torrentOf(file, path.join(dir, 'film.torrent'), 32 * 1024);
  await seeder.addTorrent(fx.meta, { contentPath: file, mode: 'seed' });
  const port = await freePort(['127.0.0.3']);
  const apiPort = await freePort(['127.0.0.1']);
  const p = spawnPeer(t, ['leech', fx.torrentPath, '--out', path.join(dir, 'out'), '--api', String(apiPort), '--peer', `127.0.0.2:${seeder.port}`, ...peerArgs('127.0.0.3', port, path.join(dir, 'state'))]);
  await p.waitFor((e) => e.event === 'progress', 'the leecher to start', 30_000);
  // The last 1000 bytes, then a range across a piece boundary, while most of the file is still missing.
  const tail = await request(apiPort, { path: '/download/film.bin', headers: { Range: 'bytes=-1000' } });
  t.is(tail.status, 206, tail.text);
  t.deepEqual(tail.body, content.subarray(-1000));
  const mid = await request(apiPort, { path: '/download/film.bin', headers: { Range: `bytes=${32 * 1024 * 10 - 100}-${32 * 1024 * 10 + 99}` } });
  t.is(mid.status, 206, mid.text);
  t.deepEqual(mid.body, content.subarray(32 * 1024 * 10 - 100, 32 * 1024 * 10 + 100));
  const progress = p.events.filter((e) => e.event === 'progress');
  const last = progress[progress.length - 1] as { have: number; pieces: number } | undefined;
  t.true(!p.events.some((e) => e.event === 'complete'), 'answered before the download completed');
  t.log(`pieces when answered: ${last?.have}/${last?.pieces}`);
  // The waited-for pieces jump the queue (cancelled requests ahead of them are asked again behind):
  // before that, the answer came after ~35 of 46 pieces at this rate.
  t.true(last !== undefined && last.have <= last.pieces / 2, `answered at ${last?.have}/${last?.pieces} pieces`);
  p.child.kill('SIGINT');
  t.deepEqual(await closed(p), { code: 0, signal: null }, p.describe());
});
