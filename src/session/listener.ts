/**
 * The one TCP listener of a session: reads each incoming handshake and
 * routes the connection to the torrent with that info-hash (unknown
 * info-hashes and non-BitTorrent traffic are closed at once).
 */
import net from 'node:net';
import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import { toHex } from '../util/bytes.js';
import { HandshakeReader, type Handshake } from '../wire/handshake.js';

export interface IncomingRoute {
  acceptIncoming(socket: net.Socket, handshake: Handshake, rest: Uint8Array): void;
}

export interface PeerListenerOptions {
  host: string;
  port: number;
  logger: Logger;
  handshakeTimeoutMs: number;
  /** Finds the torrent for an info-hash (hex), or undefined. */
  route(infoHashHex: string): IncomingRoute | undefined;
}

export class PeerListener {
  readonly #opts: PeerListenerOptions;
  readonly #server: net.Server;
  readonly #pending = new Set<net.Socket>();
  #port = 0;
  #started = false;

  constructor(opts: PeerListenerOptions) {
    this.#opts = opts;
    this.#server = net.createServer((socket) => this.#onConnection(socket));
  }

  get port(): number {
    return this.#port;
  }

  /** Idempotent; resolves with the bound port. */
  async start(): Promise<number> {
    if (this.#started) return this.#port;
    this.#started = true;
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen({ host: this.#opts.host, port: this.#opts.port }, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#port = (this.#server.address() as net.AddressInfo).port;
    return this.#port;
  }

  #onConnection(socket: net.Socket): void {
    const log = this.#opts.logger;
    const reader = new HandshakeReader();
    this.#pending.add(socket);
    const done = (): void => {
      clearTimeout(timer);
      this.#pending.delete(socket);
      socket.off('data', onData);
    };
    const timer = setTimeout(() => {
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
  }

  /** Idempotent. */
  async stop(): Promise<void> {
    if (!this.#started) return;
    this.#started = false;
    for (const s of this.#pending) s.destroy();
    this.#pending.clear();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
