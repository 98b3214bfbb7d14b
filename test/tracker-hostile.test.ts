/**
 * Hostile and malformed requests to our tracker: each is refused with a
 * bencoded failure reason (HTTP) or an error packet (UDP) and leaves the
 * swarm state exactly as it was.
 */
import test from 'ava';
import dgram from 'node:dgram';
import http from 'node:http';
import { decode, isBytes, isDict } from '../src/bencode/index.js';
import { silentLogger } from '../src/log.js';
import { announce } from '../src/tracker/client.js';
import { buildAnnounceUrl, parseAnnounceReply, percentEncode } from '../src/tracker/http-codec.js';
import { TrackerServer } from '../src/tracker/server.js';
import { decodeUdpResponse, encodeUdpRequest, type UdpResponse } from '../src/tracker/udp-codec.js';

const IH = new Uint8Array(20).fill(0xaa);
const pid = (n: number): Uint8Array => new Uint8Array(20).fill(n);

async function seeded(t: { teardown: (fn: () => Promise<void>) => void }, opts: Partial<ConstructorParameters<typeof TrackerServer>[0]> = {}): Promise<TrackerServer> {
  const s = new TrackerServer({ host: '127.0.0.1', port: 0, logger: silentLogger, maxNumwant: 20, ...opts });
  t.teardown(() => s.stop());
  await s.start();
  // 30 peers in one swarm, straight into the registry (the code under test is the network edge).
  for (let i = 1; i <= 30; i++) s.registry.announce({ infoHash: IH, peerId: pid(i), host: `127.0.1.${i}`, port: 6881, left: 5 });
  return s;
}

function snapshot(s: TrackerServer): string {
  return JSON.stringify({ stats: s.registry.stats(), peers: s.registry.peersOf(IH).map((p) => `${p.host}:${p.port}`).sort(), scrape: s.registry.scrape(IH) });
}

function rawGet(port: number, path: string, method = 'GET'): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, localAddress: '127.0.0.9', agent: false, timeout: 5000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

function failureOf(body: Buffer): string | undefined {
  const d = decode(body);
  return isDict(d) && isBytes(d['failure reason']) ? Buffer.from(d['failure reason']).toString() : undefined;
}

const good = (over: Record<string, string> = {}): string => {
  const q: Record<string, string> = { info_hash: percentEncode(IH), peer_id: percentEncode(pid(99)), port: '6881', uploaded: '0', downloaded: '0', left: '5', ...over };
  return '/announce?' + Object.entries(q).filter(([, v]) => v !== '').map(([k, v]) => `${k}=${v}`).join('&');
};

test('HTTP: malformed announces get a failure reason and change nothing', async (t) => {
  const s = await seeded(t);
  const before = snapshot(s);
  const cases: [string, RegExp][] = [
    [good({ info_hash: '' }), /missing info_hash/],
    [good({ info_hash: 'short' }), /info_hash: expected 20 bytes/],
    [good({ info_hash: percentEncode(new Uint8Array(21)) }), /info_hash: expected 20 bytes/],
    [good({ peer_id: '' }), /missing peer_id/],
    [good({ port: '0' }), /port/],
    [good({ port: '65536' }), /port/],
    [good({ port: 'abc' }), /port/],
    [good({ port: '' }), /missing port/],
    [good({ numwant: '1' + '0'.repeat(30) }), /numwant/],
    [good({ left: '-5' }), /left/],
    [good({ event: 'explode' }), /event/],
    [good() + '&info_hash=' + percentEncode(pid(1)), /more than once/],
    [good({ info_hash: '%zz' + 'a'.repeat(17) }), /percent/],
    ['/announce?' + 'x='.padEnd(9000, 'y'), /longer than/],
    ['/scrape', /at least one info-hash/],
    ['/scrape?info_hash=abc', /20 bytes/],
  ];
  for (const [path, re] of cases) {
    const { status, body } = await rawGet(s.port, path);
    t.is(status, 200, path);
    t.regex(failureOf(body) ?? '', re, path);
  }
  const notFound = await rawGet(s.port, '/admin');
  t.is(notFound.status, 404);
  t.truthy(failureOf(notFound.body));
  const post = await rawGet(s.port, good(), 'POST');
  t.is(post.status, 404);
  t.is(snapshot(s), before);
});

test('HTTP: a huge numwant is capped; the ip parameter is ignored (source address recorded)', async (t) => {
  const s = await seeded(t);
  const { body } = await rawGet(s.port, good({ numwant: '9999999999', ip: '9.9.9.9' }));
  const reply = parseAnnounceReply(body);
  t.is(reply.peers.length, 20);
  t.false(reply.peers.some((p) => p.host === '127.0.0.9'), 'never the asker');
  const mine = s.registry.peersOf(IH).filter((p) => p.peerId && p.peerId[0] === 99);
  t.deepEqual(mine.map((p) => p.host), ['127.0.0.9']);
});

test('HTTP: a flood from one address is rate limited; refused announces are not recorded', async (t) => {
  const s = await seeded(t, { rateLimit: { perSecond: 1, burst: 5 } });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.teardown(() => agent.destroy());
  const replies: string[] = [];
  for (let i = 0; i < 12; i++) {
    const url = buildAnnounceUrl(s.announceUrl, { infoHash: IH, peerId: pid(100 + i), port: 7000 + i, uploaded: 0, downloaded: 0, left: 1 });
    const body = await new Promise<Buffer>((resolve, reject) => {
      http.get(url, { agent, localAddress: '127.0.0.10' }, (res) => {
        const c: Buffer[] = [];
        res.on('data', (d: Buffer) => c.push(d));
        res.on('end', () => resolve(Buffer.concat(c)));
      }).on('error', reject);
    });
    replies.push(failureOf(body) ?? 'ok');
  }
  const limited = replies.filter((r) => /too many requests/.test(r)).length;
  t.true(limited >= 5, replies.join(','));
  // Only the announces let through were recorded.
  t.is(s.registry.stats().peers, 30 + (12 - limited));
  // Another address is unaffected.
  const ok = await announce(s.announceUrl, { infoHash: IH, peerId: pid(200), port: 1, uploaded: 0, downloaded: 0, left: 1, localAddress: '127.0.0.11' }, { timeoutMs: 5000 });
  t.true(ok.peers.length > 0);
});

async function udpExchange(port: number, packet: Uint8Array, from = '127.0.0.12', waitMs = 2000): Promise<UdpResponse | undefined> {
  const sock = dgram.createSocket('udp4');
  try {
    await new Promise<void>((r) => sock.bind(0, from, () => r()));
    return await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), waitMs);
      sock.once('message', (msg) => {
        clearTimeout(timer);
        resolve(decodeUdpResponse(msg));
      });
      sock.send(packet, port, '127.0.0.1');
    });
  } finally {
    sock.close();
  }
}

function announcePacket(connectionId: bigint, over: { port?: number; infoHash?: Uint8Array } = {}): Uint8Array {
  return encodeUdpRequest({
    action: 'announce', connectionId, transactionId: 0x1234, infoHash: over.infoHash ?? IH, peerId: pid(77),
    downloaded: 0, left: 1, uploaded: 0, ip: 0x09090909, key: 1, numwant: 1_000_000, port: over.port ?? 6881,
  });
}

test('UDP: garbage packets, forged connection ids and bad fields get error packets and change nothing', async (t) => {
  const s = await seeded(t);
  const before = snapshot(s);
  // Deterministic garbage of many sizes.
  let x = 12345;
  const rnd = (): number => ((x = (x * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
  for (const len of [0, 1, 8, 15, 16, 17, 50, 97, 98, 99, 200, 1400]) {
    const buf = Uint8Array.from({ length: len }, rnd);
    const res = await udpExchange(s.port, buf);
    // Every packet that reaches the handler is answered with an error (an empty datagram may be dropped by the OS).
    if (res) t.is(res.action, 'error', `len ${len}`);
  }
  // Forged connection ids: a guess, zero, and the protocol id itself.
  for (const forged of [0n, 0x41727101980n, 0xdeadbeefcafebaben]) {
    const res = await udpExchange(s.port, announcePacket(forged));
    t.is(res?.action, 'error');
    t.is(res?.transactionId, 0x1234);
    if (res?.action === 'error') t.regex(res.message, /connection id/);
  }
  // A valid connection id but a bad port / short info-hash packet.
  const conn = await udpExchange(s.port, encodeUdpRequest({ action: 'connect', transactionId: 5 }));
  t.is(conn?.action, 'connect');
  const id = conn?.action === 'connect' ? conn.connectionId : 0n;
  const badPort = await udpExchange(s.port, announcePacket(id, { port: 0 }));
  t.is(badPort?.action, 'error');
  const truncated = announcePacket(id).subarray(0, 60);
  t.is((await udpExchange(s.port, truncated))?.action, 'error');
  // A connection id is bound to the address it was issued to: another address cannot use it.
  const stolen = await udpExchange(s.port, announcePacket(id), '127.0.0.13');
  t.is(stolen?.action, 'error');
  t.is(snapshot(s), before);

  // The same id from its own address works; a huge numwant is capped; the IP field is ignored.
  const res = await udpExchange(s.port, announcePacket(id));
  t.is(res?.action, 'announce');
  if (res?.action === 'announce') t.is(res.peers.length, 20);
  t.true(s.registry.peersOf(IH).some((p) => p.host === '127.0.0.12'));
  t.false(s.registry.peersOf(IH).some((p) => p.host === '9.9.9.9'));
});

test('UDP: connection ids expire after about two minutes (injected clock)', async (t) => {
  let now = 1_000_000_000;
  const s = await seeded(t, { clock: () => now });
  const conn = await udpExchange(s.port, encodeUdpRequest({ action: 'connect', transactionId: 5 }));
  const id = conn?.action === 'connect' ? conn.connectionId : 0n;
  now += 50_000;
  t.is((await udpExchange(s.port, announcePacket(id)))?.action, 'announce', 'valid after 50 s');
  now += 130_000;
  const late = await udpExchange(s.port, announcePacket(id));
  t.is(late?.action, 'error', 'refused after 180 s');
});

test('the server survives all of it and still serves', async (t) => {
  const s = await seeded(t);
  await rawGet(s.port, good({ info_hash: 'x' }));
  await udpExchange(s.port, new Uint8Array(3));
  const r = await announce(s.udpAnnounceUrl, { infoHash: IH, peerId: pid(150), port: 1, uploaded: 0, downloaded: 0, left: 1, localAddress: '127.0.0.14' }, { timeoutMs: 5000 });
  t.true(r.peers.length > 0);
  const h = await announce(s.announceUrl, { infoHash: IH, peerId: pid(151), port: 1, uploaded: 0, downloaded: 0, left: 1, localAddress: '127.0.0.15' }, { timeoutMs: 5000 });
  t.true(h.peers.length > 0);
});
