/**
 * GET /metrics: Prometheus text that a strict parser accepts, with the
 * families the issue asks for, and counters that move (and never go back)
 * while one in-process session downloads from another on loopback.
 */
import test from 'ava';
import path from 'node:path';
import { singleFileTorrent } from './helpers/swarm.js';
import { pollUntil } from './helpers/poll.js';
import { parsePrometheus, promValue, request, startApi, startSession, type PromText } from './api-fixtures.js';

const SEEDER = '127.0.0.2';
const LEECHER = '127.0.0.3';

async function scrape(port: number): Promise<PromText> {
  const res = await request(port, { path: '/metrics' });
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}: ${res.text}`);
  return parsePrometheus(res.text);
}

const must = (p: PromText, name: string, labels: Record<string, string> = {}): number => {
  const v = promValue(p, name, labels);
  if (v === undefined) throw new Error(`no sample ${name}${JSON.stringify(labels)}`);
  return v;
};

test('the parser itself refuses what is not Prometheus text', (t) => {
  t.throws(() => parsePrometheus('a 1'), { message: /newline/ });
  t.throws(() => parsePrometheus('bad-name 1\n'), { message: /malformed sample/ });
  t.throws(() => parsePrometheus('a{x=1} 1\n'), { message: /labels/ });
  t.throws(() => parsePrometheus('a one\n'), { message: /malformed sample|bad value/ });
  t.throws(() => parsePrometheus('# TYPE a widget\n'), { message: /bad type/ });
  const ok = parsePrometheus('# HELP a x\n# TYPE a counter\na{k="v\\"q"} 3\n# just a comment\n');
  t.deepEqual(ok.samples, [{ name: 'a', labels: { k: 'v"q' }, value: 3 }]);
});

test('GET /metrics parses as Prometheus text with HELP and TYPE for every family the issue lists', async (t) => {
  const { session, dir } = await startSession(t, { dht: true, trackerPort: 0 });
  const api = await startApi(t, session, dir);
  const res = await request(api.port, { path: '/metrics' });
  t.is(res.status, 200);
  t.is(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  const p = parsePrometheus(res.text);
  for (const s of p.samples) {
    t.true(p.type.has(s.name), `TYPE for ${s.name}`);
    t.true(p.help.has(s.name), `HELP for ${s.name}`);
    if (p.type.get(s.name) === 'counter') t.regex(s.name, /_total$/);
  }
  for (const state of ['downloading', 'seeding', 'paused']) t.is(must(p, 'swarm_torrents', { state }), 0);
  for (const name of ['swarm_peers', 'swarm_downloaded_bytes_total', 'swarm_uploaded_bytes_total', 'swarm_hash_failures_total', 'swarm_tracker_announces_total', 'swarm_dht_nodes']) {
    t.is(must(p, name), 0, name);
  }
  t.is(p.type.get('swarm_downloaded_bytes_total'), 'counter');
  t.is(p.type.get('swarm_peers'), 'gauge');
  t.is(must(p, 'swarm_tracker_server_swarms', { kind: 'torrents' }), 0, 'the embedded tracker is reported');
  t.true(must(p, 'process_resident_memory_bytes') > 0);
  // The DHT summary route agrees that a node runs.
  const dht = (await request(api.port, { path: '/api/dht' })).json();
  t.is(dht.enabled, true);
  t.regex(dht.nodeId, /^[0-9a-f]{40}$/);
});

test('counters move during a transfer between two sessions and never go back; a removed torrent keeps its bytes', async (t) => {
  const { session: seeder, dir } = await startSession(t, { host: SEEDER });
  // A download limit stretches the transfer over a few seconds so that scrapes see it under way.
  const { session: leecher } = await startSession(t, { host: LEECHER, dir, downloadLimit: 512 * 1024 });
  const fx = await singleFileTorrent(path.join(dir, 'fx'), { name: 'metered.bin', length: 2 * 1024 * 1024 + 1234, pieceLength: 32768 });
  const seedApi = await startApi(t, seeder, path.join(dir, 'api-seed'));
  const leechApi = await startApi(t, leecher, path.join(dir, 'api-leech'));
  await seeder.addTorrent(fx.meta, { contentPath: fx.contentPath, mode: 'seed' });

  const before = await scrape(leechApi.port);
  t.is(must(before, 'swarm_downloaded_bytes_total'), 0);
  t.is(must(before, 'swarm_pieces_verified_total'), 0);

  const torrent = await leecher.addTorrent(fx.meta, { contentPath: path.join(dir, 'out', 'metered.bin'), mode: 'leech', peers: [{ host: SEEDER, port: seeder.port }] });
  const scrapes: PromText[] = [];
  let sawPeers = false;
  await pollUntil(async () => {
    const p = await scrape(leechApi.port);
    scrapes.push(p);
    if (must(p, 'swarm_peers') > 0) sawPeers = true;
    return torrent.complete ? true : undefined;
  }, 'the leecher to complete', 60_000, 100);
  const after = await scrape(leechApi.port);
  scrapes.push(after);

  const counters = ['swarm_downloaded_bytes_total', 'swarm_pieces_verified_total', 'swarm_peer_connections_total', 'process_cpu_seconds_total'];
  for (const name of counters) {
    const values = scrapes.map((p) => must(p, name));
    t.true(values.every((v, i) => i === 0 || v >= values[i - 1]!), `${name} never decreases: ${values.join(',')}`);
  }
  const downloaded = scrapes.map((p) => must(p, 'swarm_downloaded_bytes_total'));
  t.true(downloaded.some((v) => v > 0 && v < fx.totalLength), `a scrape saw the transfer under way: ${downloaded.join(',')}`);
  t.true(must(after, 'swarm_downloaded_bytes_total') >= fx.totalLength);
  t.is(must(after, 'swarm_pieces_verified_total'), fx.pieceCount);
  t.is(must(after, 'swarm_pieces', { kind: 'have' }), fx.pieceCount);
  t.true(must(after, 'swarm_peer_connections_total') >= 1);
  t.true(sawPeers, 'swarm_peers was above 0 during the transfer');
  t.is(must(after, 'swarm_torrents', { state: 'seeding' }), 1);
  t.is(must(after, 'swarm_torrents', { state: 'downloading' }), 0);
  t.is(must(after, 'swarm_hash_failures_total'), 0);
  t.is(must(after, 'swarm_rate_limit_bytes', { direction: 'download' }), 512 * 1024);

  const seedSide = await scrape(seedApi.port);
  t.true(must(seedSide, 'swarm_uploaded_bytes_total') >= fx.totalLength, 'the seeder counted what it sent');

  const total = must(after, 'swarm_downloaded_bytes_total');
  t.is((await request(leechApi.port, { method: 'DELETE', path: `/api/torrents/${fx.infoHashHex}` })).status, 200);
  const removed = await scrape(leechApi.port);
  t.is(must(removed, 'swarm_downloaded_bytes_total'), total, 'the counter does not drop when its torrent goes');
  t.is(must(removed, 'swarm_torrents', { state: 'seeding' }), 0);
});

test('hash failures, bans and tracker announces are counted from the torrent events', async (t) => {
  const { session, dir } = await startSession(t);
  const api = await startApi(t, session, dir);
  const fx = await singleFileTorrent(path.join(dir, 'fx'), { name: 'events.bin', length: 40_000, pieceLength: 16384 });
  const torrent = await session.addTorrent(fx.meta, { contentPath: fx.contentPath, mode: 'seed' });
  torrent.emit('piece:failed', { index: 1, hosts: ['127.0.0.9'] });
  torrent.emit('piece:failed', { index: 2, hosts: ['127.0.0.9'] });
  torrent.emit('peer:banned', { host: '127.0.0.9', reason: 'two hash failures' });
  (torrent as unknown as { emit(name: string, payload: unknown): void }).emit('tracker:announced', { url: 'http://127.0.0.1:1/announce' });
  const p = await scrape(api.port);
  t.is(must(p, 'swarm_hash_failures_total'), 2);
  t.is(must(p, 'swarm_peers_banned_total'), 1);
  t.is(must(p, 'swarm_tracker_announces_total'), 1);
  t.is(must(p, 'swarm_torrents', { state: 'seeding' }), 1);
  // After stop() the collector no longer listens.
  const listening = torrent.listenerCount('piece:failed');
  await api.stop();
  t.is(torrent.listenerCount('piece:failed'), listening - 1);
});
