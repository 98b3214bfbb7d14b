/**
 * A magnet's metadata fetch tries a peer again when it is announced again
 * after a failed try (the 100-host LAN: every host got the magnet at once,
 * the first peers heard were not serving yet, and 15 of 99 stayed stuck).
 */
import test from 'ava';
import net from 'node:net';
import path from 'node:path';
import { MetadataFetcher } from '../src/session/metadata-fetch.js';
import { silentLogger } from '../src/log.js';
import { singleFileTorrent } from './helpers/swarm.js';
import { startSession } from './api-fixtures.js';

test('a peer that failed is tried again when announced again, and then delivers the metadata', async (t) => {
  const { session: seeder, dir } = await startSession(t, { host: '127.0.0.2' });
  const fx = await singleFileTorrent(path.join(dir, 'fx'), { length: 100_000, pieceLength: 16384 });
  // First the address answers but closes at once (a host whose daemon is not serving this torrent yet).
  const early = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve) => early.listen(0, '127.0.0.3', resolve));
  const port = (early.address() as net.AddressInfo).port;
  const fetcher = new MetadataFetcher({
    infoHash: fx.meta.infoHash,
    peerId: new Uint8Array(20).fill(7),
    logger: silentLogger,
    connectTimeoutMs: 2000,
    peerTimeoutMs: 5000,
    retryAfterMs: 100,
    clientVersion: 'test',
  });
  t.teardown(() => fetcher.stop());
  const result = fetcher.fetch();
  fetcher.addPeers([{ host: '127.0.0.3', port }]);
  await new Promise((r) => setTimeout(r, 300));
  t.is(fetcher.pendingPeers, 0, 'tried once and failed');
  // Now the real seeder listens there... (a proxy to it, on the same address and port)
  await new Promise<void>((resolve) => early.close(() => resolve()));
  const proxy = net.createServer((client) => {
    const up = net.connect(seeder.port, '127.0.0.2');
    client.pipe(up).pipe(client);
    const done = (): void => {
      client.destroy();
      up.destroy();
    };
    client.on('error', done);
    up.on('error', done);
  });
  await new Promise<void>((resolve) => proxy.listen(port, '127.0.0.3', resolve));
  t.teardown(() => proxy.close());
  await seeder.addTorrent(fx.meta, { contentPath: fx.contentPath, mode: 'seed' });
  // ...and it is announced again (LSD, the DHT, a tracker): tried again.
  fetcher.addPeers([{ host: '127.0.0.3', port }]);
  const info = await Promise.race([result, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no metadata in 10 s')), 10_000))]);
  t.deepEqual(Buffer.from(info), Buffer.from(fx.meta.infoBytes));
});

test('a failed peer announced again within retryAfterMs is not tried again yet', async (t) => {
  const closer = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve) => closer.listen(0, '127.0.0.3', resolve));
  t.teardown(() => closer.close());
  let connections = 0;
  closer.on('connection', () => connections++);
  const port = (closer.address() as net.AddressInfo).port;
  const fetcher = new MetadataFetcher({ infoHash: new Uint8Array(20).fill(1), peerId: new Uint8Array(20).fill(2), logger: silentLogger, connectTimeoutMs: 1000, peerTimeoutMs: 2000, retryAfterMs: 60_000, clientVersion: 'test' });
  t.teardown(() => fetcher.stop());
  void fetcher.fetch().catch(() => undefined);
  fetcher.addPeers([{ host: '127.0.0.3', port }]);
  await new Promise((r) => setTimeout(r, 300));
  for (let i = 0; i < 5; i++) fetcher.addPeers([{ host: '127.0.0.3', port }]);
  await new Promise((r) => setTimeout(r, 300));
  t.is(connections, 1);
});
