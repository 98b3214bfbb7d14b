/**
 * Web seeds (BEP 19) in process on loopback: a Node HTTP server with Range
 * (test/helpers/web-seed-server.ts) is the torrent's url-list, our session
 * leeches from it, alone or beside a peer. Byte-equal results, multi-file
 * URL rules, redirects, and servers that fail, lie or corrupt.
 */
import test, { type ExecutionContext } from 'ava';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { makeTorrent } from '../src/cli/make-torrent.js';
import type { Metainfo } from '../src/metainfo/types.js';
import type { Torrent } from '../src/session/torrent.js';
import type { Settings } from '../src/settings.js';
import { startLocalSession, waitComplete } from './helpers/in-process.js';
import { fixtureBytes, tempDir, treeDigest, within, writeFixture } from './helpers/swarm.js';
import { startWebSeedServer, type WebSeedServerOptions } from './helpers/web-seed-server.js';

const SERVER = '127.0.0.21';
const LEECHER = '127.0.0.22';
const SEEDER = '127.0.0.23';
const WAIT_MS = 30_000;
/** Quick retries and small runs, so a test sees several runs and back-offs in a short time. */
const FAST: Partial<Settings> = { webSeedRetryMs: 100, webSeedMaxRunBytes: 128 * 1024, webSeedTimeoutMs: 5_000 };

interface Content {
  /** The content as make-torrent takes it (a file, or a folder). */
  contentPath: string;
  /** URL path (decoded) -> bytes, as the web seed serves them. */
  files: Map<string, Uint8Array>;
}

/** A single file `name` of `length` bytes, served at /<name>. */
async function singleContent(dir: string, name: string, length: number, seed = 5): Promise<Content> {
  const contentPath = path.join(dir, 'content', name);
  const bytes = fixtureBytes(length, seed);
  await writeFixture(contentPath, bytes);
  return { contentPath, files: new Map([[`/${name}`, bytes]]) };
}

/** A folder `name` with the files given (relative paths), served at /<prefix><name>/<path>. */
async function multiContent(dir: string, name: string, files: [string, number][], prefix = ''): Promise<Content> {
  const root = path.join(dir, 'content', name);
  const served = new Map<string, Uint8Array>();
  let seed = 11;
  for (const [rel, length] of files) {
    const bytes = fixtureBytes(length, seed++);
    await writeFixture(path.join(root, rel), bytes);
    served.set(`/${prefix}${name}/${rel}`, bytes);
  }
  return { contentPath: root, files: served };
}

async function torrentWith(content: Content, pieceLength: number, urls: string[]): Promise<Metainfo> {
  return (await makeTorrent(content.contentPath, { pieceLength, threads: 1, webSeeds: urls })).meta;
}

/** Records what a torrent reports: verified and failed pieces, bans. */
function watch(torrent: Torrent): { verified: number[]; failed: { index: number; hosts: string[] }[]; banned: { host: string; reason: string }[] } {
  const seen = { verified: [] as number[], failed: [] as { index: number; hosts: string[] }[], banned: [] as { host: string; reason: string }[] };
  torrent.on('piece:verified', (i) => seen.verified.push(i));
  torrent.on('piece:failed', (f) => seen.failed.push(f));
  torrent.on('peer:banned', (b) => seen.banned.push(b));
  return seen;
}

function waitEvent<T>(torrent: Torrent, name: 'peer:banned' | 'piece:failed', what: string, ms = WAIT_MS): Promise<T> {
  return within(new Promise<T>((resolve) => torrent.once(name, (v) => resolve(v as T))), ms, what);
}

/** A leecher on LEECHER with the web seed(s) as its only source. */
async function leech(t: ExecutionContext, dir: string, meta: Metainfo, settings: Partial<Settings> = {}): Promise<{ torrent: Torrent; out: string }> {
  const session = await startLocalSession(t, LEECHER, dir, { ...FAST, ...settings });
  const out = path.join(dir, 'out', meta.info.name);
  const torrent = await session.addTorrent(meta, { contentPath: out, mode: 'leech' });
  return { torrent, out };
}

async function serve(t: ExecutionContext, content: Content, opts: Omit<WebSeedServerOptions, 'host' | 'files'> = {}) {
  return startWebSeedServer(t, { host: SERVER, files: content.files, ...opts });
}

test('a single-file torrent downloads byte-equal from a web seed alone, in multi-block Range runs', async (t) => {
  const dir = await tempDir(t);
  const content = await singleContent(dir, 'payload.bin', 40 * 32768 + 777);
  const server = await serve(t, content);
  const meta = await torrentWith(content, 32768, [`${server.origin}/payload.bin`]);
  const { torrent, out } = await leech(t, dir, meta);
  const seen = watch(torrent);
  await waitComplete(torrent, WAIT_MS);
  t.deepEqual(await readFile(out), Buffer.from(content.files.get('/payload.bin')!));
  t.is(seen.failed.length, 0);
  t.is(torrent.stats().downloaded, meta.info.length, 'every byte counted once in the download meter');
  t.deepEqual(torrent.webSeeds(), [{ url: `${server.origin}/payload.bin`, banned: false, downloaded: meta.info.length }]);
  t.true(server.requests.every((r) => r.status === 206 && /^bytes=\d+-\d+$/.test(r.range ?? '')), JSON.stringify(server.requests.slice(0, 5)));
  const sizes = server.requests.map((r) => {
    const [a, b] = r.range!.slice(6).split('-').map(Number);
    return b! - a! + 1;
  });
  t.true(Math.max(...sizes) > 32768, `runs span several pieces (largest ${Math.max(...sizes)})`);
  t.true(sizes.every((s) => s <= 128 * 1024), 'no run above webSeedMaxRunBytes');
});

test('a URL ending in / gets the name appended (single file)', async (t) => {
  const dir = await tempDir(t);
  const content = await singleContent(dir, 'with space & 100%.bin', 5 * 16384 + 3);
  const server = await serve(t, content);
  const meta = await torrentWith(content, 16384, [`${server.origin}/`]);
  const { torrent, out } = await leech(t, dir, meta);
  await waitComplete(torrent, WAIT_MS);
  t.deepEqual(await readFile(out), Buffer.from([...content.files.values()][0]!));
  t.true(server.requests.every((r) => r.path === '/with%20space%20%26%20100%25.bin'), server.requests[0]?.path);
});

test('a multi-file torrent (spaces, unicode, an empty file, pieces across files) downloads byte-equal', async (t) => {
  const dir = await tempDir(t);
  const content = await multiContent(dir, 'My Show ä', [
    ['a first.bin', 10_000],
    ['empty.txt', 0],
    ['sub dir/ünï cödé.bin', 70_001],
    ['sub dir/tiny', 5],
    ['z.bin', 33_333],
  ]);
  const server = await serve(t, content);
  const meta = await torrentWith(content, 16384, [`${server.origin}/`]);
  const { torrent, out } = await leech(t, dir, meta);
  await waitComplete(torrent, WAIT_MS);
  t.deepEqual([...(await treeDigest(out))], [...(await treeDigest(content.contentPath))]);
  const paths = new Set(server.requests.map((r) => r.path));
  t.true(paths.has('/My%20Show%20%C3%A4/sub%20dir/%C3%BCn%C3%AF%20c%C3%B6d%C3%A9.bin'), [...paths].join(' '));
  t.false([...paths].some((p) => p.endsWith('empty.txt')), 'an empty file is never asked for');
  t.true(server.requests.every((r) => r.status === 206));
});

test('redirects are followed (and remembered per file); the download is byte-equal', async (t) => {
  const dir = await tempDir(t);
  const content = await multiContent(dir, 'moved', [['one.bin', 50_000], ['two.bin', 60_000]], 'new/');
  const server = await serve(t, content, { redirects: new Map([['/old/', '/new/']]) });
  const meta = await torrentWith(content, 16384, [`${server.origin}/old/`]);
  const { torrent, out } = await leech(t, dir, meta, { webSeedMaxRunBytes: 32768 });
  await waitComplete(torrent, WAIT_MS);
  t.deepEqual([...(await treeDigest(out))], [...(await treeDigest(content.contentPath))]);
  const redirects = server.requests.filter((r) => r.status === 302).length;
  const ranges = server.requests.filter((r) => r.status === 206).length;
  t.true(redirects >= 1, 'redirected');
  t.true(redirects < ranges, `later ranges go to the new URL at once (${redirects} redirects, ${ranges} ranges)`);
});

test('too many redirects fail and are retried later, never followed forever', async (t) => {
  const dir = await tempDir(t);
  const content = await singleContent(dir, 'loop.bin', 20_000);
  const server = await serve(t, content, { redirects: new Map([['/loop', '/loop']]) });
  const meta = await torrentWith(content, 16384, [`${server.origin}/loop.bin`]);
  const { torrent } = await leech(t, dir, meta, { webSeedMaxRedirects: 3, webSeedRetryMs: 60_000 });
  const seen = watch(torrent);
  await within(
    (async () => {
      while (server.requests.length < 4) await new Promise((r) => setTimeout(r, 20));
    })(),
    WAIT_MS,
    'four requests',
  );
  await new Promise((r) => setTimeout(r, 300));
  // Two runs in flight, each: the request and 3 redirects followed, then it gives up and backs off for a minute.
  t.true(server.requests.length <= 8, `${server.requests.length} requests`);
  t.is(seen.verified.length, 0);
  t.is(seen.banned.length, 0, 'a redirect loop is a failure, not a lie');
});

test('a server that fails at first (503) is backed off and asked again; the download completes', async (t) => {
  const dir = await tempDir(t);
  const content = await singleContent(dir, 'flaky.bin', 100_000);
  const server = await serve(t, content, { failFirst: 3 });
  const meta = await torrentWith(content, 16384, [`${server.origin}/flaky.bin`]);
  const { torrent, out } = await leech(t, dir, meta);
  const seen = watch(torrent);
  await waitComplete(torrent, WAIT_MS);
  t.deepEqual(await readFile(out), Buffer.from(content.files.get('/flaky.bin')!));
  t.is(server.requests.filter((r) => r.status === 503).length, 3);
  t.is(seen.banned.length, 0);
});

test('a server that never answers times out, is retried later, and the download completes (no ban)', async (t) => {
  const dir = await tempDir(t);
  const content = await singleContent(dir, 'silent.bin', 60_000);
  const server = await serve(t, content, { hangFirst: 2 });
  const meta = await torrentWith(content, 16384, [`${server.origin}/silent.bin`]);
  const started = Date.now();
  const { torrent, out } = await leech(t, dir, meta, { webSeedTimeoutMs: 400 });
  const seen = watch(torrent);
  await waitComplete(torrent, WAIT_MS);
  t.deepEqual(await readFile(out), Buffer.from(content.files.get('/silent.bin')!));
  t.true(Date.now() - started >= 400, 'waited for the timeout');
  t.is(server.requests.filter((r) => r.status === 0).length, 2);
  t.is(seen.banned.length, 0);
});

test('a server that ignores Range (200 with the whole file) is refused clearly; no piece is wrong', async (t) => {
  const dir = await tempDir(t);
  const content = await singleContent(dir, 'norange.bin', 20 * 16384);
  const server = await serve(t, content, { ignoreRange: true });
  const meta = await torrentWith(content, 16384, [`${server.origin}/norange.bin`]);
  const { torrent, out } = await leech(t, dir, meta, { webSeedMaxRunBytes: 16384 });
  const seen = watch(torrent);
  const ban = await waitEvent<{ host: string; reason: string }>(torrent, 'peer:banned', 'the web seed refused');
  t.is(ban.host, `${server.origin}/norange.bin`);
  t.regex(ban.reason, /ignores HTTP Range/);
  await new Promise((r) => setTimeout(r, 1_500));
  // The two runs in flight at the ban, and nothing after it.
  t.true(server.requests.length <= 2, `${server.requests.length} requests`);
  t.false(torrent.complete);
  // A run from byte 0 is the head of the whole file: it may have been taken, and is right.
  const bytes = content.files.get('/norange.bin')!;
  const written = seen.verified.length ? await readFile(out) : Buffer.alloc(0);
  for (const i of seen.verified) t.deepEqual(written.subarray(i * 16384, (i + 1) * 16384), Buffer.from(bytes.subarray(i * 16384, (i + 1) * 16384)));
  t.true(seen.verified.every((i) => i === 0));
});

for (const [title, opts, reason] of [
  ['a server that sends more than the range asked', { extraBytes: 100 }, /sent more than/],
  ['a server that answers another range', { wrongRange: true }, /Content-Range/],
] as const) {
  test(`${title} is cut off and banned at once`, async (t) => {
    const dir = await tempDir(t);
    const content = await singleContent(dir, 'liar.bin', 10 * 16384);
    const server = await serve(t, content, opts);
    const meta = await torrentWith(content, 16384, [`${server.origin}/liar.bin`]);
    const { torrent } = await leech(t, dir, meta);
    const seen = watch(torrent);
    const ban = await waitEvent<{ host: string; reason: string }>(torrent, 'peer:banned', 'the web seed banned');
    t.regex(ban.reason, reason);
    await new Promise((r) => setTimeout(r, 1_200));
    t.is(seen.banned.length, 1, 'banned once');
    t.false(torrent.complete);
    t.true(server.requests.length <= 2, `${server.requests.length} requests: none after the ban`);
  });
}

test('a web seed with corrupt bytes: pieces fail, it is banned, no bad piece is ever marked complete', async (t) => {
  const dir = await tempDir(t);
  const content = await singleContent(dir, 'corrupt.bin', 30 * 16384);
  const server = await serve(t, content, { corrupt: true });
  const url = `${server.origin}/corrupt.bin`;
  const meta = await torrentWith(content, 16384, [url]);
  const { torrent } = await leech(t, dir, meta, { webSeedMaxRunBytes: 32768 });
  const seen = watch(torrent);
  const ban = await waitEvent<{ host: string; reason: string }>(torrent, 'peer:banned', 'the web seed banned');
  t.is(ban.host, url);
  t.regex(ban.reason, /failed its hash/);
  const requestsAtBan = server.requests.length;
  await new Promise((r) => setTimeout(r, 1_500));
  t.true(seen.failed.length >= 2);
  t.true(seen.failed.every((f) => f.hosts.length === 1 && f.hosts[0] === url));
  t.is(seen.verified.length, 0, 'no piece verified');
  t.is(torrent.have, 0);
  t.true(server.requests.length <= requestsAtBan + 2, 'runs in flight at the ban at most; nothing new after it');
});

test('a corrupt web seed beside a good peer: the web seed is banned, the peer is not, the content is byte-equal', async (t) => {
  const dir = await tempDir(t);
  const content = await singleContent(dir, 'mixed.bin', 64 * 16384 + 99);
  const server = await serve(t, content, { corrupt: true });
  const url = `${server.origin}/mixed.bin`;
  const meta = await torrentWith(content, 16384, [url]);
  const seeder = await startLocalSession(t, SEEDER, dir);
  await seeder.addTorrent(meta, { contentPath: content.contentPath, mode: 'seed' });
  const { torrent, out } = await leech(t, dir, meta, { webSeedMaxRunBytes: 32768 });
  const seen = watch(torrent);
  // The web seed first, alone: its bad pieces fail before the peer is there.
  await waitEvent(torrent, 'piece:failed', 'a piece from the web seed failing');
  torrent.addPeers([{ host: SEEDER, port: seeder.port }], { pinned: true });
  await waitComplete(torrent, WAIT_MS);
  t.deepEqual(await readFile(out), Buffer.from(content.files.get('/mixed.bin')!));
  t.true(seen.banned.some((b) => b.host === url), JSON.stringify(seen.banned));
  t.true(torrent.webSeeds()[0]!.banned);
  t.false(seen.banned.some((b) => b.host === SEEDER), 'the honest peer is never banned');
  t.true(seen.failed.every((f) => f.hosts.includes(url)), 'only pieces the web seed sent to failed');
});

test('a good web seed beside a good peer: both feed the download, byte-equal', async (t) => {
  const dir = await tempDir(t);
  const content = await singleContent(dir, 'both.bin', 128 * 16384);
  const server = await serve(t, content);
  const meta = await torrentWith(content, 16384, [`${server.origin}/both.bin`]);
  const seeder = await startLocalSession(t, SEEDER, dir);
  await seeder.addTorrent(meta, { contentPath: content.contentPath, mode: 'seed' });
  const session = await startLocalSession(t, LEECHER, dir, { ...FAST, webSeedMaxRunBytes: 32768 });
  const out = path.join(dir, 'out', meta.info.name);
  const torrent = await session.addTorrent(meta, { contentPath: out, mode: 'leech', peers: [{ host: SEEDER, port: seeder.port }] });
  const seen = watch(torrent);
  await waitComplete(torrent, WAIT_MS);
  t.deepEqual(await readFile(out), Buffer.from(content.files.get('/both.bin')!));
  t.is(seen.failed.length, 0);
  t.true(server.requests.length > 0, 'the web seed was used');
  t.is(torrent.stats().downloaded >= meta.info.length, true);
});

test('the download rate limit holds for a web seed', async (t) => {
  const dir = await tempDir(t);
  const content = await singleContent(dir, 'slow.bin', 768 * 1024);
  const server = await serve(t, content);
  const meta = await torrentWith(content, 32768, [`${server.origin}/slow.bin`]);
  const started = Date.now();
  const { torrent, out } = await leech(t, dir, meta, { downloadLimitBytesPerS: 256 * 1024 });
  await waitComplete(torrent, WAIT_MS);
  const elapsed = Date.now() - started;
  t.deepEqual(await readFile(out), Buffer.from(content.files.get('/slow.bin')!));
  // 768 KiB at 256 KiB/s with one second of burst: at least about 2 s.
  t.true(elapsed >= 1_700, `took ${elapsed} ms`);
});

test('web seeds stop with the torrent: no request after stop, idempotent', async (t) => {
  const dir = await tempDir(t);
  const content = await singleContent(dir, 'stop.bin', 200 * 16384);
  const server = await serve(t, content);
  const meta = await torrentWith(content, 16384, [`${server.origin}/stop.bin`]);
  const { torrent } = await leech(t, dir, meta, { downloadLimitBytesPerS: 64 * 1024 });
  await within(
    (async () => {
      while (server.requests.length < 1) await new Promise((r) => setTimeout(r, 20));
    })(),
    WAIT_MS,
    'a first request',
  );
  await torrent.stop();
  await torrent.stop();
  const n = server.requests.length;
  await new Promise((r) => setTimeout(r, 1_500));
  t.is(server.requests.length, n);
});
