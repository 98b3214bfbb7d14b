/**
 * The DHT against libtorrent (Debian's python3-libtorrent through
 * test/py/lt_peer.py, one process per "machine" on its own 127.0.0.x):
 * - a magnet link resolved through the DHT alone, both directions: no
 *   tracker, no x.pe, no --peer, no LSD; the only thing the downloader is
 *   told is the seeder's DHT node, to bootstrap from;
 * - BEP 44 items put by one side and got by the other: immutable, and
 *   mutable with a salt.
 * Every download is compared byte for byte with the source; the time (and
 * MB/s) of each transfer is logged.
 */
import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { ltEvent, ltPort, spawnLibtorrent, type LtEvent } from './helpers/libtorrent.js';
import { clients, clientTest } from './helpers/clients.js';
import { ltLeecher, reportTransfer } from './helpers/lt-interop.js';
import {
  closed,
  freePort,
  isComplete,
  isProgress,
  singleFileTorrent,
  spawnPeer,
  tempDir,
  treeDigest,
  type PeerProcess,
  type Teardown,
} from './helpers/swarm.js';

const SIZE = 64 * 1024 * 1024 + 4321;
const PIECE = 256 * 1024;
const TEST_MS = 180_000;
const TRANSFER_MS = 120_000;
const DHT_MS = 60_000;

type Ctx = Parameters<Parameters<typeof clientTest>[2]>[0];

const magnetOf = (infoHashHex: string, name: string): string => `magnet:?xt=urn:btih:${infoHashHex}&dn=${encodeURIComponent(name)}`;

/** When event `e` of `p` arrived (ms since the epoch). */
const timeOf = (p: PeerProcess, e: unknown): number => p.eventTimes[p.events.indexOf(e as never)]!;

/** `peer dht` (the built bin) on HOST, once it listens. */
async function startOurDht(t: Teardown, host: string, stateDir: string): Promise<{ proc: PeerProcess; addr: string }> {
  const port = await freePort([host]);
  const proc = spawnPeer(t, ['dht', '--host', host, '--port', String(port), '--state', stateDir, '--json']);
  const ev = (await proc.waitFor((e) => (e as { event: string }).event === 'listening', 'dht listening', 30_000)) as unknown as { port: number };
  return { proc, addr: `${host}:${ev.port}` };
}

/** A libtorrent DHT node on HOST (no torrent), told about `nodes` as ordinary nodes. */
async function startLtDht(t: Teardown, host: string, nodes: string[]): Promise<{ proc: PeerProcess; addr: string }> {
  const port = await freePort([host]);
  const proc = spawnLibtorrent(t, ['--listen', `${host}:${port}`, '--dht', ...nodes.flatMap((n) => ['--dht-node', n]), '--timeout', '170']);
  return { proc, addr: `${host}:${await ltPort(proc, 30_000)}` };
}

/** Runs a one-shot `peer kv ...` command with --json to its end; its one JSON object. */
async function ourKv(t: Ctx, args: string[]): Promise<Record<string, unknown>> {
  const started = Date.now();
  const state = await tempDir(t, 'lt-kv-state-');
  const p = spawnPeer(t, ['kv', ...args, '--state', state, '--json']);
  const exit = await closed(p, DHT_MS);
  t.is(exit.code, 0, p.describe());
  t.deepEqual(p.badLines, []);
  t.is(p.events.length, 1, p.stdout());
  t.log(`ours: kv ${args.slice(0, 2).join(' ')} in ${((Date.now() - started) / 1000).toFixed(2)} s (process start to exit)`);
  return p.events[0] as unknown as Record<string, unknown>;
}

/**
 * Starts lt_peer.py with a BEP 44 put or get and resolves with its event
 * `name` (a put taken by at least one node, or the item found). The process
 * stays up, a live node of the small DHT, until the test ends: a node that
 * left would cost every later lookup a query timeout.
 */
async function ltItem(t: Ctx, host: string, bootstrap: string, args: string[], name: 'dht-put' | 'dht-item'): Promise<LtEvent> {
  const port = await freePort([host]);
  const p = spawnLibtorrent(t, ['--listen', `${host}:${port}`, '--dht', '--dht-bootstrap', bootstrap, '--dht-delay', '1', '--timeout', '170', ...args]);
  const ev = await ltEvent(p, name, DHT_MS, (e) => name !== 'dht-put' || (e.nodes as number) > 0);
  t.log(`libtorrent: ${name} ${ev.kind as string} in ${((timeOf(p, ev) - p.startedAt) / 1000).toFixed(2)} s (process start to event)`);
  return ev;
}

/** BEP 44 immutable target: SHA-1 of the bencoded value (a byte string here). */
function immutableTarget(value: string): string {
  const v = Buffer.from(value, 'utf8');
  return createHash('sha1').update(Buffer.concat([Buffer.from(`${v.length}:`), v])).digest('hex');
}

clientTest([clients.libtorrent], 'a magnet resolved through the DHT alone: libtorrent finds our seeder through its DHT node, metadata and data byte-equal', async (t) => {
  t.timeout(TEST_MS);
  const dir = await tempDir(t, 'lt-dht-ours-');
  const fx = await singleFileTorrent(dir, { length: SIZE, pieceLength: PIECE, seed: 81, name: 'dht-from-ours.bin' });
  const name = path.basename(fx.contentPath);
  const host = '127.0.0.81';
  const port = await freePort([host]);
  // Our seeder with its DHT node on (the same port, UDP); no tracker, no bootstrap node: it knows nobody.
  const seeder = spawnPeer(t, ['seed', fx.torrentPath, '--data', fx.contentPath, '--host', host, '--port', String(port), '--state', path.join(dir, 'seed-state'), '--json']);
  await seeder.waitFor(isProgress, 'seeder running', 30_000);

  const save = path.join(dir, 'lt');
  const lt = ltLeecher(t, { magnet: magnetOf(fx.infoHashHex, name), save, host: '127.0.0.82', port: await freePort(['127.0.0.82']), extra: ['--dht', '--dht-bootstrap', `${host}:${port}`] });
  const metadata = await ltEvent(lt, 'metadata', TRANSFER_MS);
  t.is(metadata.infoHash, fx.infoHashHex);
  const done = await ltEvent(lt, 'complete', TRANSFER_MS);
  const exit = await closed(lt, 30_000);
  t.is(exit.code, 0, lt.describe());
  t.deepEqual(await treeDigest(path.join(save, name)), await treeDigest(fx.contentPath), 'byte-equal copy');
  const dataMs = timeOf(lt, done) - timeOf(lt, metadata);
  t.log(`libtorrent: magnet to metadata ${((timeOf(lt, metadata) - lt.startedAt) / 1000).toFixed(2)} s, to complete ${((done.elapsedMs as number) / 1000).toFixed(2)} s`);
  reportTransfer(t, { client: 'libtorrent 127.0.0.82', direction: '<- our seeder (magnet, DHT only; data after metadata)', bytes: fx.totalLength, ms: dataMs });
  t.deepEqual(seeder.badLines, []);
});

clientTest([clients.libtorrent], 'a magnet resolved through the DHT alone: our leecher finds a libtorrent seeder through its DHT node, byte-equal', async (t) => {
  t.timeout(TEST_MS);
  const dir = await tempDir(t, 'lt-dht-lt-');
  const fx = await singleFileTorrent(dir, { length: SIZE, pieceLength: PIECE, seed: 85, name: 'dht-from-lt.bin' });
  const name = path.basename(fx.contentPath);
  const ltHost = '127.0.0.85';
  const ltListen = await freePort([ltHost]);
  const seeder = spawnLibtorrent(t, ['--torrent', fx.torrentPath, '--save', path.dirname(fx.contentPath), '--listen', `${ltHost}:${ltListen}`, '--dht', '--timeout', '170']);
  const ltNode = `${ltHost}:${await ltPort(seeder, 30_000)}`;
  // libtorrent checked the files: it seeds.
  await ltEvent(seeder, 'complete', 60_000);

  const host = '127.0.0.86';
  const out = path.join(dir, 'ours');
  const ours = spawnPeer(t, ['leech', magnetOf(fx.infoHashHex, name), '--out', out, '--exit-on-complete', '--bootstrap', ltNode, '--host', host, '--port', String(await freePort([host])), '--state', path.join(dir, 'leech-state'), '--json']);
  const c = await ours.waitFor(isComplete, 'our leecher complete', TRANSFER_MS);
  const exit = await closed(ours, 30_000);
  t.is(exit.code, 0, ours.describe());
  t.is(c.infoHash, fx.infoHashHex);
  t.deepEqual(await treeDigest(path.join(out, name)), await treeDigest(fx.contentPath), 'byte-equal copy');
  t.log(`ours: magnet to complete ${((timeOf(ours, c) - ours.startedAt) / 1000).toFixed(2)} s (process start, DHT lookup, metadata, data)`);
  reportTransfer(t, { client: `ours ${host}`, direction: '<- libtorrent seeder (magnet, DHT only; data after metadata)', bytes: fx.totalLength, ms: c.elapsedMs });
  t.deepEqual(ours.badLines, []);
});

/**
 * Our DHT node and a libtorrent DHT node that know each other: the small DHT
 * the BEP 44 tests use. In each test libtorrent puts first: libtorrent 2.0.8
 * adds the sender of a `put` with a valid token to its routing table even
 * when the query says it is read-only (BEP 43 `ro`), so once a short-lived
 * `peer kv put` has exited, libtorrent's later lookups each wait out a query
 * timeout (~15 s) on that dead node. Its gets return as soon as an item is found.
 */
async function smallDht(t: Ctx): Promise<{ ours: string; lt: string }> {
  const dir = await tempDir(t, 'lt-bep44-');
  const ours = await startOurDht(t, '127.0.0.90', path.join(dir, 'dht-state'));
  const lt = await startLtDht(t, '127.0.0.91', [ours.addr]);
  return { ours: ours.addr, lt: lt.addr };
}

clientTest([clients.libtorrent], 'BEP 44 immutable items: put by libtorrent, got by us; put by us, got by libtorrent', async (t) => {
  t.timeout(TEST_MS);
  const net = await smallDht(t);

  // libtorrent -> ours. libtorrent's put starts from our node; our get knows only the libtorrent node.
  const ltValue = `immutable from libtorrent ${randomBytes(6).toString('hex')} — ✓`;
  const ltPut = await ltItem(t, '127.0.0.94', net.ours, ['--dht-put-immutable', ltValue], 'dht-put');
  t.is(ltPut.target, immutableTarget(ltValue));
  const ourGet = await ourKv(t, ['get', '--immutable', ltPut.target as string, '--bootstrap', net.lt, '--host', '127.0.0.95']);
  t.like(ourGet, { target: ltPut.target, value: ltValue, seq: null, publicKey: null });

  // Ours -> libtorrent. Our put knows only the libtorrent node; libtorrent's get starts from ours.
  const ourValue = `immutable from us ${randomBytes(6).toString('hex')} — ünïcode ✓`;
  const put = await ourKv(t, ['put', '--immutable', ourValue, '--bootstrap', net.lt, '--host', '127.0.0.92']);
  t.is(put.target, immutableTarget(ourValue));
  t.true((put.stored as number) >= 1);
  const got = await ltItem(t, '127.0.0.93', net.ours, ['--dht-get-immutable', put.target as string], 'dht-item');
  t.is(got.kind, 'immutable');
  t.is(got.target, put.target);
  t.is(got.value, ourValue);
});

clientTest([clients.libtorrent], 'BEP 44 mutable items with a salt: put by libtorrent, got by us; put by us, got by libtorrent', async (t) => {
  t.timeout(TEST_MS);
  const net = await smallDht(t);

  // libtorrent -> ours: libtorrent signs with a key pair from a seed; we read it by its public key.
  const ltKey = `lt-key-${randomBytes(4).toString('hex')}`;
  const ltValue = `mutable from libtorrent — ✓ ${randomBytes(6).toString('hex')}`;
  const ltPut = await ltItem(t, '127.0.0.98', net.ours, ['--dht-put-mutable', ltValue, '--seed', randomBytes(32).toString('hex'), '--salt', ltKey], 'dht-put');
  t.is(ltPut.target, createHash('sha1').update(Buffer.concat([Buffer.from(ltPut.publicKey as string, 'hex'), Buffer.from(ltKey)])).digest('hex'));
  const ourGet = await ourKv(t, ['get', ltKey, '--owner', ltPut.publicKey as string, '--bootstrap', net.lt, '--host', '127.0.0.99']);
  t.like(ourGet, { target: ltPut.target, value: ltValue, seq: ltPut.seq, publicKey: ltPut.publicKey });

  // Ours -> libtorrent: a namespace's key pair signs; the key is the salt.
  const key = `key-${randomBytes(4).toString('hex')}`;
  const ourValue = `mutable from us — ✓ ${randomBytes(6).toString('hex')}`;
  const put = await ourKv(t, ['put', key, ourValue, '--namespace', `lt-interop-${randomBytes(4).toString('hex')}`, '--bootstrap', net.lt, '--host', '127.0.0.96']);
  t.regex(put.publicKey as string, /^[0-9a-f]{64}$/);
  t.true((put.stored as number) >= 1);
  const got = await ltItem(t, '127.0.0.97', net.ours, ['--dht-get-mutable', '--public-key', put.publicKey as string, '--salt', key], 'dht-item');
  t.like(got, { kind: 'mutable', target: put.target, publicKey: put.publicKey, salt: key, seq: put.seq, value: ourValue });
});
