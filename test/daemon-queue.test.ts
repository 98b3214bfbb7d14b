/**
 * The daemon's queue (maxActiveDownloads, maxActiveSeeds): extra torrents
 * wait, 'queued' and with no connections, and start in the order they came
 * as others complete or leave. Seed limits are in torrent-control.test.ts.
 */
import test from 'ava';
import { pollUntil } from './helpers/poll.js';
import { writeContent } from './daemon-helpers.js';
import { sizedTorrent, startApiDaemon, startSeeder } from './torrent-control-fixtures.js';

test('three torrents, maxActiveDownloads 1: each starts only after the one before it completes, in the order they were added', async (t) => {
  t.timeout(120_000);
  const torrents = [0, 1, 2].map((i) => sizedTorrent(20 + i, 600_000));
  // A limited seeder, so that each download takes a while (600 kB at 600 kB/s: about a second).
  const seed = await startSeeder(t, '127.0.0.1', torrents, { uploadLimitBytesPerS: 600_000 });
  const leech = await startApiDaemon(t, '127.0.0.6', { settings: { maxActiveDownloads: 1 }, extra: { peers: [{ host: '127.0.0.1', port: seed.daemon.session.port }] } });
  for (const tt of torrents) t.is((await leech.call('POST', '/api/torrents', tt.bytes)).status, 201);
  const hexes = torrents.map((tt) => tt.meta.infoHashHex);
  const s = leech.daemon.session;

  const listed = (await leech.call('GET', '/api/torrents')).json().torrents as { infoHash: string; state: string }[];
  t.deepEqual(
    hexes.map((h) => listed.find((x) => x.infoHash === h)?.state),
    ['downloading', 'queued', 'queued'],
    'the API shows the second and third queued',
  );

  // Watch states until all three are complete: never two downloading at once, and completions in order.
  const completedAt: number[] = [];
  const problems: string[] = [];
  await pollUntil(
    () => {
      const ts = hexes.map((h) => s.torrent(h)!);
      const downloading = ts.filter((x) => x.state === 'downloading').length;
      if (downloading > 1) problems.push(`${downloading} downloading at once`);
      ts.forEach((x, i) => {
        if (x.complete && completedAt[i] === undefined) completedAt[i] = Date.now();
        // A queued torrent holds no connections and downloads nothing.
        if (x.state === 'queued' && x.connectionCount > 0) problems.push(`torrent ${i} queued with ${x.connectionCount} connections`);
        if (i > 0 && !ts[i - 1]!.complete && x.have > 0) problems.push(`torrent ${i} has pieces before torrent ${i - 1} completed`);
      });
      return ts.every((x) => x.complete);
    },
    'all three to complete',
    90_000,
    20,
  );
  t.deepEqual(problems.slice(0, 5), []);
  t.true(completedAt[0]! <= completedAt[1]! && completedAt[1]! <= completedAt[2]!, `completions in order: ${completedAt.join(', ')}`);
  t.deepEqual(hexes.map((h) => s.torrent(h)!.state), ['seeding', 'seeding', 'seeding'], 'complete torrents seed (maxActiveSeeds 0: no limit)');
});

test('maxActiveSeeds 1: a second complete torrent waits, and seeds once the first is removed', async (t) => {
  t.timeout(60_000);
  const torrents = [0, 1].map((i) => sizedTorrent(30 + i, 100_000));
  const node = await startApiDaemon(t, '127.0.0.7', { settings: { maxActiveSeeds: 1 } });
  for (const tt of torrents) await writeContent(node.downloadsDir, tt);
  for (const tt of torrents) t.is((await node.call('POST', '/api/torrents', tt.bytes)).status, 201);
  const [a, b] = torrents.map((tt) => node.daemon.session.torrent(tt.meta.infoHashHex)!);
  await pollUntil(() => a!.complete && b!.complete, 'both verified');
  t.is(a!.state, 'seeding');
  t.is(b!.state, 'queued');
  t.is((await node.call('DELETE', `/api/torrents/${a!.infoHashHex}`)).status, 200);
  await pollUntil(() => b!.state === 'seeding', 'the second to seed once the first left', 10_000);
  // The setting changed at run time takes effect too.
  node.daemon.session.settings.maxActiveSeeds = 0;
  t.is(b!.state, 'seeding');
});

test('a magnet whose only peer did not have the torrent yet is fetched once it has: the daemon starts the fetch over (daemonMagnetRestartMs)', async (t) => {
  t.timeout(60_000);
  const tt = sizedTorrent(50, 100_000);
  const { magnetOf } = await import('../src/metainfo/magnet.js');
  const seed = await startApiDaemon(t, '127.0.0.8');
  const peers = [{ host: '127.0.0.8', port: seed.daemon.session.port }];
  const node = await startApiDaemon(t, '127.0.0.9', { settings: { daemonMagnetRestartMs: 1000 }, extra: { peers } });
  const stuck = await startApiDaemon(t, '127.0.0.10', { settings: { daemonMagnetRestartMs: 0 }, extra: { peers } });
  // Both try the peer while it does not serve the torrent (it refuses the handshake).
  t.is((await node.call('POST', '/api/torrents', { magnet: magnetOf(tt.meta) })).status, 202);
  t.is((await stuck.call('POST', '/api/torrents', { magnet: magnetOf(tt.meta) })).status, 202);
  await new Promise((r) => setTimeout(r, 500));
  await writeContent(seed.downloadsDir, tt);
  t.is((await seed.call('POST', '/api/torrents', tt.bytes)).status, 201);
  await pollUntil(() => node.daemon.session.torrent(tt.meta.infoHashHex)?.complete, 'the restarted magnet to complete', 30_000);
  await new Promise((r) => setTimeout(r, 3000));
  t.is(stuck.daemon.session.torrent(tt.meta.infoHashHex), undefined, 'without the restart the fetch never tries the peer again');
});
