/**
 * The README's "Try it on one machine" block, run as written (issue 16:
 * "the README's commands, run as written on a fresh clone, print what the
 * README says they print"). The block is read from README.md itself, run in
 * one bash, in a fresh folder laid out as a clone is (`torrents/`,
 * `downloads/`), and each command's output must contain the lines the
 * README shows under it, in order (`…` matches anything).
 *
 * What differs from a user's terminal, and why: `npx` is a script on PATH
 * that execs the built bins (dist/, as npm would; cli-signals.test.ts runs
 * the real npx), the ports are free ones instead of 6969/6881/6882 (tests
 * run side by side), `sleep 2` waits until the seeder says it is looking
 * for peers (a loaded machine can take longer), and PEER_STATE_DIR keeps
 * the resume state out of the home folder.
 */
import test from 'ava';
import { spawn } from 'node:child_process';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { MAKE_TORRENT_BIN, PEER_BIN, REPO_ROOT } from './helpers/bin.js';
import { freePort, tempDir, within } from './helpers/swarm.js';

interface Step {
  command: string;
  expected: string[];
}

/** The ```console block under `heading`: `$ ` lines are commands, the lines after one its output. */
export function consoleSteps(readme: string, heading: string): Step[] {
  const at = readme.indexOf(`\n${heading}\n`);
  if (at < 0) throw new Error(`README has no section ${heading}`);
  const start = readme.indexOf('```console\n', at);
  const end = readme.indexOf('\n```', start + 1);
  const steps: Step[] = [];
  for (const line of readme.slice(start + '```console\n'.length, end).split('\n')) {
    if (line.startsWith('$ ')) steps.push({ command: line.slice(2), expected: [] });
    else if (steps.length) steps[steps.length - 1]!.expected.push(line);
  }
  return steps;
}

/** A README output line as a pattern: literal, with `…` matching anything. */
function linePattern(line: string): RegExp {
  return new RegExp(`^${line.split('…').map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
}

/** Problems when `expected` is not a subsequence of `actual` (a lone `…` line is skipped). */
function missing(expected: string[], actual: string[]): string | undefined {
  let i = 0;
  for (const want of expected) {
    if (want.trim() === '…' || want === '') continue;
    const re = linePattern(want);
    while (i < actual.length && !re.test(actual[i]!)) i++;
    if (i === actual.length) return `no line like ${JSON.stringify(want)} (in order) in:\n${actual.join('\n')}`;
    i++;
  }
  return undefined;
}

test('README "Try it on one machine": every command prints what the README shows', async (t) => {
  t.timeout(180_000);
  const readme = await readFile(path.join(REPO_ROOT, 'README.md'), 'utf8');
  const steps = consoleSteps(readme, '## Try it on one machine');
  t.true(steps.length >= 5, 'the block is there');
  const dir = await tempDir(t, 'readme-try-');
  const clone = path.join(dir, 'clone');
  for (const d of ['torrents', 'downloads']) {
    await mkdir(path.join(clone, d), { recursive: true });
    await writeFile(path.join(clone, d, '.gitkeep'), '');
  }
  const bin = path.join(dir, 'bin');
  await mkdir(bin);
  await writeFile(
    path.join(bin, 'npx'),
    `#!/bin/bash\ncase "$1" in\n  make-torrent) shift; exec "${process.execPath}" "${MAKE_TORRENT_BIN}" "$@";;\n  peer) shift; exec "${process.execPath}" "${PEER_BIN}" "$@";;\n  *) echo "npx $1: not part of this test" >&2; exit 127;;\nesac\n`,
  );
  await chmod(path.join(bin, 'npx'), 0o755);

  const tracker = await freePort(['127.0.0.1']);
  let p1 = await freePort(['127.0.0.1']);
  while (p1 === tracker) p1 = await freePort(['127.0.0.1']);
  const p2 = await freePort(['127.0.0.2']);
  const ports = (s: string): string => s.replace(/(?<!\d)6969(?!\d)/g, String(tracker)).replace(/(?<!\d)6881(?!\d)/g, String(p1)).replace(/(?<!\d)6882(?!\d)/g, String(p2));
  const script = ['exec 2>&1'];
  steps.forEach((s, i) => {
    script.push(`echo "@@@ ${i}"`);
    const cmd = ports(s.command);
    // `sleep 2` (the seeder starting): wait for its line instead, bounded.
    script.push(cmd === 'sleep 2' ? 'for i in $(seq 600); do grep -q "looking for peers" seed.log 2>/dev/null && break; sleep 0.1; done' : cmd);
  });
  script.push('echo "@@@ end"');

  const child = spawn('bash', ['-c', script.join('\n')], {
    cwd: clone,
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, PEER_STATE_DIR: path.join(dir, 'state') },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  t.teardown(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  });
  t.is(await within(exited, 150_000, 'the README block to run'), 0, out.slice(-3000));
  t.true(out.includes('@@@ end'), out.slice(-3000));

  const sections = out.split(/^@@@ /m).slice(1);
  steps.forEach((s, i) => {
    const section = sections.find((x) => x.startsWith(`${i}\n`));
    const lines = (section ?? '').split('\n').slice(1);
    const problem = missing(s.expected.map(ports), lines);
    t.is(problem, undefined, `$ ${s.command}`);
  });
});
