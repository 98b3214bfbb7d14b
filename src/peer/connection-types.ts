/**
 * What a `PeerConnection` is given and what it reports: its settings, its
 * collaborators, and its typed events (the torrent listens and decides).
 */
import type { Socket } from 'node:net';
import type { Logger } from '../log.js';
import type { Bitfield } from '../util/bitfield.js';
import type { Clock } from '../util/clock.js';
import type { Handshake } from '../wire/handshake.js';
import type { BlockRequest } from '../wire/messages.js';
import type { TorrentShape } from '../wire/validate.js';
import type { Timers } from './timers.js';
import type { PeerTransport } from './transport.js';

/** The keys of DEFAULT_SETTINGS a connection reads. */
export interface ConnectionSettings {
  handshakeTimeoutMs: number;
  idleTimeoutMs: number;
  keepAliveIntervalMs: number;
  requestTimeoutMs: number;
  maxRequestBytes: number;
  maxRemoteRequests: number;
  /** Defaults to DEFAULT_SETTINGS' value when absent (as the ones below). */
  maxUnsentBytesPerPeer?: number;
  maxRemoteCancelsPerMinute?: number;
  sendStallTimeoutMs?: number;
  sendBufferBytesPerPeer?: number;
  maxLateRequestsPerPeer?: number;
  maxFastSetPiecesPerPeer?: number;
}

export interface PeerConnectionEvents {
  /** The remote's handshake arrived and matched our torrent. */
  'peer:handshake': Handshake;
  /** The remote's piece set (bitfield, or BEP 6 have_all / have_none). */
  'peer:bitfield': Bitfield;
  'peer:have': number;
  /** Requests the choke dropped (none with the fast extension: the remote rejects what it will not serve). */
  'peer:choke': BlockRequest[];
  /** BEP 6: the remote will not serve this request of ours; it is forgotten here. */
  'peer:reject': BlockRequest;
  /** BEP 6: this piece may be requested from the remote while it chokes us. */
  'peer:allowed-fast': number;
  /** BEP 6: the remote suggests this piece. */
  'peer:suggest': number;
  'peer:unchoke': undefined;
  'peer:interested': undefined;
  'peer:not-interested': undefined;
  /** A block we asked for. `block` is only valid during the callback (copy it). */
  'peer:piece': { index: number; begin: number; block: Uint8Array };
  /** The remote asked for a block while unchoked; call `serve` to answer it. */
  'peer:request': BlockRequest;
  'peer:cancel': BlockRequest;
  'peer:port': number;
  'peer:extended': { id: number; payload: Uint8Array };
  /** Requests that timed out; they are forgotten here and should be re-issued elsewhere. */
  'peer:timeout': BlockRequest[];
  /** Closed for any reason; `requests` were outstanding and are released. */
  'peer:close': { reason: string; requests: BlockRequest[]; protocolError: boolean };
}

export interface PeerConnectionOptions {
  /** Caller-chosen id, unique in the process (the picker and choker key on it). */
  id: number;
  /** The byte stream to the remote (`tcpTransport`, `dialTcp`, or `memoryTransportPair` in tests). */
  transport?: PeerTransport;
  /** Or a connected socket, wrapped in a `tcpTransport` (with `externalReads`). */
  socket?: Socket;
  outgoing: boolean;
  infoHash: Uint8Array;
  peerId: Uint8Array;
  shape: TorrentShape;
  settings: ConnectionSettings;
  logger: Logger;
  /** Reserved bits we announce. */
  extensionProtocol?: boolean;
  dht?: boolean;
  /** BEP 6 fast extension (default on); in force when the remote sets it too. */
  fast?: boolean;
  /** For incoming connections: the handshake the listener read, and any bytes after it. */
  remoteHandshake?: Handshake;
  initialBytes?: Uint8Array;
  /**
   * The socket was opened with an `onread` buffer (see `receiveBuffer`): it
   * emits no 'data', and its owner passes each read to `receive()`.
   */
  externalReads?: boolean;
  /** Time and deadlines (default: the system's); tests pass a manual clock. */
  clock?: Clock;
  timers?: Timers;
}

