/**
 * The BEP 10 extension protocol of one torrent: our extension handshake,
 * the remote's (its ids, client name, request queue limit), and the
 * extensions we serve: ut_metadata (BEP 9) hands our info dict to peers
 * that came with a magnet link; ut_pex (BEP 11) tells each peer, at most
 * once a minute (pexIntervalMs), which peers joined and left our swarm (never for private
 * torrents, BEP 27).
 *
 * Ids: we receive each extension under the id we announce in `m`; we send
 * it under the id the *remote* announced (PROTOCOL.md).
 */
import type { Logger } from '../log.js';
import { DEFAULT_SETTINGS } from '../settings.js';
import { systemClock, type Clock } from '../util/clock.js';
import { decode, encode, isBytes, isDict } from '../bencode/index.js';
import { ProtocolError } from '../errors.js';
import { utf8OrUndefined } from '../util/bytes.js';
import type { Metainfo } from '../metainfo/types.js';
import type { PeerConnection } from '../peer/connection.js';
import type { PeerAddress } from '../discovery/peer-source.js';
import { decodePex, encodePex, PexFlags } from '../wire/ut-pex.js';
import {
  EXTENDED_HANDSHAKE_ID,
  UT_METADATA,
  UT_PEX,
  decodeExtendedHandshake,
  encodeExtendedHandshake,
  extensionId,
  type ExtendedHandshake,
} from '../wire/extension.js';
import { METADATA_PIECE_BYTES, decodeMetadataMessage, encodeMetadataMessage, metadataPieceCount } from '../wire/ut-metadata.js';

/** The ids we receive extensions under (announced in our `m`). */
/** Our own extension: short text messages between peers (the daemon's /api/messages). */
export const SWARM_MSG = 'swarm_msg';
export const LOCAL_EXTENSION_IDS = { [UT_METADATA]: 1, [UT_PEX]: 2, [SWARM_MSG]: 3 } as const;
/** Longest text accepted in one swarm_msg, in UTF-8 bytes. */
export const MAX_MESSAGE_BYTES = 1024;
/** BEP 11: at most 50 added and 50 dropped per message. */
const PEX_MAX_PER_MESSAGE = 50;

export interface ExtensionHubOptions {
  metainfo: Metainfo;
  logger: Logger;
  listenPort: number;
  clientVersion: string;
  maxRemoteRequests: number;
  /** Bounds on what one peer may make us send or take (settings of the same names); defaults when absent. */
  limits?: Partial<ExtensionLimits>;
  /** Time (default: the system clock). */
  clock?: Clock;
  /** Peers learned through PEX. */
  onPexPeers?: (peers: PeerAddress[]) => void;
  /** The remote's extension handshake arrived (its extension ids are known from now on). */
  onRemoteHandshake?: (conn: PeerConnection) => void;
  /** A swarm_msg text arrived from a peer: `from` is its listen address if known, else its connection's. */
  onText?: (from: string, text: string) => void;
}

export interface ExtensionLimits {
  /** ut_metadata pieces sent to one peer per minute: at least this, or twice the metadata's pieces. */
  metadataRepliesPerPeerPerMinute: number;
  /** ut_metadata pieces to one peer not yet handed to the kernel. */
  metadataRepliesInFlight: number;
  /** PEX messages taken from one peer per minute. */
  pexMessagesPerPeerPerMinute: number;
  /** BEP 11: PEX messages sent to one peer at most this often. */
  pexIntervalMs: number;
  /** swarm_msg texts taken from, and sent to, one peer per minute. */
  messagesPerPeerPerMinute: number;
}

const DEFAULT_LIMITS: ExtensionLimits = {
  metadataRepliesPerPeerPerMinute: DEFAULT_SETTINGS.metadataRepliesPerPeerPerMinute,
  metadataRepliesInFlight: DEFAULT_SETTINGS.metadataRepliesInFlight,
  pexMessagesPerPeerPerMinute: DEFAULT_SETTINGS.pexMessagesPerPeerPerMinute,
  pexIntervalMs: DEFAULT_SETTINGS.pexIntervalMs,
  messagesPerPeerPerMinute: DEFAULT_SETTINGS.messagesPerPeerPerMinute,
};

/**
 * What one peer asked of us through ut_metadata in the current minute, and
 * the replies still in its socket. A reply is 16 KiB for a 31-byte request:
 * unbounded, a peer that asks and never reads fills our memory.
 */
interface MetadataState {
  windowStart: number;
  requests: number;
  replies: number;
  inFlight: number;
  /** Pieces asked for and not sent yet (each once). */
  queued: Set<number>;
}

/** What we last told one peer through PEX, to send only the changes. */
interface PexState {
  sent: Set<string>;
  lastSentAt: number;
}

export class ExtensionHub {
  readonly #opts: ExtensionHubOptions;
  readonly #remote = new Map<number, ExtendedHandshake>();
  readonly #pex = new Map<number, PexState>();
  /** Arrival times of recent messages per connection (rate limit, both directions). */
  readonly #textTimes = new Map<string, number[]>();
  readonly #metadata = new Map<number, MetadataState>();
  /** PEX messages taken per connection in the current minute. */
  readonly #pexIn = new Map<number, { windowStart: number; count: number }>();
  readonly #limits: ExtensionLimits;
  readonly #now: Clock;
  /** Connections we already warned about (one line per peer and kind). */
  readonly #warned = new Set<string>();

  constructor(opts: ExtensionHubOptions) {
    this.#opts = opts;
    this.#limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.#now = opts.clock ?? systemClock;
  }

  #warnOnce(conn: PeerConnection, kind: string, text: string): void {
    const k = `${conn.id}:${kind}`;
    if (this.#warned.has(k)) return;
    this.#warned.add(k);
    this.#opts.logger.warn(text);
  }

  get #pexEnabled(): boolean {
    return !this.#opts.metainfo.info.private;
  }

  sendHandshake(conn: PeerConnection): void {
    const m: Record<string, number> = { ...LOCAL_EXTENSION_IDS };
    if (!this.#pexEnabled) delete m[UT_PEX];
    const ip = conn.remoteHost.split('.').map(Number);
    conn.extended(
      EXTENDED_HANDSHAKE_ID,
      encodeExtendedHandshake({
        m,
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
    this.#pex.delete(connId);
    this.#textTimes.delete(`in:${connId}`);
    this.#textTimes.delete(`out:${connId}`);
    this.#metadata.delete(connId);
    this.#pexIn.delete(connId);
    for (const kind of ['text', 'pex', 'metadata']) this.#warned.delete(`${connId}:${kind}`);
  }

  /** True when the peer announced swarm_msg. */
  canText(conn: PeerConnection): boolean {
    const remote = this.#remote.get(conn.id);
    return remote !== undefined && extensionId(remote, SWARM_MSG) !== undefined;
  }

  #allow(key: string, now: number): boolean {
    const times = (this.#textTimes.get(key) ?? []).filter((t) => now - t < 60_000);
    if (times.length >= this.#limits.messagesPerPeerPerMinute) return false;
    times.push(now);
    this.#textTimes.set(key, times);
    return true;
  }

  /** Sends a text (at most 1 KiB) if the peer speaks swarm_msg and the rate allows; returns whether it went. */
  sendText(conn: PeerConnection, text: string, now = this.#now()): boolean {
    const bytes = Buffer.from(text, 'utf8');
    if (bytes.length > MAX_MESSAGE_BYTES) throw new RangeError(`a message is at most ${MAX_MESSAGE_BYTES} bytes of UTF-8, got ${bytes.length}`);
    const remote = this.#remote.get(conn.id);
    const id = remote ? extensionId(remote, SWARM_MSG) : undefined;
    if (id === undefined || conn.closed || !this.#allow(`out:${conn.id}`, now)) return false;
    conn.extended(id, encode({ text: bytes }));
    return true;
  }

  /**
   * Sends a text to connected peers speaking swarm_msg: `to` is a peer's
   * address (its connection's, or its listen address) or 'all'; peers whose
   * listen address (else connection address) is in `skip` are left out.
   * Returns the addresses it went to.
   */
  sendMessage(conns: Iterable<PeerConnection>, to: string, text: string, skip: ReadonlySet<string>): string[] {
    const sent: string[] = [];
    for (const c of conns) {
      if (!c.handshaken) continue;
      const listen = this.listenAddressOf(c);
      const names = [c.address, ...(listen ? [`${listen.host}:${listen.port}`] : [])];
      if (to !== 'all' && !names.includes(to)) continue;
      const key = names[names.length - 1]!;
      if (skip.has(key)) continue;
      if (this.sendText(c, text)) sent.push(key);
    }
    return sent;
  }

  /**
   * Where a connected peer accepts connections: the address we dialled, or
   * for an incoming connection its address with the port from its BEP 10 `p`.
   */
  listenAddressOf(conn: PeerConnection): PeerAddress | undefined {
    if (conn.outgoing) return { host: conn.remoteHost, port: conn.remotePort };
    const p = this.#remote.get(conn.id)?.p;
    return p ? { host: conn.remoteHost, port: p } : undefined;
  }

  /**
   * Sends each PEX-capable peer the swarm's changes since we last told it,
   * at most once every pexIntervalMs per peer (the first message goes out at once).
   * `swarm` maps connection ids to the peers' listen addresses and flags.
   */
  sendPex(conns: Iterable<PeerConnection>, swarm: Map<number, { addr: PeerAddress; seed: boolean; outgoing: boolean }>, now = this.#now()): void {
    if (!this.#pexEnabled) return;
    for (const conn of conns) {
      const remote = this.#remote.get(conn.id);
      const id = remote ? extensionId(remote, UT_PEX) : undefined;
      if (id === undefined || conn.closed) continue;
      let state = this.#pex.get(conn.id);
      if (state && now - state.lastSentAt < this.#limits.pexIntervalMs) continue;
      if (!state) this.#pex.set(conn.id, (state = { sent: new Set(), lastSentAt: 0 }));
      const current = new Map<string, { addr: PeerAddress; flags: number }>();
      for (const [otherId, p] of swarm) {
        if (otherId === conn.id) continue;
        current.set(`${p.addr.host}:${p.addr.port}`, { addr: p.addr, flags: (p.seed ? PexFlags.seed : 0) | (p.outgoing ? PexFlags.reachable : 0) });
      }
      // At most PEX_MAX_PER_MESSAGE of each list of each family (added/added6, dropped/dropped6); the rest go next time.
      const isV6Key = (k: string): boolean => k.slice(0, k.lastIndexOf(':')).includes(':');
      const perFamily = <T>(items: T[], key: (item: T) => string): T[] => [
        ...items.filter((i) => !isV6Key(key(i))).slice(0, PEX_MAX_PER_MESSAGE),
        ...items.filter((i) => isV6Key(key(i))).slice(0, PEX_MAX_PER_MESSAGE),
      ];
      const added = perFamily([...current].filter(([k]) => !state.sent.has(k)), ([k]) => k);
      const dropped = perFamily([...state.sent].filter((k) => !current.has(k)), (k) => k);
      if (added.length === 0 && dropped.length === 0) continue;
      for (const [k] of added) state.sent.add(k);
      for (const k of dropped) state.sent.delete(k);
      state.lastSentAt = now;
      const toAddr = (k: string): PeerAddress => {
        const i = k.lastIndexOf(':');
        return { host: k.slice(0, i), port: Number(k.slice(i + 1)) };
      };
      conn.extended(id, encodePex({ added: added.map(([, v]) => v.addr), addedFlags: added.map(([, v]) => v.flags), dropped: dropped.map(toAddr) }));
    }
  }

  /** Throws ProtocolError on malformed payloads (the connection closes). */
  onMessage(conn: PeerConnection, id: number, payload: Uint8Array): void {
    if (id === EXTENDED_HANDSHAKE_ID) {
      const h = decodeExtendedHandshake(payload);
      this.#remote.set(conn.id, h);
      if (h.reqq !== undefined) conn.remoteQueueLimit = h.reqq;
      this.#opts.onRemoteHandshake?.(conn);
      return;
    }
    if (id === LOCAL_EXTENSION_IDS[UT_METADATA]) return this.#onMetadata(conn, payload);
    if (id === LOCAL_EXTENSION_IDS[SWARM_MSG]) return this.#onText(conn, payload);
    if (id === LOCAL_EXTENSION_IDS[UT_PEX]) {
      if (!this.#pexEnabled) return; // BEP 27: private torrents take peers from trackers only
      // BEP 11: one message a minute; more are ignored (each may name up to 200 peers to dial).
      const now = this.#now();
      let rate = this.#pexIn.get(conn.id);
      if (!rate || now - rate.windowStart >= 60_000) this.#pexIn.set(conn.id, (rate = { windowStart: now, count: 0 }));
      if (++rate.count > this.#limits.pexMessagesPerPeerPerMinute) {
        this.#warnOnce(conn, 'pex', `ignoring PEX messages from ${conn.address}: more than ${this.#limits.pexMessagesPerPeerPerMinute} a minute`);
        return;
      }
      const msg = decodePex(payload);
      if (msg.added.length) this.#opts.onPexPeers?.(msg.added);
      return;
    }
    // An id we never announced: ignore it, as BEP 10 allows extensions to be disabled.
  }

  #onText(conn: PeerConnection, payload: Uint8Array): void {
    if (payload.length > MAX_MESSAGE_BYTES + 64) throw new ProtocolError(`swarm_msg of ${payload.length} bytes is over the ${MAX_MESSAGE_BYTES}-byte limit`);
    const value = decode(payload, { maxDepth: 2 });
    if (!isDict(value) || !isBytes(value.text)) throw new ProtocolError('swarm_msg is not a dictionary with a text string');
    if (value.text.length > MAX_MESSAGE_BYTES) throw new ProtocolError(`swarm_msg text is over ${MAX_MESSAGE_BYTES} bytes`);
    const text = utf8OrUndefined(value.text);
    if (text === undefined) throw new ProtocolError('swarm_msg text is not UTF-8');
    if (!this.#allow(`in:${conn.id}`, this.#now())) {
      this.#warnOnce(conn, 'text', `dropping messages from ${conn.address}: more than ${this.#limits.messagesPerPeerPerMinute} a minute`);
      return;
    }
    const addr = this.listenAddressOf(conn);
    this.#opts.onText?.(addr ? `${addr.host}:${addr.port}` : conn.address, text);
  }

  #onMetadata(conn: PeerConnection, payload: Uint8Array): void {
    const msg = decodeMetadataMessage(payload);
    const remote = this.#remote.get(conn.id);
    const replyId = remote ? extensionId(remote, UT_METADATA) : undefined;
    if (replyId === undefined) return;
    if (msg.msgType !== 'request') return; // we hold the metadata; data and rejects are not for us
    const info = this.#opts.metainfo.infoBytes;
    const pieces = metadataPieceCount(info.length);
    const now = this.#now();
    let st = this.#metadata.get(conn.id);
    if (!st) this.#metadata.set(conn.id, (st = { windowStart: now, requests: 0, replies: 0, inFlight: 0, queued: new Set() }));
    if (now - st.windowStart >= 60_000) {
      st.windowStart = now;
      st.requests = 0;
      st.replies = 0;
    }
    const perMinute = Math.max(this.#limits.metadataRepliesPerPeerPerMinute, 2 * pieces);
    // A peer asking for many times what it could use is flooding: it is dropped, with no more answers.
    if (++st.requests > 4 * perMinute) {
      throw new ProtocolError(`sent more than ${4 * perMinute} ut_metadata requests within a minute for ${pieces} metadata pieces (a flood)`);
    }
    if (msg.piece >= pieces) return this.#rejectMetadata(conn, replyId, msg.piece);
    if (st.replies + st.queued.size >= perMinute && !st.queued.has(msg.piece)) {
      this.#warnOnce(conn, 'metadata', `rejecting ut_metadata requests from ${conn.address}: more than ${perMinute} pieces a minute`);
      return this.#rejectMetadata(conn, replyId, msg.piece);
    }
    // Waits (once per piece) until the replies in flight have left: answered only while the peer reads.
    st.queued.add(msg.piece);
    this.#sendMetadata(conn, replyId, st);
  }

  #rejectMetadata(conn: PeerConnection, replyId: number, piece: number): void {
    conn.extended(replyId, encodeMetadataMessage({ msgType: 'reject', piece }));
  }

  #sendMetadata(conn: PeerConnection, replyId: number, st: MetadataState): void {
    const info = this.#opts.metainfo.infoBytes;
    while (st.inFlight < this.#limits.metadataRepliesInFlight && st.queued.size > 0 && !conn.closed) {
      const piece = st.queued.values().next().value!;
      st.queued.delete(piece);
      st.replies++;
      st.inFlight++;
      const start = piece * METADATA_PIECE_BYTES;
      conn.extended(replyId, encodeMetadataMessage({ msgType: 'data', piece, totalSize: info.length, data: info.subarray(start, start + METADATA_PIECE_BYTES) }), () => {
        st.inFlight--;
        if (!conn.closed && this.#metadata.get(conn.id) === st) this.#sendMetadata(conn, replyId, st);
      });
    }
  }
}
