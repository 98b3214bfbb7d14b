/**
 * Issue 13 part 5: 1,000 BitTorrent clients from 1,000 loopback addresses
 * (127.0.20.1 to 127.0.23.250) send a BEP 15 connect to the built
 * `peer tracker` at the same moment, once each, no retransmission. Every one
 * gets a connection id. Before, 388 did: the UDP socket's default receive
 * buffer (~200 KiB) overflowed and the kernel dropped the rest.
 *
 * The tracker runs with its defaults (rate limits on): one connect per
 * address is far inside the per-address bucket.
 */
import test from 'ava';
import dgram from 'node:dgram';
import { decodeUdpResponse, encodeUdpRequest } from '../src/tracker/udp-codec.js';
import { pollUntil } from './helpers/poll.js';
import { freePort, spawnPeer, WAIT_MS } from './helpers/swarm.js';

const CLIENTS = 1000;

function clientAddress(i: number): string {
  return `127.0.${20 + Math.floor(i / 250)}.${1 + (i % 250)}`;
}

test('a burst of 1,000 connects from 1,000 addresses: every client gets a connection id', async (t) => {
  t.timeout(120_000);
  const port = await freePort(['127.0.0.1']);
  const tracker = spawnPeer(t, ['tracker', '--host', '127.0.0.1', '--port', String(port)]);
  await pollUntil(() => tracker.stdout().includes('tracker listening'), 'the tracker to listen', WAIT_MS);

  const sockets: dgram.Socket[] = [];
  t.teardown(() => sockets.forEach((s) => s.close()));
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, i) => {
      const s = dgram.createSocket('udp4');
      sockets.push(s);
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.bind(0, clientAddress(i), () => (s.off('error', reject), resolve()));
      });
    }),
  );
  const ids = new Map<number, bigint>();
  sockets.forEach((s, i) =>
    s.on('message', (msg) => {
      const res = decodeUdpResponse(msg);
      if (res.action === 'connect' && res.transactionId === i) ids.set(i, res.connectionId);
    }),
  );
  // All at once: nothing is read by us until every connect is on its way.
  sockets.forEach((s, i) => s.send(encodeUdpRequest({ action: 'connect', transactionId: i }), port, '127.0.0.1'));
  await pollUntil(() => ids.size === CLIENTS || undefined, `${CLIENTS} connection ids`, 10_000, 50).catch(() => undefined);
  t.is(ids.size, CLIENTS, `${ids.size} of ${CLIENTS} clients got a connection id`);
  // Ids are per address: 1,000 addresses, 1,000 different ids.
  t.is(new Set(ids.values()).size, CLIENTS);
});
