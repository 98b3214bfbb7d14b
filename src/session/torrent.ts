/**
 * One swarm: peers <-> picker <-> storage (the orchestrator of DESIGN.md).
 * The torrent starts and stops, routes each connection's events to the
 * collaborator that handles them, and reports stats; each policy lives in
 * its own file beside it (STYLE.md habit 16):
 * - connections.ts: live connections and their slots; peer-list.ts: known
 *   peers, dialing with backoff;
 * - downloader.ts: requests (requester.ts) -> blocks -> pieces hashed and
 *   written (piece-assembler.ts, disk-pause.ts) -> announced; smart-ban.ts;
 * - upload-server.ts: request queues, piece cache, read-ahead (serve-check.ts);
 * - choking.ts (whom we upload to), pex.ts and extensions.ts (BEP 10, 11).
 */
import type net from 'node:net';
import { TypedEmitter } from '../events.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { Settings } from '../settings.js';
import type { Metainfo } from '../metainfo/types.js';
import type { PeerAddress, PeerSource, PeerSourceContext } from '../discovery/peer-source.js';
import { TrackerPeerSource, type TrackerUrlStatus } from '../discovery/tracker-source.js';
import { PiecePicker, type BlockRequest } from '../picker/piece-picker.js';
import type { PeerConnection } from '../peer/connection.js';
import { RateMeter } from '../peer/rate.js';
import { TokenBucket, allBuckets } from '../util/token-bucket.js';
import type { Handshake } from '../wire/handshake.js';
import type { TorrentShape } from '../wire/validate.js';
import { ExtensionHub } from './extensions.js';
import { peerIdClient } from './fast-sets.js';
import { ServeCheck } from './serve-check.js';
import { UploadServer } from './upload-server.js';
import { PexSwarmView } from './pex.js';
import { Downloader } from './downloader.js';
import { LimitRetry } from './requester.js';
import { Connections } from './connections.js';
import { Choking } from './choking.js';
import { PiecePriorities, type PieceReader } from './piece-priorities.js';
import { checkFilePriorities, pieceLevels, skippedFileIndexes } from './file-selection.js';
import { userFiles } from '../metainfo/layout.js';
import { systemClock, type Clock } from '../util/clock.js';
import { peerInfo, type PeerInfo, type TorrentDeps, type TorrentEvents, type TorrentOptions, type TorrentStats } from './torrent-types.js';

export type { PeerInfo, TorrentDeps, TorrentEvents, TorrentOptions, TorrentStats } from './torrent-types.js';

const CLIENT_VERSION = 'swarm-peer 0.1.0';

export class Torrent extends TypedEmitter<TorrentEvents> {
  readonly metainfo: Metainfo;
  readonly infoHashHex: string;
  readonly #deps: TorrentDeps;
  readonly #opts: TorrentOptions;
  readonly #settings: Settings;
  readonly #log: Logger;
  readonly #shape: TorrentShape;
  readonly #picker: PiecePicker;
  readonly #choking: Choking;
  readonly #conns: Connections;
  readonly #now: Clock;
  readonly #limitRetry: LimitRetry;
  readonly #downloads: Downloader;
  readonly #uploads: UploadServer;
  readonly #sources: PeerSource[] = [];
  readonly #pex: PexSwarmView;
  /** Payload bytes accepted and sent in this run (`total`), and their rates. */
  readonly #down = new RateMeter();
  readonly #up = new RateMeter();
  readonly #extensions: ExtensionHub;
  readonly #priorities: PiecePriorities;
  /** Priority of each user file (file-selection.ts): 0 skip, 1 normal, 2 high. */
  #filePriorities: number[];
  #startedAt: number;
  #completeEmitted = false;
  #started = false;
  #stopped = false;
  #paused = false;
  /** Held back by the daemon (its queue, or a seed limit reached): like a pause, with a state of its own. */
  #held: 'queued' | 'finished' | undefined;
  /** This torrent's own rate limits (bytes/s, 0 = none), checked together with the session's. */
  readonly #ownLimits: { upload: TokenBucket; download: TokenBucket };
  /** Seed ratio and seed time limits of this torrent (undefined: the daemon's defaults; 0: none). The daemon enforces them. */
  seedLimits: { ratio?: number; timeS?: number } = {};
  #timers: NodeJS.Timeout[] = [];
  constructor(deps: TorrentDeps, opts: TorrentOptions) {
    super();
    this.#deps = deps;
    this.#opts = opts;
    this.metainfo = opts.metainfo;
    this.infoHashHex = opts.metainfo.infoHashHex;
    this.#settings = opts.settings;
    this.#log = deps.logger.child({ torrent: this.infoHashHex.slice(0, 8) });
    this.#now = deps.clock ?? systemClock;
    this.#startedAt = this.#now();
    const info = opts.metainfo.info;
    this.#shape = { pieceCount: info.pieceCount, pieceLength: info.pieceLength, totalLength: info.length };
    this.#conns = new Connections({
      settings: opts.settings,
      infoHash: opts.metainfo.infoHash,
      peerId: opts.peerId,
      shape: this.#shape,
      logger: this.#log,
      dht: opts.dhtPort !== undefined,
      listenPort: opts.listenPort,
      ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
      banned: (host) => this.#downloads.isBanned(host),
      // A seed does not dial the seeds it left for being one too: on a LAN where everyone has finished,
      // every pair otherwise reconnected every reconnectAfterCloseMs only to part again (bench:lan, 100 hosts).
      skipDial: (key) => this.complete && this.#pex.isDroppedSeed(key),
      ...(deps.canConnect ? { canConnect: deps.canConnect } : {}),
      refusing: () => this.#stopped || this.#paused || this.#held !== undefined,
      clock: this.#now,
      onAttach: (conn) => this.#wire(conn),
    });
    this.#picker = new PiecePicker({
      pieceCount: info.pieceCount,
      pieceLength: info.pieceLength,
      totalLength: info.length,
      blockBytes: opts.settings.blockBytes,
      have: deps.storage.have,
    });
    this.#choking = new Choking({
      settings: opts.settings,
      connections: () => this.#conns.values(),
      spread: {
        pieceCount: info.pieceCount,
        pieceLength: info.pieceLength,
        settings: opts.settings,
        availability: (i) => this.#picker.availability(i),
        seeding: () => this.complete,
        clock: this.#now,
        log: (m) => this.#log.info(m),
      },
    });
    this.#ownLimits = { upload: new TokenBucket(opts.uploadLimitBytesPerS ?? 0), download: new TokenBucket(opts.downloadLimitBytesPerS ?? 0) };
    const shared = deps.limits ?? { upload: new TokenBucket(0), download: new TokenBucket(0) };
    // A request or an upload must pass both the session's bucket and this torrent's own.
    const limits = { upload: allBuckets([shared.upload, this.#ownLimits.upload]), download: allBuckets([shared.download, this.#ownLimits.download]) };
    this.#limitRetry = new LimitRetry(opts.settings, () => {
      this.#downloads.fillAll();
      this.#uploads.pumpAll();
    });
    this.#downloads = new Downloader({
      info,
      infoHashHex: this.infoHashHex,
      settings: opts.settings,
      pool: deps.pool,
      storage: deps.storage,
      picker: this.#picker,
      budget: limits.download,
      onLimited: (ms) => this.#limitRetry.schedule(ms),
      connections: this.#conns,
      logger: this.#log,
      stopped: () => this.#stopped,
      emit: (name, payload) => void this.emit(name, payload),
      onDownloaded: (bytes) => this.#down.add(bytes, this.#now()),
      onVerified: () => this.#onPieceVerified(),
      // BEP 19 web seeds: used for private torrents too (a web seed is no peer discovery).
      webSeeds: { urls: opts.metainfo.urlList, ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}), refusing: () => this.#stopped || this.#paused || this.#held !== undefined },
    });
    this.#uploads = new UploadServer({
      info,
      settings: opts.settings,
      store: deps.storage.store,
      has: (i) => this.#picker.has(i),
      serveCheck: new ServeCheck({ info, have: deps.storage.have, pool: deps.pool, completion: deps.storage.completion, logger: this.#log }),
      budget: limits.upload,
      onLimited: (ms) => this.#limitRetry.schedule(ms),
      onUploaded: (bytes) => this.#up.add(bytes, this.#now()),
      connections: () => this.#conns.values(),
      stopped: () => this.#stopped,
      logger: this.#log,
    });
    this.#extensions = new ExtensionHub({
      metainfo: opts.metainfo,
      logger: this.#log,
      listenPort: opts.listenPort,
      clientVersion: CLIENT_VERSION,
      maxRemoteRequests: opts.settings.maxRemoteRequests,
      limits: opts.settings,
      clock: this.#now,
      onPexPeers: (peers) => this.addPeers(peers, { source: 'pex' }),
      // The first PEX message goes out as soon as we know the peer's ut_pex id, so a newcomer learns the swarm early.
      onRemoteHandshake: () => this.#pex.send(),
      onText: (from, text) => this.emit('message:received', { from, text }),
    });
    this.#pex = new PexSwarmView({ settings: opts.settings, clock: this.#now, extensions: this.#extensions, connections: () => this.#conns.values() });
    this.#priorities = new PiecePriorities({
      picker: this.#picker,
      windowPieces: Math.max(2, Math.ceil(opts.settings.sequentialWindowBytes / info.pieceLength)),
      onChange: () => this.#downloads.wantsChanged(),
      onUrgent: () => this.#downloads.expedite(),
    });
    this.on('piece:verified', (index) => this.#priorities.pieceVerified(index));
    if (opts.sequential) this.#priorities.setSequential(true);
    this.#filePriorities = userFiles(info).map(() => 1);
    // The store was opened with these (session.ts): only the picker needs them.
    if (opts.filePriorities) this.#applyPriorities(checkFilePriorities(info, opts.filePriorities));
  }

  /** Priority of each file (as `userFiles` lists them): 0 skip, 1 normal, 2 high. */
  get filePriorities(): readonly number[] {
    return this.#filePriorities;
  }

  /**
   * Chooses files: skipped files are not downloaded (pieces they share with
   * wanted files are), high ones first. Completion then means "every wanted
   * piece"; wanting more later downloads again and completes again.
   */
  async setFilePriorities(levels: readonly unknown[]): Promise<void> {
    const checked = checkFilePriorities(this.metainfo.info, levels);
    // The store first: a file chosen now gets its real file (and the bytes the part file held) before pieces of it are asked for.
    await this.#deps.storage.store.setSkipped?.(skippedFileIndexes(this.metainfo.info, checked));
    this.#applyPriorities(checked);
    this.emit('torrent:selection', checked);
  }

  #applyPriorities(checked: number[]): void {
    this.#filePriorities = checked;
    this.#priorities.setBase(pieceLevels(this.metainfo.info, checked));
    if (!this.done) this.#completeEmitted = false;
    else if (this.#started) this.#onPieceVerified();
  }

  /** Every wanted piece is verified (all pieces, unless files were skipped). */
  get done(): boolean {
    return this.#picker.wantedComplete();
  }

  /** Pieces in order (a read-ahead window first), or rarest first. */
  get sequential(): boolean {
    return this.#priorities.sequential;
  }

  setSequential(on: boolean): void {
    this.#priorities.setSequential(on);
  }

  /**
   * A reader of the content while it downloads (an HTTP stream): the pieces
   * it holds are fetched first, and it can wait for each one.
   */
  reader(): PieceReader {
    return this.#priorities.reader();
  }

  get complete(): boolean {
    return this.#picker.isComplete();
  }

  /** How the pieces had on start were found: a trusted resume state, verification, or none (a fresh start). */
  get resumeOutcome(): 'trusted' | 'verified' | 'fresh' {
    return this.#deps.storage.resumed;
  }

  /** The piece is verified and on disk. */
  hasPiece(index: number): boolean {
    return this.#picker.has(index);
  }

  get have(): number {
    return this.#picker.haveCount;
  }

  get paused(): boolean {
    return this.#paused;
  }

  get state(): TorrentStats['state'] {
    return this.#paused || this.#downloads.paused ? 'paused' : (this.#held ?? (this.done ? 'seeding' : 'downloading'));
  }

  /** This torrent's own rate limits in bytes/s (0 = none). */
  get rateLimits(): { uploadBytesPerS: number; downloadBytesPerS: number } {
    return { uploadBytesPerS: this.#ownLimits.upload.rate, downloadBytesPerS: this.#ownLimits.download.rate };
  }

  /** Changes this torrent's own limits at run time (bytes/s; 0 = none); the session's limits still apply. */
  setRateLimits(limits: { uploadBytesPerS?: number; downloadBytesPerS?: number }): void {
    if (limits.uploadBytesPerS !== undefined) this.#ownLimits.upload.setRate(limits.uploadBytesPerS);
    if (limits.downloadBytesPerS !== undefined) this.#ownLimits.download.setRate(limits.downloadBytesPerS);
  }

  /** Why the daemon holds this torrent back ('queued', 'finished'), or undefined. */
  get held(): 'queued' | 'finished' | undefined {
    return this.#held;
  }

  /** Holds the torrent back (the daemon's queue or seed limits): no connections until unhold(); idempotent. */
  hold(why: 'queued' | 'finished'): void {
    if (this.#stopped || this.#held === why) return;
    const was = this.#held;
    this.#held = why;
    if (!was) this.#conns.closeAll(why);
  }

  /** Idempotent. */
  unhold(): void {
    if (!this.#held || this.#stopped) return;
    this.#held = undefined;
    if (this.#paused) return;
    this.#conns.peers.resetBackoff();
    this.#conns.connectMore();
  }

  /** Why downloading is paused by itself (the disk), or undefined. */
  get pausedReason(): string | undefined {
    return this.#downloads.pausedReason;
  }

  /** Closes every connection and makes no new ones until resume(); idempotent. */
  pause(): void {
    if (this.#paused || this.#stopped) return;
    this.#paused = true;
    this.#conns.closeAll('paused');
  }

  /** Idempotent. */
  resume(): void {
    // A resume asked for by the user also tries a full disk again at once.
    this.#downloads.retryDisk();
    if (!this.#paused || this.#stopped) return;
    this.#paused = false;
    if (this.#held) return;
    this.#conns.peers.resetBackoff();
    this.#conns.connectMore();
  }

  get connectionCount(): number {
    return this.#conns.size;
  }

  isBanned(host: string): boolean {
    return this.#downloads.isBanned(host);
  }

  /** Idempotent. Starts timers and peer sources. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#startedAt = this.#now();
    const every = (ms: number, fn: () => void): void => {
      const t = setInterval(fn, ms);
      t.unref();
      this.#timers.push(t);
    };
    every(this.#settings.torrentTickMs, () => this.#tick());
    every(this.#settings.chokeIntervalMs, () => this.#choking.round(this.done));
    every(this.#settings.progressIntervalMs, () => this.emit('torrent:progress', this.stats()));
    every(this.#settings.resumeFlushIntervalMs, () => void this.#flush());
    for (const s of this.#sources) s.start();
    this.#downloads.startWebSeeds();
    if (this.done) this.#completeEmitted = true; // seeding from the start: no 'complete' event
  }

  /** Adds a peer source (tracker, DHT, ...); started with the torrent. */
  addSource(source: PeerSource): void {
    this.#sources.push(source);
    if (this.#started && !this.#stopped) source.start();
  }

  sourceContext(): PeerSourceContext {
    return {
      infoHash: this.metainfo.infoHash,
      peerId: this.#opts.peerId,
      port: this.#opts.listenPort,
      stats: () => ({ uploaded: this.#up.total, downloaded: this.#down.total, left: this.#bytesLeft() }),
      onPeers: (peers, source) => this.addPeers(peers, { source }),
      onAnnounced: (info) => this.emit('tracker:announced', info),
      onAnnounceFailed: (info) => this.emit('tracker:failed', info),
    };
  }

  #wantedBytes(): number {
    let n = 0;
    for (let i = 0; i < this.#shape.pieceCount; i++) if (this.#priorities.base(i) > 0) n += this.#picker.pieceSize(i);
    return n;
  }

  /** What trackers are told is left: the wanted bytes still missing. */
  #bytesLeft(): number {
    return this.#picker.wantedBytesLeft();
  }

  /** Learns of peers; they are connected as slots allow. `pinned` peers are retried forever. */
  addPeers(peers: PeerAddress[], opts: { source?: string; pinned?: boolean } = {}): void {
    this.#conns.peers.add(peers, opts);
    if (this.#started) this.#conns.connectMore();
  }

  stats(): TorrentStats {
    return {
      infoHash: this.infoHashHex,
      name: this.metainfo.info.name,
      have: this.#picker.haveCount,
      pieces: this.#shape.pieceCount,
      downloaded: this.#down.total,
      uploaded: this.#up.total,
      peers: this.#conns.handshaken().length,
      downloadRate: Math.round(this.#down.rate(this.#now())),
      uploadRate: Math.round(this.#up.rate(this.#now())),
      complete: this.complete,
      state: this.state,
      length: this.#shape.totalLength,
      left: this.#picker.wantedBytesLeft(),
      wanted: this.#wantedBytes(),
      seeds: this.#conns.handshaken().filter((c) => c.bits.isComplete()).length,
    };
  }

  /** The web seeds (BEP 19, web-seed.ts): URL, whether banned for this run, payload bytes taken from each. */
  webSeeds(): { url: string; banned: boolean; downloaded: number }[] {
    return this.#downloads.webSeeds();
  }

  /** The trackers of its tracker sources, each with its last answer (for the dashboard). */
  trackers(): TrackerUrlStatus[] {
    return this.#sources.flatMap((s) => (s instanceof TrackerPeerSource ? s.trackers() : []));
  }

  /** The names of its peer sources (tracker, dht, lsd). */
  get sourceNames(): string[] {
    return [...new Set(this.#sources.map((s) => s.name))];
  }

  peers(): PeerInfo[] {
    return this.#conns.handshaken().map((c) => peerInfo(c, this.#extensions.clientOf(c.id) ?? ''));
  }

  /**
   * Sends a text to connected peers speaking swarm_msg: `to` is a peer's
   * address (as listed by peers(), or its listen address) or 'all'.
   * Returns the addresses it went to.
   */
  sendMessage(to: string, text: string, skip: ReadonlySet<string> = new Set()): string[] {
    return this.#extensions.sendMessage(this.#conns.values(), to, text, skip);
  }

  // --- connections -------------------------------------------------------

  /** An incoming connection whose handshake the listener read and routed here. */
  acceptIncoming(socket: net.Socket, handshake: Handshake, rest: Uint8Array): void {
    this.#conns.accept(socket, handshake, rest);
  }

  /** Routes a new connection's events: to the requester, the uploader, the extensions, and here. */
  #wire(conn: PeerConnection): void {
    conn.on('peer:handshake', (h) => this.#onHandshake(conn, h));
    this.#downloads.attach(conn);
    // After the requester has counted the pieces: a seed meeting a seed closes.
    conn.on('peer:bitfield', () => this.#pex.dropIfBothSeeds(conn, this.complete));
    conn.on('peer:have', () => this.#pex.dropIfBothSeeds(conn, this.complete));
    this.#choking.attach(conn);
    this.#uploads.attach(conn);
    conn.on('peer:port', (port) => {
      if (port > 0) this.#opts.onDhtNode?.({ host: conn.remoteHost, port });
    });
    conn.on('peer:extended', (m) => this.#extensions.onMessage(conn, m.id, m.payload));
    conn.on('peer:close', (c) => this.#onClose(conn, c.reason, c.requests));
  }

  #onHandshake(conn: PeerConnection, h: Handshake): void {
    if (Buffer.compare(h.peerId, this.#opts.peerId) === 0) return conn.close('connected to ourselves');
    if (this.#conns.isDuplicate(conn, h.peerId)) return conn.close('duplicate connection to the same peer');
    this.#downloads.added(conn);
    conn.sendPieceSet(this.#deps.storage.have);
    if (h.extensionProtocol) this.#extensions.sendHandshake(conn);
    if (h.dht && this.#opts.dhtPort !== undefined) conn.send({ type: 'port', port: this.#opts.dhtPort });
    this.emit('peer:connected', { address: conn.address, outgoing: conn.outgoing, fast: conn.fast, client: peerIdClient(h.peerId) });
  }

  #onClose(conn: PeerConnection, reason: string, requests: BlockRequest[]): void {
    if (!this.#conns.delete(conn.id)) return;
    for (const r of requests) this.#picker.release(conn.id, r);
    this.#picker.peerGone(conn.id, conn.bits);
    this.#choking.forget(conn.id);
    this.#downloads.forget(conn.id);
    this.#uploads.forget(conn.id);
    this.#extensions.forget(conn.id);
    if (conn.handshaken) this.emit('peer:disconnected', { address: conn.address, reason });
    if (!this.#stopped) {
      this.#choking.unchokeIntoFreeSlots();
      this.#downloads.fillAll();
      this.#conns.connectMore();
    }
  }

  /** A piece was verified and written (downloader.ts): the torrent may be complete. */
  #onPieceVerified(): void {
    if (this.done && !this.#completeEmitted) {
      this.#completeEmitted = true;
      void this.#flush();
      for (const s of this.#sources) s.completed();
      this.emit('torrent:complete', { infoHash: this.infoHashHex, downloaded: this.#down.total, elapsedMs: this.#now() - this.#startedAt });
      for (const c of [...this.#conns.values()]) {
        c.notInterested();
        this.#pex.dropIfBothSeeds(c, this.complete);
      }
    }
  }

  // --- timers ----------------------------------------------------------------

  #tick(): void {
    this.#conns.closeInactive();
    this.#conns.connectMore();
    this.#downloads.fillAll();
    this.#pex.send();
  }

  async #flush(): Promise<void> {
    try {
      await this.#deps.storage.flush();
    } catch (err) {
      // While the disk is known to be full this is expected: the pause said it once.
      if (this.#downloads.paused) this.#log.debug(`saving resume state failed: ${errorMessage(err)}`);
      else this.#log.error(`saving resume state failed: ${errorMessage(err)}`);
    }
  }

  /** Flushes and closes the data files (after stop()). */
  async closeStorage(): Promise<void> {
    await this.#deps.storage.close();
  }

  /** Idempotent: tells sources we stopped, closes every connection, saves state. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    this.#limitRetry.stop();
    this.#priorities.abortAll(new Error(`${this.metainfo.info.name} stopped`));
    this.#conns.closeAll('shutting down');
    // Pieces already received finish hashing and writing (bounded), so they enter the resume state.
    await this.#downloads.stop(this.#settings.stopDrainMs);
    await Promise.allSettled(this.#sources.map((s) => s.stop()));
    await this.#flush();
  }
}


