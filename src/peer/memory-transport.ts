/**
 * Two transports joined back to back in memory (bittorrent-protocol's tests
 * pipe a wire into itself the same way): what one end writes, the other
 * reads, in order and asynchronously, as over a socket. For unit tests of
 * `PeerConnection` and of anything above it that takes a transport.
 *
 * `pauseReading()` on an end makes it stop taking bytes, so what the other
 * end writes stays queued there: a remote that does not read.
 */
import type { PeerTransport, TransportHandlers } from './transport.js';

export interface MemoryTransport extends PeerTransport {
  /** Bytes stop being delivered to this end (they wait in the other end's queue). */
  pauseReading(): void;
  resumeReading(): void;
  readonly destroyed: boolean;
}

interface Pending {
  bytes: Uint8Array;
  onWritten: (() => void) | undefined;
}

class MemoryEnd implements MemoryTransport {
  peer!: MemoryEnd;
  #handlers: TransportHandlers | undefined;
  /** Bytes that arrived before `open`. */
  #inbox: Uint8Array[] = [];
  #queue: Pending[] = [];
  #queued = 0;
  #written = 0;
  #corked = 0;
  #paused = false;
  #flushScheduled = false;
  #destroyed = false;
  #needDrain = false;
  readonly #drainListeners: (() => void)[] = [];

  constructor(
    readonly remoteHost: string,
    readonly remotePort: number,
    /** Queued bytes past which a write asks for 'drain' (a socket's highWaterMark). */
    readonly highWaterMark: number,
  ) {}

  get destroyed(): boolean {
    return this.#destroyed;
  }

  get writableLength(): number {
    return this.#queued;
  }

  get bytesWritten(): number {
    return this.#written;
  }

  open(h: TransportHandlers): void {
    this.#handlers = h;
    const inbox = this.#inbox;
    this.#inbox = [];
    if (inbox.length) queueMicrotask(() => inbox.forEach((b) => this.#deliver(b)));
  }

  write(bytes: Uint8Array, onWritten?: () => void): void {
    if (this.#destroyed) {
      if (onWritten) queueMicrotask(onWritten);
      return;
    }
    // A socket takes the bytes later; a copy now stands for that (the caller may reuse its buffer after onWritten).
    this.#queue.push({ bytes: Uint8Array.from(bytes), onWritten });
    this.#queued += bytes.length;
    this.#written += bytes.length;
    if (this.#queued > this.highWaterMark) this.#needDrain = true;
    if (this.#corked === 0) this.#scheduleFlush();
  }

  cork(): void {
    this.#corked++;
  }

  uncork(): void {
    if (this.#corked > 0 && --this.#corked === 0) this.#scheduleFlush();
  }

  onDrain(listener: () => void): void {
    this.#drainListeners.push(listener);
  }

  pauseReading(): void {
    this.#paused = true;
  }

  resumeReading(): void {
    this.#paused = false;
    this.peer.#scheduleFlush();
  }

  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    const dropped = this.#queue;
    this.#queue = [];
    this.#queued = 0;
    queueMicrotask(() => {
      for (const p of dropped) p.onWritten?.();
      this.#handlers?.close('connection closed by remote');
      this.peer.destroy();
    });
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#corked > 0 || this.#destroyed) return;
    while (this.#queue.length && !this.peer.#paused && !this.peer.#destroyed) {
      const p = this.#queue.shift()!;
      this.#queued -= p.bytes.length;
      this.peer.#deliver(p.bytes);
      p.onWritten?.();
      if (this.#destroyed) return;
    }
    if (this.#queued === 0 && this.#needDrain) {
      this.#needDrain = false;
      for (const l of this.#drainListeners) l();
    }
  }

  #deliver(bytes: Uint8Array): void {
    if (this.#destroyed) return;
    if (this.#handlers) this.#handlers.data(bytes);
    else this.#inbox.push(bytes);
  }
}

/** Two joined ends: `a` (at 10.0.0.1:6881 as its peer sees it) and `b` (10.0.0.2:6882). */
export function memoryTransportPair(opts: { highWaterMark?: number } = {}): [MemoryTransport, MemoryTransport] {
  const hwm = opts.highWaterMark ?? 16 * 1024;
  // Each end's remote address is the other end's.
  const a = new MemoryEnd('10.0.0.2', 6882, hwm);
  const b = new MemoryEnd('10.0.0.1', 6881, hwm);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
