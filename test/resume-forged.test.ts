/**
 * Issue 11 part 8: a resume state that claims a piece whose data on disk is
 * wrong (the data changed under a restored mtime, so the state is trusted
 * on start, as libtorrent trusts it). The built seeder hashes every piece it
 * had on start before its first upload: the bad piece is never sent (a raw
 * client asking for it gets nothing, and the piece next to it in its queue
 * is still served), an honest leecher completes byte-equal from another
 * seeder, the user gets one clear warning naming --recheck, and the next
 * start no longer claims the piece.
 */
import test from 'ava';
import { open, readFile, utimes } from 'node:fs/promises';
import path from 'node:path';
import { encodeMessage, type PeerMessage } from '../src/wire/messages.js';
import { spawnSync } from 'node:child_process';
import { PEER_BIN } from './helpers/bin.js';
import {
  closed,
  fixtureBytes,
  freePort,
  isComplete,
  isProgress,
  peerArgs,
  spawnPeer,
  tempDir,
  torrentOf,
  writeFixture,
} from './helpers/swarm.js';
import { connectRaw, torrentShape } from './helpers/wire-peer.js';

const PIECE = 32 * 1024;
const BAD = 5;
const NEXT = 6;
/** An mtime in whole seconds, restored after the data is changed: the fingerprint still matches. */
const MTIME = 1_700_000_000;

test('a forged resume state never makes the seeder serve unverified data', async (t) => {
  t.timeout(180_000);
  const dir = await tempDir(t);
  const content = fixtureBytes(32 * PIECE + 1000, 21);
  const file = path.join(dir, 'forged', 'payload.bin');
  await writeFixture(file, content);
  await utimes(file, MTIME, MTIME);
  const fx = await torrentOf(file, path.join(dir, 'payload.torrent'), PIECE);
  const state = path.join(dir, 'state-forged');

  // First run: the seeder verifies its data and saves a resume state claiming every piece.
  const port = await freePort(['127.0.0.2']);
  const seedArgs = ['seed', fx.torrentPath, '--data', file, ...peerArgs('127.0.0.2', port, state)];
  const first = spawnPeer(t, seedArgs);
  await first.waitFor(isProgress, 'the first run to be seeding');
  first.kill('SIGINT');
  t.is((await closed(first)).code, 0);

  // The data of one piece changes; its mtime is put back, so the state is trusted on the next start.
  const h = await open(file, 'r+');
  await h.write(Buffer.alloc(PIECE, 0xee), 0, PIECE, BAD * PIECE);
  await h.close();
  await utimes(file, MTIME, MTIME);
  const forgedBytes = Buffer.alloc(PIECE, 0xee);

  const seeder = spawnPeer(t, seedArgs);
  await seeder.waitFor(isProgress, 'the forged seeder to be seeding');

  // A raw client asks for the bad piece, then the one after it. It speaks BEP 6, so a request refused is answered (reject).
  const shape = torrentShape(fx.pieceLength, fx.totalLength);
  const raw = await connectRaw(t, { host: '127.0.0.2', port, localAddress: '127.0.0.9', infoHash: fx.meta.infoHash, shape, fast: true });
  await raw.handshake();
  raw.write(encodeMessage({ type: 'interested' }));
  await raw.waitMessage((m) => m.type === 'unchoke', 'an unchoke', 30_000);
  for (const index of [BAD, NEXT]) {
    for (let begin = 0; begin < PIECE; begin += 16384) raw.write(encodeMessage({ type: 'request', index, begin, length: 16384 }));
  }
  const isPiece = (m: PeerMessage, index: number): m is Extract<PeerMessage, { type: 'piece' }> => m.type === 'piece' && m.index === index;
  await raw.waitMessage((m) => isPiece(m, NEXT) && m.begin === 16384, 'the good piece after the bad one', 30_000);
  // Every request of the bad piece answered: a block of it sent before its reject would have arrived before it.
  for (let begin = 0; begin < PIECE; begin += 16384) {
    await raw.waitMessage((m) => (m.type === 'reject' || m.type === 'piece') && m.index === BAD && m.begin === begin, `an answer to the request of block ${begin} of the bad piece`, 30_000);
  }
  const sent = raw.messages.filter((m) => isPiece(m, BAD)) as Extract<PeerMessage, { type: 'piece' }>[];
  for (const m of sent) t.false(Buffer.from(m.block).equals(forgedBytes.subarray(0, m.block.length)), 'the forged bytes went out');
  t.is(sent.length, 0, 'nothing of the bad piece was served');
  const good = raw.messages.filter((m) => isPiece(m, NEXT)) as Extract<PeerMessage, { type: 'piece' }>[];
  t.true(Buffer.concat(good.map((m) => m.block)).equals(content.subarray(NEXT * PIECE, (NEXT + 1) * PIECE)), 'the good piece is served byte-equal');
  raw.destroy();

  // An honest leecher, with an honest second seeder: complete and byte-equal, no hash failure on its side.
  const honestFile = path.join(dir, 'honest', 'payload.bin');
  await writeFixture(honestFile, content);
  const honestPort = await freePort(['127.0.0.3']);
  spawnPeer(t, ['seed', fx.torrentPath, '--data', honestFile, ...peerArgs('127.0.0.3', honestPort, path.join(dir, 'state-honest'))]);
  const out = await tempDir(t);
  const leechPort = await freePort(['127.0.0.4']);
  const leecher = spawnPeer(t, [
    'leech', fx.torrentPath, '--out', out,
    ...peerArgs('127.0.0.4', leechPort, path.join(out, 'state'), ['--peer', `127.0.0.2:${port}`, '--peer', `127.0.0.3:${honestPort}`, '--exit-on-complete']),
  ]);
  await leecher.waitFor(isComplete, 'the honest leecher to complete');
  t.is((await closed(leecher)).code, 0);
  t.true((await readFile(path.join(out, 'payload.bin'))).equals(content), 'byte-equal');
  t.notRegex(leecher.stderr(), /failed its hash/, 'the leecher never received a bad piece');

  // One clear message for the user.
  const warnings = seeder.stderr().split('\n').filter((l) => /does not match its hash/.test(l));
  t.is(warnings.length, 1, seeder.stderr());
  t.regex(warnings[0] ?? '', new RegExp(`piece ${BAD} .*not served.*--recheck`));
  t.is(seeder.exit, undefined, 'the seeder is alive');
  seeder.kill('SIGINT');
  t.is((await closed(seeder)).code, 0);

  // The next start does not trust the piece again: seeding with a piece missing is an error...
  const refused = spawnPeer(t, seedArgs);
  t.is((await closed(refused)).code, 2, refused.describe());
  t.regex(refused.stderr(), new RegExp(`only ${fx.pieceCount - 1} of ${fx.pieceCount} pieces .*--allow-partial`));
  // ...unless asked for, and then the bad piece is not claimed.
  const again = spawnPeer(t, [...seedArgs, '--allow-partial']);
  const p = await again.waitFor(isProgress, 'the third run to report progress');
  t.is(p.have, fx.pieceCount - 1, 'the bad piece is no longer claimed');
  again.kill('SIGINT');
  t.is((await closed(again)).code, 0);
});

test('--recheck is documented in seed and leech --help', (t) => {
  for (const cmd of ['seed', 'leech']) {
    const help = spawnSync(process.execPath, [PEER_BIN, cmd, '--help'], { encoding: 'utf8' }).stdout.replace(/\s+/g, ' ');
    t.regex(help, /--recheck .*verify every piece.*hashed before its first upload/, `${cmd} --help`);
  }
});
