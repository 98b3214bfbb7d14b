/**
 * One connection to one remote peer (BEP 3): the handshake, framing, the
 * four choke/interest flags, our outstanding requests and the remote's
 * queue of requests to us, keep-alives and timeouts.
 *
 * With the fast extension (BEP 6, when both sides set reserved[7] & 0x04):
 * the piece set may be `have_all` / `have_none`; every request the remote
 * makes gets exactly one answer, its block or a `reject` (so a choke, a
 * cancel, a full queue or a request we cannot serve is answered with a
 * reject); a choke from the remote no longer drops our requests (it rejects
 * the ones it will not serve); `allowed_fast` pieces may be requested while
 * choked; `suggest` is passed on as a hint.
 *
 * The connection enforces the protocol: anything malformed or out of order
 * closes this connection only, with a logged reason. Policy (what to
 * request, whom to unchoke, what a piece means) belongs to the torrent,
 * which listens to the events and calls the verbs.
 */
import type { Socket } from 'node:net';
import { TypedEmitter } from '../events.js';
import { ProtocolError, assertNever, errorMessage } from '../errors.js';
import type { Logger } from '../log.js';
import { Bitfield } from '../util/bitfield.js';
import { toHex } from '../util/bytes.js';
import { FrameDecoder, maxFrameBytesFor } from '../wire/framer.js';
import { HandshakeReader, encodeHandshake, type Handshake } from '../wire/handshake.js';
import { decodeMessage, encodeMessage, encodePieceHeader, encodeRequests, type PeerMessage } from '../wire/messages.js';
import { PieceSetOrder, checkMessage, type TorrentShape } from '../wire/validate.js';
import { RateMeter } from './rate.js';
import type { BlockRequest } from '../picker/piece-picker.js';
import { DEFAULT_SETTINGS } from '../settings.js';

export interface ConnectionSettings {
  handshakeTimeoutMs: number;
  idleTimeoutMs: number;
  keepAliveIntervalMs: number;
  requestTimeoutMs: number;
  maxRequestBytes: number;
  maxRemoteRequests: number;
  /** Defaults to DEFAULT_SETTINGS' value when absent (as the three below). */
  maxUnsentBytesPerPeer?: number;
  maxRemoteCancelsPerMinute?: number;
  sendStallTimeoutMs?: number;
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
  socket: Socket;
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
}

/**
 * By message id: 1 when the message decodes to numbers only and keeps no
 * view of its frame (BEP 3 ids 0-4 and 6-9, BEP 6 ids 13-17; a piece's
 * block is copied by its listener). Bitfield, extended and unknown ids are 0.
 */
const DECODES_TO_NUMBERS = new Uint8Array(256);
for (const id of [0, 1, 2, 3, 4, 6, 7, 8, 9, 13, 14, 15, 16, 17]) DECODES_TO_NUMBERS[id] = 1;

/** BEP 6 allowed-fast and suggest sets kept per peer: libtorrent sends about 10; a hostile peer could send millions. */
const MAX_FAST_SET = 64;

/** Bytes we let queue in a socket before pausing the upload (bounds memory per peer). */
const SEND_BUFFER_BYTES = 1024 * 1024;

/**
 * Messages this small (every message but blocks, bitfields of big torrents
 * and request batches) are gathered and written once per tick as one
 * buffer: a flood of messages that each call for an answer (a reject, a
 * choke) then costs its bytes, not a socket write request per message.
 */
const SMALL_MESSAGE_BYTES = 256;

/** A block's map key: begin < 2^27 (a piece is at most 128 MiB), so this stays an exact integer. */
const key = (index: number, begin: number): number => index * 0x8000000 + begin;

export class PeerConnection extends TypedEmitter<PeerConnectionEvents> {
  readonly id: number;
  readonly outgoing: boolean;
  readonly address: string;
  readonly remoteHost: string;
  readonly remotePort: number;
  remote: Handshake | undefined;
  readonly bits: Bitfield;

  amChoking = true;
  amInterested = false;
  peerChoking = true;
  peerInterested = false;
  /** Largest number of requests the remote will queue (BEP 10 `reqq`), when it said. */
  remoteQueueLimit: number | undefined;
  /** Both sides set the BEP 6 bit: known once the handshake is in. */
  fast = false;
  /** BEP 6: pieces the remote lets us request while it chokes us (bounded: a peer could send many). */
  readonly allowedFast = new Set<number>();
  /** BEP 6: pieces the remote suggested, most recent last (bounded). */
  readonly suggested = new Set<number>();

  readonly downloadRate = new RateMeter();
  readonly uploadRate = new RateMeter();
  readonly connectedAt = Date.now();
  /** When a block last moved either way (keep-alives and other messages do not count). */
  lastPayloadAt = Date.now();

  readonly #socket: Socket;
  readonly #opts: PeerConnectionOptions;
  readonly #log: Logger;
  readonly #decoder: FrameDecoder;
  #handshakeReader: HandshakeReader | undefined = new HandshakeReader();
  /** Whether the remote's bitfield (or have_all / have_none) is its initial piece set or a late one. */
  readonly #order = new PieceSetOrder();
  #initialPieceSet = false;
  #closed = false;
  /** Our requests in flight: key -> request and when it was sent. */
  readonly #outstanding = new Map<number, { req: BlockRequest; sentAt: number }>();
  /** Requests cancelled or dropped by a choke; a block for them may still arrive. */
  #late = new Set<number>();
  /** The remote's requests we have not answered yet. */
  readonly #remoteRequests = new Map<number, BlockRequest>();
  #corked = false;
  /** Small messages written this tick, sent as one buffer on the next (SMALL_MESSAGE_BYTES). */
  #small: Uint8Array[] = [];
  #smallBytes = 0;
  #flushScheduled = false;
  /** Bound on bytes queued for the socket: a peer that does not read is dropped past it. */
  readonly #maxUnsentBytes: number;
  /** Queued requests of the remote it cancelled in the current minute (a request/cancel flood). */
  #cancels = 0;
  #cancelWindowStart = Date.now();
  readonly #maxCancelsPerMinute: number;
  /** Bytes handed to the kernel at the last tick, and when that last grew while bytes waited. */
  #dispatched = 0;
  #lastSendProgress = Date.now();
  readonly #sendStallTimeoutMs: number;
  #lastReceived = Date.now();
  #lastSent = Date.now();
  #timer: NodeJS.Timeout | undefined;
  #handshakeTimer: NodeJS.Timeout | undefined;

  constructor(opts: PeerConnectionOptions) {
    super();
    this.id = opts.id;
    this.outgoing = opts.outgoing;
    this.#opts = opts;
    this.#socket = opts.socket;
    this.remoteHost = opts.socket.remoteAddress ?? '?';
    this.remotePort = opts.socket.remotePort ?? 0;
    this.address = `${this.remoteHost}:${this.remotePort}`;
    this.#log = opts.logger.child({ peer: this.address });
    this.bits = new Bitfield(opts.shape.pieceCount);
    // A frame can never be larger than a 128 KiB block message or our bitfield; refusing
    // longer length prefixes at once keeps a hostile peer from making us buffer gigabytes.
    this.#decoder = new FrameDecoder({ maxFrameBytes: maxFrameBytesFor(opts.shape.pieceLength, opts.shape.pieceCount) });
    const s = opts.settings;
    this.#maxUnsentBytes = s.maxUnsentBytesPerPeer ?? DEFAULT_SETTINGS.maxUnsentBytesPerPeer;
    this.#maxCancelsPerMinute = s.maxRemoteCancelsPerMinute ?? DEFAULT_SETTINGS.maxRemoteCancelsPerMinute;
    this.#sendStallTimeoutMs = s.sendStallTimeoutMs ?? DEFAULT_SETTINGS.sendStallTimeoutMs;
  }

  /** Sends our handshake and starts reading. */
  start(): void {
    const s = this.#socket;
    s.setNoDelay(true);
    if (!this.#opts.externalReads) s.on('data', (chunk: Buffer) => this.receive(chunk));
    s.on('error', (err) => this.close(`socket error: ${err.message}`));
    s.on('close', () => this.close('connection closed by remote'));
    this.#write(
      encodeHandshake({
        infoHash: this.#opts.infoHash,
        peerId: this.#opts.peerId,
        extensionProtocol: this.#opts.extensionProtocol ?? true,
        dht: this.#opts.dht ?? false,
        fast: this.#opts.fast ?? true,
      }),
    );
    if (this.#opts.remoteHandshake) {
      this.#acceptHandshake(this.#opts.remoteHandshake);
      if (this.#opts.initialBytes?.length) this.#onFrames(this.#opts.initialBytes);
    } else {
      this.#handshakeTimer = setTimeout(() => this.close('handshake timeout'), this.#opts.settings.handshakeTimeoutMs);
    }
    this.#timer = setInterval(() => this.#tick(), 1000);
    this.#timer.unref();
  }

  get closed(): boolean {
    return this.#closed;
  }

  get handshaken(): boolean {
    return this.remote !== undefined;
  }

  /**
   * True when more than `SEND_BUFFER_BYTES` wait in the socket: stop serving
   * until 'drain'. The stream's own mark (16 KiB, one block) would stall the
   * upload after every block and leave the link idle between them.
   */
  get congested(): boolean {
    return this.unsentBytes > SEND_BUFFER_BYTES;
  }

  /** Bytes written to this connection that have not left for the kernel yet. */
  get unsentBytes(): number {
    return this.#socket.writableLength + this.#smallBytes;
  }

  get outstandingCount(): number {
    return this.#outstanding.size;
  }

  get remoteRequestCount(): number {
    return this.#remoteRequests.size;
  }

  get remotePeerIdHex(): string {
    return this.remote ? toHex(this.remote.peerId) : '';
  }

  // --- reading -----------------------------------------------------------

  /**
   * Bytes from the socket. The chunk may be a reused read buffer: nothing
   * here keeps a view of it past this call (frames other than blocks are
   * copied; a block is handed to 'peer:piece' listeners, which copy it).
   */
  receive(chunk: Uint8Array): void {
    if (this.#closed) return;
    this.#lastReceived = Date.now();
    if (this.#handshakeReader) {
      let rest: Uint8Array | undefined;
      try {
        rest = this.#handshakeReader.push(chunk);
        if (!rest) return;
        this.#acceptHandshake(this.#handshakeReader.handshake!);
      } catch (err) {
        this.#protocolError(err);
        return;
      }
      if (rest.length) this.#onFrames(rest);
      return;
    }
    this.#onFrames(chunk);
  }

  #acceptHandshake(h: Handshake): void {
    this.#handshakeReader = undefined;
    clearTimeout(this.#handshakeTimer);
    if (Buffer.compare(h.infoHash, this.#opts.infoHash) !== 0) {
      throw new ProtocolError('handshake is for another torrent');
    }
    this.remote = h;
    this.fast = (this.#opts.fast ?? true) && h.fast;
    this.emit('peer:handshake', h);
  }

  #onFrames(chunk: Uint8Array): void {
    try {
      this.#decoder.feed(chunk, this.#onFrame);
    } catch (err) {
      this.#protocolError(err);
    }
  }

  /**
   * Frames are views of reused memory. Messages that keep bytes (bitfield,
   * extended, ids we do not know) get a copy; the others decode to numbers,
   * and a block is copied by its listener.
   */
  readonly #onFrame = (frame: Uint8Array): void => {
    if (this.#closed) return;
    this.#onMessage(decodeMessage(frame.length === 0 || DECODES_TO_NUMBERS[frame[0]!] ? frame : Buffer.from(frame)));
  };

  #protocolError(err: unknown): void {
    const reason = `protocol error: ${errorMessage(err)}`;
    this.#log.warn(reason);
    this.close(reason, true);
  }

  #onMessage(msg: PeerMessage): void {
    if (msg.type !== 'keep-alive' && msg.type !== 'unknown') {
      checkMessage(msg, this.#opts.shape, this.#opts.settings.maxRequestBytes);
      this.#initialPieceSet = this.#order.observe(msg);
    }
    switch (msg.type) {
      case 'keep-alive':
      case 'unknown':
        return;
      case 'choke':
        return this.#onPeerChoke();
      case 'unchoke':
        this.peerChoking = false;
        return void this.emit('peer:unchoke', undefined);
      case 'interested':
        this.peerInterested = true;
        return void this.emit('peer:interested', undefined);
      case 'not-interested':
        this.peerInterested = false;
        return void this.emit('peer:not-interested', undefined);
      case 'have':
        if (this.bits.set(msg.index)) this.emit('peer:have', msg.index);
        return;
      case 'bitfield':
        return this.#onPeerPieceSet(new Bitfield(this.bits.length, msg.bytes)); // size and spare bits checked by checkMessage
      case 'have-all':
        this.#requireFast(msg.type);
        return this.#onPeerPieceSet(Bitfield.full(this.bits.length));
      case 'have-none':
        this.#requireFast(msg.type);
        return this.#onPeerPieceSet(undefined);
      case 'request':
        return this.#onPeerRequest(msg);
      case 'piece':
        return this.#onPeerPiece(msg.index, msg.begin, msg.block);
      case 'cancel':
        return this.#onPeerCancel(msg);
      case 'port':
        return void this.emit('peer:port', msg.port);
      case 'extended':
        return void this.emit('peer:extended', { id: msg.id, payload: msg.payload });
      case 'reject':
        this.#requireFast(msg.type);
        return this.#onPeerReject(msg);
      case 'allowed-fast':
        this.#requireFast(msg.type);
        // A remote may announce pieces it does not have yet; the picker only asks for pieces it has.
        if (this.allowedFast.size < MAX_FAST_SET && !this.allowedFast.has(msg.index)) {
          this.allowedFast.add(msg.index);
          this.emit('peer:allowed-fast', msg.index);
        }
        return;
      case 'suggest':
        this.#requireFast(msg.type);
        this.suggested.delete(msg.index);
        if (this.suggested.size >= MAX_FAST_SET) this.suggested.delete(this.suggested.values().next().value!);
        this.suggested.add(msg.index);
        return void this.emit('peer:suggest', msg.index);
      default:
        assertNever(msg);
    }
  }

  #requireFast(type: string): void {
    if (!this.fast) throw new ProtocolError(`${type} sent without the fast extension (BEP 6) negotiated`);
  }

  /**
   * A bitfield, have_all or have_none (`bits` undefined: no pieces). The
   * initial one is the peer's set; a late one (aria2 sends its bitfield
   * again after haves) only adds pieces, reported as haves: a peer never
   * loses a piece it announced (BEP 3 has no message for that).
   */
  #onPeerPieceSet(bits: Bitfield | undefined): void {
    if (this.#initialPieceSet) {
      if (bits) for (const i of bits.ones()) this.bits.set(i);
      this.emit('peer:bitfield', this.bits);
      return;
    }
    if (!bits) return;
    for (const i of bits.ones()) if (this.bits.set(i)) this.emit('peer:have', i);
  }

  #onPeerChoke(): void {
    this.peerChoking = true;
    // BEP 3: a choke discards every pending request. BEP 6: the remote answers each one, with its block or a reject.
    const dropped = this.fast ? [] : this.#dropOutstanding();
    this.emit('peer:choke', dropped);
  }

  #onPeerReject(r: BlockRequest): void {
    const k = key(r.index, r.begin);
    const o = this.#outstanding.get(k);
    if (o && o.req.length === r.length) {
      this.#outstanding.delete(k);
      this.emit('peer:reject', o.req);
      return;
    }
    // The answer to a request we cancelled (or that timed out): nothing to do.
    if (this.#late.delete(k)) return;
    this.#log.debug(`reject of ${r.index}:${r.begin}+${r.length}, which we did not request; ignored`);
  }

  #onPeerCancel(r: BlockRequest): void {
    const k = key(r.index, r.begin);
    const queued = this.#remoteRequests.get(k);
    if (!queued) return;
    this.#remoteRequests.delete(k);
    this.emit('peer:cancel', queued);
    // BEP 6: even a cancelled request gets its one answer.
    if (this.fast) this.#reject(queued);
    // An endgame cancels at most a request queue's worth; thousands a minute only make us work and queue answers.
    if (++this.#cancels > this.#maxCancelsPerMinute) {
      this.#dropHostile(`cancelled more than ${this.#maxCancelsPerMinute} of its queued requests within a minute (a request/cancel flood)`);
    }
  }

  /** Closes a connection whose remote abuses us (not a malformed frame: a flood or a peer that does not read), with one warn line. */
  #dropHostile(why: string): void {
    if (this.#closed) return;
    this.#log.warn(`dropping ${this.address}: it ${why}`);
    this.close(`dropped: it ${why}`, true);
  }

  #reject(r: BlockRequest): void {
    this.send({ type: 'reject', index: r.index, begin: r.begin, length: r.length });
  }

  #dropOutstanding(): BlockRequest[] {
    const dropped = [...this.#outstanding.values()].map((o) => o.req);
    for (const k of this.#outstanding.keys()) this.#markLate(k);
    this.#outstanding.clear();
    return dropped;
  }

  #markLate(k: number): void {
    if (this.#late.size > 8192) this.#late = new Set();
    this.#late.add(k);
  }

  #onPeerRequest(req: BlockRequest): void {
    const r = { index: req.index, begin: req.begin, length: req.length };
    // BEP 3: requests while choked are ignored; BEP 6: rejected (we grant no allowed-fast pieces).
    if (this.amChoking) return void (this.fast && this.#reject(r));
    if (this.#remoteRequests.size >= this.#opts.settings.maxRemoteRequests) {
      this.#log.debug('remote exceeded its request queue; dropping a request');
      return void (this.fast && this.#reject(r));
    }
    const k = key(req.index, req.begin);
    if (this.#remoteRequests.has(k)) return;
    this.#remoteRequests.set(k, r);
    this.emit('peer:request', r);
  }

  #onPeerPiece(index: number, begin: number, block: Uint8Array): void {
    const k = key(index, begin);
    const o = this.#outstanding.get(k);
    if (o) {
      if (o.req.length !== block.length) throw new ProtocolError(`piece ${index}:${begin} has ${block.length} bytes, ${o.req.length} were requested`);
      this.#outstanding.delete(k);
    } else if (this.#late.has(k)) {
      this.#late.delete(k);
    } else {
      throw new ProtocolError(`piece ${index}:${begin} was not requested`);
    }
    this.downloadRate.add(block.length);
    this.lastPayloadAt = Date.now();
    this.emit('peer:piece', { index, begin, block });
  }

  // --- writing -----------------------------------------------------------

  /**
   * Small messages written in the same tick (a HAVE per verified piece, a
   * request batch, choke changes) leave in one writev: the socket is corked
   * on the first write and uncorked on the next tick.
   */
  #write(bytes: Uint8Array, onWritten?: () => void): void {
    if (this.#closed) return;
    this.#lastSent = Date.now();
    this.#scheduleFlush();
    if (!onWritten && bytes.length <= SMALL_MESSAGE_BYTES) {
      this.#small.push(bytes);
      this.#smallBytes += bytes.length;
    } else {
      this.#flushSmall();
      if (!this.#corked) {
        this.#corked = true;
        this.#socket.cork();
      }
      if (onWritten) this.#socket.write(bytes, () => onWritten());
      else this.#socket.write(bytes);
    }
    if (this.unsentBytes > this.#maxUnsentBytes) {
      this.#dropHostile(`does not read what we send: ${this.unsentBytes} bytes wait for it (maxUnsentBytesPerPeer ${this.#maxUnsentBytes})`);
    }
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
        this.#socket.uncork();
      }
    });
  }

  #flushSmall(): void {
    if (this.#small.length === 0) return;
    const out = this.#small.length === 1 ? this.#small[0]! : Buffer.concat(this.#small, this.#smallBytes);
    this.#small = [];
    this.#smallBytes = 0;
    this.#socket.write(out);
  }

  send(msg: PeerMessage): void {
    this.#write(encodeMessage(msg));
  }

  choke(): void {
    if (this.amChoking) return;
    this.amChoking = true;
    this.send({ type: 'choke' });
    // BEP 6: every pending request gets its answer; we will not serve these.
    if (this.fast) for (const r of this.#remoteRequests.values()) this.#reject(r);
    this.#remoteRequests.clear();
  }

  unchoke(): void {
    if (!this.amChoking) return;
    this.amChoking = false;
    this.send({ type: 'unchoke' });
  }

  interested(): void {
    if (this.amInterested) return;
    this.amInterested = true;
    this.send({ type: 'interested' });
  }

  notInterested(): void {
    if (!this.amInterested) return;
    this.amInterested = false;
    this.send({ type: 'not-interested' });
  }

  have(index: number): void {
    this.send({ type: 'have', index });
  }

  bitfield(bits: Bitfield): void {
    this.send({ type: 'bitfield', bytes: bits.toBytes() });
  }

  /**
   * Our piece set, right after the handshake: with the fast extension
   * `have_all` or `have_none` when they say it in one byte, else a bitfield;
   * without it, nothing when we have no piece (BEP 3 allows that).
   */
  sendPieceSet(bits: Bitfield): void {
    if (this.fast && bits.isComplete()) this.send({ type: 'have-all' });
    else if (bits.isEmpty()) {
      if (this.fast) this.send({ type: 'have-none' });
    } else this.bitfield(bits);
  }

  /** `onSent`, when given, is called once the message has left for the kernel (or the connection closed). */
  extended(id: number, payload: Uint8Array, onSent?: () => void): void {
    if (this.#closed) return void onSent?.();
    this.#write(encodeMessage({ type: 'extended', id, payload }), onSent);
  }

  /** Sends requests (the caller picked them); several go out in one write. */
  request(reqs: BlockRequest[]): void {
    if (this.#closed || reqs.length === 0) return;
    const now = Date.now();
    for (const r of reqs) this.#outstanding.set(key(r.index, r.begin), { req: r, sentAt: now });
    this.#write(encodeRequests(reqs));
  }

  cancel(req: BlockRequest): void {
    const k = key(req.index, req.begin);
    if (!this.#outstanding.delete(k)) return;
    this.#markLate(k);
    this.send({ type: 'cancel', index: req.index, begin: req.begin, length: req.length });
  }

  /** Cancels every request of ours in flight (a block may still arrive for them); returns them. */
  cancelAll(): BlockRequest[] {
    const reqs = [...this.#outstanding.values()].map((o) => o.req);
    for (const r of reqs) this.cancel(r);
    return reqs;
  }

  /** True when the request is still wanted (not cancelled, not choked since). */
  stillRequested(req: BlockRequest): boolean {
    return this.#remoteRequests.has(key(req.index, req.begin));
  }

  /**
   * Answers a request of the remote with its block (written without copying
   * it, so `block` must not change until `onSent`, called once the socket is
   * done with it, written or not). Returns false, without calling `onSent`,
   * when the request was cancelled or we choked meanwhile. Blocks served in
   * the same tick leave in one writev.
   */
  serve(req: BlockRequest, block: Uint8Array, onSent?: () => void): boolean {
    if (this.#closed || !this.#remoteRequests.delete(key(req.index, req.begin))) return false;
    this.#write(encodePieceHeader(req.index, req.begin, block.length));
    this.#write(block, onSent);
    this.uploadRate.add(block.length);
    this.lastPayloadAt = Date.now();
    return true;
  }

  /**
   * Answers several requests, all still wanted (`stillRequested`), with
   * `messages`: their piece messages already encoded back to back, written
   * as they are (not copied; unchanged until `onSent`). Returns false,
   * without calling `onSent`, when the connection is closed.
   */
  serveMessages(reqs: BlockRequest[], messages: Uint8Array, onSent?: () => void): boolean {
    if (this.#closed) return false;
    let bytes = 0;
    for (const r of reqs) {
      this.#remoteRequests.delete(key(r.index, r.begin));
      bytes += r.length;
    }
    this.#write(messages, onSent);
    this.uploadRate.add(bytes);
    this.lastPayloadAt = Date.now();
    return true;
  }

  /** Forgets a request of the remote we could not serve (BEP 6: and rejects it). */
  dropRemoteRequest(req: BlockRequest): void {
    if (this.#remoteRequests.delete(key(req.index, req.begin)) && this.fast) this.#reject(req);
  }

  onDrain(listener: () => void): void {
    this.#socket.on('drain', listener);
  }

  // --- timers and teardown -------------------------------------------------

  #tick(): void {
    const now = Date.now();
    if (now - this.#lastReceived > this.#opts.settings.idleTimeoutMs) return this.close('idle timeout');
    if (now - this.#cancelWindowStart >= 60_000) {
      this.#cancelWindowStart = now;
      this.#cancels = 0;
    }
    // A remote that reads nothing of what waits for it holds our memory: drop it after a while.
    const waiting = this.#socket.writableLength;
    const dispatched = this.#socket.bytesWritten - waiting;
    if (waiting === 0 || dispatched !== this.#dispatched) this.#lastSendProgress = now;
    this.#dispatched = dispatched;
    if (now - this.#lastSendProgress > this.#sendStallTimeoutMs) {
      return this.#dropHostile(`has read nothing for ${Math.round((now - this.#lastSendProgress) / 1000)} s while ${waiting} bytes wait for it`);
    }
    if (now - this.#lastSent > this.#opts.settings.keepAliveIntervalMs) this.send({ type: 'keep-alive' });
    const timedOut: BlockRequest[] = [];
    for (const [k, o] of this.#outstanding) {
      if (now - o.sentAt > this.#opts.settings.requestTimeoutMs) {
        timedOut.push(o.req);
        this.#outstanding.delete(k);
        this.#markLate(k);
      }
    }
    if (timedOut.length) this.emit('peer:timeout', timedOut);
  }

  /** Idempotent. */
  close(reason: string, protocolError = false): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    clearTimeout(this.#handshakeTimer);
    this.#log.debug(`closing: ${reason}`);
    const requests = [...this.#outstanding.values()].map((o) => o.req);
    this.#outstanding.clear();
    this.#remoteRequests.clear();
    this.#late.clear();
    this.#small = [];
    this.#smallBytes = 0;
    this.#socket.destroy();
    this.emit('peer:close', { reason, requests, protocolError });
  }
}
