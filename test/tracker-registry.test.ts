import test from 'ava';
import { TrackerError } from '../src/errors.js';
import { SwarmRegistry, type RegistryAnnounce } from '../src/tracker/swarm-registry.js';
import { toHex } from '../src/util/bytes.js';

function fakeClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

const IH = new Uint8Array(20).fill(1);
const IH2 = new Uint8Array(20).fill(2);
const id = (n: number): Uint8Array => {
  const b = new Uint8Array(20);
  new DataView(b.buffer).setUint32(0, n);
  return b;
};
const ann = (n: number, extra: Partial<RegistryAnnounce> = {}): RegistryAnnounce => ({
  infoHash: IH,
  peerId: id(n),
  host: `127.0.0.${(n % 250) + 2}`,
  port: 6881,
  left: 100,
  ...extra,
});

test('peers expire after two intervals without an announce, and stay while they re-announce', (t) => {
  const c = fakeClock();
  const r = new SwarmRegistry({ intervalS: 60, clock: c.now });
  r.announce(ann(1, { event: 'started' }));
  r.announce(ann(2, { event: 'started' }));
  c.advance(100_000);
  r.announce(ann(2)); // 2 re-announces, 1 does not
  c.advance(30_000); // peer 1 is now 130 s old (> 120 s), peer 2 is 30 s old
  t.deepEqual(r.scrape(IH), { complete: 0, incomplete: 1, downloaded: 0 });
  t.deepEqual(r.peersOf(IH).map((p) => p.port), [6881]);
  t.is(r.peersOf(IH)[0]!.host, ann(2).host);
  c.advance(121_000);
  r.sweep();
  t.deepEqual(r.stats(), { torrents: 0, peers: 0, seeds: 0 });
});

test('complete/incomplete/downloaded counts follow started, completed and stopped', (t) => {
  const c = fakeClock();
  const r = new SwarmRegistry({ intervalS: 60, clock: c.now });
  r.announce(ann(1, { event: 'started' }));
  r.announce(ann(2, { event: 'started' }));
  r.announce(ann(3, { event: 'started', left: 0 }));
  t.deepEqual(r.scrape(IH), { complete: 1, incomplete: 2, downloaded: 0 });
  const reply = r.announce(ann(1, { event: 'completed', left: 0 }));
  t.is(reply.complete, 2);
  t.is(reply.incomplete, 1);
  r.announce(ann(1, { event: 'completed', left: 0 })); // a repeated completed is counted once
  t.deepEqual(r.scrape(IH), { complete: 2, incomplete: 1, downloaded: 1 });
  r.announce(ann(2, { event: 'stopped' }));
  t.deepEqual(r.scrape(IH), { complete: 2, incomplete: 0, downloaded: 1 });
  t.deepEqual(r.scrape(IH2), { complete: 0, incomplete: 0, downloaded: 0 });
});

test('the asker never gets itself back, and gets every other peer in a small swarm', (t) => {
  const r = new SwarmRegistry({ intervalS: 60, clock: fakeClock().now });
  for (let i = 1; i <= 10; i++) r.announce(ann(i, { event: 'started' }));
  for (let i = 1; i <= 10; i++) {
    for (let round = 0; round < 5; round++) {
      const peers = r.announce(ann(i, { numwant: 50 })).peers;
      t.is(peers.length, 9);
      t.false(peers.some((p) => p.host === ann(i).host));
    }
  }
});

test('never the asker in a large swarm either; numwant is capped and honoured', (t) => {
  const r = new SwarmRegistry({ intervalS: 60, clock: fakeClock().now, maxNumwant: 30 });
  for (let i = 1; i <= 500; i++) r.announce({ ...ann(i), host: '127.0.0.1', port: 1000 + i });
  for (let i = 1; i <= 500; i += 7) {
    const peers = r.announce({ ...ann(i), host: '127.0.0.1', port: 1000 + i, numwant: 1_000_000 }).peers;
    t.is(peers.length, 30);
    t.false(peers.some((p) => p.port === 1000 + i));
    t.is(new Set(peers.map((p) => p.port)).size, peers.length, 'no duplicates');
  }
  t.is(r.announce({ ...ann(1), host: '127.0.0.1', port: 1001, numwant: 5 }).peers.length, 5);
  t.is(r.announce({ ...ann(1), host: '127.0.0.1', port: 1001, numwant: 0 }).peers.length, 0);
  t.is(r.announce({ ...ann(1), host: '127.0.0.1', port: 1001 }).peers.length, 30, 'default 50 capped at 30');
});

test('selection is random: different askers see different subsets', (t) => {
  const r = new SwarmRegistry({ intervalS: 60, clock: fakeClock().now });
  for (let i = 1; i <= 200; i++) r.announce({ ...ann(i), host: '127.0.0.1', port: 2000 + i });
  const seen = new Set<number>();
  for (let k = 0; k < 20; k++) for (const p of r.announce({ ...ann(1), host: '127.0.0.1', port: 2001, numwant: 10 }).peers) seen.add(p.port);
  t.true(seen.size > 50, `only ${seen.size} distinct peers over 20 announces`);
});

test('a seed asking gets leechers only', (t) => {
  const r = new SwarmRegistry({ intervalS: 60, clock: fakeClock().now });
  r.announce(ann(1, { left: 0 }));
  r.announce(ann(2, { left: 0 }));
  r.announce(ann(3, { left: 5 }));
  const peers = r.announce(ann(1, { left: 0 })).peers;
  t.deepEqual(peers.map((p) => p.host), [ann(3).host]);
});

test('a peer id from another address cannot take over an entry', (t) => {
  const r = new SwarmRegistry({ intervalS: 60, clock: fakeClock().now });
  r.announce(ann(1, { host: '127.0.0.5', port: 5000 }));
  r.announce(ann(1, { host: '127.0.0.66', port: 6666 }));
  const hosts = r.peersOf(IH).map((p) => `${p.host}:${p.port}`).sort();
  t.deepEqual(hosts, ['127.0.0.5:5000', '127.0.0.66:6666']);
  r.announce(ann(1, { host: '127.0.0.66', port: 6666, event: 'stopped' }));
  t.deepEqual(r.peersOf(IH).map((p) => p.host), ['127.0.0.5']);
});

test('limits: torrents tracked and peers per torrent', (t) => {
  const r = new SwarmRegistry({ intervalS: 60, clock: fakeClock().now, maxTorrents: 2, maxPeersPerTorrent: 3 });
  // Two swarms where two ordinary peers meet: neither is evicted, a third swarm is refused.
  r.announce(ann(1));
  r.announce(ann(2));
  r.announce(ann(1, { infoHash: IH2 }));
  r.announce(ann(2, { infoHash: IH2 }));
  t.throws(() => r.announce(ann(1, { infoHash: new Uint8Array(20).fill(3) })), { instanceOf: TrackerError, message: /too many torrents/ });
  t.is(r.stats().torrents, 2);
  r.announce(ann(3));
  const over = r.announce(ann(4));
  t.regex(over.warning ?? '', /not recorded/);
  t.is(over.peers.length, 3, 'still answered with peers');
  t.is(r.peersOf(IH).length, 3);
});

test('full: a new swarm evicts the least recently announced lonely swarm; a swarm idle past the expiry goes first', (t) => {
  const c = fakeClock();
  const evicted: string[] = [];
  const r = new SwarmRegistry({ intervalS: 60, clock: c.now, maxTorrents: 3, onEvict: (ih) => evicted.push(ih) });
  const ih = (n: number): Uint8Array => new Uint8Array(20).fill(n);
  r.announce(ann(1, { infoHash: ih(10) })); // lonely, oldest
  r.announce(ann(2, { infoHash: ih(11) }));
  r.announce(ann(3, { infoHash: ih(11) })); // two ordinary peers: kept
  r.announce(ann(4, { infoHash: ih(12) })); // lonely
  c.advance(1000);
  r.announce(ann(1, { infoHash: ih(10) })); // 10 re-announced: 12 is now the least recent lonely swarm
  r.announce(ann(5, { infoHash: ih(13) }));
  t.deepEqual(evicted, [toHex(ih(12))]);
  t.is(r.stats().torrents, 3);
  t.is(r.peersOf(ih(11)).length, 2);
  // Idle past the expiry: dropped whole before anything is evicted.
  c.advance(121_000);
  r.announce(ann(2, { infoHash: ih(11) }));
  r.announce(ann(3, { infoHash: ih(11) }));
  r.announce(ann(6, { infoHash: ih(14) }));
  t.deepEqual(evicted, [toHex(ih(12))], 'no eviction: idle swarms made room');
  t.deepEqual(r.peersOf(ih(10)), []);
  t.is(r.peersOf(ih(11)).length, 2);
});

test('one address is recorded in at most maxTorrentsPerHost swarms; beyond, it is answered and not recorded', (t) => {
  const r = new SwarmRegistry({ intervalS: 60, clock: fakeClock().now, maxTorrentsPerHost: 2 });
  const ih = (n: number): Uint8Array => new Uint8Array(20).fill(n);
  r.announce(ann(1, { infoHash: ih(10) }));
  r.announce(ann(1, { infoHash: ih(11) }));
  const over = r.announce(ann(1, { infoHash: ih(12) }));
  t.regex(over.warning ?? '', /too many torrents from your address/);
  t.is(r.stats().torrents, 2);
  t.is(r.torrentsOf(ann(1).host), 2);
  // Another peer id from the same address joins a swarm it is already in; re-announces still work.
  r.announce(ann(251, { infoHash: ih(10) }));
  t.is(r.peersOf(ih(10)).length, 2);
  t.is(r.announce(ann(1, { infoHash: ih(11) })).warning, undefined);
  // A stopped announce frees a slot.
  r.announce(ann(1, { infoHash: ih(11), event: 'stopped' }));
  t.is(r.announce(ann(1, { infoHash: ih(12) })).warning, undefined);
  t.is(r.torrentsOf(ann(1).host), 2);
});

test('allow-list: unknown info-hashes are refused and not recorded', (t) => {
  const r = new SwarmRegistry({ intervalS: 60, clock: fakeClock().now, allowList: new Set([toHex(IH).toUpperCase()]) });
  r.announce(ann(1));
  t.throws(() => r.announce(ann(1, { infoHash: IH2 })), { instanceOf: TrackerError, message: /not served/ });
  t.deepEqual(r.stats(), { torrents: 1, peers: 1, seeds: 0 });
});

test('invalid announces change nothing', (t) => {
  const r = new SwarmRegistry({ intervalS: 60, clock: fakeClock().now });
  r.announce(ann(1));
  t.throws(() => r.announce(ann(2, { port: 0 })), { instanceOf: TrackerError });
  t.throws(() => r.announce(ann(2, { port: 70000 })), { instanceOf: TrackerError });
  t.throws(() => r.announce(ann(2, { infoHash: new Uint8Array(19) })), { instanceOf: TrackerError });
  t.throws(() => r.announce(ann(2, { left: -1 })), { instanceOf: TrackerError });
  t.deepEqual(r.stats(), { torrents: 1, peers: 1, seeds: 0 });
});

test('compactOnly (UDP): the same choice as peers, in BEP 23 bytes, kept beside the entries through removals, seeds and port changes', (t) => {
  const compactOf = (hosts: string[]): string[] => hosts.sort();
  const asList = (bytes: Uint8Array): string[] => {
    const out: string[] = [];
    for (let o = 0; o < bytes.length; o += 6) out.push(`${bytes[o]}.${bytes[o + 1]}.${bytes[o + 2]}.${bytes[o + 3]}:${(bytes[o + 4]! << 8) | bytes[o + 5]!}`);
    return out.sort();
  };
  // Same random draws for both registries: the same peers must come out.
  const seq = (): ((n: number) => number) => {
    let x = 7;
    return (n) => (x = (x * 1103515245 + 12345) % 2 ** 31) % n;
  };
  const clock = fakeClock();
  const a = new SwarmRegistry({ intervalS: 60, clock: clock.now, random: seq() });
  const b = new SwarmRegistry({ intervalS: 60, clock: clock.now, random: seq() });
  const both = (x: RegistryAnnounce): { peers: string[]; compact: string[] } => {
    const p = a.announce(x);
    const c = b.announce({ ...x, compactOnly: true });
    t.deepEqual(c.peers, []);
    if (x.event !== 'stopped') t.truthy(c.compact, 'a stopped peer gets no peers at all');
    t.deepEqual([c.complete, c.incomplete], [p.complete, p.incomplete]);
    return { peers: compactOf(p.peers.map((e) => `${e.host}:${e.port}`)), compact: asList(c.compact ?? new Uint8Array(0)) };
  };
  for (let i = 0; i < 40; i++) both(ann(i, { left: i % 4 === 0 ? 0 : 100 }));
  both(ann(3, { event: 'stopped' }));
  both(ann(5, { port: 7000 }));
  both(ann(6, { left: 0 }));
  for (const [i, numwant] of [[1, 10], [2, 200], [4, 5], [5, 50], [8, 30]] as const) {
    const r = both(ann(i, { numwant, left: i === 4 ? 0 : 100, port: i === 5 ? 7000 : 6881 }));
    t.deepEqual(r.compact, r.peers);
    t.false(r.compact.includes(`${ann(i).host}:${i === 5 ? 7000 : 6881}`), 'never the asker');
  }
  // An IPv6 entry: the compact path steps aside and `peers` is used.
  b.announce({ ...ann(100), host: '::1' });
  const c = b.announce({ ...ann(1), compactOnly: true });
  t.is(c.compact, undefined);
  t.true(c.peers.length > 0);
});
