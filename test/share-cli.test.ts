/**
 * `peer share`, `peer find` and `peer fetch` as a user runs them (the built
 * dist/peer.js) on loopback: two daemons (`peer start`, each on its own
 * 127.x.y.N with a DHT, the second bootstrapped from the first), a file
 * shared by name on one, listed and downloaded by name from another
 * address; the daemon's seed-in-place route (POST /api/torrents with
 * dataPath) and its refusals; the daemon seeding a shared file again after a
 * restart; and the errors a user meets.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { symlink } from 'node:fs/promises';
import path from 'node:path';
import { PEER_BIN } from './helpers/bin.js';
import { runPeer, startDht } from './dht-cli-helpers.js';
import { Cleanup, fileSha1, fixtureBytes, freePort, spawnPeer, tempDir, writeFixture, type PeerProcess, type Teardown } from './helpers/swarm.js';
import { pollUntil } from './helpers/poll.js';
import { makeTorrent } from '../src/cli/make-torrent.js';

// A random 127.x.y.0/24 block per run, so other tests running at once do not collide.
const block = `127.${20 + Math.floor(Math.random() * 200)}.${Math.floor(Math.random() * 250)}`;
const host = (n: number): string => `${block}.${n}`;

interface Daemon {
  proc: PeerProcess;
  host: string;
  port: number;
  api: string;
  apiPort: number;
  root: string;
}

const shared = new Cleanup();
let dir: string;
let a: Daemon;
let b: Daemon;

async function startDaemon(t: Teardown, root: string, h: string, extra: string[] = [], port?: number): Promise<Daemon> {
  const p = port ?? (await freePort([h]));
  const proc = spawnPeer(t, [
    'start',
    '--torrents', path.join(root, 'torrents'),
    '--downloads', path.join(root, 'downloads'),
    '--state', path.join(root, 'state'),
    '--host', h,
    '--port', String(p),
    '--api', '0',
    '--json',
    '--log-level', 'info',
    ...extra,
  ]);
  const started = (await proc.waitFor((e) => e.event === 'started', 'the daemon to start', 60_000)) as unknown as { api: string };
  const api = started.api;
  return { proc, host: h, port: p, api, apiPort: Number(new URL(api).port), root };
}

async function stopDaemon(d: Daemon): Promise<void> {
  if (d.proc.exit) return;
  d.proc.kill('SIGTERM');
  await d.proc.waitExit(30_000).catch(() => d.proc.kill('SIGKILL'));
}

test.before(async () => {
  dir = await tempDir(shared, 'share-cli-');
  a = await startDaemon(shared, path.join(dir, 'a'), host(1));
  shared.teardown(() => stopDaemon(a));
  b = await startDaemon(shared, path.join(dir, 'b'), host(2), ['--bootstrap', `${host(1)}:${a.port}`]);
  shared.teardown(() => stopDaemon(b));
  // b has joined the DHT through a (bounded wait; a lookup would reach a through its bootstrap anyway).
  await pollUntil(async () => ((await (await fetch(new URL('api/dht', b.api))).json()) as { nodes?: number }).nodes! > 0 || undefined, 'daemon b to know daemon a', 20_000, 200).catch(() => undefined);
});

test.after.always(() => shared.run());

const viaB = (client: number): string[] => ['--host', host(client), '--bootstrap', `${host(2)}:${b.port}`];

interface ShareOut {
  name: string;
  namespace: string;
  infoHash: string;
  magnet: string;
  length: number;
  files: number;
  path: string;
  seq: number | null;
  stored: number;
  alreadySeeding: boolean;
}

async function shareOn(d: Daemon, args: string[]): Promise<ShareOut> {
  const r = await runPeer(['share', ...args, '--api-port', String(d.apiPort), '--json'], 120_000);
  if (r.code !== 0) throw new Error(`peer share ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as ShareOut;
}

interface FindOut {
  namespace: string;
  files: { name: string; length: number; files: number; magnet: string; infoHash: string; added: number }[];
}

async function find(args: string[], client: number): Promise<FindOut> {
  const r = await runPeer(['find', ...args, ...viaB(client), '--state', path.join(dir, `find-${client}`), '--json']);
  if (r.code !== 0) throw new Error(`peer find exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as FindOut;
}

test.serial('a folder shared with --as in another namespace; sharing the name again points it at the new content', async (t) => {
  const folder = path.join(dir, 'content', 'pack');
  await writeFixture(path.join(folder, 'one.bin'), fixtureBytes(40_000, 1));
  await writeFixture(path.join(folder, 'sub', 'two.bin'), fixtureBytes(50_000, 2));
  const first = await shareOn(a, [folder, '--as', 'holiday pack', '--namespace', 'team']);
  t.like(first, { name: 'holiday pack', namespace: 'team', length: 90_000, files: 2 });
  const listed = await find(['--namespace', 'team'], 11);
  t.deepEqual(listed.files.map((f) => [f.name, f.files, f.infoHash]), [['holiday pack', 2, first.infoHash]]);
  t.false((await find([], 11)).files.some((f) => f.name === 'holiday pack'), 'not in the default namespace');

  const other = path.join(dir, 'content', 'other.bin');
  await writeFixture(other, fixtureBytes(12_345, 3));
  const second = await shareOn(a, [other, '--as', 'holiday pack', '--namespace', 'team']);
  t.not(second.infoHash, first.infoHash);
  t.true((second.seq ?? -1) > (first.seq ?? -1), `seq ${second.seq} after ${first.seq}`);
  const now = await find(['holiday', '--namespace', 'team'], 11);
  t.deepEqual(now.files.map((f) => [f.name, f.infoHash, f.length]), [['holiday pack', second.infoHash, 12_345]]);
  // Sharing what the daemon already seeds is fine: it says so.
  const again = await shareOn(a, [other, '--as', 'holiday pack', '--namespace', 'team']);
  t.true(again.alreadySeeding);
  // A symlink is shared as the file it points to, under the link's name.
  const link = path.join(dir, 'content', 'link.bin');
  await symlink(other, link);
  const viaLink = await shareOn(a, [link, '--namespace', 'team']);
  t.like(viaLink, { name: 'link.bin', path: other, infoHash: second.infoHash, alreadySeeding: true });
});

test.serial('POST /api/torrents with dataPath seeds in place, and refuses relative paths, the state folder and data that does not match', async (t) => {
  const data = path.join(dir, 'content', 'inplace.bin');
  await writeFixture(data, fixtureBytes(65_000, 9));
  const made = await makeTorrent(data, { creationDate: 1 });
  const torrent = Buffer.from(made.torrent).toString('base64');
  const post = (body: unknown): Promise<Response> => fetch(new URL('api/torrents', a.api), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const err = async (r: Response): Promise<string> => ((await r.json()) as { error: string }).error;

  let r = await post({ torrent, dataPath: 'content/inplace.bin' });
  t.is(r.status, 400);
  t.regex(await err(r), /absolute path/);
  r = await post({ torrent, dataPath: path.join(a.root, 'state', 'session.json') });
  t.is(r.status, 400);
  t.regex(await err(r), /private/);
  r = await post({ torrent, dataPath: path.join(dir, 'content', 'missing.bin') });
  t.is(r.status, 400);
  t.regex(await err(r), /does not exist/);
  r = await post({ torrent: '%%%', dataPath: data });
  t.is(r.status, 400);
  r = await post({ torrent: Buffer.from('not a torrent').toString('base64'), dataPath: data });
  t.is(r.status, 400);
  r = await post({ torrent, dataPath: data, extra: 1 });
  t.is(r.status, 400);
  // Same size, other bytes: verified, refused, and not left in the session.
  const liar = path.join(dir, 'content', 'liar.bin');
  await writeFixture(liar, fixtureBytes(65_000, 10));
  r = await post({ torrent, dataPath: liar });
  t.is(r.status, 400);
  t.regex(await err(r), /does not match.*0 of \d+ pieces/);
  const list = async (): Promise<{ infoHash: string }[]> => ((await (await fetch(new URL('api/torrents', a.api))).json()) as { torrents: { infoHash: string }[] }).torrents;
  t.false((await list()).some((x) => x.infoHash === made.meta.infoHashHex), 'the refused seed is gone');

  r = await post({ torrent, dataPath: data });
  t.is(r.status, 201, await r.clone().text());
  t.like(await r.json(), { infoHash: made.meta.infoHashHex, path: data, mode: 'seed' });
  t.true((await list()).some((x) => x.infoHash === made.meta.infoHashHex));
  r = await post({ torrent, dataPath: data });
  t.is(r.status, 409);
});

test.serial('a daemon seeds what it was given to share again after a restart', async (t) => {
  // A DHT of their own (c and a node x): c stopping must not leave a dead entry in a's and b's tables.
  const x = await startDht(['--host', host(6), '--state', path.join(dir, 'x')]);
  t.teardown(() => x.stop());
  const root = path.join(dir, 'c');
  let c = await startDaemon(t, root, host(3), ['--bootstrap', `${x.host}:${x.port}`]);
  t.teardown(() => stopDaemon(c));
  const content = path.join(dir, 'content', 'kept.bin');
  await writeFixture(content, fixtureBytes(200_000, 4));
  const out = await shareOn(c, [content, '--as', 'kept']);
  await stopDaemon(c);
  t.is(c.proc.exit?.code, 0, c.proc.describe());
  c = await startDaemon(t, root, host(3), ['--bootstrap', `${x.host}:${x.port}`], c.port);
  const torrents = await pollUntil(async () => {
    const l = ((await (await fetch(new URL('api/torrents', c.api))).json()) as { torrents: { infoHash: string; have: number; pieces: number }[] }).torrents;
    return l.find((x) => x.infoHash === out.infoHash);
  }, 'the shared torrent back in the restarted daemon', 30_000, 200);
  t.is(torrents.have, torrents.pieces, 'seeding every piece, from where the file lies');
  const detail = (await (await fetch(new URL(`api/torrents/${out.infoHash}/details`, c.api))).json()) as Record<string, unknown>;
  t.is(detail.savePath, content, 'seeded from where the file lies, not a copy');
});

test.serial('errors: no daemon (1), a missing path (2), a name too long (2), an unknown name (1), no DHT node (1), bad usage (2)', async (t) => {
  const content = path.join(dir, 'content', 'err.bin');
  await writeFixture(content, fixtureBytes(1000, 5));
  const unusedPort = await freePort(['127.0.0.1']);
  const noDaemon = await runPeer(['share', content, '--api-port', String(unusedPort)]);
  t.is(noDaemon.code, 1);
  t.regex(noDaemon.stderr, /no daemon answered at http:\/\/127\.0\.0\.1:\d+.*peer start/);

  const missing = await runPeer(['share', path.join(dir, 'content', 'no-such-file'), '--api-port', String(a.apiPort)]);
  t.is(missing.code, 2);
  t.regex(missing.stderr, /no such file or folder/);

  // A folder with a symlink inside: make-torrent would follow it, a seeder never reads through one.
  const linked = path.join(dir, 'content', 'linked');
  await writeFixture(path.join(linked, 'real.bin'), fixtureBytes(3000, 12));
  await symlink('real.bin', path.join(linked, 'alias.bin'));
  const withLink = await runPeer(['share', linked, '--api-port', String(a.apiPort)]);
  t.is(withLink.code, 2);
  t.regex(withLink.stderr, /holds symlinks .*alias\.bin.*never reads through/);

  const long = await runPeer(['share', content, '--as', 'n'.repeat(65), '--api-port', String(a.apiPort)]);
  t.is(long.code, 2);
  t.regex(long.stderr, /65 bytes.*at most 64.*--as/);

  const unknown = await runPeer(['fetch', 'no-file-by-this-name', ...viaB(20), '--port', String(await freePort([host(20)])), '--state', path.join(dir, 'err-fetch')]);
  t.is(unknown.code, 1);
  t.regex(unknown.stderr, /no file named no-file-by-this-name in namespace files; `peer find` lists them/);

  // Nobody at the bootstrap address, no LSD on loopback: nobody answered.
  const deadPort = await freePort([host(21)]);
  const noDht = await runPeer(['find', '--host', host(22), '--bootstrap', `${host(21)}:${deadPort}`, '--state', path.join(dir, 'err-find')]);
  t.is(noDht.code, 1);
  t.regex(noDht.stderr, /no DHT node answered.*--bootstrap/);
  const noDht2 = await runPeer(['fetch', 'clip.bin', '--host', host(22), '--no-lsd', '--state', path.join(dir, 'err-find')]);
  t.is(noDht2.code, 1);
  t.regex(noDht2.stderr, /no DHT node answered.*give --bootstrap/);

  // A daemon alone on loopback (no bootstrap, no LSD there): it seeds, but no DHT node takes the name.
  const lone = await startDaemon(t, path.join(dir, 'lone'), host(5));
  t.teardown(() => stopDaemon(lone));
  const alone = await runPeer(['share', content, '--as', 'alone', '--api-port', String(lone.apiPort)], 60_000);
  t.is(alone.code, 1, alone.stderr);
  t.regex(alone.stderr, /the daemon seeds .*err\.bin, but no DHT node took the name "alone".*--bootstrap.*magnet:\?xt=urn:btih:/);

  const noDhtFlag = await runPeer(['find', '--no-dht', ...viaB(23)]);
  t.is(noDhtFlag.code, 2);
  const api = await runPeer(['find', '--api', '9000', ...viaB(23)]);
  t.is(api.code, 2);
  const emptyNs = await runPeer(['share', content, '--namespace', '', '--api-port', String(a.apiPort)]);
  t.is(emptyNs.code, 2);
});

test.serial('a value under a name that is not a catalogue entry is skipped by find, refused by fetch and the API; bad API input is a 400', async (t) => {
  const ns = 'hostile-ns';
  const content = path.join(dir, 'content', 'fine.bin');
  await writeFixture(content, fixtureBytes(20_000, 8));
  await shareOn(a, [content, '--namespace', ns]);
  // Anyone who knows a namespace's name can write there: here, a value that is no entry.
  const put = await runPeer(['kv', 'put', 'junk', '{"magnet":"magnet:?xt=urn:btih:nothex","length":-1}', '--namespace', ns, ...viaB(40), '--state', path.join(dir, 'kv-40')]);
  t.is(put.code, 0, put.stderr);
  const listed = await runPeer(['find', '--namespace', ns, ...viaB(41), '--state', path.join(dir, 'find-41')]);
  t.is(listed.code, 0, listed.stderr);
  t.regex(listed.stdout, /^fine\.bin\s/m);
  t.notRegex(listed.stdout, /junk/);
  t.regex(listed.stderr, /skipped "junk": bad magnet link/);
  const fetched = await runPeer(['fetch', 'junk', '--namespace', ns, ...viaB(42), '--port', String(await freePort([host(42)])), '--state', path.join(dir, 'fetch-42')]);
  t.is(fetched.code, 1);
  t.regex(fetched.stderr, /the value of "junk" in namespace "hostile-ns" is not a file shared by name: bad magnet link/);
  const api = (await (await fetch(new URL(`api/catalogue?namespace=${ns}`, b.api))).json()) as { files: { name: string }[]; skipped: { name: string; reason: string }[] };
  t.deepEqual(api.files.map((f) => f.name), ['fine.bin']);
  t.deepEqual(api.skipped.map((x) => x.name), ['junk']);
  t.is((await fetch(new URL(`api/catalogue/junk?namespace=${ns}`, b.api))).status, 422);
  for (const bad of ['api/catalogue/%E0%A4%A', `api/catalogue/${'n'.repeat(65)}`, 'api/catalogue/a%1Bb', 'api/catalogue?namespace=', `api/catalogue?pattern=${'*'.repeat(300)}`]) {
    const r = await fetch(new URL(bad, b.api));
    t.is(r.status, 400, bad);
    t.is(typeof ((await r.json()) as { error?: unknown }).error, 'string', bad);
  }
});

test.serial('a daemon with an API token: share and the seed-in-place route need it; a daemon without the DHT is named', async (t) => {
  const token = 'catalogue-token-1234';
  const d = await startDaemon(t, path.join(dir, 'd'), host(4), ['--api-token', token, '--no-dht']);
  t.teardown(() => stopDaemon(d));
  const content = path.join(dir, 'content', 'token.bin');
  await writeFixture(content, fixtureBytes(10_000, 11));
  const without = await runPeer(['share', content, '--api-port', String(d.apiPort)], 60_000);
  t.is(without.code, 2, without.stderr);
  t.regex(without.stderr, /refused.*--token/);
  const post = await fetch(new URL('api/torrents', d.api), { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ torrent: 'AAAA', dataPath: content }) });
  t.is(post.status, 401);
  const withToken = await runPeer(['share', content, '--api', d.api, '--token', token], 60_000);
  t.is(withToken.code, 1, withToken.stderr);
  t.regex(withToken.stderr, /runs without the DHT \(--no-dht\)/);
  const viaEnv = spawnSync(process.execPath, [PEER_BIN, 'share', content, '--api-port', String(d.apiPort)], { encoding: 'utf8', env: { ...process.env, PEER_API_TOKEN: token }, timeout: 60_000 });
  t.is(viaEnv.status, 1, viaEnv.stderr);
  t.regex(viaEnv.stderr, /without the DHT/, 'PEER_API_TOKEN is the token when --token is not given');
});

test.serial('a file shared by name on one daemon is listed and downloaded by name from another address, byte-equal', async (t) => {
  const content = path.join(dir, 'content', 'clip.bin');
  await writeFixture(content, fixtureBytes(700_001, 7));
  const out = await shareOn(a, [content]);
  t.like(out, { name: 'clip.bin', namespace: 'files', length: 700_001, files: 1, path: content, alreadySeeding: false });
  t.regex(out.infoHash, /^[0-9a-f]{40}$/);
  t.true(out.magnet.startsWith(`magnet:?xt=urn:btih:${out.infoHash}`));
  t.true(out.stored >= 1, 'a DHT node took the name');

  // The daemon seeds it where it lies (no copy in its downloads folder).
  const list = (await (await fetch(new URL('api/torrents', a.api))).json()) as { torrents: { infoHash: string; have: number; pieces: number; state: string }[] };
  const seeded = list.torrents.find((x) => x.infoHash === out.infoHash);
  t.truthy(seeded, 'daemon a runs the torrent');
  t.is(seeded!.have, seeded!.pieces);

  // find, from a third address, through daemon b's node.
  const found = await find([], 10);
  t.is(found.namespace, 'files');
  const f = found.files.find((x) => x.name === 'clip.bin');
  t.truthy(f, JSON.stringify(found));
  t.like(f, { length: 700_001, files: 1, infoHash: out.infoHash, magnet: out.magnet });
  t.deepEqual((await find(['CLIP'], 10)).files.map((x) => x.name), ['clip.bin'], 'substring, case ignored');
  t.deepEqual((await find(['*.bin'], 10)).files.map((x) => x.name), ['clip.bin'], 'glob');
  t.deepEqual((await find(['*.iso'], 10)).files, [], 'nothing matches: an empty list');
  const text = await runPeer(['find', 'clip', ...viaB(10), '--state', path.join(dir, 'find-text')]);
  t.is(text.code, 0, text.stderr);
  t.regex(text.stdout, /^clip\.bin\s+[\d.]+ KiB\s+magnet:\?xt=urn:btih:/m);
  const none = await runPeer(['find', 'nothing-like-it', ...viaB(10), '--state', path.join(dir, 'find-text')]);
  t.is(none.code, 0, 'an empty list is not a failure');
  t.is(none.stdout, '');
  t.regex(none.stderr, /no files in namespace "files" matching "nothing-like-it"/);

  // The daemon's API lists the catalogue too (the dashboard reads it).
  const api = (await (await fetch(new URL('api/catalogue', b.api))).json()) as FindOut;
  t.truthy(api.files.find((x) => x.name === 'clip.bin' && x.infoHash === out.infoHash));
  const one = await fetch(new URL('api/catalogue/clip.bin', b.api));
  t.is(one.status, 200);
  t.like(((await one.json()) as { file: object }).file, { name: 'clip.bin', length: 700_001 });
  t.is((await fetch(new URL('api/catalogue/nothing-here', b.api))).status, 404);

  // fetch by name, from the third address.
  const port = await freePort([host(10)]);
  const outDir = path.join(dir, 'fetched');
  const got = await runPeer(['fetch', 'clip.bin', ...viaB(10), '--port', String(port), '--out', outDir, '--state', path.join(dir, 'fetch-state'), '--exit-on-complete', '--json'], 120_000);
  t.is(got.code, 0, got.stderr);
  const events = got.stdout.trim().split('\n').map((l) => JSON.parse(l) as { event: string; [k: string]: unknown });
  t.like(events[0], { event: 'resolved', name: 'clip.bin', namespace: 'files', infoHash: out.infoHash, length: 700_001 });
  t.truthy(events.find((e) => e.event === 'complete' && e.infoHash === out.infoHash));
  t.is(await fileSha1(path.join(outDir, 'clip.bin')), await fileSha1(content));
});

test.serial('share --foreground with no daemon seeds and keeps the name published from its own process until Ctrl-C, then exits 0', async (t) => {
  const content = path.join(dir, 'content', 'foreground.bin');
  await writeFixture(content, fixtureBytes(150_000, 6));
  const port = await freePort([host(30)]);
  const fg = spawnPeer(t, ['share', content, '--as', 'fg', '--foreground', '--host', host(30), '--port', String(port), '--bootstrap', `${host(1)}:${a.port}`, '--state', path.join(dir, 'fg-state'), '--json']);
  const result = (await fg.waitFor((e) => (e as unknown as { name?: string }).name === 'fg', 'the name to be published', 60_000)) as unknown as ShareOut;
  t.like(result, { name: 'fg', namespace: 'files', length: 150_000, path: content });
  t.true(result.stored >= 1);
  const fetchPort = await freePort([host(31)]);
  const outDir = path.join(dir, 'fetched-fg');
  const got = await runPeer(['fetch', 'fg', ...viaB(31), '--port', String(fetchPort), '--out', outDir, '--state', path.join(dir, 'fetch-fg'), '--exit-on-complete', '--json'], 120_000);
  t.is(got.code, 0, got.stderr);
  t.is(await fileSha1(path.join(outDir, 'foreground.bin')), await fileSha1(content), 'downloaded from the foreground seeder');
  fg.kill('SIGINT');
  t.deepEqual(await fg.waitExit(30_000), { code: 0, signal: null }, fg.describe());
  // Options of --foreground make no sense with a daemon: refused.
  const mixed = await runPeer(['share', content, '--bootstrap', `${host(1)}:${a.port}`, '--api-port', String(a.apiPort)]);
  t.is(mixed.code, 2);
  t.regex(mixed.stderr, /--bootstrap applies to --foreground only/);
});

test('--help of share, find and fetch shows examples', async (t) => {
  for (const cmd of ['share', 'find', 'fetch']) {
    const r = await runPeer([cmd, '--help']);
    t.is(r.code, 0);
    t.regex(r.stdout, /Examples:\n {2}peer /, cmd);
  }
});
