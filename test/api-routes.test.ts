/**
 * Every route of the HTTP API with good and bad input, against a real
 * in-process Session on 127.0.0.1: torrents (upload, .torrent, magnet,
 * remove, pause/resume, peers), /download and its traversal attempts,
 * DHT/KV/limits, the dashboard's assets, tokens and browser protections.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdir, readFile, readdir, symlink, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ApiServer } from '../src/api/server.js';
import { UsageError } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import { fixtureBytes, singleFileTorrent, tempDir, torrentOf } from './helpers/swarm.js';
import { pollUntil } from './helpers/poll.js';
import { multipart, request, startApi, startSession, withExtras, type RawResponse } from './api-fixtures.js';

const HEX = /^[0-9a-f]{40}$/;

function isError(t: ExecutionContext, res: RawResponse, status: number, pattern?: RegExp): void {
  t.is(res.status, status, res.text);
  t.regex(String(res.headers['content-type']), /^application\/json/);
  const body = res.json() as { error?: unknown };
  t.is(typeof body.error, 'string', res.text);
  if (pattern) t.regex(String(body.error), pattern);
}

async function setup(t: ExecutionContext, opts: Parameters<typeof startApi>[3] = {}) {
  const { session, dir } = await startSession(t);
  const api = await startApi(t, session, dir, opts);
  return { session, dir, api, port: api.port };
}

test('start and stop are idempotent, and stop closes the port', async (t) => {
  const { session, dir } = await startSession(t);
  const api = new ApiServer({ session, port: 0, downloadsDir: dir, uploadsDir: dir, logger: silentLogger });
  await Promise.all([api.start(), api.start()]);
  const port = api.port;
  t.true(port > 0);
  t.is(api.url, `http://127.0.0.1:${port}/`);
  t.is((await request(port, { path: '/api/torrents' })).status, 200);
  await api.stop();
  await api.stop();
  await t.throwsAsync(request(port, { path: '/api/torrents' }), { code: 'ECONNREFUSED' });
});

test('POST /upload stores the file, seeds it and answers its info-hash and magnet', async (t) => {
  const { session, dir, port } = await setup(t);
  const content = fixtureBytes(100_000, 7);
  const up = multipart('report 1.bin', content);
  const res = await request(port, { method: 'POST', path: '/upload', headers: up.headers, body: up.body });
  t.is(res.status, 201, res.text);
  const body = res.json() as { infoHash: string; magnet: string; name: string; length: number };
  t.regex(body.infoHash, HEX);
  t.is(body.name, 'report 1.bin');
  t.is(body.length, content.length);
  t.true(body.magnet.startsWith(`magnet:?xt=urn:btih:${body.infoHash}`));
  t.deepEqual(await readFile(path.join(dir, 'uploads', 'report 1.bin')), content);
  const torrent = session.torrent(body.infoHash);
  t.truthy(torrent);
  t.is(torrent!.stats().state, 'seeding');

  const list = (await request(port, { path: '/api/torrents' })).json() as { torrents: { infoHash: string; state: string }[] };
  t.deepEqual(list.torrents.map((x) => [x.infoHash, x.state]), [[body.infoHash, 'seeding']]);

  // The same name again is kept beside the first, never over it.
  const again = multipart('report 1.bin', fixtureBytes(5000, 8));
  const res2 = await request(port, { method: 'POST', path: '/upload', headers: again.headers, body: again.body });
  t.is(res2.status, 201, res2.text);
  t.is(res2.json().name, 'report 1 (2).bin');
  t.deepEqual(await readFile(path.join(dir, 'uploads', 'report 1.bin')), content);
  t.deepEqual((await readdir(path.join(dir, 'uploads'))).sort(), ['report 1 (2).bin', 'report 1.bin']);
});

test('POST /upload refuses other media types, no file, bad names, empty and oversize files', async (t) => {
  const { dir, port } = await setup(t, { maxUploadBytes: 4096 });
  isError(t, await request(port, { method: 'POST', path: '/upload', headers: { 'Content-Type': 'application/json' }, body: '{}' }), 415);

  const boundary = 'xyz';
  const noFile = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhello\r\n--${boundary}--\r\n`);
  isError(t, await request(port, { method: 'POST', path: '/upload', headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}` }, body: noFile }), 400, /no file/);
  isError(t, await request(port, { method: 'POST', path: '/upload', headers: { 'Content-Type': 'multipart/form-data' }, body: 'x' }), 400, /multipart/);

  for (const name of ['..', '.hidden', '']) {
    const up = multipart(name, Buffer.from('data'));
    isError(t, await request(port, { method: 'POST', path: '/upload', headers: up.headers, body: up.body }), 400, /name/);
  }
  const empty = multipart('empty.bin', Buffer.alloc(0));
  isError(t, await request(port, { method: 'POST', path: '/upload', headers: empty.headers, body: empty.body }), 400, /empty/);

  const big = multipart('big.bin', Buffer.alloc(50_000, 1));
  isError(t, await request(port, { method: 'POST', path: '/upload', headers: big.headers, body: big.body }), 413, /4096/);
  // Declared far too long: refused before the body is read.
  isError(t, await request(port, { method: 'POST', path: '/upload', headers: { ...big.headers, 'Content-Length': 10 * 1024 * 1024 * 1024 }, body: Buffer.alloc(0) }), 413, /10737418240/);
  // No partial or temporary file is left behind.
  t.deepEqual(await readdir(path.join(dir, 'uploads')).catch(() => []), []);
});

test('POST /api/torrents adds a .torrent (raw or multipart) to leech into the downloads folder', async (t) => {
  const { session, dir, port } = await setup(t);
  const fx = await singleFileTorrent(path.join(dir, 'fx'), { name: 'wanted.bin', length: 70_000, pieceLength: 16384 });
  const bytes = await readFile(fx.torrentPath);
  const res = await request(port, { method: 'POST', path: '/api/torrents', headers: { 'Content-Type': 'application/x-bittorrent' }, body: bytes });
  t.is(res.status, 201, res.text);
  t.deepEqual(res.json(), { infoHash: fx.infoHashHex, name: 'wanted.bin', magnet: res.json().magnet });
  t.is(session.torrent(fx.infoHashHex)?.stats().state, 'downloading');

  const detail = (await request(port, { path: `/api/torrents/${fx.infoHashHex.toUpperCase()}` })).json();
  t.is(detail.infoHash, fx.infoHashHex);
  t.is(detail.pieces, fx.pieceCount);
  t.is(detail.have, 0);
  t.deepEqual(detail.files, [{ path: 'wanted.bin', length: 70_000 }]);
  t.regex(detail.magnet, new RegExp(fx.infoHashHex));

  isError(t, await request(port, { method: 'POST', path: '/api/torrents', headers: { 'Content-Type': 'application/x-bittorrent' }, body: bytes }), 409, /already/);

  const other = await singleFileTorrent(path.join(dir, 'fx2'), { name: 'other.bin', length: 5000, pieceLength: 16384 });
  const up = multipart('other.torrent', await readFile(other.torrentPath), 'torrent');
  const res2 = await request(port, { method: 'POST', path: '/api/torrents', headers: up.headers, body: up.body });
  t.is(res2.status, 201, res2.text);
  t.is(res2.json().infoHash, other.infoHashHex);
});

test('POST /api/torrents refuses garbage, empty bodies, other media types and bad JSON', async (t) => {
  const { port } = await setup(t);
  const post = (headers: Record<string, string>, body: string | Buffer) => request(port, { method: 'POST', path: '/api/torrents', headers, body });
  isError(t, await post({ 'Content-Type': 'application/x-bittorrent' }, 'not bencode at all'), 400);
  isError(t, await post({ 'Content-Type': 'application/x-bittorrent' }, 'd4:infod4:name1:xee'), 400, /metainfo/);
  isError(t, await post({ 'Content-Type': 'application/x-bittorrent' }, ''), 400, /empty/);
  isError(t, await post({ 'Content-Type': 'text/plain' }, 'hello'), 415);
  isError(t, await post({}, 'hello'), 415);
  isError(t, await post({ 'Content-Type': 'application/json' }, '{not json'), 400, /JSON/);
  isError(t, await post({ 'Content-Type': 'application/json' }, '[1,2]'), 400, /object/);
  isError(t, await post({ 'Content-Type': 'application/json' }, '{}'), 400, /missing field "magnet"/);
  isError(t, await post({ 'Content-Type': 'application/json' }, '{"magnet": 42}'), 400, /magnet/);
  isError(t, await post({ 'Content-Type': 'application/json' }, '{"magnet": "magnet:?xt=urn:btih:1234"}'), 400, /metainfo/);
});

test('POST /api/torrents with a magnet answers 202 and lists it while its metadata is fetched', async (t) => {
  const { port } = await setup(t);
  const hex = 'c'.repeat(40);
  const magnet = `magnet:?xt=urn:btih:${hex}&dn=far%20away`;
  const res = await request(port, { method: 'POST', path: '/api/torrents', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ magnet }) });
  t.is(res.status, 202, res.text);
  t.like(res.json(), { infoHash: hex, name: 'far away', status: 'fetching metadata' });
  const list = (await request(port, { path: '/api/torrents' })).json();
  t.deepEqual(list.fetching.map((f: { infoHash: string; name: string }) => [f.infoHash, f.name]), [[hex, 'far away']]);
  isError(t, await request(port, { method: 'POST', path: '/api/torrents', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ magnet }) }), 409);
});

test('GET/DELETE /api/torrents/:infoHash, pause, resume and peers, with bad and unknown info-hashes', async (t) => {
  const { session, port } = await setup(t);
  const up = multipart('seed.bin', fixtureBytes(40_000, 3));
  const hex = (await request(port, { method: 'POST', path: '/upload', headers: up.headers, body: up.body })).json().infoHash as string;

  for (const bad of ['xyz', 'g'.repeat(40), 'a'.repeat(39), 'a'.repeat(41), '%2e%2e']) {
    isError(t, await request(port, { path: `/api/torrents/${bad}` }), 400, /info-hash/);
    isError(t, await request(port, { path: `/api/torrents/${bad}/peers` }), 400, /info-hash/);
    isError(t, await request(port, { method: 'POST', path: `/api/torrents/${bad}/pause` }), 400, /info-hash/);
    isError(t, await request(port, { method: 'DELETE', path: `/api/torrents/${bad}` }), 400, /info-hash/);
  }
  const unknown = 'd'.repeat(40);
  isError(t, await request(port, { path: `/api/torrents/${unknown}` }), 404);
  isError(t, await request(port, { path: `/api/torrents/${unknown}/peers` }), 404);
  isError(t, await request(port, { method: 'POST', path: `/api/torrents/${unknown}/resume` }), 404);

  t.deepEqual((await request(port, { path: `/api/torrents/${hex}/peers` })).json(), { peers: [] });

  const paused = await request(port, { method: 'POST', path: `/api/torrents/${hex}/pause` });
  t.is(paused.status, 200);
  t.is(paused.json().state, 'paused');
  t.true(session.torrent(hex)!.paused);
  const wrongMethod = await request(port, { path: `/api/torrents/${hex}/pause` });
  isError(t, wrongMethod, 405);
  t.is(wrongMethod.headers.allow, 'POST');
  const resumed = await request(port, { method: 'POST', path: `/api/torrents/${hex}/resume` });
  t.is(resumed.json().state, 'seeding');

  const del = await request(port, { method: 'DELETE', path: `/api/torrents/${hex}` });
  t.deepEqual(del.json(), { infoHash: hex, removed: true });
  t.is(session.torrent(hex), undefined);
  isError(t, await request(port, { path: `/api/torrents/${hex}` }), 404);
  isError(t, await request(port, { method: 'PUT', path: '/api/torrents' }), 405);
});

test('GET /download serves the files of the session\'s torrents only, with Range, and refuses traversal in every spelling', async (t) => {
  const { session, dir, port } = await setup(t);
  const downloads = path.join(dir, 'downloads');
  await mkdir(path.join(downloads, 'folder', 'sub'), { recursive: true });
  const content = fixtureBytes(30_000, 9);
  await writeFile(path.join(downloads, 'done file.bin'), content);
  await writeFile(path.join(downloads, 'folder', 'inner.txt'), 'inner');
  await writeFile(path.join(downloads, 'folder', 'sub', 'deep.bin'), fixtureBytes(5000, 3));
  await writeFile(path.join(downloads, 'other.bin'), 'not a torrent of the session');
  const single = await torrentOf(path.join(downloads, 'done file.bin'), path.join(dir, 'single.torrent'), 16384);
  const multi = await torrentOf(path.join(downloads, 'folder'), path.join(dir, 'multi.torrent'), 16384);
  await session.addTorrent(single.meta, { contentPath: single.contentPath, mode: 'seed' });
  await session.addTorrent(multi.meta, { contentPath: multi.contentPath, mode: 'seed' });
  const secret = 'TOP-SECRET-OUTSIDE';
  await writeFile(path.join(dir, 'secret.txt'), secret);
  await symlink(path.join(dir, 'secret.txt'), path.join(downloads, 'escape.txt'));
  await symlink(dir, path.join(downloads, 'escape-dir'));

  const ok = await request(port, { path: '/download/done%20file.bin' });
  t.is(ok.status, 200);
  t.deepEqual(ok.body, content);
  t.is(ok.headers['content-type'], 'application/octet-stream');
  t.is(ok.headers['accept-ranges'], 'bytes');
  t.regex(String(ok.headers['content-disposition']), /^attachment; filename="done file.bin"/);
  t.deepEqual((await request(port, { path: `/download/${single.infoHashHex}` })).body, content, 'by info-hash');
  t.deepEqual((await request(port, { path: `/download/${single.infoHashHex}/done%20file.bin` })).body, content, 'by info-hash and name');
  t.is((await request(port, { path: '/download/folder/inner.txt' })).text, 'inner');
  t.is((await request(port, { path: `/download/${multi.infoHashHex}/inner.txt` })).text, 'inner');
  t.deepEqual((await request(port, { path: `/download/${multi.infoHashHex.toUpperCase()}/sub/deep.bin` })).body, fixtureBytes(5000, 3));
  const head = await request(port, { method: 'HEAD', path: '/download/done%20file.bin' });
  t.is(head.status, 200);
  t.is(head.headers['content-length'], String(content.length));

  const part = await request(port, { path: '/download/done%20file.bin', headers: { Range: 'bytes=100-199' } });
  t.is(part.status, 206);
  t.is(part.headers['content-range'], `bytes 100-199/${content.length}`);
  t.deepEqual(part.body, content.subarray(100, 200));
  const tail = await request(port, { path: '/download/done%20file.bin', headers: { Range: 'bytes=-10' } });
  t.deepEqual(tail.body, content.subarray(content.length - 10));
  t.deepEqual((await request(port, { path: '/download/done%20file.bin', headers: { Range: 'bytes=29990-' } })).body, content.subarray(29_990));
  t.is((await request(port, { path: '/download/done%20file.bin', headers: { Range: 'bytes=40000-' } })).status, 416);

  const attempts = [
    '/download/../secret.txt',
    '/download/..%2fsecret.txt',
    '/download/..%2Fsecret.txt',
    '/download/%2e%2e/secret.txt',
    '/download/%2e%2e%2fsecret.txt',
    '/download/%2E%2E%2Fsecret.txt',
    '/download/..%5csecret.txt',
    '/download/folder/../../secret.txt',
    '/download/%252e%252e/secret.txt',
    '/download/.',
    '/download/secret.txt%00',
    '/download/%c0%ae%c0%ae/secret.txt',
    '/download//etc/passwd',
    `/download/${encodeURIComponent(path.join(dir, 'secret.txt'))}`,
    '/download/escape.txt',
    '/download/escape-dir/secret.txt',
    '/download/folder/../escape.txt',
  ];
  for (const p of attempts) {
    const res = await request(port, { path: p });
    t.true(res.status >= 400 && res.status < 500, `${p} -> ${res.status}`);
    t.false(res.text.includes(secret), `${p} leaked the file`);
  }
  isError(t, await request(port, { path: '/download/other.bin' }), 404, /no torrent/);
  isError(t, await request(port, { path: '/download/missing.bin' }), 404);
  isError(t, await request(port, { path: '/download/folder' }), 404, /name one/);
  isError(t, await request(port, { path: '/download/folder/missing.txt' }), 404, /no file/);
  isError(t, await request(port, { path: '/download/done%20file.bin/x' }), 404);
  isError(t, await request(port, { path: '/download/.hidden' }), 403, /dotfile/);
  isError(t, await request(port, { path: '/download/' }), 400);

  // A file of the torrent swapped for a symlink that leads out is refused.
  await unlink(path.join(downloads, 'folder', 'inner.txt'));
  await symlink(path.join(dir, 'secret.txt'), path.join(downloads, 'folder', 'inner.txt'));
  isError(t, await request(port, { path: '/download/folder/inner.txt' }), 403, /outside/);
});

test('GET /download of a torrent still downloading answers its headers at once and waits for the pieces (no peer here: no body yet)', async (t) => {
  const { dir, port } = await setup(t);
  const fx = await singleFileTorrent(path.join(dir, 'fx'), { name: 'partial.bin', length: 50_000, pieceLength: 16384 });
  const res = await request(port, { method: 'POST', path: '/api/torrents', headers: { 'Content-Type': 'application/x-bittorrent' }, body: await readFile(fx.torrentPath) });
  t.is(res.status, 201, res.text);
  const head = await request(port, { method: 'HEAD', path: '/download/partial.bin' });
  t.is(head.status, 200);
  t.is(head.headers['content-length'], '50000');
  t.is(head.headers['accept-ranges'], 'bytes');
  // A GET gets its 206 headers, then nothing until a piece is verified (none will be: no peer); the client leaves.
  const http = await import('node:http');
  const got = await new Promise<{ status: number; range: string | undefined; bytes: number }>((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/download/partial.bin', headers: { Range: 'bytes=100-199' }, agent: false }, (r) => {
      let bytes = 0;
      r.on('data', (c: Buffer) => (bytes += c.length));
      setTimeout(() => {
        resolve({ status: r.statusCode ?? 0, range: r.headers['content-range'], bytes });
        req.destroy();
      }, 500);
    });
    req.on('error', (err) => (err.message.includes('socket hang up') ? undefined : reject(err)));
  });
  t.deepEqual(got, { status: 206, range: 'bytes 100-199/50000', bytes: 0 });
});

test('GET /api/dht and /api/kv: summary or disabled, 503 without a KV store, validation with one', async (t) => {
  const { session, dir } = await startSession(t);
  const plain = await startApi(t, session, dir);
  t.deepEqual((await request(plain.port, { path: '/api/dht' })).json(), { enabled: false });
  isError(t, await request(plain.port, { path: '/api/kv/name' }), 503, /DHT/);
  isError(t, await request(plain.port, { method: 'PUT', path: '/api/kv/name', headers: { 'Content-Type': 'application/json' }, body: '{"value":"x"}' }), 503);

  const store = new Map<string, string>();
  const calls: unknown[] = [];
  const extended = withExtras(session, {
    dht: { stats: () => ({ nodes: 5, goodNodes: 4 }) },
    kv: {
      async get(key, opts) {
        calls.push(['get', key, opts]);
        const v = store.get(`${opts?.namespace ?? ''}/${key}`);
        return v === undefined ? undefined : { value: v, seq: 1 };
      },
      async put(key, value, opts) {
        calls.push(['put', key, value, opts]);
        store.set(`${opts?.namespace ?? ''}/${key}`, value);
        return { stored: 3 };
      },
    },
  });
  const api = await startApi(t, extended, dir);
  const port = api.port;
  t.deepEqual((await request(port, { path: '/api/dht' })).json(), { enabled: true, nodes: 5, goodNodes: 4, families: [{ family: 'IPv4', nodes: 5, goodNodes: 4 }] });

  const put = await request(port, { method: 'PUT', path: '/api/kv/greeting?namespace=lab', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ value: 'hello' }) });
  t.is(put.status, 200, put.text);
  t.deepEqual(put.json(), { key: 'greeting', namespace: 'lab', result: { stored: 3 } });
  const got = await request(port, { path: '/api/kv/greeting?namespace=lab' });
  t.deepEqual(got.json(), { key: 'greeting', namespace: 'lab', status: 'found', result: { value: 'hello', seq: 1 } });
  const rawPut = await request(port, { method: 'PUT', path: '/api/kv/caf%C3%A9', headers: { 'Content-Type': 'text/plain' }, body: 'plain value' });
  t.is(rawPut.status, 200);
  t.deepEqual(calls.at(-1), ['put', 'café', 'plain value', {}]);

  isError(t, await request(port, { path: '/api/kv/nothing-here' }), 404);
  isError(t, await request(port, { path: '/api/kv/' }), 400, /missing key/);
  isError(t, await request(port, { path: `/api/kv/${'k'.repeat(65)}` }), 400, /64 bytes/);
  isError(t, await request(port, { path: '/api/kv/%zz' }), 400, /percent/);
  isError(t, await request(port, { path: '/api/kv/x?namespace=' }), 400, /namespace/);
  isError(t, await request(port, { method: 'PUT', path: '/api/kv/x', headers: { 'Content-Type': 'application/json' }, body: '{}' }), 400, /missing field "value"/);
  isError(t, await request(port, { method: 'PUT', path: '/api/kv/x', headers: { 'Content-Type': 'application/json' }, body: '{"value": 1}' }), 400, /string/);
  isError(t, await request(port, { method: 'PUT', path: '/api/kv/x', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ value: 'v'.repeat(64 * 1024 + 1) }) }), 400, /too long/);
  isError(t, await request(port, { method: 'PUT', path: '/api/kv/x', headers: { 'Content-Type': 'text/plain' }, body: 'v'.repeat(64 * 1024 + 1) }), 413);
});

test('PUT /api/limits changes the session rate limits at run time; bad values are refused', async (t) => {
  const { session, port } = await setup(t);
  const put = (body: string) => request(port, { method: 'PUT', path: '/api/limits', headers: { 'Content-Type': 'application/json' }, body });
  const res = await put(JSON.stringify({ uploadBytesPerS: 100_000 }));
  t.deepEqual(res.json(), { uploadBytesPerS: 100_000, downloadBytesPerS: 0 });
  t.is(session.limits.upload.rate, 100_000);
  await put(JSON.stringify({ uploadBytesPerS: 0, downloadBytesPerS: 2048 }));
  t.is(session.limits.upload.rate, 0);
  t.is(session.limits.download.rate, 2048);
  t.deepEqual((await request(port, { path: '/api/limits' })).json(), { uploadBytesPerS: 0, downloadBytesPerS: 2048 });
  isError(t, await put('{}'), 400, /uploadBytesPerS/);
  isError(t, await put('{"uploadBytesPerS": -1}'), 400, /non-negative/);
  isError(t, await put('{"downloadBytesPerS": "fast"}'), 400);
  isError(t, await put('{"downloadBytesPerS": 1.5}'), 400);
  isError(t, await put('nope'), 400, /JSON/);
  t.is(session.limits.download.rate, 2048, 'a refused request changes nothing');
});

test('GET / serves the dashboard with a strict CSP and only local scripts; assets are served', async (t) => {
  const { port } = await setup(t);
  const page = await request(port, { path: '/' });
  t.is(page.status, 200);
  t.regex(String(page.headers['content-type']), /^text\/html/);
  t.regex(String(page.headers['content-security-policy']), /default-src 'none'; script-src 'self'/);
  t.is(page.headers['x-content-type-options'], 'nosniff');
  t.is(page.headers['x-frame-options'], 'DENY');
  const srcs = [...page.text.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
  t.deepEqual(srcs.sort(), ['/assets/app.js', '/assets/chart.js', '/assets/style.css']);
  t.false(/<script>[^<]/.test(page.text), 'no inline script');
  for (const [asset, type] of [['app.js', /javascript/], ['style.css', /text\/css/], ['chart.js', /javascript/]] as const) {
    const res = await request(port, { path: `/assets/${asset}` });
    t.is(res.status, 200, asset);
    t.regex(String(res.headers['content-type']), type);
  }
  t.regex((await request(port, { path: '/assets/chart.js' })).text.slice(0, 2000), /Chart\.js v4/);
  isError(t, await request(port, { path: '/assets/nope.js' }), 404);
  t.is((await request(port, { path: '/favicon.ico' })).status, 204, 'no icon, and no 404 in the browser console');
  isError(t, await request(port, { path: '/no/such/route' }), 404);
  t.is((await request(port, { path: '/metrics' })).status, 200);
});

test('a token is required off loopback; with one, requests without it or with a wrong one get 401', async (t) => {
  const { session, dir } = await startSession(t);
  for (const host of ['0.0.0.0', '192.0.2.10', '::']) {
    t.throws(() => new ApiServer({ session, host, port: 0, downloadsDir: dir, uploadsDir: dir, logger: silentLogger }), { instanceOf: UsageError, message: /needs a token/ });
  }
  for (const bad of ['short', 'has a space in it', 'x'.repeat(257)]) {
    t.throws(() => new ApiServer({ session, port: 0, token: bad, downloadsDir: dir, uploadsDir: dir }), { instanceOf: UsageError, message: /8 to 256 printable/ });
  }

  const token = 'a-long-secret-token-1234';
  const api = await startApi(t, session, dir, { token });
  const port = api.port;
  t.is(api.url, `http://127.0.0.1:${port}/`);
  t.is(api.dashboardUrl, `http://127.0.0.1:${port}/?token=${token}`);
  const none = await request(port, { path: '/api/torrents' });
  isError(t, none, 401, /token/);
  t.regex(String(none.headers['www-authenticate']), /^Bearer/);
  isError(t, await request(port, { path: '/api/torrents', headers: { Authorization: 'Bearer wrong-token-but-long-enough' } }), 401, /wrong token/);
  isError(t, await request(port, { path: '/api/torrents', headers: { Authorization: `Basic ${token}` } }), 401);
  isError(t, await request(port, { path: `/api/torrents?token=${token}x` }), 401);
  isError(t, await request(port, { path: '/' }), 401);
  isError(t, await request(port, { path: '/metrics' }), 401);
  isError(t, await request(port, { path: '/download/x' }), 401);
  t.is((await request(port, { path: '/api/torrents', headers: { Authorization: `Bearer ${token}` } })).status, 200);
  t.is((await request(port, { path: `/api/torrents?token=${token}` })).status, 200);
  t.is((await request(port, { path: `/?token=${encodeURIComponent(token)}` })).status, 200);
  t.is((await request(port, { path: '/assets/app.js' })).status, 200, 'the page code is public');
});

test('browser protections: a foreign Host (DNS rebinding) and cross-origin writes are refused', async (t) => {
  const { port } = await setup(t);
  isError(t, await request(port, { path: '/api/torrents', headers: { Host: 'evil.example:80' } }), 403, /Host/);
  t.is((await request(port, { path: '/api/torrents', headers: { Host: `localhost:${port}` } })).status, 200);
  const form = multipart('x.bin', Buffer.from('data'));
  isError(t, await request(port, { method: 'POST', path: '/upload', headers: { ...form.headers, Origin: 'http://evil.example' }, body: form.body }), 403, /cross-origin/);
  const same = await request(port, { method: 'POST', path: '/upload', headers: { ...form.headers, Origin: `http://127.0.0.1:${port}` }, body: form.body });
  t.is(same.status, 201, same.text);
});

test('the downloads and uploads folders are created on demand', async (t) => {
  const dir = await tempDir(t);
  const { session } = await startSession(t, { dir });
  const api = await startApi(t, session, path.join(dir, 'nested', 'deeper'));
  const up = multipart('x.bin', Buffer.from('some bytes'));
  t.is((await request(api.port, { method: 'POST', path: '/upload', headers: up.headers, body: up.body })).status, 201);
  t.deepEqual(await readdir(path.join(dir, 'nested', 'deeper', 'uploads')), ['x.bin']);
});

test('clients that hang up mid-request or send garbage do not disturb the server, and leave no partial upload', async (t) => {
  const { dir, port } = await setup(t);
  const net = await import('node:net');
  const send = (data: string | Buffer, hangUp: boolean) =>
    new Promise<string>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      let got = '';
      s.on('data', (c) => (got += c.toString('latin1')));
      s.on('error', () => resolve(got));
      s.on('close', () => resolve(got));
      s.write(data, () => {
        if (hangUp) setTimeout(() => s.destroy(), 100);
        else s.end();
      });
    });
  const up = multipart('cut.bin', Buffer.alloc(200_000, 5));
  const head = `POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${up.headers['Content-Type']}\r\nContent-Length: ${up.body.length}\r\n\r\n`;
  await send(Buffer.concat([Buffer.from(head), up.body.subarray(0, 100_000)]), true);
  await send(`PUT /api/limits HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"upload`, true);
  t.regex(await send('GARBAGE\r\n\r\n', false), /^HTTP\/1\.1 400/);
  t.regex(await send(`GET /api/torrents HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`, false), /^HTTP\/1\.1 431/);
  await pollUntil(async () => ((await readdir(path.join(dir, 'uploads')).catch(() => [])).length === 0 ? true : undefined), 'the partial upload to be removed', 10_000);
  t.is((await request(port, { path: '/api/torrents' })).status, 200, 'still serving');
});
