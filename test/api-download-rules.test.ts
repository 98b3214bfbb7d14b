/**
 * Issue 11 part 6: the API serves only what it should, on the built
 * commands. `seed --api` run from a working folder that also holds
 * `.ssh/id_rsa`, `secret.txt` and the state folder used to serve all of them
 * (the download route was rooted at the parent of the content). Now
 * `/download/` serves the files of the session's torrents only (by name or
 * info-hash), never dotfiles or state, and uploads land in `uploads/`; the
 * same for `leech --api` and `peer start`.
 *
 * The seed test is an attack: thousands of requests for what must not be
 * served while an honest leecher downloads; the seeder stays up, its RSS
 * within 50 MB of its baseline, the leecher completes byte-equal, and the
 * seeder's stderr sums the refusals up in a few lines.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { settledRss } from './helpers/proc.js';
import { closed, fixtureBytes, freePort, isComplete, peerArgs, spawnPeer, tempDir, torrentOf, writeFixture, type PeerProcess } from './helpers/swarm.js';
import { pollUntil } from './helpers/poll.js';
import { multipart, request, type RawResponse } from './api-fixtures.js';

const MB = 1024 * 1024;
const KEY = '-----BEGIN OPENSSH PRIVATE KEY----- not-a-real-key-4242';
const SECRET = 'TOP-SECRET-working-folder-file';

/** A working folder with a key, a secret and a file to share, and the shared file's torrent. */
async function workingFolder(t: ExecutionContext, length = 2 * MB) {
  const dir = await tempDir(t, 'api-rules-');
  await writeFixture(path.join(dir, '.ssh', 'id_rsa'), Buffer.from(KEY));
  await writeFile(path.join(dir, 'secret.txt'), SECRET);
  const content = fixtureBytes(length, 11);
  const fx = await torrentOf(await writeAt(path.join(dir, 'payload.bin'), content), path.join(dir, 'payload.torrent'), 32 * 1024);
  return { dir, content, fx };
}

async function writeAt(file: string, bytes: Uint8Array): Promise<string> {
  await writeFixture(file, bytes);
  return file;
}

async function apiUrlOf(p: PeerProcess): Promise<number> {
  const port = await pollUntil(() => /dashboard: http:\/\/127\.0\.0\.1:(\d+)\//.exec(p.stderr())?.[1], `the dashboard line of ${p.args[0]}`);
  return Number(port);
}

/** What no route may serve, in the spellings an attacker would try. */
function forbidden(infoHash: string): string[] {
  return [
    '/download/.ssh/id_rsa',
    '/download/%2essh/id_rsa',
    '/download/.ssh%2fid_rsa',
    '/download/secret.txt',
    '/download/state',
    `/download/state/resume/${infoHash}.resume`,
    '/download/payload.torrent',
    '/download/../secret.txt',
    '/download/%2e%2e/secret.txt',
    '/download/payload.bin/../secret.txt',
    `/download/${infoHash}/../secret.txt`,
    `/download/${infoHash}/.ssh/id_rsa`,
    `/download/${infoHash}/secret.txt`,
    '/download/uploads/../secret.txt',
  ];
}

function neverLeaks(t: ExecutionContext, p: string, res: RawResponse): void {
  t.true([400, 403, 404].includes(res.status), `${p} -> ${res.status}`);
  t.false(res.text.includes(KEY) || res.text.includes(SECRET) || res.text.includes('info-hash'), `${p} leaked a file`);
}

/** The torrent's own file is served whole, by name and by info-hash, and by range. */
async function servesOwnFile(t: ExecutionContext, port: number, infoHash: string, content: Buffer): Promise<void> {
  const whole = await request(port, { path: '/download/payload.bin' });
  t.is(whole.status, 200);
  t.true(whole.body.equals(content), 'byte-equal by name');
  t.true((await request(port, { path: `/download/${infoHash}` })).body.equals(content), 'byte-equal by info-hash');
  const part = await request(port, { path: '/download/payload.bin', headers: { Range: 'bytes=1000-1999' } });
  t.is(part.status, 206);
  t.is(part.headers['content-range'], `bytes 1000-1999/${content.length}`);
  t.true(part.body.equals(content.subarray(1000, 2000)));
}

/** POST /upload lands in <dir>/uploads and is then served as its own torrent's file. */
async function uploadsToTheirFolder(t: ExecutionContext, port: number, dir: string): Promise<void> {
  const up = multipart('note.txt', Buffer.from('hello from an upload'));
  const res = await request(port, { method: 'POST', path: '/upload', headers: up.headers, body: up.body });
  t.is(res.status, 201, res.text);
  t.deepEqual(await readdir(path.join(dir, 'uploads')), ['note.txt']);
  t.is((await request(port, { path: '/download/note.txt' })).text, 'hello from an upload');
}

test('seed --api from a working folder: only the torrent\'s file is served, under attack, while an honest leecher downloads', async (t) => {
  t.timeout(180_000);
  const { dir, content, fx } = await workingFolder(t);
  const peerPort = await freePort(['127.0.0.2']);
  const seeder = spawnPeer(t, ['seed', 'payload.torrent', '--data', 'payload.bin', '--host', '127.0.0.2', '--port', String(peerPort), '--state', 'state', '--no-dht', '--api', '0'], { cwd: dir });
  const port = await apiUrlOf(seeder);
  await pollUntil(async () => ((await readdir(path.join(dir, 'state', 'resume')).catch(() => [])).length > 0 ? true : undefined), 'the resume state');
  const pid = seeder.child.pid!;
  const baseline = await settledRss(pid, 2000);

  // An honest leecher, from its own folder, during the attack.
  const out = await tempDir(t);
  const leechPort = await freePort(['127.0.0.3']);
  const leecher = spawnPeer(t, ['leech', fx.torrentPath, '--out', out, ...peerArgs('127.0.0.3', leechPort, path.join(out, 'state'), ['--peer', `127.0.0.2:${peerPort}`, '--exit-on-complete'])]);

  const paths = forbidden(fx.infoHashHex);
  let sent = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (sent < 3000) {
        const p = paths[sent++ % paths.length]!;
        neverLeaks(t, p, await request(port, { path: p }));
      }
    }),
  );
  t.log(`${sent} forbidden requests in ${Date.now() - started} ms`);
  await leecher.waitFor(isComplete, 'the honest leecher to complete');
  t.is((await closed(leecher)).code, 0);
  t.true((await readFile(path.join(out, 'payload.bin'))).equals(content), 'the leecher got the file byte-equal');

  await servesOwnFile(t, port, fx.infoHashHex, content);
  await uploadsToTheirFolder(t, port, dir);
  t.deepEqual((await readdir(dir)).sort(), ['.ssh', 'payload.bin', 'payload.torrent', 'secret.txt', 'state', 'uploads'], 'nothing written elsewhere in the working folder');

  t.is(seeder.exit, undefined, 'the seeder is alive');
  const rss = await settledRss(pid, 3000);
  t.log(`seeder RSS: baseline ${(baseline / MB).toFixed(1)} MB, after the attack ${(rss / MB).toFixed(1)} MB`);
  t.true(rss - baseline < 50 * MB, `RSS grew by ${((rss - baseline) / MB).toFixed(1)} MB`);
  const refusals = seeder.stderr().split('\n').filter((l) => /refused/.test(l));
  t.log(refusals.join('\n'));
  t.true(refusals.some((l) => /dotfiles are never served/.test(l)), 'the user is told why');
  t.true(refusals.length <= 10, `${refusals.length} refusal lines on stderr`);
  seeder.kill('SIGINT');
  t.is((await seeder.waitExit()).code, 0);
});

test('leech --api: the same rules once the download is complete', async (t) => {
  t.timeout(120_000);
  const src = await workingFolder(t, 300_000);
  const seedPort = await freePort(['127.0.0.4']);
  spawnPeer(t, ['seed', src.fx.torrentPath, '--data', src.fx.contentPath, ...peerArgs('127.0.0.4', seedPort, path.join(src.dir, 'state'))]);
  const { dir } = await workingFolder(t, 1000);
  const leechPort = await freePort(['127.0.0.5']);
  const leecher = spawnPeer(
    t,
    ['leech', src.fx.torrentPath, '--out', 'dl', '--host', '127.0.0.5', '--port', String(leechPort), '--state', 'state', '--no-dht', '--peer', `127.0.0.4:${seedPort}`, '--api', '0'],
    { cwd: dir },
  );
  const port = await apiUrlOf(leecher);
  await leecher.waitForStderr('complete:');
  for (const p of [...forbidden(src.fx.infoHashHex), '/download/dl/payload.bin']) neverLeaks(t, p, await request(port, { path: p }));
  await servesOwnFile(t, port, src.fx.infoHashHex, src.content);
  await uploadsToTheirFolder(t, port, dir);
  leecher.kill('SIGINT');
  t.is((await leecher.waitExit()).code, 0);
});

test('peer start: the same rules for the daemon; uploads go to --uploads', async (t) => {
  t.timeout(120_000);
  const { dir, content, fx } = await workingFolder(t, 300_000);
  await mkdir(path.join(dir, 'torrents'));
  await mkdir(path.join(dir, 'downloads'));
  await writeFile(path.join(dir, 'torrents', 'payload.torrent'), await readFile(fx.torrentPath));
  await writeFile(path.join(dir, 'downloads', 'payload.bin'), content);
  const daemon = spawnPeer(t, ['start', '--torrents', 'torrents', '--downloads', 'downloads', '--state', 'state', '--host', '127.0.0.1', '--port', '0', '--no-dht', '--api', '0'], { cwd: dir });
  const port = await apiUrlOf(daemon);
  await pollUntil(async () => {
    const res = await request(port, { path: `/api/torrents/${fx.infoHashHex}` });
    return res.status === 200 && (res.json() as { state: string }).state === 'seeding' ? true : undefined;
  }, 'the watch-folder torrent to be seeding');
  for (const p of [...forbidden(fx.infoHashHex), '/download/downloads/payload.bin', '/download/torrents/payload.torrent']) neverLeaks(t, p, await request(port, { path: p }));
  await servesOwnFile(t, port, fx.infoHashHex, content);
  await uploadsToTheirFolder(t, port, dir);
  daemon.kill('SIGINT');
  t.is((await daemon.waitExit()).code, 0);
});
