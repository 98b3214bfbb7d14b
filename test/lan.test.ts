/**
 * A real LAN in the suite: `scripts/lan.sh` turns this machine into 12 hosts
 * (network namespaces on one bridge, each with its own address and its
 * upload and download shaped to 100 Mbit). Host 1 runs our tracker, host 2
 * seeds, hosts 3..12 leech, every one of them the built `peer` run with
 * `ip netns exec`. Checked: every leecher ends with the exact bytes; the
 * tracker saw each peer at its own host's address (and no other); every
 * peer-wire connection came from a host of the swarm; each leecher's bytes
 * came in through its own host's interface and the seed's went out through
 * its own.
 *
 * Needs root and a kernel that lets it make namespaces: elsewhere the test
 * is skipped with a loud line on stderr, and under CI=true it fails with the
 * reason. The LAN is always taken down (t.teardown and test.after.always).
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { MAKE_TORRENT_BIN } from './helpers/bin.js';
import { closed, fileSha1, isComplete, REPO_ROOT, spawnJson, spawnPeer, tempDir, writeFixture, fixtureBytes, type PeerEvent, type PeerProcess } from './helpers/swarm.js';
import { lan, lanUnavailable } from './helpers/lan.js';

const HOSTS = 12;
const RATE = '100mbit';
const PAYLOAD = 32 * 1024 * 1024;
const PIECE = 256 * 1024;
const TRACKER_PORT = 6969;
const PEER_PORT = 6881;
/** Bound on the whole swarm (about 3 s of transfer at 100 Mbit, plus start-up on a slow machine). */
const SWARM_MS = 90_000;

// One prefix per run ("l" + 6 hex + "n": 8 characters, not ending in a digit), so two runs cannot collide.
const PREFIX = `l${randomBytes(3).toString('hex')}n`;

function lanDown(): void {
  const r = lan(['down', '--prefix', PREFIX]);
  if (!r.ok) process.stderr.write(`lan.test: lan.sh down --prefix ${PREFIX} failed: ${r.err}\n`);
}

/** Whether namespaces can be made here; the reason when not. */

const unavailable = lanUnavailable();
const TITLE = `a tracker, a seeder and 10 leechers on ${HOSTS} namespace hosts at ${RATE} each: byte-equal, each seen at its own address`;

/**
 * The connections a peer made or accepted: its `peer` events (state
 * "connected", with `address` and `outgoing`), or, from a build without
 * them, its `peer connected: ADDR (incoming|outgoing...)` log lines (--log-level info).
 */
function connections(p: PeerProcess): { host: string; incoming: boolean }[] {
  const hostOf = (addr: string): string =>
    (addr.startsWith('[') ? addr.slice(1, addr.indexOf(']')) : addr.slice(0, addr.lastIndexOf(':'))).replace(/^::ffff:/, '');
  const events = (p.events as unknown as Record<string, unknown>[]).filter((e) => e.event === 'peer' && e.state === 'connected' && typeof e.address === 'string');
  if (events.length > 0) return events.map((e) => ({ host: hostOf(e.address as string), incoming: e.outgoing === false }));
  return [...p.stderr().matchAll(/peer connected: (\S+) \((incoming|outgoing)[,)]/g)].map((m) => ({ host: hostOf(m[1]!), incoming: m[2] === 'incoming' }));
}

function counter(ifname: string, which: 'rx_bytes' | 'tx_bytes'): number {
  return Number(readFileSync(`/sys/class/net/${ifname}/statistics/${which}`, 'utf8').trim());
}

/**
 * An observer on the tracker's host: announces as a leecher (compact=0,
 * numwant=200) every 200 ms, prints the peers it is given as one JSON line,
 * and takes itself off the tracker again (event=stopped) right away.
 */
const OBSERVER = `
const http = require('node:http');
const { URL_BASE, INFO_HASH } = process.env;
const ih = INFO_HASH.match(/../g).map((h) => '%' + h).join('');
const pid = '-OB0001-' + String(Math.random()).slice(2, 14).padEnd(12, '0');
function decode(b, i) {
  const c = b[i];
  if (c === 0x69) { const e = b.indexOf(0x65, i); return [Number(b.toString('latin1', i + 1, e)), e + 1]; }
  if (c === 0x6c) { const l = []; i++; while (b[i] !== 0x65) { const [v, j] = decode(b, i); l.push(v); i = j; } return [l, i + 1]; }
  if (c === 0x64) { const d = {}; i++; while (b[i] !== 0x65) { const [k, j] = decode(b, i); const [v, m] = decode(b, j); d[k] = v; i = m; } return [d, i + 1]; }
  const colon = b.indexOf(0x3a, i); const n = Number(b.toString('latin1', i, colon));
  return [b.toString('latin1', colon + 1, colon + 1 + n), colon + 1 + n];
}
function get(q) {
  return new Promise((resolve, reject) => {
    const req = http.get(URL_BASE + '?info_hash=' + ih + '&peer_id=' + pid + '&port=1&uploaded=0&downloaded=0&left=1&compact=0&numwant=200' + q, (res) => {
      const chunks = []; res.on('data', (c) => chunks.push(c)); res.on('end', () => resolve(decode(Buffer.concat(chunks), 0)[0]));
    });
    req.on('error', reject); req.setTimeout(2000, () => req.destroy(new Error('timeout')));
  });
}
let stop = false;
process.on('SIGTERM', () => { stop = true; });
(async () => {
  while (!stop) {
    try {
      const r = await get('');
      const peers = Array.isArray(r.peers) ? r.peers.map((p) => ({ ip: p.ip, port: p.port })) : null;
      process.stdout.write(JSON.stringify({ event: 'peers', peers, failure: r['failure reason'] ?? null }) + '\\n');
      await get('&event=stopped');
    } catch (e) {
      process.stdout.write(JSON.stringify({ event: 'observer-error', message: String(e) }) + '\\n');
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  process.exit(0);
})();
`;

if (unavailable) {
  if (process.env.CI === 'true') {
    test(TITLE, (t) => {
      t.fail(`CI=true and no namespace LAN can be made here: ${unavailable}`);
    });
  } else {
    process.stderr.write(`\n*** lan.test.ts SKIPPED: no namespace LAN can be made here: ${unavailable} (runs as root on Linux; fails under CI=true)\n\n`);
    test.skip(TITLE, () => undefined);
  }
} else {
  test.after.always(lanDown);

  test(TITLE, async (t) => {
    t.timeout(SWARM_MS + 60_000);
    t.teardown(lanDown); // registered first, so it runs after every child is killed
    const up = lan(['up', String(HOSTS), RATE, '--prefix', PREFIX]);
    if (!up.ok) throw new Error(`lan.sh up ${HOSTS} ${RATE} --prefix ${PREFIX} failed: ${up.err}`);

    const hosts = lan(['list', '--prefix', PREFIX])
      .out.trim()
      .split('\n')
      .map((l) => {
        const [i, ns, addr, ifname] = l.split(' ');
        return { i: Number(i), ns: ns!, addr: addr!, ifname: ifname! };
      });
    t.is(hosts.length, HOSTS, `lan.sh list shows ${HOSTS} hosts`);
    const wrap = (i: number): string[] => ['ip', 'netns', 'exec', hosts[i - 1]!.ns];
    const addr = (i: number): string => hosts[i - 1]!.addr;
    t.is(new Set(hosts.map((h) => h.addr)).size, HOSTS, 'every host has its own address');
    const trackerAddr = addr(1);
    const seederAddr = addr(2);
    const leecherIdx = Array.from({ length: HOSTS - 2 }, (_, k) => k + 3);
    const leecherAddrs = leecherIdx.map(addr);

    // Content and its torrent (the built make-torrent), announcing to host 1.
    const dir = await tempDir(t, 'lan-test-');
    const content = path.join(dir, 'content', 'payload.bin');
    await writeFixture(content, fixtureBytes(PAYLOAD, 7));
    const torrent = path.join(dir, 'payload.torrent');
    const announce = `http://${trackerAddr}:${TRACKER_PORT}/announce`;
    const mk = spawnSync(process.execPath, [MAKE_TORRENT_BIN, content, '-a', announce, '-o', torrent, '-l', String(PIECE), '--json'], { encoding: 'utf8' });
    t.is(mk.status, 0, mk.stderr);
    const { infoHash } = JSON.parse(mk.stdout) as { infoHash: string };
    const wantSha1 = await fileSha1(content);

    // LSD (BEP 14) would find peers without the tracker: leave it out when this build has it.
    const help = spawnSync(process.execPath, [path.join(REPO_ROOT, 'dist', 'peer.js'), 'leech', '--help'], { encoding: 'utf8' }).stdout;
    const noLsd = help.includes('--no-lsd') ? ['--no-lsd'] : [];
    const common = (i: number): string[] => ['--host', addr(i), '--port', String(PEER_PORT), '--state', path.join(dir, `state-${i}`), '--json', '--no-dht', '--log-level', 'info', ...noLsd];

    // Host 1: the tracker, and an observer of its peer lists.
    const tracker = spawnPeer(t, ['tracker', '--host', trackerAddr, '--port', String(TRACKER_PORT), '--json'], { wrap: wrap(1) });
    await tracker.waitFor((e) => (e as { event: string }).event === 'listening', 'tracker listening', 30_000);
    const observer = spawnJson(t, process.execPath, ['-e', OBSERVER], ['observer'], { wrap: wrap(1), env: { URL_BASE: announce, INFO_HASH: infoHash } });
    type PeersLine = { event: 'peers'; peers: { ip: string; port: number }[] | null; failure: string | null };
    const isPeers = (e: PeerEvent | PeersLine): e is PeersLine => e.event === 'peers';
    const seen = (): PeersLine[] => (observer.events as (PeerEvent | PeersLine)[]).filter(isPeers);

    // Host 2: the seeder; the leechers start once the tracker knows it.
    const seeder = spawnPeer(t, ['seed', torrent, '--data', content, ...common(2)], { wrap: wrap(2) });
    const listsSeeder = (e: PeerEvent | PeersLine): boolean => isPeers(e) && !!e.peers?.some((p) => p.ip === seederAddr);
    await observer.waitFor(listsSeeder, 'the tracker to list the seeder', 30_000);

    const before = new Map(hosts.map((h) => [h.i, { rx: counter(h.ifname, 'rx_bytes'), tx: counter(h.ifname, 'tx_bytes') }]));
    const t0 = Date.now();
    const leechers = leecherIdx.map((i) =>
      spawnPeer(t, ['leech', torrent, '--out', path.join(dir, `out-${i}`), '--exit-on-complete', ...common(i)], { wrap: wrap(i) }),
    );
    const exits = await Promise.all(leechers.map((l) => closed(l, SWARM_MS)));
    const elapsedMs = Date.now() - t0;
    const lastComplete = Math.max(...leechers.map((l) => l.eventTimes[l.events.findIndex(isComplete)] ?? Number.NaN));

    leechers.forEach((l, k) => {
      t.deepEqual(exits[k], { code: 0, signal: null }, l.describe());
      t.true(l.events.some(isComplete), `leecher ${addr(leecherIdx[k]!)} reported complete\n${l.describe()}`);
      t.deepEqual(l.badLines, [], 'stdout is JSON lines only');
    });
    for (const i of leecherIdx) {
      t.is(await fileSha1(path.join(dir, `out-${i}`, 'payload.bin')), wantSha1, `leecher ${addr(i)} has the exact bytes`);
    }

    // The tracker saw the seeder and each leecher at its own host's address, each once, on the peer port.
    observer.kill('SIGTERM');
    await closed(observer, 10_000).catch(() => undefined);
    const lists = seen();
    t.true(lists.length > 0, `the observer got peer lists\n${observer.describe()}`);
    const failures = lists.filter((l) => l.failure !== null || l.peers === null);
    t.deepEqual(failures, [], 'every observer announce was answered with a peer list');
    const ips = new Set<string>();
    for (const l of lists) {
      for (const p of l.peers ?? []) {
        ips.add(p.ip);
        t.is(p.port, PEER_PORT, `${p.ip} announced port ${PEER_PORT}`);
      }
      const inList = (l.peers ?? []).map((p) => p.ip);
      t.is(new Set(inList).size, inList.length, `no address listed twice in one reply: ${inList.join(' ')}`);
    }
    t.deepEqual([...ips].sort(), [seederAddr, ...leecherAddrs].sort(), 'the tracker saw exactly the seeder and the 10 leechers, each at its own address');

    // Peer wire: every connection, at every peer, was with a host of the swarm, and never with itself.
    const swarmAddrs = new Set([seederAddr, ...leecherAddrs]);
    const peers = [seeder, ...leechers];
    const peerAddrs = [seederAddr, ...leecherAddrs];
    const incomingSources = new Set<string>();
    peers.forEach((p, k) => {
      for (const c of connections(p)) {
        t.true(swarmAddrs.has(c.host) && c.host !== peerAddrs[k], `${peerAddrs[k]} connected with ${c.host}: not another host of the swarm`);
        if (c.incoming) incomingSources.add(c.host);
      }
    });
    t.true(connections(seeder).length > 0, `the seeder logged its connections\n${seeder.describe()}`);
    t.true(incomingSources.size > 0, 'some connection was accepted from another host');

    // Interfaces: each leecher's bytes came in through its own host's veth, the seed's went out through its own.
    for (const i of leecherIdx) {
      const h = hosts[i - 1]!;
      const down = counter(h.ifname, 'tx_bytes') - before.get(i)!.tx;
      t.true(down >= PAYLOAD, `host ${h.addr} received ${down} bytes on its own interface (>= ${PAYLOAD})`);
    }
    const seedUp = counter(hosts[1]!.ifname, 'rx_bytes') - before.get(2)!.rx;
    t.true(seedUp >= PAYLOAD, `the seeder's host sent ${seedUp} bytes on its own interface (>= ${PAYLOAD})`);

    const mb = (PAYLOAD * leechers.length) / 1e6;
    const swarmS = (lastComplete - t0) / 1000;
    t.log(
      `${leechers.length} leechers x ${PAYLOAD / 2 ** 20} MiB at ${RATE}: all complete ${swarmS.toFixed(2)} s after start ` +
        `(${(mb / swarmS).toFixed(1)} MB/s delivered in all, ${(PAYLOAD / 1e6 / swarmS).toFixed(1)} MB/s each), all exited after ${(elapsedMs / 1000).toFixed(2)} s; ` +
        `seed uploaded ${(seedUp / 1e6).toFixed(1)} MB on the wire`,
    );
    const each = leechers.map((l, k) => `${addr(leecherIdx[k]!)} ${(((l.eventTimes[l.events.findIndex(isComplete)] ?? Number.NaN) - t0) / 1000).toFixed(2)} s`);
    t.log(`complete after: ${each.join(', ')}`);

    seeder.kill('SIGTERM');
    tracker.kill('SIGTERM');
    t.deepEqual(await seeder.waitExit(15_000), { code: 0, signal: null }, seeder.describe());
    t.deepEqual(await tracker.waitExit(15_000), { code: 0, signal: null }, tracker.describe());
  });
}
