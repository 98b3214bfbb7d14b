/**
 * Verification: read pieces and compare their SHA-1 with the metainfo
 * (BEP 3), on every core. Reads are batched into runs of consecutive pieces
 * (a few MiB each) so a torrent of small pieces costs few system calls; the
 * hashing runs in the HashPool's worker threads (the buffer is transferred,
 * not copied), with a bounded number of batches in flight so memory stays
 * flat whatever the torrent's size.
 *
 * A piece that cannot be read (a missing or short file, an I/O error) is
 * simply not had: verification answers "which pieces are good", it does not
 * fail because some are not.
 */
import { createHash } from 'node:crypto';
import { StorageError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { pieceRange } from '../metainfo/layout.js';
import type { InfoDict } from '../metainfo/types.js';
import { Bitfield } from '../util/bitfield.js';
import type { HashPool } from '../util/hash-pool.js';
import type { PieceStore } from './piece-store.js';

/** Target bytes per read-and-hash batch. */
const BATCH_BYTES = 4 * 1024 * 1024;
/**
 * Up to this much data is hashed on this thread, a batch at a time with the
 * event loop running between batches: starting the pool's worker threads
 * costs more (about 20 ms of CPU and 10 MiB of memory each; the seeder of
 * the 100-host LAN peaked 30 MiB above the others) than 64 MiB of SHA-1.
 */
const INLINE_HASH_BYTES = 64 * 1024 * 1024;
/**
 * Batch bytes and batches in flight when hashing on this thread: one read
 * under way while the other is hashed is all it can use, and the buffers
 * may outlive the verification (old-generation garbage until a full
 * collection: the LAN seeder kept its four 4 MiB buffers, 16 MiB, all run).
 */
const INLINE_BATCH_BYTES = 1024 * 1024;
const INLINE_LANES = 2;

export interface VerifyOptions {
  /** Pieces to check (default: all). Others stay unset in the result. */
  pieces?: Iterable<number>;
  signal?: AbortSignal;
  /** Called after each batch with pieces checked so far and the total to check. */
  onProgress?: (done: number, total: number) => void;
  /** Batches in flight (default: twice the pool's threads, so reads overlap hashing). */
  concurrency?: number;
  logger?: Logger;
  /** Data up to this many bytes is hashed on this thread, not in the pool (default INLINE_HASH_BYTES, 64 MiB). */
  inlineHashBytes?: number;
}

interface Batch {
  first: number;
  count: number;
}

function makeBatches(info: InfoDict, pieces: number[], batchBytes: number): Batch[] {
  const perBatch = Math.max(1, Math.floor(batchBytes / info.pieceLength));
  const out: Batch[] = [];
  for (const p of pieces) {
    const last = out[out.length - 1];
    if (last && last.first + last.count === p && last.count < perBatch) last.count++;
    else out.push({ first: p, count: 1 });
  }
  return out;
}

function digestMatches(info: InfoDict, index: number, digests: Uint8Array, at: number): boolean {
  const want = info.pieces.subarray(index * 20, index * 20 + 20);
  for (let k = 0; k < 20; k++) if (digests[at * 20 + k] !== want[k]) return false;
  return true;
}

export async function verifyPieces(store: PieceStore, info: InfoDict, pool: HashPool, opts: VerifyOptions = {}): Promise<Bitfield> {
  const have = new Bitfield(info.pieceCount);
  let list: number[];
  if (opts.pieces) {
    const set = new Set<number>();
    for (const p of opts.pieces) {
      if (!Number.isInteger(p) || p < 0 || p >= info.pieceCount) throw new RangeError(`piece ${p} out of range 0..${info.pieceCount - 1}`);
      set.add(p);
    }
    list = [...set].sort((a, b) => a - b);
  } else {
    list = Array.from({ length: info.pieceCount }, (_, i) => i);
  }
  const total = list.length;
  const inline = total * info.pieceLength <= (opts.inlineHashBytes ?? INLINE_HASH_BYTES);
  const batches = makeBatches(info, list, inline ? INLINE_BATCH_BYTES : BATCH_BYTES);
  const lanes = Math.max(1, opts.concurrency ?? (inline ? INLINE_LANES : pool.threads * 2));
  const signal = opts.signal;
  let next = 0;
  let done = 0;
  // Recycled read buffers, by size: the hash pool hands each one back, and
  // reusing it spares the page faults of fresh multi-MiB allocations.
  const spare = new Map<number, ArrayBuffer[]>();
  const take = (size: number): Uint8Array | undefined => {
    const ab = spare.get(size)?.pop();
    return ab ? new Uint8Array(ab) : undefined;
  };
  const give = (buf: Uint8Array): void => {
    if (buf.byteOffset !== 0 || buf.byteLength !== buf.buffer.byteLength || !(buf.buffer instanceof ArrayBuffer)) return;
    const list = spare.get(buf.byteLength) ?? [];
    if (list.length < lanes) list.push(buf.buffer);
    spare.set(buf.byteLength, list);
  };

  const checkBatch = async (b: Batch): Promise<void> => {
    const start = pieceRange(info, b.first).offset;
    const end = b.first + b.count === info.pieceCount ? info.length : (b.first + b.count) * info.pieceLength;
    let buf: Uint8Array;
    try {
      buf = store.readRange ? await store.readRange(start, end - start, take(end - start)) : await readPieces(store, b);
    } catch (err) {
      if (!(err instanceof StorageError)) throw err;
      if (b.count === 1) {
        opts.logger?.debug(`piece ${b.first} unreadable: ${errorMessage(err)}`);
        return;
      }
      // Some file of the run is missing: find out piece by piece which ones are readable.
      for (let i = 0; i < b.count; i++) await checkBatch({ first: b.first + i, count: 1 });
      return;
    }
    signal?.throwIfAborted();
    const hashed = inline ? hashHere(buf, info.pieceLength) : await pool.hashPieces(buf, info.pieceLength);
    const digests = hashed.digests;
    give(hashed.buf);
    for (let i = 0; i < b.count; i++) if (digestMatches(info, b.first + i, digests, i)) have.set(b.first + i);
  };

  let failed = false;
  const lane = async (): Promise<void> => {
    while (next < batches.length && !failed) {
      signal?.throwIfAborted();
      const b = batches[next++]!;
      await checkBatch(b);
      done += b.count;
      opts.onProgress?.(done, total);
    }
  };

  signal?.throwIfAborted();
  // allSettled, not all: on the first failure the other lanes stop at their
  // next batch, and none is left reading a store its owner is about to close.
  const results = await Promise.allSettled(
    Array.from({ length: Math.min(lanes, batches.length) }, () =>
      lane().catch((err: unknown) => {
        failed = true;
        throw err;
      }),
    ),
  );
  for (const r of results) if (r.status === 'rejected') throw r.reason;
  return have;
}

/** The pool's answer, computed on this thread: each piece's SHA-1, and the buffer back. */
function hashHere(buf: Uint8Array, pieceLength: number): { digests: Uint8Array; buf: Uint8Array } {
  const count = Math.ceil(buf.length / pieceLength);
  const digests = new Uint8Array(count * 20);
  for (let i = 0; i < count; i++) digests.set(createHash('sha1').update(buf.subarray(i * pieceLength, Math.min(buf.length, (i + 1) * pieceLength))).digest(), i * 20);
  return { digests, buf };
}

/** Fallback for stores without readRange: the pieces of a batch, one read each, into one buffer. */
async function readPieces(store: PieceStore, b: Batch): Promise<Uint8Array> {
  const parts = await Promise.all(Array.from({ length: b.count }, (_, i) => store.readPiece(b.first + i)));
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
