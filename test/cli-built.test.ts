/**
 * The built bundle (dist/peer.js, dist/make-torrent.js, as package.json
 * declares them) reaches every part it loads on demand: the HTTP API and
 * dashboard under `peer start --api PORT`, `peer message` through that
 * daemon, and the embedded tracker under `peer seed --tracker`. (`peer seed
 * --api` is in cli-api-flag, `peer tracker` in tracker-cli, `peer dht` and
 * `peer kv` in kv-cli: all run the same bins.) A computed `import()` path
 * resolves beside dist/ at run time and silently loads nothing, so the
 * sources and the bundles are checked for one too.
 */
import test from 'ava';
import { copyFile, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MAKE_TORRENT_BIN, makeTorrentCommand, PEER_BIN, REPO_ROOT } from './helpers/bin.js';
import { closed, fileSha1, freePort, singleFileTorrent, spawnJson, spawnPeer, tempDir, type Teardown, type TorrentFixture } from './helpers/swarm.js';
import { pollUntil } from './helpers/poll.js';

const SEEDER = '127.0.0.2';
const LEECHER = '127.0.0.3';
const WAIT_MS = 60_000;

/** Arguments of a quiet loopback daemon of these tests (no DHT: nothing leaves 127.0.0.0/8). */
function daemonArgs(root: string, host: string, port: number, apiPort: number, extra: string[] = []): string[] {
  return [
    'start',
    '--torrents', path.join(root, 'torrents'),
    '--downloads', path.join(root, 'downloads'),
    '--state', path.join(root, 'state'),
    '--host', host, '--port', String(port), '--no-dht', '--api', String(apiPort),
    ...extra,
  ];
}

/** A free API port on 127.0.0.1 other than `not`. */
async function apiPortBesides(not: number[]): Promise<number> {
  for (;;) {
    const p = await freePort(['127.0.0.1']);
    if (!not.includes(p)) return p;
  }
}

/** A torrent in `<root>/torrents` with its complete content in `<root>/downloads`: what a daemon there seeds. */
async function seededDaemonFolder(root: string, fx: TorrentFixture): Promise<void> {
  await mkdir(path.join(root, 'torrents'), { recursive: true });
  await mkdir(path.join(root, 'downloads'), { recursive: true });
  await copyFile(fx.torrentPath, path.join(root, 'torrents', path.basename(fx.torrentPath)));
  await copyFile(fx.contentPath, path.join(root, 'downloads', path.basename(fx.contentPath)));
}

async function getText(url: string): Promise<{ status: number; type: string; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, type: res.headers.get('content-type') ?? '', body: await res.text() };
}

async function tsFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await tsFiles(p)));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

test('the build leaves every bin executable by itself: npx can reuse a link npm made for an earlier build, and never chmods again', async (t) => {
  for (const file of [PEER_BIN, MAKE_TORRENT_BIN]) {
    const { mode } = await stat(file);
    t.is(mode & 0o111, 0o111, `${path.relative(REPO_ROOT, file)} mode ${(mode & 0o777).toString(8)}`);
  }
});

test('no computed import() path: every dynamic import in src/ names a literal, and the bundles import nothing relative at run time', async (t) => {
  const computed: string[] = [];
  for (const file of await tsFiles(path.join(REPO_ROOT, 'src'))) {
    const text = await readFile(file, 'utf8');
    for (const m of text.matchAll(/\bimport\(\s*([^)]*)\)/g)) {
      if (!/^(['"])[^'"]+\1$/.test(m[1]!.trim())) computed.push(`${path.relative(REPO_ROOT, file)}: ${m[0]}`);
    }
  }
  t.deepEqual(computed, []);
  for (const bin of [PEER_BIN, MAKE_TORRENT_BIN]) {
    const text = await readFile(bin, 'utf8');
    // esbuild inlines literal imports of our own modules; what stays is a package name, resolved from node_modules.
    const left = [...text.matchAll(/\bimport\(\s*([^)]*)\)/g)].map((m) => m[1]!.trim()).filter((s) => !/^(['"])(?!\.)[^'"]+\1$/.test(s));
    t.deepEqual(left, [], `${path.relative(REPO_ROOT, bin)} has a dynamic import that does not name a package`);
  }
});

test('peer start --api PORT from dist serves the dashboard page and its assets, /api/torrents and /metrics', async (t) => {
  t.timeout(120_000);
  const root = await tempDir(t, 'cli-built-start-');
  const fx = await singleFileTorrent(path.join(root, 'fx'), { name: 'built.bin', length: 70_000, pieceLength: 16384 });
  await seededDaemonFolder(root, fx);
  const port = await freePort([SEEDER]);
  const apiPort = await apiPortBesides([]);
  const daemon = spawnPeer(t, daemonArgs(root, SEEDER, port, apiPort));
  await daemon.waitForStderr(`dashboard: http://127.0.0.1:${apiPort}/`, WAIT_MS);
  const base = `http://127.0.0.1:${apiPort}/`;

  const page = await getText(base);
  t.is(page.status, 200);
  t.regex(page.type, /^text\/html/);
  t.regex(page.body, /<title>[^<]*dashboard[^<]*<\/title>/i);
  const assets = [...page.body.matchAll(/<(?:script[^>]*\ssrc|link[^>]*\shref)="([^"]+)"/g)].map((m) => m[1]!);
  t.true(assets.some((a) => a.endsWith('.js')), `the page names its scripts: ${assets.join(', ')}`);
  for (const a of assets) {
    const res = await getText(new URL(a, base).href);
    t.is(res.status, 200, a);
    t.regex(res.type, a.endsWith('.js') ? /javascript/ : a.endsWith('.css') ? /^text\/css/ : /./, a);
    t.true(res.body.length > 100, `${a} has a body`);
  }

  const torrents = await pollUntil(async () => {
    const r = await getText(new URL('api/torrents', base).href);
    const body = JSON.parse(r.body) as { torrents: { infoHash: string; state: string }[] };
    return body.torrents.find((x) => x.infoHash === fx.infoHashHex && x.state === 'seeding') ? body : undefined;
  }, 'the watch-folder torrent seeding in GET /api/torrents', WAIT_MS, 100);
  t.deepEqual(torrents.torrents.map((x) => x.infoHash), [fx.infoHashHex]);

  const metrics = await getText(new URL('metrics', base).href);
  t.is(metrics.status, 200);
  t.regex(metrics.type, /^text\/plain/);
  t.regex(metrics.body, /^# TYPE swarm_torrents gauge$/m);
  t.regex(metrics.body, /^swarm_torrents\{state="seeding"\} 1$/m);

  daemon.kill('SIGINT');
  t.is((await daemon.waitExit()).code, 0, daemon.describe());
});

test('peer message goes through a running `peer start` (from dist) to the daemon it is connected to', async (t) => {
  t.timeout(120_000);
  const dir = await tempDir(t, 'cli-built-message-');
  const a = path.join(dir, 'a');
  const b = path.join(dir, 'b');
  const fx = await singleFileTorrent(path.join(dir, 'fx'), { name: 'chat.bin', length: 200_000, pieceLength: 16384 });
  await seededDaemonFolder(a, fx);
  await mkdir(path.join(b, 'torrents'), { recursive: true });
  await copyFile(fx.torrentPath, path.join(b, 'torrents', 'chat.torrent'));
  const port = await freePort([SEEDER, LEECHER]);
  const apiA = await apiPortBesides([]);
  const apiB = await apiPortBesides([apiA]);
  const seeder = spawnPeer(t, daemonArgs(a, SEEDER, port, apiA));
  await seeder.waitForStderr(`dashboard: http://127.0.0.1:${apiA}/`, WAIT_MS);
  // Messages travel on live connections and two seeds hang up on each other: B downloads
  // slowly (16 KiB/s, about 12 s for the file), so the connection is there while we send.
  const leecher = spawnPeer(t, daemonArgs(b, LEECHER, port, apiB, ['--peer', `${SEEDER}:${port}`, '--download-limit', '16K']));
  await leecher.waitForStderr(`dashboard: http://127.0.0.1:${apiB}/`, WAIT_MS);
  const stateIn = async (api: number): Promise<string | undefined> =>
    (JSON.parse((await getText(`http://127.0.0.1:${api}/api/torrents`)).body) as { torrents: { infoHash: string; state: string }[] }).torrents.find((x) => x.infoHash === fx.infoHashHex)?.state;
  await pollUntil(async () => ((await stateIn(apiA)) === 'seeding' ? true : undefined), 'daemon A seeding the watch-folder torrent', WAIT_MS, 100);

  // The extension handshake may still be under way: send again until a peer takes it (bounded).
  const sent = await pollUntil(async () => {
    const m = spawnPeer(t, ['message', 'all', 'hello from B', '--api-port', String(apiB), '--json']);
    const exit = await closed(m, 30_000);
    if (exit.code !== 0) return undefined;
    const out = m.events[0] as unknown as { to: string; sent: number } | undefined;
    return out && out.sent > 0 ? out : undefined;
  }, 'peer message to reach a connected peer', WAIT_MS, 300);
  t.deepEqual(sent, { to: 'all', sent: 1 });

  const got = await pollUntil(async () => {
    const r = await getText(`http://127.0.0.1:${apiA}/api/messages`);
    return (JSON.parse(r.body) as { messages: { from: string; text: string }[] }).messages.find((x) => x.text === 'hello from B');
  }, 'daemon A to list the message', WAIT_MS, 200);
  t.regex(got.from, /^127\.0\.0\.3:\d+$/);
  t.is(await stateIn(apiB), 'downloading', 'B was leeching from A while the message went');

  const plain = spawnPeer(t, ['message', `${LEECHER}:1`, 'nobody there', '--api-port', String(apiA)]);
  t.is((await closed(plain)).code, 1, plain.describe());
  t.regex(plain.stderr(), /no connected peer/);

  for (const p of [leecher, seeder]) {
    p.kill('SIGINT');
    t.is((await p.waitExit()).code, 0, p.describe());
  }
});

/** Runs the built make-torrent with --json and returns its one object. */
async function makeTorrent(t: Teardown, args: string[]): Promise<{ infoHash: string; output: string }> {
  const p = spawnJson(t, process.execPath, makeTorrentCommand([...args, '--json']), ['make-torrent', ...args]);
  const exit = await closed(p, WAIT_MS);
  if (exit.code !== 0 || p.events.length !== 1) throw new Error(p.describe());
  return p.events[0] as unknown as { infoHash: string; output: string };
}

test('peer seed --tracker (dist) runs the embedded tracker: a leecher given no peer finds the seeder through it', async (t) => {
  t.timeout(120_000);
  const dir = await tempDir(t, 'cli-built-tracker-');
  const content = path.join(dir, 'data', 'tracked.bin');
  await mkdir(path.dirname(content));
  const bytes = Buffer.alloc(150_001);
  for (let i = 1; i < bytes.length; i++) bytes[i] = (i * 7919) & 0xff;
  await writeFile(content, bytes);
  const trackerPort = await freePort([SEEDER]);
  const port = await freePort([SEEDER, LEECHER]);
  const torrentPath = path.join(dir, 'tracked.torrent');
  const made = await makeTorrent(t, [content, '-o', torrentPath, '-l', '32K', '-a', `http://${SEEDER}:${trackerPort}/announce`]);

  const seeder = spawnPeer(t, ['seed', torrentPath, '--data', content, '--host', SEEDER, '--port', String(port), '--state', path.join(dir, 'state-seed'), '--no-dht', '--tracker', String(trackerPort)]);
  await seeder.waitForStderr(`tracker: http://${SEEDER}:${trackerPort}/announce`, WAIT_MS);

  const out = path.join(dir, 'out');
  const leecher = spawnPeer(t, ['leech', torrentPath, '--out', out, '--exit-on-complete', '--json', '--host', LEECHER, '--port', String(port), '--state', path.join(dir, 'state-leech'), '--no-dht']);
  const done = await leecher.waitFor((e) => e.event === 'complete', 'the download to complete through the tracker', WAIT_MS);
  t.is((done as { infoHash?: string }).infoHash, made.infoHash);
  t.is((await closed(leecher)).code, 0, leecher.describe());
  t.is(await fileSha1(path.join(out, 'tracked.bin')), await fileSha1(content));

  seeder.kill('SIGINT');
  t.is((await seeder.waitExit()).code, 0, seeder.describe());
});
