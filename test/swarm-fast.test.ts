/**
 * BEP 6 at the level of a whole download: our built leecher against a
 * scripted seeder that negotiates the fast extension and then
 * - never unchokes, but allows two pieces fast: only those are requested;
 * - rejects the first requests it gets: they are asked again and the
 *   download completes byte-equal;
 * - suggests a piece: it is requested first.
 */
import test from 'ava';
import net from 'node:net';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { encodeHandshake, HandshakeReader } from '../src/wire/handshake.js';
import { decodeMessage, encodeMessage, encodePieceHeader, type PeerMessage } from '../src/wire/messages.js';
import { FrameDecoder, maxFrameBytesFor } from '../src/wire/framer.js';
import { torrentShape } from '../src/wire/validate.js';
import { fileSha1, freePort, isComplete, peerArgs, singleFileTorrent, spawnPeer, tempDir, type Teardown, type TorrentFixture } from './helpers/swarm.js';
import { pollUntil } from './helpers/poll.js';
import { testPeerId } from './helpers/wire-peer.js';

const PIECE = 32 * 1024;
const SIZE = 8 * PIECE - 1000; // 8 pieces, a short last one

type Request = Extract<PeerMessage, { type: 'request' }>;

interface Script {
  /** Sent after have_all. */
  opening: PeerMessage[];
  /** Unchoke when the leecher is interested. */
  unchoke: boolean;
  /** Reject the first N requests instead of serving them. */
  rejectFirst: number;
}

interface ScriptedSeeder {
  port: number;
  /** Every request received, in order, with whether we were choking then. */
  readonly requests: { req: Request; choked: boolean }[];
  readonly rejected: Request[];
  /** Whether the remote set the fast bit in its handshake. */
  remoteFast: boolean | undefined;
}

/** A seeder of `fx` on 127.0.0.1 that speaks BEP 6 and follows `script`. */
async function scriptedSeeder(t: Teardown, fx: TorrentFixture, script: Script): Promise<ScriptedSeeder> {
  const data = await readFile(fx.contentPath);
  const shape = torrentShape(fx.pieceLength, fx.totalLength);
  const port = await freePort(['127.0.0.1']);
  const state: ScriptedSeeder = { port, requests: [], rejected: [], remoteFast: undefined };
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const reader = new HandshakeReader();
    const decoder = new FrameDecoder({ maxFrameBytes: maxFrameBytesFor(shape.pieceLength, shape.pieceCount) });
    let shaken = false;
    let choking = true;
    const send = (m: PeerMessage): void => void socket.write(encodeMessage(m));
    socket.on('data', (chunk: Buffer) => {
      let rest: Uint8Array = chunk;
      if (!shaken) {
        const r = reader.push(chunk);
        if (!r) return;
        shaken = true;
        state.remoteFast = reader.handshake!.fast;
        socket.write(encodeHandshake({ infoHash: fx.meta.infoHash, peerId: testPeerId('fast'), extensionProtocol: false, fast: true }));
        send({ type: 'have-all' });
        for (const m of script.opening) send(m);
        rest = r;
      }
      for (const f of decoder.push(Uint8Array.from(rest))) {
        const m = decodeMessage(f);
        if (m.type === 'interested' && script.unchoke && choking) {
          choking = false;
          send({ type: 'unchoke' });
        } else if (m.type === 'request') {
          state.requests.push({ req: m, choked: choking });
          if (state.rejected.length < script.rejectFirst) {
            state.rejected.push(m);
            send({ type: 'reject', index: m.index, begin: m.begin, length: m.length });
            continue;
          }
          const at = m.index * shape.pieceLength + m.begin;
          socket.write(encodePieceHeader(m.index, m.begin, m.length));
          socket.write(data.subarray(at, at + m.length));
        }
      }
    });
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port }, () => resolve()));
  t.teardown(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return state;
}

async function setup(t: Teardown, length = SIZE): Promise<{ dir: string; fx: TorrentFixture }> {
  const dir = await tempDir(t, 'swarm-fast-');
  const fx = await singleFileTorrent(dir, { length, pieceLength: PIECE, seed: 11 });
  return { dir, fx };
}

async function leech(t: Teardown, dir: string, fx: TorrentFixture, seederPort: number, extra: string[] = []) {
  const port = await freePort(['127.0.0.2']);
  return spawnPeer(t, ['leech', fx.torrentPath, '--out', path.join(dir, 'out'), '--peer', `127.0.0.1:${seederPort}`, ...peerArgs('127.0.0.2', port, path.join(dir, 'state'), extra)]);
}

test('choked by a fast seeder, the leecher requests only the allowed-fast pieces', async (t) => {
  t.timeout(90_000);
  const { dir, fx } = await setup(t);
  const seeder = await scriptedSeeder(t, fx, { opening: [{ type: 'allowed-fast', index: 2 }, { type: 'allowed-fast', index: 5 }], unchoke: false, rejectFirst: 0 });
  const leecher = await leech(t, dir, fx, seeder.port);
  // Both allowed pieces arrive (every block of them is requested), though the seeder never unchokes.
  const blocksPerPiece = PIECE / (16 * 1024);
  await pollUntil(() => (seeder.requests.length >= 2 * blocksPerPiece ? true : undefined), 'the requests of both allowed pieces', 30_000);
  await leecher.waitFor((e) => e.event === 'progress' && e.have === 2, 'two verified pieces', 30_000);
  t.true(seeder.remoteFast, 'our leecher set the fast bit');
  t.true(seeder.requests.every((r) => r.choked), 'every request came while choked');
  t.deepEqual([...new Set(seeder.requests.map((r) => r.req.index))].sort(), [2, 5], 'only the allowed-fast pieces were requested');
  t.is(leecher.exit, undefined, 'the leecher is still waiting for the rest');
});

test('rejected requests are asked again and the download completes byte-equal', async (t) => {
  t.timeout(90_000);
  const { dir, fx } = await setup(t);
  const seeder = await scriptedSeeder(t, fx, { opening: [], unchoke: true, rejectFirst: 5 });
  const leecher = await leech(t, dir, fx, seeder.port, ['--exit-on-complete']);
  await leecher.waitFor(isComplete, 'the complete event', 60_000);
  t.is((await leecher.waitExit(30_000)).code, 0, leecher.describe());
  t.is(await fileSha1(path.join(dir, 'out', 'payload.bin')), await fileSha1(fx.contentPath));
  t.is(seeder.rejected.length, 5);
  for (const r of seeder.rejected) {
    const again = seeder.requests.filter((x) => x.req.index === r.index && x.req.begin === r.begin);
    t.true(again.length >= 2, `block ${r.index}:${r.begin} was requested again after its reject`);
  }
});

test('a suggested piece is requested first', async (t) => {
  t.timeout(90_000);
  // 64 pieces of equal rarity: without the hint the picker starts with a random one.
  const { dir, fx } = await setup(t, 64 * PIECE);
  const seeder = await scriptedSeeder(t, fx, { opening: [{ type: 'suggest', index: 37 }], unchoke: true, rejectFirst: 0 });
  const leecher = await leech(t, dir, fx, seeder.port, ['--exit-on-complete']);
  await leecher.waitFor(isComplete, 'the complete event', 60_000);
  const first = seeder.requests.slice(0, PIECE / (16 * 1024)).map((r) => r.req.index);
  t.deepEqual(first, [37, 37], 'every block of the suggested piece was asked for before any other');
});
