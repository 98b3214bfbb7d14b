/**
 * Issue 11 part 7: the built `peer tracker` fed 10,000 made-up info-hashes
 * from 250 source addresses (127.0.2.x, each HTTP client bound to its own
 * address) stays open to new swarms. Before, the table filled and every new
 * swarm afterwards was refused with "too many torrents".
 *
 * Checked: a new swarm from a new address is recorded (its second peer is
 * given the first), an honest swarm formed before the flood keeps serving
 * its peers during it, the process is alive, its RSS is within 50 MB of the
 * baseline (taken after honest traffic at the flood's rate), and stderr says
 * it in a few clear lines rather than one per announce.
 */
import test from 'ava';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { buildAnnounceUrl, parseAnnounceReply, type AnnounceReply } from '../src/tracker/http-codec.js';
import { settledRss } from './helpers/proc.js';
import { pollUntil } from './helpers/poll.js';
import { freePort, spawnPeer, WAIT_MS } from './helpers/swarm.js';

const ADDRESSES = 250;
const TORRENTS = 10_000;
const MB = 1024 * 1024;

/** One announce over HTTP from `localAddress`; the reply parsed (a failure reason throws). */
function announce(agent: http.Agent, base: string, localAddress: string, infoHash: Uint8Array, peerId: Uint8Array, port: number): Promise<AnnounceReply> {
  const url = buildAnnounceUrl(base, { infoHash, peerId, port, uploaded: 0, downloaded: 0, left: 1000, event: 'started' });
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, localAddress }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve(parseAnnounceReply(Buffer.concat(chunks)));
        } catch (err) {
          reject(err as Error);
        }
      });
    });
    req.on('error', reject);
    req.setTimeout(20_000, () => req.destroy(new Error('announce timed out')));
  });
}

test('a flood of 10,000 info-hashes from 250 addresses leaves the tracker open to a new swarm', async (t) => {
  t.timeout(240_000);
  const port = await freePort(['127.0.0.1']);
  const tracker = spawnPeer(t, ['tracker', '--host', '127.0.0.1', '--port', String(port)]);
  await pollUntil(() => tracker.stdout().includes('tracker listening'), 'the tracker to listen', WAIT_MS);
  const base = `http://127.0.0.1:${port}/announce`;
  const pid = tracker.child.pid!;
  const agents: http.Agent[] = [];
  const agent = (): http.Agent => {
    const a = new http.Agent({ keepAlive: true, maxSockets: 1 });
    agents.push(a);
    return a;
  };
  t.teardown(() => agents.forEach((a) => a.destroy()));

  // An honest swarm of two ordinary peers, formed before the flood.
  const honestHash = randomBytes(20);
  const honest = [
    { addr: '127.0.3.1', id: randomBytes(20), port: 7001, agent: agent() },
    { addr: '127.0.3.2', id: randomBytes(20), port: 7002, agent: agent() },
  ];
  for (const h of honest) await announce(h.agent, base, h.addr, honestHash, h.id, h.port);

  // Honest traffic of the flood's shape first (250 addresses, 40 announces each, into 10 swarms):
  // V8 sizes its young generation to the request rate, so the baseline is a tracker that has
  // served such a rate, and what the flood adds on top is what it leaves behind.
  const lanHashes = Array.from({ length: 10 }, () => randomBytes(20));
  await Promise.all(
    Array.from({ length: ADDRESSES }, async (_, i) => {
      const a = agent();
      const id = randomBytes(20);
      for (let k = 0; k < TORRENTS / ADDRESSES; k++) await announce(a, base, `127.0.5.${i + 1}`, lanHashes[k % 10]!, id, 6881);
      a.destroy();
    }),
  );
  const baseline = await settledRss(pid, 3000);

  // The flood: 40 made-up info-hashes from each of 250 addresses, all at once.
  let refused = 0;
  let honestDuring: AnnounceReply | undefined;
  const perAddress = TORRENTS / ADDRESSES;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: ADDRESSES }, async (_, i) => {
      const addr = `127.0.2.${i + 1}`;
      const a = agent();
      const id = randomBytes(20);
      for (let k = 0; k < perAddress; k++) {
        try {
          await announce(a, base, addr, randomBytes(20), id, 6881);
        } catch {
          refused++;
        }
        // Half-way, an honest peer re-announces and must still be given its partner.
        if (i === 0 && k === perAddress / 2) honestDuring = await announce(honest[0]!.agent, base, honest[0]!.addr, honestHash, honest[0]!.id, honest[0]!.port);
      }
    }),
  );
  t.log(`flood: ${TORRENTS} announces from ${ADDRESSES} addresses in ${Date.now() - started} ms, ${refused} refused`);
  t.deepEqual(honestDuring?.peers.map((p) => `${p.host}:${p.port}`), ['127.0.3.2:7002'], 'the honest peer was served during the flood');

  // A new swarm from a new address afterwards: recorded, and its next peer finds it.
  const fresh = randomBytes(20);
  const first = await announce(agent(), base, '127.0.4.1', fresh, randomBytes(20), 8001);
  t.is(first.warning, undefined);
  const second = await announce(agent(), base, '127.0.4.2', fresh, randomBytes(20), 8002);
  t.deepEqual(second.peers.map((p) => `${p.host}:${p.port}`), ['127.0.4.1:8001'], 'the new swarm was accepted and recorded');
  // The honest swarm survived the flood.
  const after = await announce(honest[1]!.agent, base, honest[1]!.addr, honestHash, honest[1]!.id, honest[1]!.port);
  t.deepEqual(after.peers.map((p) => `${p.host}:${p.port}`), ['127.0.3.1:7001']);

  agents.forEach((a) => a.destroy());
  t.is(tracker.exit, undefined, 'the tracker is alive');
  const rss = await settledRss(pid, 3000);
  t.log(`RSS: baseline ${(baseline / MB).toFixed(1)} MB, after the flood ${(rss / MB).toFixed(1)} MB`);
  t.true(rss - baseline < 50 * MB, `RSS grew by ${((rss - baseline) / MB).toFixed(1)} MB`);

  // One clear message, not one per announce.
  const lines = tracker.stderr().split('\n').filter(Boolean);
  t.log(lines.join('\n'));
  t.true(lines.some((l) => /tracker: full \(10000 torrents\)/.test(l)), 'the user is told the tracker is full and evicting');
  t.true(lines.length <= 5, `${lines.length} lines on stderr`);
  tracker.kill('SIGINT');
  t.is((await tracker.waitExit()).code, 0);
});
