/**
 * The composition root: one peer id, one TCP listener, one hash pool, and
 * the torrents they serve. `peer seed` and `peer leech` run a session with
 * one torrent; the daemon (`peer start`) runs many.
 */
import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { TypedEmitter } from '../events.js';
import { UsageError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Settings } from '../settings.js';
import type { MagnetLink, Metainfo } from '../metainfo/types.js';
import { parseTorrent } from '../metainfo/parse.js';
import { torrentFromInfo } from '../metainfo/from-info.js';
import { MetadataFetcher } from './metadata-fetch.js';
import { errorMessage } from '../errors.js';
import type { PeerAddress, PeerSource } from '../discovery/peer-source.js';
import { HashPool } from '../util/hash-pool.js';
import { TokenBucket } from '../util/token-bucket.js';
import { randomBytes } from '../util/hash.js';
import { AtomicWriteError, writeFileAtomic } from '../util/atomic-write.js';
import { printable } from '../util/printable.js';
import { hostWords, listenError } from '../util/listen-errors.js';
import { openTorrentStorage } from '../storage/torrent-storage.js';
import type { PieceStore } from '../storage/piece-store.js';
import { TrackerPeerSource } from '../discovery/tracker-source.js';
import type { TrackerServer } from '../tracker/server.js';
import { PeerListener } from './listener.js';
import type { DhtNode } from '../dht/node.js';
import { DhtPeerSource, startIpv6DhtNode } from '../discovery/dht-source.js';
import { loadSelection, saveSelection, selectFiles, skippedFileIndexes } from './file-selection.js';
import { LsdService, LSD_DHT_INFOHASH } from '../discovery/lsd.js';
import { LsdPeerSource } from '../discovery/lsd-source.js';
import { isLoopbackHost, isWildcardHost } from '../util/address.js';
import { KvStore } from '../dht/kv.js';
import { loadOrCreateIdentity } from '../dht/state.js';
import { Torrent } from './torrent.js';

/** Azureus-style peer id: client code SP, version 0.1.0, then random bytes. */
export function makePeerId(): Uint8Array {
  const prefix = Buffer.from('-SP0010-', 'latin1');
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const tail = Buffer.from([...randomBytes(12)].map((b) => alphabet.charCodeAt(b % alphabet.length)));
  return new Uint8Array(Buffer.concat([prefix, tail]));
}

export interface SessionOptions {
  settings: Settings;
  /** Resume data lives under `<stateDir>/resume/`. */
  stateDir: string;
  logger: Logger;
  peerId?: Uint8Array;
  /** Run the embedded tracker (HTTP and UDP) on this port (`--tracker`). */
  trackerPort?: number;
  /** Announce to the torrents' trackers (default true). */
  useTrackers?: boolean;
  /**
   * Run a DHT node (BEP 5) on the UDP port of the same number as the TCP
   * listener, bootstrapping from these nodes. Off unless given.
   */
  dht?: { bootstrap: PeerAddress[] } | false;
  /** A hash pool shared with other sessions (tests running many in one process); not closed by stop(). */
  pool?: HashPool;
}

export interface AddTorrentOptions {
  /** The file (single-file torrent) or folder (multi-file) holding the content. */
  contentPath: string;
  mode: 'seed' | 'leech';
  recheck?: boolean;
  /** Pieces in order (a read-ahead window), for playing a file while it downloads. */
  sequential?: boolean;
  /** This torrent's own rate limits (bytes/s, 0 = none), on top of the session's. */
  uploadLimitBytesPerS?: number;
  downloadLimitBytesPerS?: number;
  /**
   * Files to download (`--only`/`--skip` globs, file-selection.ts). Without
   * it, the selection saved by the last run of this torrent is kept.
   */
  select?: { only: readonly string[]; skip: readonly string[] };
  /** Peers to connect to and keep retrying (`--peer`). */
  peers?: PeerAddress[];
  onVerifyProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** A store other than files on disk (tests). */
  store?: PieceStore;
}

export interface ReceivedMessage {
  from: string;
  text: string;
  at: number;
  infoHash: string;
}

export interface SessionEvents {
  'torrent:added': Torrent;
  'torrent:removed': string;
  'message:received': ReceivedMessage;
}

/** Received messages kept for GET /api/messages. */
const MAX_KEPT_MESSAGES = 200;

export class Session extends TypedEmitter<SessionEvents> {
  readonly settings: Settings;
  readonly peerId: Uint8Array;
  readonly pool: HashPool;
  readonly #opts: SessionOptions;
  readonly #listener: PeerListener;
  readonly #torrents = new Map<string, Torrent>();
  /** Messages received from peers, oldest first (bounded). */
  readonly messages: ReceivedMessage[] = [];
  /** Global rate limits in bytes/s (0 = unlimited), shared by every torrent; change with setRateLimits(). */
  readonly limits = { upload: new TokenBucket(0), download: new TokenBucket(0) };
  #tracker: TrackerServer | undefined;
  #dht: DhtNode | undefined;
  /** BEP 32: the IPv6 node beside #dht when --host is `::` and the system has IPv6. */
  #dht6: DhtNode | undefined;
  #kv: KvStore | undefined;
  /** Local service discovery (BEP 14), shared by every torrent; settings.lsdEnabled and a non-loopback host. */
  #lsd: LsdService | undefined;
  #started = false;
  #stopped = false;

  constructor(opts: SessionOptions) {
    super();
    this.#opts = opts;
    this.settings = opts.settings;
    this.peerId = opts.peerId ?? makePeerId();
    this.pool = opts.pool ?? new HashPool();
    this.setRateLimits({ uploadBytesPerS: opts.settings.uploadLimitBytesPerS, downloadBytesPerS: opts.settings.downloadLimitBytesPerS });
    this.#listener = new PeerListener({
      host: opts.settings.host,
      port: opts.settings.port,
      logger: opts.logger.child({ component: 'listener' }),
      handshakeTimeoutMs: opts.settings.incomingHandshakeTimeoutMs,
      maxPending: opts.settings.maxPendingHandshakes,
      maxPendingPerAddress: opts.settings.maxPendingHandshakesPerAddress,
      // maxPeersTotal, incoming side: refused before the handshake is answered.
      route: (hex) => (this.connectionCount < this.settings.maxPeersTotal ? this.#torrents.get(hex) : undefined),
    });
  }

  /** Connections of every torrent (handshaking ones included). */
  get connectionCount(): number {
    let n = 0;
    for (const t of this.#torrents.values()) n += t.connectionCount;
    return n;
  }

  /** The TCP port peers reach us on. */
  get port(): number {
    return this.#listener.port;
  }

  get torrents(): Torrent[] {
    return [...this.#torrents.values()];
  }

  torrent(infoHashHex: string): Torrent | undefined {
    return this.#torrents.get(infoHashHex.toLowerCase());
  }

  /** Idempotent: binds the listener. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    try {
      await this.#listener.start();
    } catch (err) {
      throw listenError(err, { what: `port ${this.settings.port} on ${hostWords(this.settings.host)}`, fix: 'choose another with --port', host: `--host ${this.settings.host}` });
    }
    if (this.#opts.dht) {
      // Loaded on demand (as the tracker below): a `--no-dht` leecher starts faster without them.
      const { DhtNode } = await import('../dht/node.js');
      this.#dht = new DhtNode({
        host: this.settings.host,
        port: this.#listener.port,
        bootstrap: this.#opts.dht.bootstrap,
        stateDir: this.#opts.stateDir,
        logger: this.#opts.logger.child({ component: 'dht' }),
        settings: this.settings,
        sibling: () => this.#dht6,
      });
      try {
        await this.#dht.start();
      } catch (err) {
        throw listenError(err, { what: `UDP port ${this.#listener.port} (the DHT's)`, fix: 'choose another --port, or --no-dht' });
      }
      if (this.settings.host === '::') this.#dht6 = await startIpv6DhtNode(DhtNode, { sibling: () => this.#dht, port: this.#listener.port, bootstrap: this.#opts.dht.bootstrap, stateDir: this.#opts.stateDir, logger: this.#opts.logger.child({ component: 'dht6' }), settings: this.settings });
    }
    if (this.settings.lsdEnabled && !isLoopbackHost(this.settings.host)) await this.#startLsd();
    if (this.#opts.trackerPort !== undefined) {
      const { TrackerServer } = await import('../tracker/server.js');
      this.#tracker = new TrackerServer({ host: this.settings.host, port: this.#opts.trackerPort, logger: this.#opts.logger.child({ component: 'tracker' }) });
      try {
        await this.#tracker.start();
      } catch (err) {
        throw listenError(err, { what: `tracker port ${this.#opts.trackerPort}`, fix: 'choose another with --tracker PORT' });
      }
    }
  }

  /**
   * LSD is a convenience: when the group cannot be joined (no multicast
   * route, port 6771 held exclusively) the session runs without it, with a
   * warning. With a DHT node, the node is announced on the rendezvous
   * info-hash and the LAN's other nodes found there join its routing table,
   * so a LAN with no bootstrap node still has one DHT.
   */
  async #startLsd(): Promise<void> {
    const lsd = new LsdService({ host: this.settings.host, settings: this.settings, logger: this.#opts.logger.child({ component: 'lsd' }) });
    try {
      await lsd.start();
    } catch (err) {
      this.#opts.logger.warn(`running without local service discovery: ${errorMessage(err)}`);
      return;
    }
    this.#lsd = lsd;
    const dht = this.#dht;
    // A node heard over LSD goes to our DHT node of its family (the IPv4 node pinged IPv6 addresses and timed out).
    const nodeFor = (addr: PeerAddress): DhtNode | undefined => (addr.host.includes(':') === dht?.address.host.includes(':') ? dht : this.#dht6);
    if (dht) lsd.register(LSD_DHT_INFOHASH, { port: dht.address.port, announce: true, answer: true, onPeer: (addr) => nodeFor(addr)?.addNode(addr) });
  }

  /**
   * Sends a short text (at most 1 KiB) to a connected peer ('host:port') or
   * to every connected peer ('all'), once per peer even when it shares
   * several torrents with us. Returns the number of peers it went to.
   */
  sendMessage(to: string, text: string): number {
    const sent = new Set<string>();
    for (const t of this.#torrents.values()) for (const a of t.sendMessage(to, text, sent)) sent.add(a);
    return sent.size;
  }

  /** Changes the global limits at run time (bytes/s; 0 = unlimited). */
  setRateLimits(limits: { uploadBytesPerS?: number; downloadBytesPerS?: number }): void {
    if (limits.uploadBytesPerS !== undefined) this.limits.upload.setRate(limits.uploadBytesPerS);
    if (limits.downloadBytesPerS !== undefined) this.limits.download.setRate(limits.downloadBytesPerS);
  }

  /**
   * The key-value layer (BEP 44) of the session's DHT node. Its puts and
   * deletes are republished while the session runs, and after a restart
   * from the node's list in --state (kv-published.bencode).
   */
  get kv(): KvStore | undefined {
    if (!this.#dht) return undefined;
    this.#kv ??= new KvStore(this.#dht, () => loadOrCreateIdentity(this.#opts.stateDir));
    return this.#kv;
  }

  /** The DHT node, when the session runs one. */
  /** Whether local service discovery runs (it may be off, or have failed to join its group). */
  get lsdRunning(): boolean {
    return this.#lsd !== undefined;
  }

  get dht(): DhtNode | undefined {
    return this.#dht;
  }

  /** The IPv6 DHT node beside `dht` (BEP 32), when there is one. */
  get dht6(): DhtNode | undefined {
    return this.#dht6;
  }

  /** Local service discovery, when it runs. */
  get lsd(): LsdService | undefined {
    return this.#lsd;
  }

  /** The embedded tracker, when `--tracker` asked for one. */
  get tracker(): TrackerServer | undefined {
    return this.#tracker;
  }

  /** What a tracker peer source takes from this session's settings. */
  #trackerSourceSettings(): { numwant: number; timeoutMs: number; stopTimeoutMs: number; retryBaseMs: number; defaultIntervalS: number } {
    const s = this.settings;
    return { numwant: s.numwant, timeoutMs: s.trackerTimeoutMs, stopTimeoutMs: s.trackerStopTimeoutMs, retryBaseMs: s.trackerRetryInitialMs, defaultIntervalS: s.trackerDefaultIntervalS };
  }

  async addTorrent(metainfo: Metainfo, opts: AddTorrentOptions): Promise<Torrent> {
    if (this.#torrents.has(metainfo.infoHashHex)) throw new UsageError(`torrent ${metainfo.infoHashHex} is already running`);
    const logger = this.#opts.logger.child({ component: 'torrent' });
    // The files chosen now, or those the last run chose (file-selection.ts); skipped files are not created.
    const filePriorities =
      opts.select && (opts.select.only.length || opts.select.skip.length)
        ? selectFiles(metainfo.info, opts.select.only, opts.select.skip)
        : opts.select
          ? undefined
          : await loadSelection(this.#opts.stateDir, metainfo.info, metainfo.infoHashHex);
    const skipped = filePriorities ? skippedFileIndexes(metainfo.info, filePriorities) : undefined;
    const storage = await openTorrentStorage({
      info: metainfo.info,
      infoHashHex: metainfo.infoHashHex,
      contentPath: opts.contentPath,
      stateDir: this.#opts.stateDir,
      mode: opts.mode,
      recheck: opts.recheck ?? false,
      pool: this.pool,
      logger,
      maxOpenFiles: this.settings.maxOpenFiles,
      ...(skipped?.size ? { skipped } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onVerifyProgress ? { onVerifyProgress: opts.onVerifyProgress } : {}),
      ...(opts.store ? { store: opts.store } : {}),
    });
    const host = this.settings.host;
    const torrent = new Torrent(
      { storage, pool: this.pool, logger, limits: this.limits, canConnect: () => this.connectionCount < this.settings.maxPeersTotal },
      {
        metainfo,
        settings: this.settings,
        peerId: this.peerId,
        listenPort: this.port,
        ...(!isWildcardHost(host) ? { localAddress: host } : {}),
        ...(this.#dht ? { dhtPort: this.#dht.address.port, onDhtNode: (addr: PeerAddress) => (addr.host.includes(':') && this.#dht6 ? this.#dht6 : this.#dht)?.addNode(addr) } : {}),
        ...(opts.sequential ? { sequential: true } : {}),
        ...(opts.uploadLimitBytesPerS ? { uploadLimitBytesPerS: opts.uploadLimitBytesPerS } : {}),
        ...(opts.downloadLimitBytesPerS ? { downloadLimitBytesPerS: opts.downloadLimitBytesPerS } : {}),
        ...(filePriorities ? { filePriorities } : {}),
      },
    );
    this.#torrents.set(metainfo.infoHashHex, torrent);
    const saveSelectionOf = (levels: readonly number[]): void => {
      saveSelection(this.#opts.stateDir, metainfo.infoHashHex, levels).catch((err: unknown) => logger.warn(`could not save the file selection: ${errorMessage(err)}`));
    };
    if (filePriorities || opts.select) saveSelectionOf(torrent.filePriorities);
    torrent.on('torrent:selection', saveSelectionOf);
    torrent.on('message:received', (m) => {
      const msg = { ...m, at: Date.now(), infoHash: metainfo.infoHashHex };
      this.messages.push(msg);
      if (this.messages.length > MAX_KEPT_MESSAGES) this.messages.shift();
      this.#opts.logger.info(`Received message from ${m.from}: ${printable(m.text)}`); // no escape sequence from a peer reaches the terminal
      this.emit('message:received', msg);
    });
    if (this.#opts.useTrackers !== false && metainfo.announceList.length) {
      torrent.addSource(
        new TrackerPeerSource(torrent.sourceContext(), {
          tiers: metainfo.announceList,
          ...this.#trackerSourceSettings(),
          logger: logger.child({ component: 'tracker-client' }),
          ...(!isWildcardHost(host) ? { localAddress: host } : {}),
        }),
      );
    }
    // BEP 27: a private torrent finds peers through its trackers only.
    if (this.#dht && !metainfo.info.private) {
      torrent.addSource(new DhtPeerSource(this.#dht, torrent.sourceContext(), { logger: logger.child({ component: 'dht-source' }) }));
      if (this.#dht6) torrent.addSource(new DhtPeerSource(this.#dht6, torrent.sourceContext(), { logger: logger.child({ component: 'dht6-source' }) }));
    }
    // BEP 14 too: a private torrent is never announced on the LAN.
    if (this.#lsd && !metainfo.info.private) torrent.addSource(new LsdPeerSource(this.#lsd, torrent.sourceContext()));
    torrent.start();
    if (opts.peers?.length) torrent.addPeers(opts.peers, { pinned: true, source: 'cli' });
    this.emit('torrent:added', torrent);
    return torrent;
  }

  /**
   * Resolves a magnet link to a torrent: its info dictionary is fetched from
   * the peers its trackers, its `x.pe` peers and `peers` lead to (BEP 9),
   * checked against the info-hash, cached in `<stateDir>/torrents/`, then
   * the download starts like any other.
   */
  async addMagnet(magnet: MagnetLink, opts: { outDir: string; peers?: PeerAddress[]; signal?: AbortSignal; recheck?: boolean; sequential?: boolean; select?: AddTorrentOptions['select'] } & Pick<AddTorrentOptions, 'uploadLimitBytesPerS' | 'downloadLimitBytesPerS'>): Promise<Torrent> {
    const cachePath = join(this.#opts.stateDir, 'torrents', `${magnet.infoHashHex}.torrent`);
    let metainfo: Metainfo | undefined;
    try {
      metainfo = parseTorrent(await readFile(cachePath));
      if (metainfo.infoHashHex !== magnet.infoHashHex) metainfo = undefined;
    } catch {
      metainfo = undefined;
    }
    const xpe = magnet.peers.flatMap((p) => {
      const i = p.lastIndexOf(':');
      const port = Number(p.slice(i + 1));
      return i > 0 && Number.isInteger(port) && port > 0 && port < 65536 ? [{ host: p.slice(0, i).replace(/^\[|\]$/g, ''), port }] : [];
    });
    const peers = [...xpe, ...(opts.peers ?? [])];
    if (!metainfo) {
      const logger = this.#opts.logger.child({ component: 'metadata' });
      const host = this.settings.host;
      const fetcher = new MetadataFetcher({
        infoHash: magnet.infoHash,
        peerId: this.peerId,
        logger,
        connectTimeoutMs: this.settings.connectTimeoutMs,
        peerTimeoutMs: this.settings.metadataPeerTimeoutMs,
        parallel: this.settings.metadataFetchParallel,
        maxKnownPeers: this.settings.metadataFetchMaxKnownPeers,
        retryAfterMs: this.settings.metadataRetryAfterMs,
        clientVersion: 'swarm-peer 0.1.0',
        ...(!isWildcardHost(host) ? { localAddress: host } : {}),
      });
      fetcher.addPeers(peers);
      const ctx = {
        infoHash: magnet.infoHash,
        peerId: this.peerId,
        port: this.port,
        stats: () => ({ uploaded: 0, downloaded: 0, left: 1 }),
        onPeers: (found: PeerAddress[]) => fetcher.addPeers(found),
      };
      const sources: PeerSource[] = [];
      if (magnet.trackers.length) {
        sources.push(new TrackerPeerSource(ctx, { tiers: magnet.trackers.map((t) => [t]), ...this.#trackerSourceSettings(), logger, ...(!isWildcardHost(host) ? { localAddress: host } : {}) }));
      }
      // Look the info-hash up on the DHT until the metadata is in (a few seconds apart).
      if (this.#dht) sources.push(new DhtPeerSource(this.#dht, ctx, { announce: false, intervalMs: this.settings.magnetDhtLookupIntervalMs, logger }));
      if (this.#dht6) sources.push(new DhtPeerSource(this.#dht6, ctx, { announce: false, intervalMs: this.settings.magnetDhtLookupIntervalMs, logger }));
      // And on the LAN (BEP 14). Announced too: whoever hears us learns of us; the peers heard here are
      // handed again to the torrent's own LSD source when it registers (lsd.ts keeps them for an interval).
      if (this.#lsd) sources.push(new LsdPeerSource(this.#lsd, ctx));
      for (const s of sources) s.start();
      let info: Uint8Array;
      try {
        opts.signal?.throwIfAborted();
        info = await fetcher.fetch(opts.signal);
      } finally {
        fetcher.stop();
        await Promise.allSettled(sources.map((s) => s.stop()));
      }
      const bytes = torrentFromInfo(info, magnet.trackers);
      metainfo = parseTorrent(bytes);
      try {
        await writeFileAtomic(cachePath, bytes);
      } catch (err) {
        logger.warn(`could not cache the torrent at ${cachePath}: ${err instanceof AtomicWriteError ? err.reason : errorMessage(err)}`);
      }
    }
    return this.addTorrent(metainfo, {
      contentPath: contentPathIn(opts.outDir, metainfo),
      mode: 'leech',
      peers,
      recheck: opts.recheck ?? false,
      ...(opts.sequential ? { sequential: true } : {}),
      ...(opts.select ? { select: opts.select } : {}),
      ...(opts.uploadLimitBytesPerS ? { uploadLimitBytesPerS: opts.uploadLimitBytesPerS } : {}),
      ...(opts.downloadLimitBytesPerS ? { downloadLimitBytesPerS: opts.downloadLimitBytesPerS } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
  }

  async removeTorrent(infoHashHex: string): Promise<void> {
    const t = this.#torrents.get(infoHashHex);
    if (!t) return;
    this.#torrents.delete(infoHashHex);
    await t.stop();
    await t.closeStorage();
    this.emit('torrent:removed', infoHashHex);
  }

  /** Idempotent: stops every torrent (announcing `stopped`, saving state) and closes sockets. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    await Promise.allSettled([...this.#torrents.keys()].map((k) => this.removeTorrent(k)));
    await this.#listener.stop();
    await this.#lsd?.stop();
    await this.#tracker?.stop();
    await this.#dht?.stop();
    await this.#dht6?.stop();
    if (!this.#opts.pool) await this.pool.close();
  }
}

/** Default content path: `<dir>/<name>`. */
export function contentPathIn(dir: string, metainfo: Metainfo): string {
  return join(dir, metainfo.info.name);
}
