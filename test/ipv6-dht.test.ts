/**
 * BEP 32 in-process: `want` in the KRPC codec; an IPv4 node with an IPv6
 * sibling answers `want: ["n4","n6"]` with the sibling's nodes in `nodes6`
 * (and without `want`, its own family only); IPv6 nodes on ::1 find each
 * other and get_peers carries 18-byte values.
 */
import test from 'ava';
import dgram from 'node:dgram';
import net from 'node:net';
import { DhtNode } from '../src/dht/node.js';
import { decodeKrpc, encodeKrpc, type KrpcResponse } from '../src/dht/krpc.js';
import { silentLogger } from '../src/log.js';
import { decode, isDict } from '../src/bencode/index.js';
import { randomBytes } from '../src/util/hash.js';
import { pollUntil } from './helpers/poll.js';

const settings = { dhtQueryTimeoutMs: 3000 };

const hasV6 = await new Promise<boolean>((resolve) => {
  const s = net.createServer();
  s.once('error', () => resolve(false));
  s.listen(0, '::1', () => s.close(() => resolve(true)));
});
const v6test = hasV6 ? test : test.skip;

test('KRPC want: encoded on find_node/get_peers/get, decoded leniently (n4/n6 kept, others and non-lists ignored)', (t) => {
  const id = new Uint8Array(20).fill(1);
  const bytes = encodeKrpc({ y: 'q', t: Buffer.from('aa'), query: { q: 'find_node', id, target: id, want: ['n4', 'n6'] } });
  const raw = decode(bytes);
  t.true(isDict(raw) && isDict(raw.a) && Array.isArray(raw.a.want));
  const back = decodeKrpc(bytes);
  t.deepEqual(back.y === 'q' ? back.query : undefined, { q: 'find_node', id, target: id, want: ['n4', 'n6'] });
  const odd = (want: unknown): unknown => {
    const m = decodeKrpc(Buffer.from(`d1:ad2:id20:${'x'.repeat(20)}9:info_hash20:${'y'.repeat(20)}4:want${want}e1:q9:get_peers1:t2:aa1:y1:qe`, 'latin1'));
    return m.y === 'q' && m.query.q === 'get_peers' ? m.query.want : 'not a get_peers';
  };
  t.deepEqual(odd('l2:n62:xx2:n6e'), ['n6']);
  t.is(odd('l2:xxe'), undefined, 'a want naming no known family is as if absent');
  t.is(odd('i1e'), undefined);
  const noWant = decodeKrpc(encodeKrpc({ y: 'q', t: Buffer.from('aa'), query: { q: 'get', id, target: id } }));
  t.false(noWant.y === 'q' && 'want' in noWant.query);
});

/** One raw find_node to a UDP address; the decoded response. */
async function rawFindNode(to: { host: string; port: number }, want?: ('n4' | 'n6')[]): Promise<{ r: KrpcResponse; raw: Record<string, unknown> }> {
  const sock = dgram.createSocket(to.host.includes(':') ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve) => sock.bind(0, to.host, () => resolve()));
    const id = randomBytes(20);
    const reply = new Promise<Buffer>((resolve) => sock.once('message', (m) => resolve(m)));
    sock.send(encodeKrpc({ y: 'q', t: Buffer.from('zz'), query: { q: 'find_node', id, target: randomBytes(20), ...(want ? { want } : {}) } }), to.port, to.host);
    const buf = await Promise.race([reply, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('no answer')), 5000))]);
    const m = decodeKrpc(buf);
    if (m.y !== 'r') throw new Error(`not a response: ${m.y}`);
    const raw = decode(buf);
    return { r: m.response, raw: (isDict(raw) && isDict(raw.r) ? raw.r : {}) as Record<string, unknown> };
  } finally {
    sock.close();
  }
}

v6test('an IPv4 node with an IPv6 sibling: want n4+n6 brings nodes6 from the sibling; no want, its own family only', async (t) => {
  let a6: DhtNode | undefined;
  const a4 = new DhtNode({ host: '127.0.0.1', port: 0, logger: silentLogger, settings, sibling: () => a6 });
  a6 = new DhtNode({ host: '::1', port: 0, logger: silentLogger, settings, sibling: () => a4 });
  const b6 = new DhtNode({ host: '::1', port: 0, logger: silentLogger, settings, bootstrap: [] });
  const b4 = new DhtNode({ host: '127.0.0.1', port: 0, logger: silentLogger, settings });
  const all = [a4, a6, b6, b4];
  t.teardown(() => Promise.all(all.map((n) => n.stop())).then(() => undefined));
  await Promise.all(all.map((n) => n.start()));
  t.is(a6.address.host, '::1');
  await a6.ping(b6.address);
  await a4.ping(b4.address);
  await pollUntil(() => a6!.stats().nodes >= 1 && a4.stats().nodes >= 1, 'both tables to hold a node', 5000);

  const both = await rawFindNode(a4.address, ['n4', 'n6']);
  // (The raw asker itself is in a4's table by now too: it asked as a full node.)
  const got = both.r.nodes?.map((n) => `${n.host}:${n.port}`) ?? [];
  t.true(got.includes(`127.0.0.1:${b4.address.port}`) && got.includes(`::1:${b6.address.port}`), got.join(', '));
  t.truthy(both.raw.nodes6, 'nodes6 key present');
  const plain = await rawFindNode(a4.address);
  t.true((plain.r.nodes ?? []).length > 0 && plain.r.nodes!.every((n) => n.host === '127.0.0.1'), 'no want: IPv4 nodes only');
  t.is(plain.raw.nodes6, undefined);
  const v6only = await rawFindNode(a6.address, ['n6']);
  t.true((v6only.r.nodes ?? []).length > 0 && v6only.r.nodes!.every((n) => n.host === '::1'));
});

v6test('IPv6 nodes on ::1 find each other; get_peers returns the announced IPv6 peer (18-byte values)', async (t) => {
  const first = new DhtNode({ host: '::1', port: 0, logger: silentLogger, settings });
  await first.start();
  const others = Array.from({ length: 3 }, () => new DhtNode({ host: '::1', port: 0, bootstrap: [first.address], logger: silentLogger, settings }));
  t.teardown(() => Promise.all([first, ...others].map((n) => n.stop())).then(() => undefined));
  await Promise.all(others.map((n) => n.start()));
  await pollUntil(() => others.every((n) => n.stats().nodes >= 1), 'every node to know one', 10_000);
  const infoHash = randomBytes(20);
  await others[0]!.announce(infoHash, 6881);
  const found = await others[2]!.getPeers(infoHash);
  t.true(found.some((p) => p.host === '::1' && p.port === 6881), JSON.stringify(found));
});
