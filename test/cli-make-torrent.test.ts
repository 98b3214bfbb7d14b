/** `make-torrent` and `peer make-torrent` run as child processes. */
import test from 'ava';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseTorrent } from '../src/metainfo/parse.js';
import { pseudoRandom, referencePieces, runExe, tempDir } from './fixtures/metainfo-cli.js';
import { AS_ROOT, testUnless } from './helpers/clients.js';

const MAKE_KEYS = ['infoHash', 'magnet', 'output', 'name', 'length', 'pieceLength', 'pieces'];

test.serial('single file: default output torrents/<name>.torrent in the cwd, --json with the contract keys', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  await writeFile(join(dir, 'movie.bin'), pseudoRandom(100_000));
  const r = await runExe('make-torrent', ['movie.bin', '--json', '-a', 'http://127.0.0.1:6969/announce'], { cwd: dir });
  t.is(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.is(lines.length, 1);
  const out = JSON.parse(lines[0]!) as Record<string, unknown>;
  t.deepEqual(Object.keys(out), MAKE_KEYS);
  const file = join(dir, 'torrents', 'movie.bin.torrent');
  t.is(out.output, file);
  const meta = parseTorrent(await readFile(file));
  t.is(out.infoHash, meta.infoHashHex);
  t.is(out.name, 'movie.bin');
  t.is(out.length, 100_000);
  t.is(out.pieceLength, 16384);
  t.is(out.pieces, 7);
  t.true(String(out.magnet).startsWith(`magnet:?xt=urn:btih:${meta.infoHashHex}&dn=movie.bin&tr=`));
  t.is(meta.announce, 'http://127.0.0.1:6969/announce');
  t.is(meta.createdBy, 'swarm-peer/0.1.0');
  t.is(typeof meta.creationDate, 'number');
  // Atomic write leaves no temporary file behind.
  t.deepEqual(await readdir(join(dir, 'torrents')), ['movie.bin.torrent']);
});

test.serial('folder with every option; human summary on stdout', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  await mkdir(join(dir, 'share', 'sub'), { recursive: true });
  await writeFile(join(dir, 'share', 'sub', 'x.bin'), pseudoRandom(300_000));
  await writeFile(join(dir, 'share', 'a.txt'), 'hello');
  const r = await runExe('make-torrent', [
    'share', '-o', 'out/my.torrent', '-l', '32K', '--private', '--comment', 'a test',
    '-a', 'http://127.0.0.1:6969/announce', '-a', 'udp://127.0.0.1:6969', '--web-seed', 'http://127.0.0.1:8000/', '--no-date',
  ], { cwd: dir });
  t.is(r.code, 0, r.stderr);
  const meta = parseTorrent(await readFile(join(dir, 'out', 'my.torrent')));
  t.true(r.stdout.includes(meta.infoHashHex));
  t.true(r.stdout.includes('magnet:?xt=urn:btih:'));
  t.is(meta.info.name, 'share');
  t.is(meta.info.pieceLength, 32 * 1024);
  t.true(meta.info.private);
  t.is(meta.comment, 'a test');
  t.is(meta.creationDate, undefined);
  t.deepEqual(meta.announceList, [['http://127.0.0.1:6969/announce'], ['udp://127.0.0.1:6969']]);
  t.deepEqual(meta.urlList, ['http://127.0.0.1:8000/']);
  t.deepEqual(meta.info.files.map((f) => [f.path.join('/'), f.length]), [['a.txt', 5], ['sub/x.bin', 300_000]]);
});

test.serial('--no-date makes the same bytes from the same input, and peer make-torrent is the same command', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  await writeFile(join(dir, 'f'), pseudoRandom(40_000, 9));
  const a = await runExe('make-torrent', ['f', '-o', 'a.torrent', '--no-date'], { cwd: dir });
  const b = await runExe('peer', ['make-torrent', 'f', '-o', 'b.torrent', '--no-date'], { cwd: dir });
  t.is(a.code, 0, a.stderr);
  t.is(b.code, 0, b.stderr);
  t.deepEqual(await readFile(join(dir, 'a.torrent')), await readFile(join(dir, 'b.torrent')));
});

test.serial('refuses to overwrite without --force (exit 2, file untouched); --force overwrites', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  await writeFile(join(dir, 'f'), 'data');
  await writeFile(join(dir, 'f.torrent'), 'precious');
  const r = await runExe('make-torrent', ['f', '-o', 'f.torrent'], { cwd: dir });
  t.is(r.code, 2);
  t.regex(r.stderr, /already exists.*--force/);
  t.is(r.stdout, '');
  t.is(await readFile(join(dir, 'f.torrent'), 'utf8'), 'precious');
  const j = await runExe('make-torrent', ['f', '-o', 'f.torrent', '--json'], { cwd: dir });
  t.is(j.code, 2);
  t.deepEqual(Object.keys(JSON.parse(j.stdout) as object), ['event', 'message']);
  const f = await runExe('make-torrent', ['f', '-o', 'f.torrent', '--force'], { cwd: dir });
  t.is(f.code, 0, f.stderr);
  t.is(parseTorrent(await readFile(join(dir, 'f.torrent'))).info.length, 4);
});

const usageErrors: [string, (dir: string) => Promise<string[]>, RegExp][] = [
  ['a missing path', async () => ['nothing-here'], /no such file or folder/],
  ['an empty folder', async (dir) => {
    await mkdir(join(dir, 'empty'));
    return ['empty'];
  }, /holds no files/],
  ['only empty files', async (dir) => {
    await mkdir(join(dir, 'z'));
    await writeFile(join(dir, 'z', 'e'), '');
    return ['z'];
  }, /empty files/],
  ['a piece length that is not a power of two', async (dir) => {
    await writeFile(join(dir, 'f'), 'x');
    return ['f', '-l', '100000'];
  }, /--piece-length/],
  ['a tracker that is not a URL', async (dir) => {
    await writeFile(join(dir, 'f'), 'x');
    return ['f', '-a', 'not a url'];
  }, /--announce/],
  ['an unknown option', async (dir) => {
    await writeFile(join(dir, 'f'), 'x');
    return ['f', '--bogus'];
  }, /unknown option/],
];
for (const [what, setup, re] of usageErrors) {
  test.serial(`exit 2 and a clear message for ${what}, nothing written`, async (t) => {
    const { dir, cleanup } = await tempDir();
    t.teardown(cleanup);
    const args = await setup(dir);
    const before = await readdir(dir);
    const r = await runExe('make-torrent', args, { cwd: dir });
    t.is(r.code, 2);
    t.regex(r.stderr, re);
    t.is(r.stdout, '');
    t.deepEqual(await readdir(dir), before);
  });
}

testUnless(AS_ROOT, 'an unreadable file is refused with exit 2', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  await writeFile(join(dir, 'secret'), 'x', { mode: 0o000 });
  const r = await runExe('make-torrent', ['secret', '-o', 'x.torrent'], { cwd: dir });
  t.is(r.code, 2);
  t.regex(r.stderr, /permission denied/);
  await t.throwsAsync(stat(join(dir, 'x.torrent')));
}, { serial: true });

test.serial('--help documents the options and exits 0', async (t) => {
  const r = await runExe('make-torrent', ['--help']);
  t.is(r.code, 0);
  for (const opt of ['--announce', '--output', '--piece-length', '--private', '--comment', '--web-seed', '--no-date', '--force', '--json', 'Hidden files']) t.true(r.stdout.includes(opt), opt);
});

// Big enough (over one 4 MiB chunk) that the bin starts its helper thread hashing before its CLI runs.
test.serial('a file and a folder of several MiB: the pieces the early start began hashing are the reference ones', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  const big = pseudoRandom(9 * 1024 * 1024 + 12345, 5);
  await writeFile(join(dir, 'big.bin'), big);
  for (const args of [['-l', '1M'], ['--piece-length=256K'], []]) {
    const r = await runExe('make-torrent', ['big.bin', '-o', 'big.torrent', '--force', '--no-date', '--json', ...args], { cwd: dir });
    t.is(r.code, 0, r.stderr);
    const meta = parseTorrent(await readFile(join(dir, 'big.torrent')));
    t.deepEqual(Buffer.from(meta.info.pieces), Buffer.from(referencePieces(big, meta.info.pieceLength)), args.join(' '));
  }
  await mkdir(join(dir, 'tree', 'sub'), { recursive: true });
  const parts = [pseudoRandom(3 * 1024 * 1024, 6), pseudoRandom(7, 7), pseudoRandom(5 * 1024 * 1024 + 1, 8)];
  await writeFile(join(dir, 'tree', 'a.bin'), parts[0]!);
  await writeFile(join(dir, 'tree', 'b.txt'), parts[1]!);
  await writeFile(join(dir, 'tree', 'sub', 'c.bin'), parts[2]!);
  const r = await runExe('make-torrent', ['tree', '-l', '512K', '-o', 'tree.torrent', '--json'], { cwd: dir });
  t.is(r.code, 0, r.stderr);
  const meta = parseTorrent(await readFile(join(dir, 'tree.torrent')));
  t.deepEqual(Buffer.from(meta.info.pieces), Buffer.from(referencePieces(Buffer.concat(parts), 512 * 1024)));
});

test.serial('a usage error after the early start began hashing: exit 2, the existing output untouched', async (t) => {
  const { dir, cleanup } = await tempDir();
  t.teardown(cleanup);
  await writeFile(join(dir, 'big.bin'), pseudoRandom(16 * 1024 * 1024, 9));
  await writeFile(join(dir, 'big.torrent'), 'precious');
  for (const args of [['-o', 'big.torrent', '-l', '64K'], ['-o', 'big.torrent', '--json'], ['-o', 'new.torrent', '-a', 'not a url']]) {
    const r = await runExe('make-torrent', ['big.bin', ...args], { cwd: dir });
    t.is(r.code, 2, args.join(' '));
    t.regex(r.stderr, /already exists|--announce/);
  }
  t.is(await readFile(join(dir, 'big.torrent'), 'utf8'), 'precious');
  t.deepEqual((await readdir(dir)).sort(), ['big.bin', 'big.torrent']);
});
