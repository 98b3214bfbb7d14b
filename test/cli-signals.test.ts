/**
 * Ctrl-C as a terminal sends it (SIGINT to the whole foreground process
 * group) stops `peer seed` with exit 0 however it was started: `node
 * dist/peer.js`, `npx peer` and `npm start` (issue 16: npx exited 130).
 * npm forwards the signal to its child a second time and runs the command
 * through a shell; the repeat is swallowed (src/cli/signals.ts) and the
 * project's .npmrc makes that shell bash, which exits as its child did.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { freePort, singleFileTorrent, tempDir, within, type Teardown } from './helpers/swarm.js';
import { PEER_BIN, REPO_ROOT } from './helpers/bin.js';

const HOST = '127.0.0.24';

interface GroupRun {
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  interrupt(): void;
}

/** `cmd args` in a process group of its own, as a terminal runs a foreground job. */
function runInGroup(t: Teardown, cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): GroupRun {
  const child = spawn(cmd, args, { cwd: REPO_ROOT, detached: true, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  let done = false;
  void exited.then(() => (done = true));
  t.teardown(() => {
    if (!done) {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
  return { stderr: () => err, exited, interrupt: () => process.kill(-child.pid!, 'SIGINT') };
}

async function waitStderr(r: GroupRun, re: RegExp, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!re.test(r.stderr())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${re} in: ${r.stderr().slice(-2000)}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

for (const how of ['node dist/peer.js', 'npx peer', 'npm start'] as const) {
  test.serial(`Ctrl-C to the process group of \`${how}\` stops it with exit 0 and the stop line`, async (t) => {
    t.timeout(180_000);
    const dir = await tempDir(t);
    const fx = await singleFileTorrent(dir, { length: 100_000, pieceLength: 16384 });
    const port = await freePort([HOST]);
    const common = ['--host', HOST, '--port', String(port), '--no-dht', '--no-lsd', '--state', path.join(dir, 'state')];
    const seed = ['seed', fx.torrentPath, '--data', fx.contentPath, ...common];
    let r: GroupRun;
    let ready: RegExp;
    if (how === 'node dist/peer.js') r = runInGroup(t, process.execPath, [PEER_BIN, ...seed]);
    // The first `npx peer` of a project installs it into npx's cache, which runs its `prepare` (a full build
    // into dist/): not in the middle of a test run, where other tests are running dist/ (dist is built already).
    else if (how === 'npx peer') r = runInGroup(t, 'npx', ['--no-install', 'peer', ...seed], { npm_config_ignore_scripts: 'true' });
    else r = runInGroup(t, 'npm', ['start', '--', ...common, '--no-api', '--tracker', String(await freePort([HOST])), '--torrents', path.join(dir, 'torrents'), '--downloads', path.join(dir, 'downloads')]);
    if (how === 'npm start') ready = /Ctrl-C to stop/;
    else ready = /looking for peers/;
    await waitStderr(r, ready, 60_000);
    r.interrupt();
    const exit = await within(r.exited, 20_000, `${how} to exit`);
    t.deepEqual(exit, { code: 0, signal: null }, r.stderr().slice(-1500));
    t.regex(r.stderr(), /stopping: telling peers and trackers, saving state/);
    // The closing totals: the torrent's for seed, the daemon's for npm start.
    t.regex(r.stderr(), how === 'npm start' ? /stopped: 0 torrents, downloaded 0 B, uploaded 0 B, ratio 0\.00\n/ : /stopped: downloaded 0 B, uploaded 0 B, ratio 0\.00\n/);
  });
}
