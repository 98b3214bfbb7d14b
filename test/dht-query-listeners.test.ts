import test from 'ava';
import { DhtNode } from '../src/dht/node.js';
import { silentLogger } from '../src/log.js';
import { randomBytes } from '../src/util/hash.js';

// A daemon's DHT source announces to the k closest nodes and looks up at the same time under one
// signal: each query in flight listens to it. Node warned of a listener leak past 10 on most
// daemons of the 100-host LAN; the queries remove their listeners, so the warning was noise on stderr.
test('a dozen queries in flight under one caller signal raise no MaxListenersExceededWarning', async (t) => {
  const settings = { dhtQueryTimeoutMs: 3000 };
  const first = new DhtNode({ host: '127.0.0.1', port: 0, logger: silentLogger, settings });
  await first.start();
  const nodes = [first];
  t.teardown(() => Promise.all(nodes.map((n) => n.stop())).then(() => undefined));
  for (let i = 1; i < 14; i++) {
    const node = new DhtNode({ host: '127.0.0.1', port: 0, bootstrap: [first.address], logger: silentLogger, settings });
    await node.start();
    await node.ready();
    nodes.push(node);
  }
  const warnings: Error[] = [];
  const onWarning = (w: Error): void => void warnings.push(w);
  process.on('warning', onWarning);
  t.teardown(() => void process.off('warning', onWarning));
  const signal = new AbortController().signal;
  const asker = nodes[5]!;
  // Lookups and announces of several info-hashes at once, all under the same signal.
  const infoHashes = Array.from({ length: 4 }, () => randomBytes(20));
  const accepted = await Promise.all(infoHashes.map((ih) => asker.announce(ih, 6881, { signal })));
  t.true(accepted.every((n) => n >= 1), `every announce reached a node (${accepted.join(', ')})`);
  await new Promise((r) => setImmediate(r));
  t.deepEqual(warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message), []);
});
