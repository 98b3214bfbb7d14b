/**
 * IPv6 on loopback (::1) with the built bins, the way a user runs them
 * (issue 14, item 5): a seeder and a leecher on ::1 given each other with
 * --peer; the same through our tracker on ::1 (HTTP `peers6`, UDP over IPv6);
 * and two `peer dht` nodes on ::1 (an IPv6 DHT node, BEP 32) carrying a
 * `kv put` / `kv get`. Skipped where this machine has no ::1.
 */
import test from 'ava';
import net from 'node:net';
import path from 'node:path';
import { closed, fileSha1, freePort, isComplete, singleFileTorrent, spawnPeer, tempDir, WAIT_MS } from './helpers/swarm.js';
import { makeTorrentCommand } from './helpers/bin.js';
import { spawnJson, type Teardown } from './helpers/swarm.js';
import { runPeer, startDht, type DhtProcess } from './dht-cli-helpers.js';

const V6 = '::1';

async function hasIPv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(0, V6, () => s.close(() => resolve(true)));
  });
}

const v6 = await hasIPv6Loopback();
const v6test = v6 ? test : test.skip;

/** Resolves once something accepts TCP connections on [::1]:port (bounded). */
async function untilConnectable(port: number, describe: () => string): Promise<void> {
  const until = Date.now() + WAIT_MS;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: V6, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on [::1]:${port}: ${describe()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function makeTorrent(t: Teardown, args: string[]): Promise<{ infoHash: string }> {
  const p = spawnJson(t, process.execPath, makeTorrentCommand([...args, '--json']), ['make-torrent', ...args]);
  const exit = await closed(p, WAIT_MS);
  if (exit.code !== 0 || p.events.length !== 1) throw new Error(p.describe());
  return p.events[0] as unknown as { infoHash: string };
}

v6test('seed on ::1, leech on ::1 with --peer [::1]:PORT: byte-equal', async (t) => {
  t.timeout(120_000);
  const dir = await tempDir(t, 'ipv6-peer-');
  const fx = await singleFileTorrent(dir, { length: 300_001, pieceLength: 32 * 1024 });
  const [seedPort, leechPort] = [await freePort([V6]), await freePort([V6])];
  const seeder = spawnPeer(t, ['seed', fx.torrentPath, '--data', fx.contentPath, '--host', V6, '--port', String(seedPort), '--state', path.join(dir, 's1'), '--no-dht', '--no-lsd', '--json']);
  await untilConnectable(seedPort, seeder.describe);
  const out = path.join(dir, 'out');
  const leecher = spawnPeer(t, ['leech', fx.torrentPath, '--out', out, '--exit-on-complete', '--json', '--host', V6, '--port', String(leechPort), '--state', path.join(dir, 's2'), '--no-dht', '--no-lsd', '--peer', `[${V6}]:${seedPort}`]);
  await leecher.waitFor((e) => e.event === 'complete', 'the download over ::1', WAIT_MS);
  t.is((await closed(leecher)).code, 0, leecher.describe());
  t.is(await fileSha1(path.join(out, 'payload.bin')), await fileSha1(fx.contentPath));
  seeder.kill('SIGINT');
  t.is((await seeder.waitExit()).code, 0, seeder.describe());
});

v6test('a seeder without --host listens on both stacks: a leecher on 127.0.0.1 and one on ::1 both get the file', async (t) => {
  t.timeout(120_000);
  const dir = await tempDir(t, 'ipv6-dual-');
  const fx = await singleFileTorrent(dir, { length: 200_003, pieceLength: 16 * 1024, seed: 5 });
  const seedPort = await freePort(['::']);
  const seeder = spawnPeer(t, ['seed', fx.torrentPath, '--data', fx.contentPath, '--port', String(seedPort), '--state', path.join(dir, 's0'), '--no-dht', '--no-lsd', '--json']);
  await untilConnectable(seedPort, seeder.describe);
  const runs = await Promise.all(
    (['127.0.0.1', V6] as const).map(async (host, i) => {
      const out = path.join(dir, `out${i}`);
      const port = await freePort([host]);
      const peer = host.includes(':') ? `[${host}]:${seedPort}` : `${host}:${seedPort}`;
      const leecher = spawnPeer(t, ['leech', fx.torrentPath, '--out', out, '--exit-on-complete', '--json', '--host', host, '--port', String(port), '--state', path.join(dir, `l${i}`), '--no-dht', '--no-lsd', '--peer', peer]);
      await leecher.waitFor((e) => e.event === 'complete', `the download from ${host}`, WAIT_MS);
      return { leecher, out };
    }),
  );
  for (const { leecher, out } of runs) {
    t.is((await closed(leecher)).code, 0, leecher.describe());
    t.is(await fileSha1(path.join(out, 'payload.bin')), await fileSha1(fx.contentPath));
  }
  seeder.kill('SIGINT');
  t.is((await seeder.waitExit()).code, 0, seeder.describe());
});

for (const proto of ['http', 'udp'] as const) {
  v6test(`tracker, seeder and leecher all on ::1 (${proto === 'http' ? 'HTTP peers6, BEP 7' : 'UDP over IPv6, BEP 15'}): the leecher finds the seeder through the tracker`, async (t) => {
    t.timeout(120_000);
    const dir = await tempDir(t, `ipv6-tracker-${proto}-`);
    const fx = await singleFileTorrent(dir, { length: 150_001, pieceLength: 16 * 1024, seed: 3 });
    const trackerPort = await freePort([V6]);
    const tracker = spawnPeer(t, ['tracker', '--host', V6, '--port', String(trackerPort)]);
    await untilConnectable(trackerPort, tracker.describe);
    const torrent = path.join(dir, 'tracked.torrent');
    const made = await makeTorrent(t, [fx.contentPath, '-o', torrent, '-l', '16K', '-a', `${proto}://[${V6}]:${trackerPort}/announce`]);
    const [seedPort, leechPort] = [await freePort([V6]), await freePort([V6])];
    const seeder = spawnPeer(t, ['seed', torrent, '--data', fx.contentPath, '--host', V6, '--port', String(seedPort), '--state', path.join(dir, 's1'), '--no-dht', '--no-lsd', '--json']);
    await untilConnectable(seedPort, seeder.describe);
    const out = path.join(dir, 'out');
    const leecher = spawnPeer(t, ['leech', torrent, '--out', out, '--exit-on-complete', '--json', '--host', V6, '--port', String(leechPort), '--state', path.join(dir, 's2'), '--no-dht', '--no-lsd']);
    const done = await leecher.waitFor((e) => e.event === 'complete', 'the download through the tracker on ::1', WAIT_MS);
    t.is((done as { infoHash?: string }).infoHash, made.infoHash);
    t.is((await closed(leecher)).code, 0, leecher.describe());
    t.is(await fileSha1(path.join(out, 'payload.bin')), await fileSha1(fx.contentPath));
    for (const p of [seeder, tracker]) {
      p.kill('SIGINT');
      await p.waitExit();
    }
  });
}

v6test('two `peer dht` nodes on ::1 (IPv6 DHT, BEP 32) find each other; kv put and kv get over ::1', async (t) => {
  t.timeout(120_000);
  const dir = await tempDir(t, 'ipv6-dht-');
  const nodes: DhtProcess[] = [];
  t.teardown(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  });
  const first = await startDht(['--host', V6, '--state', path.join(dir, 'n1'), '--no-lsd']);
  nodes.push(first);
  t.is(first.host, V6);
  const second = await startDht(['--host', V6, '--state', path.join(dir, 'n2'), '--no-lsd', '--bootstrap', `[${V6}]:${first.port}`]);
  nodes.push(second);
  const put = await runPeer(['kv', 'put', 'greeting', 'hello over IPv6', '--namespace', 'v6', '--json', '--no-lsd', '--state', path.join(dir, 'c1'), '--host', V6, '--bootstrap', `[${V6}]:${first.port}`]);
  t.is(put.code, 0, put.stderr);
  t.true((JSON.parse(put.stdout) as { stored: number }).stored >= 1, put.stdout);
  const get = await runPeer(['kv', 'get', 'greeting', '--namespace', 'v6', '--no-lsd', '--state', path.join(dir, 'c2'), '--host', V6, '--bootstrap', `[${V6}]:${second.port}`]);
  t.is(get.code, 0, get.stderr);
  t.is(get.stdout, 'hello over IPv6\n');
});

v6test('a seeder without --host runs an IPv6 DHT node beside the IPv4 one: a leecher on ::1 finds it through a DHT node on ::1', async (t) => {
  t.timeout(120_000);
  const dir = await tempDir(t, 'ipv6-dual-dht-');
  const fx = await singleFileTorrent(dir, { length: 100_003, pieceLength: 16 * 1024, seed: 7 });
  const boot = await startDht(['--host', V6, '--state', path.join(dir, 'boot'), '--no-lsd']);
  t.teardown(async () => {
    await boot.stop();
  });
  const bootstrap = ['--bootstrap', `[${V6}]:${boot.port}`];
  const seedPort = await freePort(['::']);
  const seeder = spawnPeer(t, ['seed', fx.torrentPath, '--data', fx.contentPath, '--port', String(seedPort), '--state', path.join(dir, 's0'), '--no-lsd', '--json', ...bootstrap]);
  await untilConnectable(seedPort, seeder.describe);
  const out = path.join(dir, 'out');
  const leecher = spawnPeer(t, ['leech', fx.torrentPath, '--out', out, '--exit-on-complete', '--json', '--host', V6, '--port', String(await freePort([V6])), '--state', path.join(dir, 'l0'), '--no-lsd', ...bootstrap]);
  await leecher.waitFor((e) => e.event === 'complete', 'the download found through the IPv6 DHT', WAIT_MS);
  t.is((await closed(leecher)).code, 0, leecher.describe());
  t.is(await fileSha1(path.join(out, 'payload.bin')), await fileSha1(fx.contentPath));
  seeder.kill('SIGINT');
  t.is((await seeder.waitExit()).code, 0, seeder.describe());
});

v6test('PEX over IPv6 (added6): a leecher on ::1 given only another leecher learns the seeder from it and connects to it', async (t) => {
  t.timeout(120_000);
  const dir = await tempDir(t, 'ipv6-pex-');
  const fx = await singleFileTorrent(dir, { length: 1_500_007, pieceLength: 16 * 1024, seed: 9 });
  const [sPort, aPort, bPort] = [await freePort([V6]), await freePort([V6]), await freePort([V6])];
  const args = (port: number, state: string): string[] => ['--json', '--host', V6, '--port', String(port), '--state', path.join(dir, state), '--no-dht', '--no-lsd'];
  const seeder = spawnPeer(t, ['seed', fx.torrentPath, '--data', fx.contentPath, ...args(sPort, 's')]);
  await untilConnectable(sPort, seeder.describe);
  // A is slow to download (so that it is still there when B comes), and knows the seeder.
  const a = spawnPeer(t, ['leech', fx.torrentPath, '--out', path.join(dir, 'a-out'), ...args(aPort, 'a'), '--peer', `[${V6}]:${sPort}`, '--download-limit', '64K']);
  await untilConnectable(aPort, a.describe);
  const b = spawnPeer(t, ['leech', fx.torrentPath, '--out', path.join(dir, 'b-out'), '--exit-on-complete', ...args(bPort, 'b'), '--peer', `[${V6}]:${aPort}`]);
  // B meets the seeder only through PEX (A's added6 names the seeder to B, and B to the seeder): either dials the other.
  const other = await b.waitFor(
    (e) => e.event === 'peer' && (e as { state?: string }).state === 'connected' && !String((e as { address?: string }).address).endsWith(`:${aPort}`),
    'B to be connected to a peer it was not given (the seeder, through PEX)',
    60_000,
  );
  t.regex(String((other as { address?: string }).address), /^\[?::1\]?:/);
  t.log(`B met ${String((other as { address?: string }).address)} after ${Date.now() - b.startedAt} ms`);
  await b.waitFor(isComplete, 'B to complete', 60_000);
  t.is((await closed(b)).code, 0, b.describe());
  t.is(await fileSha1(path.join(dir, 'b-out', 'payload.bin')), await fileSha1(fx.contentPath));
  for (const p of [a, seeder]) {
    p.kill('SIGINT');
    await p.waitExit();
  }
});
