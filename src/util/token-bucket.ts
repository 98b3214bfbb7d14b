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

  /** Whether take(n) would succeed now (spends nothing). */
  canTake(n: number): boolean {
    if (this.#rate === 0) return true;
    this.#refill();
    // A request bigger than the burst is let through once the bucket is full, so it never starves.
    return this.#tokens >= n || this.#tokens >= this.#rate;
  }

  /** Spends `n` bytes if they are available; returns whether it did. */
  take(n: number): boolean {
    if (!this.canTake(n)) return false;
    if (this.#rate > 0) this.#tokens -= n;
    return true;
  }

  /** Milliseconds until `n` bytes would be available. */
  msUntil(n: number): number {
    if (this.#rate === 0) return 0;
    this.#refill();
    const need = Math.min(n, this.#rate) - this.#tokens;
    return need <= 0 ? 0 : Math.ceil((need / this.#rate) * 1000);
  }
}

/**
 * Several buckets that must all allow a transfer: a torrent's own limit and
 * the session's, checked together (a request or an upload passes both, and
 * spends from both, or from neither). A TokenBucket itself, so that the
 * requester and the upload server take it where they take one bucket.
 * Its own rate is never used: change the parts' rates.
 */
export class BucketPair extends TokenBucket {
  readonly parts: readonly TokenBucket[];

  constructor(parts: readonly TokenBucket[]) {
    super(0);
    this.parts = parts;
  }

  /** The tightest limit of the parts (0 when none limits). */
  override get rate(): number {
    const rates = this.parts.map((p) => p.rate).filter((r) => r > 0);
    return rates.length ? Math.min(...rates) : 0;
  }

  override get unlimited(): boolean {
    return this.parts.every((p) => p.unlimited);
  }

  override setRate(): void {
    throw new Error('BucketPair has no rate of its own: set the rate of one of its parts');
  }

  override available(): number {
    return Math.min(...this.parts.map((p) => p.available()));
  }

  override canTake(n: number): boolean {
    return this.parts.every((p) => p.canTake(n));
  }

  override take(n: number): boolean {
    if (!this.canTake(n)) return false;
    for (const p of this.parts) p.take(n);
    return true;
  }

  override msUntil(n: number): number {
    return Math.max(0, ...this.parts.map((p) => p.msUntil(n)));
  }
}

/** A bucket that allows a transfer only when every one of `buckets` does. */
export function allBuckets(buckets: readonly TokenBucket[]): TokenBucket {
  return buckets.length === 1 ? buckets[0]! : new BucketPair(buckets);
}
