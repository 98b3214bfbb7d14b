/**
 * The daemon's queue and seed limits (`peer start`): at most
 * `maxActiveDownloads` torrents download and `maxActiveSeeds` seed at once,
 * the others wait ('queued') in the order they were added; a complete
 * torrent that uploaded `seedRatioLimit` times its size, or seeded
 * `seedTimeLimitS` seconds in all, stops seeding ('finished'). A torrent's
 * own limits (Torrent.seedLimits) override the settings; 0 = none.
 *
 * Torrents held back stay in the session (the API lists them) with no
 * connections (Torrent.hold). A torrent the user paused takes no slot.
 * What a torrent uploaded and how long it seeded add up over restarts:
 * the totals of earlier runs come from the daemon's records.
 */
import type { Settings } from '../settings.js';
import type { Clock } from '../util/clock.js';
import type { Torrent } from './torrent.js';

/** A torrent's seeding so far: bytes uploaded and milliseconds seeded over every run. */
export interface SeedTotals {
  uploadedBytes: number;
  seedingMs: number;
}

interface Tracked {
  /** Totals of earlier runs (and of earlier Torrent objects of this run: a recheck or a move re-adds it). */
  base: SeedTotals;
  torrent: Torrent;
  /** Milliseconds `torrent` (this object) seeded. */
  seedingMs: number;
  lastTick: number;
}

export interface DaemonQueueOptions {
  settings: Settings;
  torrents: () => Torrent[];
  /** Order of a torrent in the queue (when it was added); lower first. */
  orderOf: (infoHashHex: string) => number;
  /** Saved totals of a torrent first seen (earlier runs). */
  savedTotals: (infoHashHex: string) => SeedTotals | undefined;
  clock: Clock;
}

export class DaemonQueue {
  readonly #o: DaemonQueueOptions;
  readonly #tracked = new Map<string, Tracked>();

  constructor(opts: DaemonQueueOptions) {
    this.#o = opts;
  }

  /** A torrent's seeding totals over every run. */
  totals(infoHashHex: string): SeedTotals | undefined {
    const r = this.#tracked.get(infoHashHex);
    if (!r) return this.#o.savedTotals(infoHashHex);
    return { uploadedBytes: r.base.uploadedBytes + r.torrent.stats().uploaded, seedingMs: r.base.seedingMs + r.seedingMs };
  }

  /** The seed ratio and time limits that apply to `t` (0 = none). */
  limitsOf(t: Torrent): { ratio: number; timeS: number } {
    return { ratio: t.seedLimits.ratio ?? this.#o.settings.seedRatioLimit, timeS: t.seedLimits.timeS ?? this.#o.settings.seedTimeLimitS };
  }

  /** Why `t` should stop seeding, or undefined. */
  finishedReason(t: Torrent): string | undefined {
    if (!t.done) return undefined;
    const { ratio, timeS } = this.limitsOf(t);
    if (!(ratio > 0) && !(timeS > 0)) return undefined; // the usual case: no stats() asked of every torrent every second
    const tot = this.totals(t.infoHashHex);
    if (!tot) return undefined;
    const size = t.metainfo.info.length;
    if (ratio > 0 && size > 0 && tot.uploadedBytes / size >= ratio) return `seed ratio ${ratio} reached`;
    if (timeS > 0 && tot.seedingMs / 1000 >= timeS) return `seed time ${timeS} s reached`;
    return undefined;
  }

  /** Forgets a torrent that left the session. */
  forget(infoHashHex: string): void {
    this.#tracked.delete(infoHashHex);
  }

  /** Counts seeding time up to now, holding or releasing nothing (the last count of a stop). */
  account(): void {
    const now = this.#o.clock();
    for (const t of this.#o.torrents()) this.#account(t, now);
  }

  /** Looks at every torrent: counts seeding time, then holds or releases each in queue order. */
  update(): void {
    const now = this.#o.clock();
    const torrents = this.#o.torrents();
    for (const t of torrents) this.#account(t, now);
    const ordered = torrents
      .map((t, i) => ({ t, key: this.#o.orderOf(t.infoHashHex), i }))
      .sort((a, b) => a.key - b.key || a.i - b.i)
      .map((x) => x.t);
    const s = this.#o.settings;
    let downloading = 0;
    let seeding = 0;
    for (const t of ordered) {
      if (t.paused) continue; // the user's pause: no slot taken, its hold (if any) kept for when it resumes
      if (this.finishedReason(t)) {
        t.hold('finished');
      } else if (!t.done) {
        if (s.maxActiveDownloads === 0 || downloading < s.maxActiveDownloads) {
          downloading++;
          t.unhold();
        } else t.hold('queued');
      } else if (s.maxActiveSeeds === 0 || seeding < s.maxActiveSeeds) {
        seeding++;
        t.unhold();
      } else t.hold('queued');
    }
  }

  #account(t: Torrent, now: number): void {
    let r = this.#tracked.get(t.infoHashHex);
    if (r && r.torrent !== t) {
      // Re-added (recheck, move): what the old object counted becomes part of the base.
      r.base = { uploadedBytes: r.base.uploadedBytes + r.torrent.stats().uploaded, seedingMs: r.base.seedingMs + r.seedingMs };
      r.torrent = t;
      r.seedingMs = 0;
      r.lastTick = now;
    }
    if (!r) {
      r = { base: this.#o.savedTotals(t.infoHashHex) ?? { uploadedBytes: 0, seedingMs: 0 }, torrent: t, seedingMs: 0, lastTick: now };
      this.#tracked.set(t.infoHashHex, r);
    }
    if (t.state === 'seeding') r.seedingMs += Math.max(0, now - r.lastTick);
    r.lastTick = now;
  }
}
