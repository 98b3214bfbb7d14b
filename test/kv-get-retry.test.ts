/**
 * `peer kv get` asks again when its lookup heard no node at all and its
 * nodes came from the LAN (src/cli/kv.ts askAgainWhileUnheard): on a LAN of
 * 100 daemons on two cores they answered after the query timeout, and a get
 * said "no DHT node answered" while the value was there. Nodes named with
 * --bootstrap are asked once.
 */
import test from 'ava';
import { askAgainWhileUnheard } from '../src/cli/kv.js';

function lookups(answers: string[]): { lookup: () => Promise<string>; calls: () => number } {
  let n = 0;
  return { lookup: async () => answers[Math.min(n++, answers.length - 1)]!, calls: () => n };
}

test('LAN nodes unheard: asked again, up to twice, until one answers', async (t) => {
  const l = lookups(['unheard', 'unheard', 'found']);
  t.is(await askAgainWhileUnheard({ bootstrap: [] }, l.lookup, (r) => r === 'unheard', 5), 'found');
  t.is(l.calls(), 3);
  const never = lookups(['unheard']);
  t.is(await askAgainWhileUnheard({ bootstrap: [] }, never.lookup, (r) => r === 'unheard', 5), 'unheard');
  t.is(never.calls(), 3, 'three lookups in all, then the answer is "no DHT node answered"');
});

test('an answer (found or not found) is final; --bootstrap nodes are asked once', async (t) => {
  const heard = lookups(['not-found', 'found']);
  t.is(await askAgainWhileUnheard({ bootstrap: [] }, heard.lookup, (r) => r === 'unheard', 5), 'not-found');
  t.is(heard.calls(), 1);
  const named = lookups(['unheard', 'found']);
  t.is(await askAgainWhileUnheard({ bootstrap: [{ host: '10.0.0.1', port: 6881 }] }, named.lookup, (r) => r === 'unheard', 5), 'unheard');
  t.is(named.calls(), 1);
});
