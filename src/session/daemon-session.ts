/**
 * The Session of a daemon (daemon.ts): it tells the daemon about every
 * torrent added, whoever adds it (the API calls `session.addTorrent`
 * directly), because the override sees the content path and mode, which
 * the `torrent:added` event does not carry.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { MagnetLink, Metainfo } from '../metainfo/types.js';
import type { PeerAddress } from '../discovery/peer-source.js';
import { Session, type AddTorrentOptions, type SessionOptions } from './session.js';
import type { Torrent } from './torrent.js';
import type { TorrentOrigin } from './session-state.js';

/** What the daemon's own calls tell the recording override about a torrent being added. */
export interface AddIntent {
  origin: TorrentOrigin;
  watchFile?: string;
  paused?: boolean;
}

/** What the daemon does for a torrent beyond what a Session does (daemon.ts): the API reaches it through the session. */
export interface TorrentController {
  /** Verifies every piece on disk again; resolves with the torrent re-added. */
  recheck(infoHashHex: string): Promise<Torrent>;
  /** Moves the content into folder `to` and carries on from there; resolves with the torrent re-added. */
  move(infoHashHex: string, to: string): Promise<Torrent>;
  /** Removes the torrent, its record and (deleteData) its files: only the files the torrent names under its content path. */
  remove(infoHashHex: string, opts: { deleteData: boolean }): Promise<void>;
}

/**
 * A Session that tells its daemon about every torrent added, whoever adds
 * it, and scales each new store's open-file bound to the number of torrents
 * (settings.maxOpenFilesTotal).
 */
export class DaemonSession extends Session {
  /** Set by the daemon before its own adds; anything else is the API's. */
  readonly intents = new Map<string, AddIntent>();
  onTorrentAdded: ((torrent: Torrent, opts: AddTorrentOptions, intent: AddIntent) => void) | undefined;
  onMagnetStarted: ((magnet: MagnetLink, outDir: string, intent: AddIntent) => void) | undefined;
  onMagnetFailed: ((magnet: MagnetLink, err: unknown, intent: AddIntent) => void) | undefined;
  /** How many torrents the daemon expects to run (the saved state's count while restoring). */
  expectedTorrents = 0;
  /** Set by the daemon. */
  controller: TorrentController | undefined;
  /** Peers every torrent connects to (`peer start --peer`), the API's adds included. */
  defaultPeers: PeerAddress[] = [];
  readonly #baseMaxOpenFiles: number;
  readonly #stateDir: string;
  #stopping = false;

  constructor(opts: SessionOptions) {
    // A copy: maxOpenFiles is adjusted per add below, and the caller's object must not change under it.
    super({ ...opts, settings: { ...opts.settings } });
    this.#baseMaxOpenFiles = opts.settings.maxOpenFiles;
    this.#stateDir = opts.stateDir;
  }

  override async stop(): Promise<void> {
    this.#stopping = true;
    await super.stop();
  }

  override async addTorrent(metainfo: Metainfo, opts: AddTorrentOptions): Promise<Torrent> {
    const n = Math.max(1, this.expectedTorrents, this.torrents.length + 1);
    // Session reads maxOpenFiles when it opens the store; stores opened earlier keep their (larger) bound.
    this.settings.maxOpenFiles = Math.max(2, Math.min(this.#baseMaxOpenFiles, Math.floor(this.settings.maxOpenFilesTotal / n)));
    const intent = this.intents.get(metainfo.infoHashHex) ?? { origin: 'api' };
    const torrent = await super.addTorrent(metainfo, opts.peers === undefined && this.defaultPeers.length ? { ...opts, peers: this.defaultPeers } : opts);
    if (intent.paused) torrent.pause();
    this.onTorrentAdded?.(torrent, opts, intent);
    return torrent;
  }

  recheckTorrent(infoHashHex: string): Promise<Torrent> {
    return this.#controller().recheck(infoHashHex.toLowerCase());
  }

  moveTorrent(infoHashHex: string, to: string): Promise<Torrent> {
    return this.#controller().move(infoHashHex.toLowerCase(), to);
  }

  /** Removes a torrent, and its data files when `deleteData`. */
  deleteTorrent(infoHashHex: string, opts: { deleteData: boolean }): Promise<void> {
    return this.#controller().remove(infoHashHex.toLowerCase(), opts);
  }

  #controller(): TorrentController {
    if (!this.controller) throw new Error('this session has no daemon to recheck, move or delete torrents');
    return this.controller;
  }

  override async addMagnet(magnet: MagnetLink, opts: Parameters<Session['addMagnet']>[1]): Promise<Torrent> {
    const intent = this.intents.get(magnet.infoHashHex) ?? { origin: 'api' };
    this.onMagnetStarted?.(magnet, opts.outDir, intent);
    const o = opts.peers === undefined && this.defaultPeers.length ? { ...opts, peers: this.defaultPeers } : opts;
    for (;;) {
      const restart = new AbortController();
      const every = this.settings.daemonMagnetRestartMs;
      // Once the metadata is in (cached in the state folder), the add goes on however long its data takes to verify.
      const cached = join(this.#stateDir, 'torrents', `${magnet.infoHashHex}.torrent`);
      const timer = every > 0 ? setTimeout(() => void (existsSync(cached) || restart.abort()), every) : undefined;
      timer?.unref();
      try {
        return await super.addMagnet(magnet, { ...o, signal: o.signal ? AbortSignal.any([o.signal, restart.signal]) : restart.signal });
      } catch (err) {
        if (restart.signal.aborted && !o.signal?.aborted && !this.#stopping) continue; // nothing came: start over (fresh peers)
        this.onMagnetFailed?.(magnet, err, intent);
        throw err;
      } finally {
        clearTimeout(timer);
      }
    }
  }
}
