/** --help of the built bin lists what each command takes, and nothing it refuses (issue 16). */
import test from 'ava';
import { runExe } from './fixtures/metainfo-cli.js';

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
  for (const cmd of [['seed'], ['leech'], ['start'], ['dht'], ['kv', 'put'], ['kv', 'get']]) {
    const help = (await runExe('peer', [...cmd, '--help'])).stdout;
    t.false(help.includes('(default: [])'), `${cmd.join(' ')} --help`);
    t.false(/default:\s*\[\]/.test(help), `${cmd.join(' ')} --help`);
  }
});
