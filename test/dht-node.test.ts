import test from 'ava';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DhtNode } from '../src/dht/node.js';
import { generateKeyPair, mutableTarget } from '../src/dht/bep44.js';
import { silentLogger } from '../src/log.js';
import { randomBytes } from '../src/util/hash.js';
import { toHex, utf8 } from '../src/util/bytes.js';
import { ROUTING_TABLE_FILE } from '../src/dht/state.js';
import { pollUntil } from './helpers/poll.js';

// Every node in these tests is alive: a generous timeout only matters on a loaded machine.
const settings = { dhtQueryTimeoutMs: 3000 };

async function network(n: number): Promise<DhtNode[]> {
  const first = new DhtNode({ host: '127.0.0.1', port: 0, logger: silentLogger, settings });
  await first.start();
  const nodes = [first];
  for (let i = 1; i < n; i++) {
    const node = new DhtNode({ host: '127.0.0.1', port: 0, bootstrap: [first.address], logger: silentLogger, settings });
    await node.start();
    await node.ready();
    nodes.push(node);
  }
  return nodes;
}

async function stopAll(nodes: DhtNode[]): Promise<void> {
  await Promise.all(nodes.map((n) => n.stop()));
}

test('start and stop are idempotent and the address is the bound one', async (t) => {
  const node = new DhtNode({ host: '127.0.0.1', port: 0, logger: silentLogger });
  await Promise.all([node.start(), node.start()]);
  t.is(node.address.host, '127.0.0.1');
  t.true(node.address.port > 0);
  t.true(node.running);
  await node.stop();
  await node.stop();
  t.false(node.running);
  await t.throwsAsync(node.getPeers(randomBytes(20)), { message: /not running/ });
});

test('nodes join through one bootstrap node and learn each other', async (t) => {
  const nodes = await network(12);
  t.teardown(() => stopAll(nodes));
  for (const n of nodes.slice(1)) t.true(n.stats().nodes >= 2, `node knows ${n.stats().nodes}`);
  t.true(nodes[0]!.stats().nodes >= 8);
});

test('announce then get_peers finds the announced peer (and implied_port uses the source port)', async (t) => {
  const nodes = await network(10);
  t.teardown(() => stopAll(nodes));
  const infoHash = randomBytes(20);
  const accepted = await nodes[3]!.announce(infoHash, 51413);
  t.true(accepted >= 1);
  const peers = await nodes[8]!.getPeers(infoHash);
  t.deepEqual(peers, [{ host: '127.0.0.1', port: 51413 }]);

  const other = randomBytes(20);
  t.true((await nodes[5]!.announce(other, 0, { impliedPort: true })) >= 1);
  t.deepEqual(await nodes[1]!.getPeers(other), [{ host: '127.0.0.1', port: nodes[5]!.address.port }]);
});

test('immutable put then get from another node', async (t) => {
  const nodes = await network(10);
  t.teardown(() => stopAll(nodes));
  const put = await nodes[2]!.putImmutable(utf8('Hello World!'));
  t.is(toHex(put.target), 'e5f96f6f38320f0f33959cb4d3d656452117aadb');
  t.true(put.stored >= 1);
  const got = await nodes[7]!.get(put.target);
  t.deepEqual(got?.v, utf8('Hello World!'));
  t.is(got?.seq, undefined);
  t.is(await nodes[7]!.get(randomBytes(20)), null);
});

test('mutable put with salt: seq increments, get returns the highest, cas is enforced', async (t) => {
  const nodes = await network(10);
  t.teardown(() => stopAll(nodes));
  const keyPair = generateKeyPair();
  const salt = utf8('greeting');
  const p1 = await nodes[1]!.putMutable({ keyPair, salt, v: utf8('one') });
  t.is(p1.seq, 0);
  t.deepEqual(p1.target, mutableTarget(keyPair.publicKey, salt));
  const p2 = await nodes[1]!.putMutable({ keyPair, salt, v: utf8('two') });
  t.is(p2.seq, 1);
  const got = await nodes[9]!.get(p1.target, { salt, publicKey: keyPair.publicKey });
  t.deepEqual(got?.v, utf8('two'));
  t.is(got?.seq, 1);
  // Wrong cas: every storing node refuses with 301 (same publisher, so the same closest nodes hold it).
  const bad = await nodes[1]!.putMutable({ keyPair, salt, v: utf8('three'), seq: 5, cas: 0 });
  t.is(bad.stored, 0);
  t.deepEqual((await nodes[6]!.get(p1.target, { salt }))?.v, utf8('two'));
  const good = await nodes[1]!.putMutable({ keyPair, salt, v: utf8('three'), seq: 5, cas: 1 });
  t.true(good.stored >= 1);
  t.deepEqual((await nodes[6]!.get(p1.target, { salt }))?.v, utf8('three'));
  // Without the salt the target does not match the item: nothing verifies.
  t.is(await nodes[6]!.get(p1.target), null);
});

test('routing table is saved on stop and reloaded on start with the same node id', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'dht-state-'));
  const nodes = await network(6);
  t.teardown(async () => {
    await stopAll(nodes);
    await rm(dir, { recursive: true, force: true });
  });
  const node = new DhtNode({ host: '127.0.0.1', port: 0, bootstrap: [nodes[0]!.address], stateDir: dir, logger: silentLogger, settings });
  await node.start();
  await node.ready();
  const id = toHex(node.nodeId);
  const known = node.stats().nodes;
  t.true(known >= 3);
  await node.stop();
  t.true((await stat(join(dir, ROUTING_TABLE_FILE))).isFile());
  // No bootstrap this time: the saved table is enough to rejoin.
  const again = new DhtNode({ host: '127.0.0.1', port: 0, stateDir: dir, logger: silentLogger, settings });
  await again.start();
  t.is(toHex(again.nodeId), id);
  t.is(again.stats().nodes, known);
  await again.ready();
  const infoHash = randomBytes(20);
  await nodes[2]!.announce(infoHash, 4000);
  t.deepEqual(await again.getPeers(infoHash), [{ host: '127.0.0.1', port: 4000 }]);
  await again.stop();
});

test('addNode pings a node and adds it to the routing table', async (t) => {
  const a = new DhtNode({ host: '127.0.0.1', port: 0, logger: silentLogger, settings });
  const b = new DhtNode({ host: '127.0.0.1', port: 0, logger: silentLogger, settings });
  await a.start();
  await b.start();
  t.teardown(() => stopAll([a, b]));
  a.addNode(b.address);
  await pollUntil(() => a.stats().nodes > 0, 'a to learn b', 1000, 20).catch(() => undefined);
  t.is(a.stats().nodes, 1);
  t.is(b.stats().nodes, 1, 'b learned a from its query');
});

test('a lookup honours its abort signal', async (t) => {
  // The bootstrap address is a socket that never answers, so only the signal ends the lookup early.
  const silent = (await import('node:dgram')).createSocket('udp4');
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', () => r()));
  const node = new DhtNode({ host: '127.0.0.1', port: 0, bootstrap: [{ host: '127.0.0.1', port: silent.address().port }], logger: silentLogger, settings: { dhtQueryTimeoutMs: 60_000 } });
  await node.start();
  t.teardown(async () => {
    await node.stop();
    silent.close();
  });
  const ac = new AbortController();
  const p = node.getPeers(randomBytes(20), { signal: ac.signal });
  setTimeout(() => ac.abort(new Error('cancelled')), 50);
  await t.throwsAsync(p, { message: 'cancelled' });
});

test('a read-only node (BEP 43) can look things up but is not added to routing tables and does not answer', async (t) => {
  const nodes = await network(5);
  t.teardown(() => stopAll(nodes));
  const before = nodes.map((n) => n.stats().nodes);
  const client = new DhtNode({ host: '127.0.0.1', port: 0, bootstrap: [nodes[0]!.address], logger: silentLogger, settings, readOnly: true });
  await client.start();
  t.teardown(() => client.stop());
  const put = await client.putImmutable(utf8('from a read-only client'));
  t.true(put.stored >= 4);
  t.deepEqual(nodes.map((n) => n.stats().nodes), before);
  await t.throwsAsync(nodes[1]!.ping(client.address), { message: /no answer/ });
});
