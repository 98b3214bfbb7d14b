/**
 * Issue 11, row 5: the disk fills up mid-download. Before: every piece was
 * downloaded, failed to write, was dropped and asked for again: thousands of
 * error events a second, 100% CPU, 12 GB downloaded in 10 s.
 *
 * A built leecher downloads a 32 MiB torrent into an 8 MiB tmpfs. When the
 * disk is full it must pause: one error event, one log line, nothing more
 * downloaded than what was in flight; once the tmpfs grows (remount) it
 * resumes by itself and completes without downloading the torrent again,
 * with nothing written outside its folder.
 *
 * Needs root (mount); without it the test is skipped with a warning, or
 * fails under CI=true.
 */
import anyTest from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { closed, freePort, isComplete, isProgress, peerArgs, singleFileTorrent, spawnPeer, tempDir, treeDigest, type PeerEvent } from './helpers/swarm.js';
import { pollUntil } from './helpers/poll.js';
import { torrentShape, waitPeerReady } from './helpers/wire-peer.js';
import { rssBytes } from './helpers/proc.js';

const SEEDER = '127.0.0.2';
const LEECHER = '127.0.0.3';
const MiB = 1024 * 1024;

function mount(dir: string, size: string, remount = false): void {
  execFileSync('mount', remount ? ['-o', `remount,size=${size}`, dir] : ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
}

function umount(dir: string): void {
  try {
    execFileSync('umount', [dir], { stdio: 'pipe' });
  } catch {
    execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
  }
}

/** Whether this process may mount a tmpfs (root, or the capability). */
function canMount(): string | undefined {
  const probe = mkdtempSync(path.join(os.tmpdir(), 'disk-full-probe-'));
  try {
    mount(probe, '1m');
    umount(probe);
    return undefined;
  } catch (err) {
    return String((err as { stderr?: Buffer }).stderr ?? err).trim();
  } finally {
    rmdirSync(probe);
  }
}

const why = canMount();
if (why !== undefined && process.env.CI !== 'true') {
  console.warn(`\n*** test/disk-full.test.ts SKIPPED: cannot mount a tmpfs here (${why}); run as root, or with CI=true to make this a failure ***\n`);
}
const test = why === undefined || process.env.CI === 'true' ? anyTest : anyTest.skip;

test('a full disk pauses the download (one error, nothing downloaded that cannot be written) and it resumes without downloading again', async (t) => {
  const dir = await tempDir(t, 'disk-full-');
  const fx = await singleFileTorrent(dir, { name: 'payload.bin', length: 32 * MiB, pieceLength: 256 * 1024, seed: 15 });
  const disk = path.join(dir, 'disk');
  execFileSync('mkdir', ['-p', disk]);
  mount(disk, '8m');
  let mounted = true;
  const release = (): void => {
    if (mounted) umount(disk);
    mounted = false;
  };

  const port = await freePort([SEEDER, LEECHER]);
  const seeder = spawnPeer(t, ['seed', fx.torrentPath, '--data', fx.contentPath, ...peerArgs(SEEDER, port, path.join(dir, 'state-seed'))]);
  await waitPeerReady(t, SEEDER, port, fx.meta.infoHash, torrentShape(fx.pieceLength, fx.totalLength));
  const leecher = spawnPeer(t, ['leech', fx.torrentPath, '--out', disk, '--exit-on-complete', ...peerArgs(LEECHER, port, path.join(dir, 'state-leech'), ['--peer', `${SEEDER}:${port}`])]);
  // Registered after the children: teardowns run last-registered first, so the leecher is killed before the unmount.
  t.teardown(async () => {
    leecher.kill('SIGKILL');
    await leecher.exited;
    release();
  });

  const isError = (e: PeerEvent): e is Extract<PeerEvent, { event: 'error' }> => e.event === 'error';
  const err = await leecher.waitFor(isError, 'the disk-full error event', 30_000);
  t.regex(err.message, /disk is full|ENOSPC/, 'the error says the disk is full');
  const downloadedNow = (): number => leecher.events.filter(isProgress).at(-1)?.downloaded ?? 0;
  const progressEvents = (): number => leecher.events.filter(isProgress).length;
  // Blocks in flight when the disk refused land first; then the count must stop moving (the old
  // behaviour downloaded the same pieces again and again, gigabytes in seconds).
  let last = -1;
  await pollUntil(
    () => {
      const now = downloadedNow();
      const stable = now === last;
      last = now;
      return stable ? true : undefined;
    },
    'the downloaded count to stop moving once paused',
    30_000,
    1500,
  );
  const atPause = downloadedNow();
  const progressCount = progressEvents();
  await pollUntil(() => (progressEvents() >= progressCount + 5 ? true : undefined), 'five more progress events while paused', 20_000);
  const whilePaused = downloadedNow();
  t.is(whilePaused, atPause, `nothing downloaded while paused (${atPause} then ${whilePaused} bytes)`);
  t.true(whilePaused <= fx.totalLength, `no piece downloaded twice: ${whilePaused} bytes for a ${fx.totalLength}-byte torrent`);
  t.is(leecher.exit, undefined, `the leecher is alive\n${leecher.describe()}`);
  t.is(leecher.events.filter(isError).length, 1, `one error event:\n${leecher.stdout().slice(-2000)}`);
  const paused = leecher.events.filter((e) => e.event === 'paused');
  t.is(paused.length, 1, 'one paused event');
  t.regex(paused[0]?.event === 'paused' ? paused[0].reason : '', /disk is full/);
  const diskLines = leecher.stderr().split('\n').filter((l) => /ENOSPC|disk is full/.test(l));
  t.is(diskLines.length, 1, `one log line about the full disk:\n${leecher.stderr().slice(-3000)}`);
  t.log(`paused with ${(whilePaused / MiB).toFixed(1)} MiB downloaded; leecher RSS ${((await rssBytes(leecher.child.pid!)) / MiB).toFixed(1)} MiB`);

  // Space frees up: the download resumes by itself (retry with back-off) and completes.
  mount(disk, '64m', true);
  t.deepEqual(await closed(leecher, 60_000), { code: 0, signal: null }, leecher.describe());
  const complete = leecher.events.find(isComplete);
  t.truthy(complete, leecher.stdout().slice(-2000));
  t.log(`complete: ${((complete?.downloaded ?? 0) / MiB).toFixed(1)} MiB downloaded for a ${(fx.totalLength / MiB).toFixed(0)} MiB torrent`);
  t.true((complete?.downloaded ?? Infinity) <= fx.totalLength + 8 * MiB, `nothing downloaded again: ${complete?.downloaded} bytes for ${fx.totalLength}`);
  t.is(leecher.events.filter(isError).length, 1, 'still one error event');
  t.is(leecher.events.filter((e) => e.event === 'unpaused').length, 1, 'one unpaused event once the disk took the data');
  t.deepEqual(readdirSync(disk), [fx.meta.info.name], 'nothing written beside the content');
  t.deepEqual([...(await treeDigest(path.join(disk, fx.meta.info.name)))], [...(await treeDigest(fx.contentPath))], 'content byte-equal');
  seeder.kill('SIGTERM');
  await closed(seeder);
  release();
});
