/**
 * How web seeds pick their runs (src/session/web-seed.ts), against a real
 * PiecePicker and the loopback test server, with no torrent around them:
 * runs are contiguous pieces, never touch a piece at priority 0, take a
 * block another peer was asked for only in the endgame, and stay within
 * webSeedMaxRunBytes.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { buildTorrent } from '../src/metainfo/create.js';
import { parseTorrent } from '../src/metainfo/parse.js';
import { silentLogger } from '../src/log.js';
import { PiecePicker } from '../src/picker/piece-picker.js';
import { WebSeeds } from '../src/session/web-seed.js';
import { resolveSettings } from '../src/settings.js';
import { Bitfield } from '../src/util/bitfield.js';
import { TokenBucket } from '../src/util/token-bucket.js';
import { fixtureBytes, within } from './helpers/swarm.js';
import { startWebSeedServer } from './helpers/web-seed-server.js';

const BLOCK = 16384;
const PIECE = 2 * BLOCK;

function setup(pieces: number) {
  const data = fixtureBytes(pieces * PIECE - 100, 9);
  const hashes = Buffer.concat(Array.from({ length: pieces }, (_, i) => createHash('sha1').update(data.subarray(i * PIECE, (i + 1) * PIECE)).digest()));
  const info = parseTorrent(buildTorrent({ name: 'runs.bin', files: data.length, pieceLength: PIECE, pieces: hashes })).info;
  const picker = new PiecePicker({ pieceCount: pieces, pieceLength: PIECE, totalLength: data.length, blockBytes: BLOCK, have: new Bitfield(pieces) });
  return { data, info, picker };
}

test('runs are contiguous pieces within webSeedMaxRunBytes, skip priority-0 pieces, and take a block asked of a peer only in the endgame', async (t) => {
  const { data, info, picker } = setup(24);
  const server = await startWebSeedServer(t, { host: '127.0.0.41', files: new Map([['/runs.bin', data]]) });
  for (const i of [3, 4, 5, 17]) picker.setPriority(i, 0);
  // A peer (id 1) holds the first block of piece 10.
  const peerHas = new Bitfield(24);
  peerHas.set(10);
  const asked = picker.pick(1, peerHas, 1);
  t.deepEqual(asked, [{ index: 10, begin: 0, length: BLOCK }]);

  const got = new Map<number, Uint8Array>();
  const verified = new Set<number>();
  const senders = new Set<string>();
  const seeds = new WebSeeds([`${server.origin}/runs.bin`, 'ftp://nowhere.test/x'], {
    info,
    settings: resolveSettings({ webSeedMaxRunBytes: 4 * PIECE, webSeedRequestsInFlight: 2 }),
    picker,
    budget: new TokenBucket(0),
    onLimited: () => undefined,
    canRequest: () => true,
    deliver: (source, index, begin, block, sender) => {
      const r = picker.blockReceived(source, { index, begin, length: block.length });
      if (!r.accepted) return false;
      senders.add(sender);
      got.set(index * PIECE + begin, Uint8Array.from(block));
      if (r.pieceComplete) {
        picker.pieceVerified(index);
        verified.add(index);
      }
      return true;
    },
    isBanned: () => false,
    ban: () => t.fail('nothing to ban'),
    logger: silentLogger,
  });
  t.teardown(() => seeds.stop());
  t.is(seeds.size, 1, 'the ftp URL is not used');
  seeds.start();
  const wanted = Array.from({ length: 24 }, (_, i) => i).filter((i) => ![3, 4, 5, 17].includes(i));
  await within(
    (async () => {
      while (!wanted.every((i) => verified.has(i))) await new Promise((r) => setTimeout(r, 10));
    })(),
    10_000,
    'every wanted piece',
  );
  await new Promise((r) => setTimeout(r, 200));
  t.deepEqual([...senders], [`${server.origin}/runs.bin`]);
  // Piece 10: the web seed took its second block at once, and the first (the peer's, which never came) in the endgame.
  t.true(verified.has(10));
  t.true(got.has(10 * PIECE));
  const endgameAt = server.requests.findIndex((r) => Number(r.range!.slice('bytes='.length).split('-')[0]) === 10 * PIECE);
  t.is(endgameAt, server.requests.length - 1, 'the block asked of the peer is asked of the web seed last, in the endgame');
  for (const [at, block] of got) t.deepEqual(Buffer.from(block), data.subarray(at, at + block.length));
  for (const r of server.requests) {
    const [a, b] = r.range!.slice('bytes='.length).split('-').map(Number) as [number, number];
    t.true(b - a + 1 <= 4 * PIECE, `run ${r.range} within webSeedMaxRunBytes`);
    const first = Math.floor(a / PIECE);
    const last = Math.floor(b / PIECE);
    for (let i = first; i <= last; i++) t.false([3, 4, 5, 17].includes(i), `run ${r.range} touches piece ${i} at priority 0`);
  }
  t.true(
    server.requests.some((r) => {
      const [a, b] = r.range!.slice(6).split('-').map(Number) as [number, number];
      return b - a + 1 > PIECE;
    }),
    'some run spans several pieces',
  );
  seeds.stop();
  seeds.stop();
});
