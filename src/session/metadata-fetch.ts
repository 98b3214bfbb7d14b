/**
 * Fetches a torrent's info dictionary from peers (BEP 9) for a magnet link.
 *
 * Each connection does the handshake with the extension bit, the BEP 10
 * handshake, then asks for every 16 KiB metadata piece. The assembled
 * bytes are accepted only when their SHA-1 equals the info-hash, so a peer
 * cannot feed us a different torrent; a peer whose pieces fail the check,
 * or that rejects, is dropped. Other peer wire messages are ignored here.
 */
import net from 'node:net';
import { ProtocolError, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { DEFAULT_SETTINGS } from '../settings.js';
import type { PeerAddress } from '../discovery/peer-source.js';
import { sha1 } from '../util/hash.js';
import { bytesEqual } from '../util/bytes.js';
import { HandshakeReader, encodeHandshake } from '../wire/handshake.js';
import { FrameDecoder, MAX_EXTENDED_FRAME_BYTES } from '../wire/framer.js';
import { decodeMessage, encodeMessage } from '../wire/messages.js';
import { EXTENDED_HANDSHAKE_ID, UT_METADATA, decodeExtendedHandshake, encodeExtendedHandshake, extensionId } from '../wire/extension.js';
import { shuffleInPlace } from '../util/shuffle.js';
import {
  MAX_METADATA_BYTES,
  decodeMetadataMessage,
  encodeMetadataMessage,
  metadataPieceCount,
} from '../wire/ut-metadata.js';

const LOCAL_UT_METADATA = 1;

export interface MetadataFetchOptions {
  infoHash: Uint8Array;
  peerId: Uint8Array;
  localAddress?: string;
  logger: Logger;
  connectTimeoutMs: number;
  /** A peer that has not delivered the metadata in this time is dropped (default: settings metadataPeerTimeoutMs). */
  peerTimeoutMs?: number;
  /** Connections tried at once (default: settings metadataFetchParallel). */
  parallel?: number;
  /** Peers remembered (default: settings metadataFetchMaxKnownPeers). */
  maxKnownPeers?: number;
  /** A failed peer announced again is tried again after this long (default: settings metadataRetryAfterMs). */
  retryAfterMs?: number;
  clientVersion: string;
}

interface KnownPeer extends PeerAddress {
  tried: boolean;
  /** A connection to it is open now. */
  active: boolean;
  /** When its last attempt ended (ms since the epoch), 0 before any. */
  endedAt: number;
}

export class MetadataFetcher {
  readonly #opts: MetadataFetchOptions;
  readonly #known = new Map<string, KnownPeer>();
  readonly #sockets = new Set<net.Socket>();
  #active = 0;
  #done = false;
  #resolve!: (info: Uint8Array) => void;
  #reject!: (err: Error) => void;
  readonly #result: Promise<Uint8Array>;

  constructor(opts: MetadataFetchOptions) {
    this.#opts = opts;
    this.#result = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#result.catch(() => {});
  }

  addPeers(peers: PeerAddress[]): void {
    const retryMs = this.#opts.retryAfterMs ?? DEFAULT_SETTINGS.metadataRetryAfterMs;
    const now = Date.now();
    for (const p of peers) {
      const k = `${p.host}:${p.port}`;
      const known = this.#known.get(k);
      if (known) {
        // Announced again after a failed try: it may serve the metadata now (it was fetching it too, or starting).
        if (known.tried && !known.active && now - known.endedAt >= retryMs) known.tried = false;
        continue;
      }
      if (this.#known.size < (this.#opts.maxKnownPeers ?? DEFAULT_SETTINGS.metadataFetchMaxKnownPeers)) this.#known.set(k, { host: p.host, port: p.port, tried: false, active: false, endedAt: 0 });
    }
    this.#connectMore();
  }

  /** Resolves with the verified info dictionary bytes. */
  fetch(signal?: AbortSignal): Promise<Uint8Array> {
    if (signal?.aborted) this.#finish(undefined, new Error('metadata fetch aborted'));
    signal?.addEventListener('abort', () => this.#finish(undefined, new Error('metadata fetch aborted')), { once: true });
    this.#connectMore();
    return this.#result;
  }

  /** Peers known and not yet tried or still connected. */
  get pendingPeers(): number {
    return this.#active + [...this.#known.values()].filter((p) => !p.tried).length;
  }

  stop(): void {
    this.#finish(undefined, new Error('metadata fetch stopped'));
  }

  #finish(info: Uint8Array | undefined, err?: Error): void {
    if (this.#done) return;
    this.#done = true;
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    if (info) this.#resolve(info);
    else this.#reject(err ?? new Error('metadata fetch failed'));
  }

  #connectMore(): void {
    if (this.#done) return;
    const untried = [...this.#known.values()].filter((p) => !p.tried);
    // In random order: a fetch started over (the daemon's restart) with the same peers heard in the same order
    // would try the same unhelpful ones first every time and never reach the rest.
    shuffleInPlace(untried);
    for (const p of untried) {
      if (this.#active >= (this.#opts.parallel ?? DEFAULT_SETTINGS.metadataFetchParallel)) return;
      if (p.tried) continue;
      p.tried = true;
      p.active = true;
      this.#active++;
      this.#try(p);
    }
  }

  #try(peer: KnownPeer): void {
    const o = this.#opts;
    const log = o.logger;
    const local = o.localAddress;
    const socket = net.connect({ host: peer.host, port: peer.port, ...(local && local !== '0.0.0.0' ? { localAddress: local } : {}) });
    this.#sockets.add(socket);
    const reader = new HandshakeReader();
    const decoder = new FrameDecoder({ maxFrameBytes: MAX_EXTENDED_FRAME_BYTES });
    let remoteId: number | undefined;
    let size = 0;
    let pieces: (Uint8Array | undefined)[] = [];
    let ended = false;
    const end = (why: string): void => {
      if (ended) return;
      ended = true;
      clearTimeout(timer);
      this.#sockets.delete(socket);
      socket.destroy();
      this.#active--;
      peer.active = false;
      peer.endedAt = Date.now();
      if (!this.#done) log.debug(`metadata from ${peer.host}:${peer.port}: ${why}`);
      this.#connectMore();
    };
    const timer = setTimeout(() => end('timed out'), o.peerTimeoutMs ?? DEFAULT_SETTINGS.metadataPeerTimeoutMs);
    socket.setTimeout(o.connectTimeoutMs, () => end('connect timeout'));
    socket.on('error', (err) => end(err.message));
    socket.on('close', () => end('closed'));
    socket.on('connect', () => {
      // A peer that takes the connection but never answers the handshake (its slots full, or not serving this
      // torrent yet) is let go as soon as one that never connected, not after the whole metadata timeout.
      socket.setTimeout(o.connectTimeoutMs, () => end('no handshake'));
      socket.write(encodeHandshake({ infoHash: o.infoHash, peerId: o.peerId, extensionProtocol: true }));
    });
    const onExtended = (id: number, payload: Uint8Array): void => {
      if (id === EXTENDED_HANDSHAKE_ID) {
        const h = decodeExtendedHandshake(payload);
        remoteId = extensionId(h, UT_METADATA);
        if (remoteId === undefined) throw new ProtocolError('peer does not offer ut_metadata');
        if (!h.metadataSize || h.metadataSize > MAX_METADATA_BYTES) throw new ProtocolError('peer gave no usable metadata_size');
        size = h.metadataSize;
        pieces = new Array(metadataPieceCount(size)).fill(undefined);
        for (let i = 0; i < pieces.length; i++) {
          socket.write(encodeMessage({ type: 'extended', id: remoteId, payload: encodeMetadataMessage({ msgType: 'request', piece: i }) }));
        }
        return;
      }
      if (id !== LOCAL_UT_METADATA || remoteId === undefined) return;
      const msg = decodeMetadataMessage(payload);
      if (msg.msgType === 'reject') throw new ProtocolError(`peer rejected metadata piece ${msg.piece}`);
      if (msg.msgType !== 'data') return;
      if (msg.totalSize !== size || msg.piece >= pieces.length) throw new ProtocolError('metadata piece does not match the announced size');
      pieces[msg.piece] = Uint8Array.from(msg.data);
      if (pieces.some((p) => p === undefined)) return;
      const info = new Uint8Array(Buffer.concat(pieces as Uint8Array[]));
      if (!bytesEqual(sha1(info), o.infoHash)) throw new ProtocolError('metadata does not hash to the info-hash');
      log.info(`metadata (${info.length} bytes) received from ${peer.host}:${peer.port}`);
      this.#finish(info);
      end('done');
    };
    socket.on('data', (chunk: Buffer) => {
      try {
        let rest: Uint8Array = chunk;
        if (!reader.done) {
          const r = reader.push(chunk);
          if (!r) return;
          const h = reader.handshake!;
          socket.setTimeout(0);
          if (!bytesEqual(h.infoHash, o.infoHash)) throw new ProtocolError('handshake is for another torrent');
          if (!h.extensionProtocol) throw new ProtocolError('peer does not support the extension protocol (BEP 10)');
          socket.write(
            encodeMessage({
              type: 'extended',
              id: EXTENDED_HANDSHAKE_ID,
              payload: encodeExtendedHandshake({ m: { [UT_METADATA]: LOCAL_UT_METADATA }, v: o.clientVersion }),
            }),
          );
          rest = r;
        }
        for (const frame of decoder.push(rest)) {
          const msg = decodeMessage(frame);
          if (msg.type === 'extended') onExtended(msg.id, msg.payload);
        }
      } catch (err) {
        log.warn(`metadata from ${peer.host}:${peer.port} refused: ${errorMessage(err)}`);
        end(errorMessage(err));
      }
    });
  }
}
