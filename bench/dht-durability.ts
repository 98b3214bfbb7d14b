/**
 * bench:dht-durability (issue 15, Benchmark): does the DHT keep its values
 * when nodes restart, leave and die?
 *
 * In one process, on loopback: NODES storing nodes, each with its own state
 * folder, and 5 publishers that put KEYS keys through KvStore (a third
 * small, a third 16 KiB, a third 64 KiB: split into immutable chunks under a
 * manifest), a tenth of them put twice so that "latest" means something.
 * Then, measuring after each step that every key reads back its latest
 * value (from fresh read-only nodes), get latency p50/p99 per value size,
 * and the bytes each live node stores:
 *   (a) every storing node restarted from its state (stop without a leave,
 *       start again on the same port): only the items on disk survive;
 *   (b) half of the nodes leave gracefully (stop: they hand their items on),
 *       in batches;
 *   (c) 30% of the remaining die abruptly (kill: no handoff, nothing saved),
 *       then one republish cycle of the publishers (what their timer does
 *       every dhtRepublishIntervalMs; here run once on demand).
 * Target: >= 99.9% of gets return the latest value after each step.
 *
 *   npm run bench:dht-durability -- [--nodes 200] [--keys 500] [--publishers 5] [--leave-batch 10] [--steps abc]
 *
 * --steps: which of (a), (b), (c) to run (default all; e.g. `--steps b`).
 * A miss is explained: how many live nodes hold the missing part, at which closeness ranks.
 * --leave-batch: nodes that leave at the same moment in step (b) (all in this one process, so a
 * big batch shares the CPU and hands fewer items on within dhtLeaveTimeoutMs than a real machine would).
 *
 * Loopback only; state folders under bench/.data/, removed at the end.
 */
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { DhtNode } from '../src/dht/node.js';
import { KvStore } from '../src/dht/kv.js';
import { silentLogger } from '../src/log.js';
import { DEFAULT_SETTINGS, type Settings } from '../src/settings.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Args {
  nodes: number;
  keys: number;
  publishers: number;
  leaveBatch: number;
  concurrency: number;
  steps: string;
}

function parseArgs(argv: string[]): Args {
  const out: Args = { nodes: 200, keys: 500, publishers: 5, leaveBatch: 10, concurrency: 16, steps: 'abc' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const v = (): number => {
      const x = Number(argv[++i]);
      if (!Number.isInteger(x) || x < 1) throw new Error(`${a} needs a positive integer`);
      return x;
    };
    if (a === '--nodes') out.nodes = v();
    else if (a === '--keys') out.keys = v();
    else if (a === '--publishers') out.publishers = v();
    else if (a === '--leave-batch') out.leaveBatch = v();
    else if (a === '--concurrency') out.concurrency = v();
    else if (a === '--steps') out.steps = argv[++i] ?? 'abc';
    else throw new Error(`unknown option ${a} (--nodes N, --keys N, --publishers N, --leave-batch N, --concurrency N, --steps abc)`);
  }
  if (out.nodes < 10) throw new Error('--nodes: at least 10');
  return out;
}

/** All nodes share 127.0.0.1: the per-address put limit would count the whole network as one sender. */
const SETTINGS: Partial<Settings> = {
  dhtMaxPutsPerAddressPerMinute: 1_000_000_000,
  dhtMaxPutRateAddresses: 1_000_000,
  // The bench runs the one republish cycle of step (c) itself.
  dhtRepublishIntervalMs: 24 * 60 * 60_000,
  // dhtItemSaveDelayMs stays at its default: every node rewrites its items file that long after a change,
  // and with 200 nodes in this one process a short delay made the rewrites most of the CPU (stop saves anyway).
  // The leave keeps its default bound (dhtLeaveTimeoutMs): what it hands on in that time is reported.
};

/** Namespaces each publisher writes at once. */
const PUT_CHAINS = 4;

type Size = 'small' | '16 KiB' | '64 KiB';
const SIZES: Record<Size, number> = { small: 100, '16 KiB': 16 * 1024, '64 KiB': 64 * 1024 };

interface Key {
  publisher: number;
  namespace: string;
  key: string;
  size: Size;
  value: string;
}

const log = (msg: string): void => void process.stderr.write(`[dht-durability] ${msg}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function text(bytes: number): string {
  return randomBytes(Math.ceil((bytes * 3) / 4)).toString('base64').slice(0, bytes);
}

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]! : NaN;
}

/** Runs `fn` over `items`, `n` at a time. */
async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

const noIdentity = (): Promise<never> => Promise.reject(new Error('the bench writes in namespaces only'));

class StoringNode {
  node: DhtNode;
  alive = true;
  constructor(readonly stateDir: string, public port: number, bootstrap: { host: string; port: number }[]) {
    this.node = new DhtNode({ host: '127.0.0.1', port, stateDir, bootstrap, logger: silentLogger, settings: SETTINGS });
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const dataDir = path.join(ROOT, 'bench', '.data', `dht-durability-${process.pid}`);
  mkdirSync(dataDir, { recursive: true });
  const storing: StoringNode[] = [];
  const publishers: DhtNode[] = [];
  const readers: DhtNode[] = [];
  const cleanup = async (): Promise<void> => {
    await Promise.allSettled([...storing.filter((s) => s.alive).map((s) => s.node.kill()), ...publishers.map((p) => p.kill()), ...readers.map((r) => r.stop())]);
    rmSync(dataDir, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
  const t0 = performance.now();
  const results: string[] = [];
  let allMet = true;
  try {
    // --- the network -----------------------------------------------------------
    for (let i = 0; i < args.nodes; i++) {
      const boot = storing.length ? [storing[0]!.node.address, ...[0, 1].map(() => storing[Math.floor(Math.random() * storing.length)]!.node.address)] : [];
      const s = new StoringNode(path.join(dataDir, `node${i}`), 0, boot);
      await s.node.start();
      s.port = s.node.address.port;
      storing.push(s);
    }
    await Promise.all(storing.map((s) => s.node.ready()));
    // A second join round: the first nodes joined a network of a few.
    await pool(storing, 32, async (s) => void (await s.node.findNode(s.node.nodeId).catch(() => undefined)));
    log(`${args.nodes} storing nodes up (${((performance.now() - t0) / 1000).toFixed(1)} s)`);

    for (let p = 0; p < args.publishers; p++) {
      const node = new DhtNode({ host: '127.0.0.1', port: 0, stateDir: path.join(dataDir, `publisher${p}`), bootstrap: [storing[p]!.node.address, storing[(p * 7 + 3) % storing.length]!.node.address], logger: silentLogger, settings: SETTINGS });
      await node.start();
      await node.ready();
      publishers.push(node);
    }

    // --- the values ------------------------------------------------------------
    const keys: Key[] = [];
    const sizeNames = Object.keys(SIZES) as Size[];
    for (let k = 0; k < args.keys; k++) {
      const publisher = k % args.publishers;
      // Each publisher writes PUT_CHAINS namespaces at once (one namespace's puts go one at a time: each updates its key index).
      const chain = Math.floor(k / args.publishers) % PUT_CHAINS;
      keys.push({ publisher, namespace: `durability-${process.pid}-p${publisher}-${chain}`, key: `key-${k}`, size: sizeNames[k % 3]!, value: '' });
    }
    const tPut = performance.now();
    let putFailures = 0;
    // Within a namespace keys are put one at a time (each put updates the namespace's key index); namespaces and publishers at once.
    await Promise.all(
      publishers.flatMap((node, p) => Array.from({ length: PUT_CHAINS }, async (_, chain) => {
        const kv = new KvStore(node, noIdentity, { republish: true });
        const mine = keys.filter((k) => k.publisher === p && k.namespace.endsWith(`-p${p}-${chain}`));
        for (const [i, k] of mine.entries()) {
          // A tenth are put twice: the second value is the latest.
          for (let round = 0; round < (i % 10 === 0 ? 2 : 1); round++) {
            const value = text(SIZES[k.size]);
            try {
              const r = await kv.put(k.key, value, { namespace: k.namespace });
              if (r.stored > 0) k.value = value;
              else putFailures++;
            } catch (err) {
              putFailures++;
              log(`put ${k.key}: ${(err as Error).message}`);
            }
          }
        }
      })),
    );
    const putLine = `${args.keys} keys put by ${args.publishers} publishers in ${((performance.now() - tPut) / 1000).toFixed(1)} s: ${keys.filter((k) => k.value !== '').length} stored; ${putFailures} puts stored nowhere (a key none of whose puts was stored is left out of the gets)`;
    log(putLine);
    results.push(putLine);
    // Let the storing nodes' batched saves happen before anything restarts.
    await sleep((SETTINGS.dhtItemSaveDelayMs ?? DEFAULT_SETTINGS.dhtItemSaveDelayMs) + 1_000);

    const measure = async (label: string): Promise<void> => {
      const live = storing.filter((s) => s.alive);
      // Fresh read-only readers for each step, started from a few live nodes: what a `peer kv get` is.
      for (const r of readers.splice(0)) await r.stop();
      for (let i = 0; i < 4; i++) {
        const boot = [0, 1, 2].map(() => live[Math.floor(Math.random() * live.length)]!.node.address);
        const r = new DhtNode({ host: '127.0.0.1', port: 0, bootstrap: boot, logger: silentLogger, settings: SETTINGS, readOnly: true });
        await r.start();
        readers.push(r);
      }
      const stores = readers.map((r) => new KvStore(r, noIdentity, { republish: false }));
      let ok = 0;
      const ms: Record<Size, number[]> = { small: [], '16 KiB': [], '64 KiB': [] };
      const misses: string[] = [];
      const wanted = keys.filter((k) => k.value !== '');
      await pool(wanted, args.concurrency, async (k) => {
        const started = performance.now();
        try {
          const got = await stores[Math.floor(Math.random() * stores.length)]!.lookup(k.key, { namespace: k.namespace });
          ms[k.size].push(performance.now() - started);
          if (got.status === 'found' && got.value === k.value) ok++;
          else misses.push(`${k.key} (${k.size}): ${got.status}${got.status === 'found' ? ', an older value' : ''}`);
        } catch (err) {
          ms[k.size].push(performance.now() - started);
          misses.push(`${k.key} (${k.size}): ${(err as Error).message}`);
        }
      });
      const share = wanted.length ? (100 * ok) / wanted.length : 0;
      const met = share >= 99.9;
      allMet &&= met;
      const bytes = live.map((s) => s.node.stats().itemBytesStored);
      const items = live.map((s) => s.node.stats().itemsStored);
      const lines = [
        `${label}: ${live.length} storing nodes live`,
        `  latest value read      ${ok}/${wanted.length} = ${share.toFixed(2)}%  target >= 99.9%: ${met ? 'MET' : 'MISSED'}`,
        ...sizeNames.map((s) => `  get latency ${s.padEnd(7)}    p50 ${pct(ms[s], 50).toFixed(0)} ms  p99 ${pct(ms[s], 99).toFixed(0)} ms  (${ms[s].length} gets)`),
        `  stored per node        median ${(pct(bytes, 50) / 1024).toFixed(1)} KiB  p90 ${(pct(bytes, 90) / 1024).toFixed(1)} KiB  max ${(Math.max(...bytes) / 1024).toFixed(1)} KiB  (items: median ${pct(items, 50)}, max ${Math.max(...items)})`,
      ];
      for (const m of misses.slice(0, 5)) lines.push(`  missed: ${m}`);
      // Why a miss: is the item gone from every live node, or held by live nodes a lookup did not reach?
      for (const m of misses.slice(0, 12)) {
        const hex = /target ([0-9a-f]{40})/.exec(m)?.[1];
        if (!hex) continue;
        const target = Buffer.from(hex, 'hex');
        const ranked = live
          .map((s) => ({ s, d: Buffer.from(s.node.nodeId.map((b, i) => b ^ target[i]!)) }))
          .sort((a, b) => Buffer.compare(a.d, b.d));
        const ranks = ranked.flatMap((r, i) => (r.s.node.holdsItem(target) ? [i + 1] : []));
        const held = storing.filter((s) => !s.alive && s.node.holdsItem(target)).length;
        lines.push(`  why ${hex.slice(0, 8)}: held by ${ranks.length} live nodes at closeness ranks [${ranks.slice(0, 10).join(', ')}]; ${held} departed nodes held it`);
      }
      results.push(...lines);
      for (const l of lines) log(l);
    };

    await measure('after the puts');

    // --- (a) every storing node restarted from its state ------------------------
    if (args.steps.includes('a')) {
      const tA = performance.now();
      await Promise.all(storing.map((s) => s.node.stop({ leave: false })));
      // Each comes back on its own port (others' routing tables name it there), with its state folder.
      for (const s of storing) {
        s.node = new DhtNode({ host: '127.0.0.1', port: s.port, stateDir: s.stateDir, bootstrap: [], logger: silentLogger, settings: SETTINGS });
    }
    await Promise.all(storing.map((s) => s.node.start()));
    await Promise.all(storing.map((s) => s.node.ready()));
    const restartLine = `(a) restart of ${storing.length} nodes from their state took ${((performance.now() - tA) / 1000).toFixed(1)} s`;
    log(restartLine);
    results.push(restartLine);
    await measure('(a) every node restarted from its state');
    }

    // --- (b) half leave gracefully ----------------------------------------------
    if (args.steps.includes('b')) {
      const tB = performance.now();
      const leaving = [...storing].sort(() => Math.random() - 0.5).slice(0, Math.floor(storing.length / 2));
      const handoff = { items: 0, handedOn: 0, unfinished: 0 };
      for (let i = 0; i < leaving.length; i += args.leaveBatch) {
        const batch = leaving.slice(i, i + args.leaveBatch);
        await Promise.all(batch.map(async (s) => {
          s.node.once('items:handed-off', (r) => {
            handoff.items += r.items;
            handoff.handedOn += r.handedOn;
            handoff.unfinished += r.unfinished;
          });
          await s.node.stop();
          s.alive = false;
        }));
    }
    const handoffLine = `(b) ${leaving.length} graceful leaves in batches of ${args.leaveBatch} took ${((performance.now() - tB) / 1000).toFixed(1)} s: ${handoff.handedOn} of ${handoff.items} stored items handed on, ${handoff.unfinished} unfinished within dhtLeaveTimeoutMs`;
    log(handoffLine);
    results.push(handoffLine);
    await measure('(b) half of the nodes left gracefully');
    }

    // --- (c) 30% die, one republish cycle -----------------------------------------
    if (args.steps.includes('c')) {
      const alive = storing.filter((s) => s.alive);
      const dying = [...alive].sort(() => Math.random() - 0.5).slice(0, Math.round(alive.length * 0.3));
      await Promise.all(dying.map(async (s) => {
        await s.node.kill();
        s.alive = false;
      }));
      const tC = performance.now();
      await Promise.all(publishers.map((p) => p.republish()));
      const republishLine = `(c) ${dying.length} nodes killed; one republish cycle took ${((performance.now() - tC) / 1000).toFixed(1)} s`;
      log(republishLine);
      results.push(republishLine);
      await measure('(c) 30% died abruptly, one republish cycle');
    }
  } finally {
    await cleanup();
  }
  process.stdout.write(`bench:dht-durability: ${args.nodes} storing nodes, ${args.keys} keys from ${args.publishers} publishers (a third each small / 16 KiB / 64 KiB), loopback\n`);
  for (const r of results) process.stdout.write(r + '\n');
  process.stdout.write(`total ${((performance.now() - t0) / 1000).toFixed(1)} s; target ${allMet ? 'MET' : 'MISSED'}\n`);
  return allMet ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    log(`failed: ${(err as Error).stack ?? String(err)}`);
    process.exit(2);
  },
);
