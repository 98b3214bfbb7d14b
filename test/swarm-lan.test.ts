/**
 * A LAN swarm on loopback, in one process: our tracker on 127.0.0.1, a
 * seeder on 127.0.0.2, 20 leechers on 127.0.0.3..22, all on the same port
 * (each "machine" has its own address). Then peer exchange: with the
 * tracker gone, a newcomer given one peer learns the others through PEX.
 */
import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { buildTorrent } from '../src/metainfo/create.js';
import { parseTorrent } from '../src/metainfo/parse.js';
import { Session } from '../src/session/session.js';
import { TrackerServer } from '../src/tracker/server.js';
import { HashPool } from '../src/util/hash-pool.js';
import { resolveSettings } from '../src/settings.js';
import { silentLogger } from '../src/log.js';
import type { Torrent } from '../src/session/torrent.js';
import { pollUntil } from './helpers/poll.js';

const PIECE = 64 * 1024;

function pieceHashes(data: Buffer): Uint8Array {
  const out: Buffer[] = [];
  for (let i = 0; i < data.length; i += PIECE) out.push(createHash('sha1').update(data.subarray(i, i + PIECE)).digest());
  return Buffer.concat(out);
}

function completion(t: Torrent, ms: number): Promise<void> {
  if (t.complete) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${t.metainfo.info.name} did not complete in ${ms} ms (have ${t.have})`)), ms);
    t.once('torrent:complete', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

test('20 leechers behind one tracker all finish with the right data, then PEX brings a newcomer in', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'lan-swarm-'));
  const pool = new HashPool({ threads: 2 });
  const sessions: Session[] = [];
  const tracker = new TrackerServer({ host: '127.0.0.1', port: 0, rateLimit: false });
  t.teardown(async () => {
    await Promise.allSettled(sessions.map((s) => s.stop()));
    await tracker.stop();
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  });
  await tracker.start();

  // 3 MiB plus a short last piece, with NUL runs.
  const data = Buffer.concat([randomBytes(3 * 1024 * 1024), Buffer.alloc(20_000), randomBytes(777)]);
  await writeFile(join(dir, 'payload.bin'), data);
  const metainfo = parseTorrent(
    buildTorrent({ name: 'payload.bin', files: data.length, pieceLength: PIECE, pieces: pieceHashes(data), announce: [tracker.announceUrl] }),
  );

  const port = 20000 + Math.floor(Math.random() * 12_700); // below the ephemeral range (see freePort)
  const settings = (host: string) => resolveSettings({ host, port });
  const start = async (host: string): Promise<Session> => {
    const s = new Session({ settings: settings(host), stateDir: join(dir, `state-${host}`), logger: silentLogger, pool });
    sessions.push(s);
    await s.start();
    return s;
  };

  const seeder = await start('127.0.0.2');
  await seeder.addTorrent(metainfo, { contentPath: join(dir, 'payload.bin'), mode: 'seed' });

  const leechers: Torrent[] = [];
  for (let i = 3; i <= 22; i++) {
    const s = await start(`127.0.0.${i}`);
    leechers.push(await s.addTorrent(metainfo, { contentPath: join(dir, `out-${i}`, 'payload.bin'), mode: 'leech' }));
  }
  await Promise.all(leechers.map((l) => completion(l, 90_000)));
  for (let i = 3; i <= 22; i++) {
    t.true((await readFile(join(dir, `out-${i}`, 'payload.bin'))).equals(data), `leecher 127.0.0.${i} has the right bytes`);
  }
  const uploadedBySeeder = seeder.torrents[0]!.stats().uploaded;
  t.log(`seeder uploaded ${(uploadedBySeeder / data.length).toFixed(1)} file sizes for 20 leechers`);
  t.true(uploadedBySeeder < 20 * data.length, 'leechers served each other');

  // Peer exchange: no tracker any more; the newcomer is given only 127.0.0.3.
  await tracker.stop();
  const newcomerSession = new Session({ settings: settings('127.0.0.23'), stateDir: join(dir, 'state-23'), logger: silentLogger, pool, useTrackers: false });
  sessions.push(newcomerSession);
  await newcomerSession.start();
  const newcomer = await newcomerSession.addTorrent(metainfo, {
    contentPath: join(dir, 'out-23', 'payload.bin'),
    mode: 'leech',
    peers: [{ host: '127.0.0.3', port }],
  });
  const met = new Set<string>();
  newcomer.on('peer:connected', (p) => met.add(p.address.split(':')[0]!));
  await completion(newcomer, 60_000);
  // PEX is sent once a second at most here and once a minute per peer: wait (bounded) for an outgoing connection it was never given.
  await pollUntil(() => [...met].some((h) => h !== '127.0.0.3'), 'an outgoing connection to a peer learned by PEX', 15_000, 200).catch(() => undefined);
  t.true([...met].some((h) => h !== '127.0.0.3'), `the newcomer met peers it was never given: ${[...met].join(', ')}`);
  t.true((await readFile(join(dir, 'out-23', 'payload.bin'))).equals(data));
});
