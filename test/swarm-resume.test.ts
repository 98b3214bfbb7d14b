/**
 * Resume (issue 3): a leecher stopped part-way -- killed with SIGKILL, or
 * stopped with SIGINT -- and started again with the same command completes
 * without fetching again what it had verified.
 *
 * "Part-way" is made certain rather than raced: the leecher reaches the
 * seeder through a gate proxy that lets only half of the content through,
 * then holds the rest until the test opens it. The payload bytes of the
 * first run are bounded by what the proxy let through.
 */
import test, { type ExecutionContext } from 'ava';
import path from 'node:path';
import { closed, freePort, isComplete, isProgress, peerArgs, singleFileTorrent, spawnPeer, tempDir, treeDigest, type PeerProcess, type TorrentFixture,  } from './helpers/swarm.js';
import { pollUntil } from './helpers/poll.js';
import { startGateProxy, torrentShape, waitPeerReady, type GateProxy } from './helpers/wire-peer.js';

const SEEDER = '127.0.0.2';
const LEECHER = '127.0.0.3';
const PROXY = '127.0.0.5';
/** Pieces a stop may cost (partly received pieces are dropped): DESIGN's "a few pieces". */
const SLACK_PIECES = 4;

interface Swarm {
  fx: TorrentFixture;
  seederPort: number;
}

/**
 * The content and a seeder of it, for one test. Each test has its own: a
 * shared seeder would introduce the tests' leechers to each other (BEP 11
 * PEX), and a leecher would then get pieces past its proxy.
 */
async function startSwarm(t: ExecutionContext, dir: string): Promise<Swarm> {
  // 8 MiB in 128 pieces of 64 KiB, and a short last piece.
  const fx = await singleFileTorrent(dir, { name: 'resume.bin', length: 8 * 1024 * 1024 - 4321, pieceLength: 65536, seed: 5 });
  const seederPort = await freePort([SEEDER]);
  spawnPeer(t, ['seed', fx.torrentPath, '--data', fx.contentPath, ...peerArgs(SEEDER, seederPort, path.join(dir, 'state-seed'))]);
  await waitPeerReady(t, SEEDER, seederPort, fx.meta.infoHash, torrentShape(fx.pieceLength, fx.totalLength));
  return { fx, seederPort };
}

/** The leecher command of a test: through `via` to the seeder, resume state in `state`. */
function leechArgs(fx: TorrentFixture, out: string, state: string, port: number, via: { host: string; port: number }, extra: string[] = []): string[] {
  return ['leech', fx.torrentPath, '--out', out, ...peerArgs(LEECHER, port, state, ['--peer', `${via.host}:${via.port}`, ...extra])];
}

/**
 * Waits until the leecher behind `proxy` is stalled part-way and quiet: the
 * proxy holds bytes back, and two progress events after that agree on
 * `have` (every piece that arrived whole has been hashed and written, which
 * takes a while on a loaded machine). Returns that `have`.
 */
async function stalledPartWay(leecher: PeerProcess, proxy: GateProxy): Promise<number> {
  await pollUntil(() => (proxy.holding ? true : undefined), 'the proxy to hold the transfer back');
  let seen = leecher.events.length;
  let last: number | undefined;
  for (;;) {
    const from = seen;
    const e = await leecher.waitFor((ev) => isProgress(ev) && leecher.events.indexOf(ev) >= from, 'a progress event after the stall');
    if (!isProgress(e)) throw new Error('unreachable');
    seen = leecher.events.indexOf(e) + 1;
    if (e.have === last) return e.have;
    last = e.have;
  }
}

async function sameContent(fx: TorrentFixture, out: string): Promise<boolean> {
  const want = await treeDigest(fx.contentPath);
  const got = await treeDigest(path.join(out, fx.meta.info.name));
  return JSON.stringify([...got]) === JSON.stringify([...want]);
}

test('a leecher killed with SIGKILL part-way completes on restart without fetching much again', async (t) => {
  const dir = await tempDir(t);
  const { fx, seederPort } = await startSwarm(t, dir);
  const out = path.join(dir, 'out');
  const state = path.join(dir, 'state');
  const port = await freePort([LEECHER]);
  const proxy = await startGateProxy(t, { host: PROXY, target: { host: SEEDER, port: seederPort }, budget: Math.floor(fx.totalLength / 2) });
  const args = leechArgs(fx, out, state, port, proxy, ['--exit-on-complete']);

  const first = spawnPeer(t, args);
  const have = await stalledPartWay(first, proxy);
  t.true(have > 0 && have < fx.pieceCount, `part-way: ${have}/${fx.pieceCount} pieces`);
  first.kill('SIGKILL');
  t.is((await closed(first)).signal, 'SIGKILL');
  t.false(first.events.some(isComplete));
  const firstRunBytes = proxy.forwarded; // an upper bound of its payload: wire overhead is counted too

  proxy.open();
  const second = spawnPeer(t, args);
  t.deepEqual(await closed(second), { code: 0, signal: null }, second.describe());
  const done = second.events.find(isComplete);
  t.truthy(done, second.stdout());
  t.true(await sameContent(fx, out), 'content byte-equal after the restart');
  t.log(`had ${have} pieces at the stall, ${firstRunBytes} bytes let through; restart downloaded ${done!.downloaded}`);
  const total = firstRunBytes + done!.downloaded;
  t.true(
    total <= fx.totalLength + SLACK_PIECES * fx.pieceLength,
    `downloaded over both runs: ${firstRunBytes} + ${done!.downloaded} = ${total} > ${fx.totalLength} + ${SLACK_PIECES} pieces`,
  );
});

test('a leecher stopped with SIGINT part-way exits 0, and its restart trusts the saved state and continues', async (t) => {
  const dir = await tempDir(t);
  const { fx, seederPort } = await startSwarm(t, dir);
  const out = path.join(dir, 'out');
  const state = path.join(dir, 'state');
  const port = await freePort([LEECHER]);
  const proxy = await startGateProxy(t, { host: PROXY, target: { host: SEEDER, port: seederPort }, budget: Math.floor(fx.totalLength / 2) });
  const args = leechArgs(fx, out, state, port, proxy, ['--exit-on-complete', '--log-level', 'info']);

  const first = spawnPeer(t, args);
  const have = await stalledPartWay(first, proxy);
  t.true(have > 0 && have < fx.pieceCount, `part-way: ${have}/${fx.pieceCount} pieces`);
  first.kill('SIGINT');
  t.deepEqual(await closed(first), { code: 0, signal: null }, first.describe());
  const firstRunBytes = proxy.forwarded;

  proxy.open();
  const second = spawnPeer(t, args);
  t.deepEqual(await closed(second), { code: 0, signal: null }, second.describe());
  const trusted = /resume state trusted, (\d+)\/(\d+) pieces/.exec(second.stderr());
  t.truthy(trusted, `the restart trusts the state saved on SIGINT:\n${second.describe()}`);
  t.true(Number(trusted?.[1]) >= have && Number(trusted?.[1]) < fx.pieceCount, `trusted ${trusted?.[1]} pieces, had ${have}`);
  t.notRegex(second.stderr(), /verifying \d+\/\d+ pieces/, 'nothing re-verified');
  const done = second.events.find(isComplete);
  t.truthy(done, second.stdout());
  t.true(await sameContent(fx, out), 'content byte-equal after the restart');
  t.log(`had ${have} pieces at the stall, ${firstRunBytes} bytes let through; restart trusted ${trusted?.[1]}, downloaded ${done!.downloaded}`);
  t.true(done!.downloaded > 0, 'the restart continued the download');
  t.true(firstRunBytes + done!.downloaded <= fx.totalLength + SLACK_PIECES * fx.pieceLength, `downloaded over both runs: ${firstRunBytes} + ${done!.downloaded}`);
});

test('a complete leecher stopped with SIGINT exits 0, and its restart is trusted and downloads nothing', async (t) => {
  const dir = await tempDir(t);
  const { fx, seederPort } = await startSwarm(t, dir);
  const out = path.join(dir, 'out');
  const state = path.join(dir, 'state');
  const port = await freePort([LEECHER]);
  const seederAddr = { host: SEEDER, port: seederPort };

  // Without --exit-on-complete the leecher keeps seeding once complete.
  const first = spawnPeer(t, leechArgs(fx, out, state, port, seederAddr));
  const done = await first.waitFor(isComplete, 'the download to complete');
  t.is(done.downloaded, fx.totalLength);
  t.is(first.exit, undefined, 'still running (seeding) after complete');
  first.kill('SIGINT');
  t.deepEqual(await closed(first), { code: 0, signal: null }, first.describe());
  t.true(await sameContent(fx, out));

  const second = spawnPeer(t, leechArgs(fx, out, state, port, seederAddr, ['--exit-on-complete', '--log-level', 'info']));
  t.deepEqual(await closed(second), { code: 0, signal: null }, second.describe());
  t.regex(second.stderr(), new RegExp(`resume state trusted, ${fx.pieceCount}/${fx.pieceCount} pieces`), second.describe());
  const again = second.events.find(isComplete);
  t.truthy(again, second.stdout());
  t.is(again!.downloaded, 0);
  t.true(await sameContent(fx, out));
});
