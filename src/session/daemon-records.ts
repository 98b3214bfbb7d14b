/**
 * What a daemon (daemon.ts) remembers across restarts: one record per
 * torrent or magnet link it runs (session-state.ts), kept up to date as
 * torrents are added, paused, resumed and removed, and saved soon after
 * each change (writes coalesce).
 */
import path from 'node:path';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { MagnetLink } from '../metainfo/types.js';
import { formatMagnet } from '../metainfo/magnet.js';
import { systemClock, type Clock } from '../util/clock.js';
import type { AddTorrentOptions } from './session.js';
import type { Torrent } from './torrent.js';
import type { MagnetRecord, SessionRecord, SessionStateFile, TorrentRecord } from './session-state.js';
import type { AddIntent } from './daemon-session.js';
import type { SeedTotals } from './daemon-queue.js';

/**
 * A torrent's own settings and seeding totals, kept in its record
 * (session.json) so that a restart keeps them. Limits absent = the
 * daemon's defaults; 0 = none.
 */
export interface TorrentControl {
  uploadLimitBytesPerS?: number;
  downloadLimitBytesPerS?: number;
  seedRatioLimit?: number;
  seedTimeLimitS?: number;
  /** Over every run. */
  uploadedBytes?: number;
  seedingMs?: number;
}

/** A torrent record as the daemon writes it: session-state.ts's, plus its control (older states have none). */
export type ControlledRecord = TorrentRecord & { control?: TorrentControl };

const CONTROL_KEYS = ['uploadLimitBytesPerS', 'downloadLimitBytesPerS', 'seedRatioLimit', 'seedTimeLimitS', 'uploadedBytes', 'seedingMs'] as const;

/** The control of a saved record, keeping only finite non-negative numbers (a hand-edited file must not break a start). */
export function cleanControl(raw: unknown): TorrentControl | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const out: TorrentControl = {};
  for (const k of CONTROL_KEYS) {
    const v = (raw as Record<string, unknown>)[k];
    if (typeof v === 'number' && Number.isFinite(v) && v >= 0) out[k] = v;
  }
  return out;
}

export class DaemonRecords {
  readonly #state: SessionStateFile;
  readonly #log: Logger;
  readonly #now: Clock;
  readonly #records = new Map<string, SessionRecord>();
  #dirty = false;
  /** Seeding totals changed since the last save (saved with the next save, or every few syncs). */
  #countersDirty = 0;

  constructor(opts: { state: SessionStateFile; logger: Logger; clock?: Clock }) {
    this.#state = opts.state;
    this.#log = opts.logger;
    this.#now = opts.clock ?? systemClock;
  }

  /** Every record (what a restart reopens). */
  get all(): SessionRecord[] {
    return [...this.#records.values()];
  }

  /** Records loaded from the saved state. */
  load(records: SessionRecord[]): void {
    for (const r of records) {
      if (r.kind === 'torrent') {
        const c = cleanControl((r as ControlledRecord).control);
        if (c) (r as ControlledRecord).control = c;
        else delete (r as ControlledRecord).control;
      }
      this.#records.set(r.infoHash, r);
    }
  }

  get(infoHash: string): SessionRecord | undefined {
    return this.#records.get(infoHash);
  }

  /** Forgets a torrent (not saved until save()); false if unknown. */
  delete(infoHash: string): boolean {
    return this.#records.delete(infoHash);
  }

  /** The record of a watch-folder file. */
  ofFile(p: string): SessionRecord | undefined {
    for (const r of this.#records.values()) if (r.watchFile === p) return r;
    return undefined;
  }

  /** A torrent was added (by anyone): recorded with its metainfo, unless it is not on disk. */
  torrentAdded(t: Torrent, opts: AddTorrentOptions, intent: AddIntent): void {
    const hex = t.infoHashHex;
    if (opts.store) return; // not on disk: nothing a restart could reopen
    const prev = this.#records.get(hex);
    const rec: TorrentRecord = {
      kind: 'torrent',
      infoHash: hex,
      name: t.metainfo.info.name,
      contentPath: path.resolve(opts.contentPath),
      mode: opts.mode,
      paused: t.paused,
      origin: prev?.origin ?? intent.origin,
      addedAt: prev?.addedAt ?? this.#now(),
      ...((prev?.watchFile ?? intent.watchFile) ? { watchFile: prev?.watchFile ?? intent.watchFile } : {}),
    };
    const control = prev?.kind === 'torrent' ? (prev as ControlledRecord).control : undefined;
    if (control) (rec as ControlledRecord).control = control;
    this.#records.set(hex, rec);
    this.#state.saveTorrent(t.metainfo).catch((err: unknown) => this.#log.error(`cannot keep the metainfo of ${rec.name}: ${errorMessage(err)}`));
    this.save();
  }

  /** A magnet link's metadata fetch began: recorded, so a restart fetches it again. */
  magnetStarted(m: MagnetLink, outDir: string, intent: AddIntent): void {
    if (this.#records.has(m.infoHashHex)) return;
    const rec: MagnetRecord = {
      kind: 'magnet',
      infoHash: m.infoHashHex,
      magnet: formatMagnet({ infoHashHex: m.infoHashHex, name: m.name, trackers: m.trackers, peers: m.peers }),
      outDir: path.resolve(outDir),
      paused: false,
      origin: intent.origin,
      addedAt: this.#now(),
      ...(intent.watchFile ? { watchFile: intent.watchFile } : {}),
    };
    this.#records.set(m.infoHashHex, rec);
    this.save();
  }

  /** A magnet link's fetch failed: its record goes, unless it came from the watch folder (its file is still there). */
  magnetFailed(m: MagnetLink, intent: AddIntent): void {
    if (intent.origin === 'watch') return;
    const r = this.#records.get(m.infoHashHex);
    if (r?.kind === 'magnet') {
      this.#records.delete(m.infoHashHex);
      this.save();
    }
  }

  /** Records the torrents' paused states; saves when one changed. */
  syncPaused(torrents: Iterable<Torrent>): void {
    let changed = false;
    for (const t of torrents) {
      const r = this.#records.get(t.infoHashHex);
      if (r && r.paused !== t.paused) {
        r.paused = t.paused;
        changed = true;
      }
    }
    if (changed) this.save();
  }

  /** The saved control of a torrent (its own limits, seeding totals). */
  controlOf(infoHash: string): TorrentControl | undefined {
    const r = this.#records.get(infoHash);
    return r?.kind === 'torrent' ? (r as ControlledRecord).control : undefined;
  }

  /** The seeding totals saved for a torrent. */
  totalsOf(infoHash: string): SeedTotals | undefined {
    const c = this.controlOf(infoHash);
    return c ? { uploadedBytes: c.uploadedBytes ?? 0, seedingMs: c.seedingMs ?? 0 } : undefined;
  }

  /**
   * Records each torrent's own limits (saved soon when one changed) and its
   * seeding totals (saved with the next save, or after `counterSaveEvery`
   * syncs: a busy seeder does not rewrite the state every few seconds).
   */
  syncControl(torrents: Iterable<Torrent>, totals: (hex: string) => SeedTotals | undefined, counterSaveEvery = 15): void {
    let changed = false;
    let counters = false;
    for (const t of torrents) {
      const r = this.#records.get(t.infoHashHex);
      if (r?.kind !== 'torrent') continue;
      const rec = r as ControlledRecord;
      const prev = rec.control ?? {};
      const lim = t.rateLimits;
      const next: TorrentControl = {
        ...(lim.uploadBytesPerS ? { uploadLimitBytesPerS: lim.uploadBytesPerS } : {}),
        ...(lim.downloadBytesPerS ? { downloadLimitBytesPerS: lim.downloadBytesPerS } : {}),
        ...(t.seedLimits.ratio !== undefined ? { seedRatioLimit: t.seedLimits.ratio } : {}),
        ...(t.seedLimits.timeS !== undefined ? { seedTimeLimitS: t.seedLimits.timeS } : {}),
      };
      const tot = totals(t.infoHashHex);
      if (tot && (tot.uploadedBytes || tot.seedingMs)) {
        next.uploadedBytes = tot.uploadedBytes;
        next.seedingMs = Math.round(tot.seedingMs);
      }
      for (const k of ['uploadLimitBytesPerS', 'downloadLimitBytesPerS', 'seedRatioLimit', 'seedTimeLimitS'] as const) if (prev[k] !== next[k]) changed = true;
      if (prev.uploadedBytes !== next.uploadedBytes || prev.seedingMs !== next.seedingMs) counters = true;
      if (Object.keys(next).length) rec.control = next;
      else delete rec.control;
    }
    if (counters) this.#countersDirty++;
    if (changed || this.#countersDirty >= counterSaveEvery) this.save();
  }

  /** Saves soon; writes coalesce (SessionStateFile serialises them). */
  save(): void {
    this.#dirty = true;
    queueMicrotask(() => {
      if (!this.#dirty) return;
      this.#dirty = false;
      this.#countersDirty = 0;
      this.#state.save({ version: 1, records: this.all }).catch((err: unknown) => this.#log.error(`cannot save the session state: ${errorMessage(err)}`));
    });
  }

  /** Saves now (the last save of a stop); failures are logged. */
  async saveNow(): Promise<void> {
    this.#dirty = false;
    await this.#state.save({ version: 1, records: this.all }).catch((err: unknown) => this.#log.error(`cannot save the session state: ${errorMessage(err)}`));
  }
}
