/**
 * The plumbing under one `PeerConnection`: its transport, the reader (bytes
 * to the handshake and messages), the send queue, and the liveness checks a
 * BEP 3 connection needs whatever it says: the handshake deadline, the idle
 * timeout, keep-alives, and dropping a remote that reads nothing of what
 * waits for it or lets more than `maxUnsentBytesPerPeer` pile up.
 *
 * Whatever closes the link (a timeout, a malformed stream, a hostile
 * remote, the transport) is reported once through `close`, which the
 * connection answers by closing itself (and then this link).
 */
import { errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { DEFAULT_SETTINGS } from '../settings.js';
import type { Clock } from '../util/clock.js';
import type { Handshake } from '../wire/handshake.js';
import { encodeMessage, type PeerMessage } from '../wire/messages.js';
import { MessageReader } from './reader.js';
import { SendQueue } from './send-queue.js';
import type { Timers } from './timers.js';
import type { PeerTransport } from './transport.js';
import type { ConnectionSettings } from './connection-types.js';

/** How often the link checks its deadlines: their resolution, not a tunable. */
const TICK_MS = 1000;

export interface LinkOptions {
  clock: Clock;
  timers: Timers;
  log: Logger;
  maxFrameBytes: number;
  /** The handshake was read elsewhere (the listener): no deadline for it, messages come first. */
  handshakeRead: boolean;
  settings: ConnectionSettings;
}

export interface LinkHandlers {
  /** The remote's handshake; may throw to refuse it. */
  handshake(h: Handshake): void;
  /** One message of the remote; may throw (a ProtocolError) to refuse it. */
  message(msg: PeerMessage): void;
  /** Each tick, after the link's own checks, while open. */
  tick(now: number): void;
  /** The link failed; `protocolError` when the remote is to blame. */
  close(reason: string, protocolError: boolean): void;
}

export class PeerLink {
  readonly #transport: PeerTransport;
  readonly #o: LinkOptions;
  readonly #maxUnsentBytes: number;
  readonly #sendBufferBytes: number;
  readonly #sendStallTimeoutMs: number;
  readonly #on: LinkHandlers;
  readonly #reader: MessageReader;
  readonly #out: SendQueue;
  #lastReceived: number;
  #lastSent: number;
  #closed = false;
  #stopTick: (() => void) | undefined;
  #stopHandshakeTimer: (() => void) | undefined;

  constructor(transport: PeerTransport, opts: LinkOptions, handlers: LinkHandlers) {
    this.#transport = transport;
    this.#o = opts;
    this.#on = handlers;
    const s = opts.settings;
    this.#maxUnsentBytes = s.maxUnsentBytesPerPeer ?? DEFAULT_SETTINGS.maxUnsentBytesPerPeer;
    this.#sendBufferBytes = s.sendBufferBytesPerPeer ?? DEFAULT_SETTINGS.sendBufferBytesPerPeer;
    this.#sendStallTimeoutMs = s.sendStallTimeoutMs ?? DEFAULT_SETTINGS.sendStallTimeoutMs;
    this.#lastReceived = this.#lastSent = opts.clock();
    this.#out = new SendQueue(transport, this.#lastSent);
    this.#reader = new MessageReader(
      { maxFrameBytes: opts.maxFrameBytes, handshakeRead: opts.handshakeRead },
      {
        handshake: (h) => {
          this.#stopHandshakeTimer?.();
          handlers.handshake(h);
        },
        message: handlers.message,
        error: (err) => this.#protocolError(err),
      },
    );
  }

  /** Opens the transport and writes our handshake; the deadlines start. */
  start(handshake: Uint8Array): void {
    this.#transport.open({ data: (chunk) => this.receive(chunk), close: (reason) => this.#on.close(reason, false) });
    this.write(handshake);
    if (!this.#o.handshakeRead) {
      this.#stopHandshakeTimer = this.#o.timers.after(this.#o.settings.handshakeTimeoutMs, () => this.#on.close('handshake timeout', false));
    }
    if (!this.#closed) this.#stopTick = this.#o.timers.every(TICK_MS, () => this.#tick());
  }

  /** Bytes from the transport (or from the owner of a socket with external reads). */
  receive(chunk: Uint8Array): void {
    if (this.#closed) return;
    this.#lastReceived = this.#o.clock();
    this.#reader.push(chunk);
  }

  /** Bytes written that have not left for the kernel yet. */
  get unsentBytes(): number {
    return this.#out.unsentBytes;
  }

  /**
   * More than `sendBufferBytesPerPeer` wait: stop serving until 'drain'. The
   * stream's own mark (16 KiB, one block) would stall the upload after every
   * block and leave the link idle between them.
   */
  get congested(): boolean {
    return this.#out.unsentBytes > this.#sendBufferBytes;
  }

  send(msg: PeerMessage): void {
    this.write(encodeMessage(msg));
  }

  /** `bytes` is not copied: unchanged until `onWritten` (called once they left, or the link closed). */
  write(bytes: Uint8Array, onWritten?: () => void): void {
    if (this.#closed) return;
    this.#lastSent = this.#o.clock();
    this.#out.write(bytes, onWritten);
    const unsent = this.#out.unsentBytes;
    if (unsent > this.#maxUnsentBytes) {
      this.dropHostile(`does not read what we send: ${unsent} bytes wait for it (maxUnsentBytesPerPeer ${this.#maxUnsentBytes})`);
    }
  }

  onDrain(listener: () => void): void {
    this.#transport.onDrain(listener);
  }

  /** Closes for a remote that abuses us (not a malformed frame: a flood, or a peer that does not read), with one warn line. */
  dropHostile(why: string): void {
    if (this.#closed) return;
    this.#o.log.warn(`dropping ${this.#transport.remoteHost}:${this.#transport.remotePort}: it ${why}`);
    this.#on.close(`dropped: it ${why}`, true);
  }

  #protocolError(err: unknown): void {
    const reason = `protocol error: ${errorMessage(err)}`;
    this.#o.log.warn(reason);
    this.#on.close(reason, true);
  }

  #tick(): void {
    const now = this.#o.clock();
    if (now - this.#lastReceived > this.#o.settings.idleTimeoutMs) return this.#on.close('idle timeout', false);
    // A remote that reads nothing of what waits for it holds our memory: drop it after a while.
    const stalledMs = this.#out.stalledFor(now);
    if (stalledMs > this.#sendStallTimeoutMs) {
      return this.dropHostile(`has read nothing for ${Math.round(stalledMs / 1000)} s while ${this.#transport.writableLength} bytes wait for it`);
    }
    if (now - this.#lastSent > this.#o.settings.keepAliveIntervalMs) this.send({ type: 'keep-alive' });
    this.#on.tick(now);
  }

  /** Idempotent: stops the deadlines and reading, drops what waits, destroys the transport. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stopHandshakeTimer?.();
    this.#stopTick?.();
    this.#reader.stop();
    this.#out.close();
    this.#transport.destroy();
  }
}
