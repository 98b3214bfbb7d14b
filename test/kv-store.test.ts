/**
 * KvStore (src/dht/kv.ts) on in-process DHT nodes on loopback: values of
 * every size around the one-item limit and up to 64 KiB, hostile manifests,
 * delete, the key index, compare-and-swap, the get status, and the
 * publisher's list in --state that a restarted node puts again.
 */
import test from 'ava';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DhtNode } from '../src/dht/node.js';
import { KvStore } from '../src/dht/kv.js';
import { generateKeyPair, mutableTarget, namespaceKeyPair } from '../src/dht/bep44.js';
import {
  KV_CHUNK_BYTES, KV_INDEX_SALT, MAX_KV_VALUE_BYTES, decodeKvStored, encodeKvValue, fitsInOneItem,
} from '../src/dht/kv-codec.js';
import { PUBLISHED_FILE, decodePublished, encodePublished } from '../src/dht/kv-published.js';
import { KvError, UsageError } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import { encode } from '../src/bencode/index.js';
import { utf8 } from '../src/util/bytes.js';
import { sha1 } from '../src/util/hash.js';
import type { Settings } from '../src/settings.js';
import { pollUntil } from './helpers/poll.js';

const settings: Partial<Settings> = { dhtQueryTimeoutMs: 3000 };

async function network(n: number, extra: Partial<Settings> = {}): Promise<DhtNode[]> {
  const first = new DhtNode({ host: '127.0.0.1', port: 0, logger: silentLogger, settings: { ...settings, ...extra } });
  await first.start();
  const nodes = [first];
  for (let i = 1; i < n; i++) {
    const node = new DhtNode({ host: '127.0.0.1', port: 0, bootstrap: [first.address], logger: silentLogger, settings: { ...settings, ...extra } });
    await node.start();
    await node.ready();
    nodes.push(node);
  }
  return nodes;
}

const stopAll = (nodes: DhtNode[]): Promise<unknown> => Promise.all(nodes.map((n) => n.stop({ leave: false } as never)));

/** A read-only client node (as `peer kv` runs) that reaches the network through `via`. */
async function client(via: DhtNode, extra: Partial<Settings> = {}, stateDir?: string): Promise<DhtNode> {
  const node = new DhtNode({ host: '127.0.0.1', port: 0, bootstrap: [via.address], logger: silentLogger, settings: { ...settings, ...extra }, ...(stateDir ? { stateDir } : { readOnly: true }) });
  await node.start();
  if (stateDir) await node.ready();
  return node;
}

const identity = () => Promise.resolve(generateKeyPair());

function text(bytes: number, seed = 0): string {
  let s = '';
  for (let i = 0; s.length < bytes; i++) s += String.fromCharCode(97 + ((i * 7 + seed) % 26));
  return s;
}

test('codec: a value fits in one item up to 1000 bytes bencoded, then is chunked under a manifest that fits too', (t) => {
  t.true(fitsInOneItem(utf8(text(995)))); // "995:" + 995 = 999
  t.true(fitsInOneItem(utf8(text(996)))); // 1000
  t.false(fitsInOneItem(utf8(text(997))));
  for (const size of [997, 16 * 1024, MAX_KV_VALUE_BYTES]) {
    const enc = encodeKvValue(utf8(text(size)));
    t.true(encode(enc.v).length <= 1000, `manifest of ${size}`);
    for (const c of enc.children) t.true(c.length <= 1000);
    const stored = decodeKvStored(enc.v, encode(enc.v));
    t.is(stored.kind, 'big');
    if (stored.kind === 'big') t.is(stored.manifest.chunks, Math.ceil(size / KV_CHUNK_BYTES));
  }
  t.throws(() => encodeKvValue(utf8(text(MAX_KV_VALUE_BYTES + 1))), { instanceOf: RangeError });
});

test('codec: hostile manifests are refused with a readable error before anything is fetched', (t) => {
  const good = encodeKvValue(utf8(text(5000))).v as Record<string, unknown>;
  const cases: [string, Record<string, unknown>][] = [
    ['huge length', { ...good, len: 1e12 }],
    ['huge count', { ...good, n: 1_000_000 }],
    ['count that does not match the length', { ...good, n: 3 }],
    ['short hash', { ...good, sha1: new Uint8Array(5) }],
    ['index targets of the wrong size', { ...good, idx: new Uint8Array(21) }],
    ['negative length', { ...good, len: -5 }],
    ['unknown kind', { ...good, _kv: utf8('zip') }],
  ];
  for (const [what, v] of cases) {
    const err = t.throws(() => decodeKvStored(v as never, encode(v)), { instanceOf: KvError }, what);
    t.regex(err!.message, /malformed/, what);
  }
});

test('values of 1, 999, 1000, 1001 bytes, 16 KiB and 64 KiB round-trip; 64 KiB + 1 is refused with a hint to share a file', async (t) => {
  const nodes = await network(8);
  t.teardown(() => stopAll(nodes));
  const writer = new KvStore(nodes[2]!, identity);
  const reader = new KvStore(nodes[6]!, identity);
  for (const size of [1, 999, 1000, 1001, 16 * 1024, 64 * 1024]) {
    const value = text(size, size);
    const put = await writer.put(`size-${size}`, value, { namespace: 'sizes' });
    t.true(put.stored >= 1, `${size}: stored`);
    const got = await reader.get(`size-${size}`, { namespace: 'sizes' });
    t.is(got?.value, value, `${size} bytes`);
  }
  // Multi-byte UTF-8 across chunk boundaries.
  const utf = 'é€😀'.repeat(3000);
  await writer.put('utf8', utf, { namespace: 'sizes' });
  t.is((await reader.get('utf8', { namespace: 'sizes' }))?.value, utf);
  const err = await t.throwsAsync(writer.put('too-big', text(64 * 1024 + 1), { namespace: 'sizes' }), { instanceOf: UsageError });
  t.regex(err!.message, /64 KiB.*peer share/);
});

test('a manifest whose chunks do not hash to its SHA-1 is refused, not returned', async (t) => {
  const nodes = await network(6);
  t.teardown(() => stopAll(nodes));
  const kp = namespaceKeyPair('hostile');
  const salt = utf8('k');
  const real = encodeKvValue(utf8(text(3000)));
  // The chunks are genuine, but the manifest claims another hash.
  for (const c of real.children) await nodes[1]!.putImmutable(c.subarray(c.indexOf(0x3a) + 1), { republish: false });
  const v = { ...(real.v as Record<string, unknown>), sha1: sha1(utf8('something else')) };
  await nodes[1]!.putMutable({ keyPair: kp, salt, v: v as never }, { republish: false });
  const err = await t.throwsAsync(new KvStore(nodes[4]!, identity).get('k', { namespace: 'hostile' }), { instanceOf: KvError });
  t.regex(err!.message, /does not match its SHA-1/);
});

test('delete writes a tombstone: lookup says deleted, get returns null, and the key leaves the index', async (t) => {
  const nodes = await network(8);
  t.teardown(() => stopAll(nodes));
  const a = new KvStore(nodes[1]!, identity);
  const b = new KvStore(nodes[5]!, identity);
  await a.put('one', '1', { namespace: 'del-ns' });
  await a.put('two', '2', { namespace: 'del-ns' });
  t.deepEqual(await b.list({ namespace: 'del-ns' }), ['one', 'two']);
  const del = await b.del('one', { namespace: 'del-ns' });
  t.is(del.seq, 1);
  t.true(del.indexed);
  const look = await a.lookup('one', { namespace: 'del-ns' });
  t.is(look.status, 'deleted');
  t.is(look.value, null);
  t.is(await a.get('one', { namespace: 'del-ns' }), null);
  t.is((await a.lookup('never', { namespace: 'del-ns' })).status, 'not-found');
  t.deepEqual(await a.list({ namespace: 'del-ns' }), ['two']);
  // Putting it again brings it back at a higher seq.
  const again = await a.put('one', 'back', { namespace: 'del-ns' });
  t.is(again.seq, 2);
  t.is((await b.get('one', { namespace: 'del-ns' }))?.value, 'back');
  t.deepEqual(await b.list({ namespace: 'del-ns' }), ['one', 'two']);
  t.deepEqual(await b.list({ namespace: 'empty-ns' }), []);
});

test('the key index lives under a salt no key can take, and concurrent writers both end up in it', async (t) => {
  const nodes = await network(8);
  t.teardown(() => stopAll(nodes));
  t.is(KV_INDEX_SALT[0], 0xff);
  t.false(Buffer.from(KV_INDEX_SALT).toString('utf8') === Buffer.from(KV_INDEX_SALT).toString('latin1'));
  const writers = [1, 3, 5, 7].map((i) => new KvStore(nodes[i]!, identity));
  await Promise.all(writers.map((w, i) => w.put(`k${i}`, `v${i}`, { namespace: 'race' })));
  // A retry after a lost race (cas) may still miss; one more put by each settles it.
  let keys = await writers[0]!.list({ namespace: 'race' });
  if (keys.length < 4) {
    for (const [i, w] of writers.entries()) if (!keys.includes(`k${i}`)) await w.put(`k${i}`, `v${i}`, { namespace: 'race' });
    keys = await writers[0]!.list({ namespace: 'race' });
  }
  t.deepEqual(keys, ['k0', 'k1', 'k2', 'k3']);
});

test('compare-and-swap: the right seq replaces the value, a stale one fails with ECAS and changes nothing', async (t) => {
  const nodes = await network(8);
  t.teardown(() => stopAll(nodes));
  const kv = new KvStore(nodes[2]!, identity);
  const first = await kv.put('counter', '1', { namespace: 'cas' });
  t.is(first.seq, 0);
  const second = await kv.put('counter', '2', { namespace: 'cas', cas: 0 });
  t.is(second.seq, 1);
  const err = await t.throwsAsync(kv.put('counter', '3', { namespace: 'cas', cas: 0 }), { instanceOf: KvError });
  t.is(err!.code, 'ECAS');
  t.regex(err!.message, /stored seq is 1, not 0/);
  t.is((await new KvStore(nodes[6]!, identity).get('counter', { namespace: 'cas' }))?.value, '2');
  // Big values take cas too.
  const big = await kv.put('counter', text(5000), { namespace: 'cas', cas: 1 });
  t.is(big.seq, 2);
});

test('the storing nodes refuse a cas put whose seq they do not hold (BEP 44 error 301)', async (t) => {
  const nodes = await network(6);
  t.teardown(() => stopAll(nodes));
  const kp = namespaceKeyPair('cas-raw');
  const salt = utf8('x');
  await nodes[1]!.putMutable({ keyPair: kp, salt, v: utf8('a') }, { republish: false });
  await nodes[1]!.putMutable({ keyPair: kp, salt, v: utf8('b') }, { republish: false });
  // Force past the writer's own check (seq given): only the storing nodes decide.
  const r = await nodes[3]!.putMutable({ keyPair: kp, salt, v: utf8('c'), cas: 0, seq: 5 }, { republish: true });
  t.true(typeof r.casRefused === 'number' && r.casRefused >= 3, String(r.casRefused));
  // nodes[1] wrote the item and so never stored it itself: it took the put (per node, not a lock).
  t.true(r.stored <= 1);
  // A refused cas put is not kept alive.
  t.false(r.republished);
  // The writer-side check: with no explicit seq, a stale cas puts nothing.
  const w = await nodes[3]!.putMutable({ keyPair: kp, salt, v: utf8('d'), cas: 0 }, { republish: false });
  t.is(w.casRefused, 'writer');
  t.is(w.stored, 0);
  t.is(w.foundSeq, 5);
});

test('get says "unreachable" when no DHT node answers, "not-found" when they answer without the key', async (t) => {
  const nodes = await network(4);
  t.teardown(() => stopAll(nodes));
  const found = await new KvStore(nodes[1]!, identity).lookup('nothing-here', { namespace: 'x' });
  t.is(found.status, 'not-found');
  t.true(found.responded >= 1);
  // A client whose only bootstrap node is a closed port.
  const lonely = new DhtNode({ host: '127.0.0.1', port: 0, bootstrap: [{ host: '127.0.0.1', port: 9 }], logger: silentLogger, readOnly: true, settings: { dhtQueryTimeoutMs: 500 } });
  await lonely.start();
  t.teardown(() => lonely.stop());
  const none = await new KvStore(lonely, identity).lookup('nothing-here', { namespace: 'x' });
  t.is(none.status, 'unreachable');
  t.is(none.responded, 0);
});

test('a publisher with --state keeps its list on disk, and after a restart puts every value again (also big ones)', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kv-republish-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // Items live 3 s on the storing nodes; the publisher republishes every second.
  const short: Partial<Settings> = { dhtItemTtlMs: 3000, dhtRepublishIntervalMs: 1000 };
  const nodes = await network(6, short);
  t.teardown(() => stopAll(nodes));
  const state = join(dir, 'publisher');
  const pub = await client(nodes[0]!, short, state);
  const kv = new KvStore(pub, identity);
  const small = await kv.put('small', 'kept alive', { namespace: 'alive' });
  t.true(small.republished);
  const bigValue = text(20_000, 3);
  await kv.put('big', bigValue, { namespace: 'alive' });
  await pub.stop({ leave: false } as never);
  const saved = decodePublished(await import('node:fs/promises').then((fs) => fs.readFile(join(state, PUBLISHED_FILE))));
  // small, big (with its chunks), and the namespace's index.
  t.is(saved.entries.length, 3);
  t.is(saved.skipped, 0);
  t.true(saved.entries.some((e) => (e.children?.length ?? 0) > 20));
  t.true((await stat(join(state, PUBLISHED_FILE))).size > 20_000);

  // Long enough for every item to expire on the storing nodes.
  await new Promise((resolve) => setTimeout(resolve, 3500));
  const reader = new KvStore(nodes[4]!, identity);
  t.is((await reader.lookup('small', { namespace: 'alive' })).status, 'not-found');

  const again = await client(nodes[0]!, short, state);
  t.teardown(() => again.stop({ leave: false } as never));
  t.is(again.stats().publishing, 3);
  // Restarted, it puts them again without being asked; then keeps them alive past the TTL.
  let got: string | undefined;
  for (let i = 0; i < 40 && got !== bigValue; i++) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    got = (await reader.get('big', { namespace: 'alive' }).catch(() => null))?.value;
  }
  t.is(got, bigValue);
  // Past another TTL: still there, because the restarted node keeps putting them (each read bounded).
  await new Promise((resolve) => setTimeout(resolve, 3500));
  const small2 = await pollUntil(async () => (await reader.get('small', { namespace: 'alive' }))?.value, 'the small value after another TTL', 10_000, 250);
  t.is(small2, 'kept alive');
  const keys = await pollUntil(async () => {
    const k = await reader.list({ namespace: 'alive' });
    return k.length === 2 ? k : undefined;
  }, 'the index after another TTL', 10_000, 250);
  t.deepEqual(keys, ['big', 'small']);
});

test('a damaged list of published items is skipped with a warning, not a crash', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kv-damaged-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const { writeFile } = await import('node:fs/promises');
  await writeFile(join(dir, PUBLISHED_FILE), 'd5:itemsli1e');
  const node = new DhtNode({ host: '127.0.0.1', port: 0, logger: silentLogger, stateDir: dir });
  await node.start();
  t.teardown(() => node.stop({ leave: false } as never));
  t.is(node.stats().publishing, 0);
  t.true(mutableTarget(namespaceKeyPair('x').publicKey).length === 20);
});

test('a manifest whose parts are missing from the DHT is refused as incomplete, not hung on', async (t) => {
  const nodes = await network(5);
  t.teardown(() => stopAll(nodes));
  const kp = namespaceKeyPair('missing-parts');
  // A well-formed manifest for 30 KB whose chunks and index items were never put.
  const enc = encodeKvValue(utf8(text(30_000)));
  await nodes[1]!.putMutable({ keyPair: kp, salt: utf8('k'), v: enc.v }, { republish: false });
  const err = await t.throwsAsync(new KvStore(nodes[3]!, identity).get('k', { namespace: 'missing-parts' }), { instanceOf: KvError });
  t.regex(err!.message, /was not found on the DHT; the value is incomplete/);
});

test('the list of published items round-trips through its file format, and a bad entry is skipped', (t) => {
  const kp = namespaceKeyPair('codec');
  const enc = encodeKvValue(utf8(text(4000)));
  const entries = [
    { kind: 'immutable' as const, v: encode(utf8('imm')) },
    { kind: 'mutable' as const, v: encode(enc.v), mutable: { k: kp.publicKey, seq: 3, sig: new Uint8Array(64).fill(7), v: encode(enc.v), salt: utf8('big') }, children: enc.children },
  ];
  const back = decodePublished(encodePublished(entries));
  t.is(back.skipped, 0);
  t.deepEqual(back.entries.map((e) => ({ kind: e.kind, seq: e.mutable?.seq, children: e.children?.length ?? 0 })), [
    { kind: 'immutable', seq: undefined, children: 0 },
    { kind: 'mutable', seq: 3, children: enc.children.length },
  ]);
  const bad = encode({ items: [{ v: utf8('ok') }, { k: new Uint8Array(5), v: utf8('x') }, 'junk'], version: 1 });
  const partial = decodePublished(bad);
  t.is(partial.entries.length, 1);
  t.is(partial.skipped, 2);
});

test('a damaged key index is refused readably by list, and the next put rebuilds it', async (t) => {
  const nodes = await network(5);
  t.teardown(() => stopAll(nodes));
  const kp = namespaceKeyPair('damaged-index');
  await nodes[1]!.putMutable({ keyPair: kp, salt: KV_INDEX_SALT, v: utf8('not a bencoded list') }, { republish: false });
  const kv = new KvStore(nodes[3]!, identity);
  const err = await t.throwsAsync(kv.list({ namespace: 'damaged-index' }), { instanceOf: KvError });
  t.regex(err!.message, /malformed \(the key index is not bencoded\)/);
  const put = await kv.put('fresh', 'v', { namespace: 'damaged-index' });
  t.true(put.indexed);
  t.deepEqual(await kv.list({ namespace: 'damaged-index' }), ['fresh']);
});

test('restarted alone (no DHT found yet), a publisher tries its list again once it knows nodes', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kv-retry-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  // The hourly timer never fires here: only the restart retries can put the value again.
  const slow: Partial<Settings> = { dhtRepublishIntervalMs: 3_600_000, kvRestartRetryMs: 300 };
  const nodes = await network(5, slow);
  t.teardown(() => stopAll(nodes));
  const state = join(dir, 'publisher');
  const pub = await client(nodes[0]!, slow, state);
  await new KvStore(pub, identity).put('late', 'found later', { namespace: 'retry', republish: true });
  await pub.stop({ leave: false } as never);
  // The value leaves the network (as if it had expired there); the publisher forgets its routing table.
  await stopAll(nodes);
  const fresh = await network(5, slow);
  t.teardown(() => stopAll(fresh));
  await rm(join(state, 'dht-routing.json'), { force: true });
  const again = new DhtNode({ host: '127.0.0.1', port: 0, logger: silentLogger, settings: { ...settings, ...slow }, stateDir: state });
  await again.start();
  t.teardown(() => again.stop({ leave: false } as never));
  await again.ready();
  t.is(again.stats().nodes, 0);
  const reader = new KvStore(fresh[3]!, identity);
  t.is((await reader.lookup('late', { namespace: 'retry' })).status, 'not-found');
  // Now it hears of a node (as LSD would tell it).
  again.addNode(fresh[0]!.address);
  const got = await pollUntil(async () => (await reader.get('late', { namespace: 'retry' }))?.value, 'the value put again by a retry', 15_000, 200);
  t.is(got, 'found later');
});
