/**
 * The built `peer` (dist/peer.js): seed and leech take --upload-limit and
 * --download-limit (this torrent's own limits, RATE as 500K or 2M), and
 * `peer start --help` names the queue and seed-limit flags and the
 * per-torrent API.
 */
import test from 'ava';
import path from 'node:path';
import { closed, freePort, isComplete, peerArgs, singleFileTorrent, spawnPeer, tempDir } from './helpers/swarm.js';

test('peer leech --download-limit 200K: a 2 MiB download takes well over 5 s; peer seed --upload-limit 0 is unlimited', async (t) => {
  t.timeout(120_000);
  const dir = await tempDir(t, 'limit-cli-');
  const fx = await singleFileTorrent(dir, { length: 2 * 1024 * 1024, pieceLength: 64 * 1024 });
  const port = await freePort(['127.0.0.2', '127.0.0.3']);
  const seeder = spawnPeer(t, ['seed', fx.torrentPath, '--data', fx.contentPath, '--upload-limit', '0', ...peerArgs('127.0.0.2', port, path.join(dir, 'seed-state'))]);
  await seeder.waitFor((e) => e.event === 'progress', 'the seeder running');
  const started = Date.now();
  const leecher = spawnPeer(t, [
    'leech', fx.torrentPath, '--out', path.join(dir, 'out'), '--exit-on-complete', '--download-limit', '200K',
    ...peerArgs('127.0.0.3', port, path.join(dir, 'leech-state'), ['--peer', `127.0.0.2:${port}`]),
  ]);
  await leecher.waitFor(isComplete, 'the limited download', 90_000);
  const elapsed = Date.now() - started;
  t.deepEqual(await closed(leecher), { code: 0, signal: null }, leecher.describe());
  // 2 MiB at 200 KiB/s is about 10 s (one second of burst).
  t.true(elapsed > 5000, `took ${elapsed} ms`);
  seeder.kill('SIGTERM');
  t.deepEqual(await closed(seeder), { code: 0, signal: null }, seeder.describe());
});

test('a bad RATE exits 2 naming the option', async (t) => {
  const dir = await tempDir(t, 'limit-cli-bad-');
  const fx = await singleFileTorrent(dir, { length: 1000, pieceLength: 16384 });
  for (const [cmd, opt] of [['seed', '--upload-limit'], ['leech', '--download-limit']] as const) {
    const p = spawnPeer(t, [cmd, fx.torrentPath, ...(cmd === 'seed' ? ['--data', fx.contentPath] : ['--out', path.join(dir, 'out')]), opt, 'fast', '--no-dht', '--state', path.join(dir, 'state')]);
    t.deepEqual(await closed(p), { code: 2, signal: null }, p.describe());
    t.true(p.stderr().includes(opt), p.describe());
  }
  const s = spawnPeer(t, ['start', '--max-active-downloads', 'many', '--no-api', '--state', path.join(dir, 'state')]);
  t.deepEqual(await closed(s), { code: 2, signal: null }, s.describe());
  t.true(s.stderr().includes('--max-active-downloads'), s.describe());
});

test('peer start --help names the queue and seed-limit flags and the per-torrent API', async (t) => {
  const p = spawnPeer(t, ['start', '--help']);
  t.deepEqual(await closed(p), { code: 0, signal: null }, p.describe());
  const help = p.stdout() + p.stderr();
  for (const s of ['--upload-limit', '--download-limit', '--max-active-downloads', '--max-active-seeds', '--seed-ratio', '--seed-time', '/recheck', '/move', 'deleteData=1', 'seedRatioLimit']) {
    t.true(help.includes(s), `help names ${s}`);
  }
});
