/**
 * IPv6 against libtorrent (Debian's python3-libtorrent through
 * test/py/lt_peer.py), everyone on ::1, no peer given, DHT and LSD off: the
 * tracker is the only way to meet.
 * - a libtorrent seeder announces to our HTTP tracker; our leecher learns it
 *   from `peers6` (BEP 7) and downloads it;
 * - our seeder announces to our UDP tracker; a libtorrent leecher learns it
 *   from our 18-byte IPv6 entries (BEP 15 over IPv6) and downloads it.
 * Byte-equal both ways.
 */
import net from 'node:net';
import path from 'node:path';
import { makeTorrent } from '../src/cli/make-torrent.js';
import { ltEvent, ltPort, spawnLibtorrent } from './helpers/libtorrent.js';
import { clients, clientTest } from './helpers/clients.js';
import { ltComplete, ltLeecher, startPeerTracker, waitSeeders } from './helpers/lt-interop.js';
import { closed, fixtureBytes, freePort, isComplete, spawnPeer, tempDir, treeDigest, writeFixture } from './helpers/swarm.js';
import { writeFile } from 'node:fs/promises';

const V6 = '::1';
const SIZE = 2 * 1024 * 1024 + 777;
const PIECE = 64 * 1024;

const hasV6 = await new Promise<boolean>((resolve) => {
  const s = net.createServer();
  s.once('error', () => resolve(false));
  s.listen(0, V6, () => s.close(() => resolve(true)));
});
const ipv6 = { name: 'IPv6 loopback', pkg: 'an ::1 address', available: hasV6 };

async function payload(dir: string, announce: string, seed: number): Promise<{ torrentPath: string; contentPath: string; name: string; infoHashHex: string }> {
  const name = `lt-v6-${seed}.bin`;
  const contentPath = path.join(dir, 'content', name);
  await writeFixture(contentPath, fixtureBytes(SIZE, seed));
  const { torrent, meta } = await makeTorrent(contentPath, { pieceLength: PIECE, threads: 1, announce: [announce] });
  const torrentPath = path.join(dir, `${name}.torrent`);
  await writeFile(torrentPath, torrent);
  return { torrentPath, contentPath, name, infoHashHex: meta.infoHashHex };
}

clientTest([clients.libtorrent, ipv6], 'IPv6: our leecher on ::1 finds a libtorrent seeder on [::1] through our HTTP tracker (peers6), byte-equal', async (t) => {
  t.timeout(180_000);
  const dir = await tempDir(t, 'lt-v6-http-');
  const tracker = await startPeerTracker(t, V6);
  t.is(tracker.announce, `http://[::1]:${tracker.port}/announce`);
  const fx = await payload(dir, tracker.announce, 71);
  const seeder = spawnLibtorrent(t, ['--torrent', fx.torrentPath, '--save', path.dirname(fx.contentPath), '--listen', `[${V6}]:${await freePort([V6])}`, '--timeout', '150']);
  await ltPort(seeder, 30_000);
  await ltEvent(seeder, 'tracker', 60_000, (e) => e.kind === 'tracker_reply_alert');
  await waitSeeders(tracker.announce, fx.infoHashHex, 1, V6, seeder);
  const out = path.join(dir, 'out');
  const leecher = spawnPeer(t, ['leech', fx.torrentPath, '--out', out, '--exit-on-complete', '--json', '--host', V6, '--port', String(await freePort([V6])), '--state', path.join(dir, 'state'), '--no-dht', '--no-lsd']);
  await leecher.waitFor(isComplete, 'our leecher to complete from libtorrent over IPv6', 120_000);
  t.is((await closed(leecher, 30_000)).code, 0, leecher.describe());
  t.deepEqual(await treeDigest(path.join(out, fx.name)), await treeDigest(fx.contentPath));
});

clientTest([clients.libtorrent, ipv6], 'IPv6: a libtorrent leecher on [::1] finds our seeder on ::1 through our UDP tracker (18-byte entries), byte-equal', async (t) => {
  t.timeout(180_000);
  const dir = await tempDir(t, 'lt-v6-udp-');
  const tracker = await startPeerTracker(t, V6);
  const fx = await payload(dir, tracker.udp, 72);
  const seeder = spawnPeer(t, ['seed', fx.torrentPath, '--data', fx.contentPath, '--json', '--host', V6, '--port', String(await freePort([V6])), '--state', path.join(dir, 'seed-state'), '--no-dht', '--no-lsd']);
  await waitSeeders(tracker.announce, fx.infoHashHex, 1, V6, seeder);
  const save = path.join(dir, 'lt-out');
  const lt = ltLeecher(t, { torrent: fx.torrentPath, save, host: `[${V6}]`, port: await freePort([V6]), timeoutS: 120 });
  await ltComplete(lt, 120_000);
  t.deepEqual(await treeDigest(path.join(save, fx.name)), await treeDigest(fx.contentPath));
  seeder.kill('SIGINT');
  await seeder.waitExit();
});
