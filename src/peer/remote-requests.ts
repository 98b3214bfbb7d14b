/**
 * The remote's requests to us (BEP 3) that we have not answered yet, and
 * the answers the fast extension (BEP 6) owes it: with it, every request
 * gets exactly one answer, its block or a reject, so a request while we
 * choke, one over the queue limit, a cancelled one and the ones our choke
 * discards are each rejected. Cancels are counted per minute: a peer that
 * requests and cancels thousands of blocks a minute only makes us work.
 */
import type { Logger } from '../log.js';
import { encodePieceHeader, type BlockRequest } from '../wire/messages.js';
import { blockMapKey } from './our-requests.js';

/** The cancels are counted in windows this long ("per minute" in `maxRemoteCancelsPerMinute`). */
const CANCEL_WINDOW_MS = 60_000;

export interface RemoteRequestsOptions {
  maxQueued: number;
  maxCancelsPerMinute: number;
  now: number;
  log: Logger;
  /** Sends a BEP 6 reject for `r`. */
  reject(r: BlockRequest): void;
  /** Drops the remote for abusing us. */
  hostile(why: string): void;
  /** Writes to the remote (not copied; unchanged until `onWritten`). */
  write(bytes: Uint8Array, onWritten?: () => void): void;
  /** Payload bytes went out. */
  uploaded(bytes: number): void;
}

export class RemoteRequests {
  /** The fast extension is in force (set once the handshake is in). */
  fast = false;
  readonly #queue = new Map<number, BlockRequest>();
  readonly #o: RemoteRequestsOptions;
  #cancels = 0;
  #windowStart: number;

  constructor(opts: RemoteRequestsOptions) {
    this.#o = opts;
    this.#windowStart = opts.now;
  }

  get size(): number {
    return this.#queue.size;
  }

  /**
   * A request of the remote: queued and returned (for the torrent to serve),
   * or refused while we choke it or its queue is full (BEP 3: ignored; BEP 6:
   * rejected, as we grant no allowed-fast pieces). A duplicate is ignored.
   */
  onRequest(req: BlockRequest, choking: boolean): BlockRequest | undefined {
    const r = { index: req.index, begin: req.begin, length: req.length };
    if (choking) return void (this.fast && this.#o.reject(r));
    if (this.#queue.size >= this.#o.maxQueued) {
      this.#o.log.debug('remote exceeded its request queue; dropping a request');
      return void (this.fast && this.#o.reject(r));
    }
    const k = blockMapKey(r.index, r.begin);
    if (this.#queue.has(k)) return undefined;
    this.#queue.set(k, r);
    return r;
  }

  /**
   * The remote cancelled a request: when it was queued, it is forgotten and
   * passed to `onCancelled`; then BEP 6 still answers it, and a flood of
   * cancels drops the remote.
   */
  onCancel(r: BlockRequest, onCancelled: (queued: BlockRequest) => void): void {
    const k = blockMapKey(r.index, r.begin);
    const queued = this.#queue.get(k);
    if (!queued) return;
    this.#queue.delete(k);
    onCancelled(queued);
    if (this.fast) this.#o.reject(queued);
    // An endgame cancels at most a request queue's worth; thousands a minute only make us work and queue answers.
    if (++this.#cancels > this.#o.maxCancelsPerMinute) {
      this.#o.hostile(`cancelled more than ${this.#o.maxCancelsPerMinute} of its queued requests within a minute (a request/cancel flood)`);
    }
  }

  /**
   * True when this very request (the object onRequest returned) is still
   * wanted: not cancelled, not choked since. A block requested, cancelled
   * and requested again is a new request: the old one's place in a queue
   * must not serve it (a streaming reader's peer cancels what it queued
   * ahead of an urgent piece and asks for it again behind it).
   */
  has(r: BlockRequest): boolean {
    return this.#queue.get(blockMapKey(r.index, r.begin)) === r;
  }

  /** Answers a queued request with its block (see `PeerConnection.serve`); false when it is no longer wanted. */
  serve(req: BlockRequest, block: Uint8Array, onSent?: () => void): boolean {
    if (!this.#queue.delete(blockMapKey(req.index, req.begin))) return false;
    this.#o.write(encodePieceHeader(req.index, req.begin, block.length));
    this.#o.write(block, onSent);
    this.#o.uploaded(block.length);
    return true;
  }

  /** Answers queued requests with their piece messages, encoded back to back (see `PeerConnection.serveMessages`). */
  serveMessages(reqs: readonly BlockRequest[], messages: Uint8Array, onSent?: () => void): void {
    let bytes = 0;
    for (const r of reqs) {
      this.#queue.delete(blockMapKey(r.index, r.begin));
      bytes += r.length;
    }
    this.#o.write(messages, onSent);
    this.#o.uploaded(bytes);
  }

  /** Forgets a request we could not serve (BEP 6: and rejects it). */
  drop(r: BlockRequest): void {
    if (this.#queue.delete(blockMapKey(r.index, r.begin)) && this.fast) this.#o.reject(r);
  }

  /** We choke the remote: every queued request is discarded (BEP 6: rejected). */
  choked(): void {
    if (this.fast) for (const r of this.#queue.values()) this.#o.reject(r);
    this.#queue.clear();
  }

  /** Called on the connection's tick: a new minute of counting cancels when one has passed. */
  tick(now: number): void {
    if (now - this.#windowStart >= CANCEL_WINDOW_MS) {
      this.#windowStart = now;
      this.#cancels = 0;
    }
  }

  /** The connection closed. */
  clear(): void {
    this.#queue.clear();
  }
}
