/**
 * One swarm: peers <-> picker <-> storage (the orchestrator of DESIGN.md).
 *
 * Download path: a connection yields a block -> the picker accepts it -> it
 * is copied into its piece's buffer -> a complete piece is hashed off the
 * event loop -> written -> recorded for the resume state -> announced with
 * `have`. Nothing is marked complete before its SHA-1 matched and it was
 * written; it enters the resume file only after the next fsync.
 *
 * Upload path: a request of an unchoked peer -> the piece is read whole into
 * a small cache (read-ahead: the next requests hit memory) -> the block is
 * written to the socket without a copy, respecting backpressure.
 */
import type net from 'node:net';
import { TypedEmitter } from '../events.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { Settings } from '../settings.js';
import type { Metainfo } from '../metainfo/types.js';
import type { PeerAddress, PeerSource, PeerSourceContext } from '../discovery/peer-source.js';
import { PiecePicker, type BlockRequest } from '../picker/piece-picker.js';
import { Choker } from '../picker/choker.js';
import { PeerConnection } from '../peer/connection.js';
import { RateMeter } from '../peer/rate.js';
import { connectWithSharedBuffer } from '../peer/receive-buffer.js';
import type { HashPool } from '../util/hash-pool.js';
import { TokenBucket } from '../util/token-bucket.js';
import type { TorrentStorage } from '../storage/torrent-storage.js';
import type { Handshake } from '../wire/handshake.js';
import type { TorrentShape } from '../wire/validate.js';
import { ExtensionHub } from './extensions.js';
import { peerIdClient } from './fast-sets.js';
import { WarnLimiter } from '../util/warn-limiter.js';
import { ServeCheck } from './serve-check.js';
import { UploadServer } from './upload-server.js';
import { PieceAssembler } from './piece-assembler.js';
import { DiskPause } from './disk-pause.js';
import { PexSwarmView } from './pex.js';
import { LimitRetry, Requester } from './requester.js';
import { SmartBan, type Ban } from './smart-ban.js';
import { PeerList, type KnownPeer } from './peer-list.js';
import { isLoopbackHost } from '../util/address.js';
import { systemClock, type Clock } from '../util/clock.js';

export interface TorrentStats {
  infoHash: string;
  name: string;
  have: number;
  pieces: number;
  /** Payload bytes received and accepted in this run. */
  downloaded: number;
  /** Payload bytes sent in this run. */
  uploaded: number;
  peers: number;
  downloadRate: number;
  uploadRate: number;
  complete: boolean;
  state: 'paused' | 'seeding' | 'downloading';
  /** Total payload bytes of the torrent. */
  length: number;
}

export interface PeerInfo {
  address: string;
  peerId: string;
  client: string;
  outgoing: boolean;
  have: number;
  amChoking: boolean;
  amInterested: boolean;
  peerChoking: boolean;
  peerInterested: boolean;
  downloadRate: number;
  uploadRate: number;
  downloaded: number;
  uploaded: number;
}

export interface TorrentEvents {
  'torrent:progress': TorrentStats;
  'torrent:complete': { infoHash: string; downloaded: number; elapsedMs: number };
  'torrent:error': Error;
  /** Downloading stopped by itself (e.g. the disk is full); `reason` says why. Verified pieces are kept and still served. */
  'torrent:paused': { infoHash: string; reason: string };
  /** Downloading carries on after a 'torrent:paused'. */
  'torrent:resumed': { infoHash: string };
  /** `fast`: BEP 6 negotiated; `client`: from the peer id (e.g. `lt2080`, `A2-1-36-0-`). */
  'peer:connected': { address: string; outgoing: boolean; fast: boolean; client: string };
  'peer:disconnected': { address: string; reason: string };
  'peer:banned': { host: string; reason: string };
  'piece:verified': number;
  'piece:failed': { index: number; hosts: string[] };
  /** A tracker answered our announce. */
  'tracker:announced': { url: string; peers: number };
  /** A text message (swarm_msg extension) from a peer; `from` is its address. */
  'message:received': { from: string; text: string };
}

export interface TorrentDeps {
  storage: TorrentStorage;
  pool: HashPool;
  logger: Logger;
  /** Whether the session's global connection limit allows one more (maxPeersTotal). */
  canConnect?: () => boolean;
  /** Global rate limits shared by every torrent of the session (rate 0 = unlimited). */
  limits?: { upload: TokenBucket; download: TokenBucket };
  /** Time (default: the system clock). */
  clock?: Clock;
}

export interface TorrentOptions {
  metainfo: Metainfo;
  settings: Settings;
  peerId: Uint8Array;
  /** The TCP port we listen on (announced to trackers, the DHT and in the BEP 10 handshake). */
  listenPort: number;
  /** Address outgoing connections are made from (`--host`), unless 0.0.0.0. */
  localAddress?: string;
  /** Our DHT's UDP port: set the DHT bit and send PORT messages (BEP 5). */
  dhtPort?: number;
  /** A peer told us its DHT port. */
  onDhtNode?: (addr: PeerAddress) => void;
}

let nextConnectionId = 1;
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
  readonly #choker: Choker;
  readonly #conns = new Map<number, PeerConnection>();
  readonly #peerList: PeerList;
  readonly #now: Clock;
  readonly #requester: Requester;
  readonly #limitRetry: LimitRetry;
  readonly #assembler: PieceAssembler;
  readonly #disk: DiskPause;
  readonly #uploads: UploadServer;
  readonly #smartBan: SmartBan;
  readonly #sources: PeerSource[] = [];
  readonly #pex: PexSwarmView;
  readonly #down = new RateMeter();
  readonly #up = new RateMeter();
  readonly #extensions: ExtensionHub;
  readonly #limits: { upload: TokenBucket; download: TokenBucket };
  #downloaded = 0;
  #uploaded = 0;
  #startedAt: number;
  #completeEmitted = false;
  #started = false;
  #stopped = false;
  #paused = false;
  #timers: NodeJS.Timeout[] = [];
  /** When a rate-limited warning was last logged, by its key (bounded). */
  /** A warning logged at most once a minute per key (a flood of refusals must not flood the log). */
  readonly #warnings = new WarnLimiter((text) => this.#log.warn(text));
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
    this.#peerList = new PeerList({
      settings: opts.settings,
      clock: this.#now,
      listenPort: opts.listenPort,
      ...(opts.localAddress !== undefined ? { localAddress: opts.localAddress } : {}),
    });
    const info = opts.metainfo.info;
    this.#shape = { pieceCount: info.pieceCount, pieceLength: info.pieceLength, totalLength: info.length };
    this.#picker = new PiecePicker({
      pieceCount: info.pieceCount,
      pieceLength: info.pieceLength,
      totalLength: info.length,
      blockBytes: opts.settings.blockBytes,
      have: deps.storage.have,
    });
    this.#choker = new Choker({
      slots: opts.settings.unchokeSlots,
      optimisticEveryRounds: Math.round(opts.settings.optimisticUnchokeIntervalMs / opts.settings.chokeIntervalMs),
    });
    const writePiece = (index: number, data: Uint8Array): Promise<void> => deps.storage.store.writePiece(index, data);
    this.#disk = new DiskPause({
      settings: opts.settings,
      name: info.name,
      logger: this.#log,
      writePiece,
      haveCount: () => this.#picker.haveCount,
      onWritten: (index, data) => {
        this.#pieceStored(index, data);
        this.#assembler.releaseBuffer(data);
      },
      onPaused: (reason, code) => this.#onDiskPaused(reason, code),
      onResumed: () => this.#onDiskResumed(),
      stopped: () => this.#stopped,
    });
    this.#assembler = new PieceAssembler({
      info,
      settings: opts.settings,
      pool: deps.pool,
      writePiece,
      disk: this.#disk,
      logger: this.#log,
      stopped: () => this.#stopped,
      onStored: (index, data) => this.#pieceStored(index, data),
      onHashFailed: (index, data, from) => this.#onHashFailure(index, data, from),
      onHashError: (index) => this.#picker.pieceFailed(index),
      onWriteError: (index, err) => {
        this.emit('torrent:error', err instanceof Error ? err : new Error(String(err)));
        this.#picker.pieceFailed(index);
        this.#fillAll();
      },
      onRoom: () => this.#fillAll(),
    });
    this.#limits = deps.limits ?? { upload: new TokenBucket(0), download: new TokenBucket(0) };
    this.#limitRetry = new LimitRetry(opts.settings, () => {
      this.#fillAll();
      this.#uploads.pumpAll();
    });
    this.#requester = new Requester({
      picker: this.#picker,
      settings: opts.settings,
      budget: this.#limits.download,
      connections: () => this.#conns.values(),
      paused: () => this.#disk.active,
      atWriteBound: () => this.#assembler.atWriteBound(),
      onLimited: (ms) => this.#limitRetry.schedule(ms),
    });
    this.#smartBan = new SmartBan({ blockBytes: opts.settings.blockBytes, banAfterFailures: opts.settings.banAfterHashFailures });
    this.#uploads = new UploadServer({
      info,
      settings: opts.settings,
      store: deps.storage.store,
      has: (i) => this.#picker.has(i),
      serveCheck: new ServeCheck({ info, have: deps.storage.have, pool: deps.pool, completion: deps.storage.completion, logger: this.#log }),
      budget: this.#limits.upload,
      onLimited: (ms) => this.#limitRetry.schedule(ms),
      onUploaded: (bytes) => {
        this.#uploaded += bytes;
        this.#up.add(bytes);
      },
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
      onRemoteHandshake: () => this.#sendPex(),
      onText: (conn, text) => {
        const addr = this.#extensions.listenAddressOf(conn);
        this.emit('message:received', { from: addr ? `${addr.host}:${addr.port}` : conn.address, text });
      },
    });
    this.#pex = new PexSwarmView({ settings: opts.settings, clock: this.#now, listenAddressOf: (c) => this.#extensions.listenAddressOf(c) });
  }

  get complete(): boolean {
    return this.#picker.isComplete();
  }

  get have(): number {
    return this.#picker.haveCount;
  }

  get paused(): boolean {
    return this.#paused;
  }

  get state(): 'paused' | 'seeding' | 'downloading' {
    return this.#paused || this.#disk.active ? 'paused' : this.complete ? 'seeding' : 'downloading';
  }

  /** Why downloading is paused by itself (the disk), or undefined. */
  get pausedReason(): string | undefined {
    return this.#disk.reason;
  }

  /** Closes every connection and makes no new ones until resume(); idempotent. */
  pause(): void {
    if (this.#paused || this.#stopped) return;
    this.#paused = true;
    for (const c of [...this.#conns.values()]) c.close('paused');
  }

  /** Idempotent. */
  resume(): void {
    // A resume asked for by the user also tries a full disk again at once.
    if (this.#disk.active && !this.#stopped) void this.#disk.retry();
    if (!this.#paused || this.#stopped) return;
    this.#paused = false;
    this.#peerList.resetBackoff();
    this.#connectMore();
  }

  get connectionCount(): number {
    return this.#conns.size;
  }

  isBanned(host: string): boolean {
    return this.#smartBan.isBanned(host);
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
    every(this.#settings.chokeIntervalMs, () => this.#chokeRound());
    every(this.#settings.progressIntervalMs, () => this.emit('torrent:progress', this.stats()));
    every(this.#settings.resumeFlushIntervalMs, () => void this.#flush());
    for (const s of this.#sources) s.start();
    if (this.complete) this.#completeEmitted = true; // seeding from the start: no 'complete' event
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
      stats: () => ({ uploaded: this.#uploaded, downloaded: this.#downloaded, left: this.#bytesLeft() }),
      onPeers: (peers, source) => this.addPeers(peers, { source }),
      onAnnounced: (info) => this.emit('tracker:announced', info),
    };
  }

  #bytesLeft(): number {
    let left = 0;
    for (let i = 0; i < this.#shape.pieceCount; i++) if (!this.#picker.has(i)) left += this.#picker.pieceSize(i);
    return left;
  }

  /** Learns of peers; they are connected as slots allow. `pinned` peers are retried forever. */
  addPeers(peers: PeerAddress[], opts: { source?: string; pinned?: boolean } = {}): void {
    this.#peerList.add(peers, opts);
    if (this.#started) this.#connectMore();
  }

  stats(): TorrentStats {
    return {
      infoHash: this.infoHashHex,
      name: this.metainfo.info.name,
      have: this.#picker.haveCount,
      pieces: this.#shape.pieceCount,
      downloaded: this.#downloaded,
      uploaded: this.#uploaded,
      peers: [...this.#conns.values()].filter((c) => c.handshaken).length,
      downloadRate: Math.round(this.#down.rate()),
      uploadRate: Math.round(this.#up.rate()),
      complete: this.complete,
      state: this.state,
      length: this.#shape.totalLength,
    };
  }

  peers(): PeerInfo[] {
    return [...this.#conns.values()]
      .filter((c) => c.handshaken)
      .map((c) => ({
        address: c.address,
        peerId: c.remotePeerIdHex,
        client: this.#extensions.clientOf(c.id) ?? '',
        outgoing: c.outgoing,
        have: c.bits.count(),
        amChoking: c.amChoking,
        amInterested: c.amInterested,
        peerChoking: c.peerChoking,
        peerInterested: c.peerInterested,
        downloadRate: Math.round(c.downloadRate.rate()),
        uploadRate: Math.round(c.uploadRate.rate()),
        downloaded: c.downloadRate.total,
        uploaded: c.uploadRate.total,
      }));
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

  #connectMore(): void {
    if (this.#stopped || this.#paused) return;
    const slots = this.#settings.maxPeersPerTorrent - this.#conns.size;
    const dial = this.#peerList.toDial(slots, this.#conns.values(), {
      banned: (host) => this.#smartBan.isBanned(host),
      canConnect: this.#deps.canConnect ?? (() => true),
    });
    for (const p of dial) this.#connect(p);
  }

  #connect(p: KnownPeer): void {
    const list = this.#peerList;
    const uncount = list.dialing(p);
    const local = this.#opts.localAddress;
    const { socket, setSink } = connectWithSharedBuffer({ host: p.host, port: p.port, ...(local && local !== '0.0.0.0' ? { localAddress: local } : {}) });
    const fail = (why: string): void => {
      socket.destroy();
      uncount();
      if (list.dialFailed(p)) this.#log.debug(`connect to ${p.key} failed: ${why}`);
    };
    socket.setTimeout(this.#settings.connectTimeoutMs, () => fail('timeout'));
    socket.once('error', (err) => fail(err.message));
    socket.once('connect', () => {
      socket.setTimeout(0);
      socket.removeAllListeners('error');
      list.dialConnected(p);
      uncount();
      if (this.#stopped || this.#paused || this.#conns.size >= this.#settings.maxPeersPerTorrent || this.#deps.canConnect?.() === false) {
        return void socket.destroy();
      }
      const conn = this.#attach(socket, true, undefined, undefined, true);
      setSink((chunk) => conn.receive(chunk));
      list.attached(p, conn.id);
      conn.on('peer:close', () => list.closed(p));
      conn.on('peer:handshake', () => list.handshaken(p));
    });
  }

  /** Closes the least useful peer to make room for a newcomer; false when every peer is worth its slot. */
  #evictForNewcomer(newcomer: string): boolean {
    const victim = this.#peerList.evictionVictim(this.#conns.values());
    if (!victim) return false;
    const idleS = Math.round(this.#peerList.uselessFor(victim) / 1000);
    this.#warnings.warn('evict', `torrent full (${this.#conns.size} peers): closing idle ${victim.address} (no data for ${idleS} s) for ${newcomer}`);
    victim.close('evicted: idle while the torrent was full');
    return true;
  }

  /** An incoming connection whose handshake the listener read and routed here. */
  acceptIncoming(socket: net.Socket, handshake: Handshake, rest: Uint8Array): void {
    const host = socket.remoteAddress ?? '';
    if (this.#stopped || this.#paused || this.#smartBan.isBanned(host)) {
      socket.destroy();
      return;
    }
    const limit = this.#peerList.addressLimit(host);
    if (this.#peerList.connectionsWith(host, this.#conns.values()) >= limit) {
      const key = isLoopbackHost(host) ? 'maxConnectionsPerLoopbackAddress' : 'maxConnectionsPerAddress';
      this.#warnings.warn(`address ${host}`, `refusing more connections from ${host}: it already has ${limit} with this torrent (${key})`);
      socket.destroy();
      return;
    }
    if (this.#conns.size >= this.#settings.maxPeersPerTorrent && !this.#evictForNewcomer(`${host}:${socket.remotePort ?? 0}`)) {
      this.#log.debug(`refused ${host}: torrent full (${this.#conns.size} peers, none idle)`);
      socket.destroy();
      return;
    }
    this.#attach(socket, false, handshake, rest);
  }

  #attach(socket: net.Socket, outgoing: boolean, handshake?: Handshake, rest?: Uint8Array, externalReads = false): PeerConnection {
    const conn = new PeerConnection({
      id: nextConnectionId++,
      socket,
      outgoing,
      infoHash: this.metainfo.infoHash,
      peerId: this.#opts.peerId,
      shape: this.#shape,
      settings: this.#settings,
      logger: this.#log,
      extensionProtocol: true,
      dht: this.#opts.dhtPort !== undefined,
      ...(handshake ? { remoteHandshake: handshake } : {}),
      ...(rest ? { initialBytes: rest } : {}),
      externalReads,
    });
    this.#conns.set(conn.id, conn);
    this.#wire(conn);
    conn.start();
    return conn;
  }

  #wire(conn: PeerConnection): void {
    conn.on('peer:handshake', (h) => this.#onHandshake(conn, h));
    const req = this.#requester;
    conn.on('peer:bitfield', (bits) => {
      req.peerBitfield(conn, bits);
      this.#dropIfBothSeeds(conn);
    });
    conn.on('peer:have', (index) => {
      req.peerHave(conn, index);
      this.#dropIfBothSeeds(conn);
    });
    conn.on('peer:unchoke', () => req.fill(conn));
    conn.on('peer:choke', (dropped) => req.release(conn, dropped));
    // BEP 6: a rejected request is asked again, from whoever has it.
    conn.on('peer:reject', (r) => req.release(conn, [r]));
    conn.on('peer:allowed-fast', () => {
      if (conn.peerChoking) req.fill(conn);
    });
    conn.on('peer:suggest', () => req.fill(conn));
    conn.on('peer:timeout', (reqs) => req.release(conn, reqs));
    conn.on('peer:interested', () => {
      if (this.#choker.tryUnchokeNow(conn.id)) conn.unchoke();
    });
    conn.on('peer:not-interested', () => {
      this.#choker.remove(conn.id);
      conn.choke();
      this.#unchokeIntoFreeSlots();
    });
    conn.on('peer:piece', (p) => this.#onBlock(conn, p.index, p.begin, p.block));
    conn.on('peer:request', (req) => this.#uploads.enqueue(conn, req));
    conn.on('peer:cancel', () => this.#uploads.cancelled(conn));
    conn.on('peer:port', (port) => {
      if (port > 0) this.#opts.onDhtNode?.({ host: conn.remoteHost, port });
    });
    conn.on('peer:extended', (m) => this.#extensions.onMessage(conn, m.id, m.payload));
    conn.onDrain(() => this.#uploads.pump(conn));
    conn.on('peer:close', (c) => this.#onClose(conn, c.reason, c.requests));
  }

  #onHandshake(conn: PeerConnection, h: Handshake): void {
    if (Buffer.compare(h.peerId, this.#opts.peerId) === 0) return conn.close('connected to ourselves');
    for (const other of this.#conns.values()) {
      if (other !== conn && other.remote && Buffer.compare(other.remote.peerId, h.peerId) === 0) {
        return conn.close('duplicate connection to the same peer');
      }
    }
    this.#requester.added(conn);
    conn.sendPieceSet(this.#deps.storage.have);
    if (h.extensionProtocol) this.#extensions.sendHandshake(conn);
    if (h.dht && this.#opts.dhtPort !== undefined) conn.send({ type: 'port', port: this.#opts.dhtPort });
    this.emit('peer:connected', { address: conn.address, outgoing: conn.outgoing, fast: conn.fast, client: peerIdClient(h.peerId) });
  }

  #onClose(conn: PeerConnection, reason: string, requests: BlockRequest[]): void {
    if (!this.#conns.delete(conn.id)) return;
    for (const r of requests) this.#picker.release(conn.id, r);
    this.#picker.peerGone(conn.id, conn.bits);
    this.#choker.remove(conn.id);
    this.#requester.forget(conn.id);
    this.#uploads.forget(conn.id);
    this.#extensions.forget(conn.id);
    if (conn.handshaken) this.emit('peer:disconnected', { address: conn.address, reason });
    if (!this.#stopped) {
      this.#unchokeIntoFreeSlots();
      this.#fillAll();
      this.#connectMore();
    }
  }

  /**
   * An upload slot came free (a peer left or lost interest, e.g. it
   * completed): give it to an interested peer now, not at the next choke
   * round up to 10 s later. On a LAN swarm the last leechers otherwise sat
   * idle with one piece to go while the seeder's upload was free.
   */
  #unchokeIntoFreeSlots(): void {
    const waiting = [...this.#conns.values()].filter((c) => c.handshaken && !c.closed && c.peerInterested && c.amChoking && !c.bits.isComplete());
    // Start at a random one, so the same peer is not always first in line.
    const start = Math.floor(Math.random() * waiting.length);
    for (let i = 0; i < waiting.length; i++) {
      const c = waiting[(start + i) % waiting.length]!;
      if (!this.#choker.tryUnchokeNow(c.id)) return;
      c.unchoke();
    }
  }

  #dropIfBothSeeds(conn: PeerConnection): void {
    if (!this.complete || !conn.bits.isComplete()) return;
    // Still a live peer of the swarm: keep telling newcomers about it through PEX.
    this.#pex.seedDropped(conn);
    conn.close('both sides are seeds');
  }

  #fillAll(): void {
    this.#requester.fillAll();
  }

  #onBlock(conn: PeerConnection, index: number, begin: number, block: Uint8Array): void {
    const receipt = this.#picker.blockReceived(conn.id, { index, begin, length: block.length });
    if (!receipt.accepted) return;
    this.#downloaded += block.length;
    this.#down.add(block.length);
    this.#assembler.add(index, begin, block, conn.remoteHost);
    for (const other of receipt.cancelAt) this.#conns.get(other)?.cancel({ index, begin, length: block.length });
    if (receipt.pieceComplete) this.#assembler.complete(index);
    this.#requester.fill(conn);
  }

  #pieceStored(index: number, data: Uint8Array): void {
    this.#deps.storage.pieceWritten(index);
    this.#picker.pieceVerified(index);
    this.#ban(this.#smartBan.pieceVerified(index, data));
    this.#onPieceVerified(index);
  }

  /** The disk refused a write (disk-pause.ts): requests in flight are cancelled and nothing more is asked for. */
  #onDiskPaused(reason: string, code: string): void {
    for (const c of this.#conns.values()) {
      for (const r of c.cancelAll()) this.#picker.release(c.id, r);
      if (c.amInterested) c.notInterested();
    }
    this.emit('torrent:error', Object.assign(new Error(`${this.metainfo.info.name}: ${reason}`), { code }));
    this.emit('torrent:paused', { infoHash: this.infoHashHex, reason });
  }

  #onDiskResumed(): void {
    this.emit('torrent:resumed', { infoHash: this.infoHashHex });
    for (const c of this.#conns.values()) if (c.handshaken) this.#requester.updateInterest(c);
    this.#fillAll();
  }

  #onPieceVerified(index: number): void {
    this.emit('piece:verified', index);
    for (const c of this.#conns.values()) {
      if (!c.handshaken) continue;
      if (c.bits.get(index)) this.#requester.pieceGot(c);
      else c.have(index);
    }
    if (this.complete && !this.#completeEmitted) {
      this.#completeEmitted = true;
      void this.#flush();
      for (const s of this.#sources) s.completed();
      this.emit('torrent:complete', { infoHash: this.infoHashHex, downloaded: this.#downloaded, elapsedMs: this.#now() - this.#startedAt });
      for (const c of [...this.#conns.values()]) {
        c.notInterested();
        this.#dropIfBothSeeds(c);
      }
    }
  }

  /** Smart ban (smart-ban.ts): a sole sender of a bad piece, or one whose blocks differed from the good data, is struck. */
  #onHashFailure(index: number, data: Uint8Array, from: string[]): void {
    const hosts = SmartBan.senders(from);
    this.#log.warn(`piece ${index} failed its hash check (blocks from ${hosts.join(', ')})`);
    this.#picker.pieceFailed(index);
    this.emit('piece:failed', { index, hosts });
    this.#ban(this.#smartBan.pieceFailed(index, data, from));
    this.#fillAll();
  }

  #ban(bans: Ban[]): void {
    for (const { host, reason, strikes } of bans) {
      this.#log.warn(`banning ${host}: ${reason} (${strikes} times)`);
      this.emit('peer:banned', { host, reason });
      for (const c of [...this.#conns.values()]) if (c.remoteHost === host) c.close('banned');
    }
  }

  // --- timers ----------------------------------------------------------------

  #tick(): void {
    this.#closeInactive();
    this.#connectMore();
    this.#fillAll();
    this.#sendPex();
  }

  /** Peers with no interest either way and no payload for inactivityTimeoutMs are closed: keep-alives alone keep no one. */
  #closeInactive(): void {
    const now = this.#now();
    const limit = this.#settings.inactivityTimeoutMs;
    for (const c of [...this.#conns.values()]) {
      if (!c.handshaken || c.amInterested || c.peerInterested) continue;
      if (now - Math.max(c.connectedAt, c.lastPayloadAt) >= limit) c.close(`inactive: no interest either way and no data for ${Math.round(limit / 1000)} s`);
    }
  }

  #sendPex(): void {
    this.#extensions.sendPex(this.#conns.values(), this.#pex.swarm(this.#conns.values()));
  }

  #chokeRound(): void {
    const cands = [...this.#conns.values()]
      .filter((c) => c.handshaken)
      .map((c) => ({
        id: c.id,
        interested: c.peerInterested,
        downloadRate: c.downloadRate.rate(),
        uploadRate: c.uploadRate.rate(),
        isSeed: c.bits.isComplete(),
      }));
    const unchoke = this.#choker.round(cands, this.complete);
    for (const c of this.#conns.values()) {
      if (!c.handshaken) continue;
      if (unchoke.has(c.id)) c.unchoke();
      else c.choke();
    }
  }

  async #flush(): Promise<void> {
    try {
      await this.#deps.storage.flush();
    } catch (err) {
      // While the disk is known to be full this is expected: the pause said it once.
      if (this.#disk.active) this.#log.debug(`saving resume state failed: ${errorMessage(err)}`);
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
    this.#disk.stop();
    for (const c of [...this.#conns.values()]) c.close('shutting down');
    // Pieces already received finish hashing and writing (bounded), so they enter the resume state.
    await this.#assembler.drain(this.#settings.stopDrainMs);
    await Promise.allSettled(this.#sources.map((s) => s.stop()));
    await this.#flush();
  }
}


