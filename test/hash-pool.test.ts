import test from 'ava';
import { createHash } from 'node:crypto';
import { HashPool } from '../src/util/hash-pool.js';
import { pollUntil } from './helpers/poll.js';

const sha1 = (b: Uint8Array): Buffer => createHash('sha1').update(b).digest();

test('hashPieces transfers an ordinary buffer and hands the same bytes back with one digest per piece', async (t) => {
  const pool = new HashPool({ threads: 2 });
  t.teardown(() => pool.close());
  const data = new Uint8Array(2500).map((_, i) => i & 0xff);
  const copy = Buffer.from(data);
  const r = await pool.hashPieces(data, 1000);
  t.is(data.byteLength, 0, 'the caller view was transferred (detached)');
  t.true(Buffer.from(r.buf).equals(copy));
  t.is(r.digests.length, 60);
  t.deepEqual(Buffer.from(r.digests.subarray(40, 60)), sha1(copy.subarray(2000)), 'the short last piece');
});

test('a view on a SharedArrayBuffer is read in place and comes back as the same view', async (t) => {
  const pool = new HashPool({ threads: 1 });
  t.teardown(() => pool.close());
  const view = new Uint8Array(new SharedArrayBuffer(4096), 1024, 3000).fill(7);
  const r = await pool.hashPieces(view, 1000);
  t.is(r.buf, view);
  t.is(view.length, 3000, 'not detached');
  t.deepEqual(Buffer.from(r.digests.subarray(40, 60)), sha1(Buffer.alloc(1000, 7)));
});

test('sha1() copies, so the caller keeps its buffer; close() is idempotent and refuses later work', async (t) => {
  const pool = new HashPool({ threads: 1 });
  const data = Buffer.from('abc');
  t.deepEqual(Buffer.from(await pool.sha1(data)), sha1(data));
  t.is(data.length, 3);
  await pool.close();
  await pool.close();
  await t.throwsAsync(pool.hashPieces(new Uint8Array(4), 4), { message: /closed/ });
});

test('idle workers are ended and come back for the next job', async (t) => {
  const pool = new HashPool({ threads: 2, idleMs: 50 });
  t.teardown(() => pool.close());
  t.is(pool.workerCount, 0, 'no threads before the first job');
  await pool.sha1(Buffer.from('x'));
  t.is(pool.workerCount, 2);
  await pollUntil(() => pool.workerCount === 0, 'the idle workers to end', 5000, 20).catch(() => undefined);
  t.is(pool.workerCount, 0, 'ended after the idle period');
  t.deepEqual(Buffer.from(await pool.sha1(Buffer.from('abc'))), sha1(Buffer.from('abc')));
});
