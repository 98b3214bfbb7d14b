/**
 * What a `PeerConnection` needs of a byte stream (STYLE.md habit 17): the
 * connection speaks the protocol over any transport, a TCP socket here or an
 * in-memory pair in tests, so it can be unit-tested without sockets.
 *
 * The interface is a thin object over the socket: reads go straight to the
 * connection (from the shared receive buffer for dialed sockets), writes go
 * straight to the socket with its cork/uncork and writev batching, and
 * nothing is allocated per block.
 */
import { isWildcardHost, plainHost } from '../util/address.js';
import type { Socket } from 'node:net';
import { connectWithSharedBuffer } from './receive-buffer.js';

export interface TransportHandlers {
  /** Bytes from the remote. May be a view of a reused buffer: valid only during the call. */
  data(chunk: Uint8Array): void;
  /** The transport failed or the remote closed it (may be called more than once; the connection's close is idempotent). */
  close(reason: string): void;
}

export interface PeerTransport {
  readonly remoteHost: string;
  readonly remotePort: number;
  /** Starts delivering to `handlers`; called once. */
  open(handlers: TransportHandlers): void;
  /** Queues bytes (not copied: unchanged until `onWritten`, called once they left, or the transport closed). */
  write(bytes: Uint8Array, onWritten?: () => void): void;
  /** Writes after `cork()` leave together (one writev) at `uncork()`. */
  cork(): void;
  uncork(): void;
  /** Bytes queued that have not left for the kernel. */
  readonly writableLength: number;
  /** Bytes ever written, the queued ones included (Node's `socket.bytesWritten`). */
  readonly bytesWritten: number;
  /** `listener` runs each time the queue empties after it was over the stream's mark. */
  onDrain(listener: () => void): void;
  /** Idempotent; pending writes are dropped (their `onWritten` still runs). */
  destroy(): void;
}

/**
 * A connected TCP socket as a transport. `externalReads`: the socket was
 * opened with an `onread` buffer (see receive-buffer.ts) and emits no
 * 'data'; its owner passes each read to the connection itself.
 */
export function tcpTransport(socket: Socket, opts: { externalReads?: boolean } = {}): PeerTransport {
  return new TcpTransport(socket, opts.externalReads ? () => undefined : (h) => void socket.on('data', (chunk: Buffer) => h.data(chunk)));
}

class TcpTransport implements PeerTransport {
  readonly remoteHost: string;
  readonly remotePort: number;
  readonly #socket: Socket;
  readonly #startReads: (h: TransportHandlers) => void;
  #handlers: TransportHandlers | undefined;
  /** An error or close before `open`: reported at `open`. */
  #early: string | undefined;

  constructor(socket: Socket, startReads: (h: TransportHandlers) => void) {
    this.#socket = socket;
    this.#startReads = startReads;
    this.remoteHost = plainHost(socket.remoteAddress ?? '?');
    this.remotePort = socket.remotePort ?? 0;
    socket.on('error', (err) => this.#closed(`socket error: ${err.message}`));
    socket.on('close', () => this.#closed('connection closed by remote'));
  }

  #closed(reason: string): void {
    if (this.#handlers) this.#handlers.close(reason);
    else this.#early ??= reason;
  }

  open(h: TransportHandlers): void {
    this.#handlers = h;
    this.#socket.setNoDelay(true);
    this.#startReads(h);
    const early = this.#early;
    if (early !== undefined) process.nextTick(() => h.close(early));
  }

  write(bytes: Uint8Array, onWritten?: () => void): void {
    if (onWritten) this.#socket.write(bytes, () => onWritten());
    else this.#socket.write(bytes);
  }

  cork(): void {
    this.#socket.cork();
  }

  uncork(): void {
    this.#socket.uncork();
  }

  get writableLength(): number {
    return this.#socket.writableLength;
  }

  get bytesWritten(): number {
    return this.#socket.bytesWritten;
  }

  onDrain(listener: () => void): void {
    this.#socket.on('drain', listener);
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

export interface DialOptions {
  host: string;
  port: number;
  /** Address to send from (none, or 0.0.0.0: the system picks). */
  localAddress?: string;
  /** Gives up when the connection is not up after this long (settings.connectTimeoutMs). */
  timeoutMs: number;
  signal?: AbortSignal;
}

/**
 * Opens a TCP connection to a peer: a transport whose reads land in the
 * process's shared receive buffer (receive-buffer.ts) and go straight to the
 * connection. Rejects with the socket's error, `timeout`, or the signal's
 * reason; the socket is then destroyed.
 */
export function dialTcp(opts: DialOptions): Promise<PeerTransport> {
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) return reject(opts.signal.reason);
    const { socket, setSink } = connectWithSharedBuffer({
      host: opts.host,
      port: opts.port,
      ...(opts.localAddress && !isWildcardHost(opts.localAddress) ? { localAddress: opts.localAddress } : {}),
    });
    // Reads before the connection opens the transport (its owner may await in between) are copied out of the shared buffer.
    let early: Uint8Array[] = [];
    setSink((chunk) => early.push(Uint8Array.from(chunk)));
    const onAbort = (): void => fail(opts.signal!.reason);
    const fail = (err: unknown): void => {
      opts.signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      reject(err);
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    socket.setTimeout(opts.timeoutMs, () => fail(new Error('timeout')));
    socket.once('error', fail);
    socket.once('connect', () => {
      opts.signal?.removeEventListener('abort', onAbort);
      socket.setTimeout(0);
      socket.removeListener('error', fail);
      resolve(
        new TcpTransport(socket, (h) => {
          setSink(h.data);
          const pending = early;
          early = [];
          for (const chunk of pending) h.data(chunk);
        }),
      );
    });
  });
}
