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
import { spawn } from 'node:child_process';

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
  t.deepEqual(got, { target: out.target, value: 'hello, LAN', seq: 0, publicKey: out.publicKey, status: 'found' });

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
  t.deepEqual(JSON.parse(get.stdout), { target: out.target, value: 'content-addressed', seq: null, publicKey: null, status: 'found' });
});

test.serial('kv put takes the value from stdin when it is not given (echo v | peer kv put key)', async (t) => {
  const put = await runPeer(['kv', 'put', 'piped', '--namespace', 'team', '--json', '--state', join(dir, 'c1'), ...via(1, 12)], 60_000, 'from stdin\n');
  t.is(put.code, 0, put.stderr);
  const get = await runPeer(['kv', 'get', 'piped', '--namespace', 'team', '--json', '--state', join(dir, 'c2'), ...via(2, 13)]);
  t.is(get.code, 0, get.stderr);
  t.is(JSON.parse(get.stdout).value, 'from stdin');
});

test.serial('usage errors exit 2 with a clear message', async (t) => {
  const big = await runPeer(['kv', 'put', 'k', 'x'.repeat(64 * 1024 + 1), '--namespace', 'team', '--state', join(dir, 'c1'), ...via(0, 40)]);
  t.is(big.code, 2);
  t.regex(big.stderr, /at most 65536 bytes \(64 KiB\); share a file instead: peer share/);
  const bigImmutable = await runPeer(['kv', 'put', '--immutable', 'x'.repeat(1200), '--state', join(dir, 'c1'), ...via(0, 40)]);
  t.is(bigImmutable.code, 2);
  t.regex(bigImmutable.stderr, /at most 1000 bytes/);
  const badCas = await runPeer(['kv', 'put', 'k', 'v', '--cas', 'x', '--namespace', 'team', ...via(0, 40)]);
  t.is(badCas.code, 2);
  t.regex(badCas.stderr, /--cas/);
  // No bootstrap, no LSD (--no-lsd: nothing multicast off this machine) and no daemon at this address: nothing to ask.
  const noBootstrap = await runPeer(['kv', 'get', 'k', '--namespace', 'team', '--state', join(dir, 'c1'), '--no-lsd', '--host', '127.0.0.251']);
  t.is(noBootstrap.code, 2);
  t.regex(noBootstrap.stderr, /--bootstrap/);
  // --json says it too, as one object with a status.
  const noBootstrapJson = await runPeer(['kv', 'get', 'k', '--namespace', 'team', '--json', '--state', join(dir, 'c1'), '--no-lsd', '--host', '127.0.0.251']);
  t.is(noBootstrapJson.code, 2);
  t.like(JSON.parse(noBootstrapJson.stdout), { status: 'unreachable', value: null, publicKey: toHex(namespaceKeyPair('team').publicKey) });
  t.regex(noBootstrapJson.stderr, /local service discovery is off \(--no-lsd\)/);
  const badOwner = await runPeer(['kv', 'get', 'k', '--owner', 'abc', '--state', join(dir, 'c1'), ...via(0, 41)]);
  t.is(badOwner.code, 2);
  const unknown = await runPeer(['kv', 'put', 'k', 'v', '--frobnicate', ...via(0, 42)]);
  t.is(unknown.code, 2);
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

test.serial('a 16 KiB value from stdin and a 64 KiB one round-trip between machines', async (t) => {
  const mid = 'é'.repeat(8 * 1024); // 16 KiB of UTF-8
  const put = await runPeer(['kv', 'put', 'mid', '--namespace', 'big', '--json', '--state', join(dir, 'c1'), ...via(1, 60)], 60_000, mid + '\n');
  t.is(put.code, 0, put.stderr);
  const get = await runPeer(['kv', 'get', 'mid', '--namespace', 'big', '--json', '--state', join(dir, 'c2'), ...via(2, 61)]);
  t.is(get.code, 0, get.stderr);
  t.is(JSON.parse(get.stdout).value, mid);
  const max = 'z'.repeat(64 * 1024);
  const put2 = await runPeer(['kv', 'put', 'max', max, '--namespace', 'big', '--state', join(dir, 'c1'), ...via(3, 62)]);
  t.is(put2.code, 0, put2.stderr);
  const get2 = await runPeer(['kv', 'get', 'max', '--namespace', 'big', '--state', join(dir, 'c2'), ...via(0, 63)]);
  t.is(get2.code, 0, get2.stderr);
  t.is(get2.stdout, max + '\n');
});

test.serial('del makes get say "deleted" (exit 1, status in --json); list follows put and del', async (t) => {
  for (const k of ['alpha', 'beta']) {
    const r = await runPeer(['kv', 'put', k, `value of ${k}`, '--namespace', 'listing', '--state', join(dir, 'c1'), ...via(1, 70)]);
    t.is(r.code, 0, r.stderr);
  }
  const list = await runPeer(['kv', 'list', '--namespace', 'listing', '--json', '--state', join(dir, 'c2'), ...via(2, 71)]);
  t.is(list.code, 0, list.stderr);
  t.like(JSON.parse(list.stdout), { namespace: 'listing', keys: ['alpha', 'beta'], publicKey: toHex(namespaceKeyPair('listing').publicKey) });
  const del = await runPeer(['kv', 'del', 'alpha', '--namespace', 'listing', '--state', join(dir, 'c1'), ...via(3, 72)]);
  t.is(del.code, 0, del.stderr);
  t.regex(del.stdout, /deleted \(a tombstone on \d+ nodes?\)/);
  const get = await runPeer(['kv', 'get', 'alpha', '--namespace', 'listing', '--state', join(dir, 'c2'), ...via(0, 73)]);
  t.is(get.code, 1);
  t.regex(get.stderr, /deleted: "alpha" was deleted/);
  const getJson = await runPeer(['kv', 'get', 'alpha', '--namespace', 'listing', '--json', '--state', join(dir, 'c2'), ...via(0, 74)]);
  t.is(getJson.code, 1);
  t.like(JSON.parse(getJson.stdout), { status: 'deleted', value: null, seq: 1 });
  const missing = await runPeer(['kv', 'get', 'gamma', '--namespace', 'listing', '--json', '--state', join(dir, 'c2'), ...via(0, 75)]);
  t.is(missing.code, 1);
  t.like(JSON.parse(missing.stdout), { status: 'not-found', value: null });
  t.regex(missing.stderr, /not found/);
  const text = await runPeer(['kv', 'list', '--namespace', 'listing', '--state', join(dir, 'c2'), ...via(1, 76)]);
  t.is(text.stdout, 'beta\n');
});

test.serial('put --cas: the right seq replaces, a stale one fails with exit 1 and says why', async (t) => {
  const first = await runPeer(['kv', 'put', 'lock', 'a', '--namespace', 'cas-cli', '--json', '--state', join(dir, 'c1'), ...via(1, 80)]);
  t.is(first.code, 0, first.stderr);
  const seq = (JSON.parse(first.stdout) as { seq: number }).seq;
  const ok = await runPeer(['kv', 'put', 'lock', 'b', '--namespace', 'cas-cli', '--cas', String(seq), '--json', '--state', join(dir, 'c1'), ...via(2, 81)]);
  t.is(ok.code, 0, ok.stderr);
  t.is((JSON.parse(ok.stdout) as { seq: number }).seq, seq + 1);
  const stale = await runPeer(['kv', 'put', 'lock', 'c', '--namespace', 'cas-cli', '--cas', String(seq), '--state', join(dir, 'c1'), ...via(3, 82)]);
  t.is(stale.code, 1);
  t.regex(stale.stderr, /compare-and-swap failed: the stored seq is \d+, not \d+/);
  const get = await runPeer(['kv', 'get', 'lock', '--namespace', 'cas-cli', '--state', join(dir, 'c2'), ...via(0, 83)]);
  t.is(get.stdout, 'b\n');
});

test.serial('an identity put prints the public key another machine passes as --owner; alone, put says when the value expires', async (t) => {
  const state = join(dir, 'owner-text');
  const put = await runPeer(['kv', 'put', 'mood', 'sunny', '--state', state, ...via(1, 90)]);
  t.is(put.code, 0, put.stderr);
  const owner = /public key \(read it elsewhere with --owner\): ([0-9a-f]{64})/.exec(put.stdout)?.[1];
  t.truthy(owner, put.stdout);
  t.regex(put.stderr, /stored once: it expires from the DHT in about 120 minutes .* unless a running peer republishes it/);
  const get = await runPeer(['kv', 'get', 'mood', '--owner', owner!, '--state', join(dir, 'c2'), ...via(2, 91)]);
  t.is(get.stdout, 'sunny\n');
  // A namespace put needs no --owner: no public key line.
  const ns = await runPeer(['kv', 'put', 'mood', 'x', '--namespace', 'team', '--state', state, ...via(1, 92)]);
  t.notRegex(ns.stdout, /public key/);
});

test.serial('get says "no DHT node answered", naming the bootstrap node, when none does (not "not found")', async (t) => {
  const r = await runPeer(['kv', 'get', 'k', '--namespace', 'team', '--json', '--state', join(dir, 'c1'), '--host', host(100), '--bootstrap', `${host(101)}:9`]);
  t.is(r.code, 1);
  t.like(JSON.parse(r.stdout), { status: 'unreachable', value: null });
  t.regex(r.stderr, new RegExp(`no DHT node answered: the --bootstrap node ${host(101).replace(/\./g, '\\.')}:9 did not answer`));
  t.notRegex(r.stderr, /not found/);
});

test.serial('kv put and del go to a running daemon (--api-port), which keeps the value in its list in --state', async (t) => {
  t.timeout(120_000);
  const root = join(dir, 'daemon');
  const proc = spawn(process.execPath, peerCommand(['start', '--torrents', join(root, 'torrents'), '--downloads', join(root, 'downloads'), '--state', join(root, 'state'), '--host', host(110), '--port', '0', '--api', '0', '--no-lsd', '--bootstrap', `${nodes[0]!.host}:${nodes[0]!.port}`]), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  const apiPort = await pollUntil(() => /dashboard: http:\/\/127\.0\.0\.1:(\d+)\//.exec(stderr)?.[1], 'the dashboard line', 60_000, 50);
  // Let the daemon's DHT node join (bounded).
  await pollUntil(async () => ((await (await fetch(`http://127.0.0.1:${apiPort}/api/dht`)).json()) as { nodes?: number }).nodes! >= 2 || undefined, 'the daemon to join the DHT', 30_000, 200).catch(() => undefined);
  const put = await runPeer(['kv', 'put', 'kept', 'by the daemon', '--namespace', 'via-daemon', '--api-port', apiPort, '--json']);
  t.is(put.code, 0, put.stderr);
  t.regex(put.stderr, /handed to the running daemon/);
  t.like(JSON.parse(put.stdout), { publicKey: toHex(namespaceKeyPair('via-daemon').publicKey), seq: 0 });
  const dht = (await (await fetch(`http://127.0.0.1:${apiPort}/api/dht`)).json()) as { publishing?: number };
  t.true((dht.publishing ?? 0) >= 2, JSON.stringify(dht)); // the value and the namespace's index
  const get = await runPeer(['kv', 'get', 'kept', '--namespace', 'via-daemon', '--state', join(dir, 'c2'), ...via(3, 111)]);
  t.is(get.stdout, 'by the daemon\n', get.stderr);
  const del = await runPeer(['kv', 'del', 'kept', '--namespace', 'via-daemon', '--api-port', apiPort]);
  t.is(del.code, 0, del.stderr);
  const gone = await runPeer(['kv', 'get', 'kept', '--namespace', 'via-daemon', '--state', join(dir, 'c2'), ...via(2, 112)]);
  t.is(gone.code, 1);
  t.regex(gone.stderr, /deleted/);
  // A daemon that is not there, named explicitly: exit 1, not a silent store elsewhere.
  const none = await runPeer(['kv', 'put', 'x', 'y', '--namespace', 'via-daemon', '--api-port', '9']);
  t.is(none.code, 1);
  t.regex(none.stderr, /cannot reach the daemon's API/);
  proc.kill('SIGTERM');
  t.is(await exited, 0);
  t.true((await stat(join(root, 'state', 'kv-published.bencode'))).size > 0);
  // Restarted from the same --state, the daemon has the list again (the tombstone and the index) and puts it again.
  const again = spawn(process.execPath, peerCommand(['start', '--torrents', join(root, 'torrents'), '--downloads', join(root, 'downloads'), '--state', join(root, 'state'), '--host', host(110), '--port', '0', '--api', '0', '--no-lsd', '--bootstrap', `${nodes[0]!.host}:${nodes[0]!.port}`]), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr2 = '';
  again.stderr!.on('data', (d: Buffer) => (stderr2 += d.toString()));
  const exited2 = new Promise<number | null>((resolve) => again.on('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (again.exitCode === null && again.signalCode === null) again.kill('SIGKILL');
  });
  const apiPort2 = await pollUntil(() => /dashboard: http:\/\/127\.0\.0\.1:(\d+)\//.exec(stderr2)?.[1], 'the restarted dashboard line', 60_000, 50);
  const dht2 = (await (await fetch(`http://127.0.0.1:${apiPort2}/api/dht`)).json()) as { publishing?: number };
  t.true((dht2.publishing ?? 0) >= 2, JSON.stringify(dht2));
  again.kill('SIGTERM');
  t.is(await exited2, 0);
});

// Last: the node it stops stays in the others' tables as a dead entry, which slows the lookups of tests after it.
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
