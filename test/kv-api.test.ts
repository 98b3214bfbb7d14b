/**
 * The KV routes of the API (/api/kv, /api/kv/:key) over a real Session whose
 * DHT node joins in-process nodes on loopback: put (republished, cas), get
 * with a status, delete, list, big values, and the answers when no node is
 * reachable.
 */
import test from 'ava';
import path from 'node:path';
import { Session } from '../src/session/session.js';
import { DhtNode } from '../src/dht/node.js';
import { resolveSettings } from '../src/settings.js';
import { silentLogger } from '../src/log.js';
import { namespaceKeyPair } from '../src/dht/bep44.js';
import { toHex } from '../src/util/bytes.js';
import { tempDir } from './helpers/swarm.js';
import { request, startApi } from './api-fixtures.js';

const json = { 'Content-Type': 'application/json' };

async function daemonOnDht(t: Parameters<typeof tempDir>[0], bootstrap: { host: string; port: number }[]) {
  const dir = await tempDir(t, 'kv-api-');
  const session = new Session({
    settings: resolveSettings({ host: '127.0.0.1', port: 0, dhtQueryTimeoutMs: 2000 }),
    stateDir: path.join(dir, 'state'),
    logger: silentLogger,
    useTrackers: false,
    dht: { bootstrap },
  });
  await session.start();
  t.teardown(() => session.stop());
  await session.dht!.ready();
  const api = await startApi(t, session, dir);
  return { session, port: api.port };
}

test('put, get with a status, big values, cas, delete and list through the API', async (t) => {
  const first = new DhtNode({ host: '127.0.0.1', port: 0, logger: silentLogger, settings: { dhtQueryTimeoutMs: 2000 } });
  await first.start();
  const nodes = [first];
  t.teardown(() => Promise.all(nodes.map((n) => n.stop({ leave: false } as never))));
  for (let i = 0; i < 5; i++) {
    const n = new DhtNode({ host: '127.0.0.1', port: 0, bootstrap: [first.address], logger: silentLogger, settings: { dhtQueryTimeoutMs: 2000 } });
    await n.start();
    await n.ready();
    nodes.push(n);
  }
  const { session, port } = await daemonOnDht(t, [first.address]);

  const put = await request(port, { method: 'PUT', path: '/api/kv/greeting?namespace=lab', headers: json, body: JSON.stringify({ value: 'hello' }) });
  t.is(put.status, 200, put.text);
  const putBody = put.json() as { result: { seq: number; stored: number; republished: boolean; indexed: boolean; publicKey: string } };
  t.is(putBody.result.seq, 0);
  t.true(putBody.result.stored >= 1);
  t.true(putBody.result.republished, 'API puts are republished');
  t.true(putBody.result.indexed);
  t.is(putBody.result.publicKey, toHex(namespaceKeyPair('lab').publicKey));
  t.true(session.dht!.stats().publishing >= 2); // the value and the namespace's index

  const got = await request(port, { path: '/api/kv/greeting?namespace=lab' });
  t.is(got.status, 200, got.text);
  t.like(got.json(), { key: 'greeting', namespace: 'lab', status: 'found', result: { value: 'hello', seq: 0 } });

  const big = 'x'.repeat(40_000) + 'é';
  const bigPut = await request(port, { method: 'PUT', path: '/api/kv/big?namespace=lab', headers: { 'Content-Type': 'text/plain' }, body: big });
  t.is(bigPut.status, 200, bigPut.text);
  t.is((await request(port, { path: '/api/kv/big?namespace=lab' })).json().result.value, big);

  const stale = await request(port, { method: 'PUT', path: '/api/kv/greeting?namespace=lab', headers: json, body: JSON.stringify({ value: 'nope', cas: 7 }) });
  t.is(stale.status, 409, stale.text);
  t.regex(stale.json().error, /compare-and-swap/);
  const swapped = await request(port, { method: 'PUT', path: '/api/kv/greeting?namespace=lab', headers: json, body: JSON.stringify({ value: 'hi', cas: 0 }) });
  t.is(swapped.status, 200, swapped.text);
  t.is(swapped.json().result.seq, 1);
  t.is((await request(port, { method: 'PUT', path: '/api/kv/x', headers: json, body: JSON.stringify({ value: 'v', cas: -1 }) })).status, 400);

  const list = await request(port, { path: '/api/kv?namespace=lab' });
  t.deepEqual(list.json(), { namespace: 'lab', keys: ['big', 'greeting'] });

  const del = await request(port, { method: 'DELETE', path: '/api/kv/greeting?namespace=lab' });
  t.is(del.status, 200, del.text);
  t.is(del.json().result.seq, 2);
  const gone = await request(port, { path: '/api/kv/greeting?namespace=lab' });
  t.is(gone.status, 404);
  t.like(gone.json(), { status: 'deleted' });
  const missing = await request(port, { path: '/api/kv/never-put?namespace=lab' });
  t.is(missing.status, 404);
  t.like(missing.json(), { status: 'not-found' });
  t.deepEqual((await request(port, { path: '/api/kv?namespace=lab' })).json(), { namespace: 'lab', keys: ['big'] });
  t.is((await request(port, { path: '/api/kv?namespace=' })).status, 400);
});

test('a daemon whose DHT reaches no node answers 503 with status "unreachable"', async (t) => {
  const { port } = await daemonOnDht(t, [{ host: '127.0.0.1', port: 9 }]);
  const got = await request(port, { path: '/api/kv/anything?namespace=lab' });
  t.is(got.status, 503, got.text);
  t.like(got.json(), { status: 'unreachable' });
  t.regex(got.json().error, /no DHT node answered/);
  t.is((await request(port, { path: '/api/kv?namespace=lab' })).status, 503);
});
