/**
 * A lying seeder beside an honest one (issue 3): the liar (in this process,
 * on 127.0.0.4) claims every piece and answers every request with random
 * bytes; the honest seeder is our `peer seed` on 127.0.0.2. Our leecher
 * (127.0.0.3) must finish with the right data and ban the liar.
 */
import test from 'ava';
import path from 'node:path';
import { closed, freePort, isComplete, peerArgs, singleFileTorrent, spawnPeer, tempDir, treeDigest } from './helpers/swarm.js';
import { startLiar, torrentShape, waitPeerReady } from './helpers/wire-peer.js';

const HONEST = '127.0.0.2';
const LEECHER = '127.0.0.3';
const LIAR = '127.0.0.4';

test('a leecher beside a lying seeder completes with correct data and bans the liar', async (t) => {
  const dir = await tempDir(t);
  // 128 pieces of 32 KiB (and a short last one): room for the liar to fail several.
  const fx = await singleFileTorrent(dir, { name: 'contested.bin', length: 127 * 32768 + 1000, pieceLength: 32768, seed: 3 });
  const shape = torrentShape(fx.pieceLength, fx.totalLength);
  const port = await freePort([HONEST, LEECHER, LIAR]);

  const liar = await startLiar(t, { host: LIAR, port, infoHash: fx.meta.infoHash, shape });
  const honest = spawnPeer(t, ['seed', fx.torrentPath, '--data', fx.contentPath, ...peerArgs(HONEST, port, path.join(dir, 'state-seed'))]);
  await waitPeerReady(t, HONEST, port, fx.meta.infoHash, shape);

  const out = path.join(dir, 'out');
  const leecher = spawnPeer(t, [
    'leech',
    fx.torrentPath,
    '--out',
    out,
    '--exit-on-complete',
    ...peerArgs(LEECHER, port, path.join(dir, 'state-leech'), ['--peer', `${LIAR}:${port}`, '--peer', `${HONEST}:${port}`, '--log-level', 'warn']),
  ]);

  await leecher.waitForStderr(`banning ${LIAR}`);
  // Only the leecher's own connections count: the honest seeder may learn of the liar by PEX and try it too.
  const fromLeecher = (): number => liar.from.filter((a) => a === LEECHER).length;
  const connectionsAtBan = fromLeecher();
  t.deepEqual(await closed(leecher), { code: 0, signal: null }, leecher.describe());

  t.true(liar.blocksServed > 0, 'the liar was asked for blocks');
  t.regex(leecher.stderr(), /piece \d+ failed its hash check/);
  t.notRegex(leecher.stderr(), new RegExp(`banning ${HONEST.replaceAll('.', '\\.')}`), 'the honest seeder is never banned');
  t.true(connectionsAtBan >= 1);
  t.is(fromLeecher(), connectionsAtBan, 'the leecher did not connect to the banned liar again');

  const done = leecher.events.find(isComplete);
  t.truthy(done, leecher.stdout());
  t.deepEqual([...(await treeDigest(path.join(out, fx.meta.info.name)))], [...(await treeDigest(fx.contentPath))], 'content byte-equal');

  honest.kill('SIGTERM');
  t.is((await closed(honest)).code, 0, honest.describe());
});
