/**
 * The Session of a daemon (daemon.ts): it tells the daemon about every
 * torrent added, whoever adds it (the API calls `session.addTorrent`
 * directly), because the override sees the content path and mode, which
 * the `torrent:added` event does not carry.
 */
import type { MagnetLink, Metainfo } from '../metainfo/types.js';
import { Session, type AddTorrentOptions, type SessionOptions } from './session.js';
import type { Torrent } from './torrent.js';
import type { TorrentOrigin } from './session-state.js';

/** What the daemon's own calls tell the recording override about a torrent being added. */
export interface AddIntent {
  origin: TorrentOrigin;
  watchFile?: string;
  paused?: boolean;
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
  readonly #baseMaxOpenFiles: number;

  constructor(opts: SessionOptions) {
    // A copy: maxOpenFiles is adjusted per add below, and the caller's object must not change under it.
    super({ ...opts, settings: { ...opts.settings } });
    this.#baseMaxOpenFiles = opts.settings.maxOpenFiles;
  }

  override async addTorrent(metainfo: Metainfo, opts: AddTorrentOptions): Promise<Torrent> {
    const n = Math.max(1, this.expectedTorrents, this.torrents.length + 1);
    // Session reads maxOpenFiles when it opens the store; stores opened earlier keep their (larger) bound.
    this.settings.maxOpenFiles = Math.max(2, Math.min(this.#baseMaxOpenFiles, Math.floor(this.settings.maxOpenFilesTotal / n)));
    const intent = this.intents.get(metainfo.infoHashHex) ?? { origin: 'api' };
    const torrent = await super.addTorrent(metainfo, opts);
    if (intent.paused) torrent.pause();
    this.onTorrentAdded?.(torrent, opts, intent);
    return torrent;
  }

  override async addMagnet(magnet: MagnetLink, opts: Parameters<Session['addMagnet']>[1]): Promise<Torrent> {
    const intent = this.intents.get(magnet.infoHashHex) ?? { origin: 'api' };
    this.onMagnetStarted?.(magnet, opts.outDir, intent);
    try {
      return await super.addMagnet(magnet, opts);
    } catch (err) {
      this.onMagnetFailed?.(magnet, err, intent);
      throw err;
    }
  }
}
