/**
 * `peer dht` and `peer kv` as separate processes on loopback, each on its
 * own 127.0.0.N address, the way a user runs them on a LAN.
 */
import test from 'ava';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runPeer, startDht, type DhtProcess } from './dht-cli-helpers.js';
import { peerCommand, REPO_ROOT } from './helpers/bin.js';
import { namespaceKeyPair } from '../src/dht/bep44.js';
import { toHex } from '../src/util/bytes.js';
import { pollUntil } from './helpers/poll.js';

// A random 127.x.y.0/24 block per run, so parallel runs by other helpers do not collide.
const block = `127.${20 + Math.floor(Math.random() * 200)}.${Math.floor(Math.random() * 250)}`;
const host = (n: number): string => `${block}.${n}`;

let dir: string;
let nodes: DhtProcess[] = [];

test.before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kv-cli-'));
  const first = await startDht(['--host', host(1), '--state', join(dir, 'n1')]);
  nodes = [first];
  const rest = await Promise.all([2, 3, 4].map((n) => startDht(['--host', host(n), '--state', join(dir, `n${n}`), '--bootstrap', `${first.host}:${first.port}`])));
  nodes.push(...rest);
});

test.after.always(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  await rm(dir, { recursive: true, force: true });
});

const via = (n: number, client: number): string[] => ['--host', host(client), '--bootstrap', `${nodes[n]!.host}:${nodes[n]!.port}`];

test.serial('namespace put on one side, get on the other; a second put raises seq', async (t) => {
  const put = await runPeer(['kv', 'put', 'greeting', 'hello, LAN', '--namespace', 'team', '--json', '--state', join(dir, 'c1'), ...via(1, 10)]);
  t.is(put.code, 0, put.stderr);
  const out = JSON.parse(put.stdout) as { target: string; publicKey: string; seq: number; stored: number };
  t.deepEqual(Object.keys(out), ['target', 'publicKey', 'seq', 'stored']);
  t.is(out.publicKey, toHex(namespaceKeyPair('team').publicKey));
  t.is(out.seq, 0);
  t.true(out.stored >= 3);

  const get = await runPeer(['kv', 'get', 'greeting', '--namespace', 'team', '--json', '--state', join(dir, 'c2'), ...via(2, 11)]);
  t.is(get.code, 0, get.stderr);
  const got = JSON.parse(get.stdout) as Record<string, unknown>;
  t.deepEqual(got, { target: out.target, value: 'hello, LAN', seq: 0, publicKey: out.publicKey });

  const put2 = await runPeer(['kv', 'put', 'greeting', 'hello again', '--namespace', 'team', '--json', '--state', join(dir, 'c3'), ...via(3, 12)]);
  t.is(put2.code, 0, put2.stderr);
  t.is((JSON.parse(put2.stdout) as { seq: number }).seq, 1);
  const get2 = await runPeer(['kv', 'get', 'greeting', '--namespace', 'team', ...via(0, 13), '--state', join(dir, 'c2')]);
  t.is(get2.code, 0, get2.stderr);
  t.is(get2.stdout, 'hello again\n');
});

test.serial('--identity put is readable with --owner; the key file is private', async (t) => {
  const state = join(dir, 'me');
  const put = await runPeer(['kv', 'put', 'status', 'online', '--identity', '--json', '--state', state, ...via(0, 20)]);
  t.is(put.code, 0, put.stderr);
  const { publicKey } = JSON.parse(put.stdout) as { publicKey: string };
  t.regex(publicKey, /^[0-9a-f]{64}$/);
  t.is((await stat(join(state, 'dht-identity.pem'))).mode & 0o777, 0o600);
  const get = await runPeer(['kv', 'get', 'status', '--owner', publicKey, '--json', '--state', join(dir, 'other'), ...via(2, 21)]);
  t.is(get.code, 0, get.stderr);
  t.like(JSON.parse(get.stdout), { value: 'online', publicKey });
  // Another identity reading the same key finds nothing: only the owner can write there.
  const miss = await runPeer(['kv', 'get', 'status', '--state', join(dir, 'other'), ...via(2, 22)]);
  t.is(miss.code, 1);
  t.regex(miss.stderr, /not found/);
});

test.serial('immutable put and get by target', async (t) => {
  const put = await runPeer(['kv', 'put', '--immutable', 'content-addressed', '--json', '--state', join(dir, 'c1'), ...via(3, 30)]);
  t.is(put.code, 0, put.stderr);
  const out = JSON.parse(put.stdout) as { target: string; publicKey: null; seq: null };
  t.is(out.publicKey, null);
  t.is(out.seq, null);
  const get = await runPeer(['kv', 'get', '--immutable', out.target, '--json', '--state', join(dir, 'c1'), ...via(1, 31)]);
  t.is(get.code, 0, get.stderr);
  t.deepEqual(JSON.parse(get.stdout), { target: out.target, value: 'content-addressed', seq: null, publicKey: null });
});

test.serial('kv put takes the value from stdin when it is not given (echo v | peer kv put key)', async (t) => {
  const put = await runPeer(['kv', 'put', 'piped', '--namespace', 'team', '--json', '--state', join(dir, 'c1'), ...via(1, 12)], 60_000, 'from stdin\n');
  t.is(put.code, 0, put.stderr);
  const get = await runPeer(['kv', 'get', 'piped', '--namespace', 'team', '--json', '--state', join(dir, 'c2'), ...via(2, 13)]);
  t.is(get.code, 0, get.stderr);
  t.is(JSON.parse(get.stdout).value, 'from stdin');
});

test.serial('usage errors exit 2 with a clear message', async (t) => {
  const big = await runPeer(['kv', 'put', 'k', 'x'.repeat(1200), '--namespace', 'team', '--state', join(dir, 'c1'), ...via(0, 40)]);
  t.is(big.code, 2);
  t.regex(big.stderr, /at most 1000 bytes/);
  // No bootstrap, no LSD (--no-lsd: nothing multicast off this machine) and no daemon at this address: nothing to ask.
  const noBootstrap = await runPeer(['kv', 'get', 'k', '--namespace', 'team', '--state', join(dir, 'c1'), '--no-lsd', '--host', '127.0.0.251']);
  t.is(noBootstrap.code, 2);
  t.regex(noBootstrap.stderr, /--bootstrap/);
  const badOwner = await runPeer(['kv', 'get', 'k', '--owner', 'abc', '--state', join(dir, 'c1'), ...via(0, 41)]);
  t.is(badOwner.code, 2);
  const unknown = await runPeer(['kv', 'put', 'k', 'v', '--frobnicate', ...via(0, 42)]);
  t.is(unknown.code, 2);
});

test.serial('peer dht saves its routing table on SIGTERM and comes back with the same id', async (t) => {
  const state = join(dir, 'restart');
  const a = await startDht(['--host', host(50), '--state', state, '--bootstrap', `${nodes[0]!.host}:${nodes[0]!.port}`]);
  // Wait (bounded) until it has joined.
  await pollUntil(() => a.lines.some((l) => l.includes('"ready"')), 'the node to join', 10_000, 100).catch(() => undefined);
  t.is(await a.stop(), 0);
  t.true(a.lines.some((l) => l.includes('"stopped"')));
  t.true((await stat(join(state, 'dht-routing.json'))).size > 0);
  const b = await startDht(['--host', host(50), '--state', state]);
  t.teardown(() => b.stop());
  t.is(b.nodeId, a.nodeId);
  // With no --bootstrap it still reaches the network through its saved table.
  const ready = await pollUntil(() => b.lines.find((l) => l.includes('"ready"')), 'the restarted node to join', 10_000, 100).catch(() => undefined);
  t.true(ready !== undefined && (JSON.parse(ready) as { nodes: number }).nodes >= 3);
});

test('kv refuses options that only long-running commands use, with exit 2 and the option named', async (t) => {
  const { spawnSync } = await import('node:child_process');
  const r = spawnSync(process.execPath, peerCommand(['kv', 'get', 'k', '--bootstrap', '127.0.0.1:9', '--api']), {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 30_000,
  });
  t.is(r.status, 2);
  t.regex(r.stderr, /does not use --api/);
});
