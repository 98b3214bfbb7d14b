/**
 * Interop with WebTorrent's bittorrent-dht@11 on loopback, both ways.
 * Their nodes bind to 127.0.0.1 and know only our nodes (never the internet).
 */
import test from 'ava';
import { DhtNode } from '../src/dht/node.js';
import { generateKeyPair, immutableTarget, mutableTarget, signBuffer, verifySignature } from '../src/dht/bep44.js';
import { encode } from '../src/bencode/index.js';
import { silentLogger } from '../src/log.js';
import { randomBytes } from '../src/util/hash.js';
import { toHex, utf8 } from '../src/util/bytes.js';
import type { PeerAddress } from '../src/discovery/peer-source.js';

// Every node in these tests is alive: a generous timeout only matters on a loaded machine.
const settings = { dhtQueryTimeoutMs: 3000 };

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Their = any;
// The package ships no types; a computed specifier keeps tsc from looking for them.
const moduleName = 'bittorrent-dht';
const DHT: Their = ((await import(moduleName)) as { default: Their }).default;

function verify(sig: Uint8Array, msg: Uint8Array, pub: Uint8Array): boolean {
  return verifySignature(pub, msg, sig);
}

async function theirNode(bootstrap: PeerAddress[]): Promise<Their> {
  const dht: Their = new DHT({ bootstrap: bootstrap.map((a) => `${a.host}:${a.port}`), verify });
  const ready = new Promise<void>((resolve) => dht.once('ready', () => resolve()));
  await new Promise<void>((resolve) => dht.listen(0, '127.0.0.1', () => resolve()));
  await withTimeout(ready, 10_000, 'bittorrent-dht ready');
  return dht;
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: timed out`)), ms)))]).finally(() => clearTimeout(timer));
}

function cb<T>(fn: (done: (err: Error | null, ...rest: unknown[]) => void) => void, what: string): Promise<T[]> {
  return withTimeout(new Promise<T[]>((resolve, reject) => fn((err, ...rest) => (err ? reject(err) : resolve(rest as T[])))), 15_000, what);
}

interface Net {
  a1: DhtNode;
  a2: DhtNode;
  their: Their;
}

async function net(): Promise<Net> {
  const a1 = new DhtNode({ host: '127.0.0.1', port: 0, logger: silentLogger, settings });
  await a1.start();
  const their = await theirNode([a1.address]);
  const a2 = new DhtNode({ host: '127.0.0.1', port: 0, bootstrap: [a1.address], logger: silentLogger, settings });
  await a2.start();
  await a2.ready();
  return { a1, a2, their };
}

async function close(n: Net): Promise<void> {
  await Promise.all([n.a1.stop(), n.a2.stop(), new Promise<void>((r) => n.their.destroy(() => r()))]);
}

test('the network forms: our node learns theirs through our bootstrap node', async (t) => {
  const n = await net();
  t.teardown(() => close(n));
  t.true(n.a2.stats().nodes >= 2, 'a2 knows a1 and their node');
  t.true(n.their.toJSON().nodes.length >= 1);
});

test('their immutable put -> our get', async (t) => {
  const n = await net();
  t.teardown(() => close(n));
  const value = Buffer.from('immutable from bittorrent-dht');
  const [hash, stored] = await cb<Uint8Array | number>((done) => n.their.put({ v: value }, done), 'their put');
  t.true((stored as number) >= 1);
  t.is(toHex(hash as Uint8Array), toHex(immutableTarget(encode(value))));
  t.true(n.a1.stats().itemsStored + n.a2.stats().itemsStored >= 1, 'one of our nodes accepted their put');
  const got = await n.a2.get(hash as Uint8Array);
  t.deepEqual(got?.v, new Uint8Array(value));
});

test('their mutable salted put -> our get', async (t) => {
  const n = await net();
  t.teardown(() => close(n));
  const kp = generateKeyPair();
  const salt = Buffer.from('their-salt');
  const value = Buffer.from('mutable from bittorrent-dht');
  await cb((done) => n.their.put({ k: Buffer.from(kp.publicKey), seq: 3, salt, v: value, sign: (buf: Buffer) => Buffer.from(signBuffer(kp.privateKey, buf)) }, done), 'their put');
  const target = mutableTarget(kp.publicKey, salt);
  const got = await n.a2.get(target, { salt });
  t.deepEqual(got?.v, new Uint8Array(value));
  t.is(got?.seq, 3);
  t.deepEqual(got?.publicKey, kp.publicKey);
});

test('our immutable put -> their get (over the wire, verified by them)', async (t) => {
  const n = await net();
  t.teardown(() => close(n));
  const put = await n.a2.putImmutable(utf8('immutable from swarm-peer'));
  t.true(put.stored >= 2, 'a1 and their node both accepted');
  const [res] = await cb<{ v: Buffer }>((done) => n.their.get(Buffer.from(put.target), { cache: false }, done), 'their get');
  t.is(Buffer.from(res!.v).toString(), 'immutable from swarm-peer');
});

test('our mutable salted put -> their get (signature verified by them)', async (t) => {
  const n = await net();
  t.teardown(() => close(n));
  const keyPair = generateKeyPair();
  const salt = utf8('our-salt');
  const put = await n.a2.putMutable({ keyPair, salt, v: utf8('mutable from swarm-peer'), seq: 7 });
  t.true(put.stored >= 2, 'a1 and their node both accepted');
  const [res] = await cb<{ v: Buffer; seq: number; k: Buffer }>((done) => n.their.get(Buffer.from(put.target), { salt: Buffer.from(salt), cache: false }, done), 'their get');
  t.is(Buffer.from(res!.v).toString(), 'mutable from swarm-peer');
  t.is(res!.seq, 7);
  t.deepEqual(new Uint8Array(res!.k), keyPair.publicKey);
});

test('their announce -> our get_peers', async (t) => {
  const n = await net();
  t.teardown(() => close(n));
  const infoHash = randomBytes(20);
  await cb((done) => n.their.announce(Buffer.from(infoHash), 6881, done), 'their announce');
  const peers = await n.a2.getPeers(infoHash);
  t.deepEqual(peers, [{ host: '127.0.0.1', port: 6881 }]);
});

test('our announce -> their get_peers', async (t) => {
  const n = await net();
  t.teardown(() => close(n));
  const infoHash = randomBytes(20);
  t.true((await n.a2.announce(infoHash, 7777)) >= 2, 'a1 and their node both accepted our token');
  const seen: string[] = [];
  n.their.on('peer', (peer: PeerAddress) => seen.push(`${peer.host}:${peer.port}`));
  await cb((done) => n.their.lookup(Buffer.from(infoHash), done), 'their lookup');
  t.true(seen.includes('127.0.0.1:7777'), `their lookup saw ${seen.join(', ')}`);
});
