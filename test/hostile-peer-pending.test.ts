/**
 * Issue 11, row 4: connections that never send a handshake. Before: 1,000
 * of them held 1,000 descriptors of the seeder for 10 s each, with no cap.
 *
 * Against the built seeder: 1,000 raw connections from 20 addresses that
 * send nothing, held open; an honest built leecher arrives in the middle of
 * them. The seeder's descriptors stay bounded (the pending cap), the honest
 * leecher completes, and once the attacker leaves descriptors and memory
 * are back at their baseline.
 */
import test from 'ava';
import net from 'node:net';
import { singleFileTorrent, tempDir, within } from './helpers/swarm.js';
import { fdCount } from './helpers/proc.js';
import { pollUntil } from './helpers/poll.js';
import { aliveAndBackToBaseline, honestServed, linesMatching, sleep, startHonestLeecher, startSeeder } from './hostile-peer-helpers.js';

const SEEDER = '127.0.0.2';
const HONEST = '127.0.0.3';
const CONNECTIONS = 1000;
const ADDRESSES = 20;
/** Descriptors the seeder may hold beyond its baseline during the attack: the pending cap (50) and the honest peer, with room to spare. */
const FD_ALLOWANCE = 100;

test('connections that never handshake hold a bounded number of descriptors; an honest leecher is served meanwhile', async (t) => {
  const dir = await tempDir(t, 'hostile-pending-');
  const fx = await singleFileTorrent(dir, { name: 'payload.bin', length: 4 * 1024 * 1024 + 3000, pieceLength: 64 * 1024, seed: 14 });
  const seeder = await startSeeder(t, dir, fx, SEEDER);
  const fdBaseline = await fdCount(seeder.pid);

  const sockets: net.Socket[] = [];
  t.teardown(() => {
    for (const s of sockets) s.destroy();
  });
  let peakFds = fdBaseline;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peakFds = Math.max(peakFds, await fdCount(seeder.pid).catch(() => 0));
      await sleep(100);
    }
  })();

  // 1,000 silent connections (the seeder may close them: that is the point).
  const connected = await Promise.all(
    Array.from({ length: CONNECTIONS }, (_, i) => {
      const s = net.connect({ host: SEEDER, port: seeder.port, localAddress: `127.0.2.${1 + (i % ADDRESSES)}` });
      sockets.push(s);
      s.on('error', () => undefined);
      return within(
        new Promise<boolean>((resolve) => {
          s.once('connect', () => resolve(true));
          s.once('close', () => resolve(false));
        }),
        15_000,
        'a silent connection',
      ).catch(() => false);
    }),
  );
  t.log(`${connected.filter(Boolean).length} of ${CONNECTIONS} silent connections made`);

  // The honest leecher arrives while they are held.
  const honest = startHonestLeecher(t, dir, fx.torrentPath, HONEST, seeder);
  await honestServed(t, honest, fx, 50_000);
  // Held a little longer than the old 10 s handshake timeout, so descriptors are sampled across it.
  await sleep(3000);
  const stillOpen = sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;
  sampling = false;
  await sampler;
  t.log(`seeder descriptors: ${fdBaseline} at baseline, ${peakFds} at most during the attack; ${stillOpen} silent connections still open on the attacker's side`);
  t.true(peakFds - fdBaseline <= FD_ALLOWANCE, `descriptors bounded: peak ${peakFds}, baseline ${fdBaseline}`);

  for (const s of sockets) s.destroy();
  // Bounded: the seeder closes its ends as the resets come in; the check below says how far it got.
  await pollUntil(async () => (await fdCount(seeder.pid)) <= fdBaseline + 5, 'the seeder to close the sockets', 10_000, 100).catch(() => undefined);
  await aliveAndBackToBaseline(t, seeder, 'silent connections');
  const fds = await fdCount(seeder.pid);
  t.true(fds <= fdBaseline + 5, `descriptors back near the baseline: ${fds} vs ${fdBaseline}`);

  const lines = linesMatching(seeder.proc, /warn .*(waiting for their handshake|have not sent a handshake)/);
  t.true(lines.length >= 1, `the seeder said it sheds silent connections:\n${seeder.proc.stderr().slice(-3000)}`);
  t.true(lines.length <= ADDRESSES + 1, `one line per kind and address at most, not one per connection: ${lines.length}`);
  seeder.proc.kill('SIGTERM');
});
