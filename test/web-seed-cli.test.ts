/**
 * Web seeds (BEP 19) end to end with the built commands on loopback:
 * `make-torrent --web-seed URL`, `peer info` lists it, and `peer leech`
 * with no peer, tracker or DHT downloads from test/py/range_server.py
 * alone, byte-equal, single- and multi-file. Python's own
 * `python3 -m http.server` has no Range support: the leecher says so once
 * and uses it no further (only a whole-file answer to a request from byte
 * 0 is usable, as that request's head).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { DEFAULT_SETTINGS } from '../src/settings.js';
import { MAKE_TORRENT_BIN, PEER_BIN } from './helpers/bin.js';
import { clientTest } from './helpers/clients.js';
import { closed, fixtureBytes, freePort, isComplete, peerArgs, spawnPeer, tempDir, treeDigest, writeFixture } from './helpers/swarm.js';
import { python, startPyServer } from './helpers/web-seed-py.js';

const SERVER = '127.0.0.31';
const LEECHER = '127.0.0.32';
// The plain http.server test has addresses of its own: the two tests run at once, and a port picked free
// for one could be bound by the other's server or leecher before it is used.
const PLAIN_SERVER = '127.0.0.33';
const PLAIN_LEECHER = '127.0.0.34';

function makeTorrent(content: string, torrent: string, webSeed: string, pieceLength: number): void {
  const r = spawnSync(process.execPath, [MAKE_TORRENT_BIN, content, '--web-seed', webSeed, '-o', torrent, '-l', String(pieceLength), '--json'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`make-torrent failed: ${r.stderr}`);
}

clientTest([python], 'make-torrent --web-seed, then peer leech with the web seed as its only source: single and multi-file, byte-equal', async (t) => {
  const dir = await tempDir(t);
  const www = path.join(dir, 'www');
  await writeFixture(path.join(www, 'film.bin'), fixtureBytes(3 * 1024 * 1024 + 4321, 21));
  await writeFixture(path.join(www, 'Album ä', 'cd 1', 'track 01.bin'), fixtureBytes(700_001, 22));
  await writeFixture(path.join(www, 'Album ä', 'cover%.jpg'), fixtureBytes(12_345, 23));
  await writeFixture(path.join(www, 'Album ä', 'notes.txt'), fixtureBytes(99, 24));
  const server = await startPyServer(t, { root: www, host: SERVER });
  const origin = `http://${SERVER}:${server.port}`;

  const single = path.join(dir, 'film.torrent');
  makeTorrent(path.join(www, 'film.bin'), single, `${origin}/film.bin`, 65536);
  const multi = path.join(dir, 'album.torrent');
  makeTorrent(path.join(www, 'Album ä'), multi, `${origin}/`, 32768);

  const info = spawnSync(process.execPath, [PEER_BIN, 'info', multi], { encoding: 'utf8' });
  t.is(info.status, 0, info.stderr);
  t.true(info.stdout.includes(`${origin}/`), `peer info lists the web seed:\n${info.stdout}`);

  const port = await freePort([LEECHER]);
  for (const [torrent, name] of [
    [single, 'film.bin'],
    [multi, 'Album ä'],
  ] as const) {
    const out = path.join(dir, `out-${path.basename(torrent)}`);
    const leecher = spawnPeer(t, ['leech', torrent, '--out', out, '--exit-on-complete', ...peerArgs(LEECHER, port, path.join(dir, `state-${name}`), ['--log-level', 'info'])]);
    t.deepEqual(await closed(leecher), { code: 0, signal: null }, leecher.describe());
    t.truthy(leecher.events.find(isComplete), leecher.stdout());
    t.regex(leecher.stderr(), /web seed http:\/\/127\.0\.0\.31:\d+\/\S*: started/);
    t.deepEqual([...(await treeDigest(path.join(out, name)))], [...(await treeDigest(path.join(www, name)))], `${name} byte-equal`);
  }
  t.true(server.requests().length > 0 && server.requests().every((r) => r.status === 206), JSON.stringify(server.requests().slice(0, 3)));
});

clientTest([python], 'python3 -m http.server (no Range support) is refused with one clear warning', async (t) => {
  const dir = await tempDir(t);
  const www = path.join(dir, 'www');
  // Longer than two request runs: a 200 to a run from byte 0 is its head and is used (web-seed-fetch.ts), so a
  // file one run could cover whole was sometimes downloaded without a word; a run past 0 always shows it.
  await writeFixture(path.join(www, 'big.bin'), fixtureBytes(2 * DEFAULT_SETTINGS.webSeedMaxRunBytes + 65536, 25));
  const { port: httpPort } = await startPyServer(t, { root: www, host: PLAIN_SERVER, plain: true });
  const url = `http://${PLAIN_SERVER}:${httpPort}/big.bin`;
  const torrent = path.join(dir, 'big.torrent');
  makeTorrent(path.join(www, 'big.bin'), torrent, url, 65536);
  const port = await freePort([PLAIN_LEECHER]);
  const leecher = spawnPeer(t, ['leech', torrent, '--out', path.join(dir, 'out'), ...peerArgs(PLAIN_LEECHER, port, path.join(dir, 'state'), ['--log-level', 'warn'])]);
  await leecher.waitForStderr(/ignores HTTP Range requests/, 30_000);
  await new Promise((r) => setTimeout(r, 500));
  leecher.kill('SIGTERM');
  t.is((await closed(leecher)).code, 0, leecher.describe());
  // The torrent says it once (the CLI echoes the ban event as `banned ...`, as for a peer).
  const warnings = leecher.stderr().match(/banning \S+: web seed ignores HTTP Range requests/g) ?? [];
  t.is(warnings.length, 1, leecher.stderr());
  t.true(leecher.stderr().includes(url));
});
