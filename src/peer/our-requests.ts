/**
 * Our requests to one remote (BEP 3): what is in flight and since when, and
 * the requests we gave up on (cancelled, dropped by a choke, timed out)
 * whose block or reject may still arrive and is then no protocol error.
 */
import { ProtocolError } from '../errors.js';
import type { Logger } from '../log.js';
import type { BlockRequest } from '../wire/messages.js';

/** A block's map key: begin < 2^27 (a piece is at most 128 MiB), so this stays an exact integer. */
export const blockMapKey = (index: number, begin: number): number => index * 0x8000000 + begin;

export class OurRequests {
  /** key -> request and when it was sent. */
  readonly #inFlight = new Map<number, { req: BlockRequest; sentAt: number }>();
  /** Given up on; an answer may still come. */
  #late = new Set<number>();
  readonly #maxLate: number;
  readonly #log: Logger;

  constructor(maxLate: number, log: Logger) {
    this.#maxLate = maxLate;
    this.#log = log;
  }

  get size(): number {
    return this.#inFlight.size;
  }

  add(reqs: readonly BlockRequest[], now: number): void {
    for (const r of reqs) this.#inFlight.set(blockMapKey(r.index, r.begin), { req: r, sentAt: now });
  }

  /** A block arrived: forgets its request. Throws a ProtocolError for a block never asked for, or of the wrong size. */
  received(index: number, begin: number, length: number): void {
    const k = blockMapKey(index, begin);
    const o = this.#inFlight.get(k);
    if (o) {
      if (o.req.length !== length) throw new ProtocolError(`piece ${index}:${begin} has ${length} bytes, ${o.req.length} were requested`);
      this.#inFlight.delete(k);
    } else if (!this.#late.delete(k)) {
      throw new ProtocolError(`piece ${index}:${begin} was not requested`);
    }
  }

  /**
   * BEP 6 reject: the request it answers is forgotten and passed to
   * `onRejected`. One we gave up on needs nothing; one we never asked for is
   * logged and ignored (not fatal: it harms nothing).
   */
  rejected(r: BlockRequest, onRejected: (req: BlockRequest) => void): void {
    const k = blockMapKey(r.index, r.begin);
    const o = this.#inFlight.get(k);
    if (o && o.req.length === r.length) {
      this.#inFlight.delete(k);
      return onRejected(o.req);
    }
    if (!this.#late.delete(k)) this.#log.debug(`reject of ${r.index}:${r.begin}+${r.length}, which we did not request; ignored`);
  }

  /** Gives up on one request; false when it was not in flight. */
  cancel(req: BlockRequest): boolean {
    const k = blockMapKey(req.index, req.begin);
    if (!this.#inFlight.delete(k)) return false;
    this.#markLate(k);
    return true;
  }

  /** Every request in flight, in the order sent. */
  all(): BlockRequest[] {
    return [...this.#inFlight.values()].map((o) => o.req);
  }

  /** Gives up on every request in flight (BEP 3 choke); returns them. */
  dropAll(): BlockRequest[] {
    const dropped = this.all();
    for (const k of this.#inFlight.keys()) this.#markLate(k);
    this.#inFlight.clear();
    return dropped;
  }

  /** Gives up on the requests sent longer than `timeoutMs` ago; returns them. */
  timedOut(now: number, timeoutMs: number): BlockRequest[] {
    const out: BlockRequest[] = [];
    for (const [k, o] of this.#inFlight) {
      if (now - o.sentAt > timeoutMs) {
        out.push(o.req);
        this.#inFlight.delete(k);
        this.#markLate(k);
      }
    }
    return out;
  }

  /** Forgets everything (the connection closed); returns the requests that were in flight. */
  clear(): BlockRequest[] {
    const reqs = this.all();
    this.#inFlight.clear();
    this.#late.clear();
    return reqs;
  }

  #markLate(k: number): void {
    if (this.#late.size > this.#maxLate) this.#late = new Set();
    this.#late.add(k);
  }
}
