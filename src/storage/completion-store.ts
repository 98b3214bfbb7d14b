/**
 * Resume state of one torrent, apart from its data (STYLE.md habit 5): the
 * bitfield of pieces whose SHA-1 passed and whose data was fsynced, plus the
 * size and mtime of each file when it was saved, so a restart can tell
 * whether the files are still the ones the bitfield describes.
 *
 * File: `<stateDir>/resume/<infohash>.resume`, bencoded:
 *   d 5:state <bencoded state dict> 4:sha1 <20 bytes: SHA-1 of state> e
 * The checksum catches a torn or bit-rotten file that still happens to parse;
 * anything unreadable is "unknown", which means verify, never "incomplete".
 *
 * Saving is atomic (util/atomic-write.ts): write a temporary file in the
 * same folder, fsync it, rename it over the old one, fsync the folder. A
 * crash at any point leaves the old state or the new one, never a mix.
 *
 * A piece the state claimed but whose data turned out wrong (hashed before
 * its first upload, session/serve-check.ts) is *revoked*: dropped from the
 * saved state at once and from every later save of this store, so the next
 * start does not trust it again.
 */
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { decode, encode, isBytes, isDict, isInt, isList, type BValue } from '../bencode/index.js';
import { StorageError, errorMessage } from '../errors.js';
import { getLogger, type Logger } from '../log.js';
import { Bitfield } from '../util/bitfield.js';
import { bytesEqual, utf8, utf8OrUndefined } from '../util/bytes.js';
import { sha1 } from '../util/hash.js';
import { AtomicWriteError, syncFolder, writeFileAtomic } from '../util/atomic-write.js';
import type { FileFingerprint } from './piece-store.js';

export interface ResumeState {
  version: 1;
  infoHashHex: string;
  pieceCount: number;
  /** Bitfield bytes (BEP 3 order, spare bits zero). */
  have: Uint8Array;
  files: FileFingerprint[];
  /** Milliseconds since the epoch. */
  savedAt: number;
}

/** Largest resume file we read: a bitfield of millions of pieces plus many file paths fits easily. */
const MAX_RESUME_BYTES = 64 * 1024 * 1024;

/** mtimes are stored as integer microseconds (bencode has no fractions). */
const toUs = (ms: number): number => Math.round(ms * 1000);

/** True when two fingerprints describe the same files (mtimes compared to the microsecond). */
export function fingerprintsMatch(a: FileFingerprint[], b: FileFingerprint[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((x, i) => {
    const y = b[i]!;
    return x.path === y.path && x.size === y.size && toUs(x.mtimeMs) === toUs(y.mtimeMs);
  });
}

export class CompletionStore {
  readonly file: string;
  readonly infoHashHex: string;
  readonly #dir: string;
  readonly #log: Logger;
  /** Pieces never to be recorded as had again by this store (their data failed its hash). */
  readonly #revoked = new Set<number>();
  #claimed: Bitfield | undefined;

  constructor(opts: { stateDir: string; infoHashHex: string; logger?: Logger }) {
    if (!/^[0-9a-f]{40}$/.test(opts.infoHashHex)) throw new RangeError(`info-hash must be 40 lowercase hex digits, got ${JSON.stringify(opts.infoHashHex)}`);
    this.infoHashHex = opts.infoHashHex;
    this.#dir = path.resolve(opts.stateDir, 'resume');
    this.file = path.join(this.#dir, `${opts.infoHashHex}.resume`);
    this.#log = opts.logger ?? getLogger('storage');
  }

  /**
   * The pieces the last state load() returned claims as had: what a start
   * may have trusted without hashing (undefined when nothing was loaded,
   * e.g. with --recheck or on a first run).
   */
  get claimed(): Bitfield | undefined {
    return this.#claimed;
  }

  /** The saved state, or undefined when there is none or it cannot be trusted (logged at warn). Never throws. */
  async load(): Promise<ResumeState | undefined> {
    let raw: Buffer;
    try {
      const st = await fsp.stat(this.file);
      if (st.size > MAX_RESUME_BYTES) {
        this.#log.warn(`ignoring resume state ${this.file}: ${st.size} bytes is too large`);
        return undefined;
      }
      raw = await fsp.readFile(this.file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.#log.warn(`cannot read resume state ${this.file}: ${errorMessage(err)}`);
      return undefined;
    }
    try {
      const state = this.#parse(raw);
      this.#claimed ??= new Bitfield(state.pieceCount, state.have);
      return state;
    } catch (err) {
      this.#log.warn(`ignoring resume state ${this.file}: ${errorMessage(err)}; the data will be verified`);
      return undefined;
    }
  }

  #parse(raw: Uint8Array): ResumeState {
    const outer = decode(raw, { maxDepth: 4 });
    if (!isDict(outer) || !isBytes(outer.state) || !isBytes(outer.sha1)) throw new Error('not a resume file');
    if (!bytesEqual(sha1(outer.state), outer.sha1)) throw new Error('checksum mismatch (torn or corrupted file)');
    const s = decode(outer.state, { maxDepth: 4 });
    if (!isDict(s)) throw new Error('state is not a dictionary');
    if (s.version !== 1) throw new Error(`unknown version ${String(s.version)}`);
    const hash = isBytes(s['info-hash']) ? utf8OrUndefined(s['info-hash']) : undefined;
    if (hash !== this.infoHashHex) throw new Error(`it belongs to another torrent (${String(hash)})`);
    const pieceCount = s['piece-count'];
    if (!isInt(pieceCount) || pieceCount < 0) throw new Error('bad piece-count');
    const have = s.have;
    if (!isBytes(have) || have.length !== Bitfield.byteLength(pieceCount) || !Bitfield.spareBitsClear(have, pieceCount)) {
      throw new Error('bad have bitfield');
    }
    if (!isList(s.files)) throw new Error('bad files');
    const files = s.files.map((f: BValue, i): FileFingerprint => {
      const p = isDict(f) && isBytes(f.path) ? utf8OrUndefined(f.path) : undefined;
      if (!isDict(f) || p === undefined || !isInt(f.size) || f.size < 0 || !isInt(f['mtime-us'])) throw new Error(`bad files[${i}]`);
      return { path: p, size: f.size, mtimeMs: f['mtime-us'] / 1000 };
    });
    const savedAt = isInt(s['saved-at']) ? s['saved-at'] : 0;
    return { version: 1, infoHashHex: this.infoHashHex, pieceCount, have: Uint8Array.from(have), files, savedAt };
  }

  /** Replaces the saved state atomically (tmp file, fsync, rename, fsync of the folder). */
  async save(state: ResumeState): Promise<void> {
    if (state.infoHashHex !== this.infoHashHex) throw new RangeError(`state of ${state.infoHashHex} saved into the store of ${this.infoHashHex}`);
    if (state.have.length !== Bitfield.byteLength(state.pieceCount)) throw new RangeError('have bitfield does not match pieceCount');
    let have = state.have;
    if (this.#revoked.size > 0) {
      const bits = new Bitfield(state.pieceCount, state.have);
      for (const p of this.#revoked) if (p < state.pieceCount) bits.set(p, false);
      have = bits.toBytes();
    }
    const inner = encode({
      version: 1,
      'info-hash': utf8(state.infoHashHex),
      'piece-count': state.pieceCount,
      have,
      files: state.files.map((f) => ({ path: utf8(f.path), size: f.size, 'mtime-us': toUs(f.mtimeMs) })),
      'saved-at': Math.round(state.savedAt),
    });
    const bytes = encode({ state: inner, sha1: sha1(inner) });
    try {
      await writeFileAtomic(this.file, bytes);
    } catch (err) {
      if (err instanceof AtomicWriteError && err.step === 'sync-folder') throw err;
      throw new StorageError(`cannot save resume state ${this.file}: ${err instanceof AtomicWriteError ? err.reason : errorMessage(err)}`, { cause: err });
    }
  }

  /**
   * Drops `pieces` from the saved state now (when it claims them) and from
   * every later save: their data failed its hash after the state said they
   * were complete. The files' fingerprints are kept, so the next start
   * trusts the rest and only these pieces are missing.
   */
  async revoke(pieces: readonly number[]): Promise<void> {
    for (const p of pieces) this.#revoked.add(p);
    const saved = await this.load();
    if (!saved) return;
    const bits = new Bitfield(saved.pieceCount, saved.have);
    if (!pieces.some((p) => p < saved.pieceCount && bits.get(p))) return;
    await this.save({ ...saved, savedAt: Date.now() });
    this.#log.info(`resume state ${this.file}: pieces ${pieces.join(', ')} dropped (their data failed its hash)`);
  }

  /** Deletes the saved state (idempotent). */
  async remove(): Promise<void> {
    try {
      await fsp.rm(this.file, { force: true });
      await syncFolder(this.#dir).catch(() => undefined);
    } catch (err) {
      throw new StorageError(`cannot remove resume state ${this.file}: ${errorMessage(err)}`, { cause: err });
    }
  }
}
