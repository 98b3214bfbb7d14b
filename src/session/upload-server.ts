/**
 * Serving blocks to peers: one request queue per connection, a small LRU of
 * whole pieces read for uploading (piece-image.ts) with read-ahead, and the
 * pump that writes runs of blocks while the socket has room.
 *
 * A request of an unchoked peer -> the piece is read whole into the cache
 * (the next requests hit memory) -> the block is written to the socket
 * without a copy, respecting backpressure and the upload rate limit.
 */
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { DEFAULT_SETTINGS, type Settings } from '../settings.js';
import type { InfoDict } from '../metainfo/types.js';
import { pieceLengthAt } from '../metainfo/layout.js';
import type { BlockRequest } from '../picker/piece-picker.js';
import type { PeerConnection } from '../peer/connection.js';
import type { PieceStore } from '../storage/piece-store.js';
import type { TokenBucket } from '../util/token-bucket.js';
import { PieceImage, imageBytes } from './piece-image.js';
import { SendBudget } from './send-budget.js';
import { PieceRefusedError, type ServeCheck } from './serve-check.js';

export type UploadSettings = Pick<Settings, 'blockBytes' | 'uploadCacheBytes' | 'uploadReadAheadPieces' | 'maxConcurrentPieceReads' | 'maxUploadWriteBytes'> &
  Partial<Pick<Settings, 'sendBufferBytesTotal'>>;

export interface UploadServerOptions {
  info: InfoDict;
  settings: UploadSettings;
  store: Pick<PieceStore, 'readPiece' | 'readv'>;
  /** Whether we have a piece (verified and written). */
  has: (index: number) => boolean;
  /** Pieces had on start are hashed before their first upload (serve-check.ts). */
  serveCheck: Pick<ServeCheck, 'refuses' | 'admit'>;
  /** The upload rate limit (shared by the session's torrents). */
  budget: TokenBucket;
  /**
   * Blocks waiting unsent in sockets, bounded across connections (shared by
   * the session's torrents when given; otherwise this torrent's own, of
   * `sendBufferBytesTotal`).
   */
  sendBudget?: SendBudget;
  /** The limit held a block back: call pumpAll() again in about `ms`. */
  onLimited: (ms: number) => void;
  /** Payload bytes handed to a socket. */
  onUploaded: (bytes: number) => void;
  /** The connections, pumped again when a read lands. */
  connections: () => Iterable<PeerConnection>;
  stopped: () => boolean;
  logger: Logger;
}

interface UploadQueue {
  queue: BlockRequest[];
  /** Entries before it are served or dropped (the queue is compacted now and then, not shifted per block). */
  head: number;
}

export class UploadServer {
  readonly #o: UploadServerOptions;
  readonly #queues = new Map<number, UploadQueue>();
  /** Whole pieces read for uploading (LRU). */
  readonly #cache = new Map<number, PieceImage>();
  /** Reads of pieces to upload under way (not in the LRU until they land). */
  readonly #reading = new Map<number, Promise<void>>();
  readonly #cacheMax: number;
  /** Distinct pieces one peer's queue reads ahead: fewer than the cache holds, so a read never evicts the piece its peer needs first. */
  readonly #readAheadPieces: number;
  /** Size of the image of a whole piece (the pooled buffers' size). */
  readonly #imageBytes: number;
  /** Images of whole pieces whose messages all left: reused for the next reads (no allocation per piece). */
  readonly #spareImages: PieceImage[] = [];
  readonly #send: SendBudget;

  constructor(opts: UploadServerOptions) {
    this.#o = opts;
    // Read-ahead cache: 16 MiB of whole pieces by default (at least 2), enough for a few peers' runs of requests;
    // at most an eighth of the torrent: a small torrent seeded to many peers otherwise ended up wholly in memory
    // (the page cache serves its reads as well), a 16 MiB one in each of a hundred LAN daemons (a quarter, 4 MiB
    // each, still left the hosts of the 100-host LAN a few MiB short of their memory target).
    const cacheBytes = Math.min(opts.settings.uploadCacheBytes, Math.max(2 * opts.info.pieceLength, Math.floor(opts.info.length / 8)));
    this.#cacheMax = Math.max(2, Math.floor(cacheBytes / opts.info.pieceLength));
    this.#readAheadPieces = Math.max(1, Math.min(opts.settings.uploadReadAheadPieces, this.#cacheMax - 1));
    this.#imageBytes = imageBytes(opts.info.pieceLength, opts.settings.blockBytes);
    this.#send = opts.sendBudget ?? new SendBudget(opts.settings.sendBufferBytesTotal ?? DEFAULT_SETTINGS.sendBufferBytesTotal);
  }

  /** Routes a new connection's requests, cancels and socket drains here. */
  attach(conn: PeerConnection): void {
    conn.on('peer:request', (req) => this.enqueue(conn, req));
    conn.on('peer:cancel', () => this.cancelled(conn));
    conn.onDrain(() => this.pump(conn));
  }

  /** A peer's request: queued and served in order (refused at once if we lack the piece or it failed its serve check). */
  enqueue(conn: PeerConnection, req: BlockRequest): void {
    if (!this.#o.has(req.index) || this.#o.serveCheck.refuses(req.index)) return conn.dropRemoteRequest(req);
    let q = this.#queues.get(conn.id);
    if (!q) this.#queues.set(conn.id, (q = { queue: [], head: 0 }));
    q.queue.push(req);
    this.#compact(conn, q);
    this.pump(conn);
  }

  /** The peer cancelled a request (or our choke dropped its requests). */
  cancelled(conn: PeerConnection): void {
    const q = this.#queues.get(conn.id);
    if (q) this.#compact(conn, q);
  }

  forget(connId: number): void {
    const q = this.#queues.get(connId);
    this.#queues.delete(connId);
    if (q) this.#send.forget(q);
  }

  pumpAll(): void {
    for (const c of this.#o.connections()) this.pump(c);
  }

  /**
   * Drops entries of the queue the peer cancelled (or our choke dropped)
   * once they outnumber the live ones: the queue stays within about twice
   * the peer's request limit (maxRemoteRequests) whatever it sends, at an
   * amortized constant cost per request.
   */
  #compact(conn: PeerConnection, q: UploadQueue): void {
    if (q.queue.length - q.head <= 2 * conn.remoteRequestCount + 64) return;
    // A block requested, cancelled and requested again is queued twice: kept once.
    const seen = new Set<number>();
    q.queue = q.queue.filter((r, i) => {
      if (i < q.head || !conn.stillRequested(r)) return false;
      const k = r.index * 0x8000000 + r.begin;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
    q.head = 0;
  }

  /**
   * Serves a peer's queued requests in order while its socket has room:
   * blocks of cached pieces go out at once (no promise per block); a
   * missing piece is read whole, with the next few distinct pieces of the
   * queue read ahead, and the pump resumes when the read lands.
   *
   * What waits unsent is bounded per peer (`congested`) and across peers
   * (the send budget: past it a peer waits its turn). A peer with nothing
   * waiting in its socket may always have one block written, so peers that
   * stopped reading cannot hold up the others by filling the budget.
   */
  pump(conn: PeerConnection): void {
    const q = this.#queues.get(conn.id);
    if (!q) return;
    const budget = this.#o.budget;
    const send = this.#send;
    const maxRunBytes = this.#o.settings.maxUploadWriteBytes;
    while (q.head < q.queue.length && !conn.congested && !conn.closed) {
      const req = q.queue[q.head]!;
      if (!conn.stillRequested(req)) {
        q.head++;
        continue;
      }
      const image = this.#cachedPiece(req.index);
      if (!image) {
        this.#readAhead(conn, q);
        break;
      }
      if (conn.unsentBytes > 0 && !send.mayWrite(q, () => this.pump(conn))) break;
      if (!budget.take(req.length)) {
        this.#o.onLimited(budget.msUntil(req.length));
        break;
      }
      q.head++;
      const first = image.blockOf(req.begin, req.length);
      image.refs++;
      if (first < 0) {
        // Off the block grid (another block size): header and payload written apart.
        send.take(req.length);
        const done = (): void => {
          this.#unref(image);
          send.give(req.length);
        };
        if (conn.serve(req, image.payload(req.begin, req.length), done)) this.#o.onUploaded(req.length);
        else done();
        continue;
      }
      // The following requests for the next blocks of the same piece leave in the same write
      // (as much as the peer's send limit and the send budget leave room for: a slow peer, or
      // many peers at once, get short runs).
      const runBytes = Math.min(maxRunBytes, Math.max(req.length, Math.min(conn.sendRoom, send.roomBytes)));
      const run = [req];
      let bytes = req.length;
      while (q.head < q.queue.length && run.length < image.blocks) {
        const next = q.queue[q.head]!;
        if (next.index !== req.index || image.blockOf(next.begin, next.length) !== first + run.length) break;
        if (bytes + next.length > runBytes) break;
        if (!conn.stillRequested(next) || !budget.take(next.length)) break;
        run.push(next);
        bytes += next.length;
        q.head++;
      }
      send.take(bytes);
      const done = (): void => {
        this.#unref(image);
        send.give(bytes);
      };
      if (conn.serveMessages(run, image.messages(first, first + run.length), done)) this.#o.onUploaded(bytes);
      else done();
    }
    // Compact the queue now and then instead of shifting per block.
    if (q.head > 1024 || q.head === q.queue.length) {
      q.queue.splice(0, q.head);
      q.head = 0;
    }
  }

  /** A write from this image finished (or failed): its buffer is reusable once evicted and unreferenced. */
  #unref(image: PieceImage): void {
    image.refs--;
    if (image.refs === 0 && image.evicted) this.#recycle(image);
  }

  /**
   * Keeps a free image for the next read while the images held (cached,
   * being read, spare) are at most the cache plus one peer's read-ahead:
   * enough that a full cache's next reads allocate nothing, and never a
   * second cache's worth of memory beside the cache. Also while the spares
   * hold less than the send budget: images evicted while their blocks
   * waited in sockets come back in bursts, and one dropped here is garbage
   * until a full collection (it lived long enough to be promoted), while
   * the next read allocates a new one: a LAN seeder's malloc heap grew to
   * 35 MiB so. The budget bounds how many such images there can be.
   */
  #recycle(image: PieceImage): void {
    if (image.size !== this.#o.info.pieceLength) return;
    const spares = this.#spareImages.length;
    if (this.#cache.size + this.#reading.size + spares < this.#cacheMax + this.#readAheadPieces || (spares + 1) * this.#imageBytes <= this.#send.limitBytes) {
      this.#spareImages.push(image);
    }
  }

  #evict(entry: PieceImage | undefined): void {
    if (!entry) return;
    entry.evicted = true;
    if (entry.refs === 0) this.#recycle(entry);
  }

  /**
   * Starts reads of the next distinct pieces this peer's queue needs. Reads
   * under way are not in the LRU (nothing evicts them), at most
   * maxConcurrentPieceReads run at once, and a peer reads ahead at most one
   * piece less than the cache holds: a read never pushes out the piece its
   * peer needs first, so reads cannot chase each other out of a small cache.
   */
  #readAhead(conn: PeerConnection, q: UploadQueue): void {
    const { info, settings: s, store } = this.#o;
    const ahead = this.#readAheadPieces;
    const wanted: number[] = [];
    for (let i = q.head; i < q.queue.length && wanted.length < ahead; i++) {
      const index = q.queue[i]!.index;
      if (!wanted.includes(index)) wanted.push(index);
    }
    for (const index of wanted) {
      if (this.#cache.has(index) || this.#reading.has(index)) continue;
      if (this.#reading.size >= s.maxConcurrentPieceReads) break;
      let image = pieceLengthAt(info, index) === info.pieceLength ? this.#spareImages.pop() : undefined;
      if (image) image.reuseFor(index);
      else image = new PieceImage(info, index, s.blockBytes, Buffer.allocUnsafeSlow(this.#imageBytes));
      const filled = (
        store.readv ? store.readv(index * info.pieceLength, image.payloadViews()) : store.readPiece(index).then((data) => image.fill(data))
      ).then(() => this.#o.serveCheck.admit(index, image.payloadViews()));
      const read = filled.then(
        () => {
          this.#reading.delete(index);
          if (this.#o.stopped()) return;
          const stale = this.#cache.get(index);
          this.#cache.delete(index);
          this.#evict(stale);
          this.#cache.set(index, image);
          this.#trim();
          this.pumpAll();
        },
        (err: unknown) => {
          this.#reading.delete(index);
          this.#recycle(image);
          if (this.#o.stopped()) return;
          if (!(err instanceof PieceRefusedError)) this.#o.logger.error(`reading piece ${index} to serve it failed: ${errorMessage(err)}`);
          // Drop what cannot be served so the queue does not wait on it forever.
          q.queue = q.queue.filter((r, i) => i < q.head || r.index !== index || (conn.dropRemoteRequest(r), false));
          this.pump(conn);
        },
      );
      this.#reading.set(index, read);
    }
  }

  #trim(): void {
    while (this.#cache.size > this.#cacheMax) {
      const oldest = this.#cache.keys().next().value!;
      const entry = this.#cache.get(oldest);
      this.#cache.delete(oldest);
      this.#evict(entry);
    }
  }

  /** A piece already in memory (the LRU is refreshed), or undefined. */
  #cachedPiece(index: number): PieceImage | undefined {
    const entry = this.#cache.get(index);
    if (entry === undefined) return undefined;
    this.#cache.delete(index);
    this.#cache.set(index, entry);
    return entry;
  }
}
