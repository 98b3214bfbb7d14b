import test from 'ava';
import { PieceSlab } from '../src/util/piece-slab.js';
import { HashPool } from '../src/util/hash-pool.js';
import { createHash } from 'node:crypto';

test('slots are handed out once, returned, and fall back to undefined when exhausted', (t) => {
  const slab = new PieceSlab(1024, 2);
  const a = slab.acquire(1024)!;
  const b = slab.acquire(100)!;
  t.is(b.length, 100);
  t.is(slab.acquire(10), undefined, 'all slots taken');
  t.is(slab.acquire(2048), undefined, 'larger than a slot');
  t.true(slab.owns(a));
  t.false(slab.owns(new Uint8Array(4)));
  slab.release(a);
  t.is(slab.inUse, 1);
  const c = slab.acquire(1024)!;
  t.is(c.byteOffset, a.byteOffset, 'the freed slot is reused');
});

test('the hash pool reads a slab slot in place and returns the same view', async (t) => {
  const pool = new HashPool({ threads: 1 });
  t.teardown(() => pool.close());
  const slab = new PieceSlab(4096, 2);
  const view = slab.acquire(3000)!;
  view.fill(7);
  const r = await pool.hashPieces(view, 1000);
  t.is(r.buf, view);
  t.is(view.length, 3000, 'not detached');
  const expected = createHash('sha1').update(Buffer.alloc(1000, 7)).digest();
  t.deepEqual(Buffer.from(r.digests.subarray(40, 60)), expected);
});
