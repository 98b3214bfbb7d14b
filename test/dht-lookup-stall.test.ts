import test from 'ava';
import { iterativeLookup, type LookupResult } from '../src/dht/lookup.js';
import { RttTracker } from '../src/dht/rtt.js';
import type { KrpcResponse, NodeInfo } from '../src/dht/krpc.js';
import { compareDistance } from '../src/dht/distance.js';
import { randomBytes } from '../src/util/hash.js';

// Simulated transport (no sockets): nodes are told apart by port; the target is all zero, so a smaller id is closer.
const target = new Uint8Array(20);
const self = { id: randomBytes(20), host: '127.0.0.1', port: 1 };

function idWithPrefix(bits: number): Uint8Array {
  const id = randomBytes(20);
  for (let b = 0; b < bits; b++) id[b >> 3]! &= ~(0x80 >> (b & 7));
  id[bits >> 3]! |= 0x80 >> (bits & 7);
  return id;
}

let nextPort = 2000;
const node = (id: Uint8Array): NodeInfo => ({ id, host: '127.0.0.1', port: nextPort++ });

/** Fails the test instead of hanging when a lookup never ends. */
async function bounded(p: Promise<LookupResult>, ms = 10_000): Promise<LookupResult> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`lookup still running after ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

test('a query that never answers stalls: the lookup asks others and ends with the k closest that answered', async (t) => {
  const all = Array.from({ length: 30 }, () => node(randomBytes(20))).sort((a, b) => compareDistance(a.id, b.id, target));
  const hung = all[0]!; // the closest node of all, and a seed
  const hungAnswer = deferred<KrpcResponse>();
  const byPort = new Map(all.map((n) => [n.port, n]));
  const query = async (to: { port: number }): Promise<KrpcResponse> => {
    if (to.port === hung.port) return hungAnswer.promise;
    // Every live node knows the whole network and answers with the 9 closest: the hung one and the 8 closest live ones.
    return { id: byPort.get(to.port)!.id, nodes: all.slice(0, 9) };
  };
  try {
    const result = await bounded(iterativeLookup({ target, seeds: [hung, ...all.slice(20, 25)], k: 8, alpha: 3, maxQueries: 200, self, query, stallMs: () => 5 }));
    t.deepEqual(result.closest.map((c) => c.node.port), all.slice(1, 9).map((n) => n.port));
    t.true(result.stalled >= 1);
  } finally {
    hungAnswer.reject(new Error('timeout'));
  }
});

test('a stalled query widens alpha, and its late answer is still used while the lookup runs', async (t) => {
  const x = node(idWithPrefix(100)); // the true closest; only the slow node knows it
  const slow = node(idWithPrefix(50));
  const a = node(idWithPrefix(5));
  const b = node(idWithPrefix(6));
  const c = node(idWithPrefix(7));
  const slowAnswer = deferred<KrpcResponse>();
  const order: string[] = [];
  const name = new Map([[x.port, 'x'], [slow.port, 'slow'], [a.port, 'a'], [b.port, 'b'], [c.port, 'c']]);
  const query = async (to: { port: number }): Promise<KrpcResponse> => {
    const who = name.get(to.port)!;
    order.push(`ask ${who}`);
    switch (who) {
      case 'slow': {
        const r = await slowAnswer.promise;
        order.push('slow answered');
        return r;
      }
      case 'a':
        return { id: a.id, nodes: [b] };
      case 'b':
        return { id: b.id, nodes: [c] };
      case 'c':
        // The slow node answers (late) while c's query is still in flight.
        slowAnswer.resolve({ id: slow.id, nodes: [x] });
        await new Promise((resolve) => setImmediate(resolve));
        return { id: c.id, nodes: [] };
      case 'x':
        return { id: x.id, nodes: [] };
      default:
        throw new Error(`unknown node ${to.port}`);
    }
  };
  try {
    // alpha 1: without stalls, nobody else would be asked before the slow node answered.
    const result = await bounded(iterativeLookup({ target, seeds: [a, slow], k: 8, alpha: 1, maxQueries: 50, self, query, stallMs: () => 5 }));
    t.deepEqual(order.slice(0, 2), ['ask slow', 'ask a'], 'the closer seed first, then the next one once it stalled');
    t.true(order.indexOf('ask a') < order.indexOf('slow answered'));
    t.is(result.closest[0]?.node.port, x.port, 'the node learned from the late answer was queried');
    t.true(result.closest.some((r) => r.node.port === slow.port), 'the late answer counts as an answer');
    t.is(result.stalled, 1);
  } finally {
    slowAnswer.reject(new Error('timeout'));
  }
});

test('with fewer than k answers the lookup waits for a stalled query instead of ending empty', async (t) => {
  const bootstrap = { host: '127.0.0.1', port: nextPort++ }; // id unknown, like a bootstrap node
  const bootId = randomBytes(20);
  const others = Array.from({ length: 3 }, () => node(randomBytes(20)));
  let timer: NodeJS.Timeout | undefined;
  const query = async (to: { port: number }): Promise<KrpcResponse> => {
    if (to.port === bootstrap.port) {
      // Answers long after its stall time (a slow first hop on a real network).
      await new Promise((resolve) => (timer = setTimeout(resolve, 50)));
      return { id: bootId, nodes: others };
    }
    return { id: others.find((o) => o.port === to.port)!.id, nodes: [] };
  };
  try {
    const result = await bounded(iterativeLookup({ target, seeds: [bootstrap], k: 8, alpha: 3, maxQueries: 50, self, query, stallMs: () => 1 }));
    t.is(result.closest.length, 4);
    t.is(result.stalled, 1);
  } finally {
    clearTimeout(timer);
  }
});

test('stall time: the query timeout before any answer, then max(floor, 3 x smoothed RTT) capped, per node or overall', (t) => {
  const rtt = new RttTracker({ capMs: 1000, floorMs: 250, multiplier: 3, maxEntries: 2 });
  const a = { host: '127.0.0.1', port: 1 };
  const b = { host: '127.0.0.2', port: 1 };
  const c = { host: '127.0.0.3', port: 1 };
  t.is(rtt.stallMs(a), 1000, 'nothing measured yet: wait the full timeout');
  rtt.record(a, 10);
  t.is(rtt.srtt(a), 10);
  t.is(rtt.stallMs(a), 250, 'floor');
  t.is(rtt.stallMs(b), 250, 'an unmeasured node gets the overall estimate');
  rtt.record(b, 200);
  t.is(rtt.srtt(b), 200);
  t.is(rtt.stallMs(b), 600, '3 x its own RTT');
  rtt.record(b, 1000);
  t.is(rtt.srtt(b), 200 + (1000 - 200) / 8, 'smoothed, not replaced');
  for (let i = 0; i < 20; i++) rtt.record(b, 5000);
  t.is(rtt.stallMs(b), 1000, 'capped by the query timeout');
  rtt.record(c, 10);
  t.is(rtt.size, 2, 'bounded');
  t.is(rtt.srtt(a), undefined, 'the least recently measured is forgotten');
  rtt.record(c, Number.NaN);
  rtt.record(c, -5);
  t.is(rtt.srtt(c), 10, 'nonsense samples are ignored');
});
