/**
 * `npm run bench:dht [-- NODES]`: a DHT of NODES nodes (default 500) in this
 * process, each with its own UDP socket on its own loopback address
 * (127.88.x.y). Prints lookup hops and latency percentiles, lookup accuracy
 * against the true closest node, BEP 44 put/get success, the same after a
 * fifth of the nodes stop without warning (target: >= 99% of gets), and
 * memory per node. Loopback only; every phase is bounded.
 */
import { DhtNode, type DhtItem } from '../src/dht/node.js';
import { compareDistance } from '../src/dht/distance.js';
import { generateKeyPair } from '../src/dht/bep44.js';
import { silentLogger } from '../src/log.js';
import { randomBytes } from '../src/util/hash.js';
import { bytesEqual, utf8 } from '../src/util/bytes.js';

const N = Number(process.argv[2] ?? process.env.DHT_BENCH_NODES ?? 500);
const LOOKUPS = 200;
const ITEMS = 100;
const CONCURRENCY = 10;
// Loopback answers in well under a millisecond; a dead node costs one timeout per query.
// One node per address, so the routing tables and lookups run under the same per-address rules as on a real network.
const settings = { dhtQueryTimeoutMs: 1000, dhtMaxPutsPerAddressPerMinute: 1000, dhtMaxNodesPerLoopbackAddress: 1 };

const host = (i: number): string => `127.88.${Math.floor(i / 250)}.${(i % 250) + 1}`;
const pick = <T>(xs: T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function pool<T>(items: T[], limit: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  }));
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

async function main(): Promise<void> {
  const t0 = performance.now();
  gc();
  const mem0 = process.memoryUsage();
  const nodes: DhtNode[] = [];
  const first = new DhtNode({ host: host(0), port: 0, logger: silentLogger, settings });
  await first.start();
  nodes.push(first);
  // Join in batches: each new node knows the LAN bootstrap node and one random earlier node.
  for (let i = 1; i < N; i += 25) {
    const batch: DhtNode[] = [];
    for (let j = i; j < Math.min(N, i + 25); j++) {
      batch.push(new DhtNode({ host: host(j), port: 0, bootstrap: [first.address, pick(nodes).address], logger: silentLogger, settings }));
    }
    await Promise.all(batch.map(async (n) => {
      await n.start();
      await n.ready();
    }));
    nodes.push(...batch);
  }
  const joinMs = performance.now() - t0;
  gc();
  const mem1 = process.memoryUsage();
  const tableSizes = nodes.map((n) => n.stats().nodes);
  console.log(`dht bench: ${N} nodes on loopback (one UDP socket each), joined in ${(joinMs / 1000).toFixed(1)} s`);
  console.log(`  routing table size: median ${percentile(tableSizes, 50)}, min ${Math.min(...tableSizes)}, max ${Math.max(...tableSizes)}`);
  console.log(`  memory per node: heap ${((mem1.heapUsed - mem0.heapUsed) / N / 1024).toFixed(1)} KiB, rss ${((mem1.rss - mem0.rss) / N / 1024).toFixed(1)} KiB (process rss ${mb(mem1.rss)})`);

  // --- lookups ------------------------------------------------------------
  const lookupPhase = async (label: string, alive: DhtNode[]): Promise<void> => {
    const hops: number[] = [];
    const ms: number[] = [];
    const queried: number[] = [];
    let exact = 0;
    let stalled = 0;
    let missedWithStall = 0;
    await pool(Array.from({ length: LOOKUPS }), CONCURRENCY, async () => {
      const target = randomBytes(20);
      const from = pick(alive);
      const s = performance.now();
      const r = await from.findNode(target);
      ms.push(performance.now() - s);
      hops.push(r.hops);
      queried.push(r.queried);
      stalled += r.stalled;
      const truth = alive.filter((n) => n !== from).sort((a, b) => compareDistance(a.nodeId, b.nodeId, target))[0]!;
      if (r.closest[0] && bytesEqual(r.closest[0].node.id, truth.nodeId)) exact++;
      else if (r.stalled > 0) missedWithStall++;
    });
    console.log(`  ${label}: ${LOOKUPS} lookups: hops p50 ${percentile(hops, 50)} p90 ${percentile(hops, 90)} max ${Math.max(...hops)}; ` +
      `latency p50 ${percentile(ms, 50).toFixed(1)} ms p90 ${percentile(ms, 90).toFixed(1)} ms p99 ${percentile(ms, 99).toFixed(1)} ms; ` +
      `queries p50 ${percentile(queried, 50)} (${stalled} stalled in all); found the true closest node ${((100 * exact) / LOOKUPS).toFixed(1)}%` +
      (missedWithStall > 0 ? ` (${missedWithStall} of the misses had stalled queries)` : ''));
  };
  await lookupPhase('before churn', nodes);

  // --- BEP 44 put / get ----------------------------------------------------------
  interface Stored { target: Uint8Array; salt?: Uint8Array; value: Uint8Array }
  const items: Stored[] = [];
  const putMs: number[] = [];
  let putOk = 0;
  await pool(Array.from({ length: ITEMS }), CONCURRENCY, async (_, i) => {
    const from = pick(nodes);
    const value = utf8(`bench value ${i} ${'x'.repeat(i % 50)}`);
    const s = performance.now();
    if (i % 2 === 0) {
      const r = await from.putImmutable(value, { republish: false });
      if (r.stored > 0) putOk++;
      items.push({ target: r.target, value });
    } else {
      const salt = utf8(`key-${i}`);
      const r = await from.putMutable({ keyPair: generateKeyPair(), salt, v: value }, { republish: false });
      if (r.stored > 0) putOk++;
      items.push({ target: r.target, salt, value });
    }
    putMs.push(performance.now() - s);
  });
  const getPhase = async (label: string, alive: DhtNode[]): Promise<number> => {
    let ok = 0;
    const ms: number[] = [];
    const failed: Stored[] = [];
    const found = (got: DhtItem | null, item: Stored): boolean => got !== null && got.v instanceof Uint8Array && bytesEqual(got.v, item.value);
    await pool(items, CONCURRENCY, async (item) => {
      const s = performance.now();
      const got = await pick(alive).get(item.target, item.salt ? { salt: item.salt } : {});
      ms.push(performance.now() - s);
      if (found(got, item)) ok++;
      else failed.push(item);
    });
    const pct = (100 * ok) / items.length;
    // A failed get asked again from three other nodes tells a lookup that missed from an item that is gone.
    let foundLater = 0;
    for (const item of failed) {
      for (let i = 0; i < 3; i++) {
        if (found(await pick(alive).get(item.target, item.salt ? { salt: item.salt } : {}), item)) {
          foundLater++;
          break;
        }
      }
    }
    console.log(`  ${label}: ${ok}/${items.length} gets succeeded (${pct.toFixed(1)}%); latency p50 ${percentile(ms, 50).toFixed(1)} ms p90 ${percentile(ms, 90).toFixed(1)} ms p99 ${percentile(ms, 99).toFixed(1)} ms` +
      (failed.length > 0 ? `; of the ${failed.length} that failed, ${foundLater} were found when asked again from other nodes` : ''));
    return pct;
  };
  console.log(`  puts: ${putOk}/${ITEMS} stored on at least one node (half immutable, half mutable with salt); latency p50 ${percentile(putMs, 50).toFixed(1)} ms p90 ${percentile(putMs, 90).toFixed(1)} ms`);
  await getPhase('gets before churn', nodes);

  // --- churn: a fifth of the nodes stop without warning ---------------------------------
  const shuffled = [...nodes].sort(() => Math.random() - 0.5);
  const killed = shuffled.slice(0, Math.floor(N / 5));
  const alive = shuffled.slice(Math.floor(N / 5));
  await Promise.all(killed.map((n) => n.stop()));
  console.log(`  churn: stopped ${killed.length} nodes (${((100 * killed.length) / N).toFixed(0)}%) without warning`);
  const after = await getPhase('gets after churn', alive);
  await lookupPhase('after churn', alive);
  console.log(`  target (>= 99% of gets after churn): ${after >= 99 ? 'met' : 'NOT met'}`);

  await Promise.all(alive.map((n) => n.stop()));
  console.log(`  total ${((performance.now() - t0) / 1000).toFixed(1)} s`);
}

await main();
