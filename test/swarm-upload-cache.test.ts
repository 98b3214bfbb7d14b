/**
 * The seeder's upload cache recycles its piece buffers as soon as the
 * blocks written from them have left the socket. With a cache of two
 * pieces and three leechers asking for different pieces at once, buffers
 * are evicted and reused all the time: if one were reused while a socket
 * still held a slice of it, a leecher would receive wrong bytes, fail
 * hashes and ban the seeder. Here every leecher gets exact data with no
 * hash failure.
 */
import test from 'ava';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { buildTorrent } from '../src/metainfo/create.js';
import { parseTorrent } from '../src/metainfo/parse.js';
import { Session } from '../src/session/session.js';
import { resolveSettings } from '../src/settings.js';
import { silentLogger } from '../src/log.js';
import type { Torrent } from '../src/session/torrent.js';
import { encodeMessage } from '../src/wire/messages.js';
import { connectRaw, torrentShape } from './helpers/wire-peer.js';
import type { Metainfo } from '../src/metainfo/types.js';

const PIECE = 32 * 1024; // two 16 KiB blocks per piece
const SIZE = 160 * PIECE + 5000; // a short last piece, itself two blocks (16 KiB and 5000 bytes)

function torrentOf(data: Buffer): Metainfo {
  const pieces = Buffer.concat(
    Array.from({ length: Math.ceil(data.length / PIECE) }, (_, i) => createHash('sha1').update(data.subarray(i * PIECE, (i + 1) * PIECE)).digest()),
  );
  return parseTorrent(buildTorrent({ name: 'payload.bin', files: data.length, pieceLength: PIECE, pieces }));
}

function waitComplete(t: Torrent, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (t.complete) return resolve();
    const timer = setTimeout(() => reject(new Error('timed out waiting for completion')), ms);
    t.once('torrent:complete', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

test('three leechers served at once from a two-piece upload cache all get exact data, with no hash failure', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'swarm-upload-cache-'));
  const sessions: Session[] = [];
  try {
    const data = randomBytes(SIZE);
    const file = join(dir, 'payload.bin');
    await writeFile(file, data);
    const metainfo = torrentOf(data);

    const seedSession = new Session({
      settings: resolveSettings({ host: '127.0.0.2', port: 0, uploadCacheBytes: 2 * PIECE }),
      stateDir: join(dir, 'state-seed'),
      logger: silentLogger,
    });
    sessions.push(seedSession);
    await seedSession.start();
    const seeded = await seedSession.addTorrent(metainfo, { contentPath: file, mode: 'seed' });
    t.true(seeded.complete);

    const failures: number[] = [];
    const leechers: { torrent: Torrent; out: string }[] = [];
    for (const host of ['127.0.0.3', '127.0.0.4', '127.0.0.5']) {
      const s = new Session({ settings: resolveSettings({ host, port: 0 }), stateDir: join(dir, `state-${host}`), logger: silentLogger });
      sessions.push(s);
      await s.start();
      const out = join(dir, `out-${host}`);
      const tor = await s.addTorrent(metainfo, { contentPath: out, mode: 'leech', peers: [{ host: '127.0.0.2', port: seedSession.port }] });
      tor.on('piece:failed', (f) => failures.push(f.index));
      leechers.push({ torrent: tor, out });
    }
    await Promise.all(leechers.map((l) => waitComplete(l.torrent, 60_000)));

    t.deepEqual(failures, [], 'no piece failed its hash');
    for (const l of leechers) {
      await l.torrent.stop();
      t.true((await readFile(l.out)).equals(data), `${l.out} is byte-equal`);
    }
    t.true(seeded.stats().uploaded >= SIZE, 'the seeder served at least one whole copy');
  } finally {
    await Promise.allSettled(sessions.map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
  }
});

test('blocks queued to a peer that stopped reading keep their bytes while other peers churn the upload cache', async (t) => {
  // The slow peer's unread blocks wait in the seeder's socket; meanwhile a
  // fast leecher makes the seeder read (and evict) every piece. Were a
  // buffer reused while the slow socket still held a slice of it, the slow
  // peer would read other pieces' bytes when it wakes up.
  const dir = await mkdtemp(join(tmpdir(), 'swarm-upload-cache-'));
  const sessions: Session[] = [];
  try {
    const data = randomBytes(512 * PIECE);
    const file = join(dir, 'payload.bin');
    await writeFile(file, data);
    const metainfo = torrentOf(data);
    const seedSession = new Session({
      settings: resolveSettings({ host: '127.0.0.2', port: 0, uploadCacheBytes: 2 * PIECE }),
      stateDir: join(dir, 'state-seed'),
      logger: silentLogger,
    });
    sessions.push(seedSession);
    await seedSession.start();
    await seedSession.addTorrent(metainfo, { contentPath: file, mode: 'seed' });

    const shape = torrentShape(PIECE, data.length);
    const slow = await connectRaw(t, { host: '127.0.0.2', port: seedSession.port, localAddress: '127.0.0.6', infoHash: metainfo.infoHash, shape });
    await slow.handshake();
    slow.write(encodeMessage({ type: 'interested' }));
    await slow.waitMessage((m) => m.type === 'unchoke', 'an unchoke');
    slow.socket.pause();
    const wanted: { index: number; begin: number }[] = [];
    for (let index = 0; index < 400; index++) for (const begin of [0, 16384]) wanted.push({ index, begin });
    for (const r of wanted) slow.write(encodeMessage({ type: 'request', index: r.index, begin: r.begin, length: 16384 }));

    const s = new Session({ settings: resolveSettings({ host: '127.0.0.3', port: 0 }), stateDir: join(dir, 'state-fast'), logger: silentLogger });
    sessions.push(s);
    await s.start();
    const fast = await s.addTorrent(metainfo, { contentPath: join(dir, 'out'), mode: 'leech', peers: [{ host: '127.0.0.2', port: seedSession.port }] });
    await waitComplete(fast, 60_000);

    slow.socket.resume();
    const pieceCount = (): number => slow.messages.filter((m) => m.type === 'piece').length;
    await slow.waitMessage(() => pieceCount() === wanted.length, `all ${wanted.length} blocks`, 60_000).catch(() => undefined);
    t.is(pieceCount(), wanted.length, 'every requested block arrived');
    let wrong = 0;
    for (const m of slow.messages) {
      if (m.type !== 'piece') continue;
      const at = m.index * PIECE + m.begin;
      if (!Buffer.from(m.block).equals(data.subarray(at, at + m.block.length))) wrong++;
    }
    t.is(wrong, 0, 'blocks with bytes of another piece');
  } finally {
    await Promise.allSettled(sessions.map((x) => x.stop()));
    await rm(dir, { recursive: true, force: true });
  }
});
