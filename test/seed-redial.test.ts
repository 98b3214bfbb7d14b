/**
 * A seed does not dial the seeds it left for being one too (torrent.ts
 * skipDial, pex.ts isDroppedSeed, peer-list.ts toDial): two in-process
 * seeds of the same torrent, one given the other as a peer, meet once,
 * part ("both sides are seeds") and do not meet again, however short the
 * reconnect delay. On a 100-host LAN where everyone had finished, every
 * pair reconnected every reconnectAfterCloseMs only to part again.
 */
import test from 'ava';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from '../src/session/session.js';
import { resolveSettings } from '../src/settings.js';
import { silentLogger } from '../src/log.js';
import { createHash } from 'node:crypto';
import { buildTorrent } from '../src/metainfo/create.js';
import { parseTorrent } from '../src/metainfo/parse.js';
import { PeerList } from '../src/session/peer-list.js';
import { DEFAULT_SETTINGS } from '../src/settings.js';
import { fakeClock } from '../src/util/clock.js';

test('toDial leaves out the peers `skip` names', (t) => {
  const peers = new PeerList({ settings: DEFAULT_SETTINGS, clock: fakeClock(1_000), listenPort: 6881 });
  peers.add([{ host: '10.0.0.1', port: 1 }, { host: '10.0.0.2', port: 2 }]);
  const open = { banned: () => false, canConnect: () => true };
  t.deepEqual(peers.toDial(10, [], { ...open, skip: (key) => key === '10.0.0.1:1' }).map((p) => p.key), ['10.0.0.2:2']);
  t.deepEqual(peers.toDial(10, [], open).map((p) => p.key), ['10.0.0.1:1', '10.0.0.2:2']);
});

test('two seeds of one torrent meet once and part, and are not dialled again', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'seed-redial-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'data.bin');
  const data = Buffer.alloc(64 * 1024, 7);
  await writeFile(file, data);
  const PIECE = 16 * 1024;
  const pieces = Buffer.concat(Array.from({ length: data.length / PIECE }, (_, i) => createHash('sha1').update(data.subarray(i * PIECE, (i + 1) * PIECE)).digest()));
  const metainfo = parseTorrent(buildTorrent({ name: 'data.bin', files: data.length, pieceLength: PIECE, pieces }));
  const fast = { reconnectAfterCloseMs: 100, pinnedReconnectAfterCloseMs: 100, connectRetryInitialMs: 50 };
  const a = new Session({ settings: resolveSettings({ host: '127.0.0.2', port: 0, ...fast }), stateDir: join(dir, 'a'), logger: silentLogger });
  const b = new Session({ settings: resolveSettings({ host: '127.0.0.3', port: 0, ...fast }), stateDir: join(dir, 'b'), logger: silentLogger });
  t.teardown(() => Promise.all([a.stop(), b.stop()]));
  await a.start();
  await b.start();
  const tb = await b.addTorrent(metainfo, { contentPath: file, mode: 'seed' });
  let meetings = 0;
  tb.on('peer:connected', () => meetings++);
  const ta = await a.addTorrent(metainfo, { contentPath: file, mode: 'seed', peers: [{ host: '127.0.0.3', port: b.port }] });
  t.true(ta.complete && tb.complete, 'both are seeds');
  await new Promise((r) => setTimeout(r, 2_500));
  t.is(meetings, 1, 'one meeting in 2.5 s, with a reconnect delay of 100 ms');
});
