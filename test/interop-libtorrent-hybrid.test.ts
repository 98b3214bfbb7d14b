/**
 * libtorrent seeds its default torrent (hybrid v1+v2, BEP 47 pad files, two
 * of them on one path) and our built `peer leech --exit-on-complete` dials
 * it directly: the folder it fills is byte-equal to libtorrent's, and no pad
 * file or `.pad` folder exists on disk.
 */
import { access, readdir } from 'node:fs/promises';
import path from 'node:path';
import { clients, clientTest } from './helpers/clients.js';
import { ltEvent, ltMakeTorrent, ltPort, spawnLibtorrent } from './helpers/libtorrent.js';
import { closed, fixtureBytes, freePort, isComplete, peerArgs, spawnPeer, tempDir, treeDigest, writeFixture } from './helpers/swarm.js';

const MiB = 1024 * 1024;
const PIECE = 256 * 1024;
/** Sizes off piece boundaries (so libtorrent pads after each), two with the same remainder (one shared pad path). */
const FILES: [string, number][] = [
  ['disc1/track01.flac', 8 * MiB + 1],
  ['disc1/track02.flac', 6 * MiB + 12_345],
  ['disc2/track01.flac', 5 * MiB + 12_345],
  ['cover.jpg', 3 * MiB + 7],
  ['notes.txt', 1],
];

clientTest([clients.libtorrent], 'libtorrent seeds its hybrid torrent with pad files; our leecher fills the folder byte-equal, no .pad on disk', async (t) => {
  const dir = await tempDir(t, 'interop-lt-hybrid-');
  const seedDir = path.join(dir, 'seed');
  const root = path.join(seedDir, 'album');
  let seed = 11;
  for (const [rel, size] of FILES) await writeFixture(path.join(root, ...rel.split('/')), fixtureBytes(size, seed++));
  const torrent = path.join(dir, 'album.torrent');
  const infoHash = await ltMakeTorrent(t, root, torrent, { pieceSize: PIECE });

  const lt = spawnLibtorrent(t, ['--torrent', torrent, '--save', seedDir, '--listen', '127.0.0.1:0', '--timeout', '300']);
  const ltListen = await ltPort(lt);
  await ltEvent(lt, 'complete', 120_000); // it checked its files: it is a seed

  const out = path.join(dir, 'out');
  const port = await freePort(['127.0.0.1']);
  const leech = spawnPeer(t, ['leech', torrent, '--out', out, '--exit-on-complete', '--peer', `127.0.0.1:${ltListen}`, ...peerArgs('127.0.0.1', port, path.join(dir, 'state'))]);
  const done = await leech.waitFor(isComplete, 'complete', 180_000);
  const exit = await closed(leech, 60_000);
  t.is(exit.code, 0, leech.describe());
  t.is(done.infoHash, infoHash);

  const want = await treeDigest(root);
  const got = await treeDigest(path.join(out, 'album'));
  t.deepEqual([...got.keys()].sort(), FILES.map(([p]) => p).sort(), 'the real files only');
  t.deepEqual(got, want, 'byte-equal to libtorrent’s files');
  await t.throwsAsync(access(path.join(out, 'album', '.pad')), { code: 'ENOENT' });
  t.deepEqual((await readdir(path.join(out, 'album'))).sort(), ['cover.jpg', 'disc1', 'disc2', 'notes.txt']);

  // Figures for the record (never asserted): the leecher's own elapsedMs, and the wall clock from its spawn (start-up included).
  const total = FILES.reduce((n, [, s]) => n + s, 0);
  const secs = done.elapsedMs / 1000;
  const wall = (leech.eventTimes[leech.events.indexOf(done)]! - leech.startedAt) / 1000;
  const rate = (s: number): string => (total / MiB / Math.max(s, 0.001)).toFixed(1);
  t.log(`libtorrent -> our leecher: ${(total / MiB).toFixed(1)} MiB of files (${done.downloaded} payload bytes with padding) in ${secs.toFixed(2)} s = ${rate(secs)} MiB/s; ${wall.toFixed(2)} s = ${rate(wall)} MiB/s from spawn`);
  lt.kill('SIGTERM');
  await lt.waitExit(30_000);
});
