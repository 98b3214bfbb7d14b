/**
 * Round-trip times of KRPC queries, per node address and overall, used to
 * decide when a query is "stalled": a lookup stops waiting for it (it no
 * longer counts toward alpha) and asks another candidate, while the query
 * itself runs on to its full timeout so a late answer is still used and a
 * dead node is still recorded as failed.
 *
 * Smoothing follows the TCP estimator (RFC 6298: srtt += (sample - srtt) / 8).
 * A node we never measured gets the overall estimate: most candidates of a
 * lookup are nodes we only heard of, and a dead one among them is exactly
 * what must not cost a full timeout.
 *
 * Pure: no sockets or timers; the caller measures.
 */
import type { PeerAddress } from '../util/peer-address.js';
import { DEFAULT_SETTINGS } from '../settings.js';

export interface RttOptions {
  /** Never call a query stalled sooner than this. */
  floorMs: number;
  /** Never later than this (the query's own timeout). */
  capMs: number;
  /** Stalled after this many smoothed round-trip times. */
  multiplier: number;
  /** Addresses remembered; the least recently measured are forgotten first. */
  maxEntries: number;
}

export class RttTracker {
  readonly #opts: RttOptions;
  /** Insertion order is recency order: a measured address is re-inserted. */
  readonly #byAddress = new Map<string, number>();
  #overall: number | undefined;

  constructor(opts: Partial<RttOptions> & { capMs: number }) {
    this.#opts = {
      floorMs: opts.floorMs ?? DEFAULT_SETTINGS.dhtStallFloorMs,
      capMs: opts.capMs,
      multiplier: opts.multiplier ?? DEFAULT_SETTINGS.dhtStallRttMultiplier,
      maxEntries: opts.maxEntries ?? DEFAULT_SETTINGS.dhtRttMaxAddresses,
    };
  }

  get size(): number {
    return this.#byAddress.size;
  }

  /** Records the round-trip time of a query that was answered. */
  record(addr: PeerAddress, ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return;
    const key = `${addr.host}:${addr.port}`;
    const old = this.#byAddress.get(key);
    this.#byAddress.delete(key);
    this.#byAddress.set(key, old === undefined ? ms : old + (ms - old) / 8);
    if (this.#byAddress.size > this.#opts.maxEntries) this.#byAddress.delete(this.#byAddress.keys().next().value!);
    this.#overall = this.#overall === undefined ? ms : this.#overall + (ms - this.#overall) / 8;
  }

  /** Smoothed RTT of one node, or undefined if it never answered us. */
  srtt(addr: PeerAddress): number | undefined {
    return this.#byAddress.get(`${addr.host}:${addr.port}`);
  }

  /** Smoothed RTT over all nodes, or undefined before the first answer. */
  get overallSrtt(): number | undefined {
    return this.#overall;
  }

  /**
   * How long to wait for `addr` before treating the query as stalled:
   * max(floor, multiplier x smoothed RTT) capped by the query timeout. With
   * no measurement at all, the query timeout (nothing to base a guess on).
   */
  stallMs(addr: PeerAddress): number {
    const srtt = this.srtt(addr) ?? this.#overall;
    if (srtt === undefined) return this.#opts.capMs;
    return Math.min(this.#opts.capMs, Math.max(this.#opts.floorMs, this.#opts.multiplier * srtt));
  }
}
