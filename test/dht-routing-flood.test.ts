/**
 * The routing table and lookups against one host that offers many node ids
 * (issue 11, part 5): per-address and per-/24 limits, loopback and LAN
 * policy, BEP 42 node ids (the BEP's test vectors), preference for the nodes
 * we have, and lookups whose closest set one address cannot fill.
 */
import test from 'ava';
import { RoutingTable, type RefusalReason } from '../src/dht/routing-table.js';
import { commonPrefixBits, compareDistance } from '../src/dht/distance.js';
import { iterativeLookup, type AddressGroup } from '../src/dht/lookup.js';
import { addressClass, bep42Matches, bep42NodeId, crc32c, nodeIdVerified, subnetOf } from '../src/dht/bep42.js';
import type { KrpcResponse, NodeInfo } from '../src/dht/krpc.js';
import { randomBytes } from '../src/util/hash.js';
import { toHex } from '../src/util/bytes.js';

const local = new Uint8Array(20); // all zero: bucket i holds ids whose first set bit is bit i

/** An id whose first set bit is `bits` (so it lands in bucket `bits` of a table around the zero id). */
function idWithPrefix(bits: number, base: Uint8Array = randomBytes(20)): Uint8Array {
  const id = Uint8Array.from(base);
  for (let b = 0; b < bits; b++) id[b >> 3]! &= ~(0x80 >> (b & 7));
  id[bits >> 3]! |= 0x80 >> (bits & 7);
  return id;
}

const FLOOD_HOST = '203.0.113.66';
/** 40 honest public hosts, each in its own /24. */
const honestHost = (i: number): string => `198.51.${i}.7`;

function tableWith(extra: Partial<ConstructorParameters<typeof RoutingTable>[0]> = {}) {
  const refused: { host: string; reason: RefusalReason }[] = [];
  const table = new RoutingTable({ localId: local, k: 8, onRefused: (n, reason) => refused.push({ host: n.host, reason }), ...extra });
  return { table, refused };
}

// --- BEP 42 ------------------------------------------------------------------

/** BEP 42's test vectors: IP, rand, node id. */
const BEP42_VECTORS: [string, number, string][] = [
  ['124.31.75.21', 1, '5fbfbff10c5d6a4ec8a88e4c6ab4c28b95eee401'],
  ['21.75.31.124', 86, '5a3ce9c14e7a08645677bbd1cfe7d8f956d53256'],
  ['65.23.51.170', 22, 'a5d43220bc8f112a3d426c84764f8c2a1150e616'],
  ['84.124.73.14', 65, '1b0321dd1bb1fe518101ceef99462b947a01ff41'],
  ['43.213.53.83', 90, 'e56f6cbf5b7c4be0237986d5243b87aa6d51305a'],
];

test('crc32c is the Castagnoli CRC (check value of "123456789")', (t) => {
  t.is(crc32c(new TextEncoder().encode('123456789')), 0xe3069283);
});

test('BEP 42 test vectors: each id matches its IP, is rebuilt from IP and rand, and matches no other vector IP', (t) => {
  for (const [ip, rand, hex] of BEP42_VECTORS) {
    const id = Buffer.from(hex, 'hex');
    t.true(bep42Matches(id, ip), ip);
    t.is(toHex(bep42NodeId(ip, rand, id)), hex, `${ip} rebuilt`);
    for (const [other] of BEP42_VECTORS) if (other !== ip) t.false(bep42Matches(id, other), `${hex} vs ${other}`);
  }
  // Only the first 21 bits count: the low 3 bits of byte 2 are free.
  const id = Buffer.from(BEP42_VECTORS[0]![2], 'hex');
  id[2]! ^= 0x07;
  t.true(bep42Matches(id, '124.31.75.21'));
  id[2]! ^= 0x08;
  t.false(bep42Matches(id, '124.31.75.21'));
  // A generated id for an address matches it.
  t.true(bep42Matches(bep42NodeId('203.0.113.9'), '203.0.113.9'));
});

test('address classes: loopback, BEP 42 exempt local ranges, public; /24 of an address', (t) => {
  t.is(addressClass('127.0.0.66'), 'loopback');
  for (const h of ['10.77.0.3', '172.16.0.1', '172.31.255.1', '192.168.1.20', '169.254.3.4']) t.is(addressClass(h), 'local', h);
  for (const h of ['172.32.0.1', '8.8.8.8', '203.0.113.66', '11.0.0.1']) t.is(addressClass(h), 'public', h);
  t.is(subnetOf('203.0.113.66'), '203.0.113.0/24');
  t.true(nodeIdVerified(randomBytes(20), '192.168.1.20'), 'exempt addresses need no BEP 42 id');
  t.false(nodeIdVerified(Buffer.from(BEP42_VECTORS[0]![2], 'hex'), '8.8.8.8'));
});

// --- routing table -------------------------------------------------------------

test('1,280 ids from one IP (many ports, answering) take one place; 40 honest nodes all get in', (t) => {
  const { table, refused } = tableWith();
  // The flood comes first and aims at every bucket: 8 ids sharing exactly i bits with us, for i = 0..159.
  for (let i = 0; i < 1280; i++) table.seen({ id: idWithPrefix(Math.floor(i / 8)), host: FLOOD_HOST, port: 20_000 + (i % 32) }, i % 2 ? 'response' : 'query');
  t.is(table.nodesAt(FLOOD_HOST), 1);
  t.is(table.size, 1);
  // (An answer from the port of its one entry with a new id counts as a restart there: that entry churns, nothing more.)
  t.true(refused.length >= 1200, `${refused.length} refused`);
  t.true(refused.every((r) => r.reason === 'address'));
  // Honest nodes, 5 per bucket for buckets 0-7 (room for all of them next to the flood's one node).
  const honest = Array.from({ length: 40 }, (_, i) => ({ id: idWithPrefix(Math.floor(i / 5)), host: honestHost(i), port: 6881 }));
  for (const h of honest) table.seen(h, 'query');
  for (const h of honest) t.truthy(table.get(h.id), h.host);
  // The flood goes on: nothing changes.
  for (let i = 0; i < 500; i++) table.seen({ id: idWithPrefix(i % 10), host: FLOOD_HOST, port: 20_000 + (i % 32) }, 'response');
  t.is(table.nodesAt(FLOOD_HOST), 1);
  t.is(table.all().filter((c) => c.host !== FLOOD_HOST).length, 40);
});

test('the same flood on the old rules (no limits) fills the table: what the limits prevent', (t) => {
  const { table } = tableWith({ maxNodesPerAddress: 0, maxNodesPerSubnet: 0 });
  for (let i = 0; i < 1280; i++) table.seen({ id: idWithPrefix(Math.floor(i / 8)), host: FLOOD_HOST, port: 20_000 + i }, 'response');
  const honest = Array.from({ length: 40 }, (_, i) => ({ id: idWithPrefix(Math.floor(i / 5)), host: honestHost(i), port: 6881 }));
  for (const h of honest) table.seen(h, 'query');
  t.is(honest.filter((h) => table.get(h.id)).length, 0);
});

test('public /24: one node per bucket; other buckets may hold another of the same /24', (t) => {
  const { table, refused } = tableWith();
  // Nine nodes sharing 1-9 bits with us make the table split, so buckets 0 and 1 are apart.
  for (let p = 1; p <= 9; p++) table.seen({ id: idWithPrefix(p), host: `1.1.${p}.1`, port: 1 }, 'response');
  t.true(table.bucketCount > 2);
  t.truthy(table.seen({ id: idWithPrefix(0), host: '203.0.113.5', port: 1 }, 'response'));
  t.is(table.seen({ id: idWithPrefix(0), host: '203.0.113.6', port: 1 }, 'response'), undefined);
  t.deepEqual(refused.at(-1), { host: '203.0.113.6', reason: 'subnet' });
  t.truthy(table.seen({ id: idWithPrefix(1), host: '203.0.113.6', port: 1 }, 'response'), 'another bucket');
  t.truthy(table.seen({ id: idWithPrefix(0), host: '203.0.114.6', port: 1 }, 'response'), 'another /24');
});

test('a LAN: no /24 rule for private addresses, but still one node per IP', (t) => {
  const { table, refused } = tableWith();
  const lan = Array.from({ length: 20 }, (_, i) => ({ id: idWithPrefix(Math.floor(i / 4)), host: `192.168.1.${i + 10}`, port: 6881 }));
  for (const n of lan) t.truthy(table.seen(n, 'query'), n.host);
  t.is(table.size, 20);
  t.is(table.seen({ id: idWithPrefix(6), host: '192.168.1.10', port: 6882 }, 'query'), undefined);
  t.deepEqual(refused, [{ host: '192.168.1.10', reason: 'address' }]);
});

test('loopback: no limit by default (tests run many nodes on 127.0.0.1); a setting restores the rule', (t) => {
  const open = tableWith().table;
  for (let i = 0; i < 30; i++) open.seen({ id: idWithPrefix(i % 6), host: '127.0.0.1', port: 7000 + i }, 'response');
  t.true(open.nodesAt('127.0.0.1') > 20);
  const { table, refused } = tableWith({ maxNodesPerLoopbackAddress: 1 });
  for (let i = 0; i < 30; i++) table.seen({ id: idWithPrefix(i % 6), host: '127.0.0.66', port: 7000 + i }, 'response');
  t.is(table.nodesAt('127.0.0.66'), 1);
  t.is(refused.length, 29);
});

test('a node we know keeps its place: same IP on another port is refused, a query with a new id at its address too', (t) => {
  const { table } = tableWith();
  const old = { id: idWithPrefix(0), host: '198.51.100.1', port: 6881 };
  table.seen(old, 'response');
  t.is(table.seen({ id: idWithPrefix(1), host: old.host, port: 6882 }, 'response'), undefined);
  t.is(table.seen({ id: idWithPrefix(1), host: old.host, port: old.port }, 'query'), undefined, 'queries can be spoofed');
  t.truthy(table.get(old.id));
  // An answer from the same host:port with a new id is a restart: the new id replaces the old.
  const restarted = { id: idWithPrefix(2), host: old.host, port: old.port };
  t.truthy(table.seen(restarted, 'response'));
  t.is(table.get(old.id), undefined);
  t.is(table.nodesAt(old.host), 1);
});

test('BEP 42 preference: unverified newcomers never push verified replacements out; promotion picks verified ones', (t) => {
  let now = 1;
  const { table } = tableWith({ k: 2, now: () => now });
  table.seen({ id: idWithPrefix(5), host: '100.0.0.1', port: 1 }, 'response'); // bucket 0 is final
  const mk = (host: string, verified: boolean): NodeInfo => {
    const base = verified ? bep42NodeId(host) : randomBytes(20);
    // Keep the BEP 42 bits; land in bucket 0 by the top bit, which BEP 42 ids fix: retry until it is set.
    return { id: base, host, port: 1 };
  };
  const inBucket0 = (verified: boolean, i: number): NodeInfo => {
    for (let tries = 0; ; tries++) {
      const host = `${20 + i}.${tries % 250}.${(tries >> 8) % 250}.1`;
      const n = mk(host, verified);
      if (commonPrefixBits(n.id, local) === 0) return n;
    }
  };
  const [a, b] = [inBucket0(true, 0), inBucket0(true, 1)];
  table.seen(a, 'response');
  table.seen(b, 'response');
  const verified = [inBucket0(true, 2), inBucket0(true, 3)];
  for (const n of verified) t.is(table.seen(n, 'response'), undefined, 'good nodes are not evicted');
  // The replacement cache (k = 2) is full of verified nodes: unverified newcomers do not push them out.
  for (let i = 0; i < 5; i++) table.seen(inBucket0(false, 10 + i), 'response');
  for (let i = 0; i < 3; i++) table.failed(a.id, a.host, a.port);
  now = 2;
  const promoted = table.all().find((c) => c.host === verified[1]!.host);
  t.truthy(promoted, 'the latest verified replacement took the place');
  t.true(promoted!.verified);
  t.is(table.size, 3);
});

test('BEP 42 enforcement (off by default) refuses public ids that do not match; exempt addresses always pass', (t) => {
  const lax = tableWith().table;
  t.truthy(lax.seen({ id: randomBytes(20), host: '8.8.8.8', port: 1 }, 'response'));
  const { table, refused } = tableWith({ enforceNodeId: true });
  t.is(table.seen({ id: Buffer.from(BEP42_VECTORS[0]![2], 'hex'), host: '8.8.8.8', port: 1 }, 'response'), undefined);
  t.deepEqual(refused, [{ host: '8.8.8.8', reason: 'node-id' }]);
  t.truthy(table.seen({ id: Buffer.from(BEP42_VECTORS[0]![2], 'hex'), host: '124.31.75.21', port: 1 }, 'response'));
  t.truthy(table.seen({ id: randomBytes(20), host: '10.0.0.2', port: 1 }, 'response'));
});

test('restore applies the same limits to a saved table; a live node takes the place of a restored one that never answers', (t) => {
  const { table, refused } = tableWith();
  for (let i = 0; i < 50; i++) table.restore({ id: idWithPrefix(i % 8), host: FLOOD_HOST, port: 1000 + i });
  t.is(table.nodesAt(FLOOD_HOST), 1);
  t.is(refused.length, 0, 'silently');
  const stale = table.all()[0]!;
  // A query from the same IP proves nothing (it can be spoofed); an answer does.
  const live = { id: idWithPrefix(3), host: FLOOD_HOST, port: 6881 };
  t.is(table.seen(live, 'query'), undefined);
  t.truthy(table.seen(live, 'response'));
  t.is(table.get(stale.id), undefined);
  t.is(table.nodesAt(FLOOD_HOST), 1);
  // Now it has answered, nobody else from its address displaces it.
  t.is(table.seen({ id: idWithPrefix(4), host: FLOOD_HOST, port: 6882 }, 'response'), undefined);
  t.truthy(table.get(live.id));
});

test('a bad contact does not hold its address: a newcomer from there may take its place', (t) => {
  const { table } = tableWith();
  const old = { id: idWithPrefix(1), host: '198.51.100.9', port: 6881 };
  table.seen(old, 'response');
  for (let i = 0; i < 3; i++) table.failed(old.id, old.host, old.port);
  const moved = { id: idWithPrefix(2), host: old.host, port: 6999 };
  t.truthy(table.seen(moved, 'query'));
  t.is(table.get(old.id), undefined);
});

// --- lookups -------------------------------------------------------------------

const groups = (host: string): AddressGroup[] => {
  const g: AddressGroup[] = [{ key: host, limit: 1 }];
  if (addressClass(host) === 'public') g.push({ key: subnetOf(host), limit: 1 });
  return g;
};

test('a lookup does not let one address supply its closest set, and a get takes the highest seq among honest answers', async (t) => {
  const target = randomBytes(20);
  // 60 honest nodes, each on its own /24, and one flood host with 200 ids closer to the target than any of them.
  const honest: NodeInfo[] = Array.from({ length: 60 }, (_, i) => ({ id: randomBytes(20), host: `198.51.${i}.7`, port: 6881 }));
  const flood: NodeInfo[] = Array.from({ length: 200 }, (_, i) => {
    const id = Uint8Array.from(target);
    id[19] = i; // nearer than anything random
    id[18]! ^= 1 + (i >> 8);
    return { id, host: FLOOD_HOST, port: 30_000 + i };
  });
  const byAddr = new Map([...honest, ...flood].map((n) => [`${n.host}:${n.port}`, n]));
  const near = (list: NodeInfo[]): NodeInfo[] => [...list].sort((x, y) => compareDistance(x.id, y.id, target)).slice(0, 8);
  const query = async (to: { host: string; port: number }): Promise<KrpcResponse> => {
    const me = byAddr.get(`${to.host}:${to.port}`)!;
    // The flood answers with its own ids and an old seq; honest nodes know everyone honest and the flood.
    if (me.host === FLOOD_HOST) return { id: me.id, nodes: near(flood), seq: 1 };
    return { id: me.id, nodes: [...near(flood).slice(0, 4), ...near(honest)], seq: 5 };
  };
  const seqs: number[] = [];
  const result = await iterativeLookup({
    target, seeds: honest.slice(0, 8), k: 8, alpha: 3, maxQueries: 200,
    self: { id: randomBytes(20), host: '192.0.2.1', port: 1 }, query, addressGroups: groups,
    onResponse: (_n, r) => void seqs.push(r.seq!),
  });
  const hosts = result.closest.map((c) => c.node.host);
  t.is(hosts.filter((h) => h === FLOOD_HOST).length, 1, hosts.join(' '));
  t.is(result.closest.length, 8);
  t.deepEqual(result.closest.filter((c) => c.node.host !== FLOOD_HOST).map((c) => c.node.host), near(honest).slice(0, 7).map((n) => n.host));
  t.is(Math.max(...seqs), 5);
  t.true(seqs.filter((s) => s === 5).length >= 7, 'several honest nodes answered');
  t.true(result.queried < 40, `queried ${result.queried}: the flood's ids are not asked one by one`);

  // Without groups (the old lookup) the flood's ids are the whole closest set.
  const old = await iterativeLookup({ target, seeds: honest.slice(0, 8), k: 8, alpha: 3, maxQueries: 200, self: { id: randomBytes(20), host: '192.0.2.1', port: 1 }, query });
  t.true(old.closest.every((c) => c.node.host === FLOOD_HOST));
});

test('a bogus entry for an honest address does not shut the honest node out of a lookup', async (t) => {
  const target = randomBytes(20);
  const honest: NodeInfo[] = Array.from({ length: 20 }, (_, i) => ({ id: randomBytes(20), host: `198.51.${i}.7`, port: 6881 }));
  const victim = honest.sort((x, y) => compareDistance(x.id, y.id, target))[0]!;
  // A liar claims an id right at the target for the victim's IP on a dead port.
  const bogus: NodeInfo = { id: Uint8Array.from(target), host: victim.host, port: 9 };
  const query = async (to: { host: string; port: number }): Promise<KrpcResponse> => {
    if (to.port === 9) throw new Error('timeout');
    const me = honest.find((n) => n.host === to.host && n.port === to.port)!;
    return { id: me.id, nodes: [bogus, ...honest.slice(0, 8)] };
  };
  const result = await iterativeLookup({ target, seeds: honest.slice(5, 10), k: 8, alpha: 3, maxQueries: 100, self: { id: randomBytes(20), host: '192.0.2.1', port: 1 }, query, addressGroups: groups });
  t.is(result.closest[0]?.node.host, victim.host);
  t.is(result.closest[0]?.node.port, victim.port);
});
