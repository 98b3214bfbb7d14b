/**
 * The daemon's own state: which torrents it runs, where their data is, which
 * are paused, and which magnet links still wait for their metadata, so that
 * a restart resumes every torrent however it was added (watch folder, API,
 * command line). Per-piece progress is not here: that is each torrent's
 * resume file (storage/completion-store.ts); this file only says what to
 * reopen.
 *
 * Layout under the state folder:
 *   session.json                 this state (replaced atomically)
 *   torrents/<infohash>.torrent  the metainfo of each torrent (the same
 *                                cache Session.addMagnet fills)
 *
 * `decodeSessionState`/`encodeSessionState` are pure; `SessionStateFile`
 * does the file I/O.
 */
import { access, readFile } from 'node:fs/promises';
import path from 'node:path';
import { encode } from '../bencode/index.js';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { Metainfo } from '../metainfo/types.js';
import { writeFileAtomic } from '../util/atomic-write.js';

export const SESSION_STATE_VERSION = 1;
/** A state file larger than this is not ours (10,000 torrents take about 5 MB). */
export const MAX_SESSION_STATE_BYTES = 64 * 1024 * 1024;

/** How a torrent came in; decides what removing its watch file does. */
export type TorrentOrigin = 'watch' | 'api' | 'cli';

export interface TorrentRecord {
  kind: 'torrent';
  infoHash: string;
  name: string;
  /** The file (single-file torrent) or folder (multi-file) holding the content. */
  contentPath: string;
  mode: 'seed' | 'leech';
  paused: boolean;
  origin: TorrentOrigin;
  /** The watch-folder file it came from, if any (absolute). */
  watchFile?: string;
  addedAt: number;
}

export interface MagnetRecord {
  kind: 'magnet';
  infoHash: string;
  /** The link itself: trackers and x.pe peers are needed again after a restart. */
  magnet: string;
  /** Content goes to `<outDir>/<name>` once the metadata is known. */
  outDir: string;
  paused: boolean;
  origin: TorrentOrigin;
  watchFile?: string;
  addedAt: number;
}

export type SessionRecord = TorrentRecord | MagnetRecord;

export interface SessionState {
  version: number;
  records: SessionRecord[];
}

const HEX40 = /^[0-9a-f]{40}$/;

/**
 * Parses session.json. Records that do not have the expected shape are
 * dropped one by one (reported in `skipped`) rather than losing the whole
 * state to one bad entry.
 */
export function decodeSessionState(bytes: Uint8Array): { state: SessionState; skipped: string[] } {
  const raw: unknown = JSON.parse(Buffer.from(bytes).toString('utf8'));
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new TypeError('session state: not a JSON object');
  const obj = raw as Record<string, unknown>;
  if (obj.version !== SESSION_STATE_VERSION) throw new TypeError(`session state: version ${String(obj.version)} is not ${SESSION_STATE_VERSION}`);
  if (!Array.isArray(obj.records)) throw new TypeError('session state: records is not a list');
  const records: SessionRecord[] = [];
  const skipped: string[] = [];
  const seen = new Set<string>();
  obj.records.forEach((r: unknown, i: number) => {
    const why = recordProblem(r);
    if (why) return void skipped.push(`record ${i}: ${why}`);
    const rec = r as SessionRecord;
    if (seen.has(rec.infoHash)) return void skipped.push(`record ${i}: duplicate info-hash ${rec.infoHash}`);
    seen.add(rec.infoHash);
    records.push(rec);
  });
  return { state: { version: SESSION_STATE_VERSION, records }, skipped };
}

function recordProblem(r: unknown): string | undefined {
  if (typeof r !== 'object' || r === null) return 'not an object';
  const o = r as Record<string, unknown>;
  if (typeof o.infoHash !== 'string' || !HEX40.test(o.infoHash)) return 'infoHash is not 40 lowercase hex digits';
  if (typeof o.paused !== 'boolean') return 'paused is not a boolean';
  if (o.origin !== 'watch' && o.origin !== 'api' && o.origin !== 'cli') return 'origin is not watch, api or cli';
  if (o.watchFile !== undefined && typeof o.watchFile !== 'string') return 'watchFile is not a string';
  if (typeof o.addedAt !== 'number') return 'addedAt is not a number';
  if (o.kind === 'torrent') {
    if (typeof o.contentPath !== 'string' || o.contentPath === '') return 'contentPath is missing';
    if (o.mode !== 'seed' && o.mode !== 'leech') return 'mode is not seed or leech';
    if (typeof o.name !== 'string') return 'name is not a string';
    return undefined;
  }
  if (o.kind === 'magnet') {
    if (typeof o.magnet !== 'string' || !o.magnet.startsWith('magnet:?')) return 'magnet is not a magnet link';
    if (typeof o.outDir !== 'string' || o.outDir === '') return 'outDir is missing';
    return undefined;
  }
  return 'kind is not torrent or magnet';
}

export function encodeSessionState(state: SessionState): Uint8Array {
  return Buffer.from(JSON.stringify(state, null, 1) + '\n');
}

/**
 * A .torrent around a torrent's original info bytes (spliced verbatim so it
 * hashes to the same info-hash), with its tracker tiers (BEP 12). What the
 * daemon keeps of a torrent that came through the API or a watch file that
 * may later be deleted.
 */
export function torrentBytesOf(meta: Metainfo): Uint8Array {
  const parts: Uint8Array[] = [Buffer.from('d')];
  const tiers = meta.announceList.filter((t) => t.length > 0);
  if (tiers.length) {
    // Keys in byte order: announce < announce-list < info.
    const head = encode({ announce: tiers[0]![0]!, 'announce-list': tiers });
    parts.push(head.subarray(1, head.length - 1));
  }
  parts.push(Buffer.from('4:info'), meta.infoBytes, Buffer.from('e'));
  return new Uint8Array(Buffer.concat(parts));
}

/** session.json and the metainfo cache under a state folder. */
export class SessionStateFile {
  readonly stateDir: string;
  readonly file: string;
  readonly #log: Logger;
  #chain: Promise<void> = Promise.resolve();

  constructor(opts: { stateDir: string; logger: Logger }) {
    this.stateDir = opts.stateDir;
    this.file = path.join(opts.stateDir, 'session.json');
    this.#log = opts.logger;
  }

  /** Where the metainfo of `infoHash` is kept. */
  torrentPath(infoHash: string): string {
    return path.join(this.stateDir, 'torrents', `${infoHash}.torrent`);
  }

  /** The saved state, or an empty one (a missing or unreadable file is logged and treated as empty). */
  async load(): Promise<SessionState> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#log.warn(`cannot read ${this.file}: ${errorMessage(err)}; starting with no torrents`);
      return { version: SESSION_STATE_VERSION, records: [] };
    }
    if (bytes.length > MAX_SESSION_STATE_BYTES) {
      this.#log.warn(`${this.file} is ${bytes.length} bytes, more than ${MAX_SESSION_STATE_BYTES}: ignored`);
      return { version: SESSION_STATE_VERSION, records: [] };
    }
    try {
      const { state, skipped } = decodeSessionState(bytes);
      for (const s of skipped) this.#log.warn(`${this.file}: ${s}: skipped`);
      return state;
    } catch (err) {
      this.#log.warn(`${this.file} is not a session state (${errorMessage(err)}); starting with no torrents`);
      return { version: SESSION_STATE_VERSION, records: [] };
    }
  }

  /** Saves atomically; calls are serialised so an older state never lands after a newer one. */
  save(state: SessionState): Promise<void> {
    const bytes = encodeSessionState(state);
    const run = this.#chain.then(() => writeFileAtomic(this.file, bytes));
    this.#chain = run.catch(() => undefined);
    return run;
  }

  /** Keeps the metainfo of a torrent unless it is already there. */
  async saveTorrent(meta: Metainfo): Promise<void> {
    const p = this.torrentPath(meta.infoHashHex);
    try {
      await access(p);
      return;
    } catch {
      // missing: write it
    }
    await writeFileAtomic(p, torrentBytesOf(meta));
  }
}
