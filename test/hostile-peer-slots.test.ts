/**
 * Issue 11, row 3: handshaken, idle connections take every peer slot.
 * Before: 60 connections from one address filled the torrent, an honest
 * leecher got no peer, and keep-alives kept the squatters for ever.
 *
 * Against the built seeder: 60 raw connections from one address (only a
 * few are let in: the per-address limit), then idle connections from many
 * addresses until the torrent is full, all sending keep-alives every two
 * seconds and nothing else. An honest built leecher must still get in (an
 * idle squatter makes room for it) and complete.
 */
import test from 'ava';
import { singleFileTorrent, tempDir } from './helpers/swarm.js';
import { connectRaw, torrentShape, type RawPeer } from './helpers/wire-peer.js';
import { encodeMessage } from '../src/wire/messages.js';
import { fdCount } from './helpers/proc.js';
import { pollUntil } from './helpers/poll.js';
import { aliveAndBackToBaseline, honestServed, linesMatching, sleep, startHonestLeecher, startSeeder } from './hostile-peer-helpers.js';

const SEEDER = '127.0.0.2';
const HONEST = '127.0.0.3';
const ONE_ADDRESS = '127.0.0.6';
/** The default maxPeersPerTorrent. */
const SLOTS = 60;

test('idle connections cannot squat the peer slots: per-address limit, eviction of idle peers, keep-alives keep no one', async (t) => {
  const dir = await tempDir(t, 'hostile-slots-');
  const fx = await singleFileTorrent(dir, { name: 'payload.bin', length: 4 * 1024 * 1024 + 3000, pieceLength: 64 * 1024, seed: 13 });
  const shape = torrentShape(fx.pieceLength, fx.totalLength);
  const seeder = await startSeeder(t, dir, fx, SEEDER);
  const fdBaseline = await fdCount(seeder.pid);

  const squatters: RawPeer[] = [];
  /** Opens an idle connection from `host`; true when the seeder answered its handshake (let in). */
  const squat = async (host: string): Promise<boolean> => {
    const raw = await connectRaw(t, { host: SEEDER, port: seeder.port, localAddress: host, infoHash: fx.meta.infoHash, shape, fast: true, extensionProtocol: true });
    squatters.push(raw);
    try {
      await raw.handshake();
      return true;
    } catch {
      return false;
    }
  };
  const keepAlive = setInterval(() => {
    for (const s of squatters) if (!s.isClosed()) s.write(encodeMessage({ type: 'keep-alive' }));
  }, 2000);
  t.teardown(() => clearInterval(keepAlive));

  const fromOne = await Promise.all(Array.from({ length: SLOTS }, () => squat(ONE_ADDRESS)));
  const letInFromOne = fromOne.filter(Boolean).length;
  t.log(`${letInFromOne} of ${SLOTS} connections from ${ONE_ADDRESS} let in`);
  t.true(letInFromOne <= 4, `a few connections per address at most, got ${letInFromOne}`);

  // Then idle peers from many addresses, one each, until the torrent is full.
  let letIn = letInFromOne;
  for (let i = 1; letIn < SLOTS && i <= 100; i++) if (await squat(`127.0.1.${i}`)) letIn++;
  await sleep(500);
  const open = squatters.filter((s) => !s.isClosed()).length;
  t.log(`${open} idle connections open; the torrent holds ${SLOTS}`);
  t.true(open >= SLOTS - 2, 'the torrent was full of idle peers');

  // An honest leecher arrives at a full torrent of squatters that send keep-alives.
  const honest = startHonestLeecher(t, dir, fx.torrentPath, HONEST, seeder);
  await honestServed(t, honest, fx, 50_000);
  clearInterval(keepAlive);
  const evicted = squatters.filter((s) => s.isClosed()).length - (SLOTS - letInFromOne);
  t.log(`${evicted} idle squatters evicted`);

  for (const s of squatters) s.destroy();
  // Bounded: the seeder closes its ends as the resets come in; the check below says how far it got.
  await pollUntil(async () => (await fdCount(seeder.pid)) <= fdBaseline + 5, 'the seeder to close the sockets', 10_000, 100).catch(() => undefined);
  await aliveAndBackToBaseline(t, seeder, 'slot squatting');
  const fds = await fdCount(seeder.pid);
  t.log(`seeder descriptors: ${fdBaseline} before, ${fds} after`);
  t.true(fds <= fdBaseline + 5, `descriptors back near the baseline: ${fds} vs ${fdBaseline}`);

  const refused = linesMatching(seeder.proc, /warn .*refusing more connections from 127\.0\.0\.6/);
  t.is(refused.length, 1, `one line about the connections refused from ${ONE_ADDRESS}:\n${seeder.proc.stderr().slice(-3000)}`);
  const evictions = linesMatching(seeder.proc, /warn .*torrent full .*closing idle/);
  t.is(evictions.length, 1, `one line about evicting idle peers:\n${seeder.proc.stderr().slice(-3000)}`);
  seeder.proc.kill('SIGTERM');
});
