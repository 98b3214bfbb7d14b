import test from 'ava';
import { EventEmitter } from 'node:events';
import { SeedSpread } from '../src/picker/seed-spread.js';
import { Choking } from '../src/session/choking.js';
import type { PeerConnection } from '../src/peer/connection.js';
import { Bitfield } from '../src/util/bitfield.js';
import { DEFAULT_SETTINGS } from '../src/settings.js';

function rng(seed = 1): () => number {
  return () => (seed = (seed * 16807) % 2147483647) / 2147483647;
}
const bits = (n: number, ones: number[] = []): Bitfield => {
  const b = new Bitfield(n);
  for (const i of ones) b.set(i);
  return b;
};
function spread(pieceCount: number, avail: number[] = [], assignMs = 3000): SeedSpread {
  return new SeedSpread({ pieceCount, availability: (i) => avail[i] ?? 0, assignMs, random: rng() });
}

test('leechers unchoked together are suggested disjoint pieces, none that a peer already has', (t) => {
  const n = 64;
  const avail = new Array<number>(n).fill(0);
  for (const i of [1, 2, 3]) avail[i] = 1; // one leecher has these
  const s = spread(n, avail);
  const seen = new Set<number>();
  for (let peer = 1; peer <= 5; peer++) {
    const got = s.suggest(peer, bits(n, [1, 2, 3].filter(() => peer === 1)), 10, 0);
    t.is(got.length, 10);
    for (const i of got) {
      t.false(seen.has(i), `piece ${i} suggested twice`);
      t.false([1, 2, 3].includes(i), `piece ${i} is already in the swarm`);
      seen.add(i);
    }
  }
});

test('a piece the seed already served goes to nobody else while pieces it never served remain', (t) => {
  const n = 8;
  const s = spread(n);
  // Peer 1 asked for pieces 0..5 on its own (no suggestion): they left the seed once.
  for (let i = 0; i < 6; i++) t.true(s.requested(1, i));
  t.false(s.requested(1, 0), 'a second block of the same piece is not a second copy');
  t.is(s.servedOnce, 6);
  t.true(s.requested(2, 0));
  t.is(s.earlyRepeats, 1, 'piece 0 went out twice before pieces 6 and 7 went out once');
  t.deepEqual(s.suggest(2, bits(n), 2, 0).sort(), [6, 7]);
  // Both remaining pieces are with peer 2 now; peer 3 gets the least served of the rest.
  const third = s.suggest(3, bits(n), 1, 0);
  t.is(third.length, 1);
  t.true(third[0]! < 6);
});

test('asking for a suggested piece frees room for exactly one more suggestion', (t) => {
  const n = 32;
  const s = spread(n);
  const first = s.suggest(1, bits(n), 4, 0);
  t.is(first.length, 4);
  t.deepEqual(s.suggest(1, bits(n), 4, 0), [], 'topped up already');
  t.true(s.requested(1, first[0]!));
  const more = s.suggest(1, bits(n), 4, 0);
  t.is(more.length, 1);
  t.false(first.includes(more[0]!));
  t.is(s.assigned(1).size, 4);
});

test('a choked peer, or one that let assignMs pass without asking, gives its suggestions back', (t) => {
  const n = 4;
  const s = spread(n, [], 1000);
  t.is(s.suggest(1, bits(n), 2, 0).length, 2);
  t.is(s.suggest(2, bits(n), 4, 0).length, 2, 'only the two unsuggested pieces are free');
  s.release(2);
  t.is(s.assigned(2).size, 0);
  t.is(s.suggest(3, bits(n), 4, 500).length, 2, "peer 1's are still held");
  t.is(s.suggest(4, bits(n), 4, 1400).length, 2, "peer 1's expired after 1000 ms, peer 3's not yet");
  t.is(s.assigned(1).size, 0);
});

test('a suggested piece the peer got elsewhere is replaced by one it lacks', (t) => {
  const n = 6;
  const s = spread(n);
  const got = s.suggest(1, bits(n), 2, 0);
  const next = s.suggest(1, bits(n, [got[0]!]), 2, 0);
  t.is(next.length, 1);
  t.not(next[0], got[0]);
  t.deepEqual([...s.assigned(1)].sort(), [got[1]!, next[0]!].sort());
});

test('out-of-range requests are ignored', (t) => {
  const s = spread(4);
  t.false(s.requested(1, 4));
  t.false(s.requested(1, -1));
  t.is(s.servedOnce, 0);
});

// --- the session side: suggestions ride ahead of the unchoke ---------------------

class FakeConn extends EventEmitter {
  amChoking = true;
  peerInterested = false;
  fast = true;
  closed = false;
  handshaken = true;
  readonly sent: string[] = [];
  readonly downloadRate = { rate: (): number => 0 };
  readonly uploadRate = { rate: (): number => 0 };
  constructor(
    readonly id: number,
    readonly bits: Bitfield,
  ) {
    super();
  }
  send(msg: { type: string; index?: number }): void {
    this.sent.push(msg.type === 'suggest' ? `suggest ${msg.index}` : msg.type);
  }
  unchoke(): void {
    if (!this.amChoking) return;
    this.amChoking = false;
    this.sent.push('unchoke');
  }
  choke(): void {
    if (this.amChoking) return;
    this.amChoking = true;
    this.sent.push('choke');
  }
}

function choking(conns: FakeConn[], seeding: boolean): Choking {
  const settings = { ...DEFAULT_SETTINGS, seedSuggestBlocks: 8, blockBytes: 16 * 1024 }; // on here (off by default)
  return new Choking({
    settings,
    connections: () => conns as unknown as PeerConnection[],
    spread: { pieceCount: 64, pieceLength: 32 * 1024, settings, availability: () => 0, seeding: () => seeding, clock: () => 0 },
  });
}

test('seeding, an interested BEP 6 leecher gets its suggestions before the unchoke, and one more per new piece it asks for', (t) => {
  const a = new FakeConn(1, bits(64));
  const b = new FakeConn(2, bits(64));
  const ch = choking([a, b], true);
  ch.attach(a as unknown as PeerConnection);
  ch.attach(b as unknown as PeerConnection);
  a.peerInterested = true;
  a.emit('peer:interested');
  b.peerInterested = true;
  b.emit('peer:interested');
  // 8 blocks of 16 KiB in pieces of 32 KiB: 4 pieces each, then the unchoke.
  t.deepEqual(a.sent.slice(4), ['unchoke']);
  t.true(a.sent.slice(0, 4).every((m) => m.startsWith('suggest ')));
  const pa = a.sent.slice(0, 4).map((m) => Number(m.split(' ')[1]));
  const pb = b.sent.slice(0, 4).map((m) => Number(m.split(' ')[1]));
  t.is(new Set([...pa, ...pb]).size, 8, 'no piece suggested to both');
  a.emit('peer:request', { index: pa[0], begin: 0, length: 16 * 1024 });
  a.emit('peer:request', { index: pa[0], begin: 16 * 1024, length: 16 * 1024 });
  t.is(a.sent.length, 6, 'one more suggestion for the one new piece');
  t.regex(a.sent[5]!, /^suggest /);
});

test('no suggestions while leeching, or to a peer without the fast extension', (t) => {
  const a = new FakeConn(1, bits(64));
  const ch = choking([a], false);
  ch.attach(a as unknown as PeerConnection);
  a.peerInterested = true;
  a.emit('peer:interested');
  t.deepEqual(a.sent, ['unchoke']);
  const b = new FakeConn(2, bits(64));
  b.fast = false;
  const ch2 = choking([b], true);
  ch2.attach(b as unknown as PeerConnection);
  b.peerInterested = true;
  b.emit('peer:interested');
  t.deepEqual(b.sent, ['unchoke']);
});
