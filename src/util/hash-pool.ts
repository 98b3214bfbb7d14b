/**
 * A pool of worker threads that SHA-1 pieces off the event loop, so hashing
 * a torrent uses every core and verifying a piece never stalls the wire.
 *
 * `hashPieces(buf, pieceLength)` transfers `buf`'s memory to a worker (the
 * caller's view becomes detached) and resolves with the digests and a fresh
 * view on the same memory, so read buffers can be recycled without copies.
 */
import { Worker } from 'node:worker_threads';
import { availableParallelism } from 'node:os';

interface Pending {
  resolve: (r: HashResult) => void;
  reject: (e: Error) => void;
}

export interface HashResult {
  /** Concatenated 20-byte SHA-1 digests, one per piece in the buffer. */
  digests: Uint8Array;
  /** The hashed bytes, handed back (same memory, new view). */
  buf: Uint8Array;
}

interface HashJob {
  id: number;
  buf: ArrayBuffer | SharedArrayBuffer;
  byteOffset: number;
  byteLength: number;
  pieceLength: number;
  /** The buffer is a SharedArrayBuffer: the worker reads it in place and nothing is transferred. */
  shared: boolean;
}

/**
 * The worker's code, evaluated in the thread. Kept inline (plain JS) so the
 * same pool runs from the compiled dist/ and from sources under tsx, whose
 * loader a worker thread does not inherit on Node 20.
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
parentPort.on('message', (job) => {
  const data = new Uint8Array(job.buf, job.byteOffset, job.byteLength);
  const count = Math.ceil(job.byteLength / job.pieceLength);
  const out = new Uint8Array(count * 20);
  for (let i = 0; i < count; i++) {
    const start = i * job.pieceLength;
    const end = Math.min(start + job.pieceLength, job.byteLength);
    out.set(createHash('sha1').update(data.subarray(start, end)).digest(), i * 20);
  }
  if (job.shared) parentPort.postMessage({ id: job.id, digests: out, buf: null }, [out.buffer]);
  else parentPort.postMessage({ id: job.id, digests: out, buf: job.buf }, [job.buf, out.buffer]);
});
`;

/** Idle time after which the worker threads are ended (they come back on demand). */
const IDLE_WORKER_MS = 5_000;

export class HashPool {
  readonly threads: number;
  readonly #workers: Worker[] = [];
  readonly #load: number[] = [];
  readonly #pending = new Map<number, Pending & { worker: number }>();
  #nextId = 1;
  #closed = false;
  #idleTimer: NodeJS.Timeout | undefined;

  readonly #idleMs: number;

  constructor(opts: { threads?: number; idleMs?: number } = {}) {
    this.threads = Math.max(1, opts.threads ?? availableParallelism());
    this.#idleMs = opts.idleMs ?? IDLE_WORKER_MS;
  }

  /** Worker threads alive now (0 before the first job and after an idle period). */
  get workerCount(): number {
    return this.#workers.length;
  }

  #spawn(): void {
    for (let i = 0; i < this.threads; i++) {
      const w = new Worker(WORKER_SOURCE, { eval: true });
      w.unref();
      w.on('message', (msg: { id: number; digests: Uint8Array; buf: ArrayBuffer | null }) => {
        const p = this.#pending.get(msg.id);
        if (!p) return;
        this.#pending.delete(msg.id);
        this.#load[p.worker]!--;
        p.resolve({ digests: new Uint8Array(msg.digests), buf: msg.buf ? new Uint8Array(msg.buf) : new Uint8Array(0) });
        if (this.#pending.size === 0) this.#armIdle();
      });
      w.on('error', (err) => this.#failAll(err));
      this.#workers.push(w);
      this.#load.push(0);
    }
  }

  /**
   * Workers idle for a while are ended (a seeder hashes only at start-up;
   * each thread holds megabytes of RSS) and spawned again on the next job.
   */
  #armIdle(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      if (this.#pending.size > 0 || this.#closed) return;
      const idle = this.#workers.splice(0);
      this.#load.length = 0;
      for (const w of idle) void w.terminate();
    }, this.#idleMs);
    this.#idleTimer.unref();
  }

  #failAll(err: Error): void {
    for (const p of this.#pending.values()) p.reject(err);
    this.#pending.clear();
  }

  /** Number of jobs not yet answered. */
  get pending(): number {
    return this.#pending.size;
  }

  /**
   * Hashes consecutive `pieceLength` slices of `data` (the last may be short).
   * `data` must own its whole ArrayBuffer when `transfer` is true (the default);
   * pass `transfer: false` to copy instead. A view on a SharedArrayBuffer is
   * read in place by the worker (no copy, no transfer: the cheapest path) and
   * comes back as the same view; the caller must not change it meanwhile.
   */
  hashPieces(data: Uint8Array, pieceLength: number, opts: { transfer?: boolean } = {}): Promise<HashResult> {
    if (this.#closed) return Promise.reject(new Error('HashPool is closed'));
    clearTimeout(this.#idleTimer);
    if (this.#workers.length === 0) this.#spawn();
    if (data.buffer instanceof SharedArrayBuffer) return this.#post(data.buffer, data.byteOffset, data.byteLength, pieceLength, true, data);
    let buf = data.buffer as ArrayBuffer;
    let byteOffset = data.byteOffset;
    if (opts.transfer === false || data.byteLength !== buf.byteLength) {
      const copy = new Uint8Array(data.byteLength);
      copy.set(data);
      buf = copy.buffer;
      byteOffset = 0;
    }
    return this.#post(buf, byteOffset, data.byteLength, pieceLength, false);
  }

  #post(buf: ArrayBuffer | SharedArrayBuffer, byteOffset: number, byteLength: number, pieceLength: number, shared: boolean, view?: Uint8Array): Promise<HashResult> {
    let worker = 0;
    for (let i = 1; i < this.#workers.length; i++) if (this.#load[i]! < this.#load[worker]!) worker = i;
    const id = this.#nextId++;
    return new Promise<HashResult>((resolve, reject) => {
      // A shared buffer comes back as the caller's own view; a transferred one as a fresh view.
      const done = shared ? (r: HashResult): void => resolve({ digests: r.digests, buf: view! }) : resolve;
      this.#pending.set(id, { resolve: done, reject, worker });
      this.#load[worker]!++;
      const job: HashJob = { id, buf, byteOffset, byteLength, pieceLength, shared };
      this.#workers[worker]!.postMessage(job, shared ? [] : [buf as ArrayBuffer]);
    });
  }

  /** SHA-1 of one buffer (copied, so the caller keeps it). */
  async sha1(data: Uint8Array): Promise<Uint8Array> {
    const r = await this.hashPieces(data, Math.max(1, data.byteLength), { transfer: false });
    return r.digests.subarray(0, 20);
  }

  /** Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    this.#failAll(new Error('HashPool closed'));
    await Promise.all(this.#workers.map((w) => w.terminate()));
    this.#workers.length = 0;
  }
}
