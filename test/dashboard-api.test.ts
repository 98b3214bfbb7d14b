/**
 * The API routes the dashboard's panels read (issue 16, item 6), in-process:
 * - TrackerPeerSource.trackers(): each URL's last answer (idle, error,
 *   working with seeders/leechers and the next announce);
 * - GET /api/torrents/:ih/details and /trackers: what they answer for a
 *   torrent with a refused and an answering tracker, and their refusals of
 *   bad input (400, 404, 405);
 * - GET /api/dht: the per-family list;
 * - the ETA and ratio rules.
 */
import test from 'ava';
import path from 'node:path';
import { createServer } from 'node:net';
import { TrackerPeerSource } from '../src/discovery/tracker-source.js';
import { TrackerServer } from '../src/tracker/server.js';
import { Session } from '../src/session/session.js';
import { resolveSettings } from '../src/settings.js';
import { silentLogger } from '../src/log.js';
import { makeTorrent } from '../src/cli/make-torrent.js';
import { parseTorrent } from '../src/metainfo/parse.js';
import { etaSeconds, shareRatio } from '../src/api/torrent-info-routes.js';
import { request, startApi, startSession } from './api-fixtures.js';
import { pollUntil } from './helpers/poll.js';
import { fixtureBytes, tempDir, writeFixture } from './helpers/swarm.js';

async function tracker(t: { teardown: (fn: () => Promise<void>) => void }): Promise<TrackerServer> {
  const s = new TrackerServer({ host: '127.0.0.1', port: 0, logger: silentLogger });
  t.teardown(() => s.stop());
  await s.start();
  return s;
}

/** A TCP port nothing listens on. */
async function deadPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

test('TrackerPeerSource.trackers() reports each URL: idle before start, then error for a refused one and working for one that answers', async (t) => {
  const server = await tracker(t);
  const dead = `http://127.0.0.1:${await deadPort()}/announce`;
  const live = server.announceUrl;
  const source = new TrackerPeerSource(
    { infoHash: new Uint8Array(20).fill(7), peerId: new Uint8Array(20).fill(1), port: 6881, stats: () => ({ uploaded: 0, downloaded: 0, left: 1000 }), onPeers: () => undefined },
    { tiers: [[dead], [live], ['wss://not.usable/announce']], timeoutMs: 5_000, retryBaseMs: 50, logger: silentLogger },
  );
  t.teardown(() => source.stop());
  t.deepEqual(source.trackers().map((x) => [x.url, x.tier, x.status]), [[dead, 0, 'idle'], [live, 1, 'idle']], 'only usable URLs, in tier order, none asked yet');
  const before = Date.now();
  source.start();
  const list = await pollUntil(() => {
    const l = source.trackers();
    return l[1]?.status === 'working' ? l : undefined;
  }, 'the live tracker to answer', 20_000);
  const [d, w] = list;
  t.is(d!.status, 'error');
  t.truthy(d!.error, 'the refusal is kept');
  t.true(d!.lastAnnounceAt! >= before);
  t.is(w!.leechers, 1, 'the tracker counted us as a leecher');
  t.is(w!.seeders, 0);
  t.is(w!.peers, 0);
  t.true(w!.lastAnnounceAt! >= before);
  t.true(w!.nextAnnounceAt! > w!.lastAnnounceAt!, 'the next announce of the tracker in use');
  await source.stop();
  t.is(source.trackers()[1]!.nextAnnounceAt, undefined, 'no next announce once stopped');
});

test('GET /api/torrents/:ih/details and /trackers: ratio, ETA, bitfield, save path, and each tracker of the torrent', async (t) => {
  const server = await tracker(t);
  const dir = await tempDir(t, 'dashboard-api-');
  const dead = `http://127.0.0.1:${await deadPort()}/announce`;
  const content = path.join(dir, 'content', 'seeded.bin');
  await writeFixture(content, fixtureBytes(200_000, 9));
  const { torrent } = await makeTorrent(content, { pieceLength: 65536, threads: 1, announce: [dead, server.announceUrl] });
  const meta = parseTorrent(torrent);
  const session = new Session({
    settings: resolveSettings({ host: '127.0.0.1', port: 0, trackerRetryInitialMs: 50 }),
    stateDir: path.join(dir, 'state'),
    logger: silentLogger,
  });
  await session.start();
  t.teardown(() => session.stop());
  await session.addTorrent(meta, { contentPath: content, mode: 'seed' });
  const api = await startApi(t, session, dir, { contentPathOf: (hex) => (hex === meta.infoHashHex ? content : undefined) });
  const hex = meta.infoHashHex;

  const d = (await request(api.port, { path: `/api/torrents/${hex}/details` })).json();
  t.is(d.infoHash, hex);
  t.is(d.state, 'seeding');
  t.is(d.pieces, 4);
  t.is(d.have, 4);
  t.deepEqual([...Buffer.from(d.bitfield, 'base64')], [0xf0], 'four pieces had: the four high bits');
  t.is(d.etaS, 0, 'nothing left');
  t.is(d.ratio, 0, 'a seeder that uploaded nothing: 0 over what it holds');
  t.is(d.done, 200_000);
  t.is(d.savePath, content);
  t.regex(d.magnet, new RegExp(`^magnet:\\?xt=urn:btih:${hex}`));
  t.deepEqual(d.sources, ['tracker']);
  t.is(d.error, null);
  t.deepEqual((await request(api.port, { path: '/api/torrents' })).json().torrents.map((x: { infoHash: string; error: unknown }) => [x.infoHash, x.error]), [[hex, null]], 'the list says whether a torrent paused by itself (the errored filter)');

  const list = await pollUntil(async () => {
    const b = (await request(api.port, { path: `/api/torrents/${hex}/trackers` })).json();
    return b.trackers.find((x: { url: string; status: string }) => x.url === server.announceUrl && x.status === 'working') ? b : undefined;
  }, 'the embedded tracker to answer', 20_000, 100);
  t.deepEqual(list.trackers.map((x: { url: string; tier: number }) => [x.url, x.tier]), [[dead, 0], [server.announceUrl, 1]]);
  t.is(list.trackers[0].status, 'error');
  t.is(list.trackers[1].seeders, 1, 'we seed it');
  t.deepEqual(list.webSeeds, []);
});

test('the dashboard\'s routes refuse bad input with a readable message', async (t) => {
  const { session, dir } = await startSession(t);
  const api = await startApi(t, session, dir);
  for (const route of ['details', 'trackers']) {
    const bad = await request(api.port, { path: `/api/torrents/not-a-hash/${route}` });
    t.is(bad.status, 400, route);
    t.regex(bad.json().error, /expected 40 hex characters/);
    const unknown = await request(api.port, { path: `/api/torrents/${'ab'.repeat(20)}/${route}` });
    t.is(unknown.status, 404, route);
    t.regex(unknown.json().error, /no torrent abab/);
    const post = await request(api.port, { method: 'POST', path: `/api/torrents/${'ab'.repeat(20)}/${route}`, body: '{}', headers: { 'Content-Type': 'application/json' } });
    t.is(post.status, 405, route);
    t.regex(post.json().error, /POST is not allowed/);
  }
  // A session without a DHT says so; with one, each family is listed.
  t.deepEqual((await request(api.port, { path: '/api/dht' })).json(), { enabled: false });
});

test('GET /api/dht lists the node of each family', async (t) => {
  const { session, dir } = await startSession(t, { dht: true });
  const api = await startApi(t, session, dir);
  const b = (await request(api.port, { path: '/api/dht' })).json();
  t.true(b.enabled);
  t.is(b.families.length, 1, 'one IPv4 node on 127.0.0.1');
  t.is(b.families[0].family, 'IPv4');
  t.is(b.families[0].nodeId, b.nodeId);
  for (const k of ['nodes', 'goodNodes', 'itemsStored', 'peersStored', 'queriesSent', 'queriesReceived']) t.is(typeof b.families[0][k], 'number', k);
});

test('ETA and ratio rules of the details panel', (t) => {
  t.is(etaSeconds(0, 0, false), 0, 'nothing left');
  t.is(etaSeconds(1000, 0, true), null, 'no rate: unknown, never 0 or Infinity');
  t.is(etaSeconds(1000, 300, false), null, 'not downloading (paused, queued)');
  t.is(etaSeconds(1000, 300, true), 4);
  t.is(shareRatio(500, 1000, 1000), 0.5);
  t.is(shareRatio(3000, 0, 1000), 3, 'a seeder: uploaded over what it holds');
  t.is(shareRatio(0, 0, 0), null);
});
