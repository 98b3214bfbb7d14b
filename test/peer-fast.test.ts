/**
 * PeerConnection against a raw peer on loopback: the message order real
 * clients use (a late bitfield, as aria2 and libtorrent send it) and the
 * BEP 6 fast extension (have_all / have_none, reject, allowed_fast, suggest,
 * a choke that rejects every pending request).
 */
import test from 'ava';
import net from 'node:net';
import { PeerConnection } from '../src/peer/connection.js';
import { dialTcp } from '../src/peer/transport.js';
import { silentLogger } from '../src/log.js';
import { Bitfield } from '../src/util/bitfield.js';
import { encodeHandshake } from '../src/wire/handshake.js';
import { encodeMessage, type BlockRequest, type PeerMessage } from '../src/wire/messages.js';
import { torrentShape } from '../src/wire/validate.js';
import { connectRaw, testPeerId, type RawPeer } from './helpers/wire-peer.js';
import { within, type Teardown } from './helpers/swarm.js';

const INFO_HASH = new Uint8Array(20).fill(7);
const SHAPE = torrentShape(32 * 1024, 10 * 32 * 1024 - 100); // 10 pieces, a short last one
const SETTINGS = {
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 60_000,
  keepAliveIntervalMs: 60_000,
  requestTimeoutMs: 60_000,
  maxRequestBytes: 128 * 1024,
  maxRemoteRequests: 4,
};

interface Pair {
  conn: PeerConnection;
  raw: RawPeer;
  closed: Promise<{ reason: string; protocolError: boolean }>;
}

/** Our PeerConnection (incoming side, `fast` as given) and a raw remote that set the fast bit or not. */
async function pair(t: Teardown, opts: { ourFast?: boolean; theirFast: boolean }): Promise<Pair> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const raw = await connectRaw(t, { host: '127.0.0.1', port, localAddress: '127.0.0.1', infoHash: INFO_HASH, shape: SHAPE, fast: opts.theirFast });
  const socket = await within(accepted, 10_000, 'the accepted socket');
  const conn = new PeerConnection({
    id: 1,
    socket,
    outgoing: false,
    infoHash: INFO_HASH,
    peerId: testPeerId('ours'),
    shape: SHAPE,
    settings: SETTINGS,
    logger: silentLogger,
    ...(opts.ourFast === undefined ? {} : { fast: opts.ourFast }),
  });
  const closed = new Promise<{ reason: string; protocolError: boolean }>((resolve) => conn.once('peer:close', (c) => resolve(c)));
  const handshaken = new Promise<void>((resolve) => conn.once('peer:handshake', () => resolve()));
  conn.start();
  t.teardown(() => conn.close('test over'));
  await within(handshaken, 10_000, 'our side to read the handshake');
  await raw.handshake();
  return { conn, raw, closed };
}

const send = (p: Pair, ...msgs: PeerMessage[]): void => {
  for (const m of msgs) p.raw.write(encodeMessage(m));
};

function nextEvent<T>(conn: PeerConnection, name: Parameters<PeerConnection['once']>[0], what: string): Promise<T> {
  return within(new Promise<T>((resolve) => conn.once(name, ((v: T) => resolve(v)) as never)), 10_000, what);
}

/** Resolves after the remote's bytes sent so far were read by our side (a port message as a marker). */
async function settle(p: Pair): Promise<void> {
  const seen = nextEvent<number>(p.conn, 'peer:port', 'the marker port message');
  send(p, { type: 'port', port: 4242 });
  await seen;
}

test('a bitfield after the extension handshake, port, keep-alive, choke and interest messages is accepted', async (t) => {
  const p = await pair(t, { theirFast: false });
  const got = nextEvent<Bitfield>(p.conn, 'peer:bitfield', 'the bitfield');
  const bits = new Bitfield(SHAPE.pieceCount);
  bits.set(0);
  bits.set(3);
  send(p, { type: 'extended', id: 0, payload: new TextEncoder().encode('de') }, { type: 'port', port: 6881 }, { type: 'keep-alive' }, { type: 'unchoke' }, { type: 'interested' }, { type: 'choke' }, { type: 'not-interested' });
  send(p, { type: 'bitfield', bytes: bits.toBytes() });
  const received = await got;
  t.deepEqual([...received.ones()], [0, 3]);
  t.false(p.conn.closed);
  t.false(p.conn.peerInterested, 'the interest messages before the bitfield were applied');
});

test('a bitfield after haves (aria2 sends one) adds its new pieces as haves and keeps those announced', async (t) => {
  const p = await pair(t, { theirFast: true });
  const haves: number[] = [];
  let initial = 0;
  p.conn.on('peer:have', (i) => haves.push(i));
  p.conn.on('peer:bitfield', () => initial++);
  const late = new Bitfield(SHAPE.pieceCount);
  late.set(2);
  late.set(5);
  send(p, { type: 'have-none' }, { type: 'have', index: 1 }, { type: 'have', index: 2 }, { type: 'bitfield', bytes: late.toBytes() });
  await settle(p);
  t.is(initial, 1, 'only have_none is the initial piece set');
  t.deepEqual(haves, [1, 2, 5], 'the late bitfield reports only piece 5 as news');
  t.deepEqual([...p.conn.bits.ones()], [1, 2, 5], 'piece 1, missing from the late bitfield, is kept');
  t.false(p.conn.closed);
});

test('a second bitfield merges; have_none after pieces removes nothing', async (t) => {
  const p = await pair(t, { theirFast: true });
  const first = new Bitfield(SHAPE.pieceCount);
  first.set(0);
  const second = new Bitfield(SHAPE.pieceCount);
  second.set(4);
  send(p, { type: 'bitfield', bytes: first.toBytes() }, { type: 'bitfield', bytes: second.toBytes() }, { type: 'have-none' });
  await settle(p);
  t.deepEqual([...p.conn.bits.ones()], [0, 4]);
  t.false(p.conn.closed);
});

test('the fast extension is in force only when both sides set the bit', async (t) => {
  const both = await pair(t, { theirFast: true });
  t.true(both.conn.fast);
  t.true(both.raw.isClosed() === false);
  const theirsOnly = await pair(t, { ourFast: false, theirFast: true });
  t.false(theirsOnly.conn.fast);
  const oursOnly = await pair(t, { theirFast: false });
  t.false(oursOnly.conn.fast);
  // Our handshake carries the bit (reserved[7] & 0x04) unless turned off.
  t.true((await oursOnly.raw.handshake()).fast);
  t.false((await theirsOnly.raw.handshake()).fast);
});

test('have_all sets every piece and have_none none; have_all without the extension closes', async (t) => {
  const all = await pair(t, { theirFast: true });
  const gotAll = nextEvent<Bitfield>(all.conn, 'peer:bitfield', 'have_all');
  send(all, { type: 'have-all' });
  t.true((await gotAll).isComplete());

  const none = await pair(t, { theirFast: true });
  const gotNone = nextEvent<Bitfield>(none.conn, 'peer:bitfield', 'have_none');
  send(none, { type: 'have-none' });
  t.true((await gotNone).isEmpty());
  t.false(none.conn.closed);

  const plain = await pair(t, { theirFast: false });
  send(plain, { type: 'have-all' });
  const c = await within(plain.closed, 10_000, 'the close');
  t.true(c.protocolError);
  t.regex(c.reason, /fast extension/);
});

test('our piece set: have_all or have_none with the fast extension, a bitfield or nothing without it', async (t) => {
  const full = Bitfield.full(SHAPE.pieceCount);
  const empty = new Bitfield(SHAPE.pieceCount);
  const some = new Bitfield(SHAPE.pieceCount);
  some.set(2);

  const cases: { fast: boolean; bits: Bitfield; want: PeerMessage['type'] }[] = [
    { fast: true, bits: full, want: 'have-all' },
    { fast: true, bits: empty, want: 'have-none' },
    { fast: true, bits: some, want: 'bitfield' },
    { fast: false, bits: full, want: 'bitfield' },
    { fast: false, bits: empty, want: 'interested' }, // nothing for the piece set: the next message is the first
  ];
  for (const c of cases) {
    const p = await pair(t, { theirFast: c.fast });
    p.conn.sendPieceSet(c.bits);
    p.conn.interested();
    const first = await p.raw.waitMessage(() => true, 'the first message');
    t.is(first.type, c.want, `fast=${c.fast}, ${c.bits.count()} pieces`);
  }
});

test('a reject releases our request (BEP 6); a choke keeps the requests the remote must still answer', async (t) => {
  const p = await pair(t, { theirFast: true });
  send(p, { type: 'have-all' }, { type: 'unchoke' });
  await nextEvent(p.conn, 'peer:unchoke', 'the unchoke');
  const reqs: BlockRequest[] = [
    { index: 0, begin: 0, length: 16384 },
    { index: 0, begin: 16384, length: 16384 },
  ];
  p.conn.request(reqs);
  t.is(p.conn.outstandingCount, 2);
  const dropped = nextEvent<BlockRequest[]>(p.conn, 'peer:choke', 'the choke');
  send(p, { type: 'choke' });
  t.deepEqual(await dropped, [], 'a fast choke drops nothing');
  t.is(p.conn.outstandingCount, 2);
  const rejected = nextEvent<BlockRequest>(p.conn, 'peer:reject', 'the reject');
  send(p, { type: 'reject', index: 0, begin: 16384, length: 16384 });
  t.deepEqual(await rejected, reqs[1]);
  t.is(p.conn.outstandingCount, 1);
  // A reject of something never asked for is ignored, not fatal.
  send(p, { type: 'reject', index: 5, begin: 0, length: 16384 });
  await settle(p);
  t.false(p.conn.closed);
});

test('without the fast extension a choke drops every request', async (t) => {
  const p = await pair(t, { theirFast: false });
  send(p, { type: 'bitfield', bytes: Bitfield.full(SHAPE.pieceCount).toBytes() }, { type: 'unchoke' });
  await nextEvent(p.conn, 'peer:unchoke', 'the unchoke');
  p.conn.request([{ index: 1, begin: 0, length: 16384 }]);
  const dropped = nextEvent<BlockRequest[]>(p.conn, 'peer:choke', 'the choke');
  send(p, { type: 'choke' });
  t.is((await dropped).length, 1);
  t.is(p.conn.outstandingCount, 0);
});

test('every request of a fast peer gets an answer: while choked, over the queue limit, cancelled, and when we choke', async (t) => {
  const p = await pair(t, { theirFast: true });
  const rejects = (): PeerMessage[] => p.raw.messages.filter((m) => m.type === 'reject');
  // Choked (we start choking): rejected at once.
  send(p, { type: 'request', index: 0, begin: 0, length: 16384 });
  await p.raw.waitMessage((m) => m.type === 'reject', 'the reject of a request while choked');
  t.deepEqual(rejects()[0], { type: 'reject', index: 0, begin: 0, length: 16384 });

  const queued: BlockRequest[] = [];
  p.conn.on('peer:request', (r) => queued.push(r));
  p.conn.unchoke();
  await p.raw.waitMessage((m) => m.type === 'unchoke', 'our unchoke');
  // The queue holds 4 (SETTINGS.maxRemoteRequests): the fifth is rejected.
  for (let i = 0; i < 5; i++) send(p, { type: 'request', index: 1 + i, begin: 0, length: 16384 });
  await p.raw.waitMessage((m) => m.type === 'reject' && m.index === 5, 'the reject of the fifth request');
  t.is(queued.length, 4);
  // A cancel of a queued request is answered with a reject.
  send(p, { type: 'cancel', index: 1, begin: 0, length: 16384 });
  await p.raw.waitMessage((m) => m.type === 'reject' && m.index === 1, 'the reject of the cancelled request');
  // Our choke rejects the three still queued, after the choke.
  p.conn.choke();
  await p.raw.waitMessage((m) => m.type === 'reject' && m.index === 4, 'the rejects after our choke');
  const afterChoke = p.raw.messages.slice(p.raw.messages.findIndex((m) => m.type === 'choke'));
  t.deepEqual(
    afterChoke.filter((m) => m.type === 'reject').map((m) => (m as { index: number }).index).sort(),
    [2, 3, 4],
  );
  t.is(p.conn.remoteRequestCount, 0);
  // Exactly one answer per request: 1 (choked) + 1 (queue full) + 1 (cancel) + 3 (choke) rejects.
  t.is(rejects().length, 6);
});

test('allowed_fast and suggest are kept (bounded) and reported', async (t) => {
  const p = await pair(t, { theirFast: true });
  const allowed: number[] = [];
  const suggested: number[] = [];
  p.conn.on('peer:allowed-fast', (i) => allowed.push(i));
  p.conn.on('peer:suggest', (i) => suggested.push(i));
  send(p, { type: 'have-none' }, { type: 'allowed-fast', index: 3 }, { type: 'allowed-fast', index: 3 }, { type: 'allowed-fast', index: 7 }, { type: 'suggest', index: 2 });
  await settle(p);
  t.deepEqual(allowed, [3, 7]);
  t.deepEqual([...p.conn.allowedFast], [3, 7]);
  t.deepEqual(suggested, [2]);
  t.deepEqual([...p.conn.suggested], [2]);
  // A flood stays bounded.
  for (let i = 0; i < 1000; i++) send(p, { type: 'suggest', index: i % SHAPE.pieceCount });
  await settle(p);
  t.true(p.conn.suggested.size <= SHAPE.pieceCount);
});

test('allowed_fast without the extension closes the connection', async (t) => {
  const p = await pair(t, { theirFast: false });
  send(p, { type: 'allowed-fast', index: 1 });
  const c = await within(p.closed, 10_000, 'the close');
  t.true(c.protocolError);
});

test('dialTcp: an outgoing connection reads through the shared receive buffer; a refused dial rejects', async (t) => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const port = (server.address() as net.AddressInfo).port;
  server.once('connection', (s) => {
    t.teardown(() => void s.destroy());
    // The remote answers at once, before it reads ours: bytes may arrive before the connection opens the transport.
    s.write(encodeHandshake({ infoHash: INFO_HASH, peerId: testPeerId('them'), fast: true }));
    s.write(encodeMessage({ type: 'have-all' }));
  });
  const transport = await dialTcp({ host: '127.0.0.1', port, localAddress: '127.0.0.1', timeoutMs: 10_000 });
  await new Promise((resolve) => setTimeout(resolve, 50));
  const conn = new PeerConnection({ id: 9, transport, outgoing: true, infoHash: INFO_HASH, peerId: testPeerId('ours'), shape: SHAPE, settings: SETTINGS, logger: silentLogger });
  t.teardown(() => conn.close('test over'));
  const bits = nextEvent<Bitfield>(conn, 'peer:bitfield', 'have_all over the dialed transport');
  conn.start();
  t.true((await bits).isComplete());
  t.true(conn.fast);
  t.is(conn.address, `127.0.0.1:${port}`);

  server.close();
  await t.throwsAsync(dialTcp({ host: '127.0.0.1', port, timeoutMs: 10_000 }), { message: /ECONNREFUSED/ });
  const aborted = new AbortController();
  aborted.abort(new Error('stopped'));
  await t.throwsAsync(dialTcp({ host: '127.0.0.1', port, timeoutMs: 10_000, signal: aborted.signal }), { message: 'stopped' });
});
