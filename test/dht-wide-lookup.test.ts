/**
 * wideLookup (src/dht/wide-lookup.ts): the `want` closest nodes to a target
 * when want exceeds k. Over a simulated network of 400 ids where, as on a
 * real DHT, an iterative lookup converges on the k closest and one more
 * (every node near the target answers with the k closest it knows).
 */
import test from 'ava';
import { wideLookup, type WideLookupContext } from '../src/dht/wide-lookup.js';
import { compareDistance } from '../src/dht/distance.js';
import type { KrpcQuery, KrpcResponse, NodeInfo } from '../src/dht/krpc.js';
import type { LookupResult } from '../src/dht/lookup.js';
import { randomBytes } from '../src/util/hash.js';

const K = 8;

function network(n: number): NodeInfo[] {
  return Array.from({ length: n }, (_, i) => ({ id: randomBytes(20), host: '10.0.0.1', port: 1000 + i }));
}

const closestTo = (nodes: NodeInfo[], target: Uint8Array, n: number): NodeInfo[] =>
  [...nodes].sort((a, b) => compareDistance(a.id, b.id, target)).slice(0, n);

function context(nodes: NodeInfo[], log: KrpcQuery[]): WideLookupContext {
  const answer = (n: NodeInfo, q: KrpcQuery): KrpcResponse => {
    log.push(q);
    return { id: n.id, token: Uint8Array.of(1) };
  };
  return {
    nodeId: randomBytes(20),
    k: K,
    // What an iterative lookup finds: the k + 1 closest, however many are asked for.
    lookup: async (target, q, k, onResponse): Promise<LookupResult> => {
      const found = closestTo(nodes, target, Math.min(k, K + 1));
      const closest = found.map((node) => ({ node, response: answer(node, q), hop: 2 }));
      for (const c of closest) onResponse?.(c.node, c.response);
      return { closest, queried: found.length, responded: found.length, hops: 2, stoppedEarly: false, stalled: 0 };
    },
    // A node near the target answers a find_node with the k closest to it (its table knows that neighbourhood).
    query: async (to, q) => (q.q === 'find_node' ? { ...answer(to, q), nodes: closestTo(nodes, q.target, K) } : answer(to, q)),
  };
}

test('wideLookup finds the 16 closest of 400 nodes, where a lookup alone stops at k + 1', async (t) => {
  for (let trial = 0; trial < 20; trial++) {
    const nodes = network(400);
    const target = randomBytes(20);
    const ctx = context(nodes, []);
    const plain = await ctx.lookup(target, { q: 'get', id: ctx.nodeId, target }, 16);
    t.is(plain.closest.length, K + 1);
    const wide = await wideLookup(target, { q: 'get', id: ctx.nodeId, target }, 16, ctx);
    t.deepEqual(
      wide.closest.map((c) => c.node.port),
      closestTo(nodes, target, 16).map((n) => n.port),
      `trial ${trial}`,
    );
  }
});

test('wideLookup asks each node it adds the caller\'s query (a get for the target: its token), and reports it', async (t) => {
  const nodes = network(200);
  const target = randomBytes(20);
  const log: KrpcQuery[] = [];
  const seen: NodeInfo[] = [];
  const ctx = context(nodes, log);
  const wide = await wideLookup(target, { q: 'get', id: ctx.nodeId, target }, 12, ctx, (n) => void seen.push(n));
  t.is(wide.closest.length, 12);
  for (const c of wide.closest) {
    t.truthy(c.response.token);
    t.true(seen.some((n) => n.port === c.node.port), 'onResponse saw every node returned');
  }
  const gets = log.filter((q) => q.q === 'get');
  t.true(gets.every((q) => q.q === 'get' && Buffer.from(q.target).equals(Buffer.from(target))), 'gets are for the target, never a sibling');
  t.true(log.some((q) => q.q === 'find_node'), 'siblings are found with find_node');
});

test('wideLookup with want <= k is the plain lookup, and a network smaller than want gives what there is', async (t) => {
  const small = network(10);
  const target = randomBytes(20);
  const log: KrpcQuery[] = [];
  const ctx = context(small, log);
  const r = await wideLookup(target, { q: 'get', id: ctx.nodeId, target }, 8, ctx);
  t.is(r.closest.length, 8);
  t.false(log.some((q) => q.q === 'find_node'));
  const all = await wideLookup(target, { q: 'get', id: ctx.nodeId, target }, 16, ctx);
  t.deepEqual(all.closest.map((c) => c.node.port).sort(), small.map((n) => n.port).sort());
});
