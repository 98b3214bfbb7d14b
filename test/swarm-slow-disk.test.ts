/**
 * A disk slower than the network must not turn into memory: a leecher
 * stops requesting once `maxUnwrittenBytes` of pieces wait to be written,
 * and goes on when the writes drain.
 */
import test from 'ava';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { MemoryStore } from '../src/storage/memory-store.js';
import { tempDir } from './helpers/swarm.js';
import { startLocalSession, torrentOfBytes, waitComplete } from './helpers/in-process.js';
import { pollUntil } from './helpers/poll.js';

const PIECE = 32 * 1024; // two blocks
const PIECES = 160;

/** A MemoryStore whose writes wait until the gate opens; counts writes waiting at once. */
class GatedStore extends MemoryStore {
  waiting = 0;
  maxWaiting = 0;
  #open = false;
  #release: Array<() => void> = [];

  override async writePiece(index: number, data: Uint8Array): Promise<void> {
    if (!this.#open) {
      this.waiting++;
      this.maxWaiting = Math.max(this.maxWaiting, this.waiting);
      await new Promise<void>((r) => this.#release.push(r));
      this.waiting--;
    }
    return super.writePiece(index, data);
  }

  openGate(): void {
    this.#open = true;
    for (const r of this.#release.splice(0)) r();
  }
}

test('with writes stalled, a leecher holds at most maxUnwrittenBytes (plus what was in flight), then completes when they resume', async (t) => {
  const dir = await tempDir(t, 'swarm-slow-disk-');
  const data = randomBytes(PIECES * PIECE);
  const file = join(dir, 'payload.bin');
  await writeFile(file, data);
  const metainfo = torrentOfBytes(data, PIECE);
  const seed = await startLocalSession(t, '127.0.0.2', dir);
  await seed.addTorrent(metainfo, { contentPath: file, mode: 'seed' });

  // At most 4 pieces unwritten, and at most 8 blocks (4 pieces) requested at a time.
  const leech = await startLocalSession(t, '127.0.0.3', dir, { maxUnwrittenBytes: 4 * PIECE, initialQueueDepth: 8, maxQueueDepth: 8 });
  const store = new GatedStore({ info: metainfo.info });
  const torrent = await leech.addTorrent(metainfo, { contentPath: join(dir, 'out.bin'), mode: 'leech', store, peers: [{ host: '127.0.0.2', port: seed.port }] });

  // Let it run against the closed gate until nothing more arrives (the same count 300 ms apart).
  let last = -1;
  await pollUntil(
    () => {
      const now = torrent.stats().downloaded;
      const stalled = now === last;
      last = now;
      return stalled;
    },
    'the download to stall against the closed gate',
    30_000,
    300,
  );
  t.true(store.maxWaiting >= 4, `the bound was reached (${store.maxWaiting} waiting)`);
  // The bound, plus the pieces of requests already sent (8 blocks) and one piece begun.
  t.true(store.maxWaiting <= 4 + 4 + 1, `${store.maxWaiting} pieces waited to be written`);
  t.true(torrent.stats().downloaded <= (4 + 4 + 1) * PIECE, `${torrent.stats().downloaded} bytes received with the disk stalled`);

  const done = waitComplete(torrent, 60_000);
  store.openGate();
  await done;
  const back = Buffer.concat(await Promise.all(Array.from({ length: PIECES }, (_, i) => store.readPiece(i))));
  t.true(back.equals(data), 'byte-equal once the writes went through');
});
