/**
 * Issue 11, part 3: data is written (and served) only inside the download
 * folder, whatever symlinks someone planted there. The folder the user names
 * (--out, --downloads, the parent of --data) is trusted, and may itself be a
 * link; the content path `<folder>/<name>` and everything below it must not be
 * one. Every case runs the built commands.
 */
import test, { type ExecutionContext } from 'ava';
import { lstat, mkdir, readdir, readFile, rename, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { MAKE_TORRENT_BIN } from './helpers/bin.js';
import { closed, fixtureBytes, freePort, isComplete, isProgress, peerArgs, singleFileTorrent, spawnPeer, tempDir, torrentOf, treeDigest, within, writeFixture, type PeerProcess, type TorrentFixture } from './helpers/swarm.js';
import { torrentShape, waitPeerReady } from './helpers/wire-peer.js';

const HOST = '127.0.0.2';
/** Long enough for a refusal at start; the old code, which did not refuse, ran on past it. */
const REFUSAL_MS = 20_000;
const SECRET = Buffer.from('the outside file: must never change\n');

type T = ExecutionContext;

async function startSeeder(t: T, dir: string, fx: TorrentFixture): Promise<{ seeder: PeerProcess; port: number }> {
  const port = await freePort([HOST]);
  const seeder = spawnPeer(t, ['seed', fx.torrentPath, '--data', fx.contentPath, ...peerArgs(HOST, port, path.join(dir, 'seed-state'))]);
  await waitPeerReady(t, HOST, port, fx.meta.infoHash, torrentShape(fx.pieceLength, fx.totalLength));
  return { seeder, port };
}

async function leech(t: T, dir: string, fx: TorrentFixture, out: string, seederPort: number): Promise<PeerProcess> {
  const port = await freePort([HOST]);
  return spawnPeer(t, ['leech', fx.torrentPath, '--out', out, '--exit-on-complete', '--peer', `${HOST}:${seederPort}`, ...peerArgs(HOST, port, path.join(dir, 'leech-state'))]);
}

/** A multi-file fixture: a.bin, b.bin and sub/c.bin of 200,000 bytes each, in `<dir>/content/folder`. */
async function multiFileTorrent(dir: string): Promise<TorrentFixture> {
  const root = path.join(dir, 'content', 'folder');
  await writeFixture(path.join(root, 'a.bin'), fixtureBytes(200_000, 1));
  await writeFixture(path.join(root, 'b.bin'), fixtureBytes(200_000, 2));
  await writeFixture(path.join(root, 'sub', 'c.bin'), fixtureBytes(200_000, 3));
  return torrentOf(root, path.join(dir, 'folder.torrent'), 16384);
}

/** Exit 2, one clear message naming the link on stderr, and the same as the one JSON error event. */
function assertRefused(t: T, p: PeerProcess, exit: { code: number | null }, link: string): void {
  t.is(exit.code, 2, p.describe());
  t.true(p.stderr().includes(`symlink: ${link} ->`), p.describe());
  t.deepEqual(p.badLines, []);
  const errors = p.events.filter((e) => e.event === 'error');
  t.is(errors.length, 1, p.stdout());
  t.true(errors[0]!.event === 'error' && errors[0]!.message.includes(link), p.stdout());
}

test('leech: <out>/<name> a symlink to a file elsewhere (single-file) is refused with exit 2; the file is unchanged', async (t) => {
  const dir = await tempDir(t);
  const fx = await singleFileTorrent(dir, { length: 600_000, pieceLength: 16384 });
  const { port } = await startSeeder(t, dir, fx);
  const out = path.join(dir, 'out');
  await mkdir(out);
  const secret = path.join(dir, 'secret.txt');
  await writeFile(secret, SECRET);
  const link = path.join(out, fx.meta.info.name);
  await symlink(secret, link);
  const p = await leech(t, dir, fx, out, port);
  assertRefused(t, p, await closed(p, REFUSAL_MS), link);
  t.deepEqual(await readFile(secret), SECRET, 'nothing written through the link');
  t.true((await lstat(link)).isSymbolicLink(), 'the link is left as it was');
});

test('leech: <out>/<name> a symlink to a folder elsewhere (multi-file) is refused with exit 2; nothing is created there', async (t) => {
  const dir = await tempDir(t);
  const fx = await multiFileTorrent(dir);
  const { port } = await startSeeder(t, dir, fx);
  const out = path.join(dir, 'out');
  await mkdir(out);
  const elsewhere = path.join(dir, 'elsewhere');
  await mkdir(elsewhere);
  const link = path.join(out, 'folder');
  await symlink(elsewhere, link);
  const p = await leech(t, dir, fx, out, port);
  assertRefused(t, p, await closed(p, REFUSAL_MS), link);
  t.deepEqual(await readdir(elsewhere), []);
});

test('leech: a subfolder of the tree planted as a symlink to a folder elsewhere is refused with exit 2', async (t) => {
  const dir = await tempDir(t);
  const fx = await multiFileTorrent(dir);
  const { port } = await startSeeder(t, dir, fx);
  const out = path.join(dir, 'out');
  await mkdir(path.join(out, 'folder'), { recursive: true });
  const elsewhere = path.join(dir, 'elsewhere');
  await mkdir(elsewhere);
  await writeFile(path.join(elsewhere, 'c.bin'), SECRET);
  const link = path.join(out, 'folder', 'sub');
  await symlink(elsewhere, link);
  const p = await leech(t, dir, fx, out, port);
  assertRefused(t, p, await closed(p, REFUSAL_MS), link);
  t.deepEqual(await readdir(elsewhere), ['c.bin']);
  t.deepEqual(await readFile(path.join(elsewhere, 'c.bin')), SECRET);
});

test('leech: symlinks planted while it runs (a file and a subfolder) pause the download with one error; nothing is written through them; it completes once they are removed', async (t) => {
  const dir = await tempDir(t);
  const fx = await multiFileTorrent(dir);
  const out = path.join(dir, 'out');
  const root = path.join(out, 'folder');
  // The leecher starts alone: its files are created (sparse), none is open yet.
  const leechPort = await freePort([HOST]);
  // At debug level it says when a retry of the paused writes fails: the sign this test waits for.
  const p = spawnPeer(t, ['leech', fx.torrentPath, '--out', out, '--exit-on-complete', ...peerArgs(HOST, leechPort, path.join(dir, 'leech-state'), ['--log-level', 'debug'])]);
  await p.waitFor(isProgress, 'the torrent to start');
  t.is((await stat(path.join(root, 'sub', 'c.bin'))).size, 200_000);

  const elsewhere = path.join(dir, 'elsewhere');
  await mkdir(elsewhere);
  const outsideB = path.join(elsewhere, 'b-target.bin');
  const outsideC = path.join(elsewhere, 'c.bin');
  const filler = Buffer.alloc(200_000, 0x55); // the right sizes: the old code wrote into these
  await writeFile(outsideB, filler);
  await writeFile(outsideC, filler);
  await rename(path.join(root, 'b.bin'), path.join(dir, 'b-moved.bin'));
  await symlink(outsideB, path.join(root, 'b.bin'));
  await rename(path.join(root, 'sub'), path.join(dir, 'sub-moved'));
  await symlink(elsewhere, path.join(root, 'sub'));

  const seedPort = await freePort([HOST]);
  spawnPeer(t, ['seed', fx.torrentPath, '--data', fx.contentPath, '--peer', `${HOST}:${leechPort}`, ...peerArgs(HOST, seedPort, path.join(dir, 'seed-state'))]);
  const refusedB = `symlink: ${path.join(root, 'b.bin')} ->`;
  const refusedSub = `symlink: ${path.join(root, 'sub')} ->`;
  // The first write through either link is refused, and downloading pauses (one error, one paused event).
  const err = await p.waitFor((e) => e.event === 'error' && (e.message.includes(refusedB) || e.message.includes(refusedSub)), 'a write through a link refused');
  await p.waitFor((e) => e.event === 'paused', 'the paused event');
  await p.waitForStderr(/the disk still refuses writes/, 15_000); // a retry (after 2 s) fails quietly
  t.is(p.exit, undefined, `still running\n${p.describe()}`);
  t.is(p.events.filter((e) => e.event === 'error').length, 1, `one error event, not one per retry: ${p.stdout().slice(-2000)}`);
  t.false(p.events.some(isComplete), 'it cannot complete');
  t.deepEqual(await readFile(outsideB), filler, 'nothing written through the file link');
  t.deepEqual(await readFile(outsideC), filler, 'nothing written through the folder link');
  t.deepEqual((await readdir(elsewhere)).sort(), ['b-target.bin', 'c.bin']);
  t.log(`refused: ${err.event === 'error' ? err.message : ''}`);

  // The links are removed and the files put back: the retry writes, and the download completes byte-equal.
  await unlink(path.join(root, 'b.bin'));
  await rename(path.join(dir, 'b-moved.bin'), path.join(root, 'b.bin'));
  await unlink(path.join(root, 'sub'));
  await rename(path.join(dir, 'sub-moved'), path.join(root, 'sub'));
  await p.waitFor((e) => e.event === 'unpaused', 'the unpaused event', 90_000);
  await p.waitFor(isComplete, 'the complete event', 90_000);
  t.is((await closed(p)).code, 0, p.describe());
  t.deepEqual([...(await treeDigest(root))], [...(await treeDigest(fx.contentPath))], 'byte-equal once the links are gone');
  t.deepEqual(await readFile(outsideB), filler);
  t.deepEqual(await readFile(outsideC), filler);
});

test('leech: an --out folder that is itself a symlink is the user\'s choice and is trusted', async (t) => {
  const dir = await tempDir(t);
  const fx = await singleFileTorrent(dir, { length: 600_000, pieceLength: 16384 });
  const { port } = await startSeeder(t, dir, fx);
  const real = path.join(dir, 'real-downloads');
  await mkdir(real);
  const out = path.join(dir, 'downloads-link');
  await symlink(real, out);
  const p = await leech(t, dir, fx, out, port);
  t.is((await closed(p)).code, 0, p.describe());
  t.deepEqual(await readFile(path.join(real, fx.meta.info.name)), await readFile(fx.contentPath));
});

test('seed: downloads/<name> a symlink to a file elsewhere (the default --data) is refused with exit 2', async (t) => {
  const dir = await tempDir(t);
  const fx = await singleFileTorrent(dir, { length: 600_000, pieceLength: 16384 });
  // The link points at the very bytes of the torrent: served, they would pass every hash.
  const link = path.join(dir, 'downloads', fx.meta.info.name);
  await mkdir(path.dirname(link));
  await symlink(fx.contentPath, link);
  const port = await freePort([HOST]);
  const p = spawnPeer(t, ['seed', fx.torrentPath, ...peerArgs(HOST, port, path.join(dir, 'state'))], { cwd: dir });
  assertRefused(t, p, await closed(p, REFUSAL_MS), link);
});

test('seed --data: a symlink inside the content tree to a file elsewhere is refused with exit 2 and never served', async (t) => {
  const dir = await tempDir(t);
  const fx = await multiFileTorrent(dir);
  // b.bin now links to a copy elsewhere with the same bytes: it would pass its hashes.
  const elsewhere = path.join(dir, 'elsewhere.bin');
  await rename(path.join(fx.contentPath, 'b.bin'), elsewhere);
  const link = path.join(fx.contentPath, 'b.bin');
  await symlink(elsewhere, link);
  const port = await freePort([HOST]);
  const p = spawnPeer(t, ['seed', fx.torrentPath, '--data', fx.contentPath, ...peerArgs(HOST, port, path.join(dir, 'state'))]);
  assertRefused(t, p, await closed(p, REFUSAL_MS), link);
});

test('make-torrent: a folder holding a symlink to a file outside it is refused with exit 2, no torrent written', async (t) => {
  const dir = await tempDir(t);
  const root = path.join(dir, 'share');
  await writeFixture(path.join(root, 'a.bin'), fixtureBytes(1000));
  await writeFile(path.join(dir, 'secret.txt'), SECRET);
  await symlink(path.join(dir, 'secret.txt'), path.join(root, 'escape.txt'));
  const output = path.join(dir, 'share.torrent');
  const child = spawn(process.execPath, [MAKE_TORRENT_BIN, root, '-o', output], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  child.stdout.resume();
  const code = await within(new Promise<number | null>((r) => child.once('close', r)), REFUSAL_MS, 'make-torrent to exit');
  t.is(code, 2, stderr);
  t.true(stderr.includes(path.join(root, 'escape.txt')) && stderr.includes('symlink'), stderr);
  await t.throwsAsync(stat(output));
});

test('make-torrent follows a symlink inside the folder with a note; seeding that folder through it is refused with exit 2', async (t) => {
  const dir = await tempDir(t);
  const root = path.join(dir, 'share');
  await writeFixture(path.join(root, 'real', 'a.bin'), fixtureBytes(50_000));
  await symlink(path.join(root, 'real', 'a.bin'), path.join(root, 'alias.bin'));
  const output = path.join(dir, 'share.torrent');
  const child = spawn(process.execPath, [MAKE_TORRENT_BIN, root, '-o', output, '-l', '16K'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  child.stdout.resume();
  t.is(await within(new Promise<number | null>((r) => child.once('close', r)), REFUSAL_MS, 'make-torrent to exit'), 0, stderr);
  t.true(stderr.includes(`note: followed a symlink (${path.join(root, 'alias.bin')})`), stderr);
  const port = await freePort([HOST]);
  const p = spawnPeer(t, ['seed', output, '--data', root, ...peerArgs(HOST, port, path.join(dir, 'state'))]);
  assertRefused(t, p, await closed(p, REFUSAL_MS), path.join(root, 'alias.bin'));
});
