/**
 * LsdService over real multicast on loopback: each "host" is an address in
 * 127.0.0.0/8 joining the group on it. A test group and port of their own
 * (not 239.192.152.143:6771), so these tests hear neither a real LAN nor
 * each other's runs.
 */
import test from 'ava';
import dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { LsdService, LSD_DHT_INFOHASH, LSD_DHT_RENDEZVOUS, lsdInterfaces, type LsdSettings } from '../src/discovery/lsd.js';
import { LsdPeerSource } from '../src/discovery/lsd-source.js';
import { encodeLsdAnnounce } from '../src/discovery/lsd-codec.js';
import type { PeerAddress } from '../src/discovery/peer-source.js';
import { sha1Hex } from '../src/util/hash.js';
import { fromHex } from '../src/util/bytes.js';

const IH1 = '11'.repeat(20);
const IH2 = '22'.repeat(20);
const FAST: LsdSettings = { lsdAnnounceIntervalMs: 60_000, lsdDhtReplyMinIntervalMs: 300, lsdMaxDatagramsPerSourcePerMinute: 200 };

let nextPort = 40_000 + Math.floor(Math.random() * 20_000);
/** A group and port for one test (tests of this file run at once). */
function channel(): { port: number; group: string } {
  const port = nextPort++;
  return { port, group: `239.255.${(port >> 8) & 255}.${port & 255}` };
}

async function service(t: { teardown(fn: () => unknown): void }, host: string, ch: { port: number; group: string }, settings: LsdSettings = FAST): Promise<LsdService> {
  const s = new LsdService({ host, settings, ...ch, ipv6: false });
  t.teardown(() => s.stop());
  await s.start();
  return s;
}

async function until(what: string, cond: () => boolean, ms = 5_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

test('the DHT rendezvous info-hash is SHA-1 of its documented string', (t) => {
  t.is(LSD_DHT_INFOHASH, sha1Hex(new Uint8Array(Buffer.from(LSD_DHT_RENDEZVOUS))));
  t.regex(LSD_DHT_INFOHASH, /^[0-9a-f]{40}$/);
});

test('a loopback --host uses its own address, IPv4 only', (t) => {
  t.deepEqual(lsdInterfaces('127.0.0.7'), { v4: ['127.0.0.7'], v6: [] });
  t.true(lsdInterfaces('0.0.0.0').v4.length > 0);
});

test('two hosts find each other; our own announces are dropped; peers carry the announced TCP port', async (t) => {
  const ch = channel();
  const a = await service(t, '127.0.0.61', ch);
  const b = await service(t, '127.0.0.62', ch);
  const heardByA: PeerAddress[] = [];
  const heardByB: PeerAddress[] = [];
  a.register(IH1, { port: 7001, announce: true, onPeer: (p) => heardByA.push(p) });
  b.register(IH1, { port: 7002, announce: true, onPeer: (p) => heardByB.push(p) });
  // b registered after a's announce may have gone: a announced first, b's announce reaches a.
  await until('a hears b', () => heardByA.length > 0);
  t.deepEqual(heardByA[0], { host: '127.0.0.62', port: 7002 });
  t.false(heardByA.some((p) => p.port === 7001), 'a never hears itself');
  t.false(heardByB.some((p) => p.port === 7002), 'b never hears itself');
});

test('listen-only registrations hear without announcing; several info-hashes share one datagram', async (t) => {
  const ch = channel();
  const a = await service(t, '127.0.0.63', ch);
  const b = await service(t, '127.0.0.64', ch);
  const heard = new Map<string, PeerAddress[]>();
  for (const ih of [IH1, IH2]) b.register(ih, { port: 7004, announce: false, onPeer: (p) => heard.set(ih, [...(heard.get(ih) ?? []), p]) });
  const announced: { infoHashes: number; datagrams: number }[] = [];
  a.on('lsd:announced', (x) => announced.push(x));
  let bAnnounced = 0;
  b.on('lsd:announced', () => bAnnounced++);
  a.register(IH1, { port: 7003, announce: true, onPeer: () => undefined });
  a.register(IH2, { port: 7003, announce: true, onPeer: () => undefined });
  await until('b hears both', () => heard.size === 2);
  t.deepEqual(announced, [{ infoHashes: 2, datagrams: 1 }]);
  t.deepEqual(heard.get(IH1), [{ host: '127.0.0.63', port: 7003 }]);
  await sleep(300);
  t.is(bAnnounced, 0, 'a listen-only registration announces nothing');
});

test('a torrent is announced at most once an interval, even when re-registered', async (t) => {
  const ch = channel();
  const a = await service(t, '127.0.0.65', ch, { ...FAST, lsdAnnounceIntervalMs: 1_500 });
  const b = await service(t, '127.0.0.66', ch);
  let heard = 0;
  b.register(IH1, { port: 7006, announce: false, onPeer: () => heard++ });
  const off = a.register(IH1, { port: 7005, announce: true, onPeer: () => undefined });
  await until('first announce', () => heard === 1);
  off();
  a.register(IH1, { port: 7005, announce: true, onPeer: () => undefined });
  // b's announces of a torrent a has do not make a answer early either (only the DHT rendezvous is answered).
  b.register(IH2, { port: 7006, announce: true, onPeer: () => undefined });
  await sleep(900);
  t.is(heard, 1);
  await until('the next round', () => heard === 2, 3_000);
});

test('the DHT rendezvous is answered: a late arrival hears the nodes already there within a second, not a minute', async (t) => {
  const ch = channel();
  const a = await service(t, '127.0.0.67', ch);
  const b = await service(t, '127.0.0.68', ch);
  const heardByA: PeerAddress[] = [];
  const firstGone = new Promise((resolve) => a.once('lsd:announced', resolve));
  a.register(LSD_DHT_INFOHASH, { port: 7007, announce: true, answer: true, onPeer: (p) => heardByA.push(p) });
  await firstGone; // a's first announce is gone before the newcomer arrives
  const c = await service(t, '127.0.0.69', ch);
  const heardByC: PeerAddress[] = [];
  const started = Date.now();
  c.register(LSD_DHT_INFOHASH, { port: 7009, announce: true, answer: true, onPeer: (p) => heardByC.push(p) });
  await until('c hears a', () => heardByC.some((p) => p.host === '127.0.0.67'), 3_000);
  t.true(Date.now() - started < 2_000);
  t.deepEqual(heardByC.find((p) => p.host === '127.0.0.67'), { host: '127.0.0.67', port: 7007 });
  await until('a hears c', () => heardByA.some((p) => p.port === 7009), 1_000);
  // No echo storm: after the exchange settles, nobody keeps answering.
  let more = 0;
  a.on('lsd:announced', () => more++);
  c.on('lsd:announced', () => more++);
  await sleep(1_200);
  const settled = more;
  await sleep(1_200);
  t.is(more, settled);
  t.truthy(b);
});

test('nodes that know each other keep to about one rendezvous announce an interval each (no answering storm)', async (t) => {
  const ch = channel();
  const settings = { ...FAST, lsdAnnounceIntervalMs: 1_000, lsdDhtReplyMinIntervalMs: 100 };
  const a = await service(t, '127.0.0.74', ch, settings);
  const b = await service(t, '127.0.0.75', ch, settings);
  let heardByA = 0;
  a.register(LSD_DHT_INFOHASH, { port: 7014, announce: true, answer: true, onPeer: () => heardByA++ });
  b.register(LSD_DHT_INFOHASH, { port: 7015, announce: true, answer: true, onPeer: () => undefined });
  await until('a hears b', () => heardByA > 0);
  await sleep(1_500); // the first answers settle
  let rounds = 0;
  a.on('lsd:announced', () => rounds++);
  b.on('lsd:announced', () => rounds++);
  await sleep(4_000);
  t.true(rounds <= 10, `${rounds} announces from two nodes in 4 intervals`);
  t.true(rounds >= 6, `${rounds} announces from two nodes in 4 intervals`);
});

test('hostile datagrams are refused with a reason and flooding senders are cut off; nothing throws', async (t) => {
  const ch = channel();
  const a = await service(t, '127.0.0.70', ch, { ...FAST, lsdMaxDatagramsPerSourcePerMinute: 5 });
  let peers = 0;
  a.register(IH1, { port: 7010, announce: false, onPeer: () => peers++ });
  const refused: string[] = [];
  a.on('lsd:refused', (r) => refused.push(r.reason));
  const evil = dgram.createSocket('udp4');
  t.teardown(() => evil.close());
  await new Promise<void>((r) => evil.bind(0, '127.0.0.71', () => r()));
  const send = (b: Uint8Array): Promise<void> => new Promise((r) => evil.send(b, ch.port, '127.0.0.70', () => r()));
  await send(Buffer.from('GET / HTTP/1.1\r\n\r\n'));
  await send(Buffer.from(`BT-SEARCH * HTTP/1.1\r\nPort: 99999\r\nInfohash: ${IH1}\r\n\r\n`));
  await send(new Uint8Array(4000));
  await send(encodeLsdAnnounce({ host: 'x:1', port: 7011, infoHashes: [IH1] }));
  await until('the good one', () => peers === 1);
  for (let i = 0; i < 20; i++) await send(encodeLsdAnnounce({ host: 'x:1', port: 7011, infoHashes: [IH1] }));
  await until('rate limit', () => refused.includes('rate-limited'));
  t.deepEqual(refused.slice(0, 3), ['not-bt-search', 'bad-port', 'too-large']);
  t.is(peers, 2, 'five datagrams a minute read, the rest dropped');
});

test('LsdPeerSource: peers labelled lsd; start and stop idempotent; the service stops cleanly twice', async (t) => {
  const ch = channel();
  const a = await service(t, '127.0.0.72', ch);
  const b = await service(t, '127.0.0.73', ch);
  const got: [PeerAddress[], string][] = [];
  const ctx = (port: number) => ({ infoHash: fromHex(IH2), peerId: new Uint8Array(20), port, stats: () => ({ uploaded: 0, downloaded: 0, left: 0 }), onPeers: (p: PeerAddress[], s: string) => got.push([p, s]) });
  const sa = new LsdPeerSource(a, ctx(7012));
  const sb = new LsdPeerSource(b, { ...ctx(7013), onPeers: () => undefined });
  sa.start();
  sa.start();
  sb.start();
  await until('a hears b', () => got.length > 0);
  t.deepEqual(got[0], [[{ host: '127.0.0.73', port: 7013 }], 'lsd']);
  await sa.stop();
  await sa.stop();
  t.is(a.registered, 0);
  await a.stop();
  await a.stop();
  t.false(a.running);
});
