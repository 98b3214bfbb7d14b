/**
 * The README documents every command and every `--json` event of the long
 * runs (issue 16, item 5: "the README never mentions `peer message`").
 * The lists come from the program itself (its registered commands) and from
 * the sources that print events, so a new one cannot go undocumented.
 */
import test from 'ava';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { buildPeerProgram } from '../src/cli/program.js';
import { REPO_ROOT } from './helpers/bin.js';

const readme = (): Promise<string> => readFile(path.join(REPO_ROOT, 'README.md'), 'utf8');

test('every command of peer is in the README, with an example line', async (t) => {
  const text = await readme();
  const names = buildPeerProgram().commands.map((c) => c.name()).filter((n) => n !== 'help');
  t.true(names.includes('message'));
  for (const name of names) {
    const shown = name === 'make-torrent' ? /npx (peer )?make-torrent /.test(text) : text.includes(`npx peer ${name}`);
    t.true(shown, `README shows \`npx peer ${name} ...\``);
    t.true(new RegExp(`\\| \`(peer )?${name}[\\s\`/]`).test(text), `README's command table has a row for ${name}`);
  }
});

test('every event seed, leech and start print with --json has a row in the README\'s events table', async (t) => {
  const text = await readme();
  const table = text.slice(text.indexOf('### `--json` events'));
  const events = new Set<string>();
  for (const file of ['swarm.ts', 'swarm-watch.ts', 'start.ts']) {
    const src = await readFile(path.join(REPO_ROOT, 'src', 'cli', file), 'utf8');
    for (const m of src.matchAll(/printJson\(\{\s*event: '([a-z]+)'/g)) events.add(m[1]!);
  }
  for (const e of ['progress', 'complete', 'error', 'peer', 'tracker', 'message', 'paused', 'started', 'resumed', 'summary']) t.true(events.has(e) || e === 'error', `the sources print ${e}`);
  for (const e of events) t.regex(table, new RegExp(`\\| \`${e}\` \\|`), `README documents the ${e} event`);
});

test('every link inside the README leads to one of its headings', async (t) => {
  const text = await readme();
  // GitHub's anchors: lower case, punctuation dropped, spaces to hyphens.
  const slug = (h: string): string => h.trim().toLowerCase().replace(/[^\p{L}\p{N}\s-]/gu, '').replace(/\s/g, '-');
  const anchors = new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));
  const links = [...text.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]!);
  t.true(links.length > 0);
  for (const l of links) t.true(anchors.has(l), `#${l} has a heading`);
});
