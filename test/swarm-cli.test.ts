/**
 * `peer seed` / `peer leech` command-line behaviour (DESIGN.md contract):
 * exit 2 with a message naming the bad input, exit 0 on SIGTERM/SIGINT.
 */
import test from 'ava';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { closed, fixtureBytes, freePort, isProgress, peerArgs, singleFileTorrent, spawnPeer, tempDir, writeFixture } from './helpers/swarm.js';
import { torrentShape, waitPeerReady } from './helpers/wire-peer.js';

const HOST = '127.0.0.2';

test('peer seed with a missing --data path exits 2 with a message naming the path', async (t) => {
  const dir = await tempDir(t);
  const fx = await singleFileTorrent(dir, { length: 100_000, pieceLength: 16384 });
  const missing = path.join(dir, 'not-here', 'payload.bin');
  const port = await freePort([HOST]);
  const p = spawnPeer(t, ['seed', fx.torrentPath, '--data', missing, ...peerArgs(HOST, port, path.join(dir, 'state'))]);
  t.deepEqual(await closed(p), { code: 2, signal: null }, p.describe());
  t.true(p.stderr().includes(missing), p.describe());
  // --json: the failure is one error event on stdout, and nothing else is there.
  t.deepEqual(p.badLines, []);
  t.is(p.events.length, 1, p.stdout());
  const e = p.events[0]!;
  t.true(e.event === 'error' && e.message.includes(missing), p.stdout());
});

test('peer seed with a --data file of the wrong size exits 2 naming it', async (t) => {
  const dir = await tempDir(t);
  const fx = await singleFileTorrent(dir, { length: 100_000, pieceLength: 16384 });
  const short = path.join(dir, 'short.bin');
  await writeFixture(short, fixtureBytes(99_999));
  const port = await freePort([HOST]);
  const p = spawnPeer(t, ['seed', fx.torrentPath, '--data', short, ...peerArgs(HOST, port, path.join(dir, 'state'))]);
  t.deepEqual(await closed(p), { code: 2, signal: null }, p.describe());
  t.true(p.stderr().includes(short), p.describe());
});

test('peer leech of a torrent file that does not exist exits 2 naming it', async (t) => {
  const dir = await tempDir(t);
  const missing = path.join(dir, 'nothing.torrent');
  const port = await freePort([HOST]);
  const p = spawnPeer(t, ['leech', missing, '--out', path.join(dir, 'out'), '--exit-on-complete', ...peerArgs(HOST, port, path.join(dir, 'state'))]);
  t.deepEqual(await closed(p), { code: 2, signal: null }, p.describe());
  t.true(p.stderr().includes(missing), p.describe());
});

test('peer leech of a file that is not a torrent exits 2', async (t) => {
  const dir = await tempDir(t);
  const bogus = path.join(dir, 'bogus.torrent');
  await writeFile(bogus, 'd4:infod6:lengthi-5eee garbage');
  const port = await freePort([HOST]);
  const p = spawnPeer(t, ['leech', bogus, '--out', path.join(dir, 'out'), '--exit-on-complete', ...peerArgs(HOST, port, path.join(dir, 'state'))]);
  t.deepEqual(await closed(p), { code: 2, signal: null }, p.describe());
  t.regex(p.stderr(), /error/);
});

test('peer seed with an unknown option exits 2', async (t) => {
  const dir = await tempDir(t);
  const fx = await singleFileTorrent(dir, { length: 1000, pieceLength: 16384 });
  const p = spawnPeer(t, ['seed', fx.torrentPath, '--data', fx.contentPath, '--no-such-option']);
  t.deepEqual(await closed(p), { code: 2, signal: null }, p.describe());
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`a seeder exits 0 on ${signal}`, async (t) => {
    const dir = await tempDir(t);
    const fx = await singleFileTorrent(dir, { length: 200_000, pieceLength: 16384 });
    const port = await freePort([HOST]);
    const p = spawnPeer(t, ['seed', fx.torrentPath, '--data', fx.contentPath, ...peerArgs(HOST, port, path.join(dir, 'state'))]);
    await waitPeerReady(t, HOST, port, fx.meta.infoHash, torrentShape(fx.pieceLength, fx.totalLength));
    await p.waitFor(isProgress, 'a first progress event'); // running its event loop, not just listening
    t.is(p.exit, undefined);
    p.kill(signal);
    t.deepEqual(await closed(p), { code: 0, signal: null }, p.describe());
    t.deepEqual(p.badLines, [], 'only JSON on stdout, even while stopping');
  });
}

test('peer leech --quiet prints only the final line on stderr (no progress, no start lines)', async (t) => {
  const dir = await tempDir(t);
  const fx = await singleFileTorrent(dir, { length: 300_000, pieceLength: 16384 });
  const seedPort = await freePort([HOST]);
  const seeder = spawnPeer(t, ['seed', fx.torrentPath, '--data', fx.contentPath, ...peerArgs(HOST, seedPort, path.join(dir, 'seed-state'))]);
  await seeder.waitFor(isProgress, 'the seeder to start');
  const port = await freePort(['127.0.0.3']);
  // Without --json (peerArgs adds it): what a user sees.
  const args = peerArgs('127.0.0.3', port, path.join(dir, 'leech-state')).filter((a) => a !== '--json');
  const p = spawnPeer(t, ['leech', fx.torrentPath, '--out', path.join(dir, 'out'), '--exit-on-complete', '--quiet', '--peer', `${HOST}:${seedPort}`, ...args]);
  t.deepEqual(await closed(p), { code: 0, signal: null }, p.describe());
  const lines = p.stderr().split('\n').filter((l) => l.trim() !== '');
  t.is(lines.length, 1, p.stderr());
  t.regex(lines[0]!, /^complete: payload\.bin/);
  t.is(p.stdout(), '');
});

test('peer seed refuses data that does not match the torrent (exit 2, naming the path), and with --allow-partial seeds what matches', async (t) => {
  const dir = await tempDir(t);
  const fx = await singleFileTorrent(dir, { length: 160_000, pieceLength: 16384 });
  // Another file of the same size: no piece matches.
  const other = path.join(dir, 'other.bin');
  await writeFixture(other, fixtureBytes(160_000, 99));
  const port = await freePort([HOST]);
  const none = spawnPeer(t, ['seed', fx.torrentPath, '--data', other, ...peerArgs(HOST, port, path.join(dir, 's1'))]);
  t.deepEqual(await closed(none), { code: 2, signal: null }, none.describe());
  t.regex(none.stdout() + none.stderr(), /none of the data at .*other\.bin matches/);
  // The right file with its second half damaged: some pieces match.
  const half = path.join(dir, 'half.bin');
  const bytes = fixtureBytes(160_000, 1);
  bytes.fill(7, 80_000);
  await writeFixture(half, bytes);
  const partial = spawnPeer(t, ['seed', fx.torrentPath, '--data', half, ...peerArgs(HOST, port, path.join(dir, 's2'))]);
  t.deepEqual(await closed(partial), { code: 2, signal: null }, partial.describe());
  t.regex(partial.stdout() + partial.stderr(), /only 4 of 10 pieces .* --allow-partial/);
  const allowed = spawnPeer(t, ['seed', fx.torrentPath, '--data', half, '--allow-partial', ...peerArgs(HOST, port, path.join(dir, 's3'))]);
  const p = await allowed.waitFor(isProgress, 'the partial seeder to run');
  t.is((p as { have: number }).have, 4);
  allowed.child.kill('SIGINT');
  t.deepEqual(await closed(allowed), { code: 0, signal: null }, allowed.describe());
});
