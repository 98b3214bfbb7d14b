/**
 * In-process swarms for tests that need to reach inside a peer (its store,
 * its settings, its events): sessions on loopback addresses, and torrents
 * made from bytes in memory.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { buildTorrent } from '../../src/metainfo/create.js';
import { parseTorrent } from '../../src/metainfo/parse.js';
import type { Metainfo } from '../../src/metainfo/types.js';
import { Session } from '../../src/session/session.js';
import type { Torrent } from '../../src/session/torrent.js';
import { resolveSettings, type Settings } from '../../src/settings.js';
import { silentLogger } from '../../src/log.js';
import type { Teardown } from './swarm.js';

/** A single-file torrent of `data` named payload.bin. */
export function torrentOfBytes(data: Uint8Array, pieceLength: number): Metainfo {
  const count = Math.ceil(data.length / pieceLength);
  const pieces = Buffer.concat(Array.from({ length: count }, (_, i) => createHash('sha1').update(data.subarray(i * pieceLength, (i + 1) * pieceLength)).digest()));
  return parseTorrent(buildTorrent({ name: 'payload.bin', files: data.length, pieceLength, pieces }));
}

/** A started session on `host` (any free port), its state under `dir`; stopped in teardown. */
export async function startLocalSession(t: Teardown, host: string, dir: string, settings: Partial<Settings> = {}): Promise<Session> {
  const session = new Session({ settings: resolveSettings({ host, port: 0, ...settings }), stateDir: path.join(dir, `state-${host}`), logger: silentLogger });
  t.teardown(() => session.stop());
  await session.start();
  return session;
}

/** Resolves when the torrent is complete; rejects after `ms`. */
export function waitComplete(torrent: Torrent, ms: number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (torrent.complete) return resolve();
    const timer = setTimeout(() => reject(new Error(`${torrent.metainfo.info.name} not complete after ${ms} ms`)), ms);
    torrent.once('torrent:complete', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
