/**
 * A magnet link resolved and downloaded from a WebTorrent seeder that we
 * find only through the DHT: no tracker, no x.pe, no --peer. Our DHT node
 * on 127.0.0.1 is the bootstrap of both WebTorrent's DHT (bittorrent-dht
 * inside webtorrent@1.9.7) and our leecher's.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebTorrent from 'webtorrent';
import { DhtNode } from '../src/dht/node.js';
import { Session } from '../src/session/session.js';
import { parseMagnet } from '../src/metainfo/magnet.js';
import { resolveSettings } from '../src/settings.js';
import { silentLogger } from '../src/log.js';

test('a magnet link from a WebTorrent seeder found only through the DHT downloads byte-equal', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'wt-dht-'));
  const bootstrap = new DhtNode({ host: '127.0.0.1', port: 0, logger: silentLogger });
  await bootstrap.start();
  const boot = `127.0.0.1:${bootstrap.address.port}`;
  // Everything but the DHT off; the DHT knows only our bootstrap node, so it never leaves loopback.
  const client = new WebTorrent({ dht: { bootstrap: [boot] }, tracker: false, lsd: false, natUpnp: false, natPmp: false, utp: false, webSeeds: false, torrentPort: 0 });
  let session: Session | undefined;
  t.teardown(async () => {
    await session?.stop();
    await new Promise<void>((r) => client.destroy(() => r()));
    await bootstrap.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const data = Buffer.concat([randomBytes(2 * 1024 * 1024 + 4321), Buffer.alloc(5000)]);
  const file = join(dir, 'dht-payload.bin');
  await writeFile(file, data);
  const infoHash = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('WebTorrent did not start seeding')), 30_000);
    client.seed(file, { announce: [] }, (tor) => {
      clearTimeout(timer);
      resolve(tor.infoHash);
    });
  });

  session = new Session({
    settings: resolveSettings({ host: '127.0.0.3', port: 0 }),
    stateDir: join(dir, 'state'),
    logger: silentLogger,
    dht: { bootstrap: [{ host: '127.0.0.1', port: bootstrap.address.port }] },
  });
  await session.start();
  // Only the info-hash: WebTorrent's own magnet may list public trackers.
  const magnet = parseMagnet(`magnet:?xt=urn:btih:${infoHash}&dn=dht-payload.bin`);
  const torrent = await Promise.race([
    session.addMagnet(magnet, { outDir: join(dir, 'out') }),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error('metadata not found through the DHT in 60 s')), 60_000).unref()),
  ]);
  if (!torrent.complete) {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`download did not finish (have ${torrent.have}/${torrent.metainfo.info.pieceCount})`)), 60_000);
      torrent.once('torrent:complete', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
  t.is(torrent.infoHashHex, infoHash);
  t.true((await readFile(join(dir, 'out', 'dht-payload.bin'))).equals(data));
});
