/**
 * `peer start` as a child process (the built dist/peer.js): what it prints, its API, --json, usage
 * errors, and an orderly exit 0 on SIGTERM/SIGINT with its state saved.
 */
import test from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { decodeSessionState } from '../src/session/session-state.js';
import { tinyTorrent, writeContent } from './daemon-helpers.js';
import { pollUntil } from './helpers/poll.js';
import { peerCommand, REPO_ROOT } from './helpers/bin.js';

interface Child {
  proc: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

function run(t: { teardown(fn: () => unknown): void }, args: string[]): Child {
  const proc = spawn(process.execPath, peerCommand(args), { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: '' } });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  });
  return { proc, stdout: () => out, stderr: () => err, exit };
}

async function fixture(t: { teardown(fn: () => unknown): void }) {
  const root = await mkdtemp(path.join(os.tmpdir(), 'daemon-cli-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const tt = tinyTorrent(300);
  await writeContent(path.join(root, 'downloads'), tt);
  await mkdir(path.join(root, 'torrents'));
  await writeFile(path.join(root, 'torrents', 'one.torrent'), tt.bytes);
  const args = ['--torrents', path.join(root, 'torrents'), '--downloads', path.join(root, 'downloads'), '--state', path.join(root, 'state'), '--host', '127.0.0.1', '--port', '0', '--no-dht'];
  return { root, tt, args };
}

test('peer start serves the watch folder, prints the dashboard URL, logs at info, answers on its API and exits 0 on SIGTERM', async (t) => {
  t.timeout(90_000);
  const { root, tt, args } = await fixture(t);
  const c = run(t, ['start', ...args, '--api', '0']);
  const url = await pollUntil(() => /dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(c.stderr())?.[1], 'the dashboard line', 60_000, 50);
  t.regex(c.stderr(), /listening for peers on 127\.0\.0\.1:\d+/);
  await pollUntil(() => /adding file-300\.bin/.test(c.stderr()), 'the info line about the watch-folder torrent', 30_000, 50);
  const body = await pollUntil(async () => {
    const res = await fetch(new URL('api/torrents', url));
    const text = await res.text();
    return res.ok && text.includes(tt.meta.infoHashHex) ? text : undefined;
  }, 'the torrent in GET /api/torrents', 30_000, 100);
  t.true(body.includes(tt.meta.infoHashHex));
  c.proc.kill('SIGTERM');
  t.is(await c.exit, 0);
  const state = decodeSessionState(await readFile(path.join(root, 'state', 'session.json'))).state;
  t.deepEqual(state.records.map((r) => r.infoHash), [tt.meta.infoHashHex]);
});

test('peer start --json prints a started event, then progress events; SIGINT exits 0', async (t) => {
  t.timeout(90_000);
  const { tt, args } = await fixture(t);
  const c = run(t, ['start', ...args, '--no-api', '--json']);
  const lines = (): Record<string, unknown>[] => c.stdout().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const started = await pollUntil(() => lines().find((e) => e.event === 'started'), 'the started event', 60_000, 50);
  t.is(started.api, null);
  t.is(typeof started.port, 'number');
  await pollUntil(() => lines().find((e) => e.event === 'progress' && e.infoHash === tt.meta.infoHashHex), 'a progress event', 30_000, 50);
  c.proc.kill('SIGINT');
  t.is(await c.exit, 0);
  t.true(lines().every((e) => typeof e.event === 'string'), 'stdout holds JSON events only');
});

test('peer start refuses bad limits and tokens with exit code 2', async (t) => {
  t.timeout(60_000);
  const { args } = await fixture(t);
  for (const [flag, value, pattern] of [
    ['--upload-limit', 'fast', /--upload-limit/],
    ['--max-peers', '0', /--max-peers/],
    ['--api-token', 'short', /--api-token/],
  ] as const) {
    const c = run(t, ['start', ...args, '--no-api', flag, value]);
    t.is(await c.exit, 2, `${flag} ${value}`);
    t.regex(c.stderr(), pattern);
  }
});
