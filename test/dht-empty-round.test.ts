/**
 * A DHT node that knows nobody yet (the first machine of a LAN, whose node
 * the others bootstrap from) must not stay invisible for a whole announce
 * interval, and the peers announced to a node itself must count in its own
 * lookups. Found against libtorrent (test/interop-libtorrent-dht.test.ts): a
 * libtorrent leecher bootstrapping from our seeder's node never found it.
 */
import test from 'ava';
import { DhtNode } from '../src/dht/node.js';
import { DhtPeerSource } from '../src/discovery/dht-source.js';
import type { PeerAddress, PeerSourceContext } from '../src/discovery/peer-source.js';
import { silentLogger } from '../src/log.js';
import { randomBytes } from '../src/util/hash.js';
import { pollUntil } from './helpers/poll.js';

const settings = { dhtQueryTimeoutMs: 3000 };

function ctxFor(infoHash: Uint8Array, port: number, onPeers: (peers: PeerAddress[]) => void = () => undefined): PeerSourceContext {
  return { infoHash, peerId: randomBytes(20), port, stats: () => ({ uploaded: 0, downloaded: 0, left: 0 }), onPeers: (peers) => onPeers(peers) };
}

test('getPeers includes the peers announced to the node itself', async (t) => {
  const a = new DhtNode({ host: '127.0.0.1', port: 0, logger: silentLogger, settings });
  await a.start();
  const b = new DhtNode({ host: '127.0.0.1', port: 0, bootstrap: [a.address], logger: silentLogger, settings });
  t.teardown(() => Promise.all([a.stop(), b.stop()]));
  await b.start();
  await b.ready();
  const infoHash = randomBytes(20);
  // b knows only a: its announce lands on a alone.
  t.is(await b.announce(infoHash, 1111), 1);
  // a's lookup asks b (which holds nothing): the peer is in a's own store.
  t.deepEqual(await a.getPeers(infoHash), [{ host: '127.0.0.1', port: 1111 }]);
});

test('a source whose round found nobody tries again after retryMs, not after the interval', async (t) => {
  // The seeder's node is alone when its first round runs: no peer found, no node took the announce.
  const lone = new DhtNode({ host: '127.0.0.1', port: 0, logger: silentLogger, settings });
  await lone.start();
  t.teardown(() => lone.stop());
  const infoHash = randomBytes(20);
  const source = new DhtPeerSource(lone, ctxFor(infoHash, 2222), { intervalMs: 600_000, retryMs: 200, logger: silentLogger });
  t.teardown(() => source.stop());
  source.start();
  await pollUntil(async () => (source.nextDelayMs() < 600_000 ? true : undefined), 'the first (empty) round', 5000, 100);
  t.is(source.nextDelayMs(), 200);

  // A leecher's node joins through the seeder's node afterwards, and looks the torrent up.
  const joiner = new DhtNode({ host: '127.0.0.1', port: 0, bootstrap: [lone.address], logger: silentLogger, settings });
  t.teardown(() => joiner.stop());
  await joiner.start();
  await joiner.ready();
  const peers = await pollUntil(async () => {
    const p = await joiner.getPeers(infoHash);
    return p.some((x) => x.port === 2222) ? p : undefined;
  }, 'the seeder found through the DHT', 10_000, 100);
  t.true(peers.some((p) => p.host === '127.0.0.1' && p.port === 2222));
});

test('empty rounds back off by doubling, up to the interval', async (t) => {
  const lone = new DhtNode({ host: '127.0.0.1', port: 0, logger: silentLogger, settings });
  await lone.start();
  t.teardown(() => lone.stop());
  const source = new DhtPeerSource(lone, ctxFor(randomBytes(20), 1), { intervalMs: 1000, retryMs: 100, logger: silentLogger });
  t.teardown(() => source.stop());
  source.start();
  const seen: number[] = [];
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline && seen.at(-1) !== 1000) {
    const d = source.nextDelayMs();
    if (d !== seen.at(-1) && !(seen.length === 0 && d === 1000)) seen.push(d);
    await new Promise((r) => setTimeout(r, 10));
  }
  t.deepEqual(seen, [100, 200, 400, 800, 1000]);
});
