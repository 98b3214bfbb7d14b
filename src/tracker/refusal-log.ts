/**
 * Warnings about refused requests that stay readable under a flood: the
 * first refusal of each kind in a window is logged at warn with its reason;
 * the rest of that kind are logged at debug and counted, and one line at
 * the end of the window says how many there were and from how many
 * addresses. Ten thousand refused requests make two lines, not ten thousand.
 *
 * Used by the tracker server and the HTTP API (remote misbehaviour is a
 * warning, STYLE.md habit 15; a flood of them would hide everything else).
 */
import type { Logger } from '../log.js';

/** Addresses remembered per kind and window (a spoofed UDP flood must not grow this without end). */
const MAX_ADDRESSES = 10_000;

interface Kind {
  count: number;
  addresses: Set<string>;
  /** More addresses than MAX_ADDRESSES were seen. */
  more: boolean;
}

export class RefusalLog {
  readonly #log: Logger;
  readonly #windowMs: number;
  readonly #kinds = new Map<string, Kind>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(log: Logger, opts: { windowMs?: number } = {}) {
    this.#log = log;
    this.#windowMs = opts.windowMs ?? 60_000;
  }

  /** A request of `kind` (a short stable label) from `address` was refused; `line` says what and why. */
  refused(kind: string, address: string, line: string): void {
    const k = this.#kinds.get(kind);
    if (!k) {
      this.#kinds.set(kind, { count: 0, addresses: new Set([address]), more: false });
      this.#log.warn(`${line} (more like it are counted and summed up once a minute)`);
      this.#arm();
      return;
    }
    k.count++;
    if (k.addresses.size < MAX_ADDRESSES) k.addresses.add(address);
    else if (!k.addresses.has(address)) k.more = true;
    this.#log.debug(line);
  }

  #arm(): void {
    if (this.#timer || this.#closed) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, this.#windowMs);
    this.#timer.unref();
  }

  /** Logs the counts of the window now and starts a new one. */
  flush(): void {
    for (const [kind, k] of this.#kinds) {
      if (k.count === 0) continue;
      const from = `${k.more ? 'over ' : ''}${k.addresses.size} address${k.addresses.size === 1 ? '' : 'es'}`;
      this.#log.warn(`${kind}: ${k.count} more refused in the last ${Math.round(this.#windowMs / 1000)} s, from ${from}`);
    }
    this.#kinds.clear();
  }

  /** Logs what is pending and stops the timer. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.flush();
  }
}
