/**
 * What we ask peers for (anacrolix's requesting.go): our interest in each
 * peer (pieces it has that we lack), how many requests to keep in flight
 * with it, BEP 6 allowed-fast and suggested pieces, and the download rate
 * limit. The picker decides which blocks; this decides when and how many.
 */
import type { Settings } from '../settings.js';
import type { PiecePicker, BlockRequest } from '../picker/piece-picker.js';
import type { PeerConnection } from '../peer/connection.js';
import type { Bitfield } from '../util/bitfield.js';
import type { TokenBucket } from '../util/token-bucket.js';
import { pickablePieces } from './fast-sets.js';

export type RequesterSettings = Pick<Settings, 'blockBytes' | 'initialQueueDepth' | 'maxQueueDepth' | 'requestQueueTimeMs'>;

export interface RequesterOptions {
  picker: Pick<PiecePicker, 'has' | 'wants' | 'pick' | 'release' | 'peerBitfield' | 'peerHave'>;
  settings: RequesterSettings;
  /** The download rate limit (shared by the session's torrents). */
  budget: TokenBucket;
  connections: () => Iterable<PeerConnection>;
  /** Downloading is paused for the disk (disk-pause.ts): no interest, no requests. */
  paused: () => boolean;
  /** Pieces waiting to be written reached their bound (piece-assembler.ts): no requests for now. */
  atWriteBound: () => boolean;
  /** The rate limit held requests back: call fillAll() again in about `ms`. */
  onLimited: (ms: number) => void;
}

export class Requester {
  readonly #o: RequesterOptions;
  /** Pieces the peer has that we lack, per connection: interest without rescanning bitfields. */
  readonly #interesting = new Map<number, number>();

  constructor(opts: RequesterOptions) {
    this.#o = opts;
  }

  /** Routes a new connection's events about pieces, chokes and requests here. */
  attach(conn: PeerConnection): void {
    conn.on('peer:bitfield', (bits) => this.peerBitfield(conn, bits));
    conn.on('peer:have', (index) => this.peerHave(conn, index));
    conn.on('peer:unchoke', () => this.fill(conn));
    conn.on('peer:choke', (dropped) => this.release(conn, dropped));
    // BEP 6: a rejected request is asked again, from whoever has it.
    conn.on('peer:reject', (r) => this.release(conn, [r]));
    conn.on('peer:allowed-fast', () => {
      if (conn.peerChoking) this.fill(conn);
    });
    conn.on('peer:suggest', () => this.fill(conn));
    conn.on('peer:timeout', (reqs) => this.release(conn, reqs));
  }

  /** The peer's handshake passed: it has nothing we want until its bitfield says otherwise. */
  added(conn: PeerConnection): void {
    this.#interesting.set(conn.id, 0);
  }

  forget(connId: number): void {
    this.#interesting.delete(connId);
  }

  /** The peer's piece set (bitfield, have_all, have_none). */
  peerBitfield(conn: PeerConnection, bits: Bitfield): void {
    this.#o.picker.peerBitfield(bits);
    this.#count(conn, bits);
  }

  #count(conn: PeerConnection, bits: Bitfield): void {
    let count = 0;
    for (const i of bits.ones()) if (this.#o.picker.wants(i)) count++;
    this.#interesting.set(conn.id, count);
    this.updateInterest(conn);
  }

  /** What we want changed (piece priorities): interest in every peer is counted again, and requests topped up. */
  wantsChanged(): void {
    for (const c of this.#o.connections()) if (c.handshaken && !c.closed) this.#count(c, c.bits);
    this.fillAll();
  }

  /** The peer got a piece: one more to want from it if we lack it. */
  peerHave(conn: PeerConnection, index: number): void {
    this.#o.picker.peerHave(index);
    if (!this.#o.picker.wants(index)) return;
    this.#interesting.set(conn.id, (this.#interesting.get(conn.id) ?? 0) + 1);
    this.updateInterest(conn);
    this.fill(conn);
  }

  /** We got a piece this peer has: one less to want from it. */
  pieceGot(conn: PeerConnection): void {
    const n = (this.#interesting.get(conn.id) ?? 1) - 1;
    this.#interesting.set(conn.id, n);
    if (n <= 0) this.updateInterest(conn);
  }

  updateInterest(conn: PeerConnection): void {
    if ((this.#interesting.get(conn.id) ?? 0) > 0 && !this.#o.paused()) conn.interested();
    else conn.notInterested();
  }

  /** Requests that will not be answered (choke, reject, timeout): asked again, from whoever has them. */
  release(conn: PeerConnection, reqs: Iterable<BlockRequest>): void {
    for (const r of reqs) this.#o.picker.release(conn.id, r);
    this.fillAll();
  }

  fillAll(): void {
    for (const c of this.#o.connections()) this.fill(c);
  }

  /** How many requests to keep in flight with this peer: about requestQueueTimeMs of its rate. */
  #depthFor(conn: PeerConnection): number {
    const s = this.#o.settings;
    const byRate = Math.ceil((conn.downloadRate.rate() * s.requestQueueTimeMs) / 1000 / s.blockBytes);
    let depth = Math.min(s.maxQueueDepth, Math.max(s.initialQueueDepth, byRate));
    if (conn.remoteQueueLimit !== undefined) depth = Math.min(depth, Math.max(1, conn.remoteQueueLimit));
    return depth;
  }

  /** Tops up the requests in flight with this peer. */
  fill(conn: PeerConnection): void {
    const o = this.#o;
    if (conn.closed || !conn.amInterested || !conn.handshaken || o.paused()) return;
    const have = (i: number): boolean => o.picker.has(i);
    // Choked: only BEP 6 allowed-fast pieces may be asked for.
    const onlyAllowed = conn.peerChoking ? (conn.fast ? pickablePieces(conn.allowedFast, conn.bits, have) : undefined) : undefined;
    if (conn.peerChoking && !onlyAllowed) return;
    // A disk slower than the network: ask for nothing more until the pieces waiting to be written drain.
    if (o.atWriteBound()) return;
    const depth = this.#depthFor(conn);
    const want = depth - conn.outstandingCount;
    // Ask in batches rather than one block per arrival: fewer, larger writes.
    if (want < Math.max(1, depth >> 3)) return;
    let allowed = want;
    const budget = o.budget;
    const bb = o.settings.blockBytes;
    if (!budget.unlimited) {
      // Ask only for what the download limit lets in; the rest waits for tokens.
      allowed = Math.min(want, Math.floor(budget.available() / bb));
      if (allowed <= 0) return o.onLimited(budget.msUntil(bb));
    }
    const limits = this.#pickLimits(conn);
    let reqs: BlockRequest[];
    if (onlyAllowed) reqs = o.picker.pick(conn.id, onlyAllowed, allowed, limits);
    else {
      // BEP 6 suggestions first (pieces the remote likely has in its cache), then the picker's own choice.
      const suggested = conn.suggested.size ? pickablePieces(conn.suggested, conn.bits, have) : undefined;
      reqs = suggested ? o.picker.pick(conn.id, suggested, allowed, limits) : [];
      if (reqs.length < allowed) {
        const more = o.picker.pick(conn.id, conn.bits, allowed - reqs.length, limits);
        reqs = reqs.length ? reqs.concat(more) : more;
      }
      // A seed that unchoked us is never left idle: once it has nothing only it holds, take the rest from it too
      // (a LAN swarm's seeder otherwise sat at 0 Mbit/s for the last third of the run while leechers still lacked pieces).
      if (reqs.length < allowed && limits.maxAvailability !== undefined) {
        const more = o.picker.pick(conn.id, conn.bits, allowed - reqs.length);
        reqs = reqs.length ? reqs.concat(more) : more;
      }
    }
    if (!budget.unlimited) for (const r of reqs) budget.take(r.length);
    conn.request(reqs);
  }

  /**
   * From a seed, ask only for what no other connected leecher has, as long
   * as some leecher that unchokes us still has pieces we need: the seed's
   * upload then goes into data new to the swarm.
   */
  #pickLimits(conn: PeerConnection): { maxAvailability?: number } {
    if (!conn.bits.isComplete()) return {};
    let seeds = 0;
    let otherSource = false;
    for (const c of this.#o.connections()) {
      if (!c.handshaken) continue;
      if (c.bits.isComplete()) seeds++;
      else if (!c.peerChoking && (this.#interesting.get(c.id) ?? 0) > 0) otherSource = true;
    }
    return otherSource ? { maxAvailability: seeds } : {};
  }
}

/** One timer per torrent: work a rate limit held back (requests, uploads) runs again once its tokens are there. */
export class LimitRetry {
  readonly #settings: Pick<Settings, 'rateLimitRetryMinMs' | 'rateLimitRetryMaxMs'>;
  readonly #run: () => void;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(settings: Pick<Settings, 'rateLimitRetryMinMs' | 'rateLimitRetryMaxMs'>, run: () => void) {
    this.#settings = settings;
    this.#run = run;
  }

  /** Runs the work in about `ms` (clamped); one timer at a time. */
  schedule(ms: number): void {
    if (this.#timer || this.#stopped) return;
    const s = this.#settings;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#run();
    }, Math.max(s.rateLimitRetryMinMs, Math.min(ms, s.rateLimitRetryMaxMs)));
    this.#timer.unref();
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}
