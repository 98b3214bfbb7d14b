/** `--api [PORT]` (a common option) serves the HTTP API and dashboard next to `peer seed`. */
import test from 'ava';
import path from 'node:path';
import { freePort, singleFileTorrent, spawnPeer, tempDir } from './helpers/swarm.js';

test('peer seed --api serves the API on 127.0.0.1 with the seeded torrent, and stops with the seeder', async (t) => {
  const dir = await tempDir(t);
  const fx = await singleFileTorrent(dir, { length: 300_000, pieceLength: 32 * 1024 });
  const port = await freePort(['127.0.0.2']);
  const apiPort = await freePort(['127.0.0.1']);
  const seeder = spawnPeer(t, [
    'seed', fx.torrentPath, '--data', fx.contentPath,
    '--host', '127.0.0.2', '--port', String(port), '--state', path.join(dir, 'state'), '--no-dht', '--api', String(apiPort),
  ]);
  await seeder.waitForStderr(`dashboard: http://127.0.0.1:${apiPort}/`);
  const res = await fetch(`http://127.0.0.1:${apiPort}/api/torrents`);
  t.is(res.status, 200);
  const body = (await res.json()) as { torrents: { infoHash: string; state: string }[] };
  t.deepEqual(body.torrents.map((x) => [x.infoHash, x.state]), [[fx.infoHashHex, 'seeding']]);
  seeder.kill('SIGINT');
  t.is((await seeder.waitExit()).code, 0);
  await t.throwsAsync(fetch(`http://127.0.0.1:${apiPort}/api/torrents`), undefined, 'the API closed with the seeder');
});
