/**
 * The watch folder of `peer start`: a `.torrent` file, or a `.magnet` text
 * file holding one magnet link, that appears in the folder is reported as
 * added; one that disappears, as removed. The daemon decides what that means
 * (start the torrent; stop it and keep its data).
 *
 * `fs.watch` is only a hint: it misses events on some file systems (network
 * mounts, some containers) and reports renames inconsistently, so the folder
 * is also rescanned every `rescanIntervalMs`, and a rescan is the only thing
 * that decides what is there.
 *
 * A file being written is not read half-way: it must keep the same size and
 * mtime for `settleMs` first. A file that still does not parse is rejected
 * with a warning and tried again only when it changes. Hidden files (a
 * leading dot, as editors and downloaders use for partial files) are ignored.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { TypedEmitter } from '../events.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { DEFAULT_SETTINGS } from '../settings.js';
import { MAX_TORRENT_FILE_BYTES, parseTorrent } from '../metainfo/parse.js';
import { MAX_MAGNET_LENGTH, isMagnet, parseMagnet } from '../metainfo/magnet.js';
import type { MagnetLink, Metainfo } from '../metainfo/types.js';

export type WatchedFile =
  | { kind: 'torrent'; path: string; metainfo: Metainfo }
  | { kind: 'magnet'; path: string; magnet: MagnetLink; link: string };

export interface WatchFolderEvents {
  /** A file settled and parsed (again, if it was rewritten). */
  'file:added': WatchedFile;
  /** A file reported as added (or adopted) is gone. */
  'file:removed': { path: string };
  /** A settled file that is not a torrent or magnet link; logged at warn too. */
  'file:rejected': { path: string; reason: string };
}

export interface WatchFolderOptions {
  dir: string;
  logger: Logger;
  /** Full rescans this often, whatever fs.watch says (default 2 s). */
  rescanIntervalMs?: number;
  /** A file must keep its size and mtime this long before it is read (default 500 ms). */
  settleMs?: number;
  /** Files considered at most; more are ignored with a warning (a memory bound). */
  maxFiles?: number;
}

interface Entry {
  /** size:mtime when last seen; undefined for an adopted path not yet seen. */
  fingerprint: string | undefined;
  /** When this fingerprint was first seen. */
  since: number;
  status: 'pending' | 'added' | 'rejected';
  /** 'file:added' was emitted (or the path adopted): its disappearance is reported. */
  reported: boolean;
}

const EXTENSIONS = ['.torrent', '.magnet'];

export function isWatchedName(name: string): boolean {
  const lower = name.toLowerCase();
  return !name.startsWith('.') && EXTENSIONS.some((e) => lower.endsWith(e) && lower.length > e.length);
}

export class WatchFolder extends TypedEmitter<WatchFolderEvents> {
  readonly dir: string;
  readonly #log: Logger;
  readonly #rescanMs: number;
  readonly #settleMs: number;
  readonly #maxFiles: number;
  readonly #entries = new Map<string, Entry>();
  #watcher: FSWatcher | undefined;
  #interval: NodeJS.Timeout | undefined;
  #soon: NodeJS.Timeout | undefined;
  #scanning: Promise<void> | undefined;
  #again = false;
  #started = false;
  #stopped = false;
  #warnedFull = false;
  #warnedUnreadable = false;

  constructor(opts: WatchFolderOptions) {
    super();
    this.dir = path.resolve(opts.dir);
    this.#log = opts.logger;
    this.#rescanMs = opts.rescanIntervalMs ?? DEFAULT_SETTINGS.watchRescanIntervalMs;
    this.#settleMs = opts.settleMs ?? 500;
    this.#maxFiles = opts.maxFiles ?? DEFAULT_SETTINGS.watchMaxFiles;
  }

  /**
   * Paths already handled before this run (from the saved session state):
   * they are not new when found, but their absence is reported as removed,
   * so a file deleted while the daemon was down stops its torrent.
   */
  adopt(paths: Iterable<string>): void {
    for (const p of paths) {
      const abs = path.resolve(p);
      if (path.dirname(abs) !== this.dir || this.#entries.has(abs)) continue;
      this.#entries.set(abs, { fingerprint: undefined, since: 0, status: 'pending', reported: true });
    }
  }

  /** Paths currently known to be in the folder and parsed. */
  get added(): string[] {
    return [...this.#entries].filter(([, e]) => e.status === 'added').map(([p]) => p);
  }

  /** Idempotent. Scans at once, then on fs.watch hints and every rescanIntervalMs. */
  async start(): Promise<void> {
    if (this.#started) return;
    this.#started = true;
    try {
      this.#watcher = watch(this.dir, { persistent: false }, () => this.#scanSoon(100));
      this.#watcher.on('error', (err) => {
        this.#log.warn(`watching ${this.dir} failed (${errorMessage(err)}); relying on rescans every ${this.#rescanMs} ms`);
        this.#watcher?.close();
        this.#watcher = undefined;
      });
    } catch (err) {
      this.#log.warn(`cannot watch ${this.dir} (${errorMessage(err)}); relying on rescans every ${this.#rescanMs} ms`);
    }
    this.#interval = setInterval(() => void this.scan(), this.#rescanMs);
    this.#interval.unref();
    await this.scan();
  }

  /** Idempotent; waits for a scan in progress. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#watcher?.close();
    this.#watcher = undefined;
    clearInterval(this.#interval);
    clearTimeout(this.#soon);
    await this.#scanning;
  }

  #scanSoon(ms: number): void {
    if (this.#stopped || this.#soon) return;
    this.#soon = setTimeout(() => {
      this.#soon = undefined;
      void this.scan();
    }, ms);
    this.#soon.unref();
  }

  /** One full scan (concurrent calls coalesce into one more scan). Never rejects. */
  scan(): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    if (this.#scanning) {
      this.#again = true;
      return this.#scanning;
    }
    this.#scanning = (async () => {
      try {
        do {
          this.#again = false;
          await this.#scanOnce();
        } while (this.#again && !this.#stopped);
      } catch (err) {
        this.#log.warn(`scanning ${this.dir} failed: ${errorMessage(err)}`);
      } finally {
        this.#scanning = undefined;
      }
    })();
    return this.#scanning;
  }

  async #scanOnce(): Promise<void> {
    let names: string[];
    try {
      names = (await readdir(this.dir)).filter(isWatchedName).sort();
      this.#warnedUnreadable = false;
    } catch (err) {
      if (!this.#warnedUnreadable) this.#log.warn(`cannot read the watch folder ${this.dir}: ${errorMessage(err)}`);
      this.#warnedUnreadable = true;
      return;
    }
    if (names.length > this.#maxFiles) {
      if (!this.#warnedFull) this.#log.warn(`${this.dir} holds ${names.length} torrent files; only the first ${this.#maxFiles} are served`);
      this.#warnedFull = true;
      names = names.slice(0, this.#maxFiles);
    }
    const present = new Set<string>();
    let unsettled = false;
    for (const name of names) {
      if (this.#stopped) return;
      const p = path.join(this.dir, name);
      let st;
      try {
        st = await stat(p);
      } catch {
        continue; // gone between readdir and stat: the next scan sees it missing
      }
      if (!st.isFile()) continue;
      present.add(p);
      const fp = `${st.size}:${st.mtimeMs}`;
      const now = Date.now();
      let e = this.#entries.get(p);
      if (!e || e.fingerprint !== fp) {
        e = { fingerprint: fp, since: now, status: 'pending', reported: e?.reported ?? false };
        this.#entries.set(p, e);
      }
      if (e.status !== 'pending') continue;
      if (now - e.since < this.#settleMs) {
        unsettled = true;
        continue;
      }
      await this.#read(p, e, st.size);
    }
    for (const [p, e] of this.#entries) {
      if (present.has(p)) continue;
      this.#entries.delete(p);
      if (e.reported) this.emit('file:removed', { path: p });
    }
    if (unsettled) this.#scanSoon(this.#settleMs);
  }

  async #read(p: string, e: Entry, size: number): Promise<void> {
    const isTorrent = p.toLowerCase().endsWith('.torrent');
    const limit = isTorrent ? MAX_TORRENT_FILE_BYTES : MAX_MAGNET_LENGTH + 1024;
    let item: WatchedFile;
    try {
      if (size > limit) throw new Error(`${size} bytes, more than the ${limit} a ${isTorrent ? '.torrent' : '.magnet'} file may hold`);
      const bytes = await readFile(p);
      if (bytes.length > limit) throw new Error(`more than ${limit} bytes`);
      if (isTorrent) {
        item = { kind: 'torrent', path: p, metainfo: parseTorrent(bytes) };
      } else {
        const link = bytes
          .toString('utf8')
          .split(/\r?\n/)
          .map((l) => l.trim())
          .find((l) => l !== '' && !l.startsWith('#'));
        if (!link || !isMagnet(link)) throw new Error('holds no magnet link (expected one line starting with "magnet:?")');
        item = { kind: 'magnet', path: p, magnet: parseMagnet(link), link };
      }
    } catch (err) {
      e.status = 'rejected';
      const reason = errorMessage(err);
      this.#log.warn(`ignoring ${p}: ${reason} (it is read again if it changes)`);
      this.emit('file:rejected', { path: p, reason });
      return;
    }
    e.status = 'added';
    e.reported = true;
    this.emit('file:added', item);
  }
}
