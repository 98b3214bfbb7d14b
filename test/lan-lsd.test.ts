/**
 * Local Service Discovery (BEP 14) on a real LAN: `scripts/lan.sh` hosts
 * (network namespaces on one bridge, multicast snooping off), each running
 * the built `peer` with `ip netns exec`, with no tracker, no --peer and no
 * --bootstrap anywhere: whatever finds whom is LSD, and the DHT that LSD
 * bootstraps.
 *
 * - Three daemons (`peer start`): a torrent dropped into one's watch folder
 *   and its magnet into the two others' reach them byte-equal; then `kv put`
 *   on a fourth host that runs nothing else and `kv get` on the daemons'
 *   hosts work without --bootstrap (the short-lived kv node finds the LAN's
 *   DHT over LSD, or through the daemon of its own host with --no-lsd).
 * - libtorrent with LSD on, in its own namespace: it finds our seeder (it
 *   dials us after our announce), and our leecher finds it (we dial it after
 *   its announce); both transfers byte-equal.
 *
 * Needs root (namespaces): elsewhere skipped with a loud line, and failing
 * under CI=true. Each test has its own lan.sh prefix and net, always taken
 * down (t.teardown and test.after.always), and its own temp folder.
 */
import test, { type ImplementationFn } from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MAKE_TORRENT_BIN, PEER_BIN } from './helpers/bin.js';
import { clients } from './helpers/clients.js';
import { ltEvent, spawnLibtorrent } from './helpers/libtorrent.js';
import { closed, fileSha1, fixtureBytes, isComplete, REPO_ROOT, spawnJson, spawnPeer, tempDir, writeFixture, type PeerEvent, type PeerProcess } from './helpers/swarm.js';
import { lanDownAll, lanUnavailable, lanUp, type LanHost } from './helpers/lan.js';
import { encodeLsdAnnounce, lsdHostHeader, LSD_IPV4_GROUP } from '../src/discovery/lsd-codec.js';
import { LSD_DHT_INFOHASH } from '../src/discovery/lsd.js';

const PEER_PORT = 6881;
const PAYLOAD = 3 * 1024 * 1024 + 12_345;
const PIECE = 64 * 1024;
/** Bound on each transfer: LSD's first round, or the LAN DHT it bootstraps, well within this. */
const FIND_MS = 120_000;

type Host = LanHost;

const wrap = (h: Host): string[] => ['ip', 'netns', 'exec', h.ns];

/** `peer ARGS` inside host h, to completion (bounded). */
function runIn(h: Host, args: string[], timeoutMs = 60_000): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync('ip', ['netns', 'exec', h.ns, process.execPath, PEER_BIN, ...args], { cwd: REPO_ROOT, encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? String(r.error) : '') };
}

/** Content and its torrent (the built make-torrent, no tracker): path, torrent, info-hash, magnet, SHA-1. */
async function makeContent(dir: string, name: string, seed: number, extra: string[] = []): Promise<{ content: string; torrent: string; infoHash: string; magnet: string; sha1: string }> {
  const content = path.join(dir, 'content', name);
  await writeFixture(content, fixtureBytes(PAYLOAD, seed));
  const torrent = path.join(dir, `${name}.torrent`);
  const mk = spawnSync(process.execPath, [MAKE_TORRENT_BIN, content, '-o', torrent, '-l', String(PIECE), '--json', ...extra], { encoding: 'utf8' });
  if (mk.status !== 0) throw new Error(`make-torrent failed: ${mk.stderr}`);
  const { infoHash, magnet } = JSON.parse(mk.stdout) as { infoHash: string; magnet: string };
  return { content, torrent, infoHash, magnet, sha1: await fileSha1(content) };
}

const completeOf = (infoHash: string) => (e: PeerEvent): boolean => isComplete(e) && e.infoHash === infoHash;

const unavailable = lanUnavailable();
const lanTest = (title: string, impl: ImplementationFn<[]>): void => {
  if (!unavailable) {
    test(title, impl);
    return;
  }
  if (process.env.CI === 'true') {
    test(title, (t) => {
      t.fail(`CI=true and no namespace LAN can be made here: ${unavailable}`);
    });
    return;
  }
  process.stderr.write(`\n*** lan-lsd.test.ts SKIPPED "${title}": no namespace LAN can be made here: ${unavailable}\n\n`);
  test.skip(title, impl);
};

test.after.always(lanDownAll);

lanTest('three daemons with no tracker, --peer or --bootstrap: a watch-folder torrent on one and its magnet on the others arrive byte-equal; kv put and get across hosts without --bootstrap', async (t) => {
  t.timeout(FIND_MS + 120_000);
  const hosts = lanUp(t, 4, '10.91', 's');
  const dir = await tempDir(t, 'lan-lsd-');
  const fx = await makeContent(dir, 'lsd-payload.bin', 11);
  const daemons = [1, 2, 3].map((i) => {
    const h = hosts[i - 1]!;
    const root = path.join(dir, `host-${i}`);
    return {
      h,
      root,
      torrents: path.join(root, 'torrents'),
      downloads: path.join(root, 'downloads'),
    };
  });
  for (const d of daemons) await mkdir(d.torrents, { recursive: true });
  // Host 1 has the content already (it seeds what its watch folder brings).
  await mkdir(daemons[0]!.downloads, { recursive: true });
  await rename(fx.content, path.join(daemons[0]!.downloads, 'lsd-payload.bin'));

  const procs = daemons.map((d) =>
    spawnPeer(t, ['start', '--torrents', d.torrents, '--downloads', d.downloads, '--state', path.join(d.root, 'state'), '--host', d.h.addr, '--port', String(PEER_PORT), '--no-api', '--json', '--log-level', 'info'], { wrap: wrap(d.h) }),
  );
  for (const [k, p] of procs.entries()) await p.waitForStderr(/LSD on 239\.192\.152\.143:6771/, 30_000).catch(() => t.fail(`daemon ${k + 1} started no LSD\n${p.describe()}`));

  // Magnets first, then the torrent: the seeder's first announce then finds both fetchers waiting.
  // (The other order works too, through the LAN's DHT or the next minute's announce; slower.)
  await writeFile(path.join(daemons[1]!.torrents, 'payload.magnet'), fx.magnet + '\n');
  await writeFile(path.join(daemons[2]!.torrents, 'payload.magnet'), fx.magnet + '\n');
  await writeFile(path.join(daemons[0]!.torrents, 'payload.torrent'), await readFile(fx.torrent));

  const t0 = Date.now();
  for (const k of [1, 2]) {
    await procs[k]!.waitFor(completeOf(fx.infoHash), `daemon ${k + 1} to complete the magnet`, FIND_MS);
    t.is(await fileSha1(path.join(daemons[k]!.downloads, 'lsd-payload.bin')), fx.sha1, `host ${k + 1} has the exact bytes`);
  }
  t.log(`both magnets complete ${((Date.now() - t0) / 1000).toFixed(1)} s after the torrent was dropped`);

  // The other order: a second torrent on host 1 first, its magnet on the others a few seconds later (after
  // host 1's first announce of it). They find it through the LAN's DHT, which LSD bootstrapped (or, at
  // worst, host 1's next LSD round a minute later).
  const fx2 = await makeContent(path.join(dir, 'second'), 'lsd-second.bin', 12);
  await rename(fx2.content, path.join(daemons[0]!.downloads, 'lsd-second.bin'));
  await writeFile(path.join(daemons[0]!.torrents, 'second.torrent'), await readFile(fx2.torrent));
  await procs[0]!.waitFor((e) => e.event === 'progress' && e.infoHash === fx2.infoHash, 'host 1 to run the second torrent', 30_000);
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  const t1 = Date.now();
  await writeFile(path.join(daemons[1]!.torrents, 'second.magnet'), fx2.magnet + '\n');
  await writeFile(path.join(daemons[2]!.torrents, 'second.magnet'), fx2.magnet + '\n');
  for (const k of [1, 2]) {
    await procs[k]!.waitFor(completeOf(fx2.infoHash), `daemon ${k + 1} to complete the second magnet`, FIND_MS);
    t.is(await fileSha1(path.join(daemons[k]!.downloads, 'lsd-second.bin')), fx2.sha1, `host ${k + 1} has the second torrent's exact bytes`);
  }
  t.log(`magnets dropped after the torrent's announce: complete ${((Date.now() - t1) / 1000).toFixed(1)} s later`);
  for (const p of procs) t.deepEqual(p.badLines, [], 'stdout is JSON lines only');

  // KV: host 4 runs no daemon: its kv node can only find the LAN's DHT over LSD.
  const h4 = hosts[3]!;
  const put = runIn(h4, ['kv', 'put', 'greeting', 'hello over LSD', '--namespace', 'lan-lsd', '--host', h4.addr, '--state', path.join(dir, 'kv-4'), '--json']);
  t.is(put.code, 0, put.stderr);
  const stored = JSON.parse(put.stdout.trim().split('\n').pop() ?? '{}') as { stored?: number };
  t.true((stored.stored ?? 0) >= 1, put.stdout);
  const get2 = runIn(daemons[1]!.h, ['kv', 'get', 'greeting', '--namespace', 'lan-lsd', '--host', daemons[1]!.h.addr, '--state', path.join(dir, 'kv-2'), '--json']);
  t.is(get2.code, 0, get2.stderr);
  t.is((JSON.parse(get2.stdout.trim()) as { value: string }).value, 'hello over LSD');
  // --no-lsd: the daemon of its own host (its --host, default port) is the way in.
  const get3 = runIn(daemons[2]!.h, ['kv', 'get', 'greeting', '--namespace', 'lan-lsd', '--host', daemons[2]!.h.addr, '--no-lsd', '--state', path.join(dir, 'kv-3'), '--json']);
  t.is(get3.code, 0, get3.stderr);
  t.is((JSON.parse(get3.stdout.trim()) as { value: string }).value, 'hello over LSD');
  // And with neither LSD nor a daemon on its host, nothing is found: exit 2, naming --bootstrap.
  const lost = runIn(h4, ['kv', 'get', 'greeting', '--namespace', 'lan-lsd', '--host', h4.addr, '--no-lsd', '--state', path.join(dir, 'kv-4b')]);
  t.is(lost.code, 2, lost.stderr);
  t.regex(lost.stderr, /--bootstrap/);

  for (const p of procs) p.kill('SIGTERM');
  for (const p of procs) t.deepEqual(await p.waitExit(20_000), { code: 0, signal: null }, p.describe());
});

const ltTest = (title: string, impl: ImplementationFn<[]>): void => {
  if (!clients.libtorrent.available) {
    if (process.env.CI === 'true') test(title, (t) => t.fail('missing libtorrent (apt-get install -y python3-libtorrent)'));
    else {
      process.stderr.write('\n!!! SKIPPING lan-lsd libtorrent test: apt-get install -y python3-libtorrent !!!\n\n');
      test.skip(title, impl);
    }
    return;
  }
  lanTest(title, impl);
};

/**
 * A stand-in for our announcer whose only way to be found is its BEP 14
 * datagram (bytes from our codec, in DATAGRAM_HEX): it multicasts that
 * announce once a second and listens on the announced TCP port; the first
 * BitTorrent handshake it gets is printed as {"event":"handshake","infoHash","from"}.
 */
const ANNOUNCER = `
const dgram = require('node:dgram');
const net = require('node:net');
const { HOST, PORT, DATAGRAM_HEX } = process.env;
const data = Buffer.from(DATAGRAM_HEX, 'hex');
const server = net.createServer((c) => {
  let buf = Buffer.alloc(0);
  c.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    if (buf.length >= 48) {
      process.stdout.write(JSON.stringify({ event: 'handshake', infoHash: buf.subarray(28, 48).toString('hex'), from: c.remoteAddress }) + '\\n');
      c.destroy();
    }
  });
  c.on('error', () => undefined);
});
server.listen(Number(PORT), HOST, () => {
  const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  s.bind(0, HOST, () => {
    s.setMulticastInterface(HOST);
    s.setMulticastTTL(1);
    const send = () => s.send(data, 6771, '239.192.152.143');
    send();
    setInterval(send, 1000);
  });
  process.stdout.write(JSON.stringify({ event: 'listening' }) + '\\n');
});
process.on('SIGTERM', () => process.exit(0));
`;

ltTest('libtorrent with LSD on: it finds us from our announce, and we find it (no tracker, no --peer)', async (t) => {
  t.timeout(FIND_MS + 60_000);
  const hosts = lanUp(t, 4, '10.92', 's');
  const [h1, h2, h3, h4] = hosts as [Host, Host, Host, Host];
  const dir = await tempDir(t, 'lan-lsd-lt-');
  const ours = await makeContent(path.join(dir, 'a'), 'ours.bin', 21);
  const theirs = await makeContent(path.join(dir, 'b'), 'theirs.bin', 22);
  const common = (h: Host, name: string): string[] => ['--host', h.addr, '--port', String(PEER_PORT), '--state', path.join(dir, `state-${name}`), '--json', '--no-dht', '--log-level', 'info'];
  const connectedWith = (p: PeerProcess, h: Host): { outgoing?: boolean }[] =>
    p.events.filter((e): e is Extract<PeerEvent, { event: 'peer' }> => e.event === 'peer' && e.state === 'connected' && e.address.startsWith(`${h.addr}:`));

  // It finds us: libtorrent (a leecher) learns of a peer only from our datagram (our codec's bytes) and dials it.
  const ltLeech = spawnLibtorrent(t, ['--listen', `${h2.addr}:${PEER_PORT}`, '--torrent', ours.torrent, '--save', path.join(dir, 'lt-out'), '--lsd', '--exit-on-complete', '--timeout', String(FIND_MS / 1000)], { wrap: wrap(h2) });
  await ltEvent(ltLeech, 'added', 30_000);
  const datagram = encodeLsdAnnounce({ host: lsdHostHeader(LSD_IPV4_GROUP), port: PEER_PORT, infoHashes: [ours.infoHash], cookie: 'lan-lsd-test' });
  const announcer = spawnJson(t, process.execPath, ['-e', ANNOUNCER], ['announcer'], { wrap: wrap(h1), env: { HOST: h1.addr, PORT: String(PEER_PORT), DATAGRAM_HEX: Buffer.from(datagram).toString('hex') } });
  const hs = (await announcer.waitFor((e) => (e as unknown as { event: string }).event === 'handshake', 'libtorrent to dial the announced port', 60_000)) as unknown as { infoHash: string; from: string };
  t.deepEqual(hs, { event: 'handshake', infoHash: ours.infoHash, from: h2.addr }, 'libtorrent parsed our announce and dialled the port it gave');
  announcer.kill('SIGTERM');
  await closed(announcer, 10_000).catch(() => undefined);

  // Then our real seeder there, found on the LAN with LSD (whichever side dials): libtorrent gets our bytes.
  const seeder = spawnPeer(t, ['seed', ours.torrent, '--data', ours.content, ...common(h1, 'seed')], { wrap: wrap(h1) });
  // We find it: our leecher (host 3) dials libtorrent's seeder (host 4) once it hears libtorrent's announce.
  // libtorrent starts after our leecher's first announce has gone (the next is a minute later), so it cannot
  // know of us: the connection is ours, made from its announce.
  const ourLeech = spawnPeer(t, ['leech', theirs.torrent, '--out', path.join(dir, 'our-out'), '--exit-on-complete', ...common(h3, 'leech')], { wrap: wrap(h3) });
  await ourLeech.waitForStderr(/LSD on 239\.192\.152\.143:6771/, 30_000);
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  const ltSeed = spawnLibtorrent(t, ['--listen', `${h4.addr}:${PEER_PORT}`, '--torrent', theirs.torrent, '--save', path.dirname(theirs.content), '--lsd', '--timeout', String(FIND_MS / 1000)], { wrap: wrap(h4) });

  await ltEvent(ltLeech, 'complete', FIND_MS);
  t.is(await fileSha1(path.join(dir, 'lt-out', 'ours.bin')), ours.sha1, 'libtorrent got our bytes');
  t.true(connectedWith(seeder, h2).length > 0, `our seeder and libtorrent connected\n${seeder.describe()}`);
  t.log(`seeder <-> libtorrent connections: ${connectedWith(seeder, h2).map((c) => (c.outgoing ? 'we dialled' : 'it dialled')).join(', ')}`);

  await ourLeech.waitFor(isComplete, 'our leecher to complete', FIND_MS);
  t.deepEqual(await closed(ourLeech, 30_000), { code: 0, signal: null }, ourLeech.describe());
  t.is(await fileSha1(path.join(dir, 'our-out', 'theirs.bin')), theirs.sha1, "our leecher got libtorrent's bytes");
  const withLt = connectedWith(ourLeech, h4);
  t.true(withLt.some((c) => c.outgoing === true), `our leecher dialled libtorrent's seeder\n${ourLeech.describe()}`);
  t.log(`leecher <-> libtorrent connections: ${withLt.map((c) => (c.outgoing ? 'we dialled' : 'it dialled')).join(', ')}`);

  seeder.kill('SIGTERM');
  ltSeed.kill('SIGTERM');
  t.deepEqual(await seeder.waitExit(20_000), { code: 0, signal: null }, seeder.describe());
  await ltSeed.waitExit(20_000).catch(() => undefined);
});

/** Listens on the LSD group and port and prints each datagram as {"event":"datagram","from","text"}. */
const LISTENER = `
const dgram = require('node:dgram');
const { HOST } = process.env;
const s = dgram.createSocket({ type: 'udp4', reuseAddr: true });
s.on('message', (m, r) => process.stdout.write(JSON.stringify({ event: 'datagram', from: r.address, text: m.toString('latin1') }) + '\\n'));
s.bind(6771, '0.0.0.0', () => {
  s.addMembership('239.192.152.143', HOST);
  process.stdout.write(JSON.stringify({ event: 'listening' }) + '\\n');
});
process.on('SIGTERM', () => process.exit(0));
`;

lanTest('what goes on the wire: BEP 14 datagrams with our port and cookie, a public torrent announced, a private one never; --no-lsd sends nothing; peer dht announces the DHT rendezvous', async (t) => {
  t.timeout(90_000);
  const hosts = lanUp(t, 3, '10.94', 's');
  const [h1, h2, h3] = hosts as [Host, Host, Host];
  const dir = await tempDir(t, 'lan-lsd-wire-');
  const pub = await makeContent(path.join(dir, 'pub'), 'public.bin', 31);
  const priv = await makeContent(path.join(dir, 'priv'), 'private.bin', 32, ['--private']);
  const root = path.join(dir, 'host-1');
  await mkdir(path.join(root, 'torrents'), { recursive: true });
  await mkdir(path.join(root, 'downloads'), { recursive: true });
  for (const c of [pub, priv]) {
    await rename(c.content, path.join(root, 'downloads', path.basename(c.content)));
    await writeFile(path.join(root, 'torrents', path.basename(c.torrent)), await readFile(c.torrent));
  }
  const listener = spawnJson(t, process.execPath, ['-e', LISTENER], ['lsd-listener'], { wrap: wrap(h2), env: { HOST: h2.addr } });
  await listener.waitFor((e) => e.event === ('listening' as string), 'the listener', 30_000);
  type Datagram = { event: 'datagram'; from: string; text: string };
  const datagrams = (): Datagram[] => (listener.events as unknown as Datagram[]).filter((e) => e.event === 'datagram');

  // Host 3: a seeder with --no-lsd (the public torrent too): nothing of it may reach the group.
  const quiet = spawnPeer(t, ['seed', pub.torrent, '--data', path.join(root, 'downloads', 'public.bin'), '--host', h3.addr, '--port', String(PEER_PORT), '--state', path.join(dir, 'state-3'), '--json', '--no-lsd', '--no-dht'], { wrap: wrap(h3) });
  // Host 3 also runs a DHT node alone: it announces itself on the rendezvous info-hash, with its UDP port.
  const dht = spawnPeer(t, ['dht', '--host', h3.addr, '--port', '6999', '--state', path.join(dir, 'state-dht'), '--json'], { wrap: wrap(h3) });
  const daemon = spawnPeer(t, ['start', '--torrents', path.join(root, 'torrents'), '--downloads', path.join(root, 'downloads'), '--state', path.join(root, 'state'), '--host', h1.addr, '--port', String(PEER_PORT), '--no-api', '--json', '--no-dht'], { wrap: wrap(h1) });
  for (const c of [pub, priv]) await daemon.waitFor((e) => e.event === 'progress' && e.infoHash === c.infoHash, `the daemon to run ${path.basename(c.content)}`, 30_000);
  await listener.waitFor((e) => (e as unknown as Datagram).event === 'datagram' && (e as unknown as Datagram).text.includes(pub.infoHash), 'the public torrent announced', 30_000);
  await listener.waitFor((e) => (e as unknown as Datagram).event === 'datagram' && (e as unknown as Datagram).text.includes(LSD_DHT_INFOHASH), 'the DHT node announced', 30_000);
  await new Promise((resolve) => setTimeout(resolve, 2_000));

  const fromDht = datagrams().filter((d) => d.from === h3.addr);
  t.true(fromDht.length > 0 && fromDht.every((d) => d.text.includes(`Port: 6999\r\nInfohash: ${LSD_DHT_INFOHASH}\r\ncookie:`)), 'host 3 sends only its DHT node\'s rendezvous (its --no-lsd seeder nothing)');
  const all = datagrams().filter((d) => d.from !== h3.addr);
  t.true(all.length > 0);
  for (const d of all) {
    t.is(d.from, h1.addr, `only the daemon's and the DHT node's hosts multicast: ${d.from}`);
    t.regex(d.text, /^BT-SEARCH \* HTTP\/1\.1\r\nHost: 239\.192\.152\.143:6771\r\nPort: 6881\r\n(Infohash: [0-9a-f]{40}\r\n)+cookie: [0-9a-f]{16}\r\n\r\n\r\n$/);
    t.false(d.text.includes(priv.infoHash), 'the private torrent is never announced');
  }
  t.is(new Set(all.map((d) => /cookie: (\w+)/.exec(d.text)![1])).size, 1, 'one cookie per process');
  t.true(all.some((d) => d.text.includes(pub.infoHash)));

  daemon.kill('SIGTERM');
  quiet.kill('SIGTERM');
  listener.kill('SIGTERM');
  dht.kill('SIGTERM');
  t.deepEqual(await dht.waitExit(20_000), { code: 0, signal: null }, dht.describe());
  t.deepEqual(await daemon.waitExit(20_000), { code: 0, signal: null }, daemon.describe());
  t.deepEqual(await quiet.waitExit(20_000), { code: 0, signal: null }, quiet.describe());
});
