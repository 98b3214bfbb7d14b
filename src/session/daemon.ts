/**
 * The daemon of `peer start`: one Session serving many torrents, fed by a
 * watch folder, the HTTP API and its own saved state, so that a restart
 * resumes every torrent however it came in.
 *
 * What is kept where:
 * - `<state>/session.json` (session-state.ts): which torrents run, where
 *   their data is, paused or not, magnet links still waiting for metadata;
 * - `<state>/torrents/<infohash>.torrent`: their metainfo;
 * - `<state>/resume/<infohash>.resume`: per-piece progress (storage/), which
 *   lets a restart trust the data instead of hashing or fetching it again.
 *
 * Torrents added by anyone (the API calls `session.addTorrent` directly) are
 * recorded (daemon-records.ts) because `DaemonSession` (daemon-session.ts)
 * overrides `addTorrent`/`addMagnet`: the override sees the content path
 * and mode, which the `torrent:added` event does not carry.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { UsageError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { Settings } from '../settings.js';
import type { MagnetLink, Metainfo } from '../metainfo/types.js';
import { parseTorrent } from '../metainfo/parse.js';
import { parseMagnet } from '../metainfo/magnet.js';
import type { PeerAddress } from '../discovery/peer-source.js';
import { contentPathIn } from './session.js';
import type { Torrent } from './torrent.js';
import { SessionStateFile, type SessionRecord, type TorrentRecord } from './session-state.js';
import { DaemonSession, type AddIntent } from './daemon-session.js';
import { DaemonRecords, type TorrentControl } from './daemon-records.js';
import { DaemonQueue } from './daemon-queue.js';
import { deleteContent, moveContent } from './daemon-data.js';
import { CompletionStore } from '../storage/completion-store.js';
import { systemClock, type Clock } from '../util/clock.js';
import { WatchFolder, type WatchedFile } from './watch-folder.js';
import { makeDir } from '../util/make-dir.js';

export { DaemonSession } from './daemon-session.js';

/**
 * The HTTP API server as src/api/ provides it. The front end builds it
 * (the session layer does not import the API layer above it); the daemon
 * starts it after the torrents are back and stops it first.
 */
export interface ApiServerLike {
  start(): Promise<unknown>;
  stop(): Promise<unknown>;
  readonly port: number;
  readonly url: string;
}

export interface DaemonOptions {
  settings: Settings;
  stateDir: string;
  /** Where content is saved (leech) and looked for (seed if already complete). */
  downloadsDir: string;
  /** The watch folder; none when undefined. */
  torrentsDir?: string;
  logger: Logger;
  /** Run the embedded tracker on this port. */
  trackerPort?: number;
  useTrackers?: boolean;
  /** Peers every torrent connects to (`--peer`). */
  peers?: PeerAddress[];
  /** Run the session's DHT node (BEP 5) from these bootstrap nodes; none when false or undefined. */
  dht?: { bootstrap: PeerAddress[] } | false;
  /** Builds the HTTP API and dashboard server over the session; none when undefined. */
  createApi?: (session: DaemonSession) => ApiServerLike | Promise<ApiServerLike | undefined> | undefined;
  /** Watch folder rescan period and settle time (tests shorten them). */
  rescanIntervalMs?: number;
  settleMs?: number;
  /** How often paused/resumed states are saved when they changed (default settings.daemonSaveIntervalMs). */
  saveIntervalMs?: number;
  /** Torrents reopened at once on start (default settings.daemonRestoreConcurrency). */
  restoreConcurrency?: number;
  /** Time (default: the system clock). */
  clock?: Clock;
}

interface PendingMagnet {
  controller: AbortController;
  done: Promise<unknown>;
}

export class Daemon {
  readonly session: DaemonSession;
  readonly state: SessionStateFile;
  readonly #opts: DaemonOptions;
  readonly #log: Logger;
  readonly #records: DaemonRecords;
  readonly #magnets = new Map<string, PendingMagnet>();
  #watcher: WatchFolder | undefined;
  #api: ApiServerLike | undefined;
  #saveTimer: NodeJS.Timeout | undefined;
  #queueTimer: NodeJS.Timeout | undefined;
  /** The queue and seed limits (daemon-queue.ts). */
  readonly slots: DaemonQueue;
  /** Torrents being re-added (recheck, move): their removal from the session keeps their record. */
  readonly #cycling = new Set<string>();
  #queue: Promise<void> = Promise.resolve();
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;
  /** Set once shutdown begins: torrents leaving the session then stay in the saved state. */
  #closing = false;

  constructor(opts: DaemonOptions) {
    this.#opts = opts;
    this.#log = opts.logger;
    this.state = new SessionStateFile({ stateDir: opts.stateDir, logger: opts.logger.child({ component: 'session-state' }) });
    this.#records = new DaemonRecords({ state: this.state, logger: opts.logger, ...(opts.clock ? { clock: opts.clock } : {}) });
    this.session = new DaemonSession({
      settings: opts.settings,
      stateDir: opts.stateDir,
      logger: opts.logger,
      ...(opts.trackerPort !== undefined ? { trackerPort: opts.trackerPort } : {}),
      ...(opts.useTrackers !== undefined ? { useTrackers: opts.useTrackers } : {}),
      ...(opts.dht ? { dht: opts.dht } : {}),
    });
    this.session.defaultPeers = opts.peers ?? [];
    this.slots = new DaemonQueue({
      settings: this.session.settings,
      torrents: () => this.session.torrents,
      orderOf: (hex) => this.#records.get(hex)?.addedAt ?? Number.MAX_SAFE_INTEGER,
      savedTotals: (hex) => this.#records.totalsOf(hex),
      clock: opts.clock ?? systemClock,
    });
    this.session.controller = {
      recheck: (hex) => this.recheck(hex),
      move: (hex, to) => this.move(hex, to),
      remove: (hex, o) => this.remove(hex, o),
    };
    this.session.onTorrentAdded = (t, o, i) => {
      this.#records.torrentAdded(t, o, i);
      applyControl(t, this.#records.controlOf(t.infoHashHex));
      t.on('torrent:complete', () => this.slots.update());
      // At once: a torrent beyond the queue's slots makes no connections.
      this.slots.update();
    };
    this.session.onMagnetStarted = (m, outDir, i) => this.#records.magnetStarted(m, outDir, i);
    this.session.onMagnetFailed = (m, _err, i) => {
      // Kept: any magnet cut short by shutdown, so a restart tries again.
      if (!this.#closing) this.#records.magnetFailed(m, i);
    };
    this.session.on('torrent:removed', (hex) => {
      if (this.#closing || this.#cycling.has(hex)) return;
      this.slots.forget(hex);
      if (this.#records.delete(hex)) this.#records.save();
      this.slots.update();
    });
  }

  /** The saved records (what a restart reopens). */
  get records(): SessionRecord[] {
    return this.#records.all;
  }

  get watcher(): WatchFolder | undefined {
    return this.#watcher;
  }

  /** The API server once started (undefined when none was asked for or none could be built). */
  get api(): ApiServerLike | undefined {
    return this.#api;
  }

  /**
   * Idempotent. Binds the listener (and tracker), reopens the saved torrents,
   * starts the watch folder and the API. Resolves when every saved torrent
   * is open again (magnet links keep fetching in the background).
   */
  start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  async #start(): Promise<void> {
    const o = this.#opts;
    await makeDir(o.downloadsDir);
    if (o.torrentsDir) await makeDir(o.torrentsDir);
    // Binds the listener, then the DHT node (if any) on the same port number over UDP, before any torrent is reopened.
    await this.session.start();
    const saved = await this.state.load();
    this.#records.load(saved.records);
    await this.#restore(saved.records);
    this.session.expectedTorrents = 0;
    if (o.torrentsDir) {
      this.#watcher = new WatchFolder({
        dir: o.torrentsDir,
        logger: this.#log.child({ component: 'watch' }),
        ...(o.rescanIntervalMs !== undefined ? { rescanIntervalMs: o.rescanIntervalMs } : {}),
        ...(o.settleMs !== undefined ? { settleMs: o.settleMs } : {}),
      });
      this.#watcher.adopt(this.records.flatMap((r) => (r.watchFile ? [r.watchFile] : [])));
      this.#watcher.on('file:added', (f) => this.#enqueue(() => this.#onFileAdded(f)));
      this.#watcher.on('file:removed', (f) => this.#enqueue(() => this.#onFileRemoved(f.path)));
      await this.#watcher.start();
    }
    if (o.createApi) {
      const api = await o.createApi(this.session);
      if (api) {
        await api.start();
        this.#api = api;
      }
    }
    const every = o.saveIntervalMs ?? o.settings.daemonSaveIntervalMs;
    this.#saveTimer = setInterval(() => this.#sync(), every);
    this.#saveTimer.unref();
    this.#queueTimer = setInterval(() => this.slots.update(), o.settings.daemonQueueIntervalMs);
    this.#queueTimer.unref();
    this.slots.update();
    this.#records.save();
  }

  /** Reopens saved torrents, a few at a time; a torrent that cannot be reopened is logged and skipped. */
  async #restore(records: SessionRecord[]): Promise<void> {
    this.session.expectedTorrents = records.length;
    const torrents = records.filter((r): r is TorrentRecord => r.kind === 'torrent');
    for (const m of records) if (m.kind === 'magnet') this.#startMagnet(parseMagnetSafe(m.magnet, this.#log), m.outDir, m);
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < torrents.length && !this.#closing) {
        const r = torrents[next++]!;
        await this.#reopen(r);
      }
    };
    const n = Math.max(1, this.#opts.restoreConcurrency ?? this.#opts.settings.daemonRestoreConcurrency);
    await Promise.all(Array.from({ length: Math.min(n, torrents.length) }, worker));
    if (torrents.length) this.#log.info(`resumed ${this.session.torrents.length} of ${torrents.length} saved torrents`);
  }

  async #reopen(r: TorrentRecord): Promise<void> {
    let meta: Metainfo;
    try {
      meta = parseTorrent(await readFile(this.state.torrentPath(r.infoHash)));
      if (meta.infoHashHex !== r.infoHash) throw new Error(`it holds ${meta.infoHashHex}`);
    } catch (err) {
      this.#log.warn(`cannot resume ${r.name} (${r.infoHash}): its metainfo ${this.state.torrentPath(r.infoHash)} is unusable (${errorMessage(err)}); forgotten`);
      this.#records.delete(r.infoHash);
      return;
    }
    await this.#add(meta, { contentPath: r.contentPath, mode: r.mode }, { origin: r.origin, paused: r.paused, ...(r.watchFile ? { watchFile: r.watchFile } : {}) });
  }

  /** Adds through the session with the daemon's intent; failures are logged, never thrown. */
  async #add(meta: Metainfo, opts: { contentPath: string; mode: 'seed' | 'leech' }, intent: AddIntent): Promise<Torrent | undefined> {
    if (this.session.torrent(meta.infoHashHex)) return this.session.torrent(meta.infoHashHex);
    this.session.intents.set(meta.infoHashHex, intent);
    try {
      return await this.session.addTorrent(meta, { ...opts, peers: this.#opts.peers ?? [] });
    } catch (err) {
      this.#log.warn(`cannot ${opts.mode} ${meta.info.name} (${meta.infoHashHex}) from ${opts.contentPath}: ${errorMessage(err)}`);
      return undefined;
    } finally {
      this.session.intents.delete(meta.infoHashHex);
    }
  }

  #startMagnet(magnet: MagnetLink | undefined, outDir: string, intent: AddIntent): void {
    if (!magnet || this.#magnets.has(magnet.infoHashHex) || this.session.torrent(magnet.infoHashHex)) return;
    const controller = new AbortController();
    this.session.intents.set(magnet.infoHashHex, intent);
    const done = this.session
      .addMagnet(magnet, { outDir, peers: this.#opts.peers ?? [], signal: controller.signal })
      .then(
        (t) => this.#log.info(`metadata of ${t.metainfo.info.name} (${t.infoHashHex}) fetched; downloading`),
        (err: unknown) => {
          if (!controller.signal.aborted) this.#log.warn(`magnet ${magnet.infoHashHex}: ${errorMessage(err)}`);
        },
      )
      .finally(() => {
        this.#magnets.delete(magnet.infoHashHex);
        this.session.intents.delete(magnet.infoHashHex);
      });
    this.#magnets.set(magnet.infoHashHex, { controller, done });
  }

  // --- watch folder -----------------------------------------------------------

  #enqueue(fn: () => Promise<void>): void {
    this.#queue = this.#queue.then(fn).catch((err: unknown) => void this.#log.warn(`watch folder: ${errorMessage(err)}`));
  }

  async #onFileAdded(f: WatchedFile): Promise<void> {
    if (this.#closing) return;
    const hex = f.kind === 'torrent' ? f.metainfo.infoHashHex : f.magnet.infoHashHex;
    const prev = this.#records.ofFile(f.path);
    if (prev && prev.infoHash === hex) {
      // Known (resumed from the saved state); reopen it if the restore could not.
      if (prev.kind === 'torrent' && f.kind === 'torrent' && !this.session.torrent(hex)) {
        await this.#add(f.metainfo, { contentPath: prev.contentPath, mode: prev.mode }, { origin: 'watch', watchFile: f.path, paused: prev.paused });
      }
      return;
    }
    if (prev) await this.#forget(prev); // the file now holds another torrent
    if (this.session.torrent(hex) || this.#magnets.has(hex)) {
      this.#log.info(`${f.path}: ${hex} is already running`);
      return;
    }
    const downloads = path.resolve(this.#opts.downloadsDir);
    if (f.kind === 'torrent') {
      this.#log.info(`${f.path}: adding ${f.metainfo.info.name} (${hex})`);
      // Leech mode both ways: complete data already in downloads/ verifies and is seeded, missing data is fetched.
      await this.#add(f.metainfo, { contentPath: contentPathIn(downloads, f.metainfo), mode: 'leech' }, { origin: 'watch', watchFile: f.path });
    } else {
      this.#log.info(`${f.path}: fetching the metadata of ${f.magnet.name ?? hex}`);
      this.#startMagnet(f.magnet, downloads, { origin: 'watch', watchFile: f.path });
    }
  }

  async #onFileRemoved(p: string): Promise<void> {
    if (this.#closing) return;
    const r = this.#records.ofFile(p);
    if (!r) return;
    this.#log.info(`${p} removed: stopping ${r.kind === 'torrent' ? r.name : r.infoHash} (its data is kept)`);
    await this.#forget(r);
  }

  /** Stops a torrent or its magnet fetch and drops its record; data files stay. */
  async #forget(r: SessionRecord): Promise<void> {
    this.#records.delete(r.infoHash);
    const m = this.#magnets.get(r.infoHash);
    if (m) {
      m.controller.abort();
      await Promise.race([m.done, delay(this.#opts.settings.stopDrainMs)]);
    }
    await this.session.removeTorrent(r.infoHash);
    this.#records.save();
  }

  #sync(): void {
    this.#records.syncPaused(this.session.torrents);
    this.#records.syncControl(this.session.torrents, (hex) => this.slots.totals(hex));
  }

  // --- per-torrent control (the API reaches it through DaemonSession) -----------

  /** Verifies every piece on disk again (the torrent is re-added in leech mode: what fails is downloaded again). */
  recheck(hex: string): Promise<Torrent> {
    return this.#cycle(hex, 'recheck', async (rec) => ({ contentPath: rec.contentPath, mode: 'leech', recheck: true }));
  }

  /** Moves the content into folder `to` (absolute); the torrent carries on from there, seeding what it has. */
  move(hex: string, to: string): Promise<Torrent> {
    if (!path.isAbsolute(to)) throw new UsageError(`move: the folder must be an absolute path, got ${JSON.stringify(to.slice(0, 200))}`);
    const dest = path.resolve(to);
    const state = path.resolve(this.#opts.stateDir);
    if (dest === state || dest.startsWith(state + path.sep)) throw new UsageError(`move: ${dest} is inside the state folder`);
    return this.#cycle(hex, 'move', async (rec, t) => ({ contentPath: await moveContent(t.metainfo.info, rec.contentPath, dest), mode: rec.mode }));
  }

  /** Removes a torrent and its record; with deleteData also its files (only those it names under its content path) and its resume state. */
  async remove(hex: string, opts: { deleteData: boolean }): Promise<void> {
    const t = this.session.torrent(hex);
    if (!t) throw new UsageError(`no torrent ${hex} in this session`);
    if (this.#cycling.has(hex)) throw new UsageError(`torrent ${hex} is being rechecked or moved`);
    const rec = this.#records.get(hex);
    const contentPath = rec?.kind === 'torrent' ? rec.contentPath : undefined;
    await this.session.removeTorrent(hex);
    if (!opts.deleteData) return;
    if (!contentPath) throw new UsageError(`the data of ${hex} is not on disk: nothing deleted`);
    const n = await deleteContent(t.metainfo.info, contentPath);
    await new CompletionStore({ stateDir: this.#opts.stateDir, infoHashHex: hex, logger: this.#log }).remove().catch((err: unknown) => this.#log.warn(`removing the resume state of ${hex}: ${errorMessage(err)}`));
    this.#log.info(`removed ${t.metainfo.info.name} (${hex}) and ${n} of its files from ${contentPath}`);
  }

  /** Takes a torrent out of the session and adds it again as `prepare` says, keeping its record, settings and totals. */
  async #cycle(hex: string, what: string, prepare: (rec: { contentPath: string; mode: 'seed' | 'leech' }, t: Torrent) => Promise<{ contentPath: string; mode: 'seed' | 'leech'; recheck?: boolean }>): Promise<Torrent> {
    const t = this.session.torrent(hex);
    if (!t) throw new UsageError(`no torrent ${hex} in this session`);
    const rec = this.#records.get(hex);
    if (rec?.kind !== 'torrent') throw new UsageError(`${what}: the data of ${hex} is not on disk`);
    if (this.#cycling.has(hex) || this.#closing) throw new UsageError(`${what}: torrent ${hex} is busy`);
    this.#cycling.add(hex);
    this.#sync();
    const control: TorrentControl = { ...this.#records.controlOf(hex) };
    const intent: AddIntent = { origin: rec.origin, paused: t.paused, ...(rec.watchFile ? { watchFile: rec.watchFile } : {}) };
    const readd = async (o: { contentPath: string; mode: 'seed' | 'leech'; recheck?: boolean }): Promise<Torrent> => {
      this.session.intents.set(hex, intent);
      try {
        const nt = await this.session.addTorrent(t.metainfo, { ...o, peers: this.#opts.peers ?? [] });
        applyControl(nt, control);
        return nt;
      } finally {
        this.session.intents.delete(hex);
      }
    };
    try {
      await this.session.removeTorrent(hex);
      let o: { contentPath: string; mode: 'seed' | 'leech'; recheck?: boolean };
      try {
        o = await prepare(rec, t);
      } catch (err) {
        await readd({ contentPath: rec.contentPath, mode: rec.mode }).catch((e: unknown) => this.#log.error(`${what} of ${hex} failed and it could not be reopened: ${errorMessage(e)}`));
        throw err;
      }
      this.#log.info(`${what}: ${t.metainfo.info.name} (${hex}) reopened from ${o.contentPath}`);
      return await readd(o);
    } catch (err) {
      if (!this.session.torrent(hex) && this.#records.delete(hex)) this.#records.save();
      throw err;
    } finally {
      this.#cycling.delete(hex);
      this.slots.update();
    }
  }

  /**
   * Idempotent. Stops taking new work (watch folder, API), records which
   * torrents are paused, stops every torrent (trackers told, resume state
   * flushed) and closes the sockets. The saved state keeps every torrent.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#closing = true;
    await this.#starting?.catch(() => undefined);
    clearInterval(this.#saveTimer);
    clearInterval(this.#queueTimer);
    await this.#watcher?.stop();
    await this.#queue;
    await this.#api?.stop().catch((err: unknown) => this.#log.warn(`stopping the API: ${errorMessage(err)}`));
    this.slots.account();
    this.#sync();
    const magnets = [...this.#magnets.values()];
    for (const m of magnets) m.controller.abort();
    // Bounded: an abort that lands before the metadata fetch has begun listening is not seen by it (metadata-fetch.ts).
    const settled = Promise.allSettled(magnets.map((m) => m.done)).then(() => true);
    const drainMs = this.#opts.settings.stopDrainMs;
    if (!(await Promise.race([settled, delay(drainMs).then(() => false)]))) this.#log.warn(`a metadata fetch did not stop within ${Math.round(drainMs / 1000)} s; closing anyway`);
    await this.session.stop();
    await this.#records.saveNow();
  }
}

/** Gives a torrent its saved limits unless it was given its own when added. */
function applyControl(t: Torrent, c: TorrentControl | undefined): void {
  if (!c) return;
  const now = t.rateLimits;
  t.setRateLimits({
    ...(!now.uploadBytesPerS && c.uploadLimitBytesPerS ? { uploadBytesPerS: c.uploadLimitBytesPerS } : {}),
    ...(!now.downloadBytesPerS && c.downloadLimitBytesPerS ? { downloadBytesPerS: c.downloadLimitBytesPerS } : {}),
  });
  if (t.seedLimits.ratio === undefined && c.seedRatioLimit !== undefined) t.seedLimits.ratio = c.seedRatioLimit;
  if (t.seedLimits.timeS === undefined && c.seedTimeLimitS !== undefined) t.seedLimits.timeS = c.seedTimeLimitS;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function parseMagnetSafe(link: string, log: Logger): MagnetLink | undefined {
  try {
    return parseMagnet(link);
  } catch (err) {
    log.warn(`saved magnet link ${link.slice(0, 80)} is unusable: ${errorMessage(err)}`);
    return undefined;
  }
}
