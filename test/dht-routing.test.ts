import test from 'ava';
import { RoutingTable } from '../src/dht/routing-table.js';
import { commonPrefixBits, compareDistance } from '../src/dht/distance.js';
import { iterativeLookup } from '../src/dht/lookup.js';
import { ItemStore, PeerStore, TokenIssuer } from '../src/dht/stores.js';
import type { KrpcResponse, NodeInfo } from '../src/dht/krpc.js';
import { randomBytes } from '../src/util/hash.js';
import { toHex } from '../src/util/bytes.js';

const local = new Uint8Array(20); // all zero: bucket i holds ids whose first set bit is bit i

function idWithPrefix(bits: number): Uint8Array {
  // First set bit at position `bits` (0 = top bit), the rest random.
  const id = randomBytes(20);
  for (let b = 0; b < bits; b++) id[b >> 3]! &= ~(0x80 >> (b & 7));
  id[bits >> 3]! |= 0x80 >> (bits & 7);
  return id;
}

let port = 1000;
const node = (id: Uint8Array): NodeInfo => ({ id, host: '127.0.0.1', port: port++ });

test('distance helpers', (t) => {
  t.is(commonPrefixBits(local, idWithPrefix(0)), 0);
  t.is(commonPrefixBits(local, idWithPrefix(13)), 13);
  t.is(commonPrefixBits(local, local), 160);
  t.true(compareDistance(idWithPrefix(5), idWithPrefix(1), local) < 0);
});

test('buckets split around our id and keep k per bucket', (t) => {
  const table = new RoutingTable({ localId: local, k: 8 });
  // 8 far nodes fill the only bucket; the 9th close one splits it.
  for (let i = 0; i < 8; i++) t.truthy(table.seen(node(idWithPrefix(0)), 'response'));
  t.is(table.bucketCount, 1);
  t.truthy(table.seen(node(idWithPrefix(3)), 'response'));
  t.true(table.bucketCount > 1);
  // The far bucket is full and cannot split any more (it does not hold our id): newcomers wait.
  t.is(table.seen(node(idWithPrefix(0)), 'response'), undefined);
  for (let i = 0; i < 50; i++) table.seen(node(idWithPrefix(1 + (i % 20))), 'response');
  t.true(table.bucketSizes().every((n) => n <= 8));
  t.is(table.size, table.bucketSizes().reduce((a, b) => a + b, 0));
});

test('a bad node is replaced; a good one is not evicted; questionable ones are pinged first', async (t) => {
  let now = 1; // 0 means "never answered"
  const pinged: string[] = [];
  let answer = true;
  const table = new RoutingTable({
    localId: local, k: 2, now: () => now, questionableAfterMs: 1000,
    ping: async (c) => {
      pinged.push(toHex(c.id));
      return answer;
    },
  });
  // Bucket 0 only takes far ids; fill the split-off structure first so bucket 0 is final.
  table.seen(node(idWithPrefix(5)), 'response');
  const a = node(idWithPrefix(0));
  const b = node(idWithPrefix(0));
  table.seen(a, 'response');
  table.seen(b, 'response');
  const c = node(idWithPrefix(0));
  t.is(table.seen(c, 'response'), undefined, 'good nodes are never evicted');
  t.deepEqual(pinged, []);
  // a fails three times: bad, replaced by the waiting newcomer.
  for (let i = 0; i < 3; i++) table.failed(a.id, a.host, a.port);
  t.is(table.get(a.id), undefined);
  t.truthy(table.get(c.id));
  // Everyone goes quiet: a newcomer triggers a ping of the least recently seen.
  now = 5000;
  answer = false;
  const d = node(idWithPrefix(0));
  t.is(table.seen(d, 'response'), undefined);
  await new Promise((r) => setImmediate(r));
  t.is(pinged.length, 1);
  t.truthy(table.get(d.id), 'the silent node made room for the newcomer');
});

test('quiet buckets are reported for refresh with an id inside them', (t) => {
  let now = 0;
  const table = new RoutingTable({ localId: local, k: 8, now: () => now });
  for (let i = 0; i < 20; i++) table.seen(node(idWithPrefix(i % 6)), 'response');
  now = 16 * 60_000;
  const ids = table.takeQuietBuckets(15 * 60_000);
  t.is(ids.length, table.bucketCount);
  ids.slice(0, -1).forEach((id, i) => t.is(commonPrefixBits(id, local), i));
  t.deepEqual(table.takeQuietBuckets(15 * 60_000), [], 'marked refreshed');
});

test('iterative lookup converges on the k closest of a simulated network, routing around dead nodes', async (t) => {
  const all: NodeInfo[] = Array.from({ length: 300 }, () => node(randomBytes(20)));
  const dead = new Set(all.slice(0, 60).map((n) => n.port));
  const byPort = new Map(all.map((n) => [n.port, n]));
  // Each simulated node knows 30 random others.
  const knows = new Map(all.map((n) => [n.port, Array.from({ length: 30 }, () => all[Math.floor(Math.random() * all.length)]!)]));
  const target = randomBytes(20);
  const query = async (to: { port: number }): Promise<KrpcResponse> => {
    if (dead.has(to.port)) throw new Error('timeout');
    const me = byPort.get(to.port)!;
    const nodes = [...knows.get(to.port)!].sort((x, y) => compareDistance(x.id, y.id, target)).slice(0, 8);
    return { id: me.id, nodes };
  };
  // Add the true closest to some tables so they are reachable.
  const alive = all.filter((n) => !dead.has(n.port)).sort((x, y) => compareDistance(x.id, y.id, target));
  for (const n of all) knows.get(n.port)!.push(...alive.slice(0, 8));
  const result = await iterativeLookup({ target, seeds: all.slice(100, 120), k: 8, alpha: 3, maxQueries: 200, self: { id: randomBytes(20), host: 'x', port: 1 }, query });
  t.deepEqual(result.closest.map((c) => c.node.port), alive.slice(0, 8).map((n) => n.port));
  t.true(result.queried <= 200);
  t.true(result.hops >= 1);
});

test('tokens: valid for the same address and target, across one rotation but not two', (t) => {
  let now = 0;
  const tokens = new TokenIssuer(1000, () => now);
  const target = randomBytes(20);
  const tok = tokens.issue('1.2.3.4', target);
  t.true(tokens.valid(tok, '1.2.3.4', target));
  t.false(tokens.valid(tok, '1.2.3.5', target));
  t.false(tokens.valid(tok, '1.2.3.4', randomBytes(20)));
  now = 1500;
  t.true(tokens.valid(tok, '1.2.3.4', target), 'previous secret still accepted');
  now = 2600;
  t.false(tokens.valid(tok, '1.2.3.4', target));
});

test('peer and item stores expire entries and respect caps', (t) => {
  let now = 0;
  const peers = new PeerStore({ ttlMs: 100, maxInfoHashes: 1, maxPeersPerInfoHash: 2 }, () => now);
  const ih = randomBytes(20);
  t.true(peers.add(ih, { host: '1.1.1.1', port: 1 }));
  t.true(peers.add(ih, { host: '1.1.1.1', port: 2 }));
  t.true(peers.add(ih, { host: '1.1.1.1', port: 3 }));
  t.is(peers.get(ih, 50).length, 2);
  t.false(peers.add(randomBytes(20), { host: '1.1.1.1', port: 1 }), 'info-hash cap');
  now = 200;
  t.deepEqual(peers.get(ih, 50), []);
  const items = new ItemStore({ ttlMs: 100, maxItems: 1 }, () => now);
  const target = randomBytes(20);
  t.true(items.set(target, { kind: 'immutable', v: new Uint8Array(1) }));
  t.false(items.set(randomBytes(20), { kind: 'immutable', v: new Uint8Array(1) }));
  now = 301;
  t.is(items.get(target), undefined);
  t.true(items.set(randomBytes(20), { kind: 'immutable', v: new Uint8Array(1) }));
});

test('sparse bucket targets: random ids in buckets with room, farthest first, never our own bucket', (t) => {
  const table = new RoutingTable({ localId: local, k: 8 });
  t.deepEqual(table.sparseBucketTargets(2), [], 'one bucket only: it is ours');
  for (let i = 0; i < 8; i++) table.seen(node(idWithPrefix(0)), 'response'); // bucket 0 full
  for (let i = 0; i < 9; i++) table.seen(node(idWithPrefix(5)), 'response'); // nine close ones force splits down to bucket 5
  t.true(table.bucketCount > 3);
  const targets = table.sparseBucketTargets(2);
  t.deepEqual(targets.map((id) => commonPrefixBits(id, local)), [1, 2], 'bucket 0 is full; buckets 1 and 2 have room');
  t.is(table.sparseBucketTargets(100).length, table.bucketSizes().slice(0, -1).filter((n) => n < 8).length);
});
