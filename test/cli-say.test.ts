/**
 * `peer seed` / `peer leech` say what is happening (issue 16, items 1-3),
 * on the built bin: a tracker that does not answer (retrying, and when),
 * a magnet nothing can find peers for, the verification of the data with
 * its progress, a seeder's line when its peers change, the messages peers
 * send (with their control characters made harmless), and, on a terminal,
 * one status line that fits the width, logs above it, gone at the end.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { closed, fixtureBytes, freePort, spawnJson, spawnPeer, tempDir, torrentOf, writeFixture, within, type PeerProcess, type Teardown } from './helpers/swarm.js';
import { makeTorrentCommand, PEER_BIN, REPO_ROOT } from './helpers/bin.js';
import { pollUntil } from './helpers/poll.js';
import { testUnless } from './helpers/clients.js';
import { startSession } from './api-fixtures.js';
import { printable, trackerReason } from '../src/cli/swarm-status.js';

const SEEDER = '127.0.0.26';
const LEECHER = '127.0.0.27';
const re = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** make-torrent (built) of `content` with `announce` as its tracker. */
async function torrentWithTracker(t: Teardown, content: string, out: string, announce: string): Promise<{ infoHash: string }> {
  const p = spawnJson(t, process.execPath, makeTorrentCommand([content, '-a', announce, '-o', out, '-l', '16K', '--json']), ['make-torrent']);
  const exit = await closed(p);
  if (exit.code !== 0) throw new Error(p.describe());
  return p.events[0] as unknown as { infoHash: string };
}

test('a leecher whose tracker does not answer says so, retrying and when, and when it answers again; --json has tracker events', async (t) => {
  t.timeout(90_000);
  const dir = await tempDir(t);
  const file = path.join(dir, 'clip.bin');
  await writeFixture(file, fixtureBytes(100_000, 3));
  const trackerPort = await freePort([SEEDER]);
  const url = `http://${SEEDER}:${trackerPort}/announce`;
  const torrent = path.join(dir, 'clip.torrent');
  const { infoHash } = await torrentWithTracker(t, file, torrent, url);
  const port = await freePort([LEECHER]);
  const args = (json: boolean) => ['leech', torrent, '--out', path.join(dir, `out-${json}`), '--host', LEECHER, '--port', String(port), '--no-dht', '--no-lsd', '--state', path.join(dir, `state-${json}`), ...(json ? ['--json'] : [])];

  const json = spawnPeer(t, args(true));
  const failed = await json.waitFor((e) => e.event === 'tracker', 'a tracker event');
  t.like(failed as unknown as Record<string, unknown>, { event: 'tracker', infoHash, state: 'failed', url, error: 'connection refused', failures: 1, retryInMs: 5000 });
  json.kill('SIGINT');
  t.is((await closed(json)).code, 0, json.describe());

  const human = spawnPeer(t, args(false));
  await human.waitForStderr(new RegExp(`tracker unreachable: ${re(url)} \\(connection refused\\); retrying in 5\\.0 s`));
  // Now the tracker comes up: the next try (5 s later) reaches it, and the leecher says so.
  const tracker = spawnPeer(t, ['tracker', '--host', SEEDER, '--port', String(trackerPort)]);
  await human.waitForStderr(new RegExp(`tracker reachable again: ${re(url)} \\(0 peers\\)`), 40_000);
  t.notRegex(human.stderr(), /ECONNREFUSED|warn \[tracker/, 'no raw error or log line: the status line said it');
  for (const p of [human, tracker]) {
    p.kill('SIGINT');
    t.is((await closed(p)).code, 0, p.describe());
  }
});

test('a magnet that nothing can find peers for says so at once, not only "fetching the metadata"', async (t) => {
  const dir = await tempDir(t);
  const port = await freePort([LEECHER]);
  const p = spawnPeer(t, ['leech', `magnet:?xt=urn:btih:${'ab'.repeat(20)}&dn=nothing`, '--out', path.join(dir, 'out'), '--host', LEECHER, '--port', String(port), '--no-dht', '--no-lsd', '--state', path.join(dir, 'state')]);
  await p.waitForStderr(/fetching the metadata of nothing from peers\.\.\.\nlooking for peers: nothing can find any .*give --peer HOST:PORT/);
  p.kill('SIGINT');
  t.is((await closed(p)).code, 0, p.describe());
  // --json: a metadata event says it is fetching, and from where (nowhere).
  const j = spawnPeer(t, ['leech', `magnet:?xt=urn:btih:${'ab'.repeat(20)}&dn=nothing`, '--out', path.join(dir, 'out'), '--host', LEECHER, '--port', String(port), '--no-dht', '--no-lsd', '--state', path.join(dir, 'state'), '--json']);
  const e = await j.waitFor((x) => x.event === 'metadata', 'a metadata event');
  t.deepEqual(e as unknown, { event: 'metadata', infoHash: 'ab'.repeat(20), state: 'fetching', name: 'nothing', sources: [] });
  j.kill('SIGINT');
  t.is((await closed(j)).code, 0, j.describe());
});

test('seed --recheck without a terminal says it is verifying, how far, and what it found', async (t) => {
  const dir = await tempDir(t);
  const file = path.join(dir, 'data.bin');
  await writeFixture(file, fixtureBytes(3_000_000, 4));
  const fx = await torrentOf(file, path.join(dir, 'data.torrent'), 16 * 1024);
  const port = await freePort([SEEDER]);
  const p = spawnPeer(t, ['seed', fx.torrentPath, '--data', file, '--recheck', '--host', SEEDER, '--port', String(port), '--no-dht', '--no-lsd', '--state', path.join(dir, 'state')]);
  await p.waitForStderr(/looking for peers/);
  const err = p.stderr();
  t.regex(err, new RegExp(`verifying data\\.bin: ${fx.meta.info.pieceCount} pieces to check on disk \\(${re(file)}\\)\\n`));
  t.regex(err, new RegExp(`verified data\\.bin: ${fx.meta.info.pieceCount} of ${fx.meta.info.pieceCount} pieces on disk are good \\(${fx.meta.info.pieceCount} checked in [\\d.]+ s\\)`));
  t.true(err.indexOf('verified') < err.indexOf('seeding data.bin'), 'verification comes before the seeding line');
  p.kill('SIGINT');
  t.is((await closed(p)).code, 0, p.describe());
});

test('a seeder without a terminal prints a line when a peer comes; a leecher shows the messages peers send, plain and as --json', async (t) => {
  t.timeout(120_000);
  const dir = await tempDir(t);
  const file = path.join(dir, 'chat.bin');
  await writeFixture(file, fixtureBytes(400_000, 6));
  const fx = await torrentOf(file, path.join(dir, 'chat.torrent'), 16 * 1024);
  const port = await freePort([SEEDER, LEECHER, '127.0.0.28']);
  const apiPort = await freePort(['127.0.0.1']);
  const seeder = spawnPeer(t, ['seed', fx.torrentPath, '--data', file, '--host', SEEDER, '--port', String(port), '--no-dht', '--no-lsd', '--state', path.join(dir, 'seed-state'), '--api', String(apiPort)]);
  await seeder.waitForStderr(/seeding chat\.bin  peers 0  up 0 B\/s  uploaded 0 B\n/);
  // Slow leechers (16 KiB/s): the connections stay up while the message goes.
  const leech = (host: string, json: boolean): PeerProcess =>
    spawnPeer(t, ['leech', fx.torrentPath, '--out', path.join(dir, `out-${host}`), '--peer', `${SEEDER}:${port}`, '--download-limit', '16K', '--host', host, '--port', String(port), '--no-dht', '--no-lsd', '--state', path.join(dir, `state-${host}`), ...(json ? ['--json'] : [])]);
  const plain = leech(LEECHER, false);
  const json = leech('127.0.0.28', true);
  await seeder.waitForStderr(/seeding chat\.bin  peers [12]  up /, 30_000);
  const text = 'hello \x1b[2J from the seeder';
  await pollUntil(async () => {
    const res = await fetch(`http://127.0.0.1:${apiPort}/api/messages`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ to: 'all', text }), signal: AbortSignal.timeout(10_000) });
    const body = (await res.json()) as { sent?: number };
    return res.ok && body.sent === 2 ? true : undefined;
  }, 'the message to reach both leechers', 30_000, 300);
  await plain.waitForStderr(new RegExp(`message from ${re(SEEDER)}:${port}: hello \uFFFD\\[2J from the seeder\\n`));
  t.false(plain.stderr().includes('\x1b[2J'), 'no escape sequence from the network reaches the terminal');
  const event = await json.waitFor((e) => e.event === 'message', 'a message event');
  t.like(event as unknown as Record<string, unknown>, { event: 'message', infoHash: fx.infoHashHex, from: `${SEEDER}:${port}`, text });
  for (const p of [plain, json, seeder]) {
    p.kill('SIGINT');
    t.is((await closed(p)).code, 0, p.describe());
  }
});

test('printable and trackerReason (unit): control characters go, the URL is not repeated, system codes in words', (t) => {
  t.is(printable('a\nb\x1b[31mc\u202e'), 'a\uFFFDb\uFFFD[31mc\uFFFD');
  t.is(trackerReason('tracker http://h:1/a: connect ECONNREFUSED 1.2.3.4:1', 'http://h:1/a'), 'connection refused');
  t.is(trackerReason('getaddrinfo ENOTFOUND trk.example', 'udp://trk.example:1'), 'unknown host trk.example');
  t.is(trackerReason('timed out after 15000 ms', 'udp://x:1'), 'timed out after 15000 ms');
});

const SCRIPT = '/usr/bin/script';

/** Runs `peer args` on a pseudo-terminal `cols` wide (util-linux `script`); resolves with everything it drew. */
function onTerminal(t: Teardown, args: string[], cols: number): { output: () => string; exited: Promise<number | null>; interrupt: () => void } {
  const quoted = [process.execPath, PEER_BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn(SCRIPT, ['-qfec', `stty cols ${cols} rows 30; exec ${quoted}`, '/dev/null'], { cwd: REPO_ROOT, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let done = false;
  void exited.then(() => (done = true));
  t.teardown(() => {
    if (!done) process.kill(-child.pid!, 'SIGKILL');
  });
  // Ctrl-C as typed: the pseudo-terminal turns it into SIGINT for the program (script itself carries on and keeps the output).
  return { output: () => out, exited, interrupt: () => void child.stdin!.write('\x03') };
}

testUnless(existsSync(SCRIPT) ? undefined : 'no util-linux script(1) for a pseudo-terminal', 'on an 60-column terminal: one status line that never wraps, labelled rates, logs above it, no ETA at 0%, gone after complete', async (t) => {
  t.timeout(90_000);
  const { session: seeder, dir } = await startSession(t, { host: SEEDER, uploadLimit: 400_000 });
  const content = fixtureBytes(2_500_000, 8);
  const file = path.join(dir, 'seed', 'a-rather-long-file-name-for-the-bar.bin');
  await writeFixture(file, content);
  const fx = await torrentOf(file, path.join(dir, 'bar.torrent'), 16 * 1024);
  await seeder.addTorrent(fx.meta, { contentPath: file, mode: 'seed' });
  const port = await freePort([LEECHER]);
  const cols = 60;
  const run = onTerminal(t, ['leech', fx.torrentPath, '--out', path.join(dir, 'out'), '--exit-on-complete', '--peer', `${SEEDER}:${seeder.port}`, '--host', LEECHER, '--port', String(port), '--no-dht', '--no-lsd', '--state', path.join(dir, 'state'), '--log-level', 'info'], cols);
  t.is(await within(run.exited, 80_000, 'the leech on a terminal to finish'), 0, run.output().slice(-2000));
  const out = run.output();
  // What the terminal shows: the line is redrawn after "\r\x1b[2K"; every other line ends with a newline.
  const drawn = out.split('\r\x1b[2K').slice(1).map((seg) => seg.split(/\r?\n|\r/)[0]!).filter((s) => s.length > 0);
  const statusLines = drawn.filter((s) => /^\d+\.\d%/.test(s));
  t.true(statusLines.length > 0, out.slice(-2000));
  for (const s of statusLines) {
    t.true(s.length < cols, `fits ${cols} columns: ${JSON.stringify(s)}`);
    t.regex(s, /down [\d.]+ (B|KiB|MiB)\/s/, 'the download rate is labelled');
    if (s.startsWith('0.0%')) t.notRegex(s, /ETA/, 'no ETA at 0%');
  }
  // A log line is never glued to the status line: it starts a line of its own.
  const logLines = out.split(/\r?\n/).filter((l) => /info \[leech\] peer connected/.test(l));
  t.true(logLines.length > 0, out.slice(-2000));
  for (const l of logLines) t.regex(l.replace(/^(\r\x1b\[2K)+/, ''), /^\d\d:\d\d:\d\d\.\d{3} info \[leech\]/, JSON.stringify(l));
  // After the complete line nothing more is drawn: no stale bar below it.
  const tail = out.slice(out.lastIndexOf('complete: '));
  t.regex(tail, /^complete: a-rather-long-file-name-for-the-bar\.bin -> .* from 1 peer\r?\n/);
  t.notRegex(tail.slice(tail.indexOf('\n') + 1), /\d+\.\d%/, 'no status line after complete');
});

test('a leecher alone for 30 s says so (with where it looks), and a magnet with no metadata after 30 s too', async (t) => {
  t.timeout(90_000);
  const dir = await tempDir(t);
  const file = path.join(dir, 'alone.bin');
  await writeFixture(file, fixtureBytes(60_000, 11));
  const fx = await torrentOf(file, path.join(dir, 'alone.torrent'), 16 * 1024);
  const port = await freePort([LEECHER, '127.0.0.28']);
  const common = (host: string, state: string) => ['--host', host, '--port', String(port), '--no-dht', '--no-lsd', '--state', path.join(dir, state), '--out', path.join(dir, `out-${state}`)];
  const alone = spawnPeer(t, ['leech', fx.torrentPath, ...common(LEECHER, 'a')]);
  const magnet = spawnPeer(t, ['leech', `magnet:?xt=urn:btih:${fx.infoHashHex}&dn=alone.bin`, ...common('127.0.0.28', 'm')]);
  await alone.waitForStderr(/no peers for 3\d s; looking for peers: nothing can find any/, 60_000);
  await magnet.waitForStderr(/still no metadata after 3\d\.\d s: no peer has sent it yet; looking for peers: nothing can find any/, 60_000);
  for (const p of [alone, magnet]) {
    p.kill('SIGINT');
    t.is((await closed(p)).code, 0, p.describe());
  }
});

test('after a resume, the closing line counts only what this run downloaded (data already on disk is not speed)', async (t) => {
  t.timeout(90_000);
  const { session: seeder, dir } = await startSession(t, { host: SEEDER, uploadLimit: 300_000 });
  const file = path.join(dir, 'seed', 'resume.bin');
  await writeFixture(file, fixtureBytes(1_500_000, 12));
  const fx = await torrentOf(file, path.join(dir, 'resume.torrent'), 16 * 1024);
  await seeder.addTorrent(fx.meta, { contentPath: file, mode: 'seed' });
  const port = await freePort([LEECHER]);
  const args = ['leech', fx.torrentPath, '--out', path.join(dir, 'out'), '--peer', `${SEEDER}:${seeder.port}`, '--host', LEECHER, '--port', String(port), '--no-dht', '--no-lsd', '--state', path.join(dir, 'state'), '--exit-on-complete'];
  const first = spawnPeer(t, [...args, '--json']);
  await first.waitFor((e) => e.event === 'progress' && e.have >= 20, 'some pieces in', 60_000);
  first.kill('SIGINT');
  t.is((await closed(first)).code, 0, first.describe());
  const summary = first.events.find((e) => e.event === 'summary') as { downloaded: number } | undefined;
  const second = spawnPeer(t, args);
  t.is((await closed(second)).code, 0, second.describe());
  const err = second.stderr();
  const resumed = /resumed: (\d+) of (\d+) pieces already here/.exec(err);
  t.truthy(resumed, err);
  const m = /complete: resume\.bin -> .* \(1\.43 MiB\), ([\d.]+) (KiB|MiB) downloaded in/.exec(err);
  t.truthy(m, err);
  const downloaded = Number(m![1]) * (m![2] === 'MiB' ? 1024 * 1024 : 1024);
  t.true(downloaded < 1_500_000 - Number(resumed![1]) * 16384 * 0.9, `this run downloaded ${downloaded} B, not the whole file (first run: ${summary?.downloaded})`);
});

test('peer start logs a tracker that does not answer (reason, retry), and with --json prints tracker events', async (t) => {
  t.timeout(60_000);
  const dir = await tempDir(t);
  const file = path.join(dir, 'downloads', 'daemon.bin');
  await writeFixture(file, fixtureBytes(80_000, 13));
  const trackerPort = await freePort([SEEDER]);
  const url = `http://${SEEDER}:${trackerPort}/announce`;
  const { infoHash } = await torrentWithTracker(t, file, path.join(dir, 'torrents', 'daemon.torrent'), url);
  const port = await freePort([SEEDER]);
  const args = (json: boolean) => ['start', '--no-api', '--no-dht', '--no-lsd', '--host', SEEDER, '--port', String(port), '--state', path.join(dir, `state-${json}`), '--torrents', path.join(dir, 'torrents'), '--downloads', path.join(dir, 'downloads'), ...(json ? ['--json'] : [])];
  const human = spawnPeer(t, args(false));
  await human.waitForStderr(new RegExp(`warn \\[daemon\\] daemon\\.bin: tracker unreachable: ${re(url)} \\(connection refused\\); retrying in 5\\.0 s`));
  human.kill('SIGINT');
  t.is((await closed(human)).code, 0, human.describe());
  t.regex(human.stderr(), /stopped: 1 torrent, downloaded 0 B, uploaded 0 B, ratio 0\.00\n/);
  const json = spawnPeer(t, args(true));
  const e = await json.waitFor((x) => x.event === 'tracker', 'a tracker event');
  t.like(e as unknown as Record<string, unknown>, { infoHash, state: 'failed', url, error: 'connection refused', failures: 1, retryInMs: 5000 });
  json.kill('SIGINT');
  t.is((await closed(json)).code, 0, json.describe());
  t.like(json.events.at(-1) as unknown as Record<string, unknown>, { event: 'summary', torrents: 1, downloaded: 0, uploaded: 0, ratio: null, unfinished: 0 });
});

test('a tracker\'s failure reason reaches the status line without its control characters (hostile tracker)', async (t) => {
  t.timeout(60_000);
  const { createServer } = await import('node:http');
  const reason = 'bad \x1b[2J tracker';
  const body = Buffer.concat([Buffer.from(`d14:failure reason${Buffer.byteLength(reason)}:`), Buffer.from(reason), Buffer.from('e')]);
  const server = createServer((_req, res) => res.end(body));
  const trackerPort = await freePort([SEEDER]);
  await new Promise<void>((r) => server.listen(trackerPort, SEEDER, r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const dir = await tempDir(t);
  const file = path.join(dir, 'evil.bin');
  await writeFixture(file, fixtureBytes(40_000, 14));
  const url = `http://${SEEDER}:${trackerPort}/announce`;
  await torrentWithTracker(t, file, path.join(dir, 'evil.torrent'), url);
  const port = await freePort([LEECHER]);
  const p = spawnPeer(t, ['leech', path.join(dir, 'evil.torrent'), '--out', path.join(dir, 'out'), '--host', LEECHER, '--port', String(port), '--no-dht', '--no-lsd', '--state', path.join(dir, 'state')]);
  await p.waitForStderr(new RegExp(`tracker unreachable: ${re(url)} \\(.*bad \uFFFD\\[2J tracker.*\\); retrying in 5\\.0 s`));
  t.false(p.stderr().includes('\x1b'), 'no escape character from the tracker on stderr');
  p.kill('SIGINT');
  t.is((await closed(p)).code, 0, p.describe());
});

testUnless(existsSync(SCRIPT) ? undefined : 'no util-linux script(1) for a pseudo-terminal', 'a seeder on a terminal shows its line (peers, upload) in place, and Ctrl-C takes it away before the stop line', async (t) => {
  t.timeout(60_000);
  const dir = await tempDir(t);
  const file = path.join(dir, 'shown.bin');
  await writeFixture(file, fixtureBytes(100_000, 15));
  const fx = await torrentOf(file, path.join(dir, 'shown.torrent'), 16 * 1024);
  const port = await freePort([SEEDER]);
  const run = onTerminal(t, ['seed', fx.torrentPath, '--data', file, '--host', SEEDER, '--port', String(port), '--no-dht', '--no-lsd', '--state', path.join(dir, 'state')], 80);
  await pollUntil(() => (/\r\x1b\[2Kseeding shown\.bin  peers 0  up 0 B\/s  uploaded 0 B/.test(run.output()) ? true : undefined), 'the seeder\'s status line', 40_000, 100);
  run.interrupt();
  t.is(await within(run.exited, 20_000, 'the seeder to stop'), 0, run.output().slice(-1500));
  const out = run.output();
  const tail = out.slice(out.lastIndexOf('stopped: '));
  t.regex(tail, /^stopped: downloaded 0 B, uploaded 0 B, ratio 0\.00\r?\n/);
  t.notRegex(tail, /seeding shown\.bin  peers/, 'no status line after the stop line');
});
