/**
 * Web seeds (BEP 19): HTTP servers that hold the torrent's files, used
 * alongside peers. Each URL of the torrent's `url-list` is a pseudo-peer
 * with a negative id (connection ids are positive, and the picker's "no
 * owner" is -1) that has every piece:
 * - it asks the picker for blocks like any peer (so priorities, started
 *   pieces first and the endgame all apply), keeps the first contiguous
 *   stretch, and extends it into the following pieces while they are free:
 *   one run, up to webSeedMaxRunBytes;
 * - a run is fetched with one HTTP Range request per file it crosses
 *   (web-seed-url.ts, web-seed-fetch.ts); pad files (BEP 47) are zeros,
 *   never fetched;
 * - each 16 KiB block goes down the same path as a peer's block (the
 *   picker's receipt, then the piece assembler, with the URL as its
 *   sender), so a piece that fails its hash strikes the web seed in the
 *   smart ban, and a struck-out web seed is banned for the run;
 * - an HTTP error, refusal or timeout backs off (webSeedRetryMs, doubled per
 *   failure in a row); a server that answers other bytes than it was asked
 *   for, or ignores Range, is banned at once.
 * The download rate limit applies: a run's bytes are taken from the same
 * token bucket as peers' requests before it is asked for.
 */
import http from 'node:http';
import https from 'node:https';
import type { Logger } from '../log.js';
import type { Settings } from '../settings.js';
import type { InfoDict } from '../metainfo/types.js';
import type { BlockRequest, PiecePicker } from '../picker/piece-picker.js';
import { Bitfield } from '../util/bitfield.js';
import { systemClock, type Clock } from '../util/clock.js';
import type { TokenBucket } from '../util/token-bucket.js';
import { fetchRange, WebSeedError } from './web-seed-fetch.js';
import { parseWebSeedUrl, sliceRun, webSeedFileUrl } from './web-seed-url.js';

export type WebSeedSettings = Pick<
  Settings,
  'blockBytes' | 'webSeedTimeoutMs' | 'webSeedMaxRedirects' | 'webSeedRetryMs' | 'webSeedMaxRunBytes' | 'webSeedRequestsInFlight'
>;

/** What web seeds need of the download side (downloader.ts) and the torrent. */
export interface WebSeedDeps {
  info: InfoDict;
  settings: WebSeedSettings;
  picker: Pick<PiecePicker, 'pick' | 'release' | 'priority' | 'pieceSize' | 'wantedComplete'>;
  /** The download rate limit (shared with peers). */
  budget: TokenBucket;
  /** The rate limit held a run back: fill again in about `ms`. */
  onLimited: (ms: number) => void;
  /** New runs may be asked for (not paused, not stopped, the disk keeps up). */
  canRequest: () => boolean;
  /** A block, on the path of a peer's block; true when the picker took it. */
  deliver: (source: number, index: number, begin: number, block: Uint8Array, sender: string) => boolean;
  /** The smart ban struck this sender out. */
  isBanned: (sender: string) => boolean;
  /** Bans a sender that lied (logged and reported by the download side). */
  ban: (sender: string, reason: string) => void;
  logger: Logger;
  /** Address to send from (`--host`). */
  localAddress?: string;
  clock?: Clock;
}

const USER_AGENT = 'swarm-peer/0.1.0';
/** Ids of web seeds: far below the picker's NONE (-1), and connection ids are positive. */
const FIRST_ID = -1000;
/** An idle kept-alive connection to a web seed is closed after this long. */
const IDLE_SOCKET_MS = 30_000;
/** Back-off after failures in a row grows to at most this many times webSeedRetryMs. */
const MAX_BACKOFF_FACTOR = 16;

/** One run being fetched: its blocks in byte order, and how many went to the picker. */
interface Run {
  blocks: BlockRequest[];
  offset: number;
  length: number;
  delivered: number;
  abort: AbortController;
}

/** One web seed: a URL of the torrent's url-list. */
export class WebSeed {
  readonly id: number;
  /** The URL as the torrent gives it: the sender name in the smart ban, events and logs. */
  readonly url: string;
  readonly #base: URL;
  readonly #d: WebSeedDeps & { clock: Clock };
  readonly #agents: { http: http.Agent; https: https.Agent };
  readonly #runs = new Set<Run>();
  readonly #all: Bitfield;
  /** One piece's bit, to ask the picker for the piece after a run's end. */
  readonly #one: Bitfield;
  /** Where a file's URL redirected to (kept for the run: the next range of the file goes there at once). */
  readonly #moved = new Map<number, string>();
  #failures = 0;
  #retryAt = 0;
  #banned = false;
  #stopped = false;
  #bytes = 0;

  constructor(id: number, base: URL, deps: WebSeedDeps & { clock: Clock }, agents: { http: http.Agent; https: https.Agent }) {
    this.id = id;
    this.#base = base;
    this.url = base.href;
    this.#d = deps;
    this.#agents = agents;
    this.#all = Bitfield.full(deps.info.pieceCount);
    this.#one = new Bitfield(deps.info.pieceCount);
  }

  /** Out for this run: banned (a lie, or struck out by the smart ban) or stopped. */
  get done(): boolean {
    if (!this.#banned && !this.#stopped && this.#d.isBanned(this.url)) {
      this.#banned = true;
      this.#d.logger.info(`web seed ${this.url} is banned: no more requests to it`);
      this.#abortAll();
    }
    return this.#banned || this.#stopped;
  }

  /** Payload bytes the picker took from this web seed. */
  get downloaded(): number {
    return this.#bytes;
  }

  /** Starts runs up to webSeedRequestsInFlight, unless backing off, limited, or nothing is wanted. */
  fill(): void {
    const d = this.#d;
    if (this.done || d.clock() < this.#retryAt) return;
    while (this.#runs.size < d.settings.webSeedRequestsInFlight && d.canRequest()) {
      const run = this.#pickRun();
      if (!run) return;
      this.#start(run);
    }
  }

  stop(): void {
    this.#stopped = true;
    this.#abortAll();
  }

  #abortAll(): void {
    for (const r of this.#runs) r.abort.abort();
  }

  /** Blocks for one contiguous run, marked requested by this web seed in the picker; undefined when none. */
  #pickRun(): Run | undefined {
    const { picker, settings, info, budget } = this.#d;
    if (picker.wantedComplete()) return undefined;
    const bb = settings.blockBytes;
    let maxBlocks = Math.max(1, Math.floor(settings.webSeedMaxRunBytes / bb));
    if (!budget.unlimited) {
      maxBlocks = Math.min(maxBlocks, Math.floor(budget.available() / bb));
      if (maxBlocks <= 0) {
        this.#d.onLimited(budget.msUntil(bb));
        return undefined;
      }
    }
    const perPiece = Math.ceil(info.pieceLength / bb);
    const at = (r: BlockRequest): number => r.index * info.pieceLength + r.begin;
    const blocks: BlockRequest[] = [];
    let end = 0;
    /** Keeps the picked blocks that continue the run; releases the rest. Returns whether all continued it. */
    const take = (picked: BlockRequest[]): boolean => {
      picked.sort((a, b) => at(a) - at(b));
      let k = 0;
      if (blocks.length === 0 && picked.length) end = at(picked[0]!);
      for (; k < picked.length && at(picked[k]!) === end; k++) {
        blocks.push(picked[k]!);
        end += picked[k]!.length;
      }
      for (let j = k; j < picked.length; j++) picker.release(this.id, picked[j]!);
      return k === picked.length && k > 0;
    };
    take(picker.pick(this.id, this.#all, Math.min(maxBlocks, perPiece)));
    if (blocks.length === 0) return undefined;
    const level = picker.priority(blocks[0]!.index);
    // Extend into the next pieces while the run ends on a piece boundary and the next piece is as wanted.
    while (blocks.length < maxBlocks) {
      const last = blocks[blocks.length - 1]!;
      const next = last.index + 1;
      if (last.begin + last.length !== picker.pieceSize(last.index) || next >= info.pieceCount || picker.priority(next) < level) break;
      this.#one.set(next);
      const more = picker.pick(this.id, this.#one, Math.min(maxBlocks - blocks.length, perPiece));
      this.#one.set(next, false);
      if (!take(more)) break;
    }
    const offset = at(blocks[0]!);
    return { blocks, offset, length: end - offset, delivered: 0, abort: new AbortController() };
  }

  #start(run: Run): void {
    const d = this.#d;
    if (!d.budget.unlimited) d.budget.take(run.length);
    this.#runs.add(run);
    this.#fetch(run).then(
      () => {
        this.#failures = 0;
      },
      (err: unknown) => this.#failed(err),
    ).finally(() => {
      this.#runs.delete(run);
      for (let k = run.delivered; k < run.blocks.length; k++) d.picker.release(this.id, run.blocks[k]!);
      if (!this.done) this.fill();
    });
  }

  /** Fetches the run slice by slice, handing each block on as soon as its bytes are in. */
  async #fetch(run: Run): Promise<void> {
    const { info, settings } = this.#d;
    const scratch = new Uint8Array(settings.blockBytes);
    let filled = 0;
    const push = (chunk: Uint8Array): void => {
      let pos = 0;
      while (pos < chunk.length && run.delivered < run.blocks.length && !run.abort.signal.aborted) {
        const req = run.blocks[run.delivered]!;
        const n = Math.min(req.length - filled, chunk.length - pos);
        scratch.set(chunk.subarray(pos, pos + n), filled);
        filled += n;
        pos += n;
        if (filled === req.length) {
          filled = 0;
          run.delivered++;
          if (this.#d.deliver(this.id, req.index, req.begin, scratch.subarray(0, req.length), this.url)) this.#bytes += req.length;
          // The block may have completed a piece that failed: a struck-out web seed stops here.
          if (this.done) run.abort.abort();
        }
      }
    };
    const opts = {
      timeoutMs: settings.webSeedTimeoutMs,
      maxRedirects: settings.webSeedMaxRedirects,
      signal: run.abort.signal,
      agents: this.#agents,
      userAgent: USER_AGENT,
      ...(this.#d.localAddress ? { localAddress: this.#d.localAddress } : {}),
    };
    for (const slice of sliceRun(info, run.offset, run.length)) {
      if (run.abort.signal.aborted) throw new WebSeedError('aborted', 'aborted');
      if (slice.pad) {
        for (let left = slice.length; left > 0; left -= settings.blockBytes) push(new Uint8Array(Math.min(left, settings.blockBytes)));
        continue;
      }
      const url = this.#moved.get(slice.fileIndex) ?? webSeedFileUrl(this.#base, info, slice.fileIndex);
      const answered = await fetchRange(url, slice.fileOffset, slice.length, opts, push);
      if (answered !== url) this.#moved.set(slice.fileIndex, answered);
    }
  }

  #failed(err: unknown): void {
    const d = this.#d;
    const e = err instanceof WebSeedError ? err : new WebSeedError(String(err), 'failed');
    if (e.kind === 'aborted' || this.#stopped) return;
    if (e.kind === 'lying' || e.kind === 'no-range') {
      if (this.#banned) return;
      this.#banned = true;
      this.#abortAll();
      d.ban(this.url, `web seed ${e.message}`);
      return;
    }
    this.#failures++;
    const ms = d.settings.webSeedRetryMs * Math.min(MAX_BACKOFF_FACTOR, 2 ** (this.#failures - 1));
    this.#retryAt = d.clock() + ms;
    // One warning per streak of failures; the retries of a server that stays down go to debug.
    const line = `web seed ${this.url}: ${e.message}; retrying in ${Math.round(ms / 100) / 10} s`;
    if (this.#failures === 1) d.logger.warn(line);
    else d.logger.debug(line);
  }
}

/** The web seeds of one torrent: one per distinct http(s) URL of its url-list. */
export class WebSeeds {
  readonly #seeds: WebSeed[] = [];
  /** Kept-alive connections, so the runs of a web seed reuse them; an idle one closes after IDLE_SOCKET_MS (a seeding torrent asks nothing more). */
  readonly #agents = {
    http: new http.Agent({ keepAlive: true, timeout: IDLE_SOCKET_MS }),
    https: new https.Agent({ keepAlive: true, timeout: IDLE_SOCKET_MS }),
  };
  readonly #d: WebSeedDeps & { clock: Clock };
  #started = false;
  #stopped = false;

  constructor(urls: readonly string[], deps: WebSeedDeps) {
    this.#d = { ...deps, clock: deps.clock ?? systemClock };
    const seen = new Set<string>();
    for (const raw of urls) {
      const parsed = parseWebSeedUrl(raw);
      if ('error' in parsed) {
        deps.logger.warn(`web seed ${JSON.stringify(raw.slice(0, 200))} not used: ${parsed.error}`);
        continue;
      }
      if (seen.has(parsed.url.href)) continue;
      seen.add(parsed.url.href);
      this.#seeds.push(new WebSeed(FIRST_ID - this.#seeds.length, parsed.url, this.#d, this.#agents));
    }
  }

  get size(): number {
    return this.#seeds.length;
  }

  /** Each web seed: its URL, whether it is out for this run, and the bytes taken from it. */
  list(): { url: string; banned: boolean; downloaded: number }[] {
    return this.#seeds.map((s) => ({ url: s.url, banned: s.done && !this.#stopped, downloaded: s.downloaded }));
  }

  /** Idempotent. */
  start(): void {
    if (this.#started || this.#stopped) return;
    this.#started = true;
    for (const s of this.#seeds) this.#d.logger.info(`web seed ${s.url}: started`);
    this.fill();
  }

  /** Tops up each web seed's runs (called with the peers' fillAll: ticks, room on the disk, a failed piece). */
  fill(): void {
    if (!this.#started || this.#stopped) return;
    for (const s of this.#seeds) s.fill();
  }

  /** Idempotent: aborts every run; the sockets close. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const s of this.#seeds) s.stop();
    this.#agents.http.destroy();
    this.#agents.https.destroy();
  }
}
