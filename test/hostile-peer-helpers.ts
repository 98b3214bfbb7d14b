/**
 * Shared by test/hostile-peer-*.test.ts (issue 11): a built seeder on its
 * own loopback address, its memory baseline, an honest built leecher, and
 * the checks every attack ends with (alive, RSS back near its baseline,
 * the honest peer served, one clear line for the user).
 */
import type { ExecutionContext } from 'ava';
import path from 'node:path';
import { closed, freePort, peerArgs, spawnPeer, treeDigest, type PeerProcess, type TorrentFixture } from './helpers/swarm.js';
import { torrentShape, waitPeerReady } from './helpers/wire-peer.js';
import { rssBytes, settledRss } from './helpers/proc.js';

export const MB = 1024 * 1024;
/** What the issue allows a seeder to keep after an attack. */
export const RSS_SLACK_BYTES = 50 * MB;

export interface Seeder {
  proc: PeerProcess;
  host: string;
  port: number;
  pid: number;
  /** Settled RSS once it serves, before any attack. */
  baselineRss: number;
}

export async function startSeeder(t: ExecutionContext, dir: string, fx: TorrentFixture, host: string): Promise<Seeder> {
  const port = await freePort([host]);
  const proc = spawnPeer(t, ['seed', fx.torrentPath, '--data', fx.contentPath, ...peerArgs(host, port, path.join(dir, 'state-seed'))]);
  await waitPeerReady(t, host, port, fx.meta.infoHash, torrentShape(fx.pieceLength, fx.totalLength));
  const pid = proc.child.pid!;
  const baselineRss = await settledRss(pid, 2000);
  return { proc, host, port, pid, baselineRss };
}

/** A built leecher of `what` (a .torrent path or a magnet) from `host`, given the seeder; exits when complete. */
export function startHonestLeecher(t: ExecutionContext, dir: string, what: string, host: string, seeder: Seeder): { proc: PeerProcess; out: string } {
  const out = path.join(dir, `out-${host}`);
  const proc = spawnPeer(t, ['leech', what, '--out', out, '--exit-on-complete', ...peerArgs(host, 0, path.join(dir, `state-${host}`), ['--peer', `${seeder.host}:${seeder.port}`])]);
  return { proc, out };
}

/** The honest leecher finished with the seeder's bytes. */
export async function honestServed(t: ExecutionContext, leecher: { proc: PeerProcess; out: string }, fx: TorrentFixture, ms: number): Promise<void> {
  t.deepEqual(await closed(leecher.proc, ms), { code: 0, signal: null }, leecher.proc.describe());
  t.deepEqual([...(await treeDigest(path.join(leecher.out, fx.meta.info.name)))], [...(await treeDigest(fx.contentPath))], 'the honest leecher got the content byte-equal');
}

/** Alive, and its settled RSS within RSS_SLACK_BYTES of the baseline; logs both figures. */
export async function aliveAndBackToBaseline(t: ExecutionContext, seeder: Seeder, label: string): Promise<void> {
  t.is(seeder.proc.exit, undefined, `the seeder is alive\n${seeder.proc.describe()}`);
  if (seeder.proc.exit !== undefined) return;
  const after = await settledRss(seeder.pid, 3000);
  t.log(`${label}: seeder RSS ${(seeder.baselineRss / MB).toFixed(1)} MB before, ${(after / MB).toFixed(1)} MB after (settled)`);
  t.true(after - seeder.baselineRss < RSS_SLACK_BYTES, `RSS ${(after / MB).toFixed(1)} MB after the attack, baseline ${(seeder.baselineRss / MB).toFixed(1)} MB`);
}

/** Samples the RSS of `pid` every 200 ms until `stop()`, which resolves with the highest seen. */
export function watchPeakRss(pid: number): { stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      peak = Math.max(peak, await rssBytes(pid).catch(() => 0));
      await sleep(200);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return peak;
    },
  };
}

/** How far the peak rose above the baseline during an attack, logged; bounded by `limit` (the attack's memory is bounded, not just freed). */
export function checkPeak(t: ExecutionContext, seeder: Seeder, peak: number, label: string, limit = 2 * RSS_SLACK_BYTES): void {
  t.log(`${label}: seeder RSS peaked at ${(peak / MB).toFixed(1)} MB during the attack (baseline ${(seeder.baselineRss / MB).toFixed(1)} MB)`);
  t.true(peak - seeder.baselineRss < limit, `RSS peaked at ${(peak / MB).toFixed(1)} MB during the attack, baseline ${(seeder.baselineRss / MB).toFixed(1)} MB`);
}

/** Stderr lines matching `re`. */
export function linesMatching(p: PeerProcess, re: RegExp): string[] {
  return p.stderr().split('\n').filter((l) => re.test(l));
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
