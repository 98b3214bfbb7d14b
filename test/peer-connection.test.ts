/**
 * PeerConnection without sockets (STYLE.md habit 17): our connection over an
 * in-memory transport pair, a scripted remote on the other end, and a
 * manual clock that drives its timers. Choke, reject, allowed-fast,
 * timeouts and bad frames, each in a few milliseconds.
 */
import test from 'ava';
import { PeerConnection, type ConnectionSettings } from '../src/peer/connection.js';
import { memoryTransportPair, type MemoryTransport } from '../src/peer/memory-transport.js';
import { MessageReader } from '../src/peer/reader.js';
import { manualTime, type ManualTime } from '../src/peer/timers.js';
import { silentLogger } from '../src/log.js';
import { Bitfield } from '../src/util/bitfield.js';
import { encodeHandshake, type Handshake } from '../src/wire/handshake.js';
import { encodeMessage, type BlockRequest, type PeerMessage } from '../src/wire/messages.js';
import { maxFrameBytesFor } from '../src/wire/framer.js';
import { torrentShape } from '../src/wire/validate.js';

const INFO_HASH = new Uint8Array(20).fill(7);
const OUR_ID = new Uint8Array(20).fill(1);
const THEIR_ID = new Uint8Array(20).fill(2);
const SHAPE = torrentShape(32 * 1024, 10 * 32 * 1024 - 100); // 10 pieces, a short last one
const K16 = 16 * 1024;
const SETTINGS: ConnectionSettings = {
  handshakeTimeoutMs: 10_000,
  idleTimeoutMs: 180_000,
  keepAliveIntervalMs: 60_000,
  requestTimeoutMs: 30_000,
  maxRequestBytes: 128 * 1024,
  maxRemoteRequests: 4,
};

/** Lets every write, flush and delivery queued so far happen (they run on ticks and microtasks). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

interface Remote {
  end: MemoryTransport;
  /** Our handshake as the remote read it. */
  handshake: Handshake | undefined;
  /** Messages the remote read from us, in order (blocks copied). */
  messages: PeerMessage[];
  send(...msgs: PeerMessage[]): void;
  closed: boolean;
}

interface Setup {
  conn: PeerConnection;
  remote: Remote;
  time: ManualTime;
  closes: { reason: string; requests: BlockRequest[]; protocolError: boolean }[];
}

async function setup(opts: { ourFast?: boolean; theirFast?: boolean; settings?: Partial<ConnectionSettings>; theirHandshake?: boolean } = {}): Promise<Setup> {
  const time = manualTime(1_700_000_000_000);
  const [ours, theirs] = memoryTransportPair();
  const conn = new PeerConnection({
    id: 1,
    transport: ours,
    outgoing: true,
    infoHash: INFO_HASH,
    peerId: OUR_ID,
    shape: SHAPE,
    settings: { ...SETTINGS, ...opts.settings },
    logger: silentLogger,
    clock: time.clock,
    timers: time.timers,
    ...(opts.ourFast === undefined ? {} : { fast: opts.ourFast }),
  });
  const remote: Remote = {
    end: theirs,
    handshake: undefined,
    messages: [],
    send: (...msgs) => msgs.forEach((m) => theirs.write(encodeMessage(m))),
    closed: false,
  };
  const reader = new MessageReader(
    { maxFrameBytes: maxFrameBytesFor(SHAPE.pieceLength, SHAPE.pieceCount), handshakeRead: false },
    {
      handshake: (h) => void (remote.handshake = h),
      message: (m) => void remote.messages.push(m.type === 'piece' ? { ...m, block: Uint8Array.from(m.block) } : m),
      error: (err) => {
        throw err;
      },
    },
  );
  theirs.open({ data: (chunk) => reader.push(chunk), close: () => void (remote.closed = true) });
  const closes: Setup['closes'] = [];
  conn.on('peer:close', (c) => closes.push(c));
  conn.start();
  if (opts.theirHandshake !== false) {
    theirs.write(encodeHandshake({ infoHash: INFO_HASH, peerId: THEIR_ID, extensionProtocol: true, fast: opts.theirFast ?? true }));
  }
  await settle();
  return { conn, remote, time, closes };
}

/** Collects one event's payloads. */
function record<T>(conn: PeerConnection, name: Parameters<PeerConnection['on']>[0]): T[] {
  const out: T[] = [];
  conn.on(name, ((v: T) => out.push(v)) as never);
  return out;
}

const req = (index: number, begin = 0, length = K16): BlockRequest => ({ index, begin, length });

test('the handshakes cross and the fast extension is in force when both sides set it', async (t) => {
  const { conn, remote } = await setup();
  t.true(conn.handshaken);
  t.true(conn.fast);
  t.deepEqual(remote.handshake?.infoHash, INFO_HASH);
  t.true(remote.handshake?.fast);
  t.is(conn.address, '10.0.0.2:6882');
  const plain = await setup({ theirFast: false });
  t.false(plain.conn.fast);
});

test('without the fast extension a choke drops our requests; their blocks may still arrive', async (t) => {
  const { conn, remote, closes } = await setup({ theirFast: false });
  const chokes = record<BlockRequest[]>(conn, 'peer:choke');
  const pieces = record<{ index: number }>(conn, 'peer:piece');
  remote.send({ type: 'bitfield', bytes: Bitfield.full(SHAPE.pieceCount).toBytes() }, { type: 'unchoke' });
  await settle();
  conn.request([req(0), req(0, K16)]);
  await settle();
  t.deepEqual(
    remote.messages.filter((m) => m.type === 'request'),
    [{ type: 'request', ...req(0) }, { type: 'request', ...req(0, K16) }],
  );
  remote.send({ type: 'choke' });
  await settle();
  t.deepEqual(chokes, [[req(0), req(0, K16)]]);
  t.is(conn.outstandingCount, 0);
  t.true(conn.peerChoking);
  // A block that crossed the choke on the wire is no protocol error.
  remote.send({ type: 'piece', index: 0, begin: 0, block: new Uint8Array(K16) });
  await settle();
  t.is(pieces.length, 1);
  t.deepEqual(closes, []);
});

test('with the fast extension a choke keeps our requests; a reject releases one', async (t) => {
  const { conn, remote, closes } = await setup();
  const chokes = record<BlockRequest[]>(conn, 'peer:choke');
  const rejects = record<BlockRequest>(conn, 'peer:reject');
  remote.send({ type: 'have-all' }, { type: 'unchoke' });
  await settle();
  conn.request([req(1), req(1, K16)]);
  remote.send({ type: 'choke' });
  await settle();
  t.deepEqual(chokes, [[]]);
  t.is(conn.outstandingCount, 2);
  remote.send({ type: 'reject', ...req(1, K16) });
  await settle();
  t.deepEqual(rejects, [req(1, K16)]);
  t.is(conn.outstandingCount, 1);
  // A reject of something never asked for, or asked for and cancelled, is ignored.
  conn.cancel(req(1));
  remote.send({ type: 'reject', ...req(5) }, { type: 'reject', ...req(1) });
  await settle();
  t.is(rejects.length, 1);
  t.deepEqual(closes, []);
});

test('a block we did not request is a protocol error', async (t) => {
  const { conn, remote, closes } = await setup();
  remote.send({ type: 'piece', index: 2, begin: 0, block: new Uint8Array(K16) });
  await settle();
  t.true(conn.closed);
  t.is(closes.length, 1);
  t.true(closes[0]!.protocolError);
  t.regex(closes[0]!.reason, /piece 2:0 was not requested/);
  t.true(remote.closed, 'the transport is closed');
});

test('a block of the wrong size is a protocol error, and the close releases our requests', async (t) => {
  const { conn, remote, closes } = await setup();
  remote.send({ type: 'have-all' }, { type: 'unchoke' });
  await settle();
  conn.request([req(3), req(3, K16)]);
  remote.send({ type: 'piece', index: 3, begin: 0, block: new Uint8Array(100) });
  await settle();
  t.true(closes[0]!.protocolError);
  t.regex(closes[0]!.reason, /has 100 bytes, 16384 were requested/);
  t.deepEqual(closes[0]!.requests, [req(3), req(3, K16)], 'the refused block answered nothing');
});

test('a request unanswered for requestTimeoutMs times out on the clock; its block may still arrive', async (t) => {
  const { conn, remote, time, closes } = await setup();
  const timeouts = record<BlockRequest[]>(conn, 'peer:timeout');
  const pieces = record<{ index: number }>(conn, 'peer:piece');
  remote.send({ type: 'have-all' }, { type: 'unchoke' });
  await settle();
  conn.request([req(4)]);
  time.advance(SETTINGS.requestTimeoutMs - 1000);
  t.deepEqual(timeouts, [], 'not yet');
  time.advance(2000);
  t.deepEqual(timeouts, [[req(4)]]);
  t.is(conn.outstandingCount, 0);
  remote.send({ type: 'piece', index: 4, begin: 0, block: new Uint8Array(K16) });
  await settle();
  t.is(pieces.length, 1, 'the late block is delivered, not refused');
  t.deepEqual(closes, []);
});

test('deadlines on the clock: the handshake, keep-alives, the idle timeout', async (t) => {
  const silent = await setup({ theirHandshake: false });
  silent.time.advance(SETTINGS.handshakeTimeoutMs + 1);
  t.is(silent.closes[0]?.reason, 'handshake timeout');
  t.is(silent.time.pending, 0, 'no timer is left');

  const { conn, remote, time, closes } = await setup();
  time.advance(SETTINGS.keepAliveIntervalMs + 1000);
  await settle();
  t.true(remote.messages.some((m) => m.type === 'keep-alive'), 'we sent a keep-alive');
  t.false(conn.closed);
  // The remote sends nothing more: idle past idleTimeoutMs (our keep-alives do not count).
  time.advance(SETTINGS.idleTimeoutMs);
  t.is(closes[0]?.reason, 'idle timeout');
  t.false(closes[0]!.protocolError);
  t.is(time.pending, 0);
});

test('every request of a fast peer gets one answer: choked, over the queue, cancelled, and at our choke', async (t) => {
  const { conn, remote } = await setup();
  const queued = record<BlockRequest>(conn, 'peer:request');
  const cancelled = record<BlockRequest>(conn, 'peer:cancel');
  const rejectsOf = (): number[] => remote.messages.flatMap((m) => (m.type === 'reject' ? [m.index] : []));
  remote.send({ type: 'request', ...req(0) });
  await settle();
  t.deepEqual(rejectsOf(), [0], 'rejected while we choke');
  conn.unchoke();
  for (let i = 1; i <= 5; i++) remote.send({ type: 'request', ...req(i) });
  await settle();
  t.deepEqual(queued.map((r) => r.index), [1, 2, 3, 4]);
  t.deepEqual(rejectsOf(), [0, 5], 'the fifth is over maxRemoteRequests');
  remote.send({ type: 'cancel', ...req(1) });
  await settle();
  t.deepEqual(cancelled, [req(1)]);
  t.deepEqual(rejectsOf(), [0, 5, 1]);
  t.true(conn.stillRequested(queued[1]!), 'the queued request object is still wanted');
  t.false(conn.stillRequested(req(2)), 'a look-alike is not the request that was queued');
  t.true(conn.serve(req(2), new Uint8Array(K16).fill(9)));
  t.false(conn.serve(req(2), new Uint8Array(K16)), 'served once');
  conn.choke();
  await settle();
  t.deepEqual(rejectsOf(), [0, 5, 1, 3, 4]);
  t.is(conn.remoteRequestCount, 0);
  const piece = remote.messages.find((m) => m.type === 'piece');
  t.like(piece, { type: 'piece', index: 2, begin: 0 });
  t.is((piece as { block: Uint8Array }).block[0], 9);
  t.is(conn.uploadRate.total, K16);
});

test('without the fast extension requests while choked are ignored and a cancel is not answered', async (t) => {
  const { conn, remote } = await setup({ theirFast: false });
  remote.send({ type: 'request', ...req(0) });
  await settle();
  t.is(conn.remoteRequestCount, 0);
  conn.unchoke();
  remote.send({ type: 'request', ...req(1) }, { type: 'cancel', ...req(1) });
  await settle();
  t.false(remote.messages.some((m) => m.type === 'reject'));
  t.is(conn.remoteRequestCount, 0);
});

test('allowed_fast and suggest are kept, bounded by maxFastSetPiecesPerPeer; without the extension they close', async (t) => {
  const { conn, remote } = await setup({ settings: { maxFastSetPiecesPerPeer: 3 } });
  const allowed = record<number>(conn, 'peer:allowed-fast');
  remote.send({ type: 'have-none' });
  for (const i of [3, 3, 7, 1, 2, 5]) remote.send({ type: 'allowed-fast', index: i });
  for (const i of [0, 1, 2, 3, 1]) remote.send({ type: 'suggest', index: i });
  await settle();
  t.deepEqual(allowed, [3, 7, 1]);
  t.deepEqual([...conn.allowedFast], [3, 7, 1]);
  t.deepEqual([...conn.suggested], [2, 3, 1], 'the most recent three, most recent last');
  t.false(conn.closed);

  const plain = await setup({ theirFast: false });
  plain.remote.send({ type: 'allowed-fast', index: 1 });
  await settle();
  t.true(plain.closes[0]!.protocolError);
  t.regex(plain.closes[0]!.reason, /allowed-fast sent without the fast extension/);
});

test('a request/cancel flood is dropped; the count starts again each minute', async (t) => {
  const { conn, remote, time, closes } = await setup({ settings: { maxRemoteCancelsPerMinute: 3, maxRemoteRequests: 100 } });
  conn.unchoke();
  const cycle = (i: number): void => remote.send({ type: 'request', ...req(i) }, { type: 'cancel', ...req(i) });
  for (let i = 0; i < 3; i++) cycle(i);
  await settle();
  time.advance(60_000);
  for (let i = 0; i < 3; i++) cycle(i);
  await settle();
  t.false(conn.closed, 'three a minute are allowed');
  cycle(4);
  await settle();
  t.true(closes[0]!.protocolError);
  t.regex(closes[0]!.reason, /request\/cancel flood/);
});

test('a remote that reads nothing is dropped: past maxUnsentBytesPerPeer, or after sendStallTimeoutMs', async (t) => {
  const flood = await setup({ settings: { maxUnsentBytesPerPeer: 64 * 1024, sendBufferBytesPerPeer: 32 * 1024 } });
  flood.remote.end.pauseReading();
  flood.conn.unchoke();
  for (let i = 0; i < 4; i++) flood.remote.send({ type: 'request', ...req(i) });
  await settle();
  for (let i = 0; i < 4 && !flood.conn.congested; i++) flood.conn.serve(req(i), new Uint8Array(K16));
  t.true(flood.conn.congested, 'over sendBufferBytesPerPeer: the torrent stops serving');
  for (let i = 0; i < 4; i++) flood.conn.extended(1, new Uint8Array(16 * 1024));
  t.true(flood.closes[0]?.protocolError);
  t.regex(flood.closes[0]!.reason, /does not read what we send/);

  const stall = await setup();
  stall.remote.end.pauseReading();
  stall.conn.have(1);
  await settle();
  t.true(stall.conn.unsentBytes > 0);
  stall.time.advance(60_000 + 2000);
  t.regex(stall.closes[0]?.reason ?? '', /has read nothing for 6\d s/);
});

test('a frame longer than the torrent allows closes at its length prefix', async (t) => {
  const { remote, closes } = await setup();
  const prefix = new Uint8Array([0x7f, 0xff, 0xff, 0xff, 7]);
  remote.end.write(prefix);
  await settle();
  t.true(closes[0]!.protocolError);
  t.regex(closes[0]!.reason, /protocol error/);
});

test('close is idempotent, stops every timer and closes the remote end', async (t) => {
  const { conn, remote, time, closes } = await setup();
  conn.request([req(0)]);
  conn.close('test over');
  conn.close('again');
  await settle();
  t.is(closes.length, 1);
  t.deepEqual(closes[0], { reason: 'test over', requests: [req(0)], protocolError: false });
  t.is(time.pending, 0);
  t.true(remote.closed);
});

test('the remote closing its end closes the connection (not a protocol error)', async (t) => {
  const { conn, remote, closes } = await setup();
  remote.end.destroy();
  await settle();
  t.true(conn.closed);
  t.deepEqual(closes.map((c) => [c.reason, c.protocolError]), [['connection closed by remote', false]]);
});

test('the send limit follows the peer upload rate: 128 KiB for a slow or new peer, up to sendBufferBytesPerPeer for a fast one', async (t) => {
  const { conn, time } = await setup({ settings: { sendBufferBytesPerPeer: 1024 * 1024 } });
  t.is(conn.sendLimit, 128 * 1024, 'a peer we have sent nothing yet');
  // 500 KB/s (a 20 Mbit uplink shared by five peers): 250 ms of it is under the floor.
  conn.uploadRate.add(5 * 500_000, time.clock());
  t.is(conn.sendLimit, 128 * 1024);
  t.is(conn.sendRoom, 128 * 1024, 'nothing waits: the whole limit is room');
  // Hundreds of MB/s: the full buffer.
  conn.uploadRate.add(400 * 1024 * 1024, time.clock());
  t.is(conn.sendLimit, 1024 * 1024);
});

test('serving a peer that does not read stops near the send limit, not at sendBufferBytesPerPeer', async (t) => {
  const { conn, remote } = await setup({ settings: { sendBufferBytesPerPeer: 1024 * 1024, maxRemoteRequests: 200, maxUnsentBytesPerPeer: 4 * 1024 * 1024 } });
  remote.end.pauseReading();
  conn.unchoke();
  // 18 whole blocks (pieces 0-8 of 32 KiB): 288 KiB, more than the limit.
  for (let i = 0; i < 18; i++) remote.send({ type: 'request', ...req(i >> 1, (i & 1) * K16) });
  await settle();
  let served = 0;
  for (let i = 0; i < 18 && !conn.congested; i++) {
    conn.serve(req(i >> 1, (i & 1) * K16), new Uint8Array(K16));
    served++;
  }
  t.true(conn.congested);
  t.true(served * K16 <= 128 * 1024 + 2 * K16, `stopped after ${served} blocks (${(served * K16) / 1024} KiB)`);
});
