/**
 * The composition root: one peer id, one TCP listener, one hash pool, and
 * the torrents they serve. `peer seed` and `peer leech` run a session with
 * one torrent; the daemon (`peer start`) runs many.
 */
import { join } from 'node:path';
import { TypedEmitter } from '../events.js';
import { UsageError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Settings } from '../settings.js';
import type { Metainfo } from '../metainfo/types.js';
import type { PeerAddress } from '../discovery/peer-source.js';
import { HashPool } from '../util/hash-pool.js';
import { randomBytes } from '../util/hash.js';
import { openTorrentStorage } from '../storage/torrent-storage.js';
import type { PieceStore } from '../storage/piece-store.js';
import { TrackerPeerSource } from '../discovery/tracker-source.js';
import { TrackerServer } from '../tracker/server.js';
import { PeerListener } from './listener.js';
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
}

export interface AddTorrentOptions {
  /** The file (single-file torrent) or folder (multi-file) holding the content. */
  contentPath: string;
  mode: 'seed' | 'leech';
  recheck?: boolean;
  /** Peers to connect to and keep retrying (`--peer`). */
  peers?: PeerAddress[];
  onVerifyProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
  /** A store other than files on disk (tests). */
  store?: PieceStore;
}

export interface SessionEvents {
  'torrent:added': Torrent;
  'torrent:removed': string;
}

export class Session extends TypedEmitter<SessionEvents> {
  readonly settings: Settings;
  readonly peerId: Uint8Array;
  readonly pool: HashPool;
  readonly #opts: SessionOptions;
  readonly #listener: PeerListener;
  readonly #torrents = new Map<string, Torrent>();
  #tracker: TrackerServer | undefined;
  #started = false;
  #stopped = false;

  constructor(opts: SessionOptions) {
    super();
    this.#opts = opts;
    this.settings = opts.settings;
    this.peerId = opts.peerId ?? makePeerId();
    this.pool = new HashPool();
    this.#listener = new PeerListener({
      host: opts.settings.host,
      port: opts.settings.port,
      logger: opts.logger.child({ component: 'listener' }),
      handshakeTimeoutMs: opts.settings.handshakeTimeoutMs,
      route: (hex) => this.#torrents.get(hex),
    });
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
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'EADDRINUSE') throw new UsageError(`port ${this.settings.port} on ${this.settings.host} is in use: choose another with --port`);
      if (e.code === 'EADDRNOTAVAIL') throw new UsageError(`--host ${this.settings.host} is not an address of this machine`);
      throw err;
    }
    if (this.#opts.trackerPort !== undefined) {
      this.#tracker = new TrackerServer({ host: this.settings.host, port: this.#opts.trackerPort, logger: this.#opts.logger.child({ component: 'tracker' }) });
      try {
        await this.#tracker.start();
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === 'EADDRINUSE') throw new UsageError(`tracker port ${this.#opts.trackerPort} is in use: choose another with --tracker PORT`);
        throw err;
      }
    }
  }

  /** The embedded tracker, when `--tracker` asked for one. */
  get tracker(): TrackerServer | undefined {
    return this.#tracker;
  }

  async addTorrent(metainfo: Metainfo, opts: AddTorrentOptions): Promise<Torrent> {
    if (this.#torrents.has(metainfo.infoHashHex)) throw new UsageError(`torrent ${metainfo.infoHashHex} is already running`);
    const logger = this.#opts.logger.child({ component: 'torrent' });
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
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.onVerifyProgress ? { onVerifyProgress: opts.onVerifyProgress } : {}),
      ...(opts.store ? { store: opts.store } : {}),
    });
    const host = this.settings.host;
    const torrent = new Torrent(
      { storage, pool: this.pool, logger },
      {
        metainfo,
        settings: this.settings,
        peerId: this.peerId,
        listenPort: this.port,
        ...(host !== '0.0.0.0' ? { localAddress: host } : {}),
      },
    );
    this.#torrents.set(metainfo.infoHashHex, torrent);
    if (this.#opts.useTrackers !== false && metainfo.announceList.length) {
      torrent.addSource(
        new TrackerPeerSource(torrent.sourceContext(), {
          tiers: metainfo.announceList,
          numwant: this.settings.numwant,
          logger: logger.child({ component: 'tracker-client' }),
          ...(host !== '0.0.0.0' ? { localAddress: host } : {}),
        }),
      );
    }
    torrent.start();
    if (opts.peers?.length) torrent.addPeers(opts.peers, { pinned: true, source: 'cli' });
    this.emit('torrent:added', torrent);
    return torrent;
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
    await this.#tracker?.stop();
    await this.pool.close();
  }
}

/** Default content path: `<dir>/<name>`. */
export function contentPathIn(dir: string, metainfo: Metainfo): string {
  return join(dir, metainfo.info.name);
}
