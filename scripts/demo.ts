/**
 * `npm run demo`: a whole swarm on this machine in well under a minute.
 *
 * Makes a 32 MiB sample file and its torrent in a temporary folder, seeds it
 * from 127.0.0.1 (with the embedded tracker), starts four leechers on
 * 127.0.0.2-5 that find the seeder and each other through the tracker, shows
 * their progress, checks every copy byte for byte, and removes everything.
 * Exit code 0 when every copy is identical, 1 otherwise.
 *
 * Every peer is a Session in this process (one hash pool shared), bound to
 * its own loopback address as separate machines on a LAN would be.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { getLogger, setLogLevel } from '../src/log.js';
import { resolveSettings } from '../src/settings.js';
import { Session, contentPathIn } from '../src/session/session.js';
import type { Torrent } from '../src/session/torrent.js';
import { makeTorrent } from '../src/cli/make-torrent.js';
import { HashPool } from '../src/util/hash-pool.js';
import { formatBytes } from '../src/cli/progress.js';

const SIZE = 32 * 1024 * 1024;
const PIECE = 256 * 1024;
const LEECHERS = 4;
const DEADLINE_MS = 50_000;
/** Download limit of each leecher in bytes/s, so that the progress can be watched (DEMO_RATE=0: full speed). */
const RATE = process.env.DEMO_RATE !== undefined ? Number(process.env.DEMO_RATE) : 6 * 1024 * 1024;

setLogLevel((process.env.LOG_LEVEL as 'warn') ?? 'error');
const log = getLogger('demo');
const tty = process.stderr.isTTY === true;
const say = (s: string): boolean => process.stderr.write(s + '\n');

async function sha1File(p: string): Promise<string> {
  const h = createHash('sha1');
  for await (const chunk of createReadStream(p)) h.update(chunk as Buffer);
  return h.digest('hex');
}

function bar(fraction: number, width = 30): string {
  const n = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return '█'.repeat(n) + '░'.repeat(width - n);
}

async function main(): Promise<number> {
  const started = Date.now();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'swarm-demo-'));
  const pool = new HashPool({ threads: 2 });
  const sessions: Session[] = [];
  let cleaned = false;
  const cleanup = async (): Promise<void> => {
    if (cleaned) return;
    cleaned = true;
    await Promise.allSettled(sessions.map((s) => s.stop()));
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  };
  const onSignal = (): void => {
    void cleanup().then(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    say(`swarm demo in ${dir}`);
    const seedDir = path.join(dir, 'seed');
    await mkdir(seedDir);
    const sample = path.join(seedDir, 'sample.bin');
    await writeFile(sample, randomBytes(SIZE));
    const original = await sha1File(sample);

    const settingsFor = (host: string) => resolveSettings({ host, port: 0 });
    const seeder = new Session({ settings: settingsFor('127.0.0.1'), stateDir: path.join(dir, 'state-seed'), logger: log, trackerPort: 0, pool });
    sessions.push(seeder);
    await seeder.start();
    const announce = seeder.tracker!.announceUrl;
    const { torrent, meta } = await makeTorrent(sample, { pieceLength: PIECE, announce: [announce], threads: 2 });
    await writeFile(path.join(dir, 'sample.torrent'), torrent);
    say(`made sample.bin (${formatBytes(SIZE)}, ${meta.info.pieceCount} pieces of ${formatBytes(PIECE)}), info-hash ${meta.infoHashHex}`);
    say(`tracker ${announce}; seeder 127.0.0.1:${seeder.port}`);
    await seeder.addTorrent(meta, { contentPath: sample, mode: 'seed' });

    const leechers: { host: string; session: Session; torrent: Torrent; out: string; doneAt?: number }[] = [];
    for (let i = 0; i < LEECHERS; i++) {
      const host = `127.0.0.${i + 2}`;
      const out = path.join(dir, `leech-${i + 1}`);
      const session = new Session({ settings: settingsFor(host), stateDir: path.join(dir, `state-${i + 1}`), logger: log, pool });
      sessions.push(session);
      await session.start();
      session.setRateLimits({ downloadBytesPerS: RATE });
      const t = await session.addTorrent(meta, { contentPath: contentPathIn(out, meta), mode: 'leech' });
      const entry: (typeof leechers)[number] = { host: `${host}:${session.port}`, session, torrent: t, out };
      t.on('torrent:complete', () => (entry.doneAt = Date.now()));
      leechers.push(entry);
    }
    say(`${LEECHERS} leechers on 127.0.0.2-${LEECHERS + 1}, they find the seeder and each other through the tracker`);
    say(RATE > 0 ? `(each downloads at most ${formatBytes(RATE)}/s so you can watch; DEMO_RATE=0 for full speed)\n` : '');

    const t0 = Date.now();
    let drawn = 0;
    const draw = (): void => {
      const lines = leechers.map((l) => {
        const s = l.torrent.stats();
        const frac = s.have / s.pieces;
        const state = l.doneAt ? `done in ${((l.doneAt - t0) / 1000).toFixed(1)} s` : `${formatBytes(s.downloadRate)}/s`;
        return `${l.host.padEnd(17)} ${bar(frac)} ${(frac * 100).toFixed(0).padStart(3)}%  peers ${String(s.peers).padStart(2)}  up ${formatBytes(s.uploadRate).padStart(9)}/s  ${state}`;
      });
      const seedStats = seeder.torrents[0]!.stats();
      lines.push(`seeder 127.0.0.1    uploaded ${formatBytes(seedStats.uploaded)}, ${seedStats.peers} peers`);
      if (tty && drawn) process.stderr.write(`\x1b[${drawn}A`);
      process.stderr.write(lines.map((l) => (tty ? `\x1b[2K${l}` : l)).join('\n') + '\n');
      drawn = lines.length;
    };
    const allDone = (): boolean => leechers.every((l) => l.torrent.complete);
    while (!allDone()) {
      if (Date.now() - started > DEADLINE_MS) {
        draw();
        say(`\nnot complete after ${DEADLINE_MS / 1000} s: giving up`);
        return 1;
      }
      if (tty || Math.floor((Date.now() - t0) / 1000) !== Math.floor((Date.now() - t0 - 250) / 1000)) draw();
      await new Promise((r) => setTimeout(r, 250));
    }
    draw();
    const took = (Date.now() - t0) / 1000;
    say(`\nall ${LEECHERS} leechers complete in ${took.toFixed(1)} s (${formatBytes((SIZE * LEECHERS) / took)}/s in total)`);

    // Stop first so every byte is flushed, then compare each copy with the original.
    await Promise.allSettled(sessions.map((s) => s.stop()));
    let bad = 0;
    for (const l of leechers) {
      const digest = await sha1File(contentPathIn(l.out, meta));
      const ok = digest === original;
      if (!ok) bad++;
      say(`${l.host.padEnd(17)} sha1 ${digest} ${ok ? 'identical to the original' : 'DIFFERS from the original'}`);
    }
    if (bad) {
      say(`${bad} copies differ: FAILED`);
      return 1;
    }
    say(`verified: every copy is byte-equal to the original (${((Date.now() - started) / 1000).toFixed(1)} s in all)`);
    return 0;
  } finally {
    await cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
