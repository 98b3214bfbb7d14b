import test from 'ava';
import { createServer } from 'node:net';
import { TrackerError } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import type { PeerAddress, PeerSourceContext } from '../src/discovery/peer-source.js';
import { TrackerPeerSource } from '../src/discovery/tracker-source.js';
import { announce, scrape } from '../src/tracker/client.js';
import { TrackerServer } from '../src/tracker/server.js';
import { toHex } from '../src/util/bytes.js';
import { pollUntil } from './helpers/poll.js';

const IH = Uint8Array.from({ length: 20 }, (_, i) => 0xf0 ^ i);
const pid = (n: number): Uint8Array => new Uint8Array(20).fill(n);
const base = { uploaded: 0, downloaded: 0, left: 1000 };

async function withServer(t: { teardown: (fn: () => Promise<void>) => void }, opts: Partial<ConstructorParameters<typeof TrackerServer>[0]> = {}): Promise<TrackerServer> {
  const s = new TrackerServer({ host: '127.0.0.1', port: 0, logger: silentLogger, ...opts });
  t.teardown(() => s.stop());
  await s.start();
  return s;
}

/** A port nothing listens on (TCP and, very likely, UDP). */
async function deadPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

test('HTTP and UDP share one port; announce URLs name it', async (t) => {
  const s = await withServer(t);
  t.true(s.port > 0);
  t.is(s.announceUrl, `http://127.0.0.1:${s.port}/announce`);
  t.is(s.udpAnnounceUrl, `udp://127.0.0.1:${s.port}/announce`);
  await s.start(); // idempotent
  t.is(s.announceUrl, `http://127.0.0.1:${s.port}/announce`);
});

for (const proto of ['http', 'udp'] as const) {
  test(`${proto}: peers learn each other, never themselves; the source address is recorded; scrape counts`, async (t) => {
    const s = await withServer(t);
    const url = proto === 'http' ? s.announceUrl : s.udpAnnounceUrl;
    const r1 = await announce(url, { ...base, infoHash: IH, peerId: pid(1), port: 6881, event: 'started', localAddress: '127.0.0.2' }, { timeoutMs: 5000 });
    t.deepEqual(r1.peers, []);
    t.is(r1.interval, 120);
    const r2 = await announce(url, { ...base, infoHash: IH, peerId: pid(2), port: 6881, event: 'started', localAddress: '127.0.0.3' }, { timeoutMs: 5000 });
    t.deepEqual(r2.peers, [{ host: '127.0.0.2', port: 6881 }]);
    t.is(r2.incomplete, 2);
    const r3 = await announce(url, { ...base, left: 0, infoHash: IH, peerId: pid(1), port: 6881, event: 'completed', localAddress: '127.0.0.2' }, { timeoutMs: 5000 });
    t.deepEqual(r3.peers, [{ host: '127.0.0.3', port: 6881 }]);
    t.deepEqual(s.registry.peersOf(IH).map((p) => p.host).sort(), ['127.0.0.2', '127.0.0.3']);
    const sc = await scrape(url, [IH, pid(9)], { timeoutMs: 5000 });
    t.deepEqual(sc.get(toHex(IH)), { complete: 1, incomplete: 1, downloaded: 1 });
    t.deepEqual(sc.get(toHex(pid(9))), { complete: 0, incomplete: 0, downloaded: 0 });
    await announce(url, { ...base, infoHash: IH, peerId: pid(2), port: 6881, event: 'stopped', localAddress: '127.0.0.3' }, { timeoutMs: 5000 });
    t.deepEqual(s.registry.peersOf(IH).map((p) => p.host), ['127.0.0.2']);
  });
}

test('UDP: a cached connection id is reused; the server reissues after a restart (new secret)', async (t) => {
  const s = await withServer(t);
  const req = { ...base, infoHash: IH, peerId: pid(1), port: 7000, localAddress: '127.0.0.4' };
  await announce(s.udpAnnounceUrl, req, { timeoutMs: 5000 });
  await announce(s.udpAnnounceUrl, req, { timeoutMs: 5000 });
  // A fresh server on the same port has other secrets: the cached id is refused, the client reconnects.
  const port = s.port;
  await s.stop();
  const s2 = new TrackerServer({ host: '127.0.0.1', port, logger: silentLogger });
  t.teardown(() => s2.stop());
  await s2.start();
  const r = await announce(s2.udpAnnounceUrl, req, { timeoutMs: 5000 });
  t.is(r.interval, 120);
  t.is(s2.registry.stats().peers, 1);
});

test('client: refusals become TrackerErrors; timeouts are bounded; caller abort wins', async (t) => {
  const s = await withServer(t, { allowList: new Set(['00'.repeat(20)]) });
  await t.throwsAsync(announce(s.announceUrl, { ...base, infoHash: IH, peerId: pid(1), port: 1 }, { timeoutMs: 5000 }), { instanceOf: TrackerError, message: /not served/ });
  await t.throwsAsync(announce(s.udpAnnounceUrl, { ...base, infoHash: IH, peerId: pid(1), port: 1 }, { timeoutMs: 5000 }), { instanceOf: TrackerError, message: /not served/ });
  // Nothing answers on a dead UDP port: the timeout bounds the wait.
  const dead = await deadPort();
  await t.throwsAsync(announce(`udp://127.0.0.1:${dead}`, { ...base, infoHash: IH, peerId: pid(1), port: 1 }, { timeoutMs: 300 }), { instanceOf: TrackerError, message: /no reply within 300 ms/ });
  const ac = new AbortController();
  const p = announce(`udp://127.0.0.1:${dead}`, { ...base, infoHash: IH, peerId: pid(1), port: 1 }, { signal: ac.signal, timeoutMs: 10_000 });
  ac.abort(new Error('caller gave up'));
  await t.throwsAsync(p, { message: 'caller gave up' });
  await t.throwsAsync(announce(`wss://127.0.0.1:1`, { ...base, infoHash: IH, peerId: pid(1), port: 1 }), { instanceOf: TrackerError, message: /unsupported protocol/ });
});

function context(n: number, stats = { ...base }): PeerSourceContext & { found: PeerAddress[]; stats: () => typeof base; state: typeof base } {
  const found: PeerAddress[] = [];
  return {
    infoHash: IH,
    peerId: pid(n),
    port: 6000 + n,
    state: stats,
    stats: () => stats,
    onPeers: (peers) => found.push(...peers),
    found,
  };
}

test('TrackerPeerSource: skips a dead tracker, moves the working one to the front of its tier, sends started/completed/stopped', async (t) => {
  const s = await withServer(t, { intervalS: 60 });
  const dead = `http://127.0.0.1:${await deadPort()}/announce`;
  // Another peer is already there, so the source has someone to find.
  await announce(s.announceUrl, { ...base, infoHash: IH, peerId: pid(50), port: 5050, localAddress: '127.0.0.50' }, { timeoutMs: 5000 });
  const ctx = context(1);
  const src = new TrackerPeerSource(ctx, { tiers: [[`udp://127.0.0.1:${await deadPort()}`], [dead, s.announceUrl]], localAddress: '127.0.0.7', logger: silentLogger, timeoutMs: 300 });
  t.teardown(() => src.stop());
  src.start();
  src.start();
  await pollUntil(() => ctx.found.length > 0, 'peers from the tracker', 10_000, 20);
  t.deepEqual(ctx.found, [{ host: '127.0.0.50', port: 5050 }]);
  t.deepEqual(src.tiers[1], [s.announceUrl, dead]);
  t.is(src.status().url, s.announceUrl);
  t.deepEqual(s.registry.scrape(IH), { complete: 0, incomplete: 2, downloaded: 0 });
  t.true(s.registry.peersOf(IH).some((p) => p.host === '127.0.0.7' && p.port === 6001));

  ctx.state.left = 0;
  src.completed();
  await pollUntil(() => s.registry.scrape(IH).downloaded === 1, 'the completed announce counted', 10_000, 20);
  t.deepEqual(s.registry.scrape(IH), { complete: 1, incomplete: 1, downloaded: 1 });

  await src.stop();
  await src.stop();
  t.deepEqual(s.registry.peersOf(IH).map((p) => p.host), ['127.0.0.50']);
});

test('TrackerPeerSource: when every tracker fails it backs off, and stop() returns promptly', async (t) => {
  const ctx = context(2);
  const opts = { tiers: [[`http://127.0.0.1:${await deadPort()}/announce`]], logger: silentLogger, retryBaseMs: 50, timeoutMs: 300 };
  const src = new TrackerPeerSource(ctx, opts);
  src.start();
  await pollUntil(() => src.status().failuresInARow >= 3, 'three failed announces', 10_000, 20);
  t.regex(src.status().lastError ?? '', /127\.0\.0\.1/);
  t.deepEqual(ctx.found, []);
  const began = Date.now();
  await src.stop();
  t.true(Date.now() - began < 5000);
  const n = src.status().failuresInARow;
  // A twin started now fails on the same back-off schedule: by the time it has failed once more than
  // the stopped one, the stopped one would have retried too, had stop() left a timer behind.
  const twin = new TrackerPeerSource(context(4), opts);
  t.teardown(() => twin.stop());
  twin.start();
  await pollUntil(() => twin.status().failuresInARow > n, `the twin to fail ${n + 1} times`, 10_000, 20);
  t.is(src.status().failuresInARow, n, 'no announces after stop');
});

test('TrackerPeerSource: a source with no usable URLs does nothing', async (t) => {
  const src = new TrackerPeerSource(context(3), { tiers: [['wss://tracker.example/announce'], []], logger: silentLogger });
  t.deepEqual(src.tiers, []);
  src.start();
  await src.stop();
  t.pass();
});
