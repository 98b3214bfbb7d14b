/** --help of the built bin lists what each command takes, and nothing it refuses (issue 16). */
import test from 'ava';
import path from 'node:path';
import { runExe } from './fixtures/metainfo-cli.js';
import { DEFAULT_SETTINGS } from '../src/settings.js';
import { DEFAULT_MAX_UPLOAD_BYTES } from '../src/api/file-routes.js';
import { formatBytes } from '../src/cli/progress.js';
import { freePort, spawnPeer, tempDir, closed } from './helpers/swarm.js';

test('peer dht and peer kv --help do not list the options they refuse; --json says what it prints', async (t) => {
  const dht = (await runExe('peer', ['dht', '--help'])).stdout;
  for (const o of ['--api', '--peer ', '--no-dht']) t.false(dht.includes(o), `dht --help lists ${o}`);
  t.regex(dht, /--bootstrap/);
  for (const sub of ['put', 'get', 'del', 'list']) {
    const help = (await runExe('peer', ['kv', sub, '--help'])).stdout;
    // put and del take --api as the running daemon's URL (issue 15): only get and list refuse it.
    const refused = sub === 'put' || sub === 'del' ? ['--peer ', '--tracker', '--no-dht'] : ['--api', '--peer ', '--tracker', '--no-dht'];
    for (const o of refused) t.false(help.includes(o), `kv ${sub} --help lists ${o}`);
    t.regex(help, /--json\s+print the result as one JSON object/);
  }
  // Refused still with a sentence, not "unknown option".
  const refused = await runExe('peer', ['dht', '--api', '9999', '--host', '127.0.0.9', '--no-lsd']);
  t.is(refused.code, 2);
  t.regex(refused.stderr, /peer dht does not use --api/);
});

test('repeatable options show no "(default: [])" in any --help', async (t) => {
  for (const cmd of [['seed'], ['leech'], ['start'], ['dht'], ['kv', 'put'], ['kv', 'get'], ['make-torrent'], ['tracker'], ['info'], ['message']]) {
    const help = (await runExe('peer', [...cmd, '--help'])).stdout;
    t.false(help.includes('(default: [])'), `${cmd.join(' ')} --help`);
    t.false(/default:\s*\[\]/.test(help), `${cmd.join(' ')} --help`);
  }
});

test('every command\'s --help ends with examples of the command itself', async (t) => {
  for (const cmd of ['seed', 'leech', 'start', 'tracker', 'dht', 'info', 'message', 'make-torrent']) {
    const help = (await runExe('peer', [cmd, '--help'])).stdout;
    const examples = help.slice(help.indexOf('\nExamples:\n'));
    t.true(help.includes('\nExamples:\n'), `${cmd} --help has examples`);
    const lines = examples.split('\n').filter((l) => /^  \S/.test(l));
    t.true(lines.length >= 2, `${cmd}: ${examples}`);
    t.true(lines.every((l) => l.startsWith(`  ${cmd === 'make-torrent' ? 'make-torrent' : `peer ${cmd}`}`) || (cmd === 'start' && l.startsWith('  npm start'))), `${cmd}: ${examples}`);
  }
  const standalone = (await runExe('make-torrent', ['--help'])).stdout;
  t.regex(standalone, /Examples:\n  make-torrent /);
});

test('the defaults --help shows are the ones the commands use', async (t) => {
  const start = (await runExe('peer', ['start', '--help'])).stdout.replace(/\s+/g, ' ');
  t.regex(start, /--log-level <level> .*default: "info"/, 'peer start (and npm start) log at info');
  t.true(start.includes(`(default ${DEFAULT_SETTINGS.maxPeersTotal})`));
  t.true(start.includes(`(default ${DEFAULT_SETTINGS.maxPeersPerTorrent})`));
  t.true(start.includes(`default ${DEFAULT_SETTINGS.maxActiveDownloads})`));
  t.true(start.includes(`(default ${formatBytes(DEFAULT_MAX_UPLOAD_BYTES)})`));
  t.true(start.includes(`(on by default, port ${DEFAULT_SETTINGS.apiPort})`));
  for (const cmd of ['seed', 'leech']) {
    const help = (await runExe('peer', [cmd, '--help'])).stdout.replace(/\s+/g, ' ');
    t.regex(help, /--log-level <level> .*default: "warn"/);
    t.true(help.includes(`(default ${DEFAULT_SETTINGS.port})`), `${cmd}: --port`);
    t.true(help.includes(`(default port ${DEFAULT_SETTINGS.trackerPort})`), `${cmd}: --tracker`);
  }
  const tracker = (await runExe('peer', ['tracker', '--help'])).stdout.replace(/\s+/g, ' ');
  t.true(tracker.includes(`(default: "${DEFAULT_SETTINGS.trackerPort}")`));

  // And peer start with no --log-level really logs at info (what its --help says): the embedded tracker's info line shows.
  const dir = await tempDir(t);
  const host = '127.0.0.29';
  const port = await freePort([host]);
  const trackerPort = await freePort([host]);
  const p = spawnPeer(t, ['start', '--no-api', '--no-dht', '--no-lsd', '--host', host, '--port', String(port), '--tracker', String(trackerPort), '--state', path.join(dir, 's'), '--torrents', path.join(dir, 't'), '--downloads', path.join(dir, 'd')]);
  await p.waitForStderr(/ info \[tracker\] tracker listening on/);
  p.kill('SIGINT');
  t.is((await closed(p)).code, 0, p.describe());
});
