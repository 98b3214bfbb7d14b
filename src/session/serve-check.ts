/**
 * Never upload data we have not hashed in this run.
 *
 * A resume state is trusted on start when the files still have the sizes
 * and mtimes it recorded (as libtorrent does), so a piece can be claimed
 * without being read. A forged or stale state (data changed under a
 * restored mtime, a copied state folder, a bit flip on disk) would then
 * make us serve bytes that fail the peer's hash, again and again: the wire
 * protocol has no message for "your piece was bad", so we would never know.
 *
 * So, like libtorrent's seed mode (which hashes a piece not yet verified in
 * this session the first time a peer asks for it), every piece we had on
 * start because a resume state claimed it is hashed once, from the very
 * bytes read to serve it, before its first block goes out. Pieces verified
 * on start with no state (a first run, `--recheck`) and pieces downloaded
 * in this run were hashed already and are not checked again. A piece that
 * fails is:
 * - never served: its queued requests are refused, new ones too;
 * - no longer advertised to peers that connect later;
 * - dropped from the resume state, so the next start fetches it (leech) or
 *   lacks it (seed), instead of trusting it again;
 * - reported in one clear warning that names the remedy (`--recheck`).
 * Pieces hashed here are not rehashed later in the run: the cost is one
 * SHA-1 per piece per run.
 *
 * The piece is hashed on the event loop, straight from the views it was
 * read into, in slices of HASH_SLICE_BYTES between which the loop runs (so
 * no stall is longer than about half a millisecond). It used to go to the
 * hash worker pool, which needed a copy of the piece of its own (a buffer
 * per piece in flight) and, on a seeder that hashes nothing else, worker
 * threads started just for this (each an isolate of several MiB). Measured
 * on a resumed seeder of 4 GiB (4 MiB pieces): peak anonymous RSS ~10 MiB
 * lower and ~1 s less CPU (the copy and hand-off cost more than the
 * hashing); SHA-1 runs at ~2 GB/s here, 2 ms per 4 MiB piece.
 */
import { createHash } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import type { InfoDict } from '../metainfo/types.js';
import type { CompletionStore } from '../storage/completion-store.js';
import type { Bitfield } from '../util/bitfield.js';
import type { HashPool } from '../util/hash-pool.js';

/** A piece we must not serve: its data on disk does not match its hash. */
export class PieceRefusedError extends Error {
  override readonly name = 'PieceRefusedError';
  readonly index: number;
  constructor(index: number) {
    super(`piece ${index} failed its hash check and is not served`);
    this.index = index;
  }
}

export interface ServeCheckOptions {
  info: InfoDict;
  /** The pieces we advertise (the storage's `have`): had on start, cleared here for a bad piece. */
  have: Bitfield;
  /**
   * @deprecated Not used: pieces are hashed on the event loop (see above).
   * Still accepted so that callers passing the session's pool compile.
   */
  pool?: HashPool;
  /** What the resume state claimed on start (`claimed`), and where a bad piece is dropped from it (`revoke`). */
  completion: Pick<CompletionStore, 'revoke' | 'claimed'>;
  logger: Logger;
}

/** Bytes hashed at once before the event loop gets a turn: ~0.5 ms of SHA-1. */
const HASH_SLICE_BYTES = 1024 * 1024;

export class ServeCheck {
  readonly #info: InfoDict;
  readonly #have: Bitfield;
  readonly #completion: Pick<CompletionStore, 'revoke' | 'claimed'>;
  readonly #log: Logger;
  /** Had on start as the resume state claimed, and not hashed yet in this run. */
  readonly #unverified: Bitfield;
  readonly #bad = new Set<number>();

  constructor(opts: ServeCheckOptions) {
    this.#info = opts.info;
    this.#have = opts.have;
    this.#completion = opts.completion;
    this.#log = opts.logger;
    this.#unverified = opts.have.clone();
    const claimed = opts.completion.claimed;
    for (const p of opts.have.ones()) if (!claimed || claimed.length !== opts.have.length || !claimed.get(p)) this.#unverified.set(p, false);
  }

  /** Pieces found bad in this run. */
  get badPieces(): number {
    return this.#bad.size;
  }

  /** True for a piece that must not be served. */
  refuses(index: number): boolean {
    return this.#bad.has(index);
  }

  /**
   * Resolves when the piece, whose payload was just read into `views` (in
   * order), may be served; rejects with PieceRefusedError when it must not.
   */
  async admit(index: number, views: readonly Uint8Array[]): Promise<void> {
    if (this.#bad.has(index)) throw new PieceRefusedError(index);
    if (!this.#unverified.get(index)) return;
    // The views stay untouched meanwhile: the piece is not served (nor its image reused) before this resolves.
    const hash = createHash('sha1');
    let slice = 0;
    for (const v of views) {
      hash.update(v);
      slice += v.length;
      if (slice >= HASH_SLICE_BYTES && v !== views[views.length - 1]) {
        slice = 0;
        await nextTurn();
      }
    }
    const digest = hash.digest();
    const expected = this.#info.pieces.subarray(index * 20, index * 20 + 20);
    this.#unverified.set(index, false);
    if (Buffer.compare(digest, expected) === 0) return;
    this.#markBad(index);
    throw new PieceRefusedError(index);
  }

  #markBad(index: number): void {
    this.#bad.add(index);
    this.#have.set(index, false);
    const n = this.#bad.size;
    if (n === 1) {
      this.#log.warn(
        `${this.#info.name}: piece ${index} does not match its hash, though the resume state said it was complete ` +
          '(the data changed on disk, or the state is not this data\'s): it is not served, and it is dropped from the resume state. ' +
          'Run with --recheck to verify every piece now.',
      );
    } else if (n === 10 || n === 100 || n % 1000 === 0) {
      this.#log.warn(`${this.#info.name}: ${n} pieces claimed by the resume state failed their hash so far; none of them is served`);
    } else {
      this.#log.debug(`${this.#info.name}: piece ${index} does not match its hash; not served`);
    }
    this.#completion.revoke([index]).catch((err: unknown) => this.#log.error(`${this.#info.name}: cannot drop piece ${index} from the resume state: ${errorMessage(err)}`));
  }
}
