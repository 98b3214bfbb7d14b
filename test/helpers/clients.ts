/**
 * The real BitTorrent clients the interop tests drive (Debian packages that
 * `.ci/run` installs). A test that needs one is declared with `clientTest`:
 * - the client is there: an ordinary ava test;
 * - it is missing and CI=true: the test fails, naming the package to install;
 * - it is missing elsewhere: the test is skipped, with one loud line on stderr
 *   naming the package, so a local run without the clients still passes.
 */
import test, { type ImplementationFn } from 'ava';
import { spawnSync } from 'node:child_process';

export interface Client {
  /** What the tests call it. */
  name: string;
  /** The Debian package that provides it. */
  pkg: string;
  /** Whether it can run here. */
  available: boolean;
}

/** `docker compose` (v2 plugin) or `docker-compose` (v1), whichever this machine has. */
export function composeCommand(): string[] | undefined {
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0) return ['docker', 'compose'];
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0) return ['docker-compose'];
  return undefined;
}

function hasCommand(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Debian's python3 (the libtorrent bindings are built for it, not for other pythons on PATH). */
export const SYSTEM_PYTHON = '/usr/bin/python3';

function hasLibtorrent(): boolean {
  const r = spawnSync(SYSTEM_PYTHON, ['-c', 'import libtorrent'], { stdio: 'ignore' });
  return r.status === 0;
}

const cache = new Map<string, Client>();
function client(name: string, pkg: string, probe: () => boolean): Client {
  let c = cache.get(name);
  if (!c) {
    c = { name, pkg, available: probe() };
    cache.set(name, c);
  }
  return c;
}

export const clients = {
  get aria2c(): Client {
    return client('aria2c', 'aria2', () => hasCommand('aria2c'));
  },
  get libtorrent(): Client {
    return client('libtorrent', 'python3-libtorrent', hasLibtorrent);
  },
  get transmissionCli(): Client {
    return client('transmission-cli', 'transmission-cli', () => hasCommand('transmission-cli') && hasCommand('transmission-create') && hasCommand('transmission-show'));
  },
  get transmissionDaemon(): Client {
    return client('transmission-daemon', 'transmission-daemon', () => hasCommand('transmission-daemon') && hasCommand('transmission-remote'));
  },
  get opentracker(): Client {
    return client('opentracker', 'opentracker', () => hasCommand('opentracker'));
  },
  get mktorrent(): Client {
    return client('mktorrent', 'mktorrent', () => hasCommand('mktorrent'));
  },
  get chromium(): Client {
    return client('chromium', 'chromium', () => hasCommand('chromium'));
  },
  get dockerCompose(): Client {
    return client('docker compose', 'docker-compose', () => composeCommand() !== undefined);
  },
};

const warned = new Set<string>();

/**
 * `test` when every client in `needs` is available. Otherwise a test that
 * fails under CI=true, or a skipped test elsewhere (with one loud line per
 * missing package).
 */
export function clientTest(needs: Client[], title: string, impl: ImplementationFn<[]>): void {
  const missing = needs.filter((c) => !c.available);
  if (missing.length === 0) {
    test(title, impl);
    return;
  }
  const what = missing.map((c) => `${c.name} (apt-get install -y ${c.pkg})`).join(', ');
  if (process.env.CI === 'true') {
    test(title, (t) => {
      t.fail(`missing ${what}: .ci/run installs it; CI=true requires every interop client`);
    });
    return;
  }
  for (const c of missing) {
    if (warned.has(c.pkg)) continue;
    warned.add(c.pkg);
    process.stderr.write(`\n!!! SKIPPING interop tests that need ${c.name}: install it with \`apt-get install -y ${c.pkg}\` !!!\n\n`);
  }
  test.skip(title, impl);
}

/**
 * `test` (or `test.serial`) unless `skipReason` is given: then a skipped
 * test, with one line on stderr saying why (for checks this machine cannot
 * make, e.g. file modes when running as root).
 */
export function testUnless(skipReason: string | undefined, title: string, impl: ImplementationFn<[]>, opts: { serial?: boolean } = {}): void {
  if (skipReason === undefined) {
    (opts.serial ? test.serial : test)(title, impl);
    return;
  }
  process.stderr.write(`skipping "${title}": ${skipReason}\n`);
  (opts.serial ? test.serial.skip : test.skip)(title, impl);
}

/** Why a test of file modes cannot run here, if it cannot: root reads and writes whatever the modes say. */
export const AS_ROOT = process.getuid?.() === 0 ? 'running as root, which ignores file modes' : undefined;
