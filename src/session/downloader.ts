/**
 * The download side of one torrent, from a request to an announced piece.
 * The requester (requester.ts) asks peers for blocks; a block the picker
 * accepts goes to its piece's buffer
 * (piece-assembler.ts); a piece that passes its hash and is written is
 * recorded for the resume state, the picker and the smart ban are told, and
 * peers get `have` (or lose our interest); one that fails strikes its
 * senders (smart-ban.ts). A disk that refuses writes pauses requesting
 * (disk-pause.ts). Web seeds (web-seed.ts) are sources beside the peers:
 * their blocks take the same path.
 */
import type { Logger } from '../log.js';
import type { Settings } from '../settings.js';
import type { InfoDict } from '../metainfo/types.js';
import { PRIORITY, type PiecePicker } from '../picker/piece-picker.js';
import type { PeerConnection } from '../peer/connection.js';
import type { HashPool } from '../util/hash-pool.js';
import type { TokenBucket } from '../util/token-bucket.js';
import type { TorrentStorage } from '../storage/torrent-storage.js';
import { DiskPause } from './disk-pause.js';
import { PieceAssembler } from './piece-assembler.js';
import { SmartBan, type Ban } from './smart-ban.js';
import { Requester } from './requester.js';
import { HaveBatch } from './have-batch.js';
import { WebSeeds, type WebSeedSettings } from './web-seed.js';
import type { TorrentEvents } from './torrent-types.js';

/** The torrent events the download side emits. */
export type DownloadEvent = 'piece:verified' | 'piece:failed' | 'peer:banned' | 'torrent:error' | 'torrent:paused' | 'torrent:resumed';

export interface DownloaderOptions {
  info: InfoDict;
  infoHashHex: string;
  settings: Pick<
    Settings,
    | 'blockBytes'
    | 'maxUnwrittenBytes'
    | 'banAfterHashFailures'
    | 'diskRetryInitialMs'
    | 'diskRetryMaxMs'
    | 'initialQueueDepth'
    | 'maxQueueDepth'
    | 'requestQueueTimeMs'
    | 'expediteKeepRequests'
    | 'haveBatchMs'
    | 'haveBatchUnchokedMs'
  > &
    WebSeedSettings;
  pool: Pick<HashPool, 'hashPieces'>;
  storage: Pick<TorrentStorage, 'store' | 'pieceWritten'>;
  picker: PiecePicker;
  /** The download rate limit (shared by the session's torrents). */
  budget: TokenBucket;
  /** The rate limit held requests back: call fillAll() again in about `ms`. */
  onLimited: (ms: number) => void;
  connections: { values(): Iterable<PeerConnection>; get(id: number): PeerConnection | undefined };
  logger: Logger;
  stopped: () => boolean;
  emit: <K extends DownloadEvent>(name: K, payload: TorrentEvents[K]) => void;
  /** Payload bytes accepted. */
  onDownloaded: (bytes: number) => void;
  /** A piece was verified, written and announced: the torrent may be complete. */
  onVerified: () => void;
  /** The torrent's web seeds (BEP 19 url-list); `refusing`: the torrent is paused or held, ask them for nothing. */
  webSeeds?: { urls: readonly string[]; localAddress?: string; refusing: () => boolean };
}

export class Downloader {
  readonly #o: DownloaderOptions;
  readonly #requester: Requester;
  readonly #assembler: PieceAssembler;
  readonly #disk: DiskPause;
  readonly #smartBan: SmartBan;
  readonly #webSeeds: WebSeeds | undefined;
  readonly #haves: HaveBatch;

  constructor(opts: DownloaderOptions) {
    this.#o = opts;
    const { info, settings, logger, picker } = opts;
    this.#requester = new Requester({
      picker,
      settings,
      budget: opts.budget,
      connections: () => opts.connections.values(),
      paused: () => this.#disk.active,
      atWriteBound: () => this.#assembler.atWriteBound(),
      onLimited: opts.onLimited,
    });
    this.#haves = new HaveBatch({ batchMs: settings.haveBatchMs, unchokedBatchMs: settings.haveBatchUnchokedMs, connection: (id) => opts.connections.get(id) });
    const writePiece = (index: number, data: Uint8Array): Promise<void> => opts.storage.store.writePiece(index, data);
    this.#smartBan = new SmartBan({ blockBytes: settings.blockBytes, banAfterFailures: settings.banAfterHashFailures });
    this.#disk = new DiskPause({
      settings,
      name: info.name,
      logger,
      writePiece,
      haveCount: () => picker.haveCount,
      onWritten: (index, data) => {
        this.#stored(index, data);
        this.#assembler.releaseBuffer(data);
      },
      onPaused: (reason, code) => this.#onDiskPaused(reason, code),
      onResumed: () => this.#onDiskResumed(),
      stopped: opts.stopped,
    });
    this.#assembler = new PieceAssembler({
      info,
      settings,
      pool: opts.pool,
      writePiece,
      disk: this.#disk,
      logger,
      stopped: opts.stopped,
      onStored: (index, data) => this.#stored(index, data),
      onHashFailed: (index, data, from) => this.#onHashFailure(index, data, from),
      onHashError: (index) => picker.pieceFailed(index),
      onWriteError: (index, err) => {
        opts.emit('torrent:error', err instanceof Error ? err : new Error(String(err)));
        picker.pieceFailed(index);
        this.fillAll();
      },
      onRoom: () => this.fillAll(),
    });
    const web = opts.webSeeds;
    this.#webSeeds = web?.urls.length
      ? new WebSeeds(web.urls, {
          info,
          settings,
          picker,
          budget: opts.budget,
          onLimited: opts.onLimited,
          canRequest: () => !opts.stopped() && !web.refusing() && !this.#disk.active && !this.#assembler.atWriteBound(),
          deliver: (source, index, begin, block, sender) => this.#accept(source, index, begin, block, sender) !== undefined,
          isBanned: (sender) => this.#smartBan.isBanned(sender),
          ban: (sender, reason) => this.#banWebSeed(sender, reason),
          logger,
          ...(web.localAddress !== undefined ? { localAddress: web.localAddress } : {}),
        })
      : undefined;
  }

  /** Starts asking the web seeds, if any (idempotent). */
  startWebSeeds(): void {
    this.#webSeeds?.start();
  }

  /** The web seeds: URL, whether out for this run, bytes taken. */
  webSeeds(): { url: string; banned: boolean; downloaded: number }[] {
    return this.#webSeeds?.list() ?? [];
  }

  /** Routes a new connection's events about pieces, chokes, requests and blocks here. */
  attach(conn: PeerConnection): void {
    this.#requester.attach(conn);
    conn.on('peer:piece', (p) => this.#block(conn, p.index, p.begin, p.block));
  }

  /** The peer's handshake passed. */
  added(conn: PeerConnection): void {
    this.#requester.added(conn);
  }

  forget(connId: number): void {
    this.#requester.forget(connId);
    this.#haves.forget(connId);
  }

  /** Tops up the requests in flight with every peer and web seed. */
  fillAll(): void {
    this.#requester.fillAll();
    this.#webSeeds?.fill();
  }

  /** Downloading is paused for the disk. */
  get paused(): boolean {
    return this.#disk.active;
  }

  /** Why, or undefined. */
  get pausedReason(): string | undefined {
    return this.#disk.reason;
  }

  /** Tries the disk again now (a resume asked for by the user). */
  retryDisk(): void {
    if (this.#disk.active && !this.#o.stopped()) void this.#disk.retry();
  }

  isBanned(host: string): boolean {
    return this.#smartBan.isBanned(host);
  }

  /** Stops retrying the disk and waits (at most `drainMs`) for the pieces received to be hashed and written. */
  async stop(drainMs: number): Promise<void> {
    this.#haves.stop();
    this.#webSeeds?.stop();
    this.#disk.stop();
    await this.#assembler.drain(drainMs);
  }

  /** A `piece` message: the block, if the picker takes it, goes to its piece; more is asked of the peer. */
  /**
   * A reader waits for pieces that are not here (PRIORITY.urgent): at each
   * peer that unchoked us, requests for other pieces queued past the first
   * `expediteKeepRequests` are cancelled and given back to the picker, and
   * the freed room is filled with the urgent blocks first.
   */
  expedite(): void {
    const o = this.#o;
    const keep = o.settings.expediteKeepRequests;
    for (const c of o.connections.values()) {
      if (!c.handshaken || c.closed || c.peerChoking) continue;
      const reqs = c.outstanding();
      for (let k = reqs.length - 1; k >= keep; k--) {
        const r = reqs[k]!;
        if (o.picker.priority(r.index) >= PRIORITY.urgent) continue;
        c.cancel(r);
        o.picker.release(c.id, r);
      }
    }
    this.#requester.fillAll();
  }

  /** What we want changed (piece priorities): interest and requests follow. */
  wantsChanged(): void {
    this.#requester.wantsChanged();
    this.#webSeeds?.fill();
  }

  #block(conn: PeerConnection, index: number, begin: number, block: Uint8Array): void {
    if (!this.#accept(conn.id, index, begin, block, conn.remoteHost)) return;
    this.#requester.fill(conn);
  }

  /** A block from `source` (a connection's id, or a web seed's), sent by `host`: to its piece if the picker takes it. */
  #accept(source: number, index: number, begin: number, block: Uint8Array, host: string): true | undefined {
    const receipt = this.#o.picker.blockReceived(source, { index, begin, length: block.length });
    if (!receipt.accepted) return undefined;
    this.#o.onDownloaded(block.length);
    this.#assembler.add(index, begin, block, host);
    for (const other of receipt.cancelAt) this.#o.connections.get(other)?.cancel({ index, begin, length: block.length });
    if (receipt.pieceComplete) this.#assembler.complete(index);
    return true;
  }

  /** A web seed answered other bytes than it was asked for: out for the run, said once. */
  #banWebSeed(url: string, reason: string): void {
    this.#o.logger.warn(`banning ${url}: ${reason}`);
    this.#o.emit('peer:banned', { host: url, reason });
  }

  #stored(index: number, data: Uint8Array): void {
    const o = this.#o;
    o.storage.pieceWritten(index);
    // Counted as wanted from the peers that have it only while its priority was above 0 (requester.ts).
    const wasWanted = o.picker.priority(index) > 0;
    o.picker.pieceVerified(index);
    this.#ban(this.#smartBan.pieceVerified(index, data));
    o.emit('piece:verified', index);
    // Done (every wanted piece here): a leecher may exit at once, so nothing waits.
    const complete = o.picker.wantedComplete();
    for (const c of o.connections.values()) {
      if (!c.handshaken) continue;
      if (c.bits.get(index)) {
        if (wasWanted) this.#requester.pieceGot(c);
      } else this.#haves.announce(c, index, complete);
    }
    // The piece that completes us goes out at once, and every `have` still gathered with it.
    if (complete) this.#haves.flush();
    o.onVerified();
  }

  /** Smart ban: a sole sender of a bad piece, or one whose blocks differed from the good data, is struck. */
  #onHashFailure(index: number, data: Uint8Array, from: string[]): void {
    const hosts = SmartBan.senders(from);
    this.#o.logger.warn(`piece ${index} failed its hash check (blocks from ${hosts.join(', ')})`);
    this.#o.picker.pieceFailed(index);
    this.#o.emit('piece:failed', { index, hosts });
    this.#ban(this.#smartBan.pieceFailed(index, data, from));
    this.fillAll();
  }

  #ban(bans: Ban[]): void {
    for (const { host, reason, strikes } of bans) {
      this.#o.logger.warn(`banning ${host}: ${reason} (${strikes} times)`);
      this.#o.emit('peer:banned', { host, reason });
      for (const c of [...this.#o.connections.values()]) if (c.remoteHost === host) c.close('banned');
    }
  }

  /** The disk refused a write: requests in flight are cancelled and nothing more is asked for. */
  #onDiskPaused(reason: string, code: string): void {
    const o = this.#o;
    for (const c of o.connections.values()) {
      for (const r of c.cancelAll()) o.picker.release(c.id, r);
      if (c.amInterested) c.notInterested();
    }
    o.emit('torrent:error', Object.assign(new Error(`${o.info.name}: ${reason}`), { code }));
    o.emit('torrent:paused', { infoHash: o.infoHashHex, reason });
  }

  #onDiskResumed(): void {
    this.#o.emit('torrent:resumed', { infoHash: this.#o.infoHashHex });
    for (const c of this.#o.connections.values()) if (c.handshaken) this.#requester.updateInterest(c);
    this.fillAll();
  }
}
