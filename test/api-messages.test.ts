/**
 * Peer messages through the API (`GET/POST /api/messages`) and the `peer
 * message` command, which talks to a running daemon's API. Validation and
 * status mapping run against a stubbed sending side (two fake peers); the
 * last test is a real exchange between two sessions on 127.0.0.2 and .3.
 */
import test, { type ExecutionContext } from 'ava';
import path from 'node:path';
import { UsageError } from '../src/errors.js';
import type { PeerMessageRecord, SessionLike } from '../src/api/session-like.js';
import { closed, singleFileTorrent, spawnPeer } from './helpers/swarm.js';
import { pollUntil } from './helpers/poll.js';
import { request, startApi, startSession, withExtras, type RawResponse } from './api-fixtures.js';

const PEER_A = '127.0.0.7:6881';
const PEER_B = '127.0.0.8:6881';

function isError(t: ExecutionContext, res: RawResponse, status: number, pattern?: RegExp): void {
  t.is(res.status, status, res.text);
  const body = res.json() as { error?: unknown };
  t.is(typeof body.error, 'string');
  if (pattern) t.regex(String(body.error), pattern);
}

/** A session whose messaging is a stub with two connected peers. */
async function stubbed(t: ExecutionContext, token?: string) {
  const { session, dir } = await startSession(t);
  const sent: [string, string][] = [];
  const messages: PeerMessageRecord[] = [{ from: PEER_A, text: 'hello from A', at: 1_700_000_000_000, infoHash: 'a'.repeat(40) }];
  const extended: SessionLike = withExtras(session, {
    messages,
    sendMessage(to: string, text: string): number {
      if (text === 'flood') throw new UsageError('message rate limit reached: slow down');
      const targets = to === 'all' ? [PEER_A, PEER_B] : [PEER_A, PEER_B].filter((p) => p === to);
      for (const p of targets) sent.push([p, text]);
      return targets.length;
    },
  });
  const api = await startApi(t, extended, dir, token ? { token } : {});
  return { api, port: api.port, sent, messages };
}

const post = (port: number, body: unknown, headers: Record<string, string> = {}) =>
  request(port, { method: 'POST', path: '/api/messages', headers: { 'Content-Type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

test('GET /api/messages lists received messages; POST sends to one peer or all', async (t) => {
  const { port, sent } = await stubbed(t);
  t.deepEqual((await request(port, { path: '/api/messages' })).json(), {
    messages: [{ from: PEER_A, text: 'hello from A', at: 1_700_000_000_000, infoHash: 'a'.repeat(40) }],
  });
  t.deepEqual((await post(port, { to: 'all', text: 'hi everyone' })).json(), { to: 'all', sent: 2 });
  t.deepEqual((await post(port, { to: PEER_B, text: 'hi B' })).json(), { to: PEER_B, sent: 1 });
  const max = 'é'.repeat(512); // 1024 bytes of UTF-8: the most a message holds
  t.is((await post(port, { to: PEER_A, text: max })).status, 200);
  t.deepEqual(sent, [[PEER_A, 'hi everyone'], [PEER_B, 'hi everyone'], [PEER_B, 'hi B'], [PEER_A, max]]);
});

test('POST /api/messages refuses missing fields, bad addresses, over-long text, unknown peers; maps a rate limit to 429', async (t) => {
  const { port, sent } = await stubbed(t);
  isError(t, await post(port, { text: 'x' }), 400, /missing field "to"/);
  isError(t, await post(port, { to: 'all' }), 400, /missing field "text"/);
  isError(t, await post(port, { to: 'all', text: '' }), 400, /non-empty/);
  isError(t, await post(port, { to: 'all', text: 7 }), 400, /string/);
  isError(t, await post(port, { to: 'nobody', text: 'x' }), 400, /host:port/);
  isError(t, await post(port, { to: 42, text: 'x' }), 400, /host:port/);
  isError(t, await post(port, { to: 'all', text: 'é'.repeat(513) }), 400, /1026 bytes.*1024/);
  isError(t, await post(port, '{"to":'), 400, /JSON/);
  isError(t, await post(port, { to: '127.0.0.9:1', text: 'x' }), 404, /no connected peer/);
  isError(t, await post(port, { to: 'all', text: 'flood' }), 429, /rate limit/);
  isError(t, await request(port, { method: 'DELETE', path: '/api/messages' }), 405);
  t.deepEqual(sent, []);
});

test('without messaging in the session: GET lists nothing, POST answers 503', async (t) => {
  const { session, dir } = await startSession(t);
  const api = await startApi(t, withExtras(session, { sendMessage: undefined, messages: undefined }), dir);
  t.deepEqual((await request(api.port, { path: '/api/messages' })).json(), { messages: [] });
  isError(t, await post(api.port, { to: 'all', text: 'x' }), 503, /cannot send/);
});

test('peer message sends through the daemon API: --json output, --token, and exit codes', async (t) => {
  const token = 'cli-test-token-0123456789';
  const { port, sent } = await stubbed(t, token);
  const ok = spawnPeer(t, ['message', 'all', 'hello swarm', '--api-port', String(port), '--token', token, '--json']);
  t.deepEqual(await closed(ok), { code: 0, signal: null }, ok.describe());
  t.deepEqual(ok.events, [{ to: 'all', sent: 2 }] as never);
  t.deepEqual(sent, [[PEER_A, 'hello swarm'], [PEER_B, 'hello swarm']]);

  const viaUrl = spawnPeer(t, ['message', PEER_A, 'direct', '--api', `http://127.0.0.1:${port}`], { env: { PEER_API_TOKEN: token } });
  t.deepEqual(await closed(viaUrl), { code: 0, signal: null }, viaUrl.describe());
  t.is(viaUrl.stdout(), 'sent to 1 peer\n');

  const noToken = spawnPeer(t, ['message', 'all', 'x', '--api-port', String(port)], { env: { PEER_API_TOKEN: '' } });
  t.is((await closed(noToken)).code, 2, noToken.describe());
  t.regex(noToken.stderr(), /HTTP 401/);

  const unknownPeer = spawnPeer(t, ['message', '127.0.0.9:1', 'x', '--api-port', String(port), '--token', token]);
  t.is((await closed(unknownPeer)).code, 1, unknownPeer.describe());
  t.regex(unknownPeer.stderr(), /no connected peer/);

  const tooLong = spawnPeer(t, ['message', 'all', 'x'.repeat(1025), '--api-port', String(port), '--token', token]);
  t.is((await closed(tooLong)).code, 2, tooLong.describe());
  t.regex(tooLong.stderr(), /1025 bytes/);

  const badTo = spawnPeer(t, ['message', 'somebody', 'x', '--api-port', String(port)]);
  t.is((await closed(badTo)).code, 2, badTo.describe());

  t.is(sent.length, 3, 'only the two good commands sent anything');
});

test('peer message with no daemon listening exits 1 and says so', async (t) => {
  // A port that was free a moment ago: nothing listens there.
  const { port } = await (async () => {
    const { session, dir } = await startSession(t);
    const api = await startApi(t, session, dir);
    const p = api.port;
    await api.stop();
    return { port: p };
  })();
  const p = spawnPeer(t, ['message', 'all', 'anyone?', '--api-port', String(port)]);
  t.is((await closed(p)).code, 1, p.describe());
  t.regex(p.stderr(), /cannot reach the daemon's API/);
});

test('two sessions exchange a message over the BEP 10 extension, sent and listed through their APIs', async (t) => {
  const { session: seeder, dir } = await startSession(t, { host: '127.0.0.2' });
  // Messages travel on live connections, and two seeds hang up on each other: the download is
  // slowed (16 KiB/s, about 12 s for the file) so the connection is still there when we send.
  const { session: leecher } = await startSession(t, { host: '127.0.0.3', dir, downloadLimit: 16384 });
  const fx = await singleFileTorrent(path.join(dir, 'fx'), { name: 'chat.bin', length: 200_000, pieceLength: 16384 });
  await seeder.addTorrent(fx.meta, { contentPath: fx.contentPath, mode: 'seed' });
  await leecher.addTorrent(fx.meta, { contentPath: path.join(dir, 'out', 'chat.bin'), mode: 'leech', peers: [{ host: '127.0.0.2', port: seeder.port }] });
  const apiSeed = await startApi(t, seeder, path.join(dir, 'api-seed'));
  const apiLeech = await startApi(t, leecher, path.join(dir, 'api-leech'));
  await pollUntil(() => (leecher.torrent(fx.infoHashHex)!.stats().peers > 0 ? true : undefined), 'the leecher connected to the seeder', 30_000);
  // The extension handshake may still be under way: retry until a peer takes the message.
  await pollUntil(async () => ((await post(apiLeech.port, { to: 'all', text: 'hello seeder' })).json().sent > 0 ? true : undefined), 'a peer took the message', 30_000, 200);
  const got = await pollUntil(async () => {
    const list = (await request(apiSeed.port, { path: '/api/messages' })).json().messages as PeerMessageRecord[];
    return list.find((m) => m.text === 'hello seeder');
  }, 'the seeder listed the message', 30_000, 200);
  t.regex(got.from, /^127\.0\.0\.3:/);
  t.true(typeof got.at === 'number');
});
