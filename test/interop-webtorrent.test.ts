/**
 * Interop with an independent implementation: webtorrent@1.9.7 over TCP on
 * loopback, peers added directly (no DHT, tracker, LSD, uTP, web seeds: it
 * never touches the network beyond 127.0.0.0/8).
 *
 * - the torrents make-torrent writes parse in WebTorrent to the same info-hash;
 * - our seeder (an in-process Session) -> a WebTorrent leecher;
 * - a WebTorrent seeder -> our leecher (`peer leech` as a child process, the
 *   built dist/peer.js).
 * Each transfer uses a multi-piece file with NUL runs and a short last piece,
 * and ends with a byte comparison.
 */
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebTorrent, { type Torrent as WtTorrent } from 'webtorrent';
import { Session } from '../src/session/session.js';
import { resolveSettings } from '../src/settings.js';
import { silentLogger } from '../src/log.js';
import { loadTorrentFile } from '../src/metainfo/load.js';
import { makeTorrentCommand, peerCommand, REPO_ROOT as ROOT } from './helpers/bin.js';
const PIECE = 256 * 1024;
/** 12 whole pieces and a short 13th (12345 bytes). */
const FILE_BYTES = 12 * PIECE + 12345;
const TRANSFER_TIMEOUT_MS = 60_000;

/** WebTorrent with everything that could reach past loopback switched off. */
const OFFLINE = { dht: false, tracker: false, lsd: false, natUpnp: false, natPmp: false, utp: false, webSeeds: false } as const;

/** Random bytes with runs of NUL (the start, a block in the middle, and the very end). */
function fixtureBytes(size: number): Buffer {
  const buf = randomBytes(size);
  buf.fill(0, 0, 1000);
  buf.fill(0, 3 * PIECE - 100, 3 * PIECE + 16 * 1024);
  buf.fill(0, size - 7);
  return buf;
}

interface Fixture {
  dir: string;
  file: string;
  torrent: string;
  data: Buffer;
}

async function makeFixture(prefix: string): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), `interop-wt-${prefix}-`));
  const src = join(dir, 'src');
  await mkdir(src);
  const data = fixtureBytes(FILE_BYTES);
  const file = join(src, 'payload.bin');
  await writeFile(file, data);
  const torrent = join(dir, 'payload.torrent');
  await run(process.execPath, makeTorrentCommand([file, '-o', torrent, '-l', String(PIECE), '--json']), 30_000);
  return { dir, file, torrent, data };
}

/** Runs a child to completion; rejects on a non-zero exit or after `ms`. Returns stdout. */
function run(cmd: string, args: string[], ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), ms);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${args.join(' ')} exited ${code ?? signal}: ${err.slice(-2000)}`));
    });
  });
}

function newClient(): Promise<WebTorrent> {
  const client = new WebTorrent({ ...OFFLINE, torrentPort: 0 });
  return new Promise((resolve, reject) => {
    client.once('error', reject);
    if (client.listening) return resolve(client);
    client.once('listening', () => resolve(client));
  });
}

function destroyClient(client: WebTorrent): Promise<void> {
  if (client.destroyed) return Promise.resolve();
  return new Promise((resolve) => client.destroy(() => resolve()));
}

/** Resolves with `event` of `emitter`, rejects on its 'error' or after `ms`. */
function once<T = unknown>(emitter: NodeJS.EventEmitter, event: string, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out after ${ms} ms waiting for ${what}`));
    }, ms);
    const onEvent = (v: T): void => {
      cleanup();
      resolve(v);
    };
    const onError = (e: Error): void => {
      cleanup();
      reject(e);
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      emitter.off(event, onEvent);
      emitter.off('error', onError);
    };
    emitter.on(event, onEvent);
    emitter.on('error', onError);
  });
}

async function addTorrent(client: WebTorrent, torrentFile: string, path: string): Promise<WtTorrent> {
  const t = client.add(await readFile(torrentFile), { path });
  if (!t.ready) await once(t, 'ready', 30_000, 'WebTorrent to load the torrent');
  return t;
}

function killChild(child: ChildProcess | undefined): void {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

test('torrents from make-torrent parse in WebTorrent to the same info-hash, single-file and multi-file', async (t) => {
  const fx = await makeFixture('parse');
  const client = await newClient();
  try {
    const ours = await loadTorrentFile(fx.torrent);
    const theirs = await addTorrent(client, fx.torrent, join(fx.dir, 'wt-single'));
    t.is(theirs.infoHash, ours.infoHashHex);
    t.is(theirs.name, 'payload.bin');
    t.is(theirs.length, FILE_BYTES);
    t.is(theirs.pieceLength, PIECE);
    t.is(theirs.pieces.length, 13);
    t.is(theirs.lastPieceLength, 12345);

    // A folder whose files do not end on piece boundaries, so pieces span files.
    const folder = join(fx.dir, 'album');
    await mkdir(join(folder, 'disc 1'), { recursive: true });
    await writeFile(join(folder, 'a.bin'), randomBytes(100_000));
    await writeFile(join(folder, 'disc 1', 'b.bin'), Buffer.alloc(300_001));
    await writeFile(join(folder, 'z.txt'), 'tail\n');
    const multi = join(fx.dir, 'album.torrent');
    await run(process.execPath, makeTorrentCommand([folder, '-o', multi, '-l', '64K', '--json']), 30_000);
    const oursMulti = await loadTorrentFile(multi);
    const theirsMulti = await addTorrent(client, multi, join(fx.dir, 'wt-multi'));
    t.is(theirsMulti.infoHash, oursMulti.infoHashHex);
    t.is(theirsMulti.length, 400_006);
    t.deepEqual(
      theirsMulti.files.map((f) => [f.path.split(/[\\/]/).join('/'), f.length]).sort(),
      [
        ['album/a.bin', 100_000],
        ['album/disc 1/b.bin', 300_001],
        ['album/z.txt', 5],
      ],
    );
  } finally {
    await destroyClient(client);
    await rm(fx.dir, { recursive: true, force: true });
  }
});

test('our seeder (in-process session) to a WebTorrent leecher: byte-equal', async (t) => {
  const fx = await makeFixture('seed');
  const metainfo = await loadTorrentFile(fx.torrent);
  const session = new Session({
    settings: resolveSettings({ host: '127.0.0.2', port: 0 }),
    stateDir: join(fx.dir, 'state'),
    logger: silentLogger,
  });
  let client: WebTorrent | undefined;
  try {
    await session.start();
    const seeded = await session.addTorrent(metainfo, { contentPath: fx.file, mode: 'seed' });
    t.true(seeded.complete, 'the seeder verified its data');

    client = await newClient();
    const outDir = join(fx.dir, 'wt-out');
    const wt = await addTorrent(client, fx.torrent, outDir);
    const done = once(wt, 'done', TRANSFER_TIMEOUT_MS, 'the WebTorrent leecher to finish');
    t.true(wt.addPeer(`127.0.0.2:${session.port}`), 'WebTorrent accepted the peer address');
    await done;

    t.is(wt.downloaded, FILE_BYTES);
    t.is(wt.progress, 1);
    await destroyClient(client);
    const got = await readFile(join(outDir, 'payload.bin'));
    t.is(got.length, fx.data.length);
    t.true(got.equals(fx.data), 'the file WebTorrent saved is byte-equal to the source');
    t.true(seeded.stats().uploaded >= FILE_BYTES, 'our side counted the upload');
  } finally {
    if (client) await destroyClient(client);
    await session.stop();
    await rm(fx.dir, { recursive: true, force: true });
  }
});

test('a WebTorrent seeder to our leecher (peer leech child process): byte-equal', async (t) => {
  const fx = await makeFixture('leech');
  const client = await newClient();
  let child: ChildProcess | undefined;
  try {
    // WebTorrent finds the file at <path>/<name>, verifies it, and seeds.
    const wt = await addTorrent(client, fx.torrent, join(fx.dir, 'src'));
    t.true(wt.done, 'WebTorrent verified the whole file and seeds it');
    const wtPort = client.address()?.port;
    t.truthy(wtPort);

    const outDir = join(fx.dir, 'out');
    const port = 20_000 + Math.floor(Math.random() * 12_700); // below the ephemeral range (see freePort)
    child = spawn(
      process.execPath,
      peerCommand([
        'leech', fx.torrent,
        '--out', outDir, '--exit-on-complete', '--json', '--no-dht',
        '--host', '127.0.0.3', '--port', String(port),
        '--peer', `127.0.0.1:${wtPort}`,
        '--state', join(fx.dir, 'state'),
      ]),
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exit = await new Promise<number | string>((resolve) => {
      const timer = setTimeout(() => {
        killChild(child);
        resolve('timeout');
      }, TRANSFER_TIMEOUT_MS);
      child!.on('close', (code, signal) => {
        clearTimeout(timer);
        resolve(code ?? signal ?? 'unknown');
      });
    });
    t.is(exit, 0, `peer leech exited with ${exit}; stderr: ${stderr.slice(-2000)}`);

    const events = stdout
      .split('\n')
      .filter((l) => l.trim())
      .map((l) => JSON.parse(l) as { event: string; infoHash?: string; downloaded?: number });
    const complete = events.find((e) => e.event === 'complete');
    t.truthy(complete, `a complete event on stdout: ${stdout.slice(-1000)}`);
    t.is(complete?.infoHash, wt.infoHash);
    t.is(complete?.downloaded, FILE_BYTES);
    t.false(events.some((e) => e.event === 'error'));

    const got = await readFile(join(outDir, 'payload.bin'));
    t.is(got.length, fx.data.length);
    t.true(got.equals(fx.data), 'the file our leecher saved is byte-equal to the source');
    t.true(wt.uploaded >= FILE_BYTES, 'WebTorrent served the data');
  } finally {
    killChild(child);
    await destroyClient(client);
    await rm(fx.dir, { recursive: true, force: true });
  }
});
