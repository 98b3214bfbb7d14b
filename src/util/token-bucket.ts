/**
 * A token bucket for rate limits (bytes per second). Rate 0 means
 * unlimited. One second of burst. Time comes from an injectable clock.
 * Changing the rate at run time takes effect at once.
 */
export class TokenBucket {
  #rate: number;
  #tokens: number;
  #last: number;
  readonly #clock: () => number;

  constructor(rateBytesPerS = 0, clock: () => number = Date.now) {
    this.#clock = clock;
    this.#rate = Math.max(0, rateBytesPerS);
    this.#tokens = this.#rate;
    this.#last = clock();
  }

  get rate(): number {
    return this.#rate;
  }

  get unlimited(): boolean {
    return this.#rate === 0;
  }

  setRate(rateBytesPerS: number): void {
    this.#refill();
    this.#rate = Math.max(0, rateBytesPerS);
    this.#tokens = Math.min(this.#tokens, this.#rate);
  }

  #refill(): void {
    const now = this.#clock();
    const elapsed = (now - this.#last) / 1000;
    this.#last = now;
    if (this.#rate > 0) this.#tokens = Math.min(this.#rate, this.#tokens + elapsed * this.#rate);
  }

  /** Bytes that may be spent now (Infinity when unlimited). */
  available(): number {
    if (this.#rate === 0) return Infinity;
    this.#refill();
    return Math.max(0, this.#tokens);
  }

  /** Spends `n` bytes if they are available; returns whether it did. */
  take(n: number): boolean {
    if (this.#rate === 0) return true;
    this.#refill();
    // A request bigger than the burst is let through once the bucket is full, so it never starves.
    if (this.#tokens >= n || this.#tokens >= this.#rate) {
      this.#tokens -= n;
      return true;
    }
    return false;
  }

  /** Milliseconds until `n` bytes would be available. */
  msUntil(n: number): number {
    if (this.#rate === 0) return 0;
    this.#refill();
    const need = Math.min(n, this.#rate) - this.#tokens;
    return need <= 0 ? 0 : Math.ceil((need / this.#rate) * 1000);
  }
}
