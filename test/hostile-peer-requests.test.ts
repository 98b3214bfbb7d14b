/**
 * Issue 11, row 1: a peer sends request+cancel pairs for the same blocks and
 * never reads. Before: the seeder's upload queue kept every cancelled entry
 * (and, with BEP 6, a reject per cancel waited in the socket), ~140 MB per
 * million pairs, never given back.
 *
 * Two raw attackers against the built seeder (one with the fast extension,
 * one without) get unchoked, stop reading, and send up to half a million
 * pairs each, reconnecting when dropped; an honest built leecher downloads
 * at the same time. The seeder stays up, serves the leecher, says once per
 * attacker connection why it dropped it, and its RSS settles back within
 * 50 MB of its baseline.
 */
import test from 'ava';
import { singleFileTorrent, tempDir } from './helpers/swarm.js';
import { connectRaw, torrentShape } from './helpers/wire-peer.js';
import { encodeMessage } from '../src/wire/messages.js';
import type { TorrentShape } from '../src/wire/validate.js';
import type { Teardown } from './helpers/swarm.js';
import { aliveAndBackToBaseline, checkPeak, honestServed, watchPeakRss, linesMatching, startHonestLeecher, startSeeder, type Seeder } from './hostile-peer-helpers.js';

const SEEDER = '127.0.0.2';
const HONEST = '127.0.0.3';
const FAST_ATTACKER = '127.0.0.6';
const PLAIN_ATTACKER = '127.0.0.7';
const PAIRS_EACH = 500_000;
const ATTACK_MS = 25_000;
const BLOCK = 16384;

/** `pairs` request+cancel pairs over the torrent's blocks, starting at block `from`. */
function pairBatch(shape: TorrentShape, pieceLength: number, from: number, pairs: number): Buffer {
  const blocksPerPiece = pieceLength / BLOCK;
  const fullPieces = shape.pieceCount - 1; // the last one may be short: stay on full pieces
  const out: Uint8Array[] = [];
  for (let i = 0; i < pairs; i++) {
    const b = (from + i) % (fullPieces * blocksPerPiece);
    const req = { index: Math.floor(b / blocksPerPiece), begin: (b % blocksPerPiece) * BLOCK, length: BLOCK };
    out.push(encodeMessage({ type: 'request', ...req }), encodeMessage({ type: 'cancel', ...req }));
  }
  return Buffer.concat(out);
}

interface AttackReport {
  pairs: number;
  connections: number;
  droppedBySeeder: number;
}

/** Connects, is unchoked, stops reading, floods pairs; again after each drop, until `total` pairs or the deadline. */
async function attack(t: Teardown, seeder: Seeder, host: string, fast: boolean, shape: TorrentShape, pieceLength: number, infoHash: Uint8Array, total: number): Promise<AttackReport> {
  const report: AttackReport = { pairs: 0, connections: 0, droppedBySeeder: 0 };
  const deadline = Date.now() + ATTACK_MS;
  while (report.pairs < total && Date.now() < deadline) {
    let raw;
    try {
      raw = await connectRaw(t, { host: seeder.host, port: seeder.port, localAddress: host, infoHash, shape, fast });
      await raw.handshake();
      raw.write(encodeMessage({ type: 'interested' }));
      await raw.waitMessage((m) => m.type === 'unchoke', 'an unchoke', 10_000);
    } catch {
      raw?.destroy();
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    report.connections++;
    raw.socket.pause(); // never read again
    while (report.pairs < total && !raw.isClosed() && Date.now() < deadline) {
      const n = Math.min(20_000, total - report.pairs);
      const ok = raw.socket.write(pairBatch(shape, pieceLength, report.pairs, n));
      report.pairs += n;
      if (!ok) await Promise.race([new Promise((r) => raw.socket.once('drain', r)), raw.closed, new Promise((r) => setTimeout(r, 2000))]);
    }
    // Stay (not reading) while the seeder works through what was sent, unless it drops us first.
    await Promise.race([raw.closed, new Promise((r) => setTimeout(r, 4000))]);
    if (raw.isClosed()) report.droppedBySeeder++;
    raw.destroy();
  }
  return report;
}

test('request+cancel floods from peers that never read: queues stay bounded, the flooders are dropped, an honest leecher is served', async (t) => {
  const dir = await tempDir(t, 'hostile-requests-');
  const fx = await singleFileTorrent(dir, { name: 'payload.bin', length: 8 * 1024 * 1024 + 5000, pieceLength: 256 * 1024, seed: 11 });
  const shape = torrentShape(fx.pieceLength, fx.totalLength);
  const seeder = await startSeeder(t, dir, fx, SEEDER);

  const honest = startHonestLeecher(t, dir, fx.torrentPath, HONEST, seeder);
  const peak = watchPeakRss(seeder.pid);
  const [withFast, withoutFast] = await Promise.all([
    attack(t, seeder, FAST_ATTACKER, true, shape, fx.pieceLength, fx.meta.infoHash, PAIRS_EACH),
    attack(t, seeder, PLAIN_ATTACKER, false, shape, fx.pieceLength, fx.meta.infoHash, PAIRS_EACH),
  ]);
  checkPeak(t, seeder, await peak.stop(), 'request+cancel flood');
  t.log(`fast attacker: ${withFast.pairs} pairs over ${withFast.connections} connections (${withFast.droppedBySeeder} dropped by the seeder)`);
  t.log(`plain attacker: ${withoutFast.pairs} pairs over ${withoutFast.connections} connections (${withoutFast.droppedBySeeder} dropped by the seeder)`);
  t.true(withFast.pairs + withoutFast.pairs >= PAIRS_EACH, 'the attack was carried out (at least half a million pairs)');

  await honestServed(t, honest, fx, 60_000);
  await aliveAndBackToBaseline(t, seeder, 'request+cancel flood');

  // One clear line per dropped attacker connection, naming it and why.
  for (const [host, r] of [[FAST_ATTACKER, withFast], [PLAIN_ATTACKER, withoutFast]] as const) {
    const lines = linesMatching(seeder.proc, new RegExp(`warn .*dropping ${host.replace(/\./g, '\\.')}:\\d+: it (cancelled|does not read|has read nothing)`));
    t.true(lines.length >= 1, `the seeder said why it dropped ${host}:\n${seeder.proc.stderr().slice(-3000)}`);
    t.true(lines.length <= r.connections, `at most one line per connection of ${host}: ${lines.length} lines for ${r.connections} connections`);
  }
  seeder.proc.kill('SIGTERM');
});
