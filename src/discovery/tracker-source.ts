/**
 * PeerSource over trackers, with BEP 12 `announce-list` tiers: each tier is
 * shuffled once; trackers are tried in order, tier after tier, until one
 * answers; the one that answered moves to the front of its tier so it is
 * asked first next time.
 *
 * Events: `started` goes to each tracker the first time we reach it,
 * `completed` to the current tracker when the download completes (never
 * when we started complete, as BEP 3 says), `stopped` to every tracker that
 * saw `started`, on stop(), bounded to about 3 s so shutdown never hangs.
 *
 * Timing: the next announce comes after the tracker's `interval`. While
 * downloading with fewer peers than asked for, a few early re-announces
 * come sooner, but never before `min interval`. When every tracker fails,
 * retries back off exponentially from 5 s to the interval.
 */
import { errorMessage } from '../errors.js';
import { getLogger, type Logger } from '../log.js';
import { announce, type AnnounceResult } from '../tracker/client.js';
import type { AnnounceEvent } from '../tracker/http-codec.js';
import { DEFAULT_SETTINGS } from '../settings.js';
import type { PeerSource, PeerSourceContext } from './peer-source.js';
import { shuffleInPlace } from '../util/shuffle.js';

export interface TrackerSourceOptions {
  /** BEP 12 tiers of announce URLs (a plain `announce` is one tier of one). */
  tiers: string[][];
  /** Our --host: announces are sent from it so trackers record our listening address. */
  localAddress?: string;
  /** Peers asked for per announce (default: settings numwant). */
  numwant?: number;
  logger?: Logger;
  /** Per-announce bound (default: settings trackerTimeoutMs). */
  timeoutMs?: number;
  /** Bound on the `stopped` announces at stop() (default: settings trackerStopTimeoutMs). */
  stopTimeoutMs?: number;
  /** First retry delay after every tracker failed (default: settings trackerRetryInitialMs); doubles per failure. */
  retryBaseMs?: number;
  /** Interval assumed when no tracker has answered yet, and the cap of the backoff (default: settings trackerDefaultIntervalS). */
  defaultIntervalS?: number;
}

export interface TrackerSourceStatus {
  /** The tracker that answered last, if any. */
  url?: string;
  lastError?: string;
  complete?: number;
  incomplete?: number;
  warning?: string;
  failuresInARow: number;
}

/** One tracker URL as the dashboard shows it (GET /api/torrents/:ih/trackers). */
export interface TrackerUrlStatus {
  url: string;
  /** BEP 12 tier, from 0. */
  tier: number;
  /** `idle`: not asked yet (another of its tier answers); `updating`: an announce on its way. */
  status: 'idle' | 'updating' | 'working' | 'error';
  /** Milliseconds since the epoch. */
  lastAnnounceAt?: number;
  /** When this source announces next (the current tracker only), ms since the epoch. */
  nextAnnounceAt?: number;
  seeders?: number;
  leechers?: number;
  /** Peers in the last answer. */
  peers?: number;
  error?: string;
  warning?: string;
}

const shuffle = <T>(list: T[]): T[] => shuffleInPlace([...list]);

export class TrackerPeerSource implements PeerSource {
  readonly name = 'tracker';
  readonly #ctx: PeerSourceContext;
  readonly #opts: TrackerSourceOptions;
  readonly #log: Logger;
  readonly #tiers: string[][];
  readonly #key = Math.floor(Math.random() * 0x1_0000_0000);
  /** Trackers that have seen our `started` (and get `stopped` at the end). */
  readonly #startedAt = new Set<string>();
  readonly #ac = new AbortController();
  #running = false;
  #stopping: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #inFlight = false;
  #inFlightUrl: string | undefined;
  #again = false;
  #completedPending = false;
  #eager = 0;
  #status: TrackerSourceStatus = { failuresInARow: 0 };
  /** What each URL last did, for the dashboard (not used to decide anything). */
  readonly #perUrl = new Map<string, Omit<TrackerUrlStatus, 'url' | 'tier' | 'nextAnnounceAt'>>();
  #nextAt: number | undefined;

  get #numwant(): number {
    return this.#opts.numwant ?? DEFAULT_SETTINGS.numwant;
  }

  constructor(ctx: PeerSourceContext, opts: TrackerSourceOptions) {
    this.#ctx = ctx;
    this.#opts = opts;
    this.#log = opts.logger ?? getLogger('tracker-source');
    // Only http(s) and udp trackers are usable; others (wss:) are dropped here, once.
    this.#tiers = opts.tiers
      .map((tier) => shuffle(tier.filter((u) => /^(https?|udp):\/\//i.test(u))))
      .filter((tier) => tier.length > 0);
  }

  /** The tiers in their current order (a copy). */
  get tiers(): string[][] {
    return this.#tiers.map((t) => [...t]);
  }

  status(): TrackerSourceStatus {
    return { ...this.#status };
  }

  /** Every usable tracker URL with what it last answered, in tier order. */
  trackers(): TrackerUrlStatus[] {
    return this.#tiers.flatMap((tier, t) =>
      [...tier]
        .sort()
        .map((url) => ({
          url,
          tier: t,
          ...(this.#perUrl.get(url) ?? { status: 'idle' as const }),
          ...(this.#nextAt !== undefined && this.#running && (url === this.#status.url || (this.#status.failuresInARow > 0 && this.#perUrl.get(url)?.status === 'error')) ? { nextAnnounceAt: this.#nextAt } : {}),
        })),
    );
  }

  start(): void {
    if (this.#running || this.#stopping) return;
    this.#running = true;
    if (this.#tiers.length === 0) return;
    this.#schedule(0);
  }

  completed(): void {
    if (!this.#running || this.#stopping || this.#startedAt.size === 0) return;
    this.#completedPending = true;
    this.#schedule(0);
  }

  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#running = false;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#ac.abort(new Error('tracker source stopped'));
    const targets = new Set(this.#startedAt);
    // An announce cut short may still have been recorded: tell that tracker too.
    if (this.#inFlightUrl) targets.add(this.#inFlightUrl);
    const timeoutMs = this.#opts.stopTimeoutMs ?? DEFAULT_SETTINGS.trackerStopTimeoutMs;
    await Promise.all(
      [...targets].map((url) =>
        announce(url, this.#request('stopped'), { timeoutMs }).then(
          () => this.#log.debug(`stopped announced to ${url}`),
          (err: unknown) => this.#log.debug(`stopped announce to ${url} failed: ${errorMessage(err)}`),
        ),
      ),
    );
  }

  #schedule(ms: number): void {
    if (!this.#running) return;
    if (this.#inFlight) {
      this.#again = ms === 0 || this.#again;
      return;
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#nextAt = Date.now() + ms;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#nextAt = undefined;
      void this.#tick();
    }, ms);
  }

  #request(event: AnnounceEvent | undefined): Parameters<typeof announce>[1] {
    const s = this.#ctx.stats();
    return {
      infoHash: this.#ctx.infoHash,
      peerId: this.#ctx.peerId,
      port: this.#ctx.port,
      uploaded: s.uploaded,
      downloaded: s.downloaded,
      left: s.left,
      event,
      numwant: event === 'stopped' ? 0 : this.#numwant,
      key: this.#key,
      localAddress: this.#opts.localAddress,
    };
  }

  /** One announce round: the first tracker, in tier order, that answers. */
  async #tick(): Promise<void> {
    this.#inFlight = true;
    let result: AnnounceResult | undefined;
    let lastError = '';
    let lastUrl = '';
    let lastReason = '';
    try {
      outer: for (const tier of this.#tiers) {
        for (let i = 0; i < tier.length; i++) {
          if (!this.#running) return;
          const url = tier[i]!;
          const event: AnnounceEvent | undefined = !this.#startedAt.has(url) ? 'started' : this.#completedPending ? 'completed' : undefined;
          this.#inFlightUrl = event === 'started' ? url : undefined;
          const before = this.#perUrl.get(url);
          this.#perUrl.set(url, { ...before, status: 'updating' });
          try {
            result = await announce(url, this.#request(event), { signal: this.#ac.signal, timeoutMs: this.#opts.timeoutMs });
          } catch (err) {
            if (!this.#running) return;
            this.#perUrl.set(url, { ...before, status: 'error', lastAnnounceAt: Date.now(), error: errorMessage(err) });
            lastError = `${url}: ${errorMessage(err)}`;
            lastUrl = url;
            lastReason = errorMessage(err);
            this.#log.debug(`announce failed: ${lastError}`);
            continue;
          } finally {
            this.#inFlightUrl = undefined;
          }
          this.#startedAt.add(url);
          if (event === 'completed' || this.#ctx.stats().left === 0) this.#completedPending = false;
          // BEP 12: a tracker that answered moves to the front of its tier.
          tier.splice(i, 1);
          tier.unshift(url);
          this.#status = { url, complete: result.complete, incomplete: result.incomplete, warning: result.warning, failuresInARow: 0 };
          this.#perUrl.set(url, {
            status: 'working',
            lastAnnounceAt: Date.now(),
            peers: result.peers.length,
            ...(result.complete !== undefined ? { seeders: result.complete } : {}),
            ...(result.incomplete !== undefined ? { leechers: result.incomplete } : {}),
            ...(result.warning ? { warning: result.warning } : {}),
          });
          if (result.warning) this.#log.info(`tracker ${url} warns: ${result.warning}`);
          break outer;
        }
      }
    } finally {
      this.#inFlight = false;
    }
    if (!this.#running) return;
    const maxS = this.#opts.defaultIntervalS ?? DEFAULT_SETTINGS.trackerDefaultIntervalS;
    if (!result) {
      const failures = this.#status.failuresInARow + 1;
      this.#status = { ...this.#status, lastError, failuresInARow: failures };
      const backoff = Math.min((this.#opts.retryBaseMs ?? DEFAULT_SETTINGS.trackerRetryInitialMs) * 2 ** (failures - 1), maxS * 1000);
      // Whoever listens (the CLI's status line) tells the user; else the log does, once.
      if (this.#ctx.onAnnounceFailed) this.#ctx.onAnnounceFailed({ url: lastUrl, error: lastReason, failures, retryInMs: this.#again ? 0 : backoff });
      if (failures === 1) this.#log[this.#ctx.onAnnounceFailed ? 'debug' : 'warn'](`no tracker answered: ${lastError}`);
      this.#schedule(this.#again ? 0 : backoff);
      this.#again = false;
      return;
    }
    this.#ctx.onAnnounced?.({ url: this.#status.url ?? '', peers: result.peers.length });
    if (result.peers.length > 0) this.#ctx.onPeers(result.peers, this.name);
    const intervalS = Math.max(1, Math.min(result.interval || maxS, maxS));
    const minS = Math.max(1, result.minInterval ?? Math.min(intervalS, DEFAULT_SETTINGS.trackerAssumedMinIntervalS));
    let nextS = intervalS;
    const fewPeers = result.peers.length < this.#numwant && this.#ctx.stats().left > 0;
    if (fewPeers && this.#eager < DEFAULT_SETTINGS.trackerEagerAnnounces) {
      this.#eager++;
      nextS = Math.min(intervalS, minS);
    }
    this.#schedule(this.#again ? 0 : nextS * 1000);
    this.#again = false;
  }
}
