/**
 * Issue 11, row 2: a peer sends ut_metadata (BEP 9) requests for piece 0
 * and never reads. Before: each 31-byte request was answered with a 16 KiB
 * piece queued in the socket; 60,000 of them took the seeder to 1 GB.
 *
 * A raw attacker against the built seeder announces ut_metadata, stops
 * reading and sends 60,000 requests for piece 0 (reconnecting when
 * dropped), while an honest built leecher fetches the same torrent from a
 * magnet link (its metadata through ut_metadata too) and downloads it.
 */
import test from 'ava';
import { singleFileTorrent, tempDir } from './helpers/swarm.js';
import { connectRaw, torrentShape } from './helpers/wire-peer.js';
import { encodeMessage } from '../src/wire/messages.js';
import { EXTENDED_HANDSHAKE_ID, UT_METADATA, encodeExtendedHandshake } from '../src/wire/extension.js';
import { encodeMetadataMessage, metadataPieceCount } from '../src/wire/ut-metadata.js';
import { aliveAndBackToBaseline, checkPeak, honestServed, watchPeakRss, linesMatching, startHonestLeecher, startSeeder } from './hostile-peer-helpers.js';

const SEEDER = '127.0.0.2';
const HONEST = '127.0.0.3';
const ATTACKER = '127.0.0.6';
const REQUESTS = 60_000;
const ATTACK_MS = 25_000;
/** The id our seeder receives ut_metadata under (its `m`). */
const SEEDER_UT_METADATA = 1;

test('ut_metadata requests from a peer that never reads: answers bounded, the flooder dropped, a magnet leecher served', async (t) => {
  const dir = await tempDir(t, 'hostile-metadata-');
  // 1100 pieces of 16 KiB: an info dict of ~22 KB, so piece 0 of the metadata is a full 16 KiB.
  const fx = await singleFileTorrent(dir, { name: 'payload.bin', length: 1100 * 16384 - 777, pieceLength: 16384, seed: 12 });
  t.true(fx.meta.infoBytes.length > 16384);
  t.is(metadataPieceCount(fx.meta.infoBytes.length), 2);
  const shape = torrentShape(fx.pieceLength, fx.totalLength);
  const seeder = await startSeeder(t, dir, fx, SEEDER);

  const magnet = `magnet:?xt=urn:btih:${fx.infoHashHex}&dn=${fx.meta.info.name}`;
  const honest = startHonestLeecher(t, dir, magnet, HONEST, seeder);

  const request = encodeMessage({ type: 'extended', id: SEEDER_UT_METADATA, payload: encodeMetadataMessage({ msgType: 'request', piece: 0 }) });
  t.is(request.length, 31, 'a request is 31 bytes on the wire, as in the issue');
  const peak = watchPeakRss(seeder.pid);
  let sent = 0;
  let connections = 0;
  let dropped = 0;
  const deadline = Date.now() + ATTACK_MS;
  while (sent < REQUESTS && Date.now() < deadline) {
    let raw;
    try {
      raw = await connectRaw(t, { host: SEEDER, port: seeder.port, localAddress: ATTACKER, infoHash: fx.meta.infoHash, shape, extensionProtocol: true });
      await raw.handshake();
      raw.write(encodeMessage({ type: 'extended', id: EXTENDED_HANDSHAKE_ID, payload: encodeExtendedHandshake({ m: { [UT_METADATA]: 3 } }) }));
      await raw.waitMessage((m) => m.type === 'extended' && m.id === EXTENDED_HANDSHAKE_ID, 'the seeder extension handshake', 10_000);
    } catch {
      raw?.destroy();
      await new Promise((r) => setTimeout(r, 200));
      continue;
    }
    connections++;
    raw.socket.pause(); // never read again
    while (sent < REQUESTS && !raw.isClosed() && Date.now() < deadline) {
      const n = Math.min(2000, REQUESTS - sent);
      const ok = raw.socket.write(Buffer.concat(Array.from({ length: n }, () => request)));
      sent += n;
      if (!ok) await Promise.race([new Promise((r) => raw.socket.once('drain', r)), raw.closed, new Promise((r) => setTimeout(r, 2000))]);
      else await new Promise((r) => setImmediate(r));
    }
    // Stay (not reading) while the seeder works through what was sent, unless it drops us first.
    await Promise.race([raw.closed, new Promise((r) => setTimeout(r, 4000))]);
    if (raw.isClosed()) dropped++;
    raw.destroy();
  }
  checkPeak(t, seeder, await peak.stop(), 'ut_metadata flood');
  t.log(`attacker: ${sent} ut_metadata requests over ${connections} connections (${dropped} dropped by the seeder)`);
  t.is(sent, REQUESTS, 'the attack was carried out');

  await honestServed(t, honest, fx, 60_000);
  await aliveAndBackToBaseline(t, seeder, 'ut_metadata flood');
  const lines = linesMatching(seeder.proc, /warn .*127\.0\.0\.6:\d+.*ut_metadata/);
  t.true(lines.length >= 1, `the seeder said why it stopped answering ${ATTACKER}:\n${seeder.proc.stderr().slice(-3000)}`);
  t.true(lines.length <= 2 * connections, `a line or two per attacker connection, not one per request: ${lines.length} for ${connections}`);
  seeder.proc.kill('SIGTERM');
});
