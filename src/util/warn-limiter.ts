/**
 * A warning that a flood must not turn into a flood of log lines: each key
 * is written at most once per `intervalMs`; the keys remembered are bounded
 * (a spoofed flood cannot grow the map without end).
 */
export class WarnLimiter {
  readonly #intervalMs: number;
  readonly #maxKeys: number;
  readonly #write: (text: string) => void;
  readonly #now: () => number;
  readonly #lastAt = new Map<string, number>();

  constructor(write: (text: string) => void, opts: { intervalMs?: number; maxKeys?: number; now?: () => number } = {}) {
    this.#write = write;
    this.#intervalMs = opts.intervalMs ?? 60_000;
    this.#maxKeys = opts.maxKeys ?? 256;
    this.#now = opts.now ?? Date.now;
  }

  /** Writes `text` unless `key` was written less than `intervalMs` ago; true when written. */
  warn(key: string, text: string): boolean {
    const now = this.#now();
    const last = this.#lastAt.get(key);
    if (last !== undefined && now - last < this.#intervalMs) return false;
    if (this.#lastAt.size >= this.#maxKeys) this.#lastAt.clear();
    this.#lastAt.set(key, now);
    this.#write(text);
    return true;
  }
}
