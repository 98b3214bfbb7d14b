/**
 * Daemons in process with their HTTP API, for the per-torrent control
 * tests (limits, queue, seed limits, recheck, move, remove): loopback
 * addresses, no DHT, no trackers, stopped in teardown.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Daemon, type DaemonOptions } from '../src/session/daemon.js';
import { ApiServer } from '../src/api/server.js';
import { resolveSettings, type Settings } from '../src/settings.js';
import { silentLogger } from '../src/log.js';
import { request, type RawResponse } from './api-fixtures.js';
import { tinyTorrent, writeContent, type TinyTorrent } from './daemon-helpers.js';
import { tempDir, type Teardown } from './helpers/swarm.js';

export interface ApiDaemon {
  daemon: Daemon;
  root: string;
  torrentsDir: string;
  downloadsDir: string;
  stateDir: string;
  apiPort: number;
  call(method: string, p: string, body?: unknown): Promise<RawResponse>;
}

/** A daemon (with its API on 127.0.0.1) rooted at `root`; settings beyond the defaults may be given. */
export async function startApiDaemon(t: Teardown, host: string, opts: { root?: string; settings?: Partial<Settings>; extra?: Partial<DaemonOptions> } = {}): Promise<ApiDaemon> {
  const root = opts.root ?? (await tempDir(t, 'control-'));
  const dirs = { torrentsDir: path.join(root, 'torrents'), downloadsDir: path.join(root, 'downloads'), stateDir: path.join(root, 'state') };
  const daemon: Daemon = new Daemon({
    settings: resolveSettings({ host, port: 0, lsdEnabled: false, ...opts.settings }),
    ...dirs,
    logger: silentLogger,
    useTrackers: false,
    dht: false,
    rescanIntervalMs: 200,
    settleMs: 50,
    saveIntervalMs: 100,
    createApi: (session): ApiServer =>
      new ApiServer({
        session,
        port: 0,
        downloadsDir: dirs.downloadsDir,
        uploadsDir: path.join(root, 'uploads'),
        contentPathOf: (hex: string): string | undefined => {
          const r = daemon.records.find((x) => x.infoHash === hex);
          return r?.kind === 'torrent' ? r.contentPath : undefined;
        },
        privateDirs: [dirs.stateDir],
        logger: silentLogger,
      }),
    ...opts.extra,
  });
  t.teardown(() => daemon.stop());
  await daemon.start();
  const apiPort = daemon.api!.port;
  const call = (method: string, p: string, body?: unknown): Promise<RawResponse> =>
    request(apiPort, {
      method,
      path: p,
      ...(body !== undefined
        ? body instanceof Uint8Array
          ? { body: Buffer.from(body), headers: { 'Content-Type': 'application/x-bittorrent' } }
          : { body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } }
        : {}),
    });
  return { daemon, root, ...dirs, apiPort, call };
}

/** A seeding daemon on `host` holding `torrents` (data in its downloads/, .torrent in its watch folder), every one seeding. */
export async function startSeeder(t: Teardown, host: string, torrents: TinyTorrent[], settings: Partial<Settings> = {}): Promise<ApiDaemon> {
  const root = await tempDir(t, 'control-seed-');
  await mkdir(path.join(root, 'torrents'), { recursive: true });
  for (const tt of torrents) {
    await writeContent(path.join(root, 'downloads'), tt);
    await writeFile(path.join(root, 'torrents', `${tt.name}.torrent`), tt.bytes);
  }
  const node = await startApiDaemon(t, host, { root, settings });
  const { pollUntil } = await import('./helpers/poll.js');
  await pollUntil(() => node.daemon.session.torrents.length === torrents.length && node.daemon.session.torrents.every((x) => x.state === 'seeding'), 'the seeder to seed every torrent', 60_000);
  return node;
}

/** A torrent of `bytes` bytes (64 KiB pieces). */
export function sizedTorrent(n: number, bytes: number): TinyTorrent {
  return tinyTorrent(n, { length: bytes, pieceLength: 64 * 1024 });
}
