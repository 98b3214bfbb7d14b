/**
 * Time as a connection reads it: a `Clock` (util/clock.ts) for the time and
 * `Timers` for its deadlines, both injected so tests drive a connection's
 * timeouts with a fake clock.
 */
import { fakeClock, type Clock } from '../util/clock.js';

export interface Timers {
  /** Calls `fn` once after `ms`; returns a function that cancels it. */
  after(ms: number, fn: () => void): () => void;
  /** Calls `fn` every `ms` without keeping the process alive; returns a function that cancels it. */
  every(ms: number, fn: () => void): () => void;
}

export const systemTimers: Timers = {
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
  every(ms, fn) {
    const t = setInterval(fn, ms);
    t.unref();
    return () => clearInterval(t);
  },
};

/**
 * A clock and timers a test moves by hand: `advance(ms)` moves the time and
 * runs every timer that falls due on the way, in order.
 */
export interface ManualTime {
  clock: Clock;
  timers: Timers;
  advance(ms: number): void;
  /** Timers not cancelled and not yet run (intervals count until cancelled). */
  readonly pending: number;
}

export function manualTime(start = 0): ManualTime {
  const clock = fakeClock(start);
  let seq = 0;
  const due = new Map<number, { at: number; every: number; fn: () => void }>();
  const add = (ms: number, every: number, fn: () => void): (() => void) => {
    const id = seq++;
    due.set(id, { at: clock() + ms, every, fn });
    return () => void due.delete(id);
  };
  return {
    clock,
    timers: { after: (ms, fn) => add(ms, 0, fn), every: (ms, fn) => add(ms, Math.max(1, ms), fn) },
    advance(ms) {
      const end = clock() + ms;
      for (;;) {
        let next: [number, { at: number; every: number; fn: () => void }] | undefined;
        for (const e of due) if (e[1].at <= end && (!next || e[1].at < next[1].at)) next = e;
        if (!next) break;
        const [id, t] = next;
        clock.set(t.at);
        if (t.every) t.at += t.every;
        else due.delete(id);
        t.fn();
      }
      clock.set(end);
    },
    get pending() {
      return due.size;
    },
  };
}
