/**
 * The send budget of a torrent's uploads (settings.sendBufferBytesTotal):
 * blocks handed to sockets and not yet written out are bounded across all
 * the peers served, not only per peer, so a seeder serving many slow peers
 * does not keep a piece image alive for each of their queues. Freed room
 * goes round the waiting peers; peers that stopped reading cannot stop the
 * others. The upload server runs here against fake connections whose
 * sockets take nothing until the test lets them.
 */
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { SendBudget } from '../src/session/send-budget.js';
import { UploadServer } from '../src/session/upload-server.js';
import type { PeerConnection } from '../src/peer/connection.js';
import type { BlockRequest } from '../src/wire/messages.js';
import { TypedEmitter } from '../src/events.js';
import { TokenBucket } from '../src/util/token-bucket.js';
import { DEFAULT_SETTINGS } from '../src/settings.js';
import { silentLogger } from '../src/log.js';
import { torrentOfBytes } from './helpers/in-process.js';

const BLOCK = 16 * 1024;
const KiB = 1024;
/** The least a real connection lets wait for a slow peer (connection.ts MIN_SEND_AHEAD_BYTES). */
const PER_PEER = 128 * KiB;

/** A connection whose socket keeps what it is given until `flush()`. */
class FakeConn extends TypedEmitter<{ 'peer:request': BlockRequest; 'peer:cancel': BlockRequest }> {
  closed = false;
  readonly requested = new Set<string>();
  readonly pending: { bytes: number; onSent?: () => void }[] = [];
  servedBlocks = 0;
  #drain: (() => void) | undefined;

  constructor(readonly id: number) {
    super();
  }

  get unsentBytes(): number {
    return this.pending.reduce((n, p) => n + p.bytes, 0);
  }
  get congested(): boolean {
    return this.unsentBytes > PER_PEER;
  }
  get sendRoom(): number {
    return Math.max(0, PER_PEER - this.unsentBytes);
  }
  get remoteRequestCount(): number {
    return this.requested.size;
  }
  stillRequested(r: BlockRequest): boolean {
    return this.requested.has(`${r.index}:${r.begin}`);
  }
  dropRemoteRequest(r: BlockRequest): void {
    this.requested.delete(`${r.index}:${r.begin}`);
  }
  serve(req: BlockRequest, block: Uint8Array, onSent?: () => void): boolean {
    return this.serveMessages([req], block, onSent);
  }
  serveMessages(reqs: BlockRequest[], messages: Uint8Array, onSent?: () => void): boolean {
    if (this.closed) return false;
    for (const r of reqs) this.dropRemoteRequest(r);
    this.servedBlocks += reqs.length;
    this.pending.push({ bytes: messages.length, ...(onSent ? { onSent } : {}) });
    return true;
  }
  onDrain(listener: () => void): void {
    this.#drain = listener;
  }
  /** The socket wrote everything out: the write callbacks, then 'drain'. */
  flush(): void {
    const done = this.pending.splice(0);
    for (const p of done) p.onSent?.();
    if (done.length) this.#drain?.();
  }
  request(index: number, begin: number, length: number): void {
    this.requested.add(`${index}:${begin}`);
    this.emit('peer:request', { index, begin, length });
  }
}

function setup(opts: { pieceLength: number; pieces: number; totalBytes: number }) {
  const data = randomBytes(opts.pieceLength * opts.pieces);
  const { info } = torrentOfBytes(data, opts.pieceLength);
  const conns: FakeConn[] = [];
  const buffers = new Set<ArrayBufferLike>();
  const server = new UploadServer({
    info,
    settings: { ...DEFAULT_SETTINGS, sendBufferBytesTotal: opts.totalBytes },
    store: {
      readPiece: async (i: number) => data.subarray(i * info.pieceLength, (i + 1) * info.pieceLength),
      readv: async (offset: number, views: Uint8Array[]) => {
        buffers.add(views[0]!.buffer);
        let at = offset;
        for (const v of views) {
          v.set(data.subarray(at, at + v.length));
          at += v.length;
        }
      },
    },
    has: () => true,
    serveCheck: { refuses: () => false, admit: async () => {} },
    budget: new TokenBucket(0),
    onLimited: () => {},
    onUploaded: () => {},
    connections: () => conns as unknown as PeerConnection[],
    stopped: () => false,
    logger: silentLogger,
  });
  const connect = (n: number): FakeConn[] => {
    const made = Array.from({ length: n }, (_, k) => new FakeConn(conns.length + k));
    conns.push(...made);
    for (const c of made) server.attach(c as unknown as PeerConnection);
    return made;
  };
  return { info, server, connect, buffersRead: () => buffers.size };
}

/** Lets the piece reads land and the pumps they start run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
}

const unsentOf = (cs: FakeConn[]): number => cs.reduce((n, c) => n + c.unsentBytes, 0);

/** Each peer asks for `blocks` blocks, starting at its own place in the torrent (peers want different pieces). */
function requestAll(cs: FakeConn[], pieceLength: number, pieces: number, blocks: number): void {
  const perPiece = pieceLength / BLOCK;
  for (const c of cs) {
    for (let k = 0; k < blocks; k++) {
      const b = (c.id * 7 + k) % (pieces * perPiece);
      c.request(Math.floor(b / perPiece), (b % perPiece) * BLOCK, BLOCK);
    }
  }
}

test('forty slow peers together hold about the send budget unsent, not their own limits added up', async (t) => {
  const total = 512 * KiB;
  const { connect } = setup({ pieceLength: BLOCK, pieces: 1024, totalBytes: total });
  const peers = connect(40);
  requestAll(peers, BLOCK, 1024, 32);
  await settle();
  const unsent = unsentOf(peers);
  // Each peer's own limit would let 40 x (128 KiB + a block) wait: 5.6 MiB of piece images.
  // The budget lets the budget wait, plus a block per peer that had nothing waiting, plus one run.
  const bound = total + peers.length * (BLOCK + 13) + (BLOCK + 13);
  t.true(unsent <= bound, `${unsent} bytes unsent, bound ${bound}`);
  t.true(unsent >= total, `the budget is used: ${unsent} bytes unsent`);
  // Every peer got at least its first block.
  t.true(peers.every((c) => c.servedBlocks >= 1));
});

test('room freed by finished writes goes to the peers that waited, in turn, and every peer is served in full', async (t) => {
  const { connect } = setup({ pieceLength: 4 * BLOCK, pieces: 256, totalBytes: 256 * KiB });
  const peers = connect(12);
  requestAll(peers, 4 * BLOCK, 256, 48);
  await settle();
  const before = peers.map((c) => c.servedBlocks);
  // The first peers filled the budget; the last ones have only their first block.
  t.true(before.at(-1)! <= 1, `last peer served ${before.at(-1)} blocks before any room was freed`);
  // The first two peers' sockets write everything out: the room they free goes to the peers
  // that waited, not back to them (each gets one block, having nothing waiting, then waits its turn).
  peers[0]!.flush();
  peers[1]!.flush();
  await settle();
  const gained = peers.map((c, i) => c.servedBlocks - before[i]!);
  t.true(gained[0]! <= 1 && gained[1]! <= 1, `the first two got ${gained.slice(0, 2).join(',')} more blocks`);
  t.true(gained.slice(2).reduce((a, b) => a + b, 0) >= 4, `the waiting peers got ${gained.slice(2).join(',')}`);
  // Flushing every socket in turn serves everything: nobody is left waiting for ever.
  for (let round = 0; round < 200 && peers.some((c) => c.servedBlocks < 48); round++) {
    for (const c of peers) c.flush();
    await settle();
  }
  t.deepEqual(
    peers.map((c) => c.servedBlocks),
    peers.map(() => 48),
  );
});

test('peers that stopped reading cannot hold up the others: a peer with nothing waiting always gets a block', async (t) => {
  const total = 256 * KiB;
  const { connect } = setup({ pieceLength: BLOCK, pieces: 512, totalBytes: total });
  const stalled = connect(8);
  requestAll(stalled, BLOCK, 512, 64);
  await settle();
  t.true(unsentOf(stalled) >= total, 'the stalled peers took the whole budget');
  const readers = connect(2);
  requestAll(readers, BLOCK, 512, 40);
  for (let round = 0; round < 100 && readers.some((c) => c.servedBlocks < 40); round++) {
    await settle();
    for (const c of readers) c.flush();
  }
  t.deepEqual(
    readers.map((c) => c.servedBlocks),
    [40, 40],
  );
});

test('SendBudget: waiters resume in arrival order, a newcomer queues behind them, and room is needed to write', async (t) => {
  const b = new SendBudget(100);
  const order: string[] = [];
  const a = {};
  const c = {};
  const d = {};
  t.true(b.mayWrite(a, () => {}));
  b.take(100);
  t.false(b.mayWrite(a, () => order.push('a')));
  t.false(b.mayWrite(c, () => order.push('c')));
  t.false(b.mayWrite(a, () => order.push('a again')), 'asking again keeps its place');
  t.is(b.waitingCount, 2);
  b.give(10);
  // Room, but two wait: a newcomer does not cut in.
  t.false(b.mayWrite(d, () => order.push('d')));
  await Promise.resolve();
  await Promise.resolve();
  // Nobody took the room, so everyone waiting got its turn, in order.
  t.deepEqual(order, ['a', 'c', 'd']);
  t.is(b.waitingCount, 0);
  t.is(new SendBudget(0).roomBytes, Infinity, '0 is no bound');
  t.throws(() => new SendBudget(-1), { instanceOf: RangeError });
});

test('images that come back from sockets after their eviction are reused for the next reads, not left to the garbage collector', async (t) => {
  const total = 512 * KiB;
  const pieces = 1024;
  const { connect, buffersRead } = setup({ pieceLength: BLOCK, pieces, totalBytes: total });
  const peers = connect(40);
  requestAll(peers, BLOCK, pieces, 64);
  for (let round = 0; round < 400 && peers.some((c) => c.servedBlocks < 64); round++) {
    await settle();
    // Half the sockets write out each round: images are evicted from the cache while blocks of theirs still wait.
    for (const c of peers) if ((c.id + round) % 2 === 0) c.flush();
  }
  t.true(
    peers.every((c) => c.servedBlocks === 64),
    'every block served',
  );
  // At most the cache (2 MiB: 128 pieces), the reads under way, and what the send budget and one block per peer keep in
  // sockets are ever held at once; every image beyond is a reused one. (Dropping the images that came back, as the
  // cache's own rule did, took 4,576 distinct buffers here, one per read: 176 with them kept.)
  const bound = 128 + DEFAULT_SETTINGS.maxConcurrentPieceReads + Math.ceil(total / BLOCK) + peers.length + 8;
  t.true(buffersRead() <= bound, `${buffersRead()} distinct image buffers for ${40 * 64} blocks, bound ${bound}`);
});
