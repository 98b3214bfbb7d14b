/**
 * The one TCP listener of a session: reads each incoming handshake and
 * routes the connection to the torrent with that info-hash (unknown
 * info-hashes and non-BitTorrent traffic are closed at once).
 *
 * Connections that have not sent their handshake yet cost a descriptor
 * each and nothing else tells them apart: they are bounded in number (the
 * oldest is closed for a newcomer: an honest peer sends its 68 bytes at
 * once), per address (more from one address are refused) and in time.
 */
import net from 'node:net';
import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import { toHex } from '../util/bytes.js';
import { WarnLimiter } from '../util/warn-limiter.js';
import { plainHost } from '../util/address.js';
import { HandshakeReader, type Handshake } from '../wire/handshake.js';

/** Errors of a `::` listen on a system without IPv6. */
const NO_IPV6 = new Set(['EAFNOSUPPORT', 'EADDRNOTAVAIL', 'EPROTONOSUPPORT', 'EINVAL']);

export interface IncomingRoute {
  acceptIncoming(socket: net.Socket, handshake: Handshake, rest: Uint8Array): void;
}

export interface PeerListenerOptions {
  host: string;
  port: number;
  logger: Logger;
  handshakeTimeoutMs: number;
  /** Connections waiting for their handshake, in all; past it the oldest is closed (default 50). */
  maxPending?: number;
  /** Connections waiting for their handshake from one address; more are refused (default 8). */
  maxPendingPerAddress?: number;
  /** Finds the torrent for an info-hash (hex), or undefined. */
  route(infoHashHex: string): IncomingRoute | undefined;
}

export class PeerListener {
  readonly #opts: PeerListenerOptions;
  readonly #server: net.Server;
  /** Sockets waiting for their handshake, oldest first, with the function that closes each. */
  readonly #pending = new Map<net.Socket, () => void>();
  readonly #pendingFrom = new Map<string, number>();
  /** When each kind of refusal was last logged (one warn line a minute each). */
  readonly #warnings: WarnLimiter;
  #port = 0;
  #started = false;

  constructor(opts: PeerListenerOptions) {
    this.#opts = opts;
    this.#warnings = new WarnLimiter((text) => opts.logger.warn(text));
    this.#server = net.createServer((socket) => this.#onConnection(socket));
  }

  get port(): number {
    return this.#port;
  }

  /** Idempotent; resolves with the bound port. */
  async start(): Promise<number> {
    if (this.#started) return this.#port;
    this.#started = true;
    try {
      await this.#listen(this.#opts.host);
    } catch (err) {
      // `::` is both stacks where the system has IPv6; where it has none, IPv4's wildcard.
      if (this.#opts.host !== '::' || !NO_IPV6.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
      this.#opts.logger.info(`no IPv6 here (${(err as NodeJS.ErrnoException).code}): listening on 0.0.0.0 only`);
      await this.#listen('0.0.0.0');
    }
    this.#port = (this.#server.address() as net.AddressInfo).port;
    return this.#port;
  }

  #listen(host: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      // `::` with ipv6Only false: one socket for both stacks (IPv4 peers show as ::ffff:a.b.c.d, see plainHost).
      this.#server.listen({ host, port: this.#opts.port, ipv6Only: false }, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
  }

  /** The address the listener is bound to (`::` or `0.0.0.0` for the wildcards). */
  get boundHost(): string {
    const a = this.#server.address();
    return a && typeof a === 'object' ? a.address : this.#opts.host;
  }

  #warnOnce(key: string, text: string): void {
    this.#warnings.warn(key, text);
  }

  #onConnection(socket: net.Socket): void {
    const log = this.#opts.logger;
    const host = plainHost(socket.remoteAddress ?? '?');
    const perAddress = this.#opts.maxPendingPerAddress ?? 8;
    const fromHost = this.#pendingFrom.get(host) ?? 0;
    if (fromHost >= perAddress) {
      this.#warnOnce(`from ${host}`, `refusing connections from ${host}: ${fromHost} of its connections have not sent a handshake yet (maxPendingHandshakesPerAddress)`);
      socket.on('error', () => undefined);
      socket.destroy();
      return;
    }
    const maxPending = this.#opts.maxPending ?? 50;
    if (this.#pending.size >= maxPending) {
      this.#warnOnce('full', `${this.#pending.size} connections are waiting for their handshake: closing the oldest for each new one (maxPendingHandshakes)`);
      const [, closeOldest] = this.#pending.entries().next().value!;
      closeOldest();
    }
    const reader = new HandshakeReader();
    let pending = true;
    const done = (): void => {
      clearTimeout(timer);
      socket.off('data', onData);
      if (!pending) return;
      pending = false;
      this.#pending.delete(socket);
      const n = (this.#pendingFrom.get(host) ?? 1) - 1;
      if (n > 0) this.#pendingFrom.set(host, n);
      else this.#pendingFrom.delete(host);
    };
    this.#pending.set(socket, () => {
      done();
      socket.destroy();
    });
    this.#pendingFrom.set(host, fromHost + 1);
    const timer = setTimeout(() => {
      log.debug(`closed a connection from ${host}: no handshake within ${this.#opts.handshakeTimeoutMs} ms`);
      done();
      socket.destroy();
    }, this.#opts.handshakeTimeoutMs);
    const onData = (chunk: Buffer): void => {
      let rest: Uint8Array | undefined;
      try {
        rest = reader.push(chunk);
      } catch (err) {
        log.debug(`refused a connection from ${socket.remoteAddress}: ${errorMessage(err)}`);
        done();
        socket.destroy();
        return;
      }
      if (reader.head && !this.#opts.route(toHex(reader.head.infoHash))) {
        log.debug(`refused a connection from ${socket.remoteAddress}: unknown info-hash`);
        done();
        socket.destroy();
        return;
      }
      if (!rest) return;
      done();
      const target = this.#opts.route(toHex(reader.handshake!.infoHash));
      if (!target) return void socket.destroy();
      target.acceptIncoming(socket, reader.handshake!, Uint8Array.from(rest));
    };
    socket.on('data', onData);
    socket.on('error', () => {
      done();
      socket.destroy();
    });
    // A peer that closes before its handshake frees its place at once.
    socket.once('close', () => done());
  }

  /** Idempotent. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    for (const close of [...this.#pending.values()]) close();
    this.#pending.clear();
    this.#pendingFrom.clear();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
