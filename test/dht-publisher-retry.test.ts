/**
 * ItemPublisher (src/dht/publisher.ts) with a fake network: a part of a big
 * value that no node took on the first try is put once more before the
 * value fails; one that fails twice still fails the value, with nothing
 * written under the key.
 */
import test from 'ava';
import { ItemPublisher, type PublisherContext } from '../src/dht/publisher.js';
import { generateKeyPair, encodeItemValue } from '../src/dht/bep44.js';
import type { KrpcQuery } from '../src/dht/krpc.js';
import { DEFAULT_SETTINGS } from '../src/settings.js';
import { silentLogger } from '../src/log.js';
import { randomBytes } from '../src/util/hash.js';
import { utf8 } from '../src/util/bytes.js';

function publisher(failPutsOf: (q: Extract<KrpcQuery, { q: 'put' }>, n: number) => boolean): { pub: ItemPublisher; puts: KrpcQuery[] } {
  const puts: KrpcQuery[] = [];
  const node = { id: randomBytes(20), host: '127.0.0.1', port: 7000 };
  const ctx: PublisherContext = {
    settings: DEFAULT_SETTINGS,
    log: silentLogger,
    now: () => Date.now(),
    nodeId: () => randomBytes(20),
    lookup: async () => ({ closest: [{ node, response: { id: node.id, token: Uint8Array.of(9) }, hop: 1 }], queried: 1, responded: 1, hops: 1, stoppedEarly: false, stalled: 0 }),
    query: async (_to, q) => {
      if (q.q !== 'put') return { id: node.id };
      puts.push(q);
      if (failPutsOf(q, puts.filter((p) => p.q === 'put' && Buffer.from(p.v).equals(Buffer.from(q.v))).length)) throw new Error('timed out');
      return { id: node.id };
    },
    localItem: () => undefined,
    running: () => true,
    events: { emit: () => true },
  };
  return { pub: new ItemPublisher(ctx), puts };
}

const part = encodeItemValue(utf8('a part of a big value'));
const isPart = (q: Extract<KrpcQuery, { q: 'put' }>): boolean => Buffer.from(q.v).equals(Buffer.from(part));

test('a part whose first put no node took is put again, and the value is written', async (t) => {
  const { pub, puts } = publisher((q, n) => isPart(q) && n === 1);
  const r = await pub.putMutable({ keyPair: generateKeyPair(), salt: utf8('k'), v: utf8('manifest') }, { children: [part], republish: false });
  t.is(r.stored, 1);
  t.is(puts.filter((q) => q.q === 'put' && isPart(q)).length, 2, 'the part was put twice');
});

test('a part no node takes twice fails the value, and nothing is written under the key', async (t) => {
  const { pub, puts } = publisher((q) => isPart(q));
  await t.throwsAsync(pub.putMutable({ keyPair: generateKeyPair(), salt: utf8('k'), v: utf8('manifest') }, { children: [part], republish: false }), { message: /no DHT node took a part/ });
  t.is(puts.filter((q) => q.q === 'put' && isPart(q)).length, 2);
  t.false(puts.some((q) => q.q === 'put' && q.mutable !== undefined), 'no mutable put');
});
