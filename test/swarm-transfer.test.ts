/**
 * Two of our peers as child processes, each on its own loopback "machine"
 * (127.0.0.2 seeds, 127.0.0.3 leeches, same port number): the content
 * arrives byte-equal and the --json events follow DESIGN.md.
 */
import test, { type ExecutionContext } from 'ava';
import path from 'node:path';
import {
  closed,
  eventProblems,
  fixtureBytes,
  freePort,
  isComplete,
  isProgress,
  peerArgs,
  progressRateProblem,
  singleFileTorrent,
  spawnPeer,
  tempDir,
  torrentOf,
  treeDigest,
  writeFixture,
  type TorrentFixture,
} from './helpers/swarm.js';
import { torrentShape, waitPeerReady } from './helpers/wire-peer.js';

const SEEDER = '127.0.0.2';
const LEECHER = '127.0.0.3';

async function seedAndLeech(t: ExecutionContext, dir: string, fx: TorrentFixture): Promise<void> {
  const port = await freePort([SEEDER, LEECHER]);
  const shape = torrentShape(fx.pieceLength, fx.totalLength);
  const seeder = spawnPeer(t, ['seed', fx.torrentPath, '--data', fx.contentPath, ...peerArgs(SEEDER, port, path.join(dir, 'state-seed'))]);
  await waitPeerReady(t, SEEDER, port, fx.meta.infoHash, shape);

  const out = path.join(dir, 'out');
  const leecher = spawnPeer(t, ['leech', fx.torrentPath, '--out', out, '--exit-on-complete', ...peerArgs(LEECHER, port, path.join(dir, 'state-leech'), ['--peer', `${SEEDER}:${port}`])]);
  const exit = await closed(leecher);
  t.deepEqual(exit, { code: 0, signal: null }, leecher.describe());

  // The content, byte for byte (a multi-file torrent: every file, empty ones too).
  const want = await treeDigest(fx.contentPath);
  const got = await treeDigest(path.join(out, fx.meta.info.name));
  t.deepEqual([...got.entries()], [...want.entries()]);

  // Events: well-formed, one complete with every byte downloaded once, progress rate-limited and monotonic.
  t.deepEqual(eventProblems(leecher, { infoHashHex: fx.infoHashHex, pieceCount: fx.pieceCount }), []);
  const completes = leecher.events.filter(isComplete);
  t.is(completes.length, 1, leecher.stdout());
  t.is(completes[0]!.downloaded, fx.totalLength);
  t.is(progressRateProblem(leecher), undefined);
  const progress = leecher.events.filter(isProgress);
  for (let i = 1; i < progress.length; i++) {
    t.true(progress[i]!.have >= progress[i - 1]!.have && progress[i]!.downloaded >= progress[i - 1]!.downloaded, 'progress never goes back');
  }

  // The seeder counted what it served, and stops cleanly on SIGTERM.
  const served = await seeder.waitFor((e) => isProgress(e) && e.uploaded >= fx.totalLength, 'a progress event counting the upload');
  t.true(isProgress(served) && served.have === fx.pieceCount && served.downloaded === 0);
  seeder.kill('SIGTERM');
  t.deepEqual(await closed(seeder), { code: 0, signal: null }, seeder.describe());
  t.deepEqual(eventProblems(seeder, { infoHashHex: fx.infoHashHex, pieceCount: fx.pieceCount }), []);
  t.is(progressRateProblem(seeder), undefined);
  t.false(seeder.events.some(isComplete), 'a seeder that started complete emits no complete event');
}

test('single-file torrent with NUL bytes and a short last piece arrives byte-equal', async (t) => {
  const dir = await tempDir(t);
  // 48 pieces of 64 KiB and a last piece of 12345 bytes.
  const fx = await singleFileTorrent(dir, { name: 'nul-bytes.bin', length: 48 * 65536 + 12345, pieceLength: 65536 });
  t.is(fx.pieceCount, 49);
  await seedAndLeech(t, dir, fx);
});

test('multi-file torrent (nested folders, an empty file, pieces spanning files) arrives byte-equal', async (t) => {
  const dir = await tempDir(t);
  const root = path.join(dir, 'content', 'album');
  const files: [string, number][] = [
    ['a/b/c/deep.bin', 100_000],
    ['a/empty.txt', 0],
    ['a/small-1.bin', 5_000],
    ['a/small-2.bin', 17],
    ['m/middle.bin', 300_000],
    ['tiny', 1],
    ['z/last.bin', 70_001],
  ];
  let seed = 11;
  for (const [rel, len] of files) await writeFixture(path.join(root, rel), fixtureBytes(len, seed++));
  const fx = await torrentOf(root, path.join(dir, 'album.torrent'), 32 * 1024);
  const total = files.reduce((n, [, len]) => n + len, 0);
  t.is(fx.totalLength, total);
  t.true(fx.meta.info.multiFile);
  t.not(total % fx.pieceLength, 0, 'the last piece is short');
  t.is(fx.meta.info.files.length, files.length, 'the empty file is in the torrent');
  await seedAndLeech(t, dir, fx);
});
