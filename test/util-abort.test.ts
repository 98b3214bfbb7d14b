import test from 'ava';
import v8 from 'node:v8';
import vm from 'node:vm';
import { anySignal, delay } from '../src/util/abort.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

test('anySignal: the timeout fires even when nothing but the combined signal is held, across garbage collections', async (t) => {
  const signals = Array.from({ length: 20 }, () => anySignal([new AbortController().signal], 100));
  for (let i = 0; i < 10; i++) {
    gc();
    await delay(20);
  }
  await delay(100);
  gc();
  t.is(signals.filter((s) => s.aborted).length, signals.length);
  t.is((signals[0]!.reason as Error).name, 'TimeoutError');
});

test('anySignal: a given signal aborts the combined one with its reason; undefined entries are ignored', (t) => {
  const c = new AbortController();
  const s = anySignal([undefined, c.signal]);
  t.false(s.aborted);
  c.abort(new Error('stop'));
  t.true(s.aborted);
  t.is((s.reason as Error).message, 'stop');
});
