/**
 * Hashes a torrent's data on every core for the make-torrent CLI, at the
 * speed of mktorrent (OpenSSL SHA-1 on every core; parity is the limit).
 *
 * Why not the HashPool path of hash-files.ts: there the calling thread reads
 * every byte and hands chunks to workers, so one core spends its time copying
 * and posting while the others wait on it, and each chunk costs two messages.
 * Here every thread, the calling one included, takes its next run of pieces
 * from a counter in shared memory (Atomics.add), reads them itself with one
 * large blocking read and writes their digests straight into a shared table.
 * No message moves per chunk, the load balances itself to the last piece, and
 * the calling thread starts hashing at once while the workers boot.
 *
 * The make-torrent bin goes further (startHashingAhead): its helper threads
 * start on the job before its CLI has even loaded, and the CLI's call joins
 * them, so a worker's boot and the CLI's start-up overlap the hashing.
 *
 * The calling thread blocks its event loop for one chunk at a time (it yields
 * every YIELD_MS for signals and progress), so this is for a process with
 * nothing else on its loop. A daemon keeps using hashFiles with the HashPool.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { SHARE_ENV, Worker } from 'node:worker_threads';
import { StorageError } from '../errors.js';
import type { HashFileInput } from './hash-files.js';

export interface HashOnCoresOptions {
  /** Threads hashing, the calling one included (default: DEFAULT_THREADS()). */
  threads?: number;
  signal?: AbortSignal;
  /** Called now and then with the bytes hashed so far and the total. */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  /** Bytes per read and per unit of work; rounded down to whole pieces, at least one (default 4 MiB). */
  chunkBytes?: number;
}

/**
 * Large sequential reads, so a read call and a counter bump per chunk are
 * noise; the chunks shrink towards the end anyway (see hashChunks).
 */
const DEFAULT_CHUNK_BYTES = 4 * 1024 * 1024;
/**
 * One thread per core, the calling one included: it hashes between starting
 * the program and the workers. One more, as mktorrent -t <cores> has (its
 * reader beside a hasher per core), was ~2% slower on an idle machine (best of
 * 15: 376 ms against 369 ms for 1 GiB) and no better, by medians of 15 runs,
 * under a load of 20 to 40 on 2 cores, where every extra worker's boot costs.
 */
export const DEFAULT_THREADS = (): number => availableParallelism();
/** How long the calling thread hashes before it lets its event loop run (signals, progress bar). */
const YIELD_MS = 50;

/**
 * Slots of the shared control array, after NEXT_PIECE (0: the first piece no
 * thread has taken). hashChunks spells them as literals: it may name nothing
 * outside itself.
 */
const DONE_PIECES = 1;
const STOP = 2;
const CTL_SLOTS = 3;

/** What every hashing thread is given; structured-cloneable (the buffers are shared, not copied). */
interface ChunkJob {
  files: { absPath: string; length: number }[];
  pieceLength: number;
  /** Pieces per read while much is left; fewer towards the end. */
  piecesPerChunk: number;
  pieceCount: number;
  /** Hashing threads, to size the chunks towards the end. */
  threads: number;
  total: number;
  /** Int32 slots NEXT_PIECE, DONE_PIECES, STOP. */
  ctl: SharedArrayBuffer;
  /** 20 bytes per piece, written by whichever thread hashed it. */
  digests: SharedArrayBuffer;
}

/** One thread's read position: its open file and its chunk buffer. */
interface ChunkState {
  fd: number;
  file: number;
  buf: Uint8Array | null;
  starts: number[] | null;
}

interface ChunkIo {
  createHash: typeof createHash;
  openSync: typeof openSync;
  readSync: typeof readSync;
  fstatSync: typeof fstatSync;
  closeSync: typeof closeSync;
}

/**
 * Takes chunks off the shared counter and hashes them until none is left
 * (returns false) or `deadline` (performance.now()) passes (returns true).
 * A chunk is piecesPerChunk pieces while plenty are left, then shrinks with
 * what remains (guided self-scheduling) down to one piece, so no thread is
 * left hashing a large chunk while the others have nothing to do.
 *
 * This function is also the worker's code (via toString), so it is
 * self-contained: no imports, no outer names, no nested named functions.
 * A failure sets STOP, so the other threads give up too, and throws an Error
 * whose message is meant for the user.
 */
function hashChunks(job: ChunkJob, io: ChunkIo, state: ChunkState, deadline: number): boolean {
  const ctl = new Int32Array(job.ctl);
  const digests = new Uint8Array(job.digests);
  if (state.starts === null) {
    const starts: number[] = [];
    let at = 0;
    for (const f of job.files) {
      starts.push(at);
      at += f.length;
    }
    state.starts = starts;
  }
  if (state.buf === null) state.buf = new Uint8Array(Math.min(job.piecesPerChunk * job.pieceLength, job.total));
  const buf = state.buf;
  const starts = state.starts;
  try {
    for (;;) {
      if (Atomics.load(ctl, 2 /* STOP */) !== 0) return false;
      const left = job.pieceCount - Atomics.load(ctl, 0 /* NEXT_PIECE */);
      const want = Math.max(1, Math.min(job.piecesPerChunk, Math.floor(left / (2 * job.threads))));
      // Ranges from Atomics.add never overlap, whatever the other threads took since the load.
      const firstPiece = Atomics.add(ctl, 0 /* NEXT_PIECE */, want);
      if (firstPiece >= job.pieceCount) return false;
      const pos = firstPiece * job.pieceLength;
      const len = Math.min(want * job.pieceLength, job.total - pos);
      // The file holding `pos`: the last one starting at or before it with bytes left.
      let lo = 0;
      let hi = starts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (starts[mid]! <= pos) lo = mid;
        else hi = mid - 1;
      }
      let index = lo;
      let filled = 0;
      while (filled < len) {
        const file = job.files[index]!;
        const offset = pos + filled - starts[index]!;
        if (offset >= file.length) {
          index++;
          continue;
        }
        if (state.file !== index) {
          if (state.fd >= 0) io.closeSync(state.fd);
          state.fd = -1;
          state.file = -1;
          let fd: number;
          try {
            fd = io.openSync(file.absPath, 'r');
          } catch (err) {
            throw new Error(`cannot open ${file.absPath}: ${(err as Error).message}`);
          }
          state.fd = fd;
          state.file = index;
          const size = io.fstatSync(fd).size;
          if (size !== file.length) throw new Error(`${file.absPath} changed size since it was listed (${file.length} -> ${size} bytes)`);
        }
        const part = Math.min(len - filled, file.length - offset);
        let n: number;
        try {
          n = io.readSync(state.fd, buf, filled, part, offset);
        } catch (err) {
          throw new Error(`cannot read ${file.absPath}: ${(err as Error).message}`);
        }
        if (n === 0) throw new Error(`${file.absPath} shrank while it was being hashed (expected ${file.length} bytes)`);
        filled += n;
      }
      const count = Math.ceil(len / job.pieceLength);
      for (let i = 0; i < count; i++) {
        const start = i * job.pieceLength;
        const end = Math.min(start + job.pieceLength, len);
        digests.set(io.createHash('sha1').update(buf.subarray(start, end)).digest(), (firstPiece + i) * 20);
      }
      Atomics.add(ctl, 1 /* DONE_PIECES */, count);
      if (performance.now() >= deadline) return true;
    }
  } catch (err) {
    Atomics.store(ctl, 2 /* STOP */, 1);
    throw err;
  }
}

/**
 * The worker: runs hashChunks on the job it is posted, answers once, then
 * lets its port close so the thread ends. Plain JS evaluated in the thread,
 * so it runs alike from the bundle and from sources under tsx (whose loader a
 * worker does not inherit on Node 20). `__name` covers a transpiler that
 * keeps function names by wrapping them.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { openSync, readSync, fstatSync, closeSync } = require('node:fs');
var __name = (f) => f;
const hashChunks = ${hashChunks.toString()};
parentPort.once('message', (job) => {
  const state = { fd: -1, file: -1, buf: null, starts: null };
  let reply;
  try {
    hashChunks(job, { createHash, openSync, readSync, fstatSync, closeSync }, state, Infinity);
    reply = { ok: true };
  } catch (err) {
    reply = { ok: false, message: err instanceof Error ? err.message : String(err) };
  } finally {
    if (state.fd >= 0) closeSync(state.fd);
  }
  parentPort.postMessage(reply);
  parentPort.close();
});
`;

/** This thread's I/O and hashing for hashChunks. */
const CHUNK_IO: ChunkIo = { createHash, openSync, readSync, fstatSync, closeSync };

/** Workers started ahead of the job (see prestartHashThreads), taken by the next hashFilesOnCores. */
const warm: Worker[] = [];

/**
 * A job already running on helper threads before its caller asked for it
 * (startHashingAhead): the hashFilesOnCores call for the same files and piece
 * length joins it, any other call stops it.
 */
interface AheadJob {
  job: ChunkJob;
  workers: Worker[];
  /** Settled: undefined, or the error a worker failed with. */
  results: Promise<unknown>[];
  /** The calling thread's read position, when it hashes too (between turns of its event loop). */
  state?: ChunkState;
  /** Its next turn of hashing. */
  turn?: NodeJS.Immediate;
}
let ahead: AheadJob | undefined;

function spawnWorker(): Worker {
  // The worker prints nothing: not piping its stdio and sharing our env make the
  // constructor, which runs on the thread about to hash, about twice as cheap.
  const w = new Worker(WORKER_SOURCE, { eval: true, stdout: true, stderr: true, env: SHARE_ENV });
  // Until a job is posted, a waiting worker must not keep the process alive (a usage error exits at once).
  w.unref();
  return w;
}

/**
 * Starts the helper threads for `threads` hashing threads (the calling one
 * is not started) now, so they boot while the program parses its flags and
 * lists the files. Only the make-torrent bin calls this, first thing.
 */
export function prestartHashThreads(threads = DEFAULT_THREADS()): void {
  while (warm.length < threads - 1) warm.push(spawnWorker());
}

/** Drops prestarted workers and a job started ahead that no call took. Idempotent. */
export function stopPrestartedHashThreads(): void {
  for (const w of warm.splice(0)) void w.terminate();
  stopAhead();
}

function stopAhead(): void {
  if (ahead) stopJob(ahead);
  ahead = undefined;
}

function stopJob(a: AheadJob): void {
  Atomics.store(new Int32Array(a.job.ctl), STOP, 1);
  for (const w of a.workers) void w.terminate();
  if (a.turn) clearImmediate(a.turn);
  if (a.state && a.state.fd >= 0) closeSync(a.state.fd);
}

/** The job of hashFilesOnCores(files, pieceLength, opts), and how many helper threads it takes. */
function planJob(files: readonly HashFileInput[], pieceLength: number, opts: HashOnCoresOptions): { job: ChunkJob; helpers: number } {
  const total = files.reduce((s, f) => s + f.length, 0);
  const pieceCount = Math.ceil(total / pieceLength);
  const piecesPerChunk = Math.max(1, Math.floor((opts.chunkBytes ?? DEFAULT_CHUNK_BYTES) / pieceLength));
  const chunkCount = Math.ceil(pieceCount / piecesPerChunk);
  const threads = Math.max(1, opts.threads ?? DEFAULT_THREADS());
  const helpers = Math.max(0, Math.min(threads - 1, chunkCount - 1));
  const job: ChunkJob = {
    files: files.map((f) => ({ absPath: f.absPath, length: f.length })),
    pieceLength,
    piecesPerChunk,
    pieceCount,
    threads: helpers + 1,
    total,
    ctl: new SharedArrayBuffer(CTL_SLOTS * 4),
    digests: new SharedArrayBuffer(pieceCount * 20),
  };
  return { job, helpers };
}

/** Helper threads hashFilesOnCores(files, pieceLength, opts) would start: 0 when one thread does it all. */
export function helperThreadsFor(totalBytes: number, pieceLength: number, opts: Pick<HashOnCoresOptions, 'threads' | 'chunkBytes'> = {}): number {
  return planJob([{ absPath: '', length: totalBytes }], pieceLength, opts).helpers;
}

function sameWork(a: ChunkJob, b: ChunkJob): boolean {
  return a.pieceLength === b.pieceLength && a.piecesPerChunk === b.piecesPerChunk && a.threads === b.threads && a.files.length === b.files.length
    && a.files.every((f, i) => f.absPath === b.files[i]!.absPath && f.length === b.files[i]!.length);
}

/**
 * Starts hashing `files` on the helper threads only (the prestarted ones
 * first), before the caller is ready to: the make-torrent bin calls it as
 * soon as it has listed the files, while it still loads and runs its CLI.
 * The hashFilesOnCores call that follows with the same files, piece length
 * and options joins this job (the calling thread hashes beside the helpers
 * from then on); any other call, or stopPrestartedHashThreads, stops it.
 * Reads only: nothing is written, and a failure here is reported, if at all,
 * by the call that joins. A job needing no helper starts nothing.
 */
export function startHashingAhead(files: readonly HashFileInput[], pieceLength: number, opts: AheadOptions = {}): void {
  stopAhead();
  if (!Number.isSafeInteger(pieceLength) || pieceLength <= 0) return;
  const { job, helpers } = planJob(files, pieceLength, opts);
  if (job.total === 0 || helpers === 0) return;
  const workers = warm.splice(0, helpers);
  for (const w of warm.splice(0)) void w.terminate();
  while (workers.length < helpers) workers.push(spawnWorker());
  const a: AheadJob = { job, workers, results: settled(workers, job, false) };
  ahead = a;
  if (opts.thisThreadToo === true) {
    const state: ChunkState = { fd: -1, file: -1, buf: null, starts: null };
    a.state = state;
    const turn = (): void => {
      a.turn = undefined;
      let more = false;
      try {
        // One chunk (a deadline already past), then the loop runs whatever the caller has waiting.
        more = hashChunks(job, CHUNK_IO, state, 0);
      } catch {
        // STOP is set: the call that comes for this job starts afresh and meets the failure itself.
      }
      if (more) a.turn = setImmediate(turn);
    };
    a.turn = setImmediate(turn);
  }
}

export interface AheadOptions extends Pick<HashOnCoresOptions, 'threads' | 'chunkBytes'> {
  /**
   * The calling thread hashes too, one chunk per turn of its event loop, until
   * the hashFilesOnCores call joins (only for a process that is otherwise just
   * starting up: each turn blocks the loop for one chunk, a few ms).
   */
  thisThreadToo?: boolean;
}

/** True while a job started ahead runs, unfailed, waiting for its hashFilesOnCores call (tests check what was joined). */
export function isHashingAhead(): boolean {
  return ahead !== undefined && Atomics.load(new Int32Array(ahead.job.ctl), STOP) === 0;
}

/**
 * Runs `job` on each worker; each promise resolves with undefined, or with the
 * error (and STOP is set), so a failing worker never becomes an unhandled
 * rejection while this thread does something else.
 */
function settled(workers: Worker[], job: ChunkJob, ref: boolean): Promise<unknown>[] {
  const ctl = new Int32Array(job.ctl);
  return workers.map((w) => runWorker(w, job, ref).then(
    () => undefined,
    (err: unknown) => {
      Atomics.store(ctl, STOP, 1);
      return err;
    },
  ));
}

/** Runs `job` on a worker; resolves when it has hashed its last chunk. */
function runWorker(w: Worker, job: ChunkJob, ref: boolean): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onExit = (code: number): void => reject(new StorageError(`a hashing thread exited early (code ${code})`));
    w.once('message', (reply: { ok: boolean; message?: string }) => {
      w.off('exit', onExit);
      if (reply.ok) resolve();
      else reject(new StorageError(reply.message ?? 'a hashing thread failed'));
    });
    w.once('error', reject);
    w.once('exit', onExit);
    // A job started ahead keeps no process alive: its caller may yet fail on a usage error and exit.
    if (ref) w.ref();
    w.postMessage(job);
  });
}

/** Returns the concatenated 20-byte SHA-1 of every piece of the files' data (BEP 3: the files in order). */
export async function hashFilesOnCores(files: readonly HashFileInput[], pieceLength: number, opts: HashOnCoresOptions = {}): Promise<Uint8Array> {
  if (!Number.isSafeInteger(pieceLength) || pieceLength <= 0) throw new RangeError(`pieceLength must be a positive integer, got ${pieceLength}`);
  const { signal } = opts;
  signal?.throwIfAborted();
  const planned = planJob(files, pieceLength, opts);
  const { total } = planned.job;
  if (total === 0) return new Uint8Array(0);

  let job: ChunkJob;
  let workers: Worker[];
  let results: Promise<unknown>[];
  const joined = ahead;
  ahead = undefined;
  // STOP set: the job ahead failed or was stopped. Then it starts afresh, and a failure comes back the ordinary way.
  let state: ChunkState = { fd: -1, file: -1, buf: null, starts: null };
  if (joined && sameWork(joined.job, planned.job) && Atomics.load(new Int32Array(joined.job.ctl), STOP) === 0) {
    ({ job, workers, results } = joined);
    if (joined.turn) clearImmediate(joined.turn);
    if (joined.state) state = joined.state;
    for (const w of workers) w.ref();
    for (const w of warm.splice(0)) void w.terminate();
  } else {
    if (joined) stopJob(joined);
    job = planned.job;
    workers = warm.splice(0, planned.helpers);
    while (workers.length < planned.helpers) workers.push(spawnWorker());
    stopPrestartedHashThreads();
    results = settled(workers, job, true);
  }
  const ctl = new Int32Array(job.ctl);
  const io = CHUNK_IO;
  const progress = (): void => opts.onProgress?.(Math.min(total, Atomics.load(ctl, DONE_PIECES) * pieceLength), total);
  try {
    try {
      while (hashChunks(job, io, state, performance.now() + YIELD_MS)) {
        progress();
        await new Promise<void>((resolve) => setImmediate(resolve));
        if (signal?.aborted) Atomics.store(ctl, STOP, 1);
      }
    } catch (err) {
      throw new StorageError((err as Error).message, { cause: err });
    } finally {
      if (state.fd >= 0) closeSync(state.fd);
    }
    const failures = (await Promise.all(results)).filter((e) => e !== undefined);
    signal?.throwIfAborted();
    if (failures.length > 0) throw failures[0];
    progress();
    // Out of shared memory: callers keep an ordinary buffer.
    return new Uint8Array(job.digests).slice();
  } finally {
    Atomics.store(ctl, STOP, 1);
    for (const w of workers) void w.terminate();
  }
}
