/**
 * Our tracker on `::` (both stacks) in-process, with our tracker client:
 * over HTTP an IPv6 announcer gets the IPv4 peers in `peers` and the IPv6
 * ones in `peers6` (BEP 7), an IPv4 announcer the IPv4 ones only; over UDP
 * (BEP 15) each family gets its own family's peers. IPv4-mapped sources are
 * recorded as plain IPv4.
 */
import test from 'ava';
import net from 'node:net';
import { TrackerServer } from '../src/tracker/server.js';
import { announce } from '../src/tracker/client.js';
import { randomBytes } from '../src/util/hash.js';

const hasV6 = await new Promise<boolean>((resolve) => {
  const s = net.createServer();
  s.once('error', () => resolve(false));
  s.listen(0, '::1', () => s.close(() => resolve(true)));
});
const v6test = hasV6 ? test : test.skip;

v6test('a tracker on :: hands each family its peers: peers6 to IPv6 announcers over HTTP, 18-byte entries over UDP', async (t) => {
  const server = new TrackerServer({ host: '::', port: 0, rateLimit: false });
  await server.start();
  t.teardown(() => server.stop());
  const infoHash = randomBytes(20);
  const req = (port: number, localAddress: string) => ({ infoHash, peerId: randomBytes(20), port, uploaded: 0, downloaded: 0, left: 1, event: 'started' as const, numwant: 50, localAddress });
  const http6 = `http://[::1]:${server.port}/announce`;
  const http4 = `http://127.0.0.1:${server.port}/announce`;
  const udp6 = `udp://[::1]:${server.port}/announce`;
  const udp4 = `udp://127.0.0.1:${server.port}/announce`;
  await announce(http4, req(1111, '127.0.0.1'));
  await announce(http6, req(2222, '::1'));
  t.deepEqual(server.registry.peersOf(infoHash).map((p) => p.host).sort(), ['127.0.0.1', '::1'], 'the IPv4 announcer through the dual-stack socket is recorded as 127.0.0.1');

  const v6http = await announce(http6, req(3333, '::1'));
  t.deepEqual(v6http.peers.map((p) => `${p.host}:${p.port}`).sort(), ['127.0.0.1:1111', '::1:2222']);
  const v4http = await announce(http4, req(4444, '127.0.0.1'));
  t.deepEqual(v4http.peers.map((p) => `${p.host}:${p.port}`).sort(), ['127.0.0.1:1111']);

  const v6udp = await announce(udp6, req(5555, '::1'));
  t.true(v6udp.peers.length > 0 && v6udp.peers.every((p) => p.host === '::1'), JSON.stringify(v6udp.peers));
  const v4udp = await announce(udp4, req(6666, '127.0.0.1'));
  t.true(v4udp.peers.length > 0 && v4udp.peers.every((p) => p.host === '127.0.0.1'), JSON.stringify(v4udp.peers));
  t.is(server.announceUrl, `http://127.0.0.1:${server.port}/announce`, 'a tracker on :: is named by 127.0.0.1, which reaches it wherever IPv4 does');
});
