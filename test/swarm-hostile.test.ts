/**
 * Hostile frames against our seeder (issue 3): raw connections that send a
 * valid handshake and then a 2^31 length prefix, garbage, a request past the
 * end, a bitfield with spare bits set. Each such connection is closed by the
 * seeder, the seeder lives on, and a leecher transferring from it at the
 * same time completes with the right data.
 *
 * The leecher reaches the seeder through a gate proxy that holds half of
 * the content back, so its transfer is certainly in progress while the
 * hostile connections come and go.
 */
import test from 'ava';
import path from 'node:path';
import { closed, freePort, isComplete, peerArgs, singleFileTorrent, spawnPeer, tempDir, treeDigest, within } from './helpers/swarm.js';
import { pollUntil } from './helpers/poll.js';
import { connectRaw, startGateProxy, torrentShape, waitPeerReady, type RawPeer } from './helpers/wire-peer.js';
import { encodeMessage } from '../src/wire/messages.js';
import { Bitfield } from '../src/util/bitfield.js';

const SEEDER = '127.0.0.2';
const LEECHER = '127.0.0.3';
const PROXY = '127.0.0.5';
const ATTACKER = '127.0.0.6';

const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

test('hostile frames close only their own connection; the seeder lives and a concurrent transfer completes', async (t) => {
  const dir = await tempDir(t);
  // 61 pieces (not a multiple of 8: the bitfield has 3 spare bits), the last one 5000 bytes.
  const fx = await singleFileTorrent(dir, { name: 'target.bin', length: 60 * 65536 + 5000, pieceLength: 65536, seed: 9 });
  const shape = torrentShape(fx.pieceLength, fx.totalLength);
  t.is(shape.pieceCount % 8, 5);
  const port = await freePort([SEEDER, LEECHER]);
  const seeder = spawnPeer(t, ['seed', fx.torrentPath, '--data', fx.contentPath, ...peerArgs(SEEDER, port, path.join(dir, 'state-seed'))]);
  await waitPeerReady(t, SEEDER, port, fx.meta.infoHash, shape);

  // A leecher, held half-way by the proxy.
  const proxy = await startGateProxy(t, { host: PROXY, target: { host: SEEDER, port }, budget: Math.floor(fx.totalLength / 2) });
  const out = path.join(dir, 'out');
  const leecher = spawnPeer(t, [
    'leech',
    fx.torrentPath,
    '--out',
    out,
    '--exit-on-complete',
    ...peerArgs(LEECHER, port, path.join(dir, 'state-leech'), ['--peer', `${PROXY}:${proxy.port}`]),
  ]);
  await pollUntil(() => (proxy.holding ? true : undefined), 'the leecher to be half-way');

  const refusals = (): number => (seeder.stderr().match(/ warn .*protocol error/g) ?? []).length;
  const connect = (sendHandshake = true): Promise<RawPeer> =>
    connectRaw(t, { host: SEEDER, port, localAddress: ATTACKER, infoHash: fx.meta.infoHash, shape, sendHandshake });

  // A well-behaved raw peer: it must outlive every hostile one.
  const control = await connect();
  await control.handshake();
  control.write(encodeMessage({ type: 'keep-alive' }));

  const lastPiece = shape.pieceCount - 1;
  const lastSize = fx.totalLength - lastPiece * fx.pieceLength;
  const spare = new Bitfield(shape.pieceCount).toBytes();
  spare[spare.length - 1]! |= 0x01; // bit 63: past piece 60
  const cases: { name: string; bytes: Uint8Array; unchokedFirst?: boolean }[] = [
    { name: 'a 2^31 length prefix', bytes: Buffer.concat([u32(2 ** 31), Buffer.alloc(64, 0x41)]) },
    { name: 'a 2^32-1 length prefix', bytes: u32(0xffffffff) },
    { name: 'garbage (an HTTP request)', bytes: Buffer.from('GET /announce?info_hash=x HTTP/1.1\r\nHost: 127.0.0.2\r\n\r\n', 'latin1') },
    { name: 'garbage (0xff bytes)', bytes: Buffer.alloc(256, 0xff) },
    { name: 'a have with a 2-byte payload', bytes: Buffer.from([0, 0, 0, 3, 4, 0xff, 0xff]) },
    {
      name: 'a request past the end of the last piece',
      bytes: encodeMessage({ type: 'request', index: lastPiece, begin: lastSize - 100, length: 16384 }),
      unchokedFirst: true,
    },
    { name: 'a request past the end of a full piece', bytes: encodeMessage({ type: 'request', index: 0, begin: fx.pieceLength - 8192, length: 16384 }), unchokedFirst: true },
    { name: 'a request for a piece index out of range', bytes: encodeMessage({ type: 'request', index: shape.pieceCount, begin: 0, length: 16384 }), unchokedFirst: true },
    { name: 'a bitfield with a spare bit set', bytes: encodeMessage({ type: 'bitfield', bytes: spare }) },
  ];
  for (const c of cases) {
    const raw = await connect();
    await raw.handshake(); // accepted as a peer of the torrent: a close after this is the frame's doing
    if (c.unchokedFirst) {
      raw.write(encodeMessage({ type: 'interested' }));
      await raw.waitMessage((m) => m.type === 'unchoke', `an unchoke before sending ${c.name}`);
    }
    const before = refusals();
    raw.write(c.bytes);
    await t.notThrowsAsync(within(raw.closed, 15_000, `the seeder to close the connection that sent ${c.name}`), c.name);
    // Closed for this frame, and said so at warn (not, say, as a duplicate peer).
    await t.notThrowsAsync(pollUntil(() => (refusals() > before ? true : undefined), `a warn line refusing ${c.name}`, 15_000), seeder.stderr());
  }

  // Not even a handshake: garbage from the first byte.
  const noHandshake = await connect(false);
  noHandshake.write(Buffer.alloc(100, 0x13));
  await t.notThrowsAsync(within(noHandshake.closed, 15_000, 'the seeder to close a connection that sent garbage instead of a handshake'));

  t.false(control.isClosed(), 'a well-behaved connection is still open');
  t.is(seeder.exit, undefined, `the seeder is alive\n${seeder.describe()}`);
  t.is(refusals(), cases.length, `one warn line per refused connection:\n${seeder.stderr()}`);
  await waitPeerReady(t, SEEDER, port, fx.meta.infoHash, shape, ATTACKER, 15_000); // still answers new peers
  control.destroy();

  // The held transfer carries on to the end.
  t.is(leecher.exit, undefined, 'the leecher was still running while the hostile frames came');
  proxy.open();
  t.deepEqual(await closed(leecher), { code: 0, signal: null }, leecher.describe());
  t.truthy(leecher.events.find(isComplete), leecher.stdout());
  t.deepEqual([...(await treeDigest(path.join(out, fx.meta.info.name)))], [...(await treeDigest(fx.contentPath))], 'content byte-equal');

  seeder.kill('SIGTERM');
  t.deepEqual(await closed(seeder), { code: 0, signal: null }, seeder.describe());
});
