import test from 'ava';
import { WarnLimiter } from '../src/util/warn-limiter.js';
import { isLoopbackHost } from '../src/util/address.js';

test('WarnLimiter writes each key at most once per interval, and bounds the keys it remembers', (t) => {
  let now = 0;
  const lines: string[] = [];
  const w = new WarnLimiter((s) => lines.push(s), { intervalMs: 1000, maxKeys: 2, now: () => now });
  t.true(w.warn('a', 'a1'));
  t.false(w.warn('a', 'a2'));
  t.true(w.warn('b', 'b1'));
  now = 999;
  t.false(w.warn('a', 'a3'));
  now = 1000;
  t.true(w.warn('a', 'a4'));
  t.deepEqual(lines, ['a1', 'b1', 'a4']);
  // A third key clears the memory rather than growing it.
  t.true(w.warn('c', 'c1'));
  t.true(w.warn('b', 'b2'));
});

test('isLoopbackHost: 127/8, ::1, localhost, bracketed and IPv4-mapped forms; nothing else', (t) => {
  for (const h of ['127.0.0.1', '127.9.8.7', '::1', '[::1]', 'localhost', '::ffff:127.0.0.1']) t.true(isLoopbackHost(h), h);
  for (const h of ['10.0.0.1', '0.0.0.0', '::', '128.0.0.1', '::ffff:10.0.0.1', 'example.com']) t.false(isLoopbackHost(h), h);
});
