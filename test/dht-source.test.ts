import test from 'ava';
import { DhtNode } from '../src/dht/node.js';
import { DhtPeerSource } from '../src/discovery/dht-source.js';
import type { PeerAddress, PeerSourceContext } from '../src/discovery/peer-source.js';
import { silentLogger } from '../src/log.js';
import { randomBytes } from '../src/util/hash.js';
import { pollUntil } from './helpers/poll.js';

// Every node in these tests is alive: a generous timeout only matters on a loaded machine.
const settings = { dhtQueryTimeoutMs: 3000 };

test('DhtPeerSource looks peers up, hands them to the torrent and announces our port', async (t) => {
  const nodes: DhtNode[] = [];
  const first = new DhtNode({ host: '127.0.0.1', port: 0, logger: silentLogger, settings });
  await first.start();
  nodes.push(first);
  for (let i = 0; i < 5; i++) {
    const n = new DhtNode({ host: '127.0.0.1', port: 0, bootstrap: [first.address], logger: silentLogger, settings });
    await n.start();
    await n.ready();
    nodes.push(n);
  }
  t.teardown(() => Promise.all(nodes.map((n) => n.stop())));
  const infoHash = randomBytes(20);
  await nodes[1]!.announce(infoHash, 1111);

  const found: { peers: PeerAddress[]; source: string }[] = [];
  let resolveFound: () => void;
  const gotPeers = new Promise<void>((r) => (resolveFound = r));
  const ctx: PeerSourceContext = {
    infoHash,
    peerId: randomBytes(20),
    port: 2222,
    stats: () => ({ uploaded: 0, downloaded: 0, left: 0 }),
    onPeers: (peers, source) => {
      found.push({ peers, source });
      resolveFound();
    },
  };
  const source = new DhtPeerSource(nodes[4]!, ctx, { intervalMs: 60_000, logger: silentLogger });
  source.start();
  source.start();
  await Promise.race([gotPeers, new Promise((_, reject) => setTimeout(() => reject(new Error('no peers in 10 s')), 10_000))]);
  t.deepEqual(found[0], { peers: [{ host: '127.0.0.1', port: 1111 }], source: 'dht' });
  // The announce follows the lookup; poll (bounded) until another node sees port 2222.
  const seen = await pollUntil(async () => {
    const peers = await nodes[2]!.getPeers(infoHash);
    return peers.some((p) => p.port === 2222) ? peers : undefined;
  }, 'another node to see the announced port', 10_000, 100).catch((): PeerAddress[] => []);
  t.true(seen.some((p) => p.host === '127.0.0.1' && p.port === 2222));
  await source.stop();
  await source.stop();
  t.is(found.length, 1, 'no second round before intervalMs');
});
