/**
 * What seed/leech say while they run and when they stop (issue 16): a
 * status line that fits the terminal and drops fields in a fixed order,
 * labelled rates, an ETA only when it means something, the closing lines
 * (where the files are; on Ctrl-C what moved and how to resume), and the
 * `summary` event with --json. The CLI cases run the built bin.
 */
import test from 'ava';
import path from 'node:path';
import { displayWidth, fitFields } from '../src/cli/status-line.js';
import { downloadFields, etaMs, stopLine } from '../src/cli/swarm-status.js';
import type { TorrentStats } from '../src/session/torrent.js';
import { closed, fixtureBytes, freePort, peerArgs, spawnPeer, torrentOf, writeFixture } from './helpers/swarm.js';
import { startSession } from './api-fixtures.js';

const MiB = 1024 * 1024;
const stats = (over: Partial<TorrentStats> = {}): TorrentStats => ({
  infoHash: 'ab'.repeat(20), name: 'video.mkv', have: 10, pieces: 100, downloaded: 10 * MiB, uploaded: 2 * MiB, peers: 5, seeds: 2,
  downloadRate: 2 * MiB, uploadRate: MiB / 2, complete: false, state: 'downloading', length: 100 * MiB, left: 90 * MiB, wanted: 100 * MiB, ...over,
});

test('fitFields drops the least kept fields first and never exceeds the width', (t) => {
  const fields = downloadFields('a-rather-long-video-name.mkv', stats(), 10_000);
  const wide = fitFields(fields, 200);
  t.regex(wide, /^10\.0%  a-rather-long-video-name\.mkv  10 MiB\/100 MiB  down 2 MiB\/s  up 512 KiB\/s  peers 5 \(2 seeds\)  ETA 45\.0 s$/);
  for (const w of [80, 60, 40, 25, 10]) t.true(fitFields(fields, w).length <= w, `width ${w}: ${fitFields(fields, w)}`);
  // At 40 columns the percent, the download rate and the ETA stay; the upload rate and the name went first.
  const narrow = fitFields(fields, 40);
  t.regex(narrow, /10\.0%/);
  t.regex(narrow, /down 2 MiB\/s/);
  t.notRegex(narrow, /up 512/);
  t.notRegex(narrow, /a-rather-long/);
});

test('a name in wide characters (CJK, emoji) is measured in terminal columns: the line still fits', (t) => {
  t.is(displayWidth('abc'), 3);
  t.is(displayWidth('進撃の巨人'), 10);
  t.is(displayWidth('e\u0301'), 1, 'a combining accent takes no column');
  t.is(displayWidth('🎬x'), 3);
  const fields = downloadFields('進撃の巨人 第1期 全25話 BD 1080p 字幕付き.mkv', stats(), 10_000);
  for (const w of [120, 80, 60, 40, 25, 10]) {
    const line = fitFields(fields, w);
    t.true(displayWidth(line) <= w, `width ${w}: ${line} takes ${displayWidth(line)} columns`);
  }
  const name = fitFields(fields, 200).split('  ')[1]!;
  t.is(name, '進撃の巨人 第1期 全25話 BD 10…');
  t.is(displayWidth(name), 30, 'the name is cut at 30 columns');
});

test('no ETA before it means something: no rate, nothing in yet, or the first seconds', (t) => {
  t.is(etaMs(stats({ downloadRate: 0 }), 10_000), undefined);
  t.is(etaMs(stats({ downloaded: 0 }), 10_000), undefined);
  t.is(etaMs(stats(), 1000), undefined);
  t.is(etaMs(stats(), 10_000), 45_000);
  t.false(downloadFields('x', stats({ downloadRate: 0, peers: 0 }), 20_000).some((f) => f.text.startsWith('ETA')));
  t.true(downloadFields('x', stats({ peers: 0 }), 20_000).some((f) => f.text === 'no peers yet'));
});

test('stopLine: moved bytes, ratio, and the way to resume when unfinished', (t) => {
  t.is(stopLine(stats(), false), 'stopped: downloaded 10 MiB, uploaded 2 MiB, ratio 0.20; 10.0% done, run the same command to resume');
  t.is(stopLine(stats({ left: 0 }), true), 'stopped: downloaded 10 MiB, uploaded 2 MiB, ratio 0.20');
});

async function slowSwarm(t: import('ava').ExecutionContext) {
  const { session: seeder, dir } = await startSession(t, { host: '127.0.0.2', uploadLimit: 150_000 });
  const content = fixtureBytes(2_000_000, 5);
  const file = path.join(dir, 'seed', 'clip.bin');
  await writeFixture(file, content);
  const fx = await torrentOf(file, path.join(dir, 'clip.torrent'), 16 * 1024);
  await seeder.addTorrent(fx.meta, { contentPath: file, mode: 'seed' });
  return { seeder, dir, fx, content };
}

test('peer leech stopped with Ctrl-C says what moved and how to resume; with --json a summary event', async (t) => {
  t.timeout(60_000);
  const { seeder, dir, fx } = await slowSwarm(t);
  for (const json of [false, true]) {
    const port = await freePort(['127.0.0.3']);
    const args = peerArgs('127.0.0.3', port, path.join(dir, `state-${json}`)).filter((a) => json || a !== '--json');
    const p = spawnPeer(t, ['leech', fx.torrentPath, '--out', path.join(dir, `out-${json}`), '--peer', `127.0.0.2:${seeder.port}`, ...args]);
    // Running (a loaded machine can take a while to start it), then some data in.
    if (json) await p.waitFor((e) => e.event === 'progress' && e.downloaded > 0, 'some data in');
    else await p.waitForStderr(/down [\d.]+ (KiB|MiB)\/s/);
    p.child.kill('SIGINT');
    t.deepEqual(await closed(p), { code: 0, signal: null }, p.describe());
    if (json) {
      const summary = p.events.find((e) => e.event === 'summary') as { downloaded?: number; uploaded?: number; left?: number } | undefined;
      t.truthy(summary, p.stdout());
      t.true((summary?.downloaded ?? 0) > 0);
      t.true((summary?.left ?? 0) > 0);
      t.true(typeof (summary as { elapsedMs?: number } | undefined)?.elapsedMs === 'number', 'summary.elapsedMs (DESIGN.md)');
    } else {
      t.regex(p.stderr(), /stopped: downloaded [\d.]+ (KiB|MiB), uploaded .*, ratio [\d.]+; [\d.]+% done, run the same command to resume/);
    }
  }
});

test('peer leech without a terminal prints plain progress lines, and at the end where the file is', async (t) => {
  t.timeout(60_000);
  const { seeder, dir, fx } = await slowSwarm(t);
  const port = await freePort(['127.0.0.3']);
  const out = path.join(dir, 'out');
  const args = peerArgs('127.0.0.3', port, path.join(dir, 'state')).filter((a) => a !== '--json');
  const p = spawnPeer(t, ['leech', fx.torrentPath, '--out', out, '--exit-on-complete', '--peer', `127.0.0.2:${seeder.port}`, ...args]);
  t.deepEqual(await closed(p), { code: 0, signal: null }, p.describe());
  const err = p.stderr();
  t.regex(err, /^[\d.]+%  clip\.bin  .*down [\d.]+ (B|KiB|MiB)\/s/m, 'a plain progress line (stderr is a pipe here)');
  t.notRegex(err, /\r|\x1b\[/, 'no terminal control codes in a pipe');
  t.regex(err, new RegExp(`complete: clip\\.bin -> ${path.join(out, 'clip.bin').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(1\\.91 MiB\\), 1\\.91 MiB downloaded in [\\d.]+ s \\([\\d.]+ KiB/s\\) from 1 peer`));
});

test('peer leech says where peers may come from (and that nothing can find any), and on a restart what the resume kept', async (t) => {
  t.timeout(60_000);
  const { seeder, dir, fx } = await slowSwarm(t);
  const port = await freePort(['127.0.0.3']);
  const out = path.join(dir, 'out');
  const state = path.join(dir, 'state');
  const plain = (extra: string[]) => [...extra, ...peerArgs('127.0.0.3', port, state).filter((a) => a !== '--json'), '--no-lsd'];
  // No tracker in the torrent, no DHT, no LSD, no --peer.
  const lonely = spawnPeer(t, ['leech', fx.torrentPath, '--out', out, ...plain([])]);
  await lonely.waitForStderr(/looking for peers: nothing can find any .*--peer HOST:PORT/);
  lonely.child.kill('SIGINT');
  t.is((await closed(lonely)).code, 0);
  // With the seeder: some pieces, then stop, then start again.
  const first = spawnPeer(t, ['leech', fx.torrentPath, '--out', out, '--peer', `127.0.0.2:${seeder.port}`, ...plain([])]);
  await first.waitForStderr(/looking for peers: --peer \(1\)/);
  await new Promise((r) => setTimeout(r, 2500));
  first.child.kill('SIGINT');
  t.is((await closed(first)).code, 0);
  const again = spawnPeer(t, ['leech', fx.torrentPath, '--out', out, '--peer', `127.0.0.2:${seeder.port}`, '--json', ...plain([])]);
  const resumed = await again.waitFor((e) => e.event === 'resumed', 'the resumed event');
  t.true((resumed as { have: number }).have > 0);
  t.true(again.events.some((e) => e.event === 'started' && (e as { sources: string[] }).sources.includes('--peer (1)')), again.stdout());
  again.child.kill('SIGINT');
  t.is((await closed(again)).code, 0);
});
