/**
 * The write side of a connection: small messages written in the same tick
 * (a HAVE per verified piece, choke changes, answers to a flood of requests)
 * leave as one buffer, and everything written in a tick leaves in one
 * writev (the transport is corked on the first write and uncorked on the
 * next tick). Also watches whether the remote takes what waits for it.
 */
import type { PeerTransport } from './transport.js';

/**
 * Messages this small (every message but blocks, bitfields of big torrents
 * and request batches) are gathered and written once per tick as one
 * buffer: a flood of messages that each call for an answer (a reject, a
 * choke) then costs its bytes, not a socket write request per message. Not a
 * setting: it trades nothing a user would tune.
 */
const SMALL_MESSAGE_BYTES = 256;

export class SendQueue {
  readonly #transport: PeerTransport;
  #corked = false;
  /** Small messages written this tick, sent as one buffer on the next. */
  #small: Uint8Array[] = [];
  #smallBytes = 0;
  #flushScheduled = false;
  #closed = false;
  /** Bytes handed to the kernel at the last check, and when that last grew while bytes waited. */
  #dispatched = 0;
  #lastProgress: number;

  constructor(transport: PeerTransport, now: number) {
    this.#transport = transport;
    this.#lastProgress = now;
  }

  /** Bytes written that have not left for the kernel yet. */
  get unsentBytes(): number {
    return this.#transport.writableLength + this.#smallBytes;
  }

  /** `onWritten`, when given, is called once the bytes left (or the transport closed); such a write is never gathered. */
  write(bytes: Uint8Array, onWritten?: () => void): void {
    if (this.#closed) return;
    this.#scheduleFlush();
    if (!onWritten && bytes.length <= SMALL_MESSAGE_BYTES) {
      this.#small.push(bytes);
      this.#smallBytes += bytes.length;
    } else {
      this.#flushSmall();
      if (!this.#corked) {
        this.#corked = true;
        this.#transport.cork();
      }
      this.#transport.write(bytes, onWritten);
    }
  }

  /**
   * How long the transport has taken nothing of what waits in it (0 when
   * nothing waits or bytes left since the last call); called on each tick.
   */
  stalledFor(now: number): number {
    const t = this.#transport;
    const waiting = t.writableLength;
    const dispatched = t.bytesWritten - waiting;
    if (waiting === 0 || dispatched !== this.#dispatched) this.#lastProgress = now;
    this.#dispatched = dispatched;
    return now - this.#lastProgress;
  }

  /** Drops what was gathered and writes nothing more. */
  close(): void {
    this.#closed = true;
    this.#small = [];
    this.#smallBytes = 0;
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    process.nextTick(() => {
      this.#flushScheduled = false;
      if (this.#closed) return;
      this.#flushSmall();
      if (this.#corked) {
        this.#corked = false;
        this.#transport.uncork();
      }
    });
  }

  #flushSmall(): void {
    if (this.#small.length === 0) return;
    const out = this.#small.length === 1 ? this.#small[0]! : Buffer.concat(this.#small, this.#smallBytes);
    this.#small = [];
    this.#smallBytes = 0;
    this.#transport.write(out);
  }
}
