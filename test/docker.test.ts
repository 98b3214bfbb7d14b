import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const compose = new URL('../docker/compose.yml', import.meta.url).pathname;
const dockerfile = readFileSync(new URL('../docker/Dockerfile', import.meta.url), 'utf8');

/** `docker compose` (v2 plugin) or `docker-compose` (v1), whichever this machine has. */
function composeCommand(): string[] | undefined {
  if (spawnSync('docker', ['compose', 'version'], { stdio: 'ignore' }).status === 0) return ['docker', 'compose'];
  if (spawnSync('docker-compose', ['version'], { stdio: 'ignore' }).status === 0) return ['docker-compose'];
  return undefined;
}

test('the compose file is valid and defines a tracker, a seeder and scalable leechers', (t) => {
  const cmd = composeCommand();
  if (!cmd) {
    t.log('no docker compose tool on this machine: checking the file by reading it only');
    const text = readFileSync(compose, 'utf8');
    for (const s of ['tracker:', 'seeder:', 'leecher:', 'torrents:', 'downloads:']) t.true(text.includes(s), s);
    return;
  }
  const out = execFileSync(cmd[0]!, [...cmd.slice(1), '-f', compose, 'config'], { encoding: 'utf8' });
  for (const s of ['tracker:', 'seeder:', 'leecher:']) t.true(out.includes(s), `service ${s}`);
  t.regex(out, /\/torrents/);
  t.regex(out, /\/downloads/);
});

test('the image is multi-stage and runs as a non-root user', (t) => {
  t.is(dockerfile.match(/^FROM /gm)?.length, 2);
  t.regex(dockerfile, /^USER node$/m);
});
