import test from 'ava';
import { HaveBatch, type HaveTarget } from '../src/session/have-batch.js';
import { Bitfield } from '../src/util/bitfield.js';

class Peer implements HaveTarget {
  amChoking = true;
  closed = false;
  readonly bits = new Bitfield(16);
  readonly got: number[] = [];
  constructor(readonly id: number) {}
  have(index: number): void {
    this.got.push(index);
  }
}

function rig(batchMs = 100, unchokedBatchMs?: number) {
  const peers = new Map<number, Peer>();
  const timers: Array<{ fn: () => void; ms: number; cancelled: boolean }> = [];
  const batch = new HaveBatch({
    batchMs,
    ...(unchokedBatchMs === undefined ? {} : { unchokedBatchMs }),
    connection: (id) => peers.get(id),
    setTimer: (fn, ms) => {
      const t = { fn, ms, cancelled: false };
      timers.push(t);
      return () => void (t.cancelled = true);
    },
  });
  const peer = (id: number): Peer => {
    const p = new Peer(id);
    peers.set(id, p);
    return p;
  };
  const fire = (): void => {
    for (const t of timers.splice(0)) if (!t.cancelled) t.fn();
  };
  return { batch, peer, timers, fire };
}

test('a peer we choke hears of our pieces only with the next batch, all of them together', (t) => {
  const { batch, peer, timers, fire } = rig();
  const b = peer(2);
  batch.announce(b, 3, false);
  batch.announce(b, 5, false);
  t.deepEqual(b.got, [], 'nothing sent per piece');
  t.is(timers.filter((x) => !x.cancelled).length, 1, 'one timer for the batch');
  t.is(timers[0]!.ms, 100);
  fire();
  t.deepEqual(b.got, [3, 5]);
});

test('unchokedBatchMs 0 (the default): a peer we unchoke hears at once; so does everyone when the piece completes us', (t) => {
  const { batch, peer } = rig();
  const a = peer(1);
  a.amChoking = false;
  const b = peer(2);
  batch.announce(a, 1, false);
  t.deepEqual(a.got, [1]);
  batch.announce(b, 1, false);
  batch.announce(b, 2, true);
  t.deepEqual(b.got, [2], 'the last piece goes out at once');
  batch.flush();
  t.deepEqual(b.got, [2, 1], 'and the caller flushes the rest with it');
});

test('a piece the peer got meanwhile, a closed or forgotten peer: nothing sent', (t) => {
  const { batch, peer, fire } = rig();
  const b = peer(2);
  const c = peer(3);
  const d = peer(4);
  batch.announce(b, 4, false);
  batch.announce(b, 6, false);
  batch.announce(c, 4, false);
  batch.announce(d, 4, false);
  b.bits.set(4);
  c.closed = true;
  batch.forget(4);
  t.deepEqual(batch.waiting(4), []);
  fire();
  t.deepEqual(b.got, [6]);
  t.deepEqual(c.got, []);
  t.deepEqual(d.got, []);
});

test('batchMs 0 sends every have at once; after stop nothing is sent', (t) => {
  const off = rig(0);
  const b = off.peer(2);
  off.batch.announce(b, 7, false);
  t.deepEqual(b.got, [7]);
  t.is(off.timers.length, 0);
  const on = rig();
  const c = on.peer(2);
  on.batch.announce(c, 1, false);
  on.batch.stop();
  on.fire();
  on.batch.announce(c, 2, false);
  t.deepEqual(c.got, []);
});

test('with unchokedBatchMs, a peer we unchoke hears with its own shorter batch; completing sends everything at once', (t) => {
  const { batch, peer, timers, fire } = rig(100, 20);
  const a = peer(1);
  a.amChoking = false;
  const b = peer(2);
  batch.announce(a, 1, false);
  batch.announce(a, 2, false);
  batch.announce(b, 1, false);
  t.deepEqual(a.got, [], 'nothing sent per piece to the unchoked peer either');
  t.deepEqual(
    timers.map((x) => x.ms).sort((x, y) => x - y),
    [20, 100],
    'one timer per kind of peer',
  );
  timers.find((x) => x.ms === 20)!.fn();
  t.deepEqual(a.got, [1, 2], 'the unchoked batch leaves on its own timer');
  t.deepEqual(b.got, [], 'the choked one still waits');
  t.deepEqual(batch.waiting(2), [1]);
  batch.announce(a, 3, false);
  batch.announce(b, 4, true);
  t.deepEqual(b.got, [4], 'the completing piece goes at once');
  batch.flush();
  t.deepEqual(a.got, [1, 2, 3]);
  t.deepEqual(b.got, [4, 1]);
  fire();
  t.deepEqual(a.got, [1, 2, 3], 'nothing sent twice');
});
