/**
 * Crossing dials (session/connections.ts #winsCrossing): two peers that
 * learn of each other at once dial each other at once. With one connection
 * allowed per address, each refused the other's as a second one, neither
 * stood, and both waited the reconnect delay to cross again: on a LAN where
 * LSD tells every host of every other at the same moment, thousands of
 * refusals a minute. Now both sides keep the connection opened by the lower
 * peer id. Here: a seed and a leecher on loopback, one connection per
 * address (as on a LAN), each given the other at the same moment, with a
 * reconnect delay far longer than the test: the leecher completes at once,
 * over exactly one connection.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from '../src/session/session.js';
import { resolveSettings } from '../src/settings.js';
import { silentLogger } from '../src/log.js';
import { buildTorrent } from '../src/metainfo/create.js';
import { parseTorrent } from '../src/metainfo/parse.js';

test('a seed and a leecher that dial each other at the same moment keep one connection, not none', async (t) => {
  t.timeout(30_000);
  const dir = await mkdtemp(join(tmpdir(), 'crossing-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'data.bin');
  const data = Buffer.alloc(256 * 1024);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7919) & 0xff;
  await writeFile(file, data);
  const PIECE = 16 * 1024;
  const pieces = Buffer.concat(Array.from({ length: data.length / PIECE }, (_, i) => createHash('sha1').update(data.subarray(i * PIECE, (i + 1) * PIECE)).digest()));
  const metainfo = parseTorrent(buildTorrent({ name: 'data.bin', files: data.length, pieceLength: PIECE, pieces }));
  // One connection per address, as between LAN hosts; a refused dial is tried again only long after the test.
  const lan = { maxConnectionsPerLoopbackAddress: 1, reconnectAfterCloseMs: 60_000, pinnedReconnectAfterCloseMs: 60_000, connectRetryInitialMs: 60_000 };
  const sessions = [0, 1].map(
    (i) => new Session({ settings: resolveSettings({ host: `127.0.0.${30 + i}`, port: 0, ...lan }), stateDir: join(dir, `s${i}`), logger: silentLogger }),
  );
  t.teardown(() => Promise.all(sessions.map((s) => s.stop())));
  await Promise.all(sessions.map((s) => s.start()));
  const [seedSession, leechSession] = sessions as [Session, Session];
  const seed = await seedSession.addTorrent(metainfo, { contentPath: file, mode: 'seed' });
  const out = join(dir, 'out', 'data.bin');
  const leech = await leechSession.addTorrent(metainfo, { contentPath: out, mode: 'leech' });
  // In one tick each is told of the other, and each dials at once.
  seed.addPeers([{ host: '127.0.0.31', port: leechSession.port }]);
  leech.addPeers([{ host: '127.0.0.30', port: seedSession.port }]);
  const connections: string[] = [];
  for (const [name, tor] of [['seed', seed], ['leech', leech]] as const) tor.on('peer:connected', (e: { outgoing: boolean }) => connections.push(`${name}:${e.outgoing ? 'out' : 'in'}`));
  const completed = leech.complete ? Promise.resolve() : new Promise<void>((resolve) => leech.once('torrent:complete', () => resolve()));
  const result = await Promise.race([completed.then(() => 'complete'), new Promise((r) => setTimeout(() => r('timed out'), 10_000))]);
  t.is(result, 'complete', 'the leecher completes within 10 s (a refused crossing waits 60 s)');
  t.deepEqual(await readFile(out), data);
  t.is(connections.length, 2, `one connection, seen from both ends: ${connections.join(', ')}`);
  t.true(
    ['leech:in,seed:out', 'leech:out,seed:in'].includes([...connections].sort().join(',')),
    `the two ends of one connection (one dialled, the other took it): ${connections.join(', ')}`,
  );
});
