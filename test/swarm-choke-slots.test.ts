/**
 * A seeder gives a freed upload slot to a waiting peer at once, not at the
 * next choke round (10 s): when an unchoked peer leaves or loses interest
 * (e.g. it completed), a choked interested peer is unchoked.
 */
import test from 'ava';
import path from 'node:path';
import { encodeMessage, type PeerMessage } from '../src/wire/messages.js';
import { torrentShape } from '../src/wire/validate.js';
import { freePort, peerArgs, singleFileTorrent, spawnPeer, tempDir } from './helpers/swarm.js';
import { connectRaw, waitPeerReady, type RawPeer } from './helpers/wire-peer.js';

const PIECE = 32 * 1024;

test('a slot freed by a peer leaving or losing interest goes to a waiting peer at once', async (t) => {
  t.timeout(90_000);
  const dir = await tempDir(t, 'choke-slots-');
  const fx = await singleFileTorrent(dir, { length: 8 * PIECE, pieceLength: PIECE });
  const shape = torrentShape(PIECE, fx.totalLength);
  const port = await freePort(['127.0.0.1']);
  spawnPeer(t, ['seed', fx.torrentPath, '--data', fx.contentPath, ...peerArgs('127.0.0.1', port, path.join(dir, 'state'))]);
  await waitPeerReady(t, '127.0.0.1', port, fx.meta.infoHash, shape, '127.0.0.1', 60_000);

  // Interested peers, one per address, until one is left choked (4 regular slots + 1 optimistic).
  const peers: RawPeer[] = [];
  const unchoked = (p: RawPeer): boolean => p.messages.some((m) => m.type === 'unchoke');
  for (let i = 0; i < 7; i++) {
    // BEP 6 (fast): a request while choked is answered with a reject, which tells when the seeder has read our interest.
    const raw = await connectRaw(t, { host: '127.0.0.1', port, localAddress: `127.0.0.${20 + i}`, infoHash: fx.meta.infoHash, shape, fast: true });
    await raw.handshake();
    raw.write(encodeMessage({ type: 'interested' }));
    peers.push(raw);
  }
  await Promise.all(peers.slice(0, 5).map((p) => p.waitMessage((m) => m.type === 'unchoke', 'an unchoke of one of the first five')));
  // The seeder unchokes on interest at once, or not: an answer to a request sent after the interest settles it.
  const answered = (m: PeerMessage): boolean => (m.type === 'reject' || m.type === 'piece') && m.index === 0 && m.begin === 0;
  for (const p of peers.filter((x) => !unchoked(x))) p.write(encodeMessage({ type: 'request', index: 0, begin: 0, length: 16384 }));
  await Promise.all(peers.filter((x) => !unchoked(x)).map((p) => p.waitMessage(answered, 'an answer to a request of a waiting peer')));
  const waiting = peers.filter((p) => !unchoked(p));
  t.is(waiting.length, 2, 'two peers wait for a slot');

  // One unchoked peer loses interest: a waiting one gets its slot.
  const holders = peers.filter(unchoked);
  holders[0]!.write(encodeMessage({ type: 'not-interested' }));
  await Promise.race(waiting.map((p) => p.waitMessage((m) => m.type === 'unchoke', 'the freed slot (not interested)', 8_000)));
  const still = waiting.filter((p) => !unchoked(p));
  t.is(still.length, 1);

  // Another leaves: the last waiting peer gets its slot.
  holders[1]!.destroy();
  await still[0]!.waitMessage((m) => m.type === 'unchoke', 'the freed slot (peer left)', 8_000);
  t.pass();
});
