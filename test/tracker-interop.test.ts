/**
 * Our tracker against independent implementations:
 * - bittorrent-tracker@11's client announces to our HTTP and UDP tracker and receives peers;
 * - our client announces to bittorrent-tracker@11's server over HTTP and UDP and receives peers;
 * - webtorrent@1.9.7 (its own bittorrent-tracker@9 client) finds our peer through our tracker
 *   and dials it.
 */
import test from 'ava';
import { createServer, type Socket } from 'node:net';
import WebTorrent from 'webtorrent';
import { silentLogger } from '../src/log.js';
import { announce, scrape } from '../src/tracker/client.js';
import { TrackerServer } from '../src/tracker/server.js';
import { toHex } from '../src/util/bytes.js';
import { pollUntil } from './helpers/poll.js';

// bittorrent-tracker ships no types; imported by a computed name so tsc does not look for them.
const BT_TRACKER = 'bittorrent-tracker';
// eslint-disable-next-line @typescript-eslint/no-explicit-any
const { Client: BtClient, Server: BtServer } = (await import(BT_TRACKER)) as { Client: any; Server: any };

const IH = Uint8Array.from({ length: 20 }, (_, i) => (i * 13 + 7) & 0xff);
const pid = (n: number): Uint8Array => new Uint8Array(20).fill(n);

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms)))]).finally(() => clearTimeout(timer));
}

async function ourServer(t: { teardown: (fn: () => Promise<void>) => void }): Promise<TrackerServer> {
  const s = new TrackerServer({ host: '127.0.0.1', port: 0, logger: silentLogger });
  t.teardown(() => s.stop());
  await s.start();
  return s;
}

for (const proto of ['http', 'udp'] as const) {
  test(`bittorrent-tracker client announces to our ${proto} tracker and receives peers`, async (t) => {
    const s = await ourServer(t);
    const url = proto === 'http' ? s.announceUrl : s.udpAnnounceUrl;
    await announce(url, { infoHash: IH, peerId: pid(1), port: 7001, uploaded: 0, downloaded: 0, left: 10, event: 'started', localAddress: '127.0.0.21' }, { timeoutMs: 5000 });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const client: any = new (BtClient as any)({ infoHash: toHex(IH), peerId: toHex(pid(2)), announce: [url], port: 7002 });
    t.teardown(() => client.destroy());
    const errors: string[] = [];
    client.on('error', (e: Error) => errors.push(e.message));
    client.on('warning', (e: Error) => errors.push(e.message));
    const peer = new Promise<string>((resolve) => client.on('peer', (p: string) => resolve(p)));
    const update = new Promise<{ complete: number; incomplete: number }>((resolve) => client.on('update', resolve));
    client.start();
    t.is(await withTimeout(peer, 10_000, `peer from ${proto} (${errors.join('; ')})`), '127.0.0.21:7001');
    const u = await withTimeout(update, 10_000, 'update');
    t.is(u.complete + u.incomplete, 2);
    t.deepEqual(errors, []);
    // Our registry recorded their client under its source address and port.
    t.true(s.registry.peersOf(IH).some((p) => p.host === '127.0.0.1' && p.port === 7002));
  });
}

test('our client announces to the bittorrent-tracker server (HTTP and UDP) and receives peers; scrape works', async (t) => {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const server: any = new (BtServer as any)({ http: true, udp: true, ws: false, stats: false });
  const errors: string[] = [];
  server.on('error', (e: Error) => errors.push(e.message));
  server.on('warning', (e: Error) => errors.push(e.message));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  await withTimeout(new Promise<void>((r) => server.listen({ http: 0, udp: 0 }, { http: '127.0.0.1', udp: '127.0.0.1', udp6: '::1' }, () => r())), 5000, 'their server listening');
  const httpUrl = `http://127.0.0.1:${server.http.address().port}/announce`;
  const udpUrl = `udp://127.0.0.1:${server.udp.address().port}`;

  const base = { infoHash: IH, uploaded: 0, downloaded: 0, left: 10, event: 'started' as const };
  // (Their server may hand the asker back to itself, so only inclusion is checked.)
  await announce(httpUrl, { ...base, peerId: pid(1), port: 7101, localAddress: '127.0.0.31' }, { timeoutMs: 5000 });
  const b = await announce(httpUrl, { ...base, peerId: pid(2), port: 7102, localAddress: '127.0.0.32' }, { timeoutMs: 5000 });
  t.true(b.peers.some((p) => p.host === '127.0.0.31' && p.port === 7101));
  t.is(b.incomplete, 2);
  const c = await announce(udpUrl, { ...base, peerId: pid(3), port: 7103, localAddress: '127.0.0.33' }, { timeoutMs: 5000 });
  const cPeers = c.peers.map((p) => `${p.host}:${p.port}`);
  t.true(cPeers.includes('127.0.0.31:7101') && cPeers.includes('127.0.0.32:7102'), cPeers.join(','));
  t.is(c.incomplete, 3);
  const sc = await scrape(httpUrl, [IH], { timeoutMs: 5000 });
  t.is(sc.get(toHex(IH))?.incomplete, 3);
  const su = await scrape(udpUrl, [IH], { timeoutMs: 5000 });
  t.is(su.get(toHex(IH))?.incomplete, 3);
  t.deepEqual(errors, []);
});

test('a WebTorrent 1.9.7 peer finds our peer through our tracker and dials it', async (t) => {
  const s = await ourServer(t);
  // "Our peer": a TCP listener on its own loopback address, announced by our client.
  const dialed: Socket[] = [];
  const listener = createServer((sock) => {
    dialed.push(sock);
    sock.on('error', () => undefined);
  });
  t.teardown(() => new Promise<void>((r) => {
    for (const d of dialed) d.destroy();
    listener.close(() => r());
  }));
  await new Promise<void>((r) => listener.listen(0, '127.0.0.41', () => r()));
  const ourPort = (listener.address() as { port: number }).port;

  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const wt: any = new (WebTorrent as any)({ dht: false, lsd: false, natUpnp: false, natPmp: false, utp: false, webSeeds: false, tracker: {} });
  t.teardown(() => new Promise<void>((r) => wt.destroy(() => r())));
  wt.on('error', () => undefined);
  const data = Buffer.from('tracker interop fixture \0 with a NUL byte\n'.repeat(100));
  const torrent: any = await withTimeout(
    new Promise((resolve) => wt.seed(data, { name: 'fixture.txt', announce: [s.announceUrl] }, resolve)),
    10_000,
    'webtorrent seed',
  );
  const infoHash = Buffer.from(torrent.infoHash, 'hex');
  // Our peer announces as a leecher; WebTorrent has announced (or will on its next interval) as a seed.
  await pollUntil(() => s.registry.peersOf(infoHash).some((p) => p.host === '127.0.0.1'), 'webtorrent announce reaching our tracker', 10_000);
  const reply = await announce(s.announceUrl, { infoHash, peerId: pid(9), port: ourPort, uploaded: 0, downloaded: 0, left: data.length, event: 'started', localAddress: '127.0.0.41' }, { timeoutMs: 5000 });
  t.true(reply.peers.some((p) => p.host === '127.0.0.1' && p.port === wt.torrentPort), 'our peer learns the WebTorrent seed');
  // WebTorrent learns of us on its next announce; ask it to announce now rather than wait an interval.
  torrent.discovery?.tracker?.update?.();
  await pollUntil(() => dialed.length > 0, 'webtorrent dialing our peer', 15_000);
  t.true(dialed.length > 0);
});
