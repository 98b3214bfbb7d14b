/**
 * Per-torrent control in the daemon (issue 14, item 6) through its HTTP
 * API: a torrent's own rate limits (a second bucket checked with the
 * session's), seed ratio limits, recheck, move, and removal with or
 * without its data; per-torrent settings kept across a restart.
 * Timing is measured loosely (a limited transfer takes "more than" a
 * bound well under what the limit implies), never tightly.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { access, mkdir, open, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { TokenBucket, allBuckets } from '../src/util/token-bucket.js';
import { buildTorrent } from '../src/metainfo/create.js';
import { parseTorrent } from '../src/metainfo/parse.js';
import { pollUntil } from './helpers/poll.js';
import { tempDir } from './helpers/swarm.js';
import { tinyData } from './daemon-helpers.js';
import { sizedTorrent, startApiDaemon, startSeeder } from './torrent-control-fixtures.js';

const exists = (p: string): Promise<boolean> => access(p).then(() => true, () => false);

test('a bucket pair passes a transfer only when both buckets allow it, and spends from both', (t) => {
  let now = 0;
  const clock = (): number => now;
  const session = new TokenBucket(100_000, clock);
  const own = new TokenBucket(10_000, clock);
  const both = allBuckets([session, own]);
  t.false(both.unlimited);
  t.is(both.rate, 10_000);
  t.true(both.take(10_000), 'the first second of the tighter bucket');
  t.false(both.take(1000), 'the torrent bucket is empty');
  t.is(Math.round(session.available()), 90_000, 'the session bucket was spent once');
  t.true(both.msUntil(5000) > 0);
  now += 500;
  t.true(both.take(5000));
  own.setRate(0);
  t.is(both.rate, 100_000, 'the torrent limit lifted: the session one remains');
  t.true(allBuckets([new TokenBucket(0), new TokenBucket(0)]).unlimited);
});

test('a torrent\'s own upload limit (PATCH uploadLimit) holds on top of an unlimited session, and a restart keeps it', async (t) => {
  t.timeout(90_000);
  const tt = sizedTorrent(1, 2 * 1024 * 1024);
  const seed = await startSeeder(t, '127.0.0.1', [tt]);
  const hex = tt.meta.infoHashHex;
  const bad = await seed.call('PATCH', `/api/torrents/${hex}`, { uploadLimit: -5 });
  t.is(bad.status, 400, bad.text);
  const typo = await seed.call('PATCH', `/api/torrents/${hex}`, { uploadLimt: 5 });
  t.is(typo.status, 400, typo.text);
  const ok = await seed.call('PATCH', `/api/torrents/${hex}`, { uploadLimit: 200_000, seedRatioLimit: 5 });
  t.is(ok.status, 200, ok.text);
  t.is(ok.json().uploadLimit, 200_000);
  t.is(ok.json().seedRatioLimit, 5);
  t.is(seed.daemon.session.limits.upload.rate, 0, 'the session limit is untouched');

  const leech = await startApiDaemon(t, '127.0.0.2', { extra: { peers: [{ host: '127.0.0.1', port: seed.daemon.session.port }] } });
  const started = Date.now();
  t.is((await leech.call('POST', '/api/torrents', tt.bytes)).status, 201);
  await pollUntil(() => leech.daemon.session.torrent(hex)?.complete, 'the limited download to complete', 60_000, 100);
  const elapsed = Date.now() - started;
  // 2 MiB at 200 kB/s is about 10 s (one second of burst); well above 5 s whatever the machine's load.
  t.true(elapsed > 5000, `2 MiB at 200 kB/s took ${elapsed} ms`);
  t.true((await readFile(path.join(leech.downloadsDir, tt.name))).equals(tt.data));

  // Restart the seeder: its torrent keeps its own limits.
  await seed.daemon.stop();
  const again = await startApiDaemon(t, '127.0.0.1', { root: seed.root });
  await pollUntil(() => again.daemon.session.torrent(hex), 'the torrent back after a restart');
  const detail = (await again.call('GET', `/api/torrents/${hex}`)).json();
  t.is(detail.uploadLimit, 200_000);
  t.is(detail.seedRatioLimit, 5);
  t.is(detail.downloadLimit, 0);
});

test('a seed ratio limit stops seeding (state finished, no connections); lifting it for the torrent seeds again', async (t) => {
  t.timeout(90_000);
  const tt = sizedTorrent(2, 300_000);
  const seed = await startSeeder(t, '127.0.0.1', [tt], { seedRatioLimit: 1 });
  const hex = tt.meta.infoHashHex;
  const leech = await startApiDaemon(t, '127.0.0.3', { extra: { peers: [{ host: '127.0.0.1', port: seed.daemon.session.port }] } });
  t.is((await leech.call('POST', '/api/torrents', tt.bytes)).status, 201);
  await pollUntil(() => leech.daemon.session.torrent(hex)?.complete, 'the download to complete', 60_000);
  const st = seed.daemon.session.torrent(hex)!;
  await pollUntil(() => st.state === 'finished', 'the seeder to finish at ratio 1', 10_000);
  t.is(st.connectionCount, 0, 'a finished torrent keeps no connections');
  const listed = (await seed.call('GET', '/api/torrents')).json().torrents.find((x: { infoHash: string }) => x.infoHash === hex);
  t.is(listed.state, 'finished');
  // This torrent alone: no ratio limit (0), so it seeds again.
  t.is((await seed.call('PATCH', `/api/torrents/${hex}`, { seedRatioLimit: 0 })).status, 200);
  await pollUntil(() => st.state === 'seeding', 'the torrent to seed again', 10_000);
  t.is((await seed.call('PATCH', `/api/torrents/${hex}`, { seedRatioLimit: null })).json().seedRatioLimit, null, 'null: back to the default');
  await pollUntil(() => st.state === 'finished', 'finished again under the default', 10_000);
});

test('recheck finds a corrupted piece: it is missing again and downloaded from a peer', async (t) => {
  t.timeout(90_000);
  const tt = sizedTorrent(3, 400_000);
  const hex = tt.meta.infoHashHex;
  const other = await startSeeder(t, '127.0.0.1', [tt]);
  const node = await startSeeder(t, '127.0.0.4', [tt]);
  const file = path.join(node.downloadsDir, tt.name);
  // Flip a byte of piece 2 behind the daemon's back.
  const fh = await open(file, 'r+');
  const at = 2 * 64 * 1024 + 100;
  await fh.write(Buffer.from([tt.data[at]! ^ 0xff]), 0, 1, at);
  await fh.close();
  t.is(node.daemon.session.torrent(hex)!.have, tt.meta.info.pieceCount, 'before the recheck the resume state is trusted');

  const res = await node.call('POST', `/api/torrents/${hex}/recheck`);
  t.is(res.status, 200, res.text);
  t.is(res.json().have, tt.meta.info.pieceCount - 1, 'one piece fails');
  t.not(res.json().state, 'seeding');
  // It comes back from the other seeder once the daemon is told of it.
  node.daemon.session.torrent(hex)!.addPeers([{ host: '127.0.0.1', port: other.daemon.session.port }]);
  await pollUntil(() => node.daemon.session.torrent(hex)?.complete, 'the bad piece downloaded again', 30_000);
  t.true((await readFile(file)).equals(tt.data));
  t.is((await node.call('POST', `/api/torrents/${'0'.repeat(40)}/recheck`)).status, 404);
});

test('move relocates the data into another folder and the torrent keeps seeding from there', async (t) => {
  t.timeout(90_000);
  const tt = sizedTorrent(4, 300_000);
  const hex = tt.meta.infoHashHex;
  const node = await startSeeder(t, '127.0.0.1', [tt]);
  t.is((await node.call('PATCH', `/api/torrents/${hex}`, { downloadLimit: 123_456 })).status, 200);
  const elsewhere = path.join(await tempDir(t, 'control-move-'), 'archive');
  t.is((await node.call('POST', `/api/torrents/${hex}/move`, { to: 'relative/dir' })).status, 400, 'a relative folder is refused');
  const res = await node.call('POST', `/api/torrents/${hex}/move`, { to: elsewhere });
  t.is(res.status, 200, res.text);
  t.is(res.json().state, 'seeding');
  t.is(res.json().downloadLimit, 123_456, 'its limits move with it');
  t.false(await exists(path.join(node.downloadsDir, tt.name)), 'gone from the old folder');
  t.true((await readFile(path.join(elsewhere, tt.name))).equals(tt.data), 'byte-equal in the new one');
  t.is(node.daemon.records.find((r) => r.infoHash === hex)?.kind === 'torrent' && (node.daemon.records.find((r) => r.infoHash === hex) as { contentPath: string }).contentPath, path.join(elsewhere, tt.name));

  const leech = await startApiDaemon(t, '127.0.0.5', { extra: { peers: [{ host: '127.0.0.1', port: node.daemon.session.port }] } });
  t.is((await leech.call('POST', '/api/torrents', tt.bytes)).status, 201);
  await pollUntil(() => leech.daemon.session.torrent(hex)?.complete, 'a download from the moved torrent', 30_000);
  t.true((await readFile(path.join(leech.downloadsDir, tt.name))).equals(tt.data));
});

test('remove without its data keeps the files; with deleteData=1 deletes only the files the torrent names', async (t) => {
  t.timeout(60_000);
  const node = await startApiDaemon(t, '127.0.0.1');
  // A multi-file torrent whose folder also holds a file of the user's, next to a file outside it.
  const files = [
    { path: ['a.bin'], length: 70_000 },
    { path: ['sub', 'b.bin'], length: 50_000 },
  ];
  const data = tinyData(9, 120_000);
  const pl = 32 * 1024;
  const hashes: Buffer[] = [];
  for (let off = 0; off < data.length; off += pl) hashes.push(createHash('sha1').update(data.subarray(off, off + pl)).digest());
  const bytes = buildTorrent({ name: 'multi', files, pieceLength: pl, pieces: Buffer.concat(hashes) });
  const meta = parseTorrent(bytes);
  const content = path.join(node.downloadsDir, 'multi');
  await mkdir(path.join(content, 'sub'), { recursive: true });
  await writeFile(path.join(content, 'a.bin'), data.subarray(0, 70_000));
  await writeFile(path.join(content, 'sub', 'b.bin'), data.subarray(70_000));
  await writeFile(path.join(content, 'sub', 'mine.txt'), 'not the torrent\'s');
  await writeFile(path.join(node.downloadsDir, 'beside.txt'), 'outside the content path');
  const single = sizedTorrent(5, 100_000);
  await writeFile(path.join(node.downloadsDir, single.name), single.data);

  t.is((await node.call('POST', '/api/torrents', bytes)).status, 201);
  t.is((await node.call('POST', '/api/torrents', single.bytes)).status, 201);
  await pollUntil(() => node.daemon.session.torrent(meta.infoHashHex)?.complete && node.daemon.session.torrent(single.meta.infoHashHex)?.complete, 'both torrents verified');

  // Without its data.
  const kept = await node.call('DELETE', `/api/torrents/${single.meta.infoHashHex}`);
  t.is(kept.status, 200, kept.text);
  t.deepEqual(kept.json(), { infoHash: single.meta.infoHashHex, removed: true }, 'the answer is as before deleteData existed');
  t.true(await exists(path.join(node.downloadsDir, single.name)), 'the data is kept');
  t.is(node.daemon.records.length, 1);

  t.is((await node.call('DELETE', `/api/torrents/${meta.infoHashHex}?deleteData=maybe`)).status, 400);
  const gone = await node.call('DELETE', `/api/torrents/${meta.infoHashHex}?deleteData=1`);
  t.is(gone.status, 200, gone.text);
  t.true(gone.json().deletedData);
  t.false(await exists(path.join(content, 'a.bin')));
  t.false(await exists(path.join(content, 'sub', 'b.bin')));
  t.is(await readFile(path.join(content, 'sub', 'mine.txt'), 'utf8'), 'not the torrent\'s', 'a file the torrent does not name stays (and its folders)');
  t.true(await exists(path.join(node.downloadsDir, 'beside.txt')), 'nothing outside the content path is touched');
  t.true(await exists(path.join(node.downloadsDir, single.name)));
  t.is(node.daemon.session.torrents.length, 0);
  t.is(node.daemon.records.length, 0);
  t.false(await exists(path.join(node.stateDir, 'resume', `${meta.infoHashHex}.resume`)), 'its resume state goes too');
});
