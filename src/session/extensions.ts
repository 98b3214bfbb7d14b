/**
 * The BEP 10 extension protocol of one torrent: our extension handshake,
 * the remote's (its ids, client name, request queue limit), and the
 * extensions we serve: ut_metadata (BEP 9) hands our info dict to peers
 * that came with a magnet link.
 *
 * Ids: we receive each extension under the id we announce in `m`; we send
 * it under the id the *remote* announced (PROTOCOL.md).
 */
import type { Logger } from '../log.js';
import type { Metainfo } from '../metainfo/types.js';
import type { PeerConnection } from '../peer/connection.js';
import {
  EXTENDED_HANDSHAKE_ID,
  UT_METADATA,
  decodeExtendedHandshake,
  encodeExtendedHandshake,
  extensionId,
  type ExtendedHandshake,
} from '../wire/extension.js';
import { METADATA_PIECE_BYTES, decodeMetadataMessage, encodeMetadataMessage, metadataPieceCount } from '../wire/ut-metadata.js';

/** The ids we receive extensions under (announced in our `m`). */
export const LOCAL_EXTENSION_IDS = { [UT_METADATA]: 1 } as const;

export interface ExtensionHubOptions {
  metainfo: Metainfo;
  logger: Logger;
  listenPort: number;
  clientVersion: string;
  maxRemoteRequests: number;
}

export class ExtensionHub {
  readonly #opts: ExtensionHubOptions;
  readonly #remote = new Map<number, ExtendedHandshake>();

  constructor(opts: ExtensionHubOptions) {
    this.#opts = opts;
  }

  sendHandshake(conn: PeerConnection): void {
    const ip = conn.remoteHost.split('.').map(Number);
    conn.extended(
      EXTENDED_HANDSHAKE_ID,
      encodeExtendedHandshake({
        m: { ...LOCAL_EXTENSION_IDS },
        p: this.#opts.listenPort > 0 ? this.#opts.listenPort : undefined,
        v: this.#opts.clientVersion,
        reqq: this.#opts.maxRemoteRequests,
        metadataSize: this.#opts.metainfo.infoBytes.length,
        ...(ip.length === 4 && ip.every((n) => n >= 0 && n <= 255) ? { yourip: Uint8Array.from(ip) } : {}),
      }),
    );
  }

  clientOf(connId: number): string | undefined {
    return this.#remote.get(connId)?.v;
  }

  forget(connId: number): void {
    this.#remote.delete(connId);
  }

  /** Throws ProtocolError on malformed payloads (the connection closes). */
  onMessage(conn: PeerConnection, id: number, payload: Uint8Array): void {
    if (id === EXTENDED_HANDSHAKE_ID) {
      const h = decodeExtendedHandshake(payload);
      this.#remote.set(conn.id, h);
      if (h.reqq !== undefined) conn.remoteQueueLimit = h.reqq;
      return;
    }
    if (id === LOCAL_EXTENSION_IDS[UT_METADATA]) return this.#onMetadata(conn, payload);
    // An id we never announced: ignore it, as BEP 10 allows extensions to be disabled.
  }

  #onMetadata(conn: PeerConnection, payload: Uint8Array): void {
    const msg = decodeMetadataMessage(payload);
    const remote = this.#remote.get(conn.id);
    const replyId = remote ? extensionId(remote, UT_METADATA) : undefined;
    if (replyId === undefined) return;
    if (msg.msgType !== 'request') return; // we hold the metadata; data and rejects are not for us
    const info = this.#opts.metainfo.infoBytes;
    if (msg.piece >= metadataPieceCount(info.length)) {
      conn.extended(replyId, encodeMetadataMessage({ msgType: 'reject', piece: msg.piece }));
      return;
    }
    const start = msg.piece * METADATA_PIECE_BYTES;
    conn.extended(
      replyId,
      encodeMetadataMessage({ msgType: 'data', piece: msg.piece, totalSize: info.length, data: info.subarray(start, start + METADATA_PIECE_BYTES) }),
    );
  }
}
