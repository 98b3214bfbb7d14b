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
 * It speaks over a `PeerTransport` (TCP, or an in-memory pair in tests)
 * through a `PeerLink` (link.ts: reading, writing, deadlines) and reads time
 * from an injected clock; our requests, the remote's queue and the BEP 6
 * sets are kept in our-requests.ts, remote-requests.ts, fast-extension.ts.
 *
 * The connection enforces the protocol: anything malformed or out of order
 * closes this connection only, with a logged reason. Policy (what to
 * request, whom to unchoke, what a piece means) belongs to the torrent,
 * which listens to the events and calls the verbs.
 */
import { TypedEmitter } from '../events.js';
import { assertNever, ProtocolError } from '../errors.js';
import type { Logger } from '../log.js';
import { DEFAULT_SETTINGS } from '../settings.js';
import { Bitfield } from '../util/bitfield.js';
import { toHex } from '../util/bytes.js';
import { systemClock, type Clock } from '../util/clock.js';
import { maxFrameBytesFor } from '../wire/framer.js';
import { encodeHandshake, type Handshake } from '../wire/handshake.js';
import { encodeMessage, encodeRequests, type BlockRequest, type PeerMessage } from '../wire/messages.js';
import { checkMessage } from '../wire/validate.js';
import type { PeerConnectionEvents, PeerConnectionOptions } from './connection-types.js';
import { FastSets, requireFast } from './fast-extension.js';
import { PeerLink } from './link.js';
import { OurRequests } from './our-requests.js';
import { RateMeter } from './rate.js';
import { RemotePieces } from './remote-pieces.js';
import { RemoteRequests } from './remote-requests.js';
import { systemTimers } from './timers.js';
import { tcpTransport } from './transport.js';

export type { ConnectionSettings, PeerConnectionEvents, PeerConnectionOptions } from './connection-types.js';

/** How far ahead of a peer's upload rate we queue blocks for it (sendLimit). */
const SEND_AHEAD_MS = 250;
/** The least that may wait for a peer however slow: eight blocks, a few runs of requests. */
const MIN_SEND_AHEAD_BYTES = 128 * 1024;

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
  readonly allowedFast: Set<number>;
  /** BEP 6: pieces the remote suggested, most recent last (bounded). */
  readonly suggested: Set<number>;

  readonly downloadRate = new RateMeter();
  readonly uploadRate = new RateMeter();
  readonly connectedAt: number;
  /** When a block last moved either way (keep-alives and other messages do not count). */
  lastPayloadAt: number;

  readonly #opts: PeerConnectionOptions;
  readonly #log: Logger;
  readonly #now: Clock;
  readonly #link: PeerLink;
  readonly #pieces: RemotePieces;
  #closed = false;
  readonly #ours: OurRequests;
  readonly #theirs: RemoteRequests;
  readonly #fastSets: FastSets;

  constructor(opts: PeerConnectionOptions) {
    super();
    this.id = opts.id;
    this.outgoing = opts.outgoing;
    this.#opts = opts;
    if (!opts.transport && !opts.socket) throw new TypeError('PeerConnection needs a transport (or a socket)');
    const transport = opts.transport ?? tcpTransport(opts.socket!, { externalReads: opts.externalReads ?? false });
    this.#now = opts.clock ?? systemClock;
    this.connectedAt = this.lastPayloadAt = this.#now();
    this.remoteHost = transport.remoteHost;
    this.remotePort = transport.remotePort;
    this.address = `${this.remoteHost}:${this.remotePort}`;
    this.#log = opts.logger.child({ peer: this.address });
    this.#pieces = new RemotePieces(opts.shape.pieceCount, { bitfield: (b) => this.emit('peer:bitfield', b), have: (i) => this.emit('peer:have', i) });
    this.bits = this.#pieces.bits;
    const s = opts.settings;
    this.#link = new PeerLink(
      transport,
      {
        clock: this.#now,
        timers: opts.timers ?? systemTimers,
        log: this.#log,
        // A frame can never be larger than a 128 KiB block message or our bitfield; refusing
        // longer length prefixes at once keeps a hostile peer from making us buffer gigabytes.
        maxFrameBytes: maxFrameBytesFor(opts.shape.pieceLength, opts.shape.pieceCount),
        handshakeRead: opts.remoteHandshake !== undefined,
        settings: s,
      },
      {
        handshake: (h) => this.#acceptHandshake(h),
        message: (msg) => this.#onMessage(msg),
        tick: (now) => this.#tick(now),
        close: (reason, protocolError) => this.close(reason, protocolError),
      },
    );
    this.#ours = new OurRequests(s.maxLateRequestsPerPeer ?? DEFAULT_SETTINGS.maxLateRequestsPerPeer, this.#log);
    this.#theirs = new RemoteRequests({
      maxQueued: s.maxRemoteRequests,
      maxCancelsPerMinute: s.maxRemoteCancelsPerMinute ?? DEFAULT_SETTINGS.maxRemoteCancelsPerMinute,
      now: this.connectedAt,
      log: this.#log,
      reject: (r) => this.send({ type: 'reject', index: r.index, begin: r.begin, length: r.length }),
      hostile: (why) => this.#link.dropHostile(why),
      write: (bytes, onWritten) => this.#link.write(bytes, onWritten),
      uploaded: (bytes) => {
        const now = this.#now();
        this.uploadRate.add(bytes, now);
        this.lastPayloadAt = now;
      },
    });
    this.#fastSets = new FastSets(s.maxFastSetPiecesPerPeer ?? DEFAULT_SETTINGS.maxFastSetPiecesPerPeer);
    this.allowedFast = this.#fastSets.allowedFast;
    this.suggested = this.#fastSets.suggested;
  }

  /** Sends our handshake and starts reading. */
  start(): void {
    const o = this.#opts;
    this.#link.start(encodeHandshake({ infoHash: o.infoHash, peerId: o.peerId, extensionProtocol: o.extensionProtocol ?? true, dht: o.dht ?? false, fast: o.fast ?? true }));
    if (o.remoteHandshake) {
      this.#acceptHandshake(o.remoteHandshake);
      if (o.initialBytes?.length) this.#link.receive(o.initialBytes);
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  get handshaken(): boolean {
    return this.remote !== undefined;
  }

  /**
   * Bytes that may wait for the transport before serving pauses: about
   * SEND_AHEAD_MS of this peer's upload rate, at least MIN_SEND_AHEAD_BYTES
   * and at most `sendBufferBytesPerPeer`. Each waiting block keeps its
   * piece's image alive, and a slow link is kept busy by the kernel's socket
   * buffer anyway: on a 20 Mbit LAN the first hosts served many peers in
   * turn with up to 2 MiB waiting for each, and peaked 30 MiB above the
   * others. A fast peer (hundreds of MB/s on loopback) still gets the full
   * buffer within its first tenth of a second.
   */
  get sendLimit(): number {
    const max = this.#opts.settings.sendBufferBytesPerPeer ?? DEFAULT_SETTINGS.sendBufferBytesPerPeer;
    const ahead = (this.uploadRate.rate(this.#now()) * SEND_AHEAD_MS) / 1000;
    return Math.min(max, Math.max(MIN_SEND_AHEAD_BYTES, ahead));
  }

  /** Bytes that may still be written before `congested`: what a run of blocks may take. */
  get sendRoom(): number {
    return Math.max(0, this.sendLimit - this.#link.unsentBytes);
  }

  /** True when more than `sendLimit` bytes wait for the transport: stop serving until 'drain'. */
  get congested(): boolean {
    return this.#link.unsentBytes > this.sendLimit;
  }

  /** Bytes written to this connection that have not left for the kernel yet. */
  get unsentBytes(): number {
    return this.#link.unsentBytes;
  }

  get outstandingCount(): number {
    return this.#ours.size;
  }

  get remoteRequestCount(): number {
    return this.#theirs.size;
  }

  get remotePeerIdHex(): string {
    return this.remote ? toHex(this.remote.peerId) : '';
  }

  // --- reading -----------------------------------------------------------

  /**
   * Bytes from the owner of a socket opened with `externalReads`. The chunk
   * may be a reused read buffer: nothing keeps a view of it past this call
   * (reader.ts).
   */
  receive(chunk: Uint8Array): void {
    this.#link.receive(chunk);
  }

  #acceptHandshake(h: Handshake): void {
    if (Buffer.compare(h.infoHash, this.#opts.infoHash) !== 0) {
      throw new ProtocolError('handshake is for another torrent');
    }
    this.remote = h;
    this.fast = this.#theirs.fast = (this.#opts.fast ?? true) && h.fast;
    this.emit('peer:handshake', h);
  }

  #onMessage(msg: PeerMessage): void {
    if (msg.type !== 'keep-alive' && msg.type !== 'unknown') {
      checkMessage(msg, this.#opts.shape, this.#opts.settings.maxRequestBytes);
      this.#pieces.observe(msg);
    }
    switch (msg.type) {
      case 'keep-alive':
      case 'unknown':
        return;
      case 'choke':
        this.peerChoking = true;
        // BEP 3: a choke discards every pending request. BEP 6: the remote answers each one, with its block or a reject.
        return void this.emit('peer:choke', this.fast ? [] : this.#ours.dropAll());
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
        return this.#pieces.have(msg.index);
      case 'bitfield':
        return this.#pieces.pieceSet(new Bitfield(this.bits.length, msg.bytes)); // size and spare bits checked by checkMessage
      case 'have-all':
        requireFast(this.fast, msg.type);
        return this.#pieces.pieceSet(Bitfield.full(this.bits.length));
      case 'have-none':
        requireFast(this.fast, msg.type);
        return this.#pieces.pieceSet(undefined);
      case 'request': {
        const queued = this.#theirs.onRequest(msg, this.amChoking);
        if (queued) this.emit('peer:request', queued);
        return;
      }
      case 'piece':
        return this.#onPeerPiece(msg.index, msg.begin, msg.block);
      case 'cancel':
        return this.#theirs.onCancel(msg, (queued) => this.emit('peer:cancel', queued));
      case 'port':
        return void this.emit('peer:port', msg.port);
      case 'extended':
        return void this.emit('peer:extended', { id: msg.id, payload: msg.payload });
      case 'reject':
        requireFast(this.fast, msg.type);
        return void this.#ours.rejected(msg, (req) => this.emit('peer:reject', req));
      case 'allowed-fast':
        requireFast(this.fast, msg.type);
        if (this.#fastSets.allow(msg.index)) this.emit('peer:allowed-fast', msg.index);
        return;
      case 'suggest':
        requireFast(this.fast, msg.type);
        this.#fastSets.suggest(msg.index);
        return void this.emit('peer:suggest', msg.index);
      default:
        assertNever(msg);
    }
  }

  #onPeerPiece(index: number, begin: number, block: Uint8Array): void {
    this.#ours.received(index, begin, block.length);
    const now = this.#now();
    this.downloadRate.add(block.length, now);
    this.lastPayloadAt = now;
    this.emit('peer:piece', { index, begin, block });
  }

  // --- writing -----------------------------------------------------------

  send(msg: PeerMessage): void {
    this.#link.write(encodeMessage(msg));
  }

  choke(): void {
    if (this.amChoking) return;
    this.amChoking = true;
    this.send({ type: 'choke' });
    this.#theirs.choked();
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
    this.#link.write(encodeMessage({ type: 'extended', id, payload }), onSent);
  }

  /** Sends requests (the caller picked them); several go out in one write. */
  request(reqs: BlockRequest[]): void {
    if (this.#closed || reqs.length === 0) return;
    this.#ours.add(reqs, this.#now());
    this.#link.write(encodeRequests(reqs));
  }

  cancel(req: BlockRequest): void {
    if (this.#ours.cancel(req)) this.send({ type: 'cancel', index: req.index, begin: req.begin, length: req.length });
  }

  /** Our requests in flight, in the order sent. */
  outstanding(): BlockRequest[] {
    return this.#ours.all();
  }

  /** Cancels every request of ours in flight (a block may still arrive for them); returns them. */
  cancelAll(): BlockRequest[] {
    const reqs = this.#ours.all();
    for (const r of reqs) this.cancel(r);
    return reqs;
  }

  /** True when the request is still wanted (not cancelled, not choked since). */
  stillRequested(req: BlockRequest): boolean {
    return this.#theirs.has(req);
  }

  /**
   * Answers a request of the remote with its block (written without copying
   * it, so `block` must not change until `onSent`, called once the transport
   * is done with it, written or not). Returns false, without calling
   * `onSent`, when the request was cancelled or we choked meanwhile. Blocks
   * served in the same tick leave in one writev.
   */
  serve(req: BlockRequest, block: Uint8Array, onSent?: () => void): boolean {
    return !this.#closed && this.#theirs.serve(req, block, onSent);
  }

  /**
   * Answers several requests, all still wanted (`stillRequested`), with
   * `messages`: their piece messages already encoded back to back, written
   * as they are (not copied; unchanged until `onSent`). Returns false,
   * without calling `onSent`, when the connection is closed.
   */
  serveMessages(reqs: BlockRequest[], messages: Uint8Array, onSent?: () => void): boolean {
    if (this.#closed) return false;
    this.#theirs.serveMessages(reqs, messages, onSent);
    return true;
  }

  /** Forgets a request of the remote we could not serve (BEP 6: and rejects it). */
  dropRemoteRequest(req: BlockRequest): void {
    this.#theirs.drop(req);
  }

  onDrain(listener: () => void): void {
    this.#link.onDrain(listener);
  }

  // --- timers and teardown -------------------------------------------------

  /** Each second, after the link's deadlines (handshake, idle, stall, keep-alive). */
  #tick(now: number): void {
    this.#theirs.tick(now);
    const timedOut = this.#ours.timedOut(now, this.#opts.settings.requestTimeoutMs);
    if (timedOut.length) this.emit('peer:timeout', timedOut);
  }

  /** Idempotent. */
  close(reason: string, protocolError = false): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#log.debug(`closing: ${reason}`);
    const requests = this.#ours.clear();
    this.#theirs.clear();
    this.#link.close();
    this.emit('peer:close', { reason, requests, protocolError });
  }
}
