/**
 * A moving byte rate over the last few seconds, in one-second buckets.
 * Time comes from the caller so tests and the choker share one clock.
 */
export class RateMeter {
  readonly #buckets: Float64Array;
  #bucketSecond = 0;
  #total = 0;

  constructor(readonly windowSeconds = 5) {
    this.#buckets = new Float64Array(windowSeconds);
  }

  get total(): number {
    return this.#total;
  }

  add(bytes: number, nowMs = Date.now()): void {
    this.#advance(nowMs);
    this.#buckets[this.#bucketSecond % this.windowSeconds]! += bytes;
    this.#total += bytes;
  }

  /** Bytes per second averaged over the window. */
  rate(nowMs = Date.now()): number {
    this.#advance(nowMs);
    let sum = 0;
    for (const b of this.#buckets) sum += b;
    return sum / this.windowSeconds;
  }

  #advance(nowMs: number): void {
    const second = Math.floor(nowMs / 1000);
    if (second === this.#bucketSecond) return;
    const gap = Math.min(second - this.#bucketSecond, this.windowSeconds);
    for (let i = 1; i <= gap; i++) this.#buckets[(this.#bucketSecond + i) % this.windowSeconds] = 0;
    this.#bucketSecond = second;
  }
}
