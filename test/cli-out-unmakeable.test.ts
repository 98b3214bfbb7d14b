/**
 * A download folder that cannot be made where its parent exists: Node 20's
 * recursive mkdir retried ENOENT for ever, so `peer leech --out /proc/x`
 * hung at full CPU. On the built command it is now an error naming the path.
 */
import test from 'ava';
import path from 'node:path';
import { closed, singleFileTorrent, spawnPeer, tempDir } from './helpers/swarm.js';

test('leech --out under /proc: exit 2 naming the folder, within seconds (was an endless mkdir loop)', async (t) => {
  const dir = await tempDir(t);
  const fx = await singleFileTorrent(dir, { length: 50_000, pieceLength: 16384 });
  const p = spawnPeer(t, ['leech', fx.torrentPath, '--out', '/proc/swarm-peer-test', '--no-dht', '--no-lsd', '--state', path.join(dir, 'state'), '--host', '127.0.0.24', '--port', '0']);
  const exit = await Promise.race([closed(p), new Promise<'hung'>((r) => setTimeout(() => r('hung'), 30_000).unref())]);
  if (exit === 'hung') p.kill('SIGKILL');
  t.not(exit, 'hung', 'the leecher still runs after 30 s');
  if (exit === 'hung') return;
  t.is(exit.code, 2, p.describe());
  t.regex(p.stderr(), /\/proc\/swarm-peer-test/);
});
