/**
 * Trackers against libtorrent (Debian's python3-libtorrent, driven through
 * test/py/lt_peer.py, one process per "machine" on its own 127.0.0.x):
 * - libtorrent leechers swarm through our `peer tracker` over HTTP (our seeder)
 *   and over UDP (a libtorrent seeder);
 * - our seeder, our leecher and libtorrent leechers swarm through Debian's
 *   opentracker.
 * Nobody is given a peer address, and DHT and LSD are off: the tracker is the
 * only way the peers can find each other. Every download is compared byte for
 * byte with the source, and the time and MB/s of each is logged.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeTorrent } from '../src/cli/make-torrent.js';
import { ltEvent, ltPort, spawnLibtorrent } from './helpers/libtorrent.js';
import { clients, clientTest } from './helpers/clients.js';
import { ltComplete, ltLeecher, reportTransfer, startOpentracker, startPeerTracker, waitSeeders } from './helpers/lt-interop.js';
import { closed, fixtureBytes, freePort, isComplete, peerArgs, spawnPeer, tempDir, treeDigest, writeFixture, type PeerProcess } from './helpers/swarm.js';

const SIZE = 16 * 1024 * 1024 + 12_345;
const PIECE = 256 * 1024;
const TEST_MS = 240_000;
const TRANSFER_MS = 150_000;

const LEECHER_HOSTS = ['127.0.0.42', '127.0.0.43', '127.0.0.44'];

interface Payload {
  torrentPath: string;
  contentPath: string;
  name: string;
  infoHashHex: string;
  totalLength: number;
}

/** A fresh single-file payload (with NUL runs) in `dir`, and its torrent announcing to `announce`. */
async function payload(dir: string, announce: string, seed: number): Promise<Payload> {
  const name = `lt-tracker-${seed}.bin`;
  const contentPath = path.join(dir, 'content', name);
  await writeFixture(contentPath, fixtureBytes(SIZE, seed));
  const { torrent, meta } = await makeTorrent(contentPath, { pieceLength: PIECE, threads: 1, announce: [announce] });
  const torrentPath = path.join(dir, `${name}.torrent`);
  await writeFile(torrentPath, torrent);
  return { torrentPath, contentPath, name, infoHashHex: meta.infoHashHex, totalLength: meta.info.length };
}

/** Starts one libtorrent leecher per host; resolves once each completed, with its byte-equal copy checked. */
async function ltLeechers(
  t: Parameters<Parameters<typeof clientTest>[2]>[0],
  hosts: string[],
  fx: Payload,
  dir: string,
  direction: string,
): Promise<void> {
  const want = await treeDigest(fx.contentPath);
  const runs = await Promise.all(
    hosts.map(async (host) => {
      const save = path.join(dir, `lt-${host}`);
      const port = await freePort([host]);
      return { host, save, p: ltLeecher(t, { torrent: fx.torrentPath, save, host, port }) };
    }),
  );
  await Promise.all(
    runs.map(async ({ host, save, p }) => {
      const done = await ltComplete(p, TRANSFER_MS);
      const exit = await closed(p, 30_000);
      t.is(exit.code, 0, p.describe());
      t.true(
        p.events.some((e) => (e as { event: string; kind?: string }).event === 'tracker' && (e as { kind?: string }).kind === 'tracker_reply_alert'),
        `libtorrent ${host} got a tracker reply`,
      );
      t.deepEqual(await treeDigest(path.join(save, fx.name)), want, `libtorrent ${host}: byte-equal copy`);
      reportTransfer(t, { client: `libtorrent ${host}`, direction, bytes: fx.totalLength, ms: done.elapsedMs as number });
    }),
  );
}

clientTest([clients.libtorrent], 'libtorrent leechers swarm from our seeder through our HTTP tracker, byte-equal', async (t) => {
  t.timeout(TEST_MS);
  const dir = await tempDir(t, 'lt-http-tracker-');
  const tracker = await startPeerTracker(t, '127.0.0.40');
  const fx = await payload(dir, tracker.announce, 41);
  const seederPort = await freePort(['127.0.0.41']);
  const seeder = spawnPeer(t, ['seed', fx.torrentPath, '--data', fx.contentPath, ...peerArgs('127.0.0.41', seederPort, path.join(dir, 'seed-state'))]);
  await waitSeeders(tracker.announce, fx.infoHashHex, 1, '127.0.0.41', seeder);
  await ltLeechers(t, LEECHER_HOSTS, fx, dir, '<- our seeder (our HTTP tracker)');
  t.deepEqual(seeder.badLines, []);
});

clientTest([clients.libtorrent], 'libtorrent leechers swarm from a libtorrent seeder through our UDP tracker, byte-equal', async (t) => {
  t.timeout(TEST_MS);
  const dir = await tempDir(t, 'lt-udp-tracker-');
  const tracker = await startPeerTracker(t, '127.0.0.50');
  t.regex(tracker.udp, /^udp:\/\//);
  const fx = await payload(dir, tracker.udp, 51);
  const seederPort = await freePort(['127.0.0.51']);
  const seeder = spawnLibtorrent(t, ['--torrent', fx.torrentPath, '--save', path.dirname(fx.contentPath), '--listen', `127.0.0.51:${seederPort}`, '--timeout', '200']);
  await ltPort(seeder, 30_000);
  // The seeder checked its files and announced as complete over UDP.
  await ltEvent(seeder, 'tracker', 60_000, (e) => e.kind === 'tracker_reply_alert');
  await waitSeeders(tracker.announce, fx.infoHashHex, 1, '127.0.0.50', seeder);
  await ltLeechers(t, ['127.0.0.52', '127.0.0.53', '127.0.0.54'], fx, dir, '<- libtorrent seeder (our UDP tracker)');
});

clientTest([clients.libtorrent, clients.opentracker], 'our seeder, our leecher and libtorrent leechers swarm through opentracker, byte-equal', async (t) => {
  t.timeout(TEST_MS);
  const dir = await tempDir(t, 'lt-opentracker-');
  // opentracker serves only whitelisted info-hashes, and the announce URL (outside the info dict) needs
  // its port: hash the content once without an announce URL to start it.
  const probe = await payload(dir, 'http://127.0.0.60:1/announce', 61);
  const ot = await startOpentracker(t, '127.0.0.60', [probe.infoHashHex]);
  const fx = await payload(dir, ot.announce, 61);
  t.is(fx.infoHashHex, probe.infoHashHex);

  const seedPort = await freePort(['127.0.0.61']);
  const seeder = spawnPeer(t, ['seed', fx.torrentPath, '--data', fx.contentPath, ...peerArgs('127.0.0.61', seedPort, path.join(dir, 'seed-state'))]);
  await waitSeeders(ot.announce, fx.infoHashHex, 1, '127.0.0.61', seeder);

  const want = await treeDigest(fx.contentPath);
  const oursHost = '127.0.0.62';
  const oursPort = await freePort([oursHost]);
  const oursOut = path.join(dir, 'ours-out');
  const ours: PeerProcess = spawnPeer(t, ['leech', fx.torrentPath, '--out', oursOut, '--exit-on-complete', ...peerArgs(oursHost, oursPort, path.join(dir, 'leech-state'))]);
  const oursDone = (async () => {
    const c = await ours.waitFor(isComplete, 'our leecher complete', TRANSFER_MS);
    const exit = await closed(ours, 30_000);
    t.is(exit.code, 0, ours.describe());
    t.deepEqual(await treeDigest(path.join(oursOut, fx.name)), want, 'our leecher: byte-equal copy');
    reportTransfer(t, { client: `ours ${oursHost}`, direction: '<- swarm of our seeder + libtorrent (opentracker)', bytes: fx.totalLength, ms: c.elapsedMs });
  })();
  await Promise.all([oursDone, ltLeechers(t, ['127.0.0.63', '127.0.0.64'], fx, dir, '<- swarm of our peers + libtorrent (opentracker)')]);
  t.deepEqual(seeder.badLines, []);
});
