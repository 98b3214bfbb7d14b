import test from 'ava';
import { EventEmitter } from 'node:events';
import { Choker, type ChokeCandidate } from '../src/picker/choker.js';
import { Choking } from '../src/session/choking.js';
import type { PeerConnection } from '../src/peer/connection.js';
import { Bitfield } from '../src/util/bitfield.js';
import { DEFAULT_SETTINGS } from '../src/settings.js';

// Peer 1 gives us nothing and has the fewest pieces; 2..5 give us more the higher their id.
const peers = (): ChokeCandidate[] => [
  { id: 1, interested: true, downloadRate: 0, uploadRate: 0, isSeed: false, pieces: 3 },
  { id: 2, interested: true, downloadRate: 200, uploadRate: 0, isSeed: false, pieces: 50 },
  { id: 3, interested: true, downloadRate: 300, uploadRate: 0, isSeed: false, pieces: 60 },
  { id: 4, interested: true, downloadRate: 400, uploadRate: 0, isSeed: false, pieces: 70 },
  { id: 5, interested: true, downloadRate: 500, uploadRate: 0, isSeed: false, pieces: 80 },
];
// random() close to 1: the optimistic pick is the last of the rest, never peer 1.
const high = (): number => 0.99;

test('leeching, a laggard slot goes to the interested peer furthest behind, the others to the fastest uploaders', (t) => {
  const c = new Choker({ slots: 3, optimisticEveryRounds: 3, laggardSlots: 1, random: high });
  const set = c.round(peers(), false);
  t.true(set.has(5) && set.has(4), 'the two fastest uploaders to us');
  t.true(set.has(1), 'the peer with the fewest pieces, though it gives us nothing');
  t.is(set.size, 4, 'plus one optimistic');
  // Without the laggard slot, pure tit-for-tat leaves it choked.
  const plain = new Choker({ slots: 3, optimisticEveryRounds: 3, random: high });
  t.false(plain.round(peers(), false).has(1));
});

test('seeding, the laggard slot changes nothing (the seed ranks by fewest pieces already)', (t) => {
  const c = new Choker({ slots: 2, optimisticEveryRounds: 3, laggardSlots: 1, random: high });
  const set = c.round(peers(), true);
  t.true(set.has(1) && set.has(2), 'the two furthest behind');
  t.is(set.size, 3);
});

class FakeConn extends EventEmitter {
  amChoking = true;
  peerInterested = true;
  fast = true;
  closed = false;
  handshaken = true;
  readonly downloadRate = { rate: (): number => 0 };
  readonly uploadRate = { rate: (): number => 0 };
  constructor(
    readonly id: number,
    readonly bits: Bitfield,
  ) {
    super();
  }
  send(): void {}
  unchoke(): void {
    this.amChoking = false;
  }
  choke(): void {
    this.amChoking = true;
  }
}

const withPieces = (n: number): Bitfield => {
  const b = new Bitfield(100);
  for (let i = 0; i < n; i++) b.set(i);
  return b;
};

test('a slot that frees between rounds goes to the waiting peer furthest behind', (t) => {
  for (let trial = 0; trial < 20; trial++) {
    const busy = new FakeConn(1, withPieces(50));
    const others = [new FakeConn(2, withPieces(90)), new FakeConn(3, withPieces(10)), new FakeConn(4, withPieces(60))];
    const conns = [busy, ...others];
    const ch = new Choking({ settings: { ...DEFAULT_SETTINGS, unchokeSlots: 0 }, connections: () => conns as unknown as PeerConnection[] });
    // One slot (0 regular + the optimistic's), taken by peer 1.
    ch.attach(busy as unknown as PeerConnection);
    busy.emit('peer:interested');
    t.false(busy.amChoking);
    busy.peerInterested = false;
    busy.emit('peer:not-interested');
    t.deepEqual(
      others.filter((c) => !c.amChoking).map((c) => c.id),
      [3],
      'the peer with 10 pieces',
    );
  }
});
