/**
 * Torrent files across implementations: torrents made by libtorrent (plain
 * v1, and its default hybrid v1+v2 with BEP 47 pad files), transmission-create
 * and mktorrent are read by our built `peer info --json` with the maker's
 * info-hash and the real files only; a torrent made by our built
 * `make-torrent` is read by libtorrent and by transmission-show with ours.
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { makeTorrentCommand, peerCommand } from './helpers/bin.js';
import { clients, clientTest, SYSTEM_PYTHON } from './helpers/clients.js';
import { ltMakeTorrent } from './helpers/libtorrent.js';
import { REPO_ROOT, fixtureBytes, tempDir, writeFixture } from './helpers/swarm.js';

const LT_INFO = path.join(REPO_ROOT, 'test', 'py', 'lt_info.py');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end (bounded), never through a shell. */
function run(cmd: string, args: string[], opts: { cwd?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { cwd: opts.cwd ?? REPO_ROOT, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== 'number') return reject(err);
      resolve({ code: err ? (err.code as number) : 0, stdout, stderr });
    });
  });
}

interface InfoJson {
  infoHash: string;
  name: string;
  length: number;
  pieceLength: number;
  pieces: number;
  files: { path: string; length: number }[];
}

/** Our built `peer info --json`. */
async function peerInfo(t: ExecutionContext, torrent: string): Promise<InfoJson> {
  const r = await run(process.execPath, peerCommand(['info', torrent, '--json']));
  t.is(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as InfoJson;
}

interface LtInfo {
  infoHash: string;
  name: string;
  totalSize: number;
  pieceLength: number;
  numPieces: number;
  files: { path: string; size: number; pad: boolean }[];
}

/** What libtorrent reads in a .torrent (test/py/lt_info.py). */
async function ltInfo(t: ExecutionContext, torrent: string): Promise<LtInfo> {
  const r = await run(SYSTEM_PYTHON, [LT_INFO, torrent]);
  t.is(r.code, 0, `${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout) as LtInfo;
}

/** The info-hash transmission-show prints. */
async function transmissionHash(t: ExecutionContext, torrent: string): Promise<string> {
  const r = await run('transmission-show', [torrent]);
  t.is(r.code, 0, r.stderr);
  const m = /^\s*Hash:\s*([0-9a-f]{40})\s*$/m.exec(r.stdout);
  if (!m) throw new Error(`no Hash line in transmission-show's output:\n${r.stdout}`);
  return m[1]!;
}

/**
 * Content whose files make libtorrent pad: sizes that are not multiples of
 * the piece size, two of the same size (so two pad files share one path,
 * `.pad/<size>`), nested folders, NUL bytes, a 1-byte file.
 */
const FILES: [string, number][] = [
  ['a.bin', 100_000],
  ['sub/b.bin', 50_000],
  ['sub/c.bin', 50_000],
  ['sub/deeper/d.bin', 70_001],
  ['z.bin', 1],
];

async function content(t: ExecutionContext): Promise<{ dir: string; root: string }> {
  const dir = await tempDir(t, 'interop-torrents-');
  const root = path.join(dir, 'album');
  let seed = 1;
  for (const [rel, size] of FILES) await writeFixture(path.join(root, ...rel.split('/')), fixtureBytes(size, seed++));
  return { dir, root };
}

const sortedFiles = (files: { path: string; length: number }[]): string[] => files.map((f) => `${f.path}:${f.length}`).sort();
const EXPECTED = FILES.map(([p, n]) => `${p}:${n}`).sort();
const REAL_TOTAL = FILES.reduce((n, [, s]) => n + s, 0);

/** Checks our reading of a libtorrent-made torrent against libtorrent's own. */
async function sameAsLibtorrent(t: ExecutionContext, torrent: string, madeHash: string): Promise<{ ours: InfoJson; lt: LtInfo }> {
  const [ours, lt] = await Promise.all([peerInfo(t, torrent), ltInfo(t, torrent)]);
  t.is(ours.infoHash, madeHash, 'our info-hash is the one libtorrent computed when making it');
  t.is(lt.infoHash, madeHash);
  t.is(ours.name, lt.name);
  t.is(ours.pieceLength, lt.pieceLength);
  t.is(ours.pieces, lt.numPieces);
  t.is(ours.length, lt.totalSize, 'length is the declared total, as libtorrent counts it (pad bytes included)');
  t.deepEqual(
    ours.files,
    lt.files.filter((f) => !f.pad).map((f) => ({ path: f.path, length: f.size })),
    'the real files, in torrent order',
  );
  t.deepEqual(sortedFiles(ours.files), EXPECTED);
  return { ours, lt };
}

clientTest([clients.libtorrent], 'a plain v1 torrent made by libtorrent: same info-hash and files', async (t) => {
  const { dir, root } = await content(t);
  const torrent = path.join(dir, 'v1.torrent');
  const hash = await ltMakeTorrent(t, root, torrent, { v1Only: true, pieceSize: 16384 });
  const { ours, lt } = await sameAsLibtorrent(t, torrent, hash);
  t.false(lt.files.some((f) => f.pad), 'no pad files in a v1-only torrent');
  t.is(ours.length, REAL_TOTAL);
});

clientTest([clients.libtorrent], "libtorrent's default (hybrid v1+v2, BEP 47 pad files on shared paths): read as v1, same info-hash, real files only", async (t) => {
  const { dir, root } = await content(t);
  const torrent = path.join(dir, 'hybrid.torrent');
  const hash = await ltMakeTorrent(t, root, torrent, { pieceSize: 16384 });
  const { ours, lt } = await sameAsLibtorrent(t, torrent, hash);
  const pads = lt.files.filter((f) => f.pad);
  t.true(pads.length >= 3, `libtorrent padded the files (${JSON.stringify(lt.files)})`);
  t.true(new Set(pads.map((f) => f.path)).size < pads.length, 'two pad files share one path');
  t.true(ours.length > REAL_TOTAL);
  t.false(ours.files.some((f) => f.path.startsWith('.pad')));
});

clientTest([clients.transmissionCli], 'a torrent made by transmission-create: same info-hash as transmission-show, same files', async (t) => {
  const { dir, root } = await content(t);
  const torrent = path.join(dir, 'tr.torrent');
  const made = await run('transmission-create', ['-o', torrent, '-s', '32', '-t', 'http://127.0.0.1:6969/announce', root]);
  t.is(made.code, 0, made.stderr);
  const ours = await peerInfo(t, torrent);
  t.is(ours.infoHash, await transmissionHash(t, torrent));
  t.is(ours.pieceLength, 32 * 1024);
  t.is(ours.length, REAL_TOTAL);
  t.deepEqual(sortedFiles(ours.files), EXPECTED);
});

clientTest([clients.mktorrent, clients.transmissionCli], 'a torrent made by mktorrent: same info-hash as transmission-show, same files', async (t) => {
  const { dir, root } = await content(t);
  const torrent = path.join(dir, 'mk.torrent');
  await rm(torrent, { force: true }); // mktorrent has no -f: it refuses to overwrite
  const made = await run('mktorrent', ['-a', 'http://127.0.0.1:6969/announce', '-l', '15', '-o', torrent, root]);
  t.is(made.code, 0, made.stderr);
  const ours = await peerInfo(t, torrent);
  t.is(ours.infoHash, await transmissionHash(t, torrent));
  t.is(ours.pieceLength, 2 ** 15);
  t.deepEqual(sortedFiles(ours.files), EXPECTED);
});

clientTest([clients.libtorrent, clients.transmissionCli], 'a torrent made by our make-torrent: libtorrent and transmission-show read it with our info-hash', async (t) => {
  const { dir, root } = await content(t);
  const torrent = path.join(dir, 'ours.torrent');
  const made = await run(process.execPath, makeTorrentCommand([root, '-o', torrent, '-l', '16384', '-a', 'http://127.0.0.1:6969/announce', '--json']));
  t.is(made.code, 0, made.stderr);
  const ours = JSON.parse(made.stdout) as { infoHash: string };
  const lt = await ltInfo(t, torrent);
  t.is(lt.infoHash, ours.infoHash);
  t.is(lt.totalSize, REAL_TOTAL);
  t.deepEqual(sortedFiles(lt.files.map((f) => ({ path: f.path, length: f.size }))), EXPECTED);
  t.is(await transmissionHash(t, torrent), ours.infoHash);
});
