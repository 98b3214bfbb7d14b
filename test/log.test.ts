import test from 'ava';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Runs a script against src/log.ts in a fresh process (winston loads at most once per process). */
function runScript(body: string): { stderr: string; stdout: string; status: number | null } {
  const script = `
    import { createRequire } from 'node:module';
    import { rootLogger, getLogger, setLogLevel } from './src/log.ts';
    const require = createRequire(import.meta.url);
    const winstonLoaded = () => Object.keys(require.cache).some((k) => /[\\\\/]winston[\\\\/]/.test(k));
    ${body}
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 30_000, env: { ...process.env, LOG_LEVEL: '' } });
  return { stderr: r.stderr, stdout: r.stdout, status: r.status };
}

test('messages below the level are dropped without loading winston; the first written one loads it', (t) => {
  const r = runScript(`
    const log = getLogger('picker').child({ torrent: 'abc' });
    log.debug('not shown');
    log.info('not shown either');
    console.log('before', winstonLoaded());
    log.warn('piece 3 failed its hash check');
    console.log('after', winstonLoaded());
  `);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /before false/);
  t.regex(r.stdout, /after true/);
  t.notRegex(r.stderr, /not shown/);
  t.regex(r.stderr, /^\d\d:\d\d:\d\d\.\d{3} warn \[picker abc\] piece 3 failed its hash check$/m);
});

test('setLogLevel applies to loggers made before and after, and to the root', (t) => {
  const r = runScript(`
    const early = getLogger('early');
    early.warn('first');
    setLogLevel('debug');
    early.debug('early debug');
    getLogger('late').debug('late debug');
    setLogLevel('error');
    rootLogger.warn('dropped');
    rootLogger.error('root error');
  `);
  t.is(r.status, 0, r.stderr);
  const lines = r.stderr.trim().split('\n').map((l) => l.replace(/^\S+ /, ''));
  t.deepEqual(lines, ['warn [early] first', 'debug [early] early debug', 'debug [late] late debug', 'error root error']);
});
