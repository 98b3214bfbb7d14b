import test from 'ava';
import { TokenBucket } from '../src/util/token-bucket.js';

test('a bucket lets through its rate per second and refills with time', (t) => {
  let now = 0;
  const b = new TokenBucket(1000, () => now);
  t.true(b.take(600));
  t.false(b.take(600), 'only 400 left');
  t.is(b.msUntil(600), 200);
  now += 200;
  t.true(b.take(600));
  now += 10_000;
  t.is(b.available(), 1000, 'burst is capped at one second');
});

test('rate 0 is unlimited and the rate changes at run time', (t) => {
  let now = 0;
  const b = new TokenBucket(0, () => now);
  t.true(b.take(1e12));
  t.is(b.available(), Infinity);
  b.setRate(100);
  t.true(b.available() <= 100);
  now += 1000;
  t.is(b.available(), 100);
});
