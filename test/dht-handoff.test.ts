/**
 * Graceful leave (issue 15, item 3): a node that stops hands each BEP 44
 * item it stores to the nodes now closest to its target, as stored (a
 * mutable item keeps its publisher's seq and signature), within a time
 * bound; a node that dies abruptly (kill) or stops with leave: false hands
 * nothing on. In-process nodes on loopback.
 */
import test from 'ava';
import dgram from 'node:dgram';
import { DhtNode } from '../src/dht/node.js';
import { decodeKrpc, encodeKrpc, type KrpcMessage, type KrpcQuery } from '../src/dht/krpc.js';
import { encodeItemValue, generateKeyPair, immutableTarget, mutableTarget, signMutable } from '../src/dht/bep44.js';
import { silentLogger } from '../src/log.js';
import { randomBytes } from '../src/util/hash.js';
import { utf8 } from '../src/util/bytes.js';

/** Puts an item on one node only (a raw KRPC client: get for a token, then put). */
async function putOnOne(node: DhtNode, target: Uint8Array, v: Uint8Array, mutable?: { k: Uint8Array; sig: Uint8Array; seq: number; salt?: Uint8Array }): Promise<void> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  const id = randomBytes(20);
  let n = 0;
  const ask = (query: KrpcQuery): Promise<KrpcMessage> =>
    new Promise((resolve, reject) => {
      const t = Uint8Array.of(n++);
      const timer = setTimeout(() => reject(new Error(`no answer to ${query.q}`)), 3000);
      socket.on('message', (buf) => {
        const m = decodeKrpc(buf);
        if (m.t[0] === t[0]) {
          clearTimeout(timer);
          resolve(m);
        }
      });
      socket.send(encodeKrpc({ y: 'q', t, query }), node.address.port, '127.0.0.1');
    });
  try {
    const g = await ask({ q: 'get', id, target });
    if (g.y !== 'r' || !g.response.token) throw new Error('no token');
    const p = await ask({ q: 'put', id, token: g.response.token, v, ...(mutable ? { mutable } : {}) });
    if (p.y !== 'r') throw new Error(`put refused: ${JSON.stringify(p)}`);
  } finally {
    socket.close();
  }
}

/** n nodes that know each other (all bootstrap from the first). */
async function network(t: { teardown(fn: () => unknown): void }, n: number, settings = {}): Promise<DhtNode[]> {
  const first = new DhtNode({ host: '127.0.0.1', port: 0, logger: silentLogger, settings: { dhtLeaveTimeoutMs: 0, ...settings } });
  await first.start();
  const nodes = [first];
  for (let i = 1; i < n; i++) {
    const node = new DhtNode({ host: '127.0.0.1', port: 0, bootstrap: [first.address], logger: silentLogger, settings: { dhtLeaveTimeoutMs: 0, ...settings } });
    await node.start();
    nodes.push(node);
  }
  await Promise.all(nodes.map((x) => x.ready()));
  // A second round so that the first node's table has the later ones too.
  await Promise.all(nodes.map((x) => x.findNode(x.nodeId)));
  t.teardown(() => Promise.all(nodes.map((x) => x.stop({ leave: false }))));
  return nodes;
}

/** A node that stores items and leaves gracefully, joined to `others`. */
async function holderIn(t: { teardown(fn: () => unknown): void }, others: DhtNode[], settings = {}): Promise<DhtNode> {
  const holder = new DhtNode({ host: '127.0.0.1', port: 0, bootstrap: [others[0]!.address], logger: silentLogger, settings: { dhtLeaveTimeoutMs: 5_000, ...settings } });
  await holder.start();
  await holder.ready();
  t.teardown(() => holder.stop({ leave: false }));
  return holder;
}

test('a node stopped gracefully hands its items on: an immutable and a mutable one (same seq and signature) are still found on the others', async (t) => {
  const others = await network(t, 6);
  const holder = await holderIn(t, others);
  const imm = encodeItemValue(utf8('handed on'));
  const immTarget = immutableTarget(imm);
  await putOnOne(holder, immTarget, imm);
  const kp = generateKeyPair();
  const salt = utf8('key');
  const m = signMutable(kp, { salt, seq: 41, v: encodeItemValue(utf8('forty-one')) });
  const mutTarget = mutableTarget(kp.publicKey, salt);
  await putOnOne(holder, mutTarget, m.v, { k: m.k, sig: m.sig, seq: m.seq, salt });
  t.is(holder.stats().itemsStored, 2);
  t.is(others.reduce((s, n) => s + n.stats().itemsStored, 0), 0, 'only the holder has them');

  const handed = new Promise<{ items: number; handedOn: number }>((resolve) => holder.once('items:handed-off', resolve));
  await holder.stop();
  const r = await handed;
  t.is(r.items, 2);
  t.is(r.handedOn, 2);
  t.true(others.reduce((s, n) => s + n.stats().itemsStored, 0) >= 2);

  const reader = others[others.length - 1]!;
  t.deepEqual((await reader.get(immTarget))?.vRaw, imm);
  const got = await reader.get(mutTarget, { salt, publicKey: kp.publicKey });
  t.is(got?.seq, 41);
  t.deepEqual(got?.sig, m.sig);
  t.deepEqual(got?.vRaw, m.v);
});

test('stop({ leave: false }) and kill() hand nothing on: the item leaves with the node', async (t) => {
  const others = await network(t, 4);
  for (const end of ['leave: false', 'kill'] as const) {
    const holder = await holderIn(t, others);
    const v = encodeItemValue(utf8(`not handed on (${end})`));
    await putOnOne(holder, immutableTarget(v), v);
    if (end === 'kill') await holder.kill();
    else await holder.stop({ leave: false });
    t.is(await others[1]!.get(immutableTarget(v)), null, end);
  }
});

test('a leave is bounded: with every neighbour dead, stop returns after dhtLeaveTimeoutMs, not a query timeout per item', async (t) => {
  const others = await network(t, 4);
  // Queries would wait 20 s each; the leave has 300 ms.
  const holder = await holderIn(t, others, { dhtLeaveTimeoutMs: 300, dhtQueryTimeoutMs: 20_000, dhtStallFloorMs: 20_000 });
  for (let i = 0; i < 20; i++) {
    const v = encodeItemValue(utf8(`item ${i}`));
    await putOnOne(holder, immutableTarget(v), v);
  }
  await Promise.all(others.map((n) => n.kill()));
  const handed = new Promise<{ unfinished: number }>((resolve) => holder.once('items:handed-off', resolve));
  let timer: NodeJS.Timeout | undefined;
  const stopped = await Promise.race([
    holder.stop().then(() => 'stopped'),
    new Promise<string>((resolve) => (timer = setTimeout(() => resolve('still stopping after 10 s'), 10_000))),
  ]);
  clearTimeout(timer);
  t.is(stopped, 'stopped');
  t.true((await handed).unfinished > 0);
});

/** The ids of `nodes` closest to `target` first. */
function byCloseness(nodes: DhtNode[], target: Uint8Array): DhtNode[] {
  const d = (n: DhtNode): Buffer => Buffer.from(n.nodeId.map((b, i) => b ^ target[i]!));
  return [...nodes].sort((a, b) => Buffer.compare(d(a), d(b)));
}

test('a put stores the item on the dhtStoreReplicas closest nodes, more than the bucket size k', async (t) => {
  const nodes = await network(t, 24, { dhtStoreReplicas: 12 });
  const writer = nodes[nodes.length - 1]!;
  const v = utf8('twelve copies');
  const r = await writer.putImmutable(v);
  t.is(r.stored, 12, 'twelve nodes took the put, not dhtK (8)');
  const holders = nodes.filter((n) => n !== writer && n.holdsItem(r.target));
  t.is(holders.length, 12);
  // The copies beyond k sit just past the k closest: the twelve closest others hold it.
  const closest = byCloseness(nodes.filter((n) => n !== writer), r.target).slice(0, 12);
  t.deepEqual(new Set(holders), new Set(closest));
});

test('a leave hands an item on until dhtStoreReplicas live nodes hold it, and asks mutable holders with seq (they answer without the value)', async (t) => {
  const others = await network(t, 12);
  const holder = await holderIn(t, others, { dhtStoreReplicas: 10 });
  const kp = generateKeyPair();
  const salt = utf8('replicated');
  const m = signMutable(kp, { salt, seq: 7, v: encodeItemValue(utf8('seven')) });
  const target = mutableTarget(kp.publicKey, salt);
  await putOnOne(holder, target, m.v, { k: m.k, sig: m.sig, seq: m.seq, salt });
  // Two of the others hold it already (same seq): the leave finds them holding and puts to eight more.
  const [a, b] = byCloseness(others, target);
  await putOnOne(a!, target, m.v, { k: m.k, sig: m.sig, seq: m.seq, salt });
  await putOnOne(b!, target, m.v, { k: m.k, sig: m.sig, seq: m.seq, salt });
  const handed = new Promise<{ items: number; handedOn: number; puts: number }>((resolve) => holder.once('items:handed-off', resolve));
  await holder.stop();
  const r = await handed;
  t.is(r.handedOn, 1);
  t.is(r.puts, 8, 'puts only to the nodes that did not hold it');
  t.is(others.filter((n) => n.holdsItem(target)).length, 10);
});
