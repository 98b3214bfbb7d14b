/**
 * Storing nodes persist items (issue 15, item 1): the BEP 44 items a node
 * stores for others are saved in its state folder in batches and on stop,
 * reloaded on start with what is left of their lifetime, within the caps;
 * a corrupt or forged state file is logged and ignored, never a crash.
 */
import test from 'ava';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DhtNode } from '../src/dht/node.js';
import { ItemStore, itemBytes } from '../src/dht/stores.js';
import { decodeItems, encodeItems, ITEMS_FILE } from '../src/dht/item-persistence.js';
import { encodeItemValue, generateKeyPair, immutableTarget, mutableTarget, signMutable } from '../src/dht/bep44.js';
import { encode } from '../src/bencode/index.js';
import { silentLogger, type Logger } from '../src/log.js';
import { utf8 } from '../src/util/bytes.js';

/** A logger that keeps its warnings. */
function recordingLogger(lines: string[]): Logger {
  const keep = (m: string): void => void lines.push(m);
  return { error: keep, warn: keep, info: () => undefined, debug: () => undefined, child: () => recordingLogger(lines) } as unknown as Logger;
}

async function tempDir(t: { teardown(fn: () => unknown): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'dht-items-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function immutable(text: string): { target: Uint8Array; v: Uint8Array } {
  const v = encodeItemValue(utf8(text));
  return { target: immutableTarget(v), v };
}

test('ItemStore: a byte cap refuses new items past it, like the count cap, and counts what it holds', (t) => {
  const a = immutable('a'.repeat(400));
  const b = immutable('b'.repeat(400));
  const store = new ItemStore({ ttlMs: 60_000, maxItems: 100, maxBytes: itemBytes({ kind: 'immutable', v: a.v }) + 100 });
  t.true(store.set(a.target, { kind: 'immutable', v: a.v }));
  t.false(store.set(b.target, { kind: 'immutable', v: b.v }), 'over the byte cap');
  t.is(store.size, 1);
  t.is(store.bytes, itemBytes({ kind: 'immutable', v: a.v }));
  t.true(store.set(a.target, { kind: 'immutable', v: a.v }), 'refreshing a held item still fits');
});

test('ItemStore: restore keeps a given expiry and refuses one that has passed', (t) => {
  let now = 1_000_000;
  const store = new ItemStore({ ttlMs: 60_000, maxItems: 10 }, () => now);
  const a = immutable('a');
  t.false(store.restore(a.target, { kind: 'immutable', v: a.v }, now - 1));
  t.true(store.restore(a.target, { kind: 'immutable', v: a.v }, now + 5_000));
  now += 4_999;
  t.truthy(store.get(a.target));
  now += 1;
  t.is(store.get(a.target), undefined, 'expired at the restored time, not a full ttl later');
});

test('the state file round-trips immutable and mutable items, and drops forged, malformed and expired ones', (t) => {
  const kp = generateKeyPair();
  const salt = utf8('key');
  const m = signMutable(kp, { salt, seq: 7, v: encodeItemValue(utf8('seven')) });
  const a = immutable('hello');
  const store = new ItemStore({ ttlMs: 60_000, maxItems: 10 }, () => 1_000);
  store.set(a.target, { kind: 'immutable', v: a.v });
  store.set(mutableTarget(kp.publicKey, salt), { kind: 'mutable', ...m });
  const good = decodeItems(encodeItems(store.entries()), 2_000);
  t.is(good.items.length, 2);
  const mut = good.items.find((i) => i.item.kind === 'mutable')!;
  t.is(mut.expiresAt, 61_000);
  t.like(mut.item, { seq: 7 });

  const forged = { ...m, seq: 8 }; // signature of seq 7
  const bytes = encode({
    v: 1,
    items: [
      { t: mutableTarget(kp.publicKey, salt), v: forged.v, x: 61_000, k: forged.k, seq: forged.seq, sig: forged.sig, salt },
      { t: a.target, v: encodeItemValue(utf8('not hello')), x: 61_000 }, // v does not hash to t
      { t: new Uint8Array(3), v: a.v, x: 61_000 },
      'garbage',
      { t: a.target, v: a.v, x: 1_500 }, // expired at 2_000
    ],
  });
  const bad = decodeItems(bytes, 2_000);
  t.is(bad.items.length, 0);
  t.is(bad.refused, 4);
  t.is(bad.expired, 1);
  t.throws(() => decodeItems(utf8('not bencode at all'), 0));
});

/** A node with a state folder, and a second node that puts into it (k = 8 > 2 nodes: both store every item). */
async function pair(t: { teardown(fn: () => unknown): void }, stateDir: string, settings = {}): Promise<{ holder: DhtNode; client: DhtNode }> {
  const holder = new DhtNode({ host: '127.0.0.1', port: 0, stateDir, logger: silentLogger, settings: { dhtLeaveTimeoutMs: 0, ...settings } });
  await holder.start();
  const client = new DhtNode({ host: '127.0.0.1', port: 0, bootstrap: [holder.address], logger: silentLogger, settings: { dhtLeaveTimeoutMs: 0 } });
  await client.start();
  await client.ready();
  t.teardown(async () => {
    await client.stop();
    await holder.stop();
  });
  return { holder, client };
}

test('a restarted node still serves the items it stored, reloaded from --state with their lifetime', async (t) => {
  const dir = await tempDir(t);
  const kp = generateKeyPair();
  const first = await pair(t, dir);
  const imm = await first.client.putImmutable(utf8('kept across a restart'), { republish: false });
  const mut = await first.client.putMutable({ keyPair: kp, salt: utf8('k'), v: utf8('v1') }, { republish: false });
  t.is(first.holder.stats().itemsStored, 2);
  await first.client.stop();
  await first.holder.stop();

  // The same state folder, a new process's worth of node; a fresh client asks it (nobody else holds the items).
  const holder = new DhtNode({ host: '127.0.0.1', port: 0, stateDir: dir, logger: silentLogger });
  const loaded = new Promise<number>((resolve) => holder.once('items:loaded', ({ items }) => resolve(items)));
  await holder.start();
  t.teardown(() => holder.stop({ leave: false }));
  t.is(await loaded, 2);
  const reader = new DhtNode({ host: '127.0.0.1', port: 0, bootstrap: [holder.address], logger: silentLogger, readOnly: true });
  await reader.start();
  t.teardown(() => reader.stop());
  const gotImm = await reader.get(imm.target);
  t.deepEqual(gotImm?.v, utf8('kept across a restart'));
  const gotMut = await reader.get(mut.target, { salt: utf8('k') });
  t.deepEqual(gotMut?.v, utf8('v1'));
  t.is(gotMut?.seq, 0);
});

test('stored items are written in batches: not at each put, but when the save delay passes or the node stops', async (t) => {
  const dir = await tempDir(t);
  // A save delay far beyond the test: only stop() can have written the file.
  const { holder, client } = await pair(t, dir, { dhtItemSaveDelayMs: 3_600_000 });
  for (let i = 0; i < 5; i++) await client.putImmutable(utf8(`item ${i}`), { republish: false });
  t.is(holder.stats().itemsStored, 5);
  t.false(existsSync(join(dir, ITEMS_FILE)), 'no write per put');
  await holder.stop();
  const saved = decodeItems(await readFile(join(dir, ITEMS_FILE)), Date.now());
  t.is(saved.items.length, 5);
});

test('a corrupt or oversized state file is logged and the node starts empty, serving as usual', async (t) => {
  const dir = await tempDir(t);
  const lines: string[] = [];
  const logger = recordingLogger(lines);
  await writeFile(join(dir, ITEMS_FILE), Buffer.from('d1:vi1e5:itemsl' + 'l'.repeat(500))); // truncated, over-deep
  const node = new DhtNode({ host: '127.0.0.1', port: 0, stateDir: dir, logger, settings: { dhtLeaveTimeoutMs: 0 } });
  await node.start();
  t.teardown(() => node.stop());
  t.is(node.stats().itemsStored, 0);
  t.true(lines.some((l) => l.includes('ignoring the stored DHT items')), lines.join('\n'));
  const client = new DhtNode({ host: '127.0.0.1', port: 0, bootstrap: [node.address], logger: silentLogger });
  await client.start();
  t.teardown(() => client.stop());
  const r = await client.putImmutable(utf8('after a bad file'), { republish: false });
  t.is(r.stored, 1);

  // A file larger than the caps allow is not even read.
  const dir2 = await tempDir(t);
  await writeFile(join(dir2, ITEMS_FILE), Buffer.alloc(4096, 0x61));
  const lines2: string[] = [];
  const node2 = new DhtNode({ host: '127.0.0.1', port: 0, stateDir: dir2, logger: recordingLogger(lines2), settings: { dhtMaxItemBytes: 100, dhtMaxItems: 1, dhtLeaveTimeoutMs: 0 } });
  await node2.start();
  t.teardown(() => node2.stop());
  t.true(lines2.some((l) => l.includes('more than the')), lines2.join('\n'));
});

test('a read-only node keeps no item file', async (t) => {
  const dir = await tempDir(t);
  const node = new DhtNode({ host: '127.0.0.1', port: 0, stateDir: dir, logger: silentLogger, readOnly: true });
  await node.start();
  await node.stop();
  t.false(existsSync(join(dir, ITEMS_FILE)));
});
