/**
 * One voice for errors (issue 16, item 4), on the built `peer`: a port in
 * use, an unknown host, a file that is not a torrent, an unreadable file:
 * each a sentence naming the thing and the fix, with the contract's exit
 * code (2), and never a raw `EADDRINUSE` or `getaddrinfo ENOTFOUND`.
 */
import test from 'ava';
import dgram from 'node:dgram';
import net from 'node:net';
import path from 'node:path';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { execFileSync } from 'node:child_process';
import { closed, freePort, singleFileTorrent, spawnPeer, tempDir, type Teardown } from './helpers/swarm.js';
import { AS_ROOT, testUnless } from './helpers/clients.js';
import { describeError, explainSystemError } from '../src/cli/system-errors.js';
import { UsageError } from '../src/errors.js';

const HOST = '127.0.0.23';
const RAW = /getaddrinfo|EADDRINUSE|EADDRNOTAVAIL|ENOTDIR|EACCES|ENOENT|at byte/;

async function holdTcp(t: Teardown, host: string, port: number): Promise<void> {
  const s = net.createServer();
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen({ host, port, exclusive: true }, resolve);
  });
  t.teardown(() => new Promise<void>((r) => s.close(() => r())));
}

async function holdUdp(t: Teardown, host: string, port: number): Promise<void> {
  const u = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    u.once('error', reject);
    u.bind(port, host, resolve);
  });
  t.teardown(() => new Promise<void>((r) => u.close(() => r())));
}

async function run(t: Teardown, args: string[]): Promise<{ code: number | null; stderr: string; describe: string }> {
  const p = spawnPeer(t, args);
  const exit = await closed(p);
  return { code: exit.code, stderr: p.stderr(), describe: p.describe() };
}

test('--host with a name that resolves to nothing: exit 2, a sentence naming the host, for seed, leech, start, dht and tracker', async (t) => {
  const dir = await tempDir(t);
  const fx = await singleFileTorrent(dir, { length: 50_000, pieceLength: 16384 });
  const state = path.join(dir, 'state');
  const cases = [
    ['seed', fx.torrentPath, '--data', fx.contentPath, '--no-dht', '--no-lsd', '--state', state],
    ['leech', fx.torrentPath, '--out', path.join(dir, 'out'), '--no-dht', '--no-lsd', '--state', state],
    ['start', '--no-api', '--no-dht', '--no-lsd', '--state', state, '--torrents', path.join(dir, 't'), '--downloads', path.join(dir, 'd')],
    ['dht', '--no-lsd', '--state', state],
    ['tracker'],
  ];
  for (const args of cases) {
    const r = await run(t, [...args, '--host', 'localhostt.invalid', '--port', '0']);
    t.is(r.code, 2, r.describe);
    t.regex(r.stderr, /--host localhostt\.invalid: unknown host .*127\.0\.0\.1/, r.describe);
    t.notRegex(r.stderr, RAW, r.describe);
  }
});

test('a port in use (--port, --tracker over TCP and UDP, --api, peer tracker --port, peer dht --port): exit 2 naming the port and the option', async (t) => {
  const dir = await tempDir(t);
  const fx = await singleFileTorrent(dir, { length: 50_000, pieceLength: 16384 });
  const tcp = await freePort([HOST]);
  await holdTcp(t, HOST, tcp);
  const udp = await freePort([HOST]);
  await holdUdp(t, HOST, udp);
  const apiPort = await freePort(['127.0.0.1']);
  await holdTcp(t, '127.0.0.1', apiPort);
  const free = await freePort([HOST]);
  const seed = (extra: string[]) => ['seed', fx.torrentPath, '--data', fx.contentPath, '--host', HOST, '--no-dht', '--no-lsd', '--state', path.join(dir, 'state'), ...extra];
  const cases: [string[], RegExp][] = [
    [seed(['--port', String(tcp)]), new RegExp(`port ${tcp} on ${HOST} is in use: choose another with --port`)],
    [seed(['--port', String(free), '--tracker', String(tcp)]), new RegExp(`tracker port ${tcp} is in use: choose another with --tracker PORT`)],
    [seed(['--port', String(free), '--tracker', String(udp)]), new RegExp(`tracker port ${udp} is in use: choose another with --tracker PORT`)],
    [seed(['--port', String(free), '--api', String(apiPort)]), new RegExp(`API port ${apiPort} on 127\\.0\\.0\\.1 is in use: choose another with --api PORT`)],
    [['tracker', '--host', HOST, '--port', String(tcp)], new RegExp(`tracker port ${tcp} on ${HOST} is in use: choose another with --port`)],
    [['tracker', '--host', HOST, '--port', String(udp)], new RegExp(`tracker port ${udp} on ${HOST} is in use: choose another with --port`)],
    [['dht', '--host', HOST, '--port', String(udp), '--no-lsd', '--state', path.join(dir, 'dht')], new RegExp(`DHT UDP port ${udp} on ${HOST} is in use: choose another with --port`)],
  ];
  for (const [args, expected] of cases) {
    const r = await run(t, args);
    t.is(r.code, 2, r.describe);
    t.regex(r.stderr, expected, r.describe);
    t.notRegex(r.stderr, RAW, r.describe);
  }
});

test('a torrent argument that cannot be read: a folder, a path through a file, a file that is not a torrent: exit 2 with a sentence', async (t) => {
  const dir = await tempDir(t);
  const readme = path.join(dir, 'README.md');
  await writeFile(readme, '# A readme\n');
  const cases: [string, RegExp][] = [
    [dir, /is not a file \(give a \.torrent file or a magnet link\)/],
    [path.join(readme, 'x.torrent'), /not a folder: a part of .*README\.md\/x\.torrent is a file: check the path/],
    [readme, /README\.md is not a \.torrent file/],
  ];
  for (const cmd of [['info'], ['seed'], ['leech']]) {
    for (const [target, expected] of cases) {
      const r = await run(t, [...cmd, target, ...(cmd[0] === 'info' ? [] : ['--no-dht', '--no-lsd', '--host', HOST, '--port', '0', '--state', path.join(dir, 'state')])]);
      t.is(r.code, 2, r.describe);
      t.regex(r.stderr, expected, r.describe);
      t.notRegex(r.stderr, RAW, r.describe);
    }
  }
});

testUnless(AS_ROOT, 'a .torrent without read permission: exit 2, "permission denied" naming it', async (t) => {
  const dir = await tempDir(t);
  const fx = await singleFileTorrent(dir, { length: 50_000, pieceLength: 16384 });
  await chmod(fx.torrentPath, 0o000);
  const r = await run(t, ['info', fx.torrentPath]);
  t.is(r.code, 2, r.describe);
  t.regex(r.stderr, /permission denied/, r.describe);
  t.true(r.stderr.includes(fx.torrentPath), r.describe);
});

test('system errors as sentences with the contract exit code (unit: what the command line prints)', (t) => {
  const sys = (code: string, extra: Record<string, unknown> = {}): NodeJS.ErrnoException => Object.assign(new Error(`${code}: raw`), { code, errno: -1, ...extra });
  t.deepEqual(explainSystemError(sys('ENOSPC', { path: '/data/x' }) as never), {
    text: 'no space left on the disk for /data/x: free some space, or choose a folder on another disk',
    exitCode: 1,
  });
  t.is(explainSystemError(sys('EACCES', { syscall: 'open', path: '/x.torrent' }) as never)?.exitCode, 2);
  t.regex(explainSystemError(sys('EACCES', { syscall: 'open', path: '/x.torrent' }) as never)!.text, /^permission denied: \/x\.torrent: give a path you may read/);
  t.regex(explainSystemError(sys('EACCES', { syscall: 'bind', address: '0.0.0.0', port: 80 }) as never)!.text, /ports below 1024 need privileges/);
  t.regex(explainSystemError(sys('EADDRNOTAVAIL', { address: '10.9.9.9' }) as never)!.text, /10\.9\.9\.9 is not an address of this machine/);
  t.regex(explainSystemError(Object.assign(new Error('getaddrinfo ENOTFOUND h'), { code: 'ENOTFOUND', hostname: 'h' }) as never)!.text, /^unknown host h/);
  // A worded error keeps its words; only its raw system tail becomes the sentence.
  const cause = sys('ENOSPC', { path: '/d/f' });
  const wrapped = new UsageError(`cannot leech f: ${cause.message}`, { cause });
  t.deepEqual(describeError(wrapped), { message: 'cannot leech f: no space left on the disk for /d/f: free some space, or choose a folder on another disk', exitCode: 2 });
  t.is(describeError(new UsageError('plain')), undefined);
  t.deepEqual(describeError(sys('EMFILE')), { message: 'too many open files: raise the limit (ulimit -n) or run fewer torrents at once', exitCode: 1 });
});

/** A full tmpfs at `dir` (64 KiB, filled), unmounted in teardown; undefined when this process may not mount. */
function fullDisk(t: Teardown, dir: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir], { stdio: 'pipe' });
  } catch {
    return false;
  }
  t.teardown(() => {
    try {
      execFileSync('umount', [dir], { stdio: 'pipe' });
    } catch {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    }
  });
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${path.join(dir, 'fill')}`, 'bs=4096', 'count=64'], { stdio: 'pipe' });
  } catch {
    // dd stops when the disk is full: that is the point
  }
  return true;
}

testUnless(AS_ROOT === undefined && process.env.CI !== 'true' ? 'needs root to mount a full tmpfs' : undefined, 'a full disk (ENOSPC): a sentence naming the path and the fix, for make-torrent -o and seed --state', async (t) => {
  const dir = await tempDir(t);
  const fx = await singleFileTorrent(dir, { length: 50_000, pieceLength: 16384 });
  const full = path.join(dir, 'full');
  await mkdir(full);
  t.true(fullDisk(t, full), 'mounted a tmpfs');
  const made = await run(t, ['make-torrent', fx.contentPath, '-o', path.join(full, 'x.torrent')]);
  t.is(made.code, 1, made.describe);
  t.regex(made.stderr, /no space left on the disk.*: free some space, or choose a folder on another disk/, made.describe);
  t.true(made.stderr.includes(path.join(full, 'x.torrent')), made.describe);
  const seeded = await run(t, ['seed', fx.torrentPath, '--data', fx.contentPath, '--state', path.join(full, 'state'), '--host', HOST, '--port', '0', '--no-dht', '--no-lsd']);
  t.true(seeded.code === 1 || seeded.code === 2, seeded.describe);
  t.regex(seeded.stderr, /cannot seed payload\.bin: .*no space left on the disk: free some space/, seeded.describe);
  t.notRegex(made.stderr + seeded.stderr, /ENOSPC/);
});

test('--host or --api-host not of this machine (EADDRNOTAVAIL): exit 2 naming it', async (t) => {
  const dir = await tempDir(t);
  const fx = await singleFileTorrent(dir, { length: 50_000, pieceLength: 16384 });
  // 198.51.100.0/24 is TEST-NET-2 (RFC 5737): never an address of this machine.
  const seed = await run(t, ['seed', fx.torrentPath, '--data', fx.contentPath, '--host', '198.51.100.1', '--port', '0', '--no-dht', '--no-lsd', '--state', path.join(dir, 's')]);
  t.is(seed.code, 2, seed.describe);
  t.regex(seed.stderr, /--host 198\.51\.100\.1 is not an address of this machine: give one of its own/);
  const start = await run(t, ['start', '--api-host', '198.51.100.1', '--api', '0', '--api-token', 'a-long-token-1234', '--host', HOST, '--port', '0', '--no-dht', '--no-lsd', '--state', path.join(dir, 's2'), '--torrents', path.join(dir, 't'), '--downloads', path.join(dir, 'd')]);
  t.is(start.code, 2, start.describe);
  t.regex(start.stderr, /198\.51\.100\.1 is not an address of this machine/);
  for (const r of [seed, start]) t.notRegex(r.stderr, RAW, r.describe);
});

test('seed with no --data and nothing in downloads/, and peer message with no daemon: a sentence with the fix', async (t) => {
  const dir = await tempDir(t);
  const fx = await singleFileTorrent(dir, { length: 50_000, pieceLength: 16384 });
  const p = spawnPeer(t, ['seed', fx.torrentPath, '--host', HOST, '--port', '0', '--no-dht', '--no-lsd', '--state', path.join(dir, 's')], { cwd: dir });
  const seed = await closed(p);
  t.is(seed.code, 2, p.describe());
  t.regex(p.stderr(), /cannot seed payload\.bin: missing file .*downloads\/payload\.bin .*give the content with --data PATH; without it, seed looks in downloads\//, p.describe());
  const closedPort = await freePort(['127.0.0.1']);
  const m = await run(t, ['message', 'all', 'hello', '--api-port', String(closedPort)]);
  t.is(m.code, 1, m.describe);
  t.regex(m.stderr, new RegExp(`cannot reach the daemon's API at http://127\\.0\\.0\\.1:${closedPort}: connection refused \\(is \`peer start\` running`));
  t.notRegex(m.stderr, RAW);
});
