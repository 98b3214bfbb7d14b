/**
 * The peer wire against the clients people use, both directions, byte-equal:
 * our seeder -> aria2c, libtorrent, Transmission; each of them -> our leecher.
 * The fast extension (BEP 6) is negotiated with aria2 and libtorrent, as our
 * `peer` events report and libtorrent's own peer log shows.
 *
 * Every command of ours is the built one (dist/). Each client runs as its
 * own process on its own loopback address, with DHT, LSD, PEX and port
 * mapping off: nothing leaves this machine.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { MAKE_TORRENT_BIN } from './helpers/bin.js';
import { clientTest, clients } from './helpers/clients.js';
import { ltEvent, ltPort, spawnLibtorrent } from './helpers/libtorrent.js';
import { fileSha1, fixtureBytes, freePort, isComplete, spawnPeer, tempDir, writeFixture, type PeerEvent, type PeerProcess } from './helpers/swarm.js';
import { spawnTool } from './helpers/tools.js';
import { waitPeerReady } from './helpers/wire-peer.js';
import { torrentShape } from '../src/wire/validate.js';
import { fromHex } from '../src/util/bytes.js';

const SIZE = 24 * 1024 * 1024 + 12_345; // a short last piece
const PIECE = 256 * 1024;
const LIMIT_MS = 120_000;
const MB = 1_000_000;

interface Fixture {
  dir: string;
  /** The content folder (holds `payload.bin`), as a seeder's data folder. */
  contentDir: string;
  file: string;
  sha1: string;
  torrent: string;
  infoHash: string;
}

/** Content with NULs and a short last piece, and its torrent made by our built make-torrent (announcing to `announce` if given). */
async function fixture(t: ExecutionContext, announce?: string): Promise<Fixture> {
  const dir = await tempDir(t, 'interop-wire-');
  const contentDir = path.join(dir, 'content');
  const file = path.join(contentDir, 'payload.bin');
  await writeFixture(file, fixtureBytes(SIZE, 7));
  const torrent = path.join(dir, 'payload.torrent');
  const args = [MAKE_TORRENT_BIN, file, '-o', torrent, '-l', String(PIECE), '--json', ...(announce ? ['-a', announce] : [])];
  const made = spawnTool(t, process.execPath, args);
  t.is(await made.waitExit(60_000), 0, made.output());
  const infoHash = (JSON.parse(made.output()) as { infoHash: string }).infoHash;
  return { dir, contentDir, file, sha1: await fileSha1(file), torrent, infoHash };
}

type PeerLine = Extract<PeerEvent, { event: 'peer' }>;
const peerEvents = (p: PeerProcess): PeerLine[] => p.events.filter((e): e is PeerLine => e.event === 'peer');

async function seederReady(t: ExecutionContext, host: string, port: number, fx: Fixture): Promise<void> {
  await waitPeerReady(t, host, port, fromHex(fx.infoHash), torrentShape(PIECE, SIZE), host, 60_000);
}

function rate(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s, ${(SIZE / MB / (ms / 1000)).toFixed(1)} MB/s`;
}

/** Our seeder of `fx` on `host:port` (plus `extra` flags), ready to serve. */
async function ourSeeder(t: ExecutionContext, fx: Fixture, host: string, port: number, extra: string[] = []): Promise<PeerProcess> {
  const state = path.join(fx.dir, `state-seed-${host}`);
  const seeder = spawnPeer(t, ['seed', fx.torrent, '--data', fx.file, '--host', host, '--port', String(port), '--state', state, '--no-dht', '--json', ...extra]);
  await seederReady(t, host, port, fx);
  return seeder;
}

/** Our leecher of `fx` dialing `peer`, until it exits on completion; returns it and the time it took. */
async function ourLeecher(t: ExecutionContext, fx: Fixture, host: string, peer: string): Promise<{ leecher: PeerProcess; out: string; ms: number }> {
  const out = path.join(fx.dir, `out-${host}`);
  const port = await freePort([host]);
  const started = Date.now();
  const leecher = spawnPeer(t, ['leech', fx.torrent, '--out', out, '--peer', peer, '--exit-on-complete', '--host', host, '--port', String(port), '--state', path.join(fx.dir, `state-${host}`), '--no-dht', '--json']);
  await leecher.waitFor(isComplete, 'the complete event', LIMIT_MS);
  const exit = await leecher.waitExit(30_000);
  const ms = Date.now() - started;
  t.is(exit.code, 0, leecher.describe());
  t.is(await fileSha1(path.join(out, 'payload.bin')), fx.sha1, 'the download is byte-equal');
  return { leecher, out, ms };
}

clientTest([clients.aria2c], 'our seeder -> aria2c: byte-equal, with the fast extension negotiated', async (t) => {
  t.timeout(LIMIT_MS + 60_000);
  const trackerPort = await freePort(['127.0.0.1']);
  const fx = await fixture(t, `http://127.0.0.1:${trackerPort}/announce`);
  const port = await freePort(['127.0.0.1']);
  // aria2c cannot be told a peer: it finds our seeder through the seeder's embedded tracker.
  const seeder = await ourSeeder(t, fx, '127.0.0.1', port, ['--tracker', String(trackerPort)]);
  const out = path.join(fx.dir, 'aria2-out');
  const started = Date.now();
  const aria = spawnTool(t, 'aria2c', [
    '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false', '--seed-time=0',
    '--interface=127.0.0.2', '--listen-port', String(await freePort(['127.0.0.2'])), '--console-log-level=warn', '--summary-interval=0',
    '--bt-stop-timeout=60', '--allow-overwrite=true', '--auto-file-renaming=false', '-d', out, fx.torrent,
  ]);
  t.is(await aria.waitExit(LIMIT_MS), 0, aria.output());
  const ms = Date.now() - started;
  t.is(await fileSha1(path.join(out, 'payload.bin')), fx.sha1, 'aria2c downloaded the exact bytes');
  const conn = peerEvents(seeder).find((e) => e.state === 'connected' && e.client?.startsWith('A2'));
  t.truthy(conn, `the seeder reported aria2 connecting; events: ${JSON.stringify(peerEvents(seeder))}`);
  t.true(conn?.fast, 'BEP 6 negotiated with aria2c');
  t.false(peerEvents(seeder).some((e) => e.state === 'gone' && /protocol error/.test(e.reason ?? '')), 'no connection ended in a protocol error');
  t.log(`our seeder -> aria2c: ${rate(ms)} (from aria2c's start, tracker announce included)`);
});

clientTest([clients.aria2c], 'aria2c seeder -> our leecher: byte-equal, with the fast extension negotiated', async (t) => {
  t.timeout(LIMIT_MS + 60_000);
  const fx = await fixture(t);
  const ariaPort = await freePort(['127.0.0.3']);
  const aria = spawnTool(t, 'aria2c', [
    '--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false', '--seed-ratio=0.0',
    '--check-integrity=true', '--bt-seed-unverified=false', '--interface=127.0.0.3', `--listen-port=${ariaPort}`,
    '--console-log-level=notice', '--summary-interval=1', '-d', fx.contentDir, fx.torrent,
  ]);
  // Seeding once its check is done: it then answers handshakes.
  await aria.waitOutput(/SEED\(/, 60_000);
  const { leecher, ms } = await ourLeecher(t, fx, '127.0.0.4', `127.0.0.3:${ariaPort}`);
  const conn = peerEvents(leecher).find((e) => e.state === 'connected' && e.client?.startsWith('A2'));
  t.truthy(conn, `our leecher reported aria2; events: ${JSON.stringify(peerEvents(leecher))}`);
  t.true(conn?.fast, 'BEP 6 negotiated with aria2c');
  t.log(`aria2c seeder -> our leecher: ${rate(ms)} (from our leecher's start)`);
});

clientTest([clients.libtorrent], 'our seeder -> libtorrent: byte-equal; libtorrent receives our have_all (fast extension)', async (t) => {
  t.timeout(LIMIT_MS + 60_000);
  const fx = await fixture(t);
  const port = await freePort(['127.0.0.1']);
  const seeder = await ourSeeder(t, fx, '127.0.0.1', port);
  const out = path.join(fx.dir, 'lt-out');
  await mkdir(out, { recursive: true });
  const started = Date.now();
  const lt = spawnLibtorrent(t, ['--torrent', fx.torrent, '--save', out, '--listen', '127.0.0.5:0', '--peer', `127.0.0.1:${port}`, '--exit-on-complete', '--peer-log', '--timeout', String(LIMIT_MS / 1000)]);
  await ltEvent(lt, 'complete', LIMIT_MS);
  const ms = Date.now() - started;
  t.is((await lt.waitExit(30_000)).code, 0, lt.describe());
  t.is(await fileSha1(path.join(out, 'payload.bin')), fx.sha1, 'libtorrent downloaded the exact bytes');
  const log = lt.events.map((e) => String((e as unknown as { message?: string }).message ?? ''));
  t.true(log.some((m) => /<== HAVE_ALL/.test(m)), `libtorrent's peer log shows our have_all:\n${log.slice(0, 20).join('\n')}`);
  // (The readiness probe connects first, as client TT0001.)
  const conn = peerEvents(seeder).find((e) => e.state === 'connected' && /^LT/i.test(e.client ?? ''));
  t.truthy(conn, `the seeder reported libtorrent; events: ${JSON.stringify(peerEvents(seeder))}`);
  t.true(conn?.fast, 'BEP 6 negotiated with libtorrent');
  t.log(`our seeder -> libtorrent: ${rate(ms)} (from libtorrent's start)`);
});

clientTest([clients.libtorrent], 'libtorrent seeder -> our leecher: byte-equal, with the fast extension negotiated', async (t) => {
  t.timeout(LIMIT_MS + 60_000);
  const fx = await fixture(t);
  const lt = spawnLibtorrent(t, ['--torrent', fx.torrent, '--save', fx.contentDir, '--listen', '127.0.0.6:0', '--peer-log', '--timeout', String((LIMIT_MS * 2) / 1000)]);
  const ltp = await ltPort(lt);
  await ltEvent(lt, 'complete', 60_000); // its check is done: it seeds
  const { leecher, ms } = await ourLeecher(t, fx, '127.0.0.7', `127.0.0.6:${ltp}`);
  const conn = peerEvents(leecher).find((e) => e.state === 'connected' && /^LT/i.test(e.client ?? ''));
  t.truthy(conn, `our leecher reported libtorrent; events: ${JSON.stringify(peerEvents(leecher))}`);
  t.true(conn?.fast, 'BEP 6 negotiated with libtorrent');
  const log = lt.events.map((e) => String((e as unknown as { message?: string }).message ?? ''));
  t.true(log.some((m) => /==> HAVE_ALL/.test(m)), 'libtorrent sent have_all to us');
  t.log(`libtorrent seeder -> our leecher: ${rate(ms)} (from our leecher's start)`);
});

/** A config folder that keeps transmission-cli on this machine (no DHT, LPD, PEX, uTP, port mapping). */
async function transmissionConfig(dir: string, port: number): Promise<string> {
  const cfg = path.join(dir, `transmission-${port}`);
  await mkdir(cfg, { recursive: true });
  const settings = {
    'dht-enabled': false,
    'lpd-enabled': false,
    'pex-enabled': false,
    'utp-enabled': false,
    'port-forwarding-enabled': false,
    'blocklist-enabled': false,
    encryption: 0, // tolerate plaintext: we speak plain BitTorrent
    'peer-port': port,
    'peer-port-random-on-start': false,
    'speed-limit-up-enabled': false,
    'speed-limit-down-enabled': false,
    'ratio-limit-enabled': false,
  };
  await writeFile(path.join(cfg, 'settings.json'), JSON.stringify(settings, null, 2));
  return cfg;
}

clientTest([clients.transmissionCli], 'our seeder -> Transmission: byte-equal (our seeder dials it)', async (t) => {
  t.timeout(LIMIT_MS + 60_000);
  const fx = await fixture(t);
  const trPort = await freePort(['0.0.0.0']);
  const out = path.join(fx.dir, 'tr-out');
  await mkdir(out, { recursive: true });
  const cfg = await transmissionConfig(fx.dir, trPort);
  const started = Date.now();
  const tr = spawnTool(t, 'transmission-cli', ['-g', cfg, '-w', out, '-p', String(trPort), '-et', '-M', '-B', '-D', '-U', fx.torrent]);
  await tr.waitOutput(/Progress/, 30_000);
  // Transmission 3.00 refuses 127.x peers learnt from a tracker: our seeder dials it instead.
  const port = await freePort(['127.0.0.1']);
  const seeder = await ourSeeder(t, fx, '127.0.0.1', port, ['--peer', `127.0.0.1:${trPort}`]);
  await tr.waitOutput(/Seeding/, LIMIT_MS);
  const ms = Date.now() - started;
  tr.kill('SIGINT');
  t.is(await fileSha1(path.join(out, 'payload.bin')), fx.sha1, 'Transmission downloaded the exact bytes');
  t.truthy(peerEvents(seeder).find((e) => e.state === 'connected' && /^TR/.test(e.client ?? '')), `the seeder reported Transmission; events: ${JSON.stringify(peerEvents(seeder))}`);
  t.log(`our seeder -> Transmission: ${rate(ms)} (from transmission-cli's start)`);
});

clientTest([clients.transmissionCli], 'Transmission seeder -> our leecher: byte-equal', async (t) => {
  t.timeout(LIMIT_MS + 60_000);
  const fx = await fixture(t);
  const trPort = await freePort(['0.0.0.0']);
  const cfg = await transmissionConfig(fx.dir, trPort);
  // No -v: a new torrent is verified on start anyway, and transmission-cli's -v pauses the torrent to queue
  // the check; its main loop exits when a 200 ms poll sees it stopped, which on a busy machine it sometimes did.
  const tr = spawnTool(t, 'transmission-cli', ['-g', cfg, '-w', fx.contentDir, '-p', String(trPort), '-et', '-M', '-B', '-D', '-U', fx.torrent]);
  await tr.waitOutput(/Seeding/, 60_000);
  const { leecher, ms } = await ourLeecher(t, fx, '127.0.0.8', `127.0.0.1:${trPort}`);
  t.truthy(peerEvents(leecher).find((e) => e.state === 'connected' && /^TR/.test(e.client ?? '')), `our leecher reported Transmission; events: ${JSON.stringify(peerEvents(leecher))}`);
  t.log(`Transmission seeder -> our leecher: ${rate(ms)} (from our leecher's start)`);
});
