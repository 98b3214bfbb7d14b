/**
 * The daemon in process: many torrents in one session, the watch folder,
 * the saved session state and what a restart makes of it, the global
 * connection limit. Loopback only; every daemon is stopped in teardown.
 */
import test from 'ava';
import { access, mkdir, mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Daemon, type DaemonOptions } from '../src/session/daemon.js';
import { resolveSettings } from '../src/settings.js';
import { decodeSessionState } from '../src/session/session-state.js';
import { encodeHandshake } from '../src/wire/handshake.js';
import { makePeerId } from '../src/session/session.js';
import { captureLogger, tinyTorrent, writeContent, type CapturedLogger, type TinyTorrent } from './daemon-helpers.js';
import { pollUntil } from './helpers/poll.js';

type T = { teardown(fn: () => unknown): void };

async function tmp(t: T, prefix: string): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

interface Node {
  daemon: Daemon;
  log: CapturedLogger;
  root: string;
  torrentsDir: string;
  downloadsDir: string;
  stateDir: string;
}

/** A daemon rooted at `root` (torrents/, downloads/, state/), started, stopped in teardown. */
async function startDaemon(t: T, root: string, host: string, extra: Partial<DaemonOptions> = {}, settings: Parameters<typeof resolveSettings>[0] = {}): Promise<Node> {
  const log = captureLogger();
  const dirs = { torrentsDir: path.join(root, 'torrents'), downloadsDir: path.join(root, 'downloads'), stateDir: path.join(root, 'state') };
  const daemon = new Daemon({
    settings: resolveSettings({ host, port: 0, ...settings }),
    ...dirs,
    logger: log.logger,
    useTrackers: false,
    dht: false,
    rescanIntervalMs: 300,
    settleMs: 100,
    saveIntervalMs: 100,
    ...extra,
  });
  t.teardown(() => daemon.stop());
  await daemon.start();
  return { daemon, log, root, ...dirs };
}

async function savedState(stateDir: string) {
  return decodeSessionState(await readFile(path.join(stateDir, 'session.json'))).state;
}

test('100 small torrents served by one daemon; a restart resumes them all without re-downloading', async (t) => {
  t.timeout(180_000);
  const torrents: TinyTorrent[] = Array.from({ length: 100 }, (_, i) => tinyTorrent(i));
  const seedRoot = await tmp(t, 'daemon-seed-');
  const leechRoot = await tmp(t, 'daemon-leech-');
  for (const root of [seedRoot, leechRoot]) {
    await mkdir(path.join(root, 'torrents'), { recursive: true });
    for (const tt of torrents) await writeFile(path.join(root, 'torrents', `${tt.name}.torrent`), tt.bytes);
  }
  for (const tt of torrents) await writeContent(path.join(seedRoot, 'downloads'), tt);

  // The seeder finds complete data for every watch-folder torrent and seeds it.
  const seed = await startDaemon(t, seedRoot, '127.0.0.1');
  await pollUntil(() => seed.daemon.session.torrents.length === 100 && seed.daemon.session.torrents.every((x) => x.complete), 'the seeder to serve 100 torrents', 60_000);
  t.true(seed.daemon.session.torrents.every((x) => x.stats().downloaded === 0));

  // The leecher downloads all 100 from it.
  const peers = [{ host: '127.0.0.1', port: seed.daemon.session.port }];
  const leech = await startDaemon(t, leechRoot, '127.0.0.2', { peers });
  await pollUntil(() => leech.daemon.session.torrents.length === 100 && leech.daemon.session.torrents.every((x) => x.complete), 'the leecher to complete 100 torrents', 120_000, 100);
  for (const tt of torrents) t.true((await readFile(path.join(leech.downloadsDir, tt.name))).equals(tt.data), `${tt.name} is byte-equal`);
  const pausedHex = torrents[7]!.meta.infoHashHex;
  leech.daemon.session.torrent(pausedHex)!.pause();
  await leech.daemon.stop();
  await seed.daemon.stop();

  const saved = await savedState(leech.stateDir);
  t.is(saved.records.length, 100);
  t.true(saved.records.every((r) => r.kind === 'torrent' && r.origin === 'watch' && r.watchFile !== undefined));
  t.true(saved.records.find((r) => r.infoHash === pausedHex)!.paused);

  // Restart with no seeder anywhere: everything is back at once, trusted from the resume state.
  const again = await startDaemon(t, leechRoot, '127.0.0.2', { peers });
  const s = again.daemon.session;
  t.is(s.torrents.length, 100);
  t.true(s.torrents.every((x) => x.complete), 'every torrent is complete right after start()');
  t.true(s.torrents.every((x) => x.stats().downloaded === 0), 'nothing was downloaded again');
  t.is(again.log.lines.filter((l) => /resume state trusted/.test(l)).length, 100, 'all 100 resume states trusted');
  t.false(again.log.has('info', /verifying/), 'no piece was hashed again');
  t.true(s.torrent(pausedHex)!.paused, 'the paused torrent stays paused');
  t.is(s.torrents.filter((x) => x.paused).length, 1);
  // The watch folder, scanning the same files, adds nothing twice: a file dropped in after that scan is added
  // after whatever the scan queued, and it is the only one.
  await again.daemon.watcher!.scan();
  const marker = tinyTorrent(100);
  await writeFile(path.join(leechRoot, 'torrents', `${marker.name}.torrent`), marker.bytes);
  await pollUntil(() => s.torrent(marker.meta.infoHashHex), 'the torrent dropped in after the rescan');
  t.is(s.torrents.length, 101);
});

test('watch folder: a dropped .torrent is added (seeded when its data is there), a removed one stopped with its data kept; a bad one is ignored with a warning', async (t) => {
  const root = await tmp(t, 'daemon-watch-');
  const have = tinyTorrent(200);
  const contentPath = await writeContent(path.join(root, 'downloads'), have);
  const node = await startDaemon(t, root, '127.0.0.1');
  const s = node.daemon.session;
  t.is(s.torrents.length, 0);

  await writeFile(path.join(node.torrentsDir, 'bad.torrent'), 'd4:infoi1ee');
  const file = path.join(node.torrentsDir, 'have.torrent');
  await writeFile(file, have.bytes);
  const torrent = await pollUntil(() => s.torrent(have.meta.infoHashHex), 'the dropped torrent to run');
  t.true(torrent.complete, 'complete data in downloads/ is verified and seeded');
  t.is(torrent.stats().downloaded, 0);
  await pollUntil(() => node.log.has('warn', /ignoring .*bad\.torrent/), 'a warning about bad.torrent');
  t.is(s.torrents.length, 1, 'the bad file added nothing');
  const rec = await pollUntil(async () => (await savedState(node.stateDir)).records.find((r) => r.infoHash === have.meta.infoHashHex), 'the torrent in session.json');
  t.is(rec.watchFile, file);
  t.is(rec.kind === 'torrent' ? rec.contentPath : '', contentPath);

  // A torrent whose data is missing is downloaded into downloads/ (here: nobody has it, so it waits).
  const missing = tinyTorrent(201);
  await writeFile(path.join(node.torrentsDir, 'missing.torrent'), missing.bytes);
  const m = await pollUntil(() => s.torrent(missing.meta.infoHashHex), 'the second torrent to run');
  t.false(m.complete);
  await access(path.join(node.downloadsDir, missing.name));

  await unlink(file);
  await pollUntil(() => !s.torrent(have.meta.infoHashHex), 'the torrent to stop');
  t.true((await readFile(contentPath)).equals(have.data), 'its data is kept');
  await pollUntil(async () => !(await savedState(node.stateDir)).records.some((r) => r.infoHash === have.meta.infoHashHex), 'the record to go');
  t.truthy(s.torrent(missing.meta.infoHashHex), 'the other torrent runs on');
});

test('a torrent whose watch file was deleted while the daemon was down is not resumed', async (t) => {
  const root = await tmp(t, 'daemon-gone-');
  const a = tinyTorrent(210);
  const b = tinyTorrent(211);
  await writeContent(path.join(root, 'downloads'), a);
  await writeContent(path.join(root, 'downloads'), b);
  await mkdir(path.join(root, 'torrents'));
  await writeFile(path.join(root, 'torrents', 'a.torrent'), a.bytes);
  await writeFile(path.join(root, 'torrents', 'b.torrent'), b.bytes);
  const first = await startDaemon(t, root, '127.0.0.1');
  await pollUntil(() => first.daemon.session.torrents.length === 2, 'both torrents');
  await first.daemon.stop();
  await unlink(path.join(root, 'torrents', 'a.torrent'));
  const second = await startDaemon(t, root, '127.0.0.1');
  await pollUntil(() => !second.daemon.session.torrent(a.meta.infoHashHex), 'a to be stopped');
  t.truthy(second.daemon.session.torrent(b.meta.infoHashHex));
  t.deepEqual(
    second.daemon.records.map((r) => r.infoHash),
    [b.meta.infoHashHex],
  );
  await access(path.join(root, 'downloads', a.name));
});

test('torrents added straight to the session (as the API does) are saved, paused state included, and resumed', async (t) => {
  const root = await tmp(t, 'daemon-api-');
  const elsewhere = await tmp(t, 'daemon-api-data-');
  const tt = tinyTorrent(220);
  const contentPath = await writeContent(elsewhere, tt);
  const node = await startDaemon(t, root, '127.0.0.1');
  const torrent = await node.daemon.session.addTorrent(tt.meta, { contentPath, mode: 'seed' });
  torrent.pause();
  await pollUntil(async () => (await savedState(node.stateDir)).records.find((r) => r.infoHash === tt.meta.infoHashHex && r.paused), 'the paused record saved');
  await node.daemon.stop();
  const saved = (await savedState(node.stateDir)).records[0]!;
  t.like(saved, { kind: 'torrent', origin: 'api', mode: 'seed', contentPath, paused: true });
  t.is(saved.watchFile, undefined);
  await access(path.join(node.stateDir, 'torrents', `${tt.meta.infoHashHex}.torrent`));

  const again = await startDaemon(t, root, '127.0.0.1');
  const back = again.daemon.session.torrent(tt.meta.infoHashHex);
  t.truthy(back);
  t.true(back!.paused);
  t.true(back!.complete);
  // Removed through the session (API DELETE): forgotten by the next start.
  await again.daemon.session.removeTorrent(tt.meta.infoHashHex);
  await again.daemon.stop();
  t.deepEqual((await savedState(again.stateDir)).records, []);
  t.true((await readFile(contentPath)).equals(tt.data));
});

test('a dropped .magnet is resolved from a peer and downloaded; an unresolved one survives a restart', async (t) => {
  const seedRoot = await tmp(t, 'daemon-mseed-');
  const tt = tinyTorrent(230, { length: 100_000 });
  await writeContent(path.join(seedRoot, 'downloads'), tt);
  await mkdir(path.join(seedRoot, 'torrents'));
  await writeFile(path.join(seedRoot, 'torrents', 'x.torrent'), tt.bytes);
  const seed = await startDaemon(t, seedRoot, '127.0.0.1');
  await pollUntil(() => seed.daemon.session.torrent(tt.meta.infoHashHex)?.complete, 'the seeder');

  const root = await tmp(t, 'daemon-magnet-');
  const node = await startDaemon(t, root, '127.0.0.3', { peers: [{ host: '127.0.0.1', port: seed.daemon.session.port }] });
  await writeFile(path.join(node.torrentsDir, 'x.magnet'), `magnet:?xt=urn:btih:${tt.meta.infoHashHex}&dn=${tt.name}\n`);
  await pollUntil(() => node.daemon.session.torrent(tt.meta.infoHashHex)?.complete, 'the magnet download to complete', 60_000);
  t.true((await readFile(path.join(node.downloadsDir, tt.name))).equals(tt.data));
  const rec = node.daemon.records.find((r) => r.infoHash === tt.meta.infoHashHex)!;
  t.is(rec.kind, 'torrent', 'the record became a torrent once the metadata came');
  t.is(rec.watchFile, path.join(node.torrentsDir, 'x.magnet'));

  // Nobody has this one: it stays a magnet record across a restart.
  const nobody = tinyTorrent(231);
  await writeFile(path.join(node.torrentsDir, 'y.magnet'), `magnet:?xt=urn:btih:${nobody.meta.infoHashHex}\n`);
  await pollUntil(() => node.daemon.records.some((r) => r.infoHash === nobody.meta.infoHashHex), 'the magnet record');
  // Let the fetch begin: an abort before it listens is lost (metadata-fetch.ts; reported), and stop() would wait its 5 s bound.
  await new Promise((r) => setTimeout(r, 300));
  await node.daemon.stop();
  const saved = await savedState(node.stateDir);
  t.like(saved.records.find((r) => r.infoHash === nobody.meta.infoHashHex), { kind: 'magnet', origin: 'watch' });
  const again = await startDaemon(t, root, '127.0.0.3');
  t.like(again.daemon.records.find((r) => r.infoHash === nobody.meta.infoHashHex), { kind: 'magnet' });
  t.true(again.daemon.session.torrent(tt.meta.infoHashHex)?.complete, 'the resolved one resumed complete');
  // Its file removed: the fetch is abandoned and the record dropped.
  await unlink(path.join(root, 'torrents', 'y.magnet'));
  await pollUntil(() => !again.daemon.records.some((r) => r.infoHash === nobody.meta.infoHashHex), 'the magnet record to go');
  t.pass();
});

/** Connects and sends a handshake; 'accepted' when the remote answers with its own, 'refused' when it closes first. */
function probe(t: T, port: number, host: string, infoHash: Uint8Array): Promise<'accepted' | 'refused'> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, localAddress: '127.0.0.9' });
    t.teardown(() => void socket.destroy());
    let got = 0;
    const timer = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000);
    socket.on('connect', () => socket.write(encodeHandshake({ infoHash, peerId: makePeerId(), extensionProtocol: true })));
    socket.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= 68) {
        clearTimeout(timer);
        resolve('accepted');
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve('refused');
    });
  });
}

test('the global connection limit (maxPeersTotal) refuses incoming peers beyond it, whatever the torrent', async (t) => {
  const root = await tmp(t, 'daemon-limit-');
  const list = [tinyTorrent(240), tinyTorrent(241), tinyTorrent(242)];
  const node = await startDaemon(t, root, '127.0.0.1', {}, { maxPeersTotal: 2 });
  for (const tt of list) await node.daemon.session.addTorrent(tt.meta, { contentPath: await writeContent(node.downloadsDir, tt), mode: 'seed' });
  const port = node.daemon.session.port;
  t.is(await probe(t, port, '127.0.0.1', list[0]!.meta.infoHash), 'accepted');
  t.is(await probe(t, port, '127.0.0.1', list[1]!.meta.infoHash), 'accepted');
  t.is(await probe(t, port, '127.0.0.1', list[2]!.meta.infoHash), 'refused');
  t.is(node.daemon.session.connectionCount, 2);
});

test('stop() twice is harmless and start() after a failed bind reports it', async (t) => {
  const root = await tmp(t, 'daemon-twice-');
  const node = await startDaemon(t, root, '127.0.0.1');
  await Promise.all([node.daemon.stop(), node.daemon.stop()]);
  await node.daemon.stop();
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
  t.teardown(() => new Promise<void>((r) => blocker.close(() => r())));
  const busy = (blocker.address() as net.AddressInfo).port;
  const log = captureLogger();
  const d = new Daemon({
    settings: resolveSettings({ host: '127.0.0.1', port: busy }),
    stateDir: path.join(root, 'state2'),
    downloadsDir: path.join(root, 'downloads2'),
    logger: log.logger,
    dht: false,
  });
  t.teardown(() => d.stop());
  await t.throwsAsync(d.start(), { message: /in use/ });
  await d.stop();
});
