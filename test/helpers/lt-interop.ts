/**
 * Helpers of the libtorrent interop tests (test/interop-libtorrent-*.test.ts):
 * our tracker and Debian's opentracker as child processes, a bounded wait
 * for a tracker to know a swarm's seeders, libtorrent leechers, and the
 * time and MB/s of each transfer (printed with t.log and on stderr).
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { scrape } from '../../src/tracker/client.js';
import { fromHex } from '../../src/util/bytes.js';
import { ltEvent, spawnLibtorrent, type LtEvent } from './libtorrent.js';
import { freePort, spawnPeer, within, type PeerProcess, type Teardown } from './swarm.js';
import { pollUntil } from './poll.js';

/** `peer tracker --host HOST --port N --json` (the built bin), once it listens. */
export async function startPeerTracker(t: Teardown, host: string): Promise<{ proc: PeerProcess; announce: string; udp: string; port: number }> {
  const port = await freePort([host]);
  const proc = spawnPeer(t, ['tracker', '--host', host, '--port', String(port), '--json']);
  const ev = (await proc.waitFor((e) => (e as { event: string }).event === 'listening', 'tracker listening', 30_000)) as unknown as { announce: string; udp: string; port: number };
  return { proc, announce: ev.announce, udp: ev.udp, port: ev.port };
}

function canConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Debian's opentracker on HOST (HTTP and UDP on one port), serving only
 * `infoHashes` (it is built whitelist-only). As root it must drop to
 * `nobody` and chroots to its folder, so the whitelist lives in a
 * world-readable temp folder and is named relative to it.
 */
export async function startOpentracker(t: Teardown, host: string, infoHashes: string[]): Promise<{ announce: string; udp: string; port: number }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'opentracker-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await chmod(dir, 0o755);
  const list = path.join(dir, 'whitelist');
  await writeFile(list, infoHashes.map((h) => `${h.toLowerCase()}\n`).join(''));
  await chmod(list, 0o644);
  const port = await freePort([host]);
  const root = process.getuid?.() === 0;
  const args = ['-i', host, '-p', String(port), '-P', String(port), ...(root ? ['-w', 'whitelist', '-u', 'nobody', '-d', dir] : ['-w', list])];
  const child = spawn('opentracker', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  t.teardown(async () => {
    if (!exited) {
      child.kill('SIGKILL');
      await within(exit, 10_000, 'opentracker to exit').catch(() => undefined);
    }
  });
  await pollUntil(async () => {
    if (exited) throw new Error(`opentracker ${args.join(' ')} exited: ${stderr}`);
    return (await canConnect(host, port)) ? true : undefined;
  }, `opentracker on ${host}:${port}`, 15_000, 100);
  return { announce: `http://${host}:${port}/announce`, udp: `udp://${host}:${port}/announce`, port };
}

/**
 * Polls the tracker's scrape until it counts at least `seeders` complete
 * peers of the torrent (bounded); fails at once if `seeder` exits meanwhile.
 */
export async function waitSeeders(url: string, infoHashHex: string, seeders: number, localAddress: string, seeder?: PeerProcess, ms = 30_000): Promise<void> {
  await pollUntil(
    async () => {
      if (seeder?.exit) throw new Error(`the seeder exited before the tracker counted it\n${seeder.describe()}`);
      const counts = await scrape(url, [fromHex(infoHashHex)], { timeoutMs: 3000, localAddress }).catch(() => undefined);
      const c = counts?.get(infoHashHex.toLowerCase());
      return c && c.complete >= seeders ? true : undefined;
    },
    `${url} to count ${seeders} seeder(s) of ${infoHashHex}`,
    ms,
    200,
  );
}

/** A libtorrent leecher ("machine" of its own) that exits once complete. */
export function ltLeecher(t: Teardown, opts: { torrent?: string; magnet?: string; save: string; host: string; port: number; extra?: string[]; timeoutS?: number }): PeerProcess {
  const src = opts.torrent !== undefined ? ['--torrent', opts.torrent] : ['--magnet', opts.magnet!];
  return spawnLibtorrent(t, [...src, '--save', opts.save, '--listen', `${opts.host}:${opts.port}`, '--exit-on-complete', '--timeout', String(opts.timeoutS ?? 150), ...(opts.extra ?? [])]);
}

/** libtorrent's `complete` event (it exits 0 right after with --exit-on-complete). */
export async function ltComplete(p: PeerProcess, ms: number): Promise<LtEvent> {
  return ltEvent(p, 'complete', ms);
}

export interface Transfer {
  client: string;
  direction: string;
  bytes: number;
  ms: number;
}

/** "libtorrent 127.0.0.22 <- our seeder (HTTP tracker): 16.0 MiB in 1.23 s, 13.6 MB/s" (MB = 10^6 bytes). */
export function formatTransfer(x: Transfer): string {
  const s = Math.max(x.ms, 1) / 1000;
  return `${x.client} ${x.direction}: ${(x.bytes / 1048576).toFixed(1)} MiB in ${s.toFixed(2)} s, ${(x.bytes / 1e6 / s).toFixed(1)} MB/s`;
}

/** Records a transfer: t.log, and one line on stderr (the figures outlive ava's default output). */
export function reportTransfer(t: { log: (...v: unknown[]) => void }, x: Transfer): void {
  const line = formatTransfer(x);
  t.log(line);
  process.stderr.write(`[transfer] ${line}\n`);
}
