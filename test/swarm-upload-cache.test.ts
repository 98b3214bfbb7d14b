/**
 * The seeder's upload cache recycles its piece images as soon as the
 * messages written from them have left the socket. With a cache of two
 * pieces and several peers asking for different pieces at once, images are
 * evicted and reused all the time: one reused while a socket still held a
 * slice of it would send wrong bytes (a leecher would fail hashes and ban
 * the seeder).
 */
import test from 'ava';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { Torrent } from '../src/session/torrent.js';
import { encodeMessage } from '../src/wire/messages.js';
import { connectRaw, torrentShape } from './helpers/wire-peer.js';
import { tempDir } from './helpers/swarm.js';
import { startLocalSession, torrentOfBytes, waitComplete } from './helpers/in-process.js';

const PIECE = 32 * 1024; // two 16 KiB blocks per piece

test('three leechers served at once from a two-piece upload cache all get exact data, with no hash failure', async (t) => {
  const dir = await tempDir(t, 'swarm-upload-cache-');
  const data = randomBytes(160 * PIECE + 5000); // a short last piece, itself two blocks (16 KiB and 5000 bytes)
  const file = join(dir, 'payload.bin');
  await writeFile(file, data);
  const metainfo = torrentOfBytes(data, PIECE);
  const seedSession = await startLocalSession(t, '127.0.0.2', dir, { uploadCacheBytes: 2 * PIECE });
  const seeded = await seedSession.addTorrent(metainfo, { contentPath: file, mode: 'seed' });
  t.true(seeded.complete);

  const failures: number[] = [];
  const leechers: { torrent: Torrent; out: string }[] = [];
  for (const host of ['127.0.0.3', '127.0.0.4', '127.0.0.5']) {
    const s = await startLocalSession(t, host, dir);
    const out = join(dir, `out-${host}`);
    const torrent = await s.addTorrent(metainfo, { contentPath: out, mode: 'leech', peers: [{ host: '127.0.0.2', port: seedSession.port }] });
    torrent.on('piece:failed', (f) => failures.push(f.index));
    leechers.push({ torrent, out });
  }
  await Promise.all(leechers.map((l) => waitComplete(l.torrent, 60_000)));

  t.deepEqual(failures, [], 'no piece failed its hash');
  for (const l of leechers) {
    await l.torrent.stop();
    t.true((await readFile(l.out)).equals(data), `${l.out} is byte-equal`);
  }
  t.true(seeded.stats().uploaded >= data.length, 'the seeder served at least one whole copy');
});

test('blocks queued to a peer that stopped reading keep their bytes while other peers churn the upload cache', async (t) => {
  // The slow peer's unread blocks wait in the seeder's socket; meanwhile a
  // fast leecher makes the seeder read (and evict) every piece. Were an
  // image reused while the slow socket still held a slice of it, the slow
  // peer would read other pieces' bytes when it wakes up.
  const dir = await tempDir(t, 'swarm-upload-cache-');
  const data = randomBytes(512 * PIECE);
  const file = join(dir, 'payload.bin');
  await writeFile(file, data);
  const metainfo = torrentOfBytes(data, PIECE);
  const seedSession = await startLocalSession(t, '127.0.0.2', dir, { uploadCacheBytes: 2 * PIECE });
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

  const s = await startLocalSession(t, '127.0.0.3', dir);
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
});
